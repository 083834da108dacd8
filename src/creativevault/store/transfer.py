"""Moving stored entries between stores: export as stored, ingest with verification.

A transfer sends entries in their *stored* form (already compressed, never recompressed)
and the receiving :class:`Ingest` checks every one before it is written: a chunk must
decompress to its plain length and hash to its key, a manifest must decode, add up and
name only chunks the receiver already holds. Verified entries go into new packs that are
published every ``publish_every`` bytes, so a transfer killed at any byte keeps almost
all of what arrived and a re-run sends only what is still missing
(docs/formats/remote-protocol.md).

Order is what keeps a receiving store valid: chunk rows of a pack are indexed only after
the pack is durable, and a manifest (what makes a file visible) only once all its chunks
are indexed, in the same or an earlier pack. A delta chunk is accepted only once its base
is held (indexed, or verified earlier in the same ingest) and it decodes against that
base to its key; a peer that does not take deltas is sent them *expanded*, decoded and
stored as ordinary chunk entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from blake3 import blake3

from creativevault.errors import CorruptObjectError, DiskFullError, StoreError
from creativevault.store.compression import Compressor, decompress, decompress_delta
from creativevault.store.durable import check_free_space, is_disk_full
from creativevault.store.index import IndexRow
from creativevault.store.lock import StoreLock
from creativevault.store.manifest import Manifest
from creativevault.store.pack import (
    ENTRY_CHUNK,
    ENTRY_HEADER_SIZE,
    ENTRY_MANIFEST,
    FLAG_DELTA,
    FLAG_ZSTD,
    PackWriter,
    split_delta,
)
from creativevault.types import Progress

if TYPE_CHECKING:
    from creativevault.store.store import Store

__all__ = ["DEFAULT_PUBLISH_EVERY", "Entry", "Ingest", "IngestReport", "MAX_ENTRY",
           "copy_files", "delta_bases", "expand", "manifest_of", "missing_keys", "read_entries"]

#: bytes of verified entries after which an ingest publishes a pack (what a kill loses)
DEFAULT_PUBLISH_EVERY = 16 * 1024 * 1024
#: largest plain entry accepted from a peer (chunks are at most a few MiB; a manifest
#: of a 100 GB file at 256 KiB chunks is ~16 MB)
MAX_ENTRY = 256 * 1024 * 1024
_LOOKUP_BATCH = 500


class Entry(NamedTuple):
    """One stored entry as it travels: its type, key, plain length, flags, stored bytes."""

    etype: int
    key: bytes
    plain_len: int
    flags: int
    stored: bytes

    @property
    def wire_size(self) -> int:
        """Bytes this entry occupies in a pack (header included)."""
        return ENTRY_HEADER_SIZE + len(self.stored)

    @property
    def base(self) -> bytes | None:
        """The key of a delta's base chunk; None for any other entry."""
        return split_delta(self.stored)[0] if self.flags & FLAG_DELTA else None


@dataclass
class IngestReport:
    """What an ingest added."""

    chunks: int = 0
    files: int = 0
    #: stored bytes written (entries already present are not counted)
    bytes: int = 0
    #: entries sent that the store already had
    skipped: int = 0
    packs: int = 0

    def to_json(self) -> dict:
        return {"chunks": self.chunks, "files": self.files, "bytes": self.bytes,
                "skipped": self.skipped, "packs": self.packs}


def manifest_of(entry: Entry) -> Manifest:
    """Decode a manifest entry as it travels (:class:`CorruptObjectError` if damaged)."""
    what = f"manifest of file {entry.key.hex()}"
    if entry.etype != ENTRY_MANIFEST:
        raise CorruptObjectError(f"{what}: an entry of another type arrived")
    plain = (decompress(entry.stored, entry.plain_len, where=what)
             if entry.flags & FLAG_ZSTD else entry.stored)
    return Manifest.decode(plain, where=what)


