"""Path vocabulary of the repository layer.

A *repo path* (``relpath``) is relative to the worktree root, uses ``/`` separators, is
NFC-normalized Unicode and never has a ``.git`` component; the worktree root itself is
``""``. Every key cvault stores (stat cache, index, notes) is a repo path. On disk a
name may be spelled differently (macOS returns NFD from HFS+, a Linux file copied from a
Mac may be NFD); :func:`from_repo_path` finds the on-disk spelling.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from creativevault.errors import CaseCollisionError, UsageError

__all__ = [
    "common_git_dir",
    "find_collisions",
    "from_repo_path",
    "linked_git_dir",
    "nfc",
    "to_repo_path",
    "walk_worktree",
]


def nfc(s: str) -> str:
    """Return ``s`` in Unicode Normalization Form C (ASCII passes through untouched)."""
    if s.isascii():
        return s
    import unicodedata  # only for non-ASCII names: not loaded by every command

    return unicodedata.normalize("NFC", s)


def _is_git_dir_name(name: str) -> bool:
    # Case-insensitive file systems see ".GIT" as the same directory (git refuses it too).
    return name.casefold() == ".git"


def _gitfile_target(worktree: Path) -> Path | None:
    """The folder a ``.git`` *file* names on its ``gitdir:`` line (a linked worktree, a
    submodule, ``--separate-git-dir``); ``None`` for a ``.git`` folder or no ``.git``."""
    dotgit = Path(worktree) / ".git"
    try:
        text = dotgit.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:  # a folder (IsADirectoryError, or PermissionError on Windows), none
        return None
    for raw in text.splitlines():
        if raw.startswith("gitdir:"):
            target = Path(raw[len("gitdir:"):].strip())
            return target if target.is_absolute() else Path(worktree) / target
    return None


def linked_git_dir(worktree: Path) -> Path | None:
    """The git directory of ``worktree`` when it is a linked worktree (``git worktree
    add``: a ``.git`` file naming a folder that has a ``commondir`` file), else ``None``."""
    target = _gitfile_target(worktree)
    return target if target is not None and (target / "commondir").is_file() else None


def common_git_dir(worktree: Path) -> Path:
    """Where ``worktree``'s repository keeps what all its worktrees share (objects, refs,
    config, ``info/``): ``.git``, or for a ``.git`` file the folder it names, or for a
    linked worktree the folder that one's ``commondir`` names."""
    target = _gitfile_target(worktree)
    if target is None:
        return Path(worktree) / ".git"
    try:
        common = (target / "commondir").read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return target
    common_path = Path(common.strip())
    return Path(os.path.normpath(common_path if common_path.is_absolute()
                                 else target / common_path))


def to_repo_path(worktree: Path, path: Path | str) -> str:
    """Turn ``path`` into a repo path.

    ``path`` may be absolute or relative to ``worktree`` (callers holding a path relative
    to the current directory make it absolute first). ``..`` components are resolved
    lexically, as git does; symlinks in the parent directories are resolved, the last
    component is not. Returns ``""`` for the worktree root. Raises :class:`UsageError`
    for a path outside the worktree or inside ``.git``.
    """
    root = Path(os.path.realpath(worktree))
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path(worktree) / candidate
    candidate = Path(os.path.abspath(candidate))
    if candidate.name:
        candidate = Path(os.path.realpath(candidate.parent)) / candidate.name
    else:
        candidate = Path(os.path.realpath(candidate))
    try:
        rel = candidate.relative_to(root)
    except ValueError:
        raise UsageError("path is outside the repository", path=str(path),
                         expected=f"a path inside {root}", actual=str(candidate)) from None
    parts = rel.parts
    if any(_is_git_dir_name(part) for part in parts):
        raise UsageError("path is inside the .git directory", path=str(path))
    return nfc("/".join(parts))


def _check_repo_path(relpath: str) -> list[str]:
    if relpath == "":
        return []
    parts = relpath.split("/")
    if relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError("not a repository path", path=relpath,
                         expected="a relative '/'-separated path without '.' or '..'",
                         actual=relpath)
    if "\\" in relpath and os.sep == "\\":
        raise UsageError("backslash in repository path", path=relpath)
    if any(_is_git_dir_name(p) for p in parts):
        raise UsageError("path is inside the .git directory", path=relpath)
    if "\x00" in relpath:
        raise UsageError("NUL byte in repository path", path=relpath)
    return parts


