"""The sidecar object store: content-defined chunks, packs, index, manifests, locking.

Files are cut into content-defined chunks (FastCDC), addressed by BLAKE3, compressed
with zstd unless already compressed, appended to pack files and indexed in SQLite; a
msgpack manifest keyed by the file's SHA-256 lists its chunks. Writes are crash-safe:
pack data first (temp file, fsync, rename), index rows after.

This layer is a leaf: it imports only the standard library, msgpack, zstandard,
pyfastcdc, blake3 and :mod:`creativevault.errors` / :mod:`creativevault.types`. It knows
nothing of git, never prints, never reads the environment and never exits.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creativevault.store.chunker import ChunkerParams
    from creativevault.store.reports import FsckProblem, FsckReport, GcReport, StoreStats
    from creativevault.store.store import Store
    from creativevault.store.writer import StoreWriter

__all__ = [
    "ChunkerParams",
    "FsckProblem",
    "FsckReport",
    "GcReport",
    "Store",
    "StoreStats",
    "StoreWriter",
]

#: Where each public name lives. They are imported on first use, so that importing one
#: light module of the package (``durable``) does not load zstd, BLAKE3, FastCDC and
#: SQLite.
_HOME = {"ChunkerParams": "chunker", "FsckProblem": "reports", "FsckReport": "reports",
         "GcReport": "reports", "StoreStats": "reports", "Store": "store",
         "StoreWriter": "writer"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'creativevault.store' has no attribute {name!r}")
    return getattr(importlib.import_module(f"creativevault.store.{home}"), name)