def missing_keys(store: Store, etype: int, keys: Iterable[bytes]) -> list[bytes]:
    """The keys (in their given order, duplicates dropped) that ``store`` lacks."""
    out: list[bytes] = []
    seen: set[bytes] = set()
    batch: list[bytes] = []

    def flush() -> None:
        present = store.index.present(etype, batch)
        out.extend(k for k in batch if k not in present)
        batch.clear()

    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        batch.append(key)
        if len(batch) >= _LOOKUP_BATCH:
            flush()
    if batch:
        flush()
    return out


def read_entries(store: Store, etype: int, keys: Iterable[bytes], *,
                 deltas: bool = False) -> Iterator[Entry]:
    """Yield the stored form of each key (:class:`ObjectMissingError` for an absent one).

    Entries are not decompressed here; the receiver verifies them. A delta is yielded
    expanded (:func:`expand`) unless ``deltas`` (the receiver takes deltas and holds, or
    gets first, the base).
    """
    from creativevault.errors import ObjectMissingError

    for key in keys:
        row = store.index.get(etype, key)
        if row is None:
            kind = "chunk" if etype == ENTRY_CHUNK else "file"
            raise ObjectMissingError(f"{kind} {key.hex()} is not in the store at {store.root}",
                                     path=store.root)
        if not deltas and row.flags & FLAG_DELTA:
            yield expand(store, key)
            continue
        header, stored = store.read_stored(row)
        yield Entry(etype, key, header.plain_len, header.flags, stored)


_expand_compressor = Compressor()


def expand(store: Store, key: bytes) -> Entry:
    """Chunk ``key`` as an ordinary entry (zstd level 1 or raw), decoded and verified if
    it is stored as a delta: for a receiver that takes no deltas or lacks the base."""
    from creativevault.errors import ObjectMissingError

    row = store.index.get(ENTRY_CHUNK, key)
    if row is None:
        raise ObjectMissingError(f"chunk {key.hex()} is not in the store at {store.root}",
                                 path=store.root)
    if not row.flags & FLAG_DELTA:
        header, stored = store.read_stored(row)
        return Entry(ENTRY_CHUNK, key, header.plain_len, header.flags, stored)
    plain = store.read_chunk_plain(row)
    stored, compressed = _expand_compressor.compress(plain)
    return Entry(ENTRY_CHUNK, key, len(plain), FLAG_ZSTD if compressed else 0, stored)


def delta_bases(store: Store, keys: Iterable[bytes]) -> dict[bytes, bytes]:
    """delta key -> base key, for the keys among ``keys`` stored as deltas."""
    out: dict[bytes, bytes] = {}
    for key in keys:
        row = store.index.get(ENTRY_CHUNK, key)
        if row is not None and row.base is not None:
            out[key] = row.base
    return out