def _on_disk_name(directory: Path, name: str) -> str:
    """The spelling of ``name`` in ``directory`` (it may be stored in another Unicode form)."""
    if name.isascii() or os.path.lexists(directory / name):
        return name
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if nfc(entry.name) == name:
                    return entry.name
    except OSError:
        pass
    return name


def from_repo_path(worktree: Path, relpath: str) -> Path:
    """Return the file system path of repo path ``relpath`` in ``worktree``.

    When the NFC spelling does not exist but another Unicode form of the same name does,
    that on-disk spelling is returned. Raises :class:`UsageError` for something that is
    not a repo path (absolute, ``..``, empty components, inside ``.git``).
    """
    parts = _check_repo_path(relpath)
    result = Path(worktree)
    for part in parts:
        result = result / _on_disk_name(result, part)
    return result


def find_collisions(relpaths: Iterable[str]) -> list[tuple[str, ...]]:
    """Find groups of paths a case-insensitive file system cannot hold at once.

    Paths collide when they are equal after NFC normalization and case folding but are
    spelled differently. Each group is sorted; the groups are sorted by their first path.
    """
    groups: dict[str, set[str]] = defaultdict(set)
    for relpath in relpaths:
        groups[nfc(relpath).casefold()].add(relpath)
    return sorted(tuple(sorted(names)) for names in groups.values() if len(names) > 1)


def walk_worktree(
    worktree: Path,
    ignore: Callable[[str], bool] | None = None,
    *,
    on_skip: Callable[[str, os.stat_result], None] | None = None,
    on_collision: Callable[[str, tuple[str, ...]], None] | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(relpath, stat)`` for every regular file under ``worktree``.

    ``relpath`` is a repo path (NFC, ``/``-separated); ``stat`` comes from
    ``DirEntry.stat(follow_symlinks=False)``. Order is deterministic (sorted by name,
    depth first). ``.git`` is skipped, as are nested repositories (a directory holding
    its own ``.git``). ``ignore`` is called with ``relpath`` for files and ``relpath + "/"``
    for directories; an ignored directory is not entered. Symlinks and other non-regular
    entries are not yielded: ``on_skip`` is told about them (and about nested
    repositories). Two names in one directory that are the same after NFC normalization
    cannot both be repo paths: ``on_collision(relpath, spellings)`` is told and only the
    first spelling is walked, or :class:`CaseCollisionError` is raised without a callback.
    Entries that vanish during the walk are left out.
    """
    root = os.fspath(worktree)
    yield from _walk_dir(root, "", ignore, on_skip, on_collision)


def _walk_dir(
    directory: str,
    prefix: str,
    ignore: Callable[[str], bool] | None,
    on_skip: Callable[[str, os.stat_result], None] | None,
    on_collision: Callable[[str, tuple[str, ...]], None] | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    seen: dict[str, str] = {}
    duplicates: set[int] = set()
    for i, entry in enumerate(entries):
        name = nfc(entry.name)
        if name in seen:
            if on_collision is None:
                raise CaseCollisionError(
                    "two names in one directory differ only by Unicode form",
                    path=prefix + name, expected=repr(seen[name]), actual=repr(entry.name))
            on_collision(prefix + name, (prefix + seen[name], prefix + entry.name))
            duplicates.add(i)
            continue
        seen[name] = entry.name
    entries = [e for i, e in enumerate(entries) if i not in duplicates]
    for entry in entries:
        name = nfc(entry.name)
        if _is_git_dir_name(name):
            continue
        relpath = prefix + name
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if ignore is not None and ignore(relpath + "/"):
                continue
            if os.path.lexists(os.path.join(entry.path, ".git")):
                if on_skip is not None:
                    on_skip(relpath, st)
                continue
            yield from _walk_dir(entry.path, relpath + "/", ignore, on_skip, on_collision)
        elif stat.S_ISREG(mode):
            if ignore is not None and ignore(relpath):
                continue
            yield relpath, st
        elif on_skip is not None and not (ignore is not None and ignore(relpath)):
            on_skip(relpath, st)
