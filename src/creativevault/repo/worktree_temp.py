"""The working-tree writer's temp files: their names, and which ones are stale.

Restore, checkout, merge and rescue restore write each file to a temp file beside it and
rename it over the working file once it is complete and verified
(:mod:`creativevault.repo.worktree_writer`). A process killed in the middle (SIGKILL, a
power cut) leaves up to four of them, and a killed write of ``.gitattributes`` or of a
pointer file one (``store.durable.write_atomic`` names it the same way); the working files
themselves hold their old or their new bytes. These temp files are never shown or staged (the ``info/exclude`` line
written here, and the same rule in cvault's own walk), and :func:`clean` removes the stale
ones: the next restore or checkout does so in the folders it writes to, ``cvault fsck`` in
the whole working tree.

A temp file is named ``.cvault-tmp-<host>-<pid>-<random>``: ``<host>`` is the CRC-32 of the
host name (8 hex digits), ``<pid>`` the writing process. :func:`clean` removes only what is
certainly ours and certainly stale: a regular file with exactly that name shape (or the
``.cvault-tmp-<random>`` shape of cvault versions before the pid was in the name) whose
writer ran on this host and is no longer running or, when that cannot be told (another
host, a pid now in use by another program, an old name), that nobody has written to for
6 hours (``STALE_AFTER``, as for a store lock: a live writer changes its temp file
continuously). Anything else is left alone. A temp file only ever holds a copy of
content the vault has, so removing one loses nothing.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from creativevault.store.durable import write_atomic

__all__ = ["EXCLUDE_PATTERN", "TEMP_PREFIX", "TempFile", "clean",
           "ensure_excluded", "is_temp_name", "temp_prefix"]

#: name prefix of the temp files that exist only while a write runs
TEMP_PREFIX = ".cvault-tmp-"
#: the ignore pattern (``$GIT_DIR/info/exclude``) that hides them from git and cvault
EXCLUDE_PATTERN = TEMP_PREFIX + "*"
_EXCLUDE_COMMENT = "# cvault: temp files of a restore or checkout in progress (or killed)"

#: ``.cvault-tmp-<host>-<pid>-<mkstemp's random part>``
_NAME = re.compile(r"\.cvault-tmp-([0-9a-f]{8})-([0-9]{1,10})-[a-z0-9_]{6,16}")
#: the names written before the pid was part of them (mkstemp's 8 random characters)
_OLD_NAME = re.compile(r"\.cvault-tmp-[a-z0-9_]{8}")


@functools.cache
def _host_tag() -> str:
    import socket  # only writers and cleaners need it
    import zlib

    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"


def temp_prefix() -> str:
    """The name prefix of this process's temp files (``mkstemp`` adds the random part)."""
    return f"{TEMP_PREFIX}{_host_tag()}-{os.getpid()}-"


def is_temp_name(name: str) -> bool:
    """Whether a file name is hidden as a writer's temp file (what :data:`EXCLUDE_PATTERN`
    matches); :func:`clean` is stricter about what it removes."""
    return name.startswith(TEMP_PREFIX)


def ensure_excluded(git_dir: Path) -> bool:
    """Add :data:`EXCLUDE_PATTERN` to ``git_dir/info/exclude`` unless a line already says
    it, so plain ``git status`` and ``git add`` skip the temp files too. Returns whether
    the file was written; the user's own lines are kept."""
    path = Path(git_dir) / "info" / "exclude"
    try:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        text = ""
    if any(line.strip() == EXCLUDE_PATTERN for line in text.splitlines()):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"{_EXCLUDE_COMMENT}\n{EXCLUDE_PATTERN}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8", errors="surrogateescape"))
    return True


@dataclass(frozen=True)
class TempFile:
    """A writer's temp file found in the working tree."""

    #: repository path (``/``-separated, relative to the top of the working tree)
    path: str
    #: removed (it was stale), or left where it is
    removed: bool
    #: why it was judged stale, or why it was kept
    reason: str


def _judge(name: str, st: os.stat_result, now: float) -> tuple[bool, str] | None:
    """``(stale, why)`` for a temp file ``name`` with stat ``st``; ``None`` if not ours."""
    # a store lock's rules (docs/formats/lock.md); imported here, as every command imports
    # this module and the lock module's imports are only needed by writers
    from creativevault.store.lock import STALE_AFTER, pid_alive

    if not stat.S_ISREG(st.st_mode):
        return None
    m = _NAME.fullmatch(name)
    if m is None and _OLD_NAME.fullmatch(name) is None:
        return None
    if m is not None and m[1] == _host_tag():
        pid = int(m[2])
        if pid == os.getpid():
            return False, "being written by this process"
        if not pid_alive(pid):
            return True, f"left by process {pid}, which is no longer running"
        writer = f"process {pid} (still running) may be writing it"
    elif m is not None:
        writer = "written by cvault on another computer, which may still be writing it"
    else:
        writer = "written by an older cvault, which may still be writing it"
    # a live writer changes its temp file all the time (ctime: utime and chmod count too)
    idle = now - max(st.st_mtime, st.st_ctime)
    if idle > STALE_AFTER:
        return True, f"not written to for {idle / 3600:.0f} hours"
    return False, writer


def _candidates(root: str, directories: Iterable[str] | None) -> Iterator[tuple[str, str]]:
    """``(repo path, disk path)`` of every entry that may be a temp file."""
    if directories is None:
        yield from _walk(root, "")
        return
    for directory in sorted(set(directories)):
        folder = os.path.join(root, *directory.split("/")) if directory else root
        try:
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it if is_temp_name(e.name))
        except OSError:  # not there (yet), or not a folder: nothing of ours in it
            continue
        prefix = directory + "/" if directory else ""
        yield from ((prefix + name, os.path.join(folder, name)) for name in names)


def _walk(folder: str, prefix: str) -> Iterator[tuple[str, str]]:
    """Every temp-file name under ``folder``: ``.git`` and nested repositories skipped,
    symbolic links not followed."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if is_temp_name(entry.name):
            yield prefix + entry.name, entry.path
        elif entry.name != ".git" and entry.is_dir(follow_symlinks=False) \
                and not os.path.lexists(os.path.join(entry.path, ".git")):
            yield from _walk(entry.path, prefix + entry.name + "/")


def clean(worktree: Path, directories: Iterable[str] | None = None, *,
          now: float | None = None) -> list[TempFile]:
    """Remove the stale temp files in ``directories`` (repository paths, ``""`` for the
    top), or in the whole working tree when ``None``; report each temp file found,
    removed or kept. Never raises for a file it cannot remove: that one is kept.
    ``now`` (Unix time) is what idle times are measured from, the clock by default."""
    root = os.fspath(worktree)
    found: list[TempFile] = []
    for relpath, disk in _candidates(root, directories):
        name = relpath.rpartition("/")[2]
        try:
            st = os.lstat(disk)
        except OSError:
            continue
        verdict = _judge(name, st, time.time() if now is None else now)
        if verdict is None:
            continue
        stale, reason = verdict
        if stale:
            try:
                # judged on this very file: it must still be the same one, still stale
                again = os.lstat(disk)
                still = _judge(name, again, time.time() if now is None else now)
                if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) or \
                        still is None or not still[0]:
                    continue
                os.unlink(disk)
            except FileNotFoundError:
                continue  # someone else removed it
            except OSError as exc:  # in use (Windows), read-only folder ...
                found.append(TempFile(relpath, False, f"{reason}; cannot remove it "
                                                      f"({exc.strerror or exc})"))
                continue
        found.append(TempFile(relpath, stale, reason))
    return found