class Ingest:
    """Receives entries into ``store`` (context manager holding the store lock).

    ``add`` verifies an entry and appends it; :meth:`close` (or leaving the ``with``
    block, even through an exception such as a dropped connection) publishes what was
    verified. A write error (disk full, I/O error) discards only the pack being written.
    """

    def __init__(self, store: Store, *, publish_every: int = DEFAULT_PUBLISH_EVERY,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.publish_every = publish_every
        self.progress = progress or Progress()
        self.report = IngestReport()
        self._lock = StoreLock(store.lock_path, timeout=store.lock_timeout)
        self._pack: PackWriter | None = None
        self._rows: list[IndexRow] = []
        self._pending: set[bytes] = set()  # chunk keys in the unpublished pack
        self._pending_files: set[bytes] = set()  # manifest keys in the unpublished pack
        #: full chunks of the unpublished pack, as stored (possible bases of later deltas;
        #: bounded by publish_every)
        self._pending_full: dict[bytes, Entry] = {}
        self._broken = False

    def __enter__(self) -> Ingest:
        self._lock.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.close()
        finally:
            self._lock.release()

    # -- verification --------------------------------------------------------------------

    def _plain(self, entry: Entry, what: str) -> bytes:
        if entry.plain_len > MAX_ENTRY or len(entry.stored) > MAX_ENTRY:
            raise CorruptObjectError(f"{what} is larger than any entry cvault writes",
                                     actual=entry.plain_len)
        if entry.flags == FLAG_DELTA and entry.etype == ENTRY_CHUNK and len(entry.stored) > 32:
            base_key, frame = split_delta(entry.stored)
            plain = decompress_delta(frame, self._base(base_key, what), entry.plain_len,
                                     where=what)
        elif entry.flags & ~FLAG_ZSTD:
            raise CorruptObjectError(f"{what} has unknown flags {entry.flags:#x}")
        else:
            plain = (decompress(entry.stored, entry.plain_len, where=what)
                     if entry.flags & FLAG_ZSTD else entry.stored)
        if len(plain) != entry.plain_len:
            raise CorruptObjectError(f"{what} has the wrong length",
                                     expected=entry.plain_len, actual=len(plain))
        return plain

    def _base(self, key: bytes, what: str) -> bytes:
        """The verified plain bytes of a delta's base: held in full, here or in the pack
        being written (:class:`CorruptObjectError` naming it otherwise)."""
        where = f"the delta base {key.hex()} of {what}"
        pending = self._pending_full.get(key)
        if pending is None:
            if key in self._pending:
                raise CorruptObjectError(f"{where} is itself a delta; a base must be a "
                                         "chunk stored in full")
            if not self.store.index.contains(ENTRY_CHUNK, key):
                raise CorruptObjectError(f"{what} arrived before {where} (which this store "
                                         "lacks)")
            return self.store.read_base(key, what=where)
        # verified when it arrived; decompressed again rather than held in plain
        return (decompress(pending.stored, pending.plain_len, where=where)
                if pending.flags & FLAG_ZSTD else pending.stored)

    def has_chunk(self, key: bytes) -> bool:
        """True when the store holds chunk ``key`` or it arrived in this ingest."""
        return key in self._pending or self.store.index.contains(ENTRY_CHUNK, key)

    def verify(self, entry: Entry) -> int:
        """Check one entry; return the size to index (file size for a manifest)."""
        if len(entry.key) != 32:
            raise CorruptObjectError("an entry with a malformed key arrived")
        if entry.etype == ENTRY_CHUNK:
            what = f"chunk {entry.key.hex()}"
            plain = self._plain(entry, what)
            if blake3(plain).digest() != entry.key:
                raise CorruptObjectError(f"{what} arrived damaged: it fails its hash check")
            return entry.plain_len
        if entry.etype == ENTRY_MANIFEST:
            what = f"manifest of file {entry.key.hex()}"
            manifest = Manifest.decode(self._plain(entry, what), where=what)
            for key, _length in manifest.chunks:
                if not self.has_chunk(key):
                    raise CorruptObjectError(f"{what} arrived before its chunk {key.hex()}")
            return manifest.size
        raise CorruptObjectError(f"an entry of unknown type {entry.etype} arrived")

    # -- writing -------------------------------------------------------------------------

    def add(self, entry: Entry) -> bool:
        """Verify and append one entry; False when the store already had it."""
        if self._broken:
            raise StoreError("this transfer already failed; start it again", path=self.store.root)
        if entry.etype == ENTRY_CHUNK and self.has_chunk(entry.key) or (
                entry.etype == ENTRY_MANIFEST and (
                    entry.key in self._pending_files
                    or self.store.index.contains(ENTRY_MANIFEST, entry.key))):
            self.report.skipped += 1
            return False
        size = self.verify(entry)
        try:
            if self._pack is None:
                # the entry itself plus the safety margin: the sender already checked the
                # whole transfer against the free space (asking for publish_every here
                # refused a 5 MB push into a drive with 70 MB free that the plan accepted)
                check_free_space(self.store.root, entry.wire_size, name="received entries")
                self._pack = PackWriter(self.store.packs_dir, self.store.opener)
            offset = self._pack.append(entry.etype, entry.key, entry.stored, entry.plain_len,
                                       entry.flags)
        except OSError as exc:
            self._fail()
            raise self._convert(exc) from exc
        self._rows.append(IndexRow(entry.etype, entry.key, self._pack.name, offset,
                                   len(entry.stored), entry.plain_len, entry.flags, size,
                                   entry.base))
        if entry.etype == ENTRY_CHUNK:
            self._pending.add(entry.key)
            if not entry.flags & FLAG_DELTA:
                self._pending_full[entry.key] = entry
            self.report.chunks += 1
        else:
            self._pending_files.add(entry.key)
            self.report.files += 1
        self.report.bytes += entry.wire_size
        if self._pack.size >= self.publish_every:
            self.publish()
        return True

    def publish(self) -> None:
        """Make the verified entries so far durable and visible (pack, then index)."""
        pack, self._pack = self._pack, None
        if pack is None:
            return
        rows, self._rows = self._rows, []
        try:
            pack.publish()
        except OSError as exc:
            pack.discard()
            self._pending.clear()
            self._pending_full.clear()
            self._pending_files.clear()
            self._broken = True
            raise self._convert(exc) from exc
        # one transaction: a manifest is indexed with (or after) the chunks it names
        rows.sort(key=lambda r: r.type)
        try:
            self.store.index.add(rows)
        except sqlite3.OperationalError as exc:
            # the pack is durable but unindexed: nothing refers to it (gc reclaims it)
            self._pending.clear()
            self._pending_full.clear()
            self._pending_files.clear()
            self._broken = True
            if "full" in str(exc):
                raise DiskFullError(f"disk full while indexing entries received into the "
                                    f"store at {self.store.root}; what arrived before is "
                                    "kept; free some space and run it again",
                                    path=self.store.root) from exc
            raise StoreError(f"cannot update the index of the store at {self.store.root}: "
                             f"{exc}", path=self.store.root) from exc
        self._pending.clear()
        self._pending_full.clear()
        self._pending_files.clear()
        self.report.packs += 1

    def close(self) -> None:
        """Publish what remains (nothing after a write failure)."""
        if self._broken:
            return
        self.publish()

    def _fail(self) -> None:
        self._broken = True
        pack, self._pack = self._pack, None
        if pack is not None:
            pack.discard()
        self._rows = []
        self._pending.clear()
        self._pending_full.clear()
        self._pending_files.clear()

    def _convert(self, exc: OSError) -> StoreError:
        if is_disk_full(exc):
            return DiskFullError(f"disk full while receiving into the store at "
                                 f"{self.store.root} ({exc.strerror or exc}); what arrived "
                                 "before is kept; free some space and run it again",
                                 path=self.store.root)
        return StoreError(f"cannot write into the store at {self.store.root}: "
                          f"{exc.strerror or exc}", path=Path(self.store.root))


def copy_files(source: Store, target: Store, *,
               progress: Progress | None = None) -> IngestReport:
    """Copy every file ``source`` holds and ``target`` lacks into ``target``, verified
    as any transfer is (chunks before the manifest naming them; deltas expanded, since
    ``target`` may lack their bases). Both stores stay valid if this is interrupted."""
    file_keys = missing_keys(target, ENTRY_MANIFEST,
                             (row.key for row in source.index.rows(etype=ENTRY_MANIFEST)))
    with Ingest(target, progress=progress) as ingest:
        for file_key in file_keys:
            manifest_entry = next(read_entries(source, ENTRY_MANIFEST, [file_key]))
            chunk_keys = [key for key, _ in manifest_of(manifest_entry).chunks
                          if not ingest.has_chunk(key)]
            for entry in read_entries(source, ENTRY_CHUNK, chunk_keys):
                ingest.add(entry)
            ingest.add(manifest_entry)
    return ingest.report
