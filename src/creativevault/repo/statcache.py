"""cvault's own stat cache: stat fingerprints and staged ids of working files.

Specified in ``docs/formats/statcache.md``. The cache is derived data: loading never
fails (a missing, corrupt or unknown-version file is an empty cache), and saving is
atomic. Entries are kept in their on-disk tuple form and turned into :class:`StatEntry`
only when asked for, so loading 100,000 entries is one ``msgpack`` call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

import msgpack

from creativevault.errors import DiskFullError
from creativevault.store.durable import is_disk_full, write_atomic

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "RACY_GRANULARITY_NS",
    "Fingerprint",
    "StatCache",
    "StatEntry",
    "MODE_EXEC",
    "MODE_FILE",
    "fingerprint",
    "git_mode",
    "index_signature",
]

FORMAT_NAME = "cvault-statcache"
FORMAT_VERSION = 1
#: Entries whose mtime is this close to the cache's write time are not trusted.
RACY_GRANULARITY_NS = 2_000_000_000

#: ``(size, mtime_ns, ino, ctime_ns, mode)`` of a file.
Fingerprint = tuple[int, int, int, int, int]

_RawEntry = tuple[int, int, int, int, int, bytes, "bytes | None"]


class StatEntry(NamedTuple):
    """What the cache knows about one working file."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    mode: int
    #: git blob id (hex) of what is staged for the path (the pointer blob if managed)
    blob_id: str
    #: SHA-256 (hex) of the content for managed files, ``None`` for plain-git files
    file_id: str | None

    @classmethod
    def from_stat(cls, st: os.stat_result, blob_id: str, file_id: str | None) -> StatEntry:
        """Build an entry from a file's ``lstat`` and the ids staged for it."""
        return cls(*fingerprint(st), blob_id, file_id)

    @property
    def fingerprint(self) -> Fingerprint:
        """The stat fields of this entry, comparable with :func:`fingerprint`."""
        return (self.size, self.mtime_ns, self.ino, self.ctime_ns, self.mode)


MODE_FILE = 0o100644
MODE_EXEC = 0o100755


def git_mode(st: os.stat_result) -> int:
    """The git file mode of a regular file: executable or not (git keeps no other bits)."""
    return MODE_EXEC if st.st_mode & 0o111 else MODE_FILE


def fingerprint(st: os.stat_result) -> Fingerprint:
    """The stat fields the cache compares: ``(size, mtime_ns, ino, ctime_ns, git mode)``."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, git_mode(st))


def index_signature(index_path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of git's index file, or ``None`` if there is none."""
    try:
        st = os.stat(index_path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int


def _valid_entries(entries: object) -> TypeGuard[dict[str, _RawEntry]]:
    if not isinstance(entries, dict):
        return False
    for key, raw in entries.items():
        if (
            type(key) is not str
            or type(raw) is not tuple
            or len(raw) != 7
            or type(raw[0]) is not int
            or type(raw[1]) is not int
            or type(raw[2]) is not int
            or type(raw[3]) is not int
            or type(raw[4]) is not int
            or type(raw[5]) is not bytes
            or len(raw[5]) not in (20, 32)
            or not (raw[6] is None or (type(raw[6]) is bytes and len(raw[6]) == 32))
        ):
            return False
    return True


class StatCache:
    """An in-memory stat cache, keyed by repo path.

    ``written_ns`` is when the loaded file was written (``0`` for a new cache: nothing is
    trusted until saved); ``head`` and ``index_sig`` are set by the owner before saving.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _RawEntry] = {}
        self.written_ns: int = 0
        self.head: str | None = None
        self.index_sig: tuple[int, int] | None = None

    @classmethod
    def load(cls, path: Path) -> StatCache:
        """Load the cache at ``path``; anything unreadable gives an empty cache."""
        cache = cls()
        try:
            data = Path(path).read_bytes()
            doc: Any = msgpack.unpackb(data, use_list=False)
        except (OSError, ValueError, TypeError):  # msgpack's errors are ValueErrors
            return cache
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            return cache
        if doc.get("version") != FORMAT_VERSION:
            return cache
        written, head, sig, entries = (doc.get("written_ns"), doc.get("head"),
                                       doc.get("index_sig"), doc.get("entries"))
        if not _is_int(written) or not (head is None or type(head) is str):
            return cache
        if sig is not None and not (type(sig) is tuple and len(sig) == 2
                                    and all(_is_int(v) for v in sig)):
            return cache
        if not _valid_entries(entries):
            return cache
        cache._entries = entries
        cache.written_ns = written
        cache.head = head
        cache.index_sig = None if sig is None else (sig[0], sig[1])
        return cache

    def save(self, path: Path) -> None:
        """Write the cache atomically to ``path`` and make it the racy-rule reference.

        Raises :class:`DiskFullError` when the volume is full; other ``OSError``
        propagate (the caller may ignore them: the cache is derived data).
        """
        written_ns = time.time_ns()
        doc = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "written_ns": written_ns,
            "head": self.head,
            "index_sig": None if self.index_sig is None else list(self.index_sig),
            "entries": dict(sorted(self._entries.items())),
        }
        data = msgpack.packb(doc, use_bin_type=True)
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"disk full while writing the stat cache ({exc.strerror})",
                                    path=str(path)) from exc
            raise
        self.written_ns = written_ns

    def get(self, relpath: str) -> StatEntry | None:
        """The entry for ``relpath``, or ``None``."""
        raw = self._entries.get(relpath)
        if raw is None:
            return None
        return _to_entry(raw)

    def set(self, relpath: str, entry: StatEntry) -> None:
        """Record ``entry`` for ``relpath`` (replacing any previous one)."""
        file_id = None if entry.file_id is None else bytes.fromhex(entry.file_id)
        self._entries[relpath] = (entry.size, entry.mtime_ns, entry.ino, entry.ctime_ns,
                                  entry.mode, bytes.fromhex(entry.blob_id), file_id)

    def remove(self, relpath: str) -> bool:
        """Forget ``relpath``; return whether it had an entry."""
        return self._entries.pop(relpath, None) is not None

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def items(self) -> Iterator[tuple[str, StatEntry]]:
        """Iterate over ``(relpath, entry)`` pairs in insertion (load: sorted) order."""
        for relpath, raw in self._entries.items():
            yield relpath, _to_entry(raw)

    def paths(self) -> Iterator[str]:
        """Iterate over the cached repo paths (cheap: no entry is decoded)."""
        return iter(self._entries)

    def stat_of(self, relpath: str) -> tuple[int, int, int, int, int] | None:
        """The raw ``(size, mtime_ns, ino, ctime_ns, mode)`` of ``relpath`` (no decoding)."""
        raw = self._entries.get(relpath)
        return None if raw is None else raw[:5]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, relpath: object) -> bool:
        return relpath in self._entries

    def matches(self, relpath: str, st: os.stat_result) -> bool:
        """Whether the entry for ``relpath`` can be trusted for a file with stat ``st``.

        True only when the stat fingerprint is unchanged and the entry is not racy (its
        mtime is older than ``written_ns`` minus :data:`RACY_GRANULARITY_NS`).
        """
        raw = self._entries.get(relpath)
        if raw is None:
            return False
        if (raw[0], raw[1], raw[2], raw[3], raw[4]) != fingerprint(st):
            return False
        return raw[1] < self.written_ns - RACY_GRANULARITY_NS


def _to_entry(raw: _RawEntry) -> StatEntry:
    file_id = raw[6]
    return StatEntry(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5].hex(),
                     None if file_id is None else file_id.hex())
