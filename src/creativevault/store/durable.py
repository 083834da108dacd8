"""Durability primitives and the one OSError boundary of the store.

Data reaches disk in a fixed order: written to a temporary name, ``fsync``-ed, renamed
into place, then the directory is ``fsync``-ed (POSIX only; Windows has no directory
handles to sync). Out-of-space errors (``ENOSPC``/``EDQUOT``) become
:class:`~creativevault.errors.DiskFullError` here and nowhere else.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from creativevault.errors import DiskFullError

__all__ = [
    "FREE_SPACE_MARGIN",
    "check_free_space",
    "fsync_dir",
    "is_disk_full",
    "publish",
    "remove_quietly",
    "to_disk_full",
    "write_atomic",
]

#: Free space a write must leave on the volume (bytes) on top of the data itself.
FREE_SPACE_MARGIN = 64 * 1024 * 1024

_DISK_FULL_ERRNOS = frozenset(
    code for code in (getattr(errno, "ENOSPC", None), getattr(errno, "EDQUOT", None)) if code
)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` is an OSError meaning the volume or quota is full."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS


def to_disk_full(exc: OSError, *, store: Path, name: str) -> DiskFullError:
    """Convert an out-of-space OSError into one clear :class:`DiskFullError`."""
    return DiskFullError(
        f"disk full while storing {name} into the store at {store} ({exc.strerror or exc}); "
        "free some space and retry",
        path=name,
    )


def check_free_space(root: Path, needed: int, *, name: str) -> None:
    """Raise :class:`DiskFullError` unless ``root``'s volume has ``needed`` + margin free."""
    import shutil  # with bz2 and lzma: not worth loading for every stat-cache write

    free = shutil.disk_usage(root).free
    required = needed + FREE_SPACE_MARGIN
    if free <= required:
        raise DiskFullError(
            f"not enough free space to store {name} into the store at {root}",
            path=name,
            expected=f">{required} bytes free",
            actual=f"{free} bytes free",
        )


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (no-op where unsupported)."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open directories
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Atomically rename the already-fsynced ``tmp`` to ``final`` and sync the directory."""
    os.replace(tmp, final)
    fsync_dir(final.parent)


def remove_quietly(path: Path) -> None:
    """Delete ``path`` if it exists; cleanup must never mask the error being handled."""
    try:
        path.unlink()
    except OSError:
        pass


def write_atomic(path: Path, data: bytes, *, temp_prefix: str | None = None) -> None:
    """Write a small file durably: temp file, fsync, rename, directory fsync.

    The temp file is ``.<name>.tmp-<pid>``, or with ``temp_prefix`` (a file of the user's
    working tree: repo/worktree_temp's prefix) ``<temp_prefix><8 random hex digits>``, a
    name that cvault and git hide and that the next restore or ``fsck`` removes if a
    killed process leaves it behind.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}" if temp_prefix is None
                         else f"{temp_prefix}{os.urandom(4).hex()}")
    try:
        with open(tmp, "wb" if temp_prefix is None else "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise



