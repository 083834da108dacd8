"""The sidecar object store: layout, reads with verification, fsck, gc and statistics.

Layout of ``root`` (``<repo>/.git/cvault/``)::

    store.json        format, version and the chunker settings, fixed at creation
    index.sqlite      (type, key) -> pack, offset, lengths  (docs/formats/index.md)
    packs/            pack-<hex>.pack, and pack-<hex>.pack.tmp while being written
    lock              present while a write operation runs (docs/formats/lock.md)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from blake3 import blake3

from creativevault.errors import (
    CorruptObjectError,
    ObjectMissingError,
    StoreError,
)
from creativevault.store.chunker import DEFAULT_PARAMS, ChunkerParams
from creativevault.store.compression import DEFAULT_LEVEL, decompress, decompress_delta
from creativevault.store.durable import fsync_dir, write_atomic
from creativevault.store.index import Index, IndexRow, Lookup
from creativevault.store.layout import STORE_FORMAT, STORE_VERSION, check_layout
from creativevault.store.lock import DEFAULT_TIMEOUT, StoreLock
from creativevault.store.manifest import Manifest
from creativevault.store.pack import (
    ENTRY_CHUNK,
    ENTRY_HEADER_SIZE,
    ENTRY_MANIFEST,
    FLAG_DELTA,
    PACK_HEADER,
    EntryHeader,
    PackReader,
    PackScanError,
    PackWriter,
    default_opener,
    is_pack_name,
    is_temp_pack_name,
    scan_pack,
    split_delta,
)
from creativevault.store.reports import FsckProblem, FsckReport, GcReport, StoreStats
from creativevault.types import Progress, Sink

if TYPE_CHECKING:
    from concurrent.futures import Future

    from creativevault.store.writer import StoreWriter

__all__ = ["DEFAULT_GRACE_SECONDS", "DEFAULT_PACK_TARGET", "STORE_FORMAT", "STORE_VERSION",
           "Store"]

#: chunks read ahead (on two threads) while a file is being restored
READ_AHEAD = 4

DEFAULT_PACK_TARGET = 64 * 1024 * 1024
DEFAULT_GRACE_SECONDS = 14 * 24 * 3600.0

Opener = Callable[[Path], BinaryIO]


def _parse_file_id(file_id: str) -> bytes:
    try:
        raw = bytes.fromhex(file_id)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise ObjectMissingError(f"not a file id (64 hex digits): {file_id!r}")
    return raw


class Store:
    """An opened store. Reads are safe from several threads; writes go through
    :meth:`writer`, which takes the store lock for the session only."""

    def __init__(self, root: Path, chunker: ChunkerParams, *, opener: Opener | None = None,
                 pack_target_size: int = DEFAULT_PACK_TARGET,
                 compression_level: int = DEFAULT_LEVEL,
                 lock_timeout: float = DEFAULT_TIMEOUT) -> None:
        """Use :meth:`open` or :meth:`init` instead."""
        self.root = root
        self.chunker = chunker
        self.opener: Opener = opener or default_opener
        self.pack_target_size = pack_target_size
        self.compression_level = compression_level
        self.lock_timeout = lock_timeout
        self.packs_dir = root / "packs"
        self.index_path = root / "index.sqlite"
        self.lock_path = root / "lock"
        rebuild = not self.index_path.exists()
        self.index = Index(self.index_path)
        self._reader = PackReader(self.packs_dir)
        if rebuild and any(is_pack_name(n) for n in os.listdir(self.packs_dir)):
            self.rebuild_index()

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def init(cls, root: Path, *, chunker: ChunkerParams | None = None,
             **options: object) -> Store:
        """Create the store layout under ``root`` (idempotent) and open it.

        ``chunker`` applies only to a new store; an existing one keeps its settings.
        """
        root = Path(root)
        (root / "packs").mkdir(parents=True, exist_ok=True)
        config = root / "store.json"
        if not config.exists():
            params = chunker or DEFAULT_PARAMS
            body = {"format": STORE_FORMAT, "version": STORE_VERSION,
                    "chunker": params.to_json()}
            write_atomic(config, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())
        return cls.open(root, **options)  # type: ignore[arg-type]

    @classmethod
    def open(cls, root: Path, *, opener: Opener | None = None,
             pack_target_size: int = DEFAULT_PACK_TARGET,
             compression_level: int = DEFAULT_LEVEL,
             lock_timeout: float = DEFAULT_TIMEOUT) -> Store:
        """Open an existing store; :class:`StoreFormatError` if the layout or version is unknown.

        ``opener(path)`` opens a new pack temp file for writing (tests inject failures).
        """
        root = Path(root)
        body = check_layout(root)
        chunker = ChunkerParams.from_json(body.get("chunker") or {})  # type: ignore[arg-type]
        return cls(root, chunker, opener=opener, pack_target_size=pack_target_size,
                   compression_level=compression_level, lock_timeout=lock_timeout)

    def close(self) -> None:
        """Release open files and the index connection."""
        self._reader.close()
        self.index.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def writer(self, *, progress: Progress | None = None) -> StoreWriter:
        """A write session (context manager) holding the store lock for its life."""
        from creativevault.store.writer import StoreWriter  # only writers need it

        return StoreWriter(self, progress=progress)

    def lock(self) -> StoreLock:
        """The store lock (context manager) for maintenance operations."""
        return StoreLock(self.lock_path, timeout=self.lock_timeout)

    # -- queries -------------------------------------------------------------------------

    def has_file(self, file_id: str) -> bool:
        """True when the file's manifest is in the index."""
        try:
            return self.index.contains(ENTRY_MANIFEST, _parse_file_id(file_id))
        except ObjectMissingError:
            return False

    def missing_files(self, file_ids: Iterable[str]) -> set[str]:
        """The subset of ``file_ids`` this store does not have."""
        return {fid for fid in file_ids if not self.has_file(fid)}

    def file_size(self, file_id: str) -> int:
        """Size in bytes of a stored file; :class:`ObjectMissingError` if absent."""
        return self._manifest_row(file_id).size

    def stats(self) -> StoreStats:
        """Pack count and bytes on disk, chunk and file counts, logical bytes."""
        packs = self._published_packs()
        size = 0
        for name in packs:
            try:
                size += (self.packs_dir / name).stat().st_size
            except FileNotFoundError:  # pragma: no cover - removed by a concurrent gc
                pass
        chunks, files, logical = self.index.counts()
        return StoreStats(packs=len(packs), pack_bytes=size, chunks=chunks, files=files,
                          logical_bytes=logical)

    # -- reads ---------------------------------------------------------------------------

    def _manifest_row(self, file_id: str) -> IndexRow:
        row = self.index.get(ENTRY_MANIFEST, _parse_file_id(file_id))
        if row is None:
            raise ObjectMissingError(f"file {file_id} is not in this store", path=self.root)
        return row

    def _read_plain(self, row: IndexRow, *, what: str, check_stored: bool = True) -> bytes:
        """Read, decompress and length-check one indexed entry (hash checked by callers).

        ``check_stored=False`` skips the CRC-32 of the stored bytes: for callers that
        check the BLAKE3 of the plain bytes, which that CRC would only repeat.
        """
        where = f"{what} in pack {row.pack} at offset {row.offset}"
        for attempt in range(2):
            try:
                header, stored = (
                    self._reader.read_entry(row.pack, row.offset, row.stored_len)
                    if check_stored else self._read_entry_unchecked(row))
                break
            except FileNotFoundError:
                self._reader.forget(row.pack)
                fresh = self.index.get(row.type, row.key)  # a gc may have moved it
                if attempt == 0 and fresh is not None and fresh != row:
                    row = fresh
                    where = f"{what} in pack {row.pack} at offset {row.offset}"
                    continue
                raise CorruptObjectError(f"{where}: pack file is missing",
                                         path=self.packs_dir / row.pack) from None
            except CorruptObjectError as exc:  # its message already names pack and offset
                raise CorruptObjectError(f"{what}: {exc.message}", path=self.packs_dir / row.pack,
                                         offset=row.offset) from exc
            except OSError as exc:
                raise StoreError(f"cannot read {where}: {exc}",
                                 path=self.packs_dir / row.pack) from exc
        if (header.key != row.key or header.type != row.type or header.plain_len != row.plain_len
                or header.flags != row.flags):
            raise CorruptObjectError(f"{where}: entry header does not match the index",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        if header.delta:
            return self._read_delta(row, stored, what=what)
        try:
            if header.compressed:
                return decompress(stored, header.plain_len, where=where)
        except CorruptObjectError as exc:
            raise CorruptObjectError(exc.message, path=self.packs_dir / row.pack,
                                     offset=row.offset) from exc
        if len(stored) != header.plain_len:
            raise CorruptObjectError(f"{where}: stored length differs from plain length",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        return stored

    def _read_entry_unchecked(self, row: IndexRow) -> tuple[EntryHeader, bytes]:
        """An entry's header (its own CRC checked) and its stored bytes (length checked,
        not their CRC), read with two preads rather than one read and a copy."""
        where = f"{row.pack} at offset {row.offset}"
        header = EntryHeader.decode(self._reader.read(row.pack, row.offset, ENTRY_HEADER_SIZE),
                                    where=where)
        stored = self._reader.read(row.pack, row.offset + ENTRY_HEADER_SIZE, row.stored_len)
        if header.stored_len != row.stored_len or len(stored) != row.stored_len:
            raise CorruptObjectError(f"{where}: stored length mismatch",
                                     expected=row.stored_len, actual=len(stored))
        return header, stored

    # -- deltas (docs/formats/pack.md, "Delta entries") ---------------------------------

    def read_base(self, key: bytes, *, what: str) -> bytes:
        """The verified plain bytes of chunk ``key`` stored in full, as a delta needs its
        base; :class:`CorruptObjectError` naming ``what`` if it is missing, a delta itself
        or damaged."""
        row = self.index.get(ENTRY_CHUNK, key)
        if row is None:
            raise CorruptObjectError(f"{what} is missing from the store", path=self.root)
        if row.flags & FLAG_DELTA:
            raise CorruptObjectError(f"{what} is itself a delta (pack {row.pack} at offset "
                                     f"{row.offset}); a base must be stored in full",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        data = self._read_plain(row, what=what)
        if blake3(data).digest() != key:
            raise CorruptObjectError(f"{what} in pack {row.pack} fails its hash check",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        return data

    def read_chunk_plain(self, row: IndexRow) -> bytes:
        """The verified plain bytes of the chunk of ``row`` (a delta is decoded): what a
        transfer sends to a peer that does not take deltas."""
        what = f"chunk {row.key.hex()}"
        data = self._read_plain(row, what=what)
        if blake3(data).digest() != row.key:
            raise CorruptObjectError(f"{what} in pack {row.pack} fails its hash check",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        return data

    def _read_delta(self, row: IndexRow, stored: bytes, *, what: str) -> bytes:
        """Decode a delta entry against its verified base (the caller checks the hash)."""
        base_key, frame = split_delta(stored)
        where = f"{what} in pack {row.pack} at offset {row.offset}"
        if row.base is not None and row.base != base_key:
            raise CorruptObjectError(f"{where}: its delta base differs from the index's",
                                     path=self.packs_dir / row.pack, offset=row.offset,
                                     field="base", expected=row.base.hex(),
                                     actual=base_key.hex())
        base = self.read_base(base_key, what=f"delta base {base_key.hex()} of {what}")
        try:
            return decompress_delta(frame, base, row.plain_len, where=where)
        except CorruptObjectError as exc:
            raise CorruptObjectError(exc.message, path=self.packs_dir / row.pack,
                                     offset=row.offset) from exc

    def read_stored(self, row: IndexRow) -> tuple[EntryHeader, bytes]:
        """One entry exactly as stored (compressed or not), checked against its index row."""
        where = f"entry {row.key.hex()} in pack {row.pack} at offset {row.offset}"
        try:
            header, stored = self._reader.read_entry(row.pack, row.offset, row.stored_len)
        except FileNotFoundError:
            self._reader.forget(row.pack)
            raise CorruptObjectError(f"{where}: pack file is missing",
                                     path=self.packs_dir / row.pack) from None
        except OSError as exc:
            raise StoreError(f"cannot read {where}: {exc}", path=self.packs_dir / row.pack
                             ) from exc
        if header.key != row.key or header.type != row.type or header.plain_len != row.plain_len:
            raise CorruptObjectError(f"{where}: entry header does not match the index",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        return header, stored

    def read_manifest(self, file_id: str) -> Manifest:
        """The verified manifest of a stored file."""
        row = self._manifest_row(file_id)
        data = self._read_plain(row, what=f"manifest of file {file_id}")
        manifest = Manifest.decode(data, where=f"manifest of file {file_id} in {row.pack}")
        if manifest.size != row.size:
            raise CorruptObjectError(f"manifest of file {file_id} disagrees with the index",
                                     path=self.packs_dir / row.pack, offset=row.offset,
                                     field="size", expected=row.size, actual=manifest.size)
        return manifest

    def _read_chunk(self, key: bytes, length: int, file_id: str,
                    row: IndexRow | None) -> bytes:
        """The verified plain bytes of chunk ``key`` of ``file_id``, found at ``row``."""
        if row is None:
            raise ObjectMissingError(f"chunk {key.hex()} of file {file_id} is missing",
                                     path=self.root)
        what = f"chunk {key.hex()} of file {file_id}"
        data = self._read_plain(row, what=what, check_stored=False)  # BLAKE3 checks it below
        if len(data) != length:
            raise CorruptObjectError(f"{what} in pack {row.pack} has the wrong length",
                                     path=self.packs_dir / row.pack, offset=row.offset,
                                     expected=length, actual=len(data))
        if blake3(data).digest() != key:
            raise CorruptObjectError(f"{what} in pack {row.pack} fails its hash check",
                                     path=self.packs_dir / row.pack, offset=row.offset)
        return data

    def iter_file(self, file_id: str, *, read_ahead: bool = True) -> Iterator[bytes]:
        """Yield the file's chunks in order, each verified before it is yielded.

        The chunks' index rows are looked up together (one query per 500 chunks, not
        one per chunk). ``read_ahead`` reads, decompresses and verifies the next few
        chunks on two threads while the caller uses this one; without it every chunk is
        read in the calling thread (what a caller that writes several files at once
        wants: its files already keep the cores busy).
        :class:`ObjectMissingError` (raised at once) if the file is absent;
        :class:`CorruptObjectError` naming pack, offset and file id on a damaged chunk.
        """
        manifest = self.read_manifest(file_id)
        found = self.index.get_many(ENTRY_CHUNK, (key for key, _ in manifest.chunks))
        todo = [(key, length, file_id, found.get(key)) for key, length in manifest.chunks]
        if len(todo) <= 1 or not read_ahead:
            return (self._read_chunk(*chunk) for chunk in todo)

        def chunks() -> Iterator[bytes]:
            # Read, decompress and verify the next few chunks on two threads while the
            # caller hashes and writes this one (zstd, BLAKE3 and file I/O release the
            # GIL); at most READ_AHEAD chunks are held, so memory stays bounded.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cvault-read") as pool:
                def submit(i: int) -> Future[bytes]:
                    return pool.submit(self._read_chunk, *todo[i])

                pending: deque[Future[bytes]] = deque(
                    submit(i) for i in range(min(READ_AHEAD, len(todo))))
                nxt = len(pending)
                try:
                    while pending:
                        data = pending.popleft().result()
                        if nxt < len(todo):
                            pending.append(submit(nxt))
                            nxt += 1
                        yield data
                finally:
                    for future in pending:
                        future.cancel()

        return chunks()

    def write_file_to(self, file_id: str, out: Sink, *, read_ahead: bool = True) -> int:
        """Stream a stored file into ``out``, then check its SHA-256; return bytes written.

        ``read_ahead`` as in :meth:`iter_file`.
        """
        whole = hashlib.sha256()
        total = 0
        for data in self.iter_file(file_id, read_ahead=read_ahead):
            whole.update(data)
            out.write(data)
            total += len(data)
        if whole.hexdigest() != file_id:
            raise CorruptObjectError(f"file {file_id} reassembled with a different SHA-256",
                                     path=self.root, expected=file_id, actual=whole.hexdigest())
        return total

    # -- maintenance ---------------------------------------------------------------------

    def _published_packs(self) -> list[str]:
        return sorted(n for n in os.listdir(self.packs_dir) if is_pack_name(n))

    def _verify_entry(self, pack: str, offset: int, header: EntryHeader, stored: bytes,
                      base_of: Callable[[bytes], bytes] | None = None,
                      ) -> tuple[str, str] | Manifest | None:
        """Check a scanned entry. Return a (kind, detail) problem, the manifest, or None.

        ``base_of(key)`` gives a delta's verified base (:class:`CorruptObjectError` if it
        cannot); without it a delta is reported as unverifiable.
        """
        import zlib

        kind = "corrupt-chunk" if header.type == ENTRY_CHUNK else "corrupt-manifest"
        if zlib.crc32(stored) != header.body_crc:
            return kind, "stored bytes checksum mismatch"
        try:
            if header.delta:
                base_key, frame = split_delta(stored)
                if base_of is None:
                    return kind, f"a delta on base {base_key.hex()} cannot be checked here"
                plain = decompress_delta(frame, base_of(base_key), header.plain_len)
            elif header.compressed:
                plain = decompress(stored, header.plain_len)
            else:
                plain = stored
        except CorruptObjectError as exc:
            return kind, exc.message
        if len(plain) != header.plain_len:
            return kind, "length mismatch"
        if header.type == ENTRY_CHUNK:
            if blake3(plain).digest() != header.key:
                return kind, "hash mismatch"
            return None
        try:
            return Manifest.decode(plain)
        except CorruptObjectError as exc:
            return kind, exc.message

    def _full_chunk_at(self, pack: str, offset: int, stored_len: int, key: bytes, *,
                       what: str) -> bytes:
        """The verified plain bytes of the full chunk entry ``key`` at ``offset`` of
        ``pack``, read without the index (fsck, index rebuild)."""
        try:
            header, stored = self._reader.read_entry(pack, offset, stored_len)
        except OSError as exc:
            raise CorruptObjectError(f"{what} in pack {pack} cannot be read: {exc}") from exc
        if header.key != key or header.type != ENTRY_CHUNK or header.delta:
            raise CorruptObjectError(f"{what} is not a chunk stored in full (pack {pack} at "
                                     f"offset {offset})")
        plain = decompress(stored, header.plain_len, where=what) if header.compressed else stored
        if len(plain) != header.plain_len or blake3(plain).digest() != key:
            raise CorruptObjectError(f"{what} in pack {pack} fails its hash check")
        return plain

    def _base_in(self, lookup: Lookup, key: bytes) -> bytes:
        """A delta base's verified plain bytes, found through ``lookup`` (index rebuild)."""
        what = f"delta base {key.hex()}"
        row = lookup(ENTRY_CHUNK, key)
        if row is None or row.flags & FLAG_DELTA:
            raise CorruptObjectError(f"{what} is not stored in full in any pack")
        return self._full_chunk_at(row.pack, row.offset, row.stored_len, key, what=what)

    def rebuild_index(self, *, progress: Progress | None = None) -> int:
        """Rebuild the index from the packs (verified entries only); return rows indexed.

        Delta entries are checked last, in the same transaction, once every full chunk
        (any of which may be a base) is indexed.
        """
        progress = progress or Progress()
        count = 0
        deltas: list[tuple[str, int, int]] = []  # (pack, offset, stored_len)

        def rows() -> Iterator[IndexRow]:
            nonlocal count
            for pack in self._published_packs():
                progress.item(pack)
                try:
                    for offset, header, stored in scan_pack(self.packs_dir / pack):
                        if header.delta:
                            deltas.append((pack, offset, header.stored_len))
                            continue
                        result = self._verify_entry(pack, offset, header, stored)
                        if isinstance(result, tuple):
                            continue
                        size = result.size if isinstance(result, Manifest) else header.plain_len
                        count += 1
                        yield IndexRow(header.type, header.key, pack, offset, header.stored_len,
                                       header.plain_len, header.flags, size)
                except PackScanError:
                    continue  # keep the entries before the damage

        def delta_rows(lookup: Lookup) -> Iterator[IndexRow]:
            nonlocal count
            for pack, offset, stored_len in deltas:
                try:
                    header, stored = self._reader.read_entry(pack, offset, stored_len)
                except (CorruptObjectError, OSError):
                    continue
                result = self._verify_entry(pack, offset, header, stored,
                                            lambda key: self._base_in(lookup, key))
                if result is None:
                    count += 1
                    yield IndexRow(header.type, header.key, pack, offset, header.stored_len,
                                   header.plain_len, header.flags, header.plain_len,
                                   split_delta(stored)[0])

        with self.lock():
            progress.start("rebuild index", None, "packs")
            self.index.replace_all(rows(), then=delta_rows)
            progress.finish()
        return count

    def fsck(self, *, progress: Progress | None = None) -> FsckReport:
        """Verify every entry of every pack, every manifest and every index row."""
        progress = progress or Progress()
        problems: list[FsckProblem] = []
        notes: list[FsckProblem] = []
        damaged: dict[bytes, FsckProblem] = {}
        checked_chunks = checked_files = 0
        packs = self._published_packs()
        indexed_packs = self.index.packs()
        total = sum((self.packs_dir / p).stat().st_size for p in packs)
        progress.start("fsck", total, "B")
        for pack in packs:
            progress.item(pack)
            rows = {r.offset: r for r in self.index.rows(pack=pack)}
            seen: set[int] = set()
            # full chunks of this pack already verified: the base of a delta in an
            # unindexed pack (a receiver writes a base and its delta to the same pack)
            local: dict[bytes, tuple[int, int]] = {}

            def base_of(key: bytes, pack: str = pack,
                        local: dict[bytes, tuple[int, int]] = local) -> bytes:
                what = f"its delta base {key.hex()}"
                if key in local and not self.index.contains(ENTRY_CHUNK, key):
                    return self._full_chunk_at(pack, *local[key], key, what=what)
                return self.read_base(key, what=what)

            try:
                for offset, header, stored in scan_pack(self.packs_dir / pack):
                    progress.advance(ENTRY_HEADER_SIZE + len(stored))
                    result = self._verify_entry(pack, offset, header, stored, base_of)
                    if header.type == ENTRY_CHUNK:
                        checked_chunks += 1
                        if result is None and not header.delta:
                            local[header.key] = (offset, header.stored_len)
                    else:
                        checked_files += 1
                    row = rows.get(offset)
                    if row is not None and row.key == header.key and row.type == header.type:
                        seen.add(offset)
                        base = split_delta(stored)[0] if header.delta else None
                        if row.base != base or row.flags != header.flags:
                            problems.append(FsckProblem(
                                "bad-index-row", pack, offset, row.key.hex(), [],
                                f"index row disagrees with the entry (flags {row.flags:#x} vs "
                                f"{header.flags:#x}, delta base "
                                f"{row.base.hex() if row.base else None} vs "
                                f"{base.hex() if base else None})"))
                            damaged.setdefault(row.key, problems[-1])
                    if isinstance(result, tuple):
                        kind, detail = result
                        problem = FsckProblem(kind, pack, offset, header.key.hex(), [], detail)
                        problems.append(problem)
                        if row is not None and offset in seen:
                            damaged[header.key] = problem
                            if header.type == ENTRY_MANIFEST:
                                problem.affected_files.append(header.key.hex())
            except PackScanError as exc:
                problems.append(FsckProblem(exc.kind, pack, exc.offset, None, [], str(exc)))
            except OSError as exc:  # pragma: no cover - unreadable pack file
                problems.append(FsckProblem("corrupt-pack", pack, None, None, [], str(exc)))
            for offset, row in rows.items():
                if offset not in seen:
                    problem = FsckProblem("bad-index-row", pack, offset, row.key.hex(), [],
                                          "index points at no matching entry")
                    problems.append(problem)
                    damaged.setdefault(row.key, problem)
            if pack not in indexed_packs:
                # A durable pack whose index rows were never committed: what a write killed
                # between the rename and the index commit leaves. Not damage (nothing refers
                # to it); its entries were verified above and gc reclaims it after the grace.
                notes.append(FsckProblem("unindexed-pack", pack, None, None, [],
                                         "left by an interrupted write; nothing refers to "
                                         "it; cvault gc reclaims it after the grace period"))
        for pack in sorted(set(indexed_packs) - set(packs)):
            problems.append(FsckProblem("missing-pack", pack, None, None, [],
                                        f"{indexed_packs[pack]} index rows point into it"))
            for row in self.index.rows(pack=pack):
                damaged.setdefault(row.key, problems[-1])
        # Every manifest's chunks must be indexed; name the files each damage touches.
        for mrow in self.index.rows(etype=ENTRY_MANIFEST):
            file_id = mrow.key.hex()
            if mrow.key in damaged:
                problem = damaged[mrow.key]
                if file_id not in problem.affected_files:
                    problem.affected_files.append(file_id)
                continue
            try:
                manifest = self.read_manifest(file_id)
            except (CorruptObjectError, StoreError) as exc:
                problems.append(FsckProblem("corrupt-manifest", mrow.pack, mrow.offset, file_id,
                                            [file_id], str(exc)))
                continue
            missing_reported: set[bytes] = set()
            for key, _length in manifest.chunks:
                chunk_problem = damaged.get(key)
                if chunk_problem is not None:
                    if file_id not in chunk_problem.affected_files:
                        chunk_problem.affected_files.append(file_id)
                elif key not in missing_reported and not self.index.contains(ENTRY_CHUNK, key):
                    missing_reported.add(key)
                    problems.append(FsckProblem("missing-chunk", None, None, key.hex(),
                                                [file_id], "referenced chunk is not indexed"))
        progress.finish()
        return FsckReport(ok=not problems, checked_chunks=checked_chunks,
                          checked_files=checked_files, problems=problems, notes=notes)

    def gc(self, live_file_ids: Iterable[str], *, grace_seconds: float = DEFAULT_GRACE_SECONDS,
           now: float | None = None, dry_run: bool = False,
           progress: Progress | None = None) -> GcReport:
        """Remove what no live file reaches, from packs older than ``grace_seconds``.

        Manifests in packs younger than the grace period count as live too (their files
        may not be referenced by a commit yet), and so does the base of every live delta.
        Packs with mixed content are rewritten: the new pack is durable and indexed
        before the old one is deleted.
        """
        progress = progress or Progress()
        now = time.time() if now is None else now
        cutoff = now - grace_seconds
        report = GcReport(dry_run=dry_run)
        with self.lock():
            progress.start("gc", None, "packs")
            old: list[str] = []
            for name in os.listdir(self.packs_dir):
                path = self.packs_dir / name
                mtime = path.stat().st_mtime
                if is_temp_pack_name(name) and mtime < cutoff:
                    report.removed_temp_packs += 1
                    report.actions.append(f"remove abandoned temp pack {name}")
                    if not dry_run:
                        path.unlink(missing_ok=True)
                elif is_pack_name(name):
                    if mtime < cutoff:
                        old.append(name)
                    else:
                        report.kept_recent += 1
            old_set = set(old)
            roots: set[bytes] = {_parse_file_id(f) for f in live_file_ids}
            for row in self.index.rows(etype=ENTRY_MANIFEST):
                if row.pack not in old_set:
                    roots.add(row.key)
            live: set[bytes] = set()
            for root_id in sorted(roots):
                if not self.index.contains(ENTRY_MANIFEST, root_id):
                    continue
                live.add(root_id)
                live.update(key for key, _ in self.read_manifest(root_id.hex()).chunks)
            # bases are never deltas themselves, so one pass finds every base needed
            live.update([base for key, base in self.index.delta_bases() if key in live])
            for pack in sorted(old):
                progress.item(pack)
                self._gc_pack(pack, live, report, dry_run)
            progress.finish()
        return report

    def drop_files(self, file_ids: Iterable[str], *, dry_run: bool = False,
                   progress: Progress | None = None) -> GcReport:
        """Remove these files' manifests and every chunk no other stored file uses, at
        once (no grace period: callers check that copies exist elsewhere first). Packs
        are rewritten crash-safely as in :meth:`gc`: the new pack is durable and indexed
        before the old one is deleted."""
        progress = progress or Progress()
        report = GcReport(dry_run=dry_run)
        dropped = {_parse_file_id(f) for f in file_ids}
        journal = self.root / "drop-pending"
        with self.lock():
            progress.start("drop", None, "packs")
            dead: set[bytes] = set(self._read_drop_journal(journal))
            for key in sorted(dropped):
                if self.index.contains(ENTRY_MANIFEST, key):
                    dead.add(key)
                    dead.update(k for k, _ in self.read_manifest(key.hex()).chunks)
            if dead:
                # the bases of dropped deltas may go with them (bases are never deltas) ...
                dead.update([base for key, base in self.index.delta_bases() if key in dead])
                for row in self.index.rows(etype=ENTRY_MANIFEST):
                    if row.key not in dropped:
                        dead.difference_update(k for k, _ in self.read_manifest(
                            row.key.hex()).chunks)
                # ... but a base stays while any delta on it stays
                dead.difference_update([base for key, base in self.index.delta_bases()
                                        if key not in dead])
            packs = sorted({row.pack for key in dead for row in [self._any_row(key)]
                            if row is not None})
            if not dry_run and dead:
                # What is to go is written down first, then the dropped files vanish in one
                # transaction: a crash between two pack rewrites never leaves a manifest
                # whose chunks are gone, and the next drop finishes from the journal.
                import msgpack

                write_atomic(journal, msgpack.packb(sorted(dead), use_bin_type=True))
                gone = sorted(k for k in dead if self.index.contains(ENTRY_MANIFEST, k))
                self.index.remove(ENTRY_MANIFEST, gone)
                report.removed_manifests += len(gone)
            for pack in packs:
                progress.item(pack)
                keep = {r.key for r in self.index.rows(pack=pack) if r.key not in dead}
                self._gc_pack(pack, keep, report, dry_run)
            if not dry_run:
                journal.unlink(missing_ok=True)
            progress.finish()
        return report

    @staticmethod
    def _read_drop_journal(journal: Path) -> list[bytes]:
        """Keys an interrupted drop had still to remove (empty when none, or unreadable:
        then what is left is only unreferenced data, which gc reclaims)."""
        import msgpack

        try:
            keys = msgpack.unpackb(journal.read_bytes(), raw=False)
        except (OSError, ValueError, msgpack.UnpackException):
            return []
        return [bytes(k) for k in keys if isinstance(k, bytes) and len(k) == 32]

    def _any_row(self, key: bytes) -> IndexRow | None:
        return self.index.get(ENTRY_MANIFEST, key) or self.index.get(ENTRY_CHUNK, key)

    def _gc_pack(self, pack: str, live: set[bytes], report: GcReport, dry_run: bool) -> None:
        path = self.packs_dir / pack
        rows = list(self.index.rows(pack=pack))
        keep = [r for r in rows if r.key in live]
        dead = [r for r in rows if r.key not in live]
        pack_size = path.stat().st_size
        used = len(PACK_HEADER) + sum(ENTRY_HEADER_SIZE + r.stored_len for r in rows)
        if keep and not dead and used == pack_size:
            return
        report.removed_chunks += sum(1 for r in dead if r.type == ENTRY_CHUNK)
        report.removed_manifests += sum(1 for r in dead if r.type == ENTRY_MANIFEST)
        if not keep:
            report.removed_packs += 1
            report.freed_bytes += pack_size
            report.actions.append(f"remove {pack} ({len(dead)} unreachable entries)")
            if not dry_run:
                self.index.replace_pack(pack, [])
                self._reader.forget(pack)
                path.unlink()
                fsync_dir(self.packs_dir)
            return
        report.rewritten_packs += 1
        kept_bytes = len(PACK_HEADER) + sum(ENTRY_HEADER_SIZE + r.stored_len for r in keep)
        report.freed_bytes += pack_size - kept_bytes
        report.actions.append(f"rewrite {pack} keeping {len(keep)} of {len(rows)} entries")
        if dry_run:
            return
        writer = PackWriter(self.packs_dir, self.opener)
        moved: list[IndexRow] = []
        try:
            for row in keep:
                # Verify before copying so that damage is never propagated silently.
                if row.type == ENTRY_CHUNK:
                    self._read_chunk(row.key, row.plain_len, "(gc)", row)
                else:
                    self.read_manifest(row.key.hex())
                _header, stored = self._reader.read_entry(row.pack, row.offset, row.stored_len)
                offset = writer.append(row.type, row.key, stored, row.plain_len, row.flags)
                moved.append(dataclasses.replace(row, pack=writer.name, offset=offset))
            writer.publish()
        except BaseException:
            writer.discard()
            raise
        self.index.replace_pack(pack, moved)
        self._reader.forget(pack)
        path.unlink()
        fsync_dir(self.packs_dir)
