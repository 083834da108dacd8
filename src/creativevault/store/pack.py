"""Append-only pack files of self-describing entries (docs/formats/pack.md).

A pack is a 16-byte file header followed by entries. Each entry is a 56-byte header
(magic, type, flags, 32-byte key, stored length, plain length, CRC-32 of the stored bytes,
CRC-32 of the header) and the stored bytes: plain, one zstd frame, or (version 2) a delta,
the 32-byte key of a base chunk followed by a zstd frame that needs the base's plain
bytes as its dictionary. Packs are written under a temporary name,
fsynced and renamed (see :mod:`creativevault.store.durable`); readers only ever open
final names, so a pack an index row points to is always complete. They are written
around the page cache where the system allows it (:mod:`creativevault.store.directio`):
they are fsynced anyway, and filling fresh cache pages cost more CPU than the rest of
an initial commit's writing.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from creativevault.errors import CorruptObjectError
from creativevault.store.directio import DirectSink
from creativevault.store.durable import publish, remove_quietly

__all__ = [
    "ENTRY_CHUNK",
    "ENTRY_HEADER_SIZE",
    "ENTRY_MANIFEST",
    "FLAG_DELTA",
    "FLAG_ZSTD",
    "PACK_HEADER",
    "PACK_VERSION",
    "READABLE_PACK_VERSIONS",
    "EntryHeader",
    "PackReader",
    "PackScanError",
    "PackWriter",
    "is_pack_name",
    "is_temp_pack_name",
    "scan_pack",
    "split_delta",
]

PACK_MAGIC = b"CVPACK\r\n"
PACK_VERSION = 2
#: version 1 packs (no delta entries) are read unchanged
READABLE_PACK_VERSIONS = (1, 2)
PACK_HEADER = PACK_MAGIC + struct.pack("<H", PACK_VERSION) + b"\x00" * 6
ENTRY_MAGIC = b"CVEN"
ENTRY_CHUNK = 1
ENTRY_MANIFEST = 2
FLAG_ZSTD = 0x01
#: a chunk stored as a delta: base key (32 bytes) + zstd frame with the base as dictionary
FLAG_DELTA = 0x02
_KNOWN_FLAGS = FLAG_ZSTD | FLAG_DELTA
_BASE_KEY = 32
_ENTRY = struct.Struct("<4sBBH32sIIII")
ENTRY_HEADER_SIZE = _ENTRY.size  # 56
_MAX_LEN = 0xFFFFFFFF

_PACK_RE = re.compile(r"^pack-[0-9a-f]{32}\.pack$")
_TEMP_RE = re.compile(r"^pack-[0-9a-f]{32}\.pack\.tmp$")

Opener = Callable[[Path], BinaryIO]


def is_pack_name(name: str) -> bool:
    """True for a published pack file name (``pack-<32 hex>.pack``)."""
    return _PACK_RE.match(name) is not None


def is_temp_pack_name(name: str) -> bool:
    """True for a pack still being written (``pack-<32 hex>.pack.tmp``)."""
    return _TEMP_RE.match(name) is not None


def default_opener(path: Path) -> BinaryIO:
    """Open a new pack temp file for writing; fails if it exists."""
    return open(path, "xb")  # noqa: SIM115 - the PackWriter owns and closes it


@dataclass(frozen=True)
class EntryHeader:
    """The decoded fixed-size header of one pack entry."""

    type: int
    flags: int
    key: bytes
    stored_len: int
    plain_len: int
    body_crc: int

    @property
    def compressed(self) -> bool:
        """True when the stored bytes are one zstd frame."""
        return bool(self.flags & FLAG_ZSTD)

    @property
    def delta(self) -> bool:
        """True when the stored bytes are a base key and a frame needing that base."""
        return bool(self.flags & FLAG_DELTA)

    def encode(self) -> bytes:
        """The 56 header bytes, ending with their own CRC-32."""
        head = _ENTRY.pack(ENTRY_MAGIC, self.type, self.flags, 0, self.key,
                           self.stored_len, self.plain_len, self.body_crc, 0)[:-4]
        return head + struct.pack("<I", zlib.crc32(head))

    @classmethod
    def decode(cls, raw: bytes, *, where: str) -> EntryHeader:
        """Parse and check 56 header bytes; :class:`CorruptObjectError` if damaged."""
        if len(raw) != ENTRY_HEADER_SIZE:
            raise CorruptObjectError(f"{where}: truncated entry header",
                                     expected=ENTRY_HEADER_SIZE, actual=len(raw))
        magic, etype, flags, _res, key, stored, plain, body_crc, head_crc = _ENTRY.unpack(raw)
        if magic != ENTRY_MAGIC:
            raise CorruptObjectError(f"{where}: bad entry magic", expected=ENTRY_MAGIC,
                                     actual=magic)
        if zlib.crc32(raw[:-4]) != head_crc:
            raise CorruptObjectError(f"{where}: entry header checksum mismatch")
        if etype not in (ENTRY_CHUNK, ENTRY_MANIFEST) or flags & ~_KNOWN_FLAGS:
            raise CorruptObjectError(f"{where}: unknown entry type {etype} or flags {flags:#x}")
        if flags & FLAG_DELTA and (flags & FLAG_ZSTD or etype != ENTRY_CHUNK
                                   or stored <= _BASE_KEY):
            raise CorruptObjectError(f"{where}: malformed delta entry (type {etype}, flags "
                                     f"{flags:#x}, {stored} stored bytes)")
        return cls(etype, flags, key, stored, plain, body_crc)


def split_delta(stored: bytes) -> tuple[bytes, bytes]:
    """A delta entry's stored bytes as ``(base key, zstd frame)``."""
    return stored[:_BASE_KEY], stored[_BASE_KEY:]


