"""The architecture rules of DESIGN.md/STYLE.md, enforced on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "creativevault"

# layer -> packages of ours it may import (besides errors/types, allowed everywhere)
ALLOWED = {
    "store": {"store"},
    "formats": {"formats"},
    "repo": {"repo", "store"},
    "imaging": {"imaging", "formats"},
    "features": {"features", "imaging", "repo", "store", "formats"},
    "cli": {"cli", "features", "imaging", "repo", "store", "formats"},
}
COMMON = {"errors", "types", ""}
HEAVY = {"numpy", "PIL", "psd_tools", "trimesh", "imagehash", "piexif"}
CLI_ONLY = {"argparse"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at_top_level) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, node.lineno, id(node) in top) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno, id(node) in top))
    return out


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else ""


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = _layer(path)
    for module, line, at_top in _imports(path):
        parts = module.split(".")
        if parts[0] == "creativevault" and len(parts) > 1 and layer in ALLOWED:
            target = parts[1]
            assert target in ALLOWED[layer] | COMMON, f"{path}:{line} {layer} imports {module}"
            if layer == "features" and target == "features" and len(parts) > 2:
                # sibling features never import each other: what two share moves below
                own = path.relative_to(SRC).parts[1].removesuffix(".py")
                assert parts[2] == own, f"{path}:{line} feature '{own}' imports {module}"
        if parts[0] == "dulwich":
            assert layer == "repo", f"{path}:{line}: dulwich outside repo/"
        if parts[0] in CLI_ONLY:
            assert layer == "cli", f"{path}:{line}: {module} outside cli/"
        if parts[0] in HEAVY:
            assert not at_top, f"{path}:{line}: heavy import {module} at module level"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_print_environ_or_exit_below_the_cli(path: Path) -> None:
    if _layer(path) in ("cli", ""):
        return
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path}:{node.lineno}: print() below the CLI"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = (node.value.id, node.attr)
            assert pair != ("os", "environ"), f"{path}:{node.lineno}: os.environ below the CLI"
            assert pair != ("sys", "exit"), f"{path}:{node.lineno}: sys.exit below the CLI"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_every_module_declares_all(path: Path) -> None:
    if path.name == "__main__.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
             for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
             if isinstance(t, ast.Name)}
    assert "__all__" in names, f"{path} has no __all__"


def test_import_creativevault_is_light() -> None:
    code = ("import sys, creativevault; "
            "heavy = sorted(m for m in ('numpy', 'PIL', 'psd_tools', 'trimesh', 'dulwich') "
            "if m in sys.modules); print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_cli_version_does_not_load_the_library() -> None:
    code = ("import sys; from creativevault.cli.main import main; main(['--version']); "
            "print('LOADED' if any(m in sys.modules for m in "
            "('dulwich', 'numpy', 'PIL', 'zstandard')) else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().endswith("LIGHT")


def test_public_surface_is_pinned() -> None:
    import creativevault

    assert sorted(creativevault.__all__) == ["Vault", "VaultError", "__version__"]
    from creativevault.repo.vault import Vault

    assert creativevault.Vault is Vault
