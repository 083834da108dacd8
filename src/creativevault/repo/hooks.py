"""Install cvault's git hooks without replacing the ones a repository already has.

The hook scripts live in the package's ``hooks/`` folder. A hook the repository had before
is renamed to ``<name>.cvault-chained`` and the cvault hook runs it first, passing its exit
status through; re-installing is idempotent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from creativevault.repo.gitrepo import GitRepo

__all__ = ["HOOK_NAMES", "MARKER", "chained_hooks", "hooks_dir_of", "install"]

HOOK_NAMES = ("pre-commit", "post-checkout", "post-merge")
MARKER = "Installed by CreativeVault"


def _template(name: str) -> str:
    from importlib import resources

    return resources.files("creativevault").joinpath("hooks", name).read_text(encoding="utf-8")


def install(hooks_dir: Path) -> list[Path]:
    """Install (or refresh) cvault's hooks in ``hooks_dir`` (``GitRepo.hooks_dir``);
    returns the hook paths."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    installed = []
    for name in HOOK_NAMES:
        hook = hooks_dir / name
        script = _template(name).replace("@PYTHON@", sys.executable.replace("\\", "/"))
        if hook.exists():
            current = hook.read_text(encoding="utf-8", errors="replace")
            if MARKER not in current:
                chained = hooks_dir / f"{name}.cvault-chained"
                if chained.exists():
                    chained = hooks_dir / f"{name}.cvault-chained.{os.getpid()}"
                hook.replace(chained)
        tmp = hook.with_name(f".{name}.cvault-tmp")
        tmp.write_text(script, encoding="utf-8", newline="\n")
        tmp.chmod(0o755)
        tmp.replace(hook)
        installed.append(hook)
    return installed


def hooks_dir_of(git: GitRepo) -> Path:
    """The folder the hooks cvault installed (and chained) are in, for ``cvault commit``
    to run them as git would. When ``.git/hooks`` holds cvault's pre-commit and the
    repository's config names no ``core.hooksPath`` (nor an include), that is the folder,
    told without loading git's config stack (which would cost a no-change commit as much
    again as the rest of it); otherwise ``GitRepo.hooks_dir`` reads the config."""
    default = git.common_dir / "hooks"
    try:
        ours = MARKER in (default / "pre-commit").read_text(encoding="utf-8",
                                                            errors="replace")
        config = (git.common_dir / "config").read_bytes().lower()
    except OSError:
        return git.hooks_dir
    if ours and b"hookspath" not in config and b"include" not in config:
        return default
    return git.hooks_dir


def chained_hooks(hooks_dir: Path, name: str) -> list[Path]:
    """The repository's own hooks in ``hooks_dir`` that run before cvault's (executable
    ones, in order)."""
    found = sorted(p for p in hooks_dir.glob(f"{name}.cvault-chained*")
                   if p.is_file() and os.access(p, os.X_OK))
    plain = hooks_dir / name
    if plain.is_file() and os.access(plain, os.X_OK):
        text = plain.read_text(encoding="utf-8", errors="replace")
        if MARKER not in text:
            found.append(plain)
    return found