class PackWriter:
    """Appends entries to one new pack under a temporary name until :meth:`publish`."""

    def __init__(self, directory: Path, opener: Opener = default_opener) -> None:
        """``opener`` opens the temp file; with the default one, the pack is written
        through a :class:`~creativevault.store.directio.DirectSink` (direct where the file
        system allows it), with any other (tests inject failing drives) through the file
        object it returns."""
        self.directory = directory
        self.name = f"pack-{secrets.token_hex(16)}.pack"
        self.temp_path = directory / f"{self.name}.tmp"
        self._fh: BinaryIO | None = None
        self._sink: DirectSink | None = None
        self.size = 0
        try:
            if opener is default_opener:
                self._fh = open(self.temp_path, "xb", buffering=0)  # noqa: SIM115 - ours
                self._sink = DirectSink(self._fh.fileno())
            else:
                self._fh = opener(self.temp_path)
            self._write(PACK_HEADER)
        except BaseException:
            self.discard()
            raise

    def _write(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.write(data)
        else:
            assert self._fh is not None
            self._fh.write(data)
        self.size += len(data)

    def append(self, etype: int, key: bytes, stored: bytes, plain_len: int, flags: int) -> int:
        """Append one entry; return its offset in the pack."""
        if len(stored) > _MAX_LEN or plain_len > _MAX_LEN:
            raise ValueError("pack entries are limited to 4 GiB")
        offset = self.size
        header = EntryHeader(etype, flags, key, len(stored), plain_len, zlib.crc32(stored))
        self._write(header.encode())
        self._write(stored)
        return offset

    def publish(self) -> str:
        """Flush, fsync, rename to the final name and sync the directory; return the name."""
        assert self._fh is not None
        fh, self._fh = self._fh, None
        sink, self._sink = self._sink, None
        try:
            if sink is not None:
                sink.finish()
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            if sink is not None:
                sink.release()
            fh.close()
        publish(self.temp_path, self.directory / self.name)
        return self.name

    def discard(self) -> None:
        """Close and delete the temporary file; safe to call more than once."""
        fh, self._fh = self._fh, None
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.release()
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        remove_quietly(self.temp_path)


class _Handle:
    """One cached pack handle, and how many reads are using it right now."""

    __slots__ = ("fh", "users", "evicted")

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.users = 0
        self.evicted = False


class PackReader:
    """Reads entries at known offsets; keeps a few packs open; safe across threads.

    Reads run outside the lock (``pread`` needs no shared file position), so threads
    restoring several files wait on the disk side by side instead of one at a time; a
    handle evicted or forgotten while a read uses it is closed by its last reader.
    """

    def __init__(self, directory: Path, max_open: int = 16) -> None:
        self.directory = directory
        self._max_open = max_open
        self._files: dict[str, _Handle] = {}
        self._lock = threading.Lock()

    def _drop(self, handle: _Handle) -> None:
        """Close ``handle`` now, or when its last read ends (holding the lock)."""
        handle.evicted = True
        if handle.users == 0:
            handle.fh.close()

    def _take(self, pack: str) -> _Handle:
        """The handle of ``pack``, marked in use (holding the lock). The least recently
        used handle is evicted when ``max_open`` are open."""
        handle = self._files.pop(pack, None)
        if handle is None:
            if len(self._files) >= self._max_open:
                self._drop(self._files.pop(next(iter(self._files))))
            # cached, closed by close(), forget() or eviction
            handle = _Handle(open(self.directory / pack, "rb"))  # noqa: SIM115
        self._files[pack] = handle  # the most recently used last
        handle.users += 1
        return handle

    def read(self, pack: str, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at ``offset`` of ``pack`` (may return fewer at EOF)."""
        if not hasattr(os, "pread"):  # pragma: no cover - Windows: a shared file position
            with self._lock:
                handle = self._take(pack)
                try:
                    handle.fh.seek(offset)
                    return handle.fh.read(length)
                finally:
                    self._release(handle)
        with self._lock:
            handle = self._take(pack)
        try:
            return os.pread(handle.fh.fileno(), length, offset)
        finally:
            with self._lock:
                self._release(handle)

    def _release(self, handle: _Handle) -> None:
        handle.users -= 1
        if handle.evicted and handle.users == 0:
            handle.fh.close()

    def read_entry(self, pack: str, offset: int, stored_len: int) -> tuple[EntryHeader, bytes]:
        """Read and check one entry's header and stored bytes (CRC, lengths)."""
        where = f"{pack} at offset {offset}"
        raw = self.read(pack, offset, ENTRY_HEADER_SIZE + stored_len)
        header = EntryHeader.decode(raw[:ENTRY_HEADER_SIZE], where=where)
        body = raw[ENTRY_HEADER_SIZE:]
        if header.stored_len != stored_len or len(body) != stored_len:
            raise CorruptObjectError(f"{where}: stored length mismatch",
                                     expected=stored_len, actual=len(body))
        if zlib.crc32(body) != header.body_crc:
            raise CorruptObjectError(f"{where}: stored bytes checksum mismatch")
        return header, body

    def forget(self, pack: str) -> None:
        """Close a cached handle (before the pack is deleted or after it vanished)."""
        with self._lock:
            handle = self._files.pop(pack, None)
            if handle is not None:
                self._drop(handle)

    def close(self) -> None:
        """Close every cached handle (a read still running closes its own at its end)."""
        with self._lock:
            for handle in self._files.values():
                self._drop(handle)
            self._files.clear()


class PackScanError(Exception):
    """Scanning stopped: the rest of the pack cannot be parsed (internal to the store)."""

    def __init__(self, kind: str, offset: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.offset = offset


def scan_pack(path: Path) -> Iterator[tuple[int, EntryHeader, bytes]]:
    """Yield ``(offset, header, stored bytes)`` for every entry, in file order.

    Entries whose stored bytes fail their CRC are still yielded (the caller verifies);
    :class:`PackScanError` ends the scan when the file header or an entry header is
    damaged ("corrupt-pack") or the file ends inside an entry ("truncated-pack").
    """
    with open(path, "rb") as fh:
        head = fh.read(len(PACK_HEADER))
        if head[:8] != PACK_MAGIC or len(head) < len(PACK_HEADER):
            raise PackScanError("corrupt-pack", 0, "not a cvault pack (bad file header)")
        (version,) = struct.unpack("<H", head[8:10])
        if version not in READABLE_PACK_VERSIONS:
            raise PackScanError("corrupt-pack", 0, f"unknown pack version {version}")
        offset = len(PACK_HEADER)
        while True:
            raw = fh.read(ENTRY_HEADER_SIZE)
            if not raw:
                return
            if len(raw) < ENTRY_HEADER_SIZE:
                raise PackScanError("truncated-pack", offset, "file ends inside an entry header")
            try:
                header = EntryHeader.decode(raw, where=f"{path.name} at offset {offset}")
            except CorruptObjectError as exc:
                raise PackScanError("corrupt-pack", offset, str(exc)) from exc
            body = fh.read(header.stored_len)
            if len(body) < header.stored_len:
                raise PackScanError("truncated-pack", offset, "file ends inside an entry")
            yield offset, header, body
            offset += ENTRY_HEADER_SIZE + header.stored_len
