"""``cvault install``: make plain git use cvault (filter process, diff driver, hooks).

Settings are written to the repository's ``.git/config`` (default) or to the user's
``~/.gitconfig`` (``global_scope``). Commands name the interpreter cvault runs under, so
git finds cvault even where it is not on PATH (a virtual environment, a GUI's git).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from creativevault.errors import GitError
from creativevault.repo import hooks
from creativevault.repo.gitrepo import GitRepo
from creativevault.repo.worktree_temp import ensure_excluded

__all__ = ["DIFF_DRIVERS", "command_prefix", "git_settings", "install"]

#: the diff drivers ``.gitattributes`` names (``diff=cvault-image`` …), one per file family
DIFF_DRIVERS = ("cvault", "cvault-image", "cvault-layered", "cvault-mesh")


def command_prefix() -> str:
    """How git should start cvault: this interpreter with ``-m creativevault``."""
    exe = sys.executable.replace("\\", "/")
    return f'"{exe}" -m creativevault' if " " in exe else f"{exe} -m creativevault"


def git_settings() -> dict[tuple[str, str, str], str]:
    """(section, subsection, key) -> value for every setting cvault needs."""
    cmd = command_prefix()
    settings = {
        ("filter", "cvault", "process"): f"{cmd} filter-process",
        ("filter", "cvault", "required"): "true",
    }
    for driver in DIFF_DRIVERS:
        # textconv: `git log -p`, `git show`, `git diff --no-ext-diff` print the summary;
        # command: plain `git diff` (and `--ext-diff` everywhere) runs `cvault ext-diff`.
        settings.update({
            ("diff", driver, "textconv"): f"{cmd} textconv",
            ("diff", driver, "cachetextconv"): "true",
            ("diff", driver, "binary"): "true",
            ("diff", driver, "command"): f"{cmd} ext-diff",
        })
    return settings


def install(git: GitRepo | None, *, global_scope: bool = False,
            home: Path | None = None) -> Path:
    """Write the settings (and, per repository, the hooks and the ``info/exclude`` line
    that hides the working-tree writer's temp files from git); return the config file."""
    if global_scope:
        path = (home or Path.home()) / ".gitconfig"
    elif git is not None:
        path = git.common_dir / "config"  # shared by every worktree
    else:
        raise GitError("not inside a git repository (use --global to install for the user)")
    try:
        if not _set_with_git(path, git_settings()):
            from dulwich.config import ConfigFile

            config = ConfigFile.from_path(str(path)) if path.exists() else ConfigFile()
            for (section, sub, key), value in git_settings().items():
                config.set((section.encode(), sub.encode()), key.encode(), value.encode())
            config.path = str(path)
            config.write_to_path(str(path))
    except OSError as exc:
        raise GitError(f"cannot write git config ({exc.strerror})", path=path) from exc
    if git is not None and not global_scope:
        hooks.install(git.hooks_dir)
        try:
            ensure_excluded(git.common_dir)
        except OSError as exc:
            raise GitError(f"cannot write info/exclude ({exc.strerror})",
                           path=git.common_dir / "info" / "exclude") from exc
    return path


def _set_with_git(path: Path, settings: dict[tuple[str, str, str], str]) -> bool:
    """Write ``settings`` with ``git config --file``; False if git is not installed.

    git edits only the keys it sets: the user's comments, quoting and layout survive.
    Re-serialising the whole file with dulwich drops comments and the quotes around
    values, so ``st = "!echo a ; echo b"`` came back as ``!echo a`` (``;`` starts a
    comment).
    """
    for (section, sub, key), value in settings.items():
        try:
            subprocess.run(["git", "config", "--file", str(path), f"{section}.{sub}.{key}",
                            value], check=True, capture_output=True)
        except FileNotFoundError:
            return False
        except subprocess.CalledProcessError as exc:
            message = exc.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git config refused a setting ({message})", path=path) from exc
    return True
