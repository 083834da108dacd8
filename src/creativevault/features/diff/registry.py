"""Which differ handles which file: a registry of :class:`Differ` plug-ins.

Built-in differs are named here as ``module:Class`` and imported on first use (they pull
in numpy/Pillow/psd-tools/trimesh, which ``import creativevault`` must not). Order
matters: the first differ that accepts a file wins; the byte-level differ is the fallback.
"""

from __future__ import annotations

import importlib

from creativevault.features.diff.report import Differ

__all__ = ["BUILTIN", "differ_for", "differs", "register"]

#: built-in differs, most specific first
BUILTIN: tuple[str, ...] = (
    "creativevault.features.diff.layered:LayeredDiffer",
    "creativevault.features.diff.mesh:MeshDiffer",
    "creativevault.features.diff.raster:RasterDiffer",
)

_registered: list[Differ] = []
_loaded = False


def register(differ: Differ) -> None:
    """Add a differ (before the built-ins, so a plug-in can override them)."""
    _registered.insert(0, differ)


def differs() -> list[Differ]:
    """Every registered differ, plug-ins first, then the built-ins in order."""
    global _loaded
    if not _loaded:
        for spec in BUILTIN:
            module, _, cls = spec.partition(":")
            _registered.append(getattr(importlib.import_module(module), cls)())
        _loaded = True
    return list(_registered)


def differ_for(name: str, head: bytes) -> Differ | None:
    """The first differ accepting a file called ``name`` that starts with ``head``."""
    for differ in differs():
        if differ.accepts(name, head):
            return differ
    return None
