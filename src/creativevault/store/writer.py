"""Write sessions: a two-thread pipeline from input streams into new packs.

Thread 1 (the caller) reads, chunks, hashes (BLAKE3 per chunk, and SHA-256 of the stream,
which a large file hands to a hashing thread of its own) and drops chunks the store
already has. Thread 2 compresses and appends new entries to
the current pack. A bounded queue of a few chunks between them keeps memory flat;
hashlib, blake3 and zstandard release the GIL, so the two threads overlap on two cores.

Given the previous version of a file (``similar_to``), each new chunk is also tried as a
delta against the old chunk at the same place (:mod:`creativevault.store.alignment`),
on the same compression pool; the delta is kept when clearly smaller.

Visibility follows the write order of the store: a pack is fsynced and renamed before
any index row points into it. Chunk rows of a full pack are committed when it rolls
over; manifest rows (what makes a file visible) only when the session ends cleanly.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import stat as stat_mod
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    FileChangedError,
    FileVanishedError,
    ObjectMissingError,
    StoreError,
)
from creativevault.store.alignment import Alignment
from creativevault.store.chunker import iter_chunks
from creativevault.store.compression import (
    DELTA_MAX_RATIO,
    Compressor,
    compress_delta,
    is_precompressed,
)
from creativevault.store.durable import check_free_space, is_disk_full, to_disk_full
from creativevault.store.index import Index, IndexRow
from creativevault.store.lock import StoreLock
from creativevault.store.manifest import Manifest
from creativevault.store.pack import (
    ENTRY_CHUNK,
    ENTRY_HEADER_SIZE,
    ENTRY_MANIFEST,
    FLAG_DELTA,
    FLAG_ZSTD,
    PackWriter,
)
from creativevault.types import Progress, StoredFile

if TYPE_CHECKING:
    from pyfastcdc import BinaryStreamReader

    from creativevault.store.store import Store

__all__ = ["QUEUE_CHUNKS", "StoreWriter"]

#: chunks in flight between the two threads (memory ~ this many maximum-size chunks)
QUEUE_CHUNKS = 8


@dataclass
class _Entry:
    etype: int
    key: bytes
    data: bytes
    compress: bool
    name: str
    size: int  # file size for manifests, plain length for chunks
    #: encoding already running on the pool: (stored bytes, flags, delta base or None)
    pending: Future[tuple[bytes, int, bytes | None]] | None = None


@dataclass
class _Barrier:
    done: threading.Event
    added: int = 0


class _Finish:
    def __init__(self, commit: bool) -> None:
        self.commit = commit
        self.done = threading.Event()


class _PackWorker(threading.Thread):
    """Thread 2: compresses entries and appends them to packs; owns its index connection."""

    def __init__(self, store: Store) -> None:
        super().__init__(name="cvault-pack-writer", daemon=True)
        self.store = store
        self.queue: queue.Queue[_Entry | _Barrier | _Finish] = queue.Queue(QUEUE_CHUNKS)
        self.error: BaseException | None = None
        self._compressor = Compressor(store.compression_level)
        self._pack: PackWriter | None = None
        self._chunk_rows: list[IndexRow] = []
        self._manifest_rows: list[IndexRow] = []
        self._added = 0
        self._storing = "<none>"
        self._index: Index | None = None
        # Full packs are fsynced and indexed by a second thread while this one fills the
        # next pack: the fsync wait overlaps compression instead of stalling the pipeline.
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvault-pack-sync")
        self._syncing: list[Future[None]] = []

    def run(self) -> None:
        try:
            self._index = Index(self.store.index_path)
        except BaseException as exc:  # surfaced to the caller at the next barrier
            self.error = exc
        while True:
            item = self.queue.get()
            if isinstance(item, _Finish):
                if self.error is None:
                    self._guard(lambda commit=item.commit: self._finish(commit))  # type: ignore[misc]
                if item.commit is False or self.error is not None:
                    self._discard()
                if self._index is not None:
                    self._index.close()
                item.done.set()
                return
            if isinstance(item, _Barrier):
                item.added, self._added = self._added, 0
                item.done.set()
                continue
            if self.error is None:
                self._storing = item.name
                self._guard(lambda item=item: self._append(item))  # type: ignore[misc]

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except BaseException as exc:
            self.error = self._convert(exc)
            self._discard()

    def _convert(self, exc: BaseException) -> BaseException:
        if is_disk_full(exc):
            return to_disk_full(exc, store=self.store.root, name=self._storing)  # type: ignore[arg-type]
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            return DiskFullError(f"disk full while updating the index of the store at "
                                 f"{self.store.root} (storing {self._storing})", path=self._storing)
        if isinstance(exc, OSError):
            return StoreError(f"cannot write a pack in {self.store.packs_dir} while storing "
                              f"{self._storing}: {exc}", path=self._storing)
        return exc

    def _append(self, item: _Entry) -> None:
        if self._pack is None:
            self._pack = PackWriter(self.store.packs_dir, self.store.opener)
        flags = 0
        stored = item.data
        base = None
        if item.pending is not None:
            stored, flags, base = item.pending.result()
        elif item.compress:
            stored, compressed = self._compressor.compress(item.data)
            flags = FLAG_ZSTD if compressed else 0
        offset = self._pack.append(item.etype, item.key, stored, len(item.data), flags)
        row = IndexRow(item.etype, item.key, self._pack.name, offset, len(stored),
                       len(item.data), flags, item.size, base)
        (self._chunk_rows if item.etype == ENTRY_CHUNK else self._manifest_rows).append(row)
        self._added += ENTRY_HEADER_SIZE + len(stored)
        if self._pack.size >= self.store.pack_target_size:
            self._publish()

    def _publish(self) -> None:
        """Hand the full pack to the sync thread; at most one more may still be syncing."""
        pack, self._pack = self._pack, None
        if pack is None:
            return
        rows, self._chunk_rows = self._chunk_rows, []
        self._syncing.append(self._syncer.submit(self._publish_now, pack, rows))
        while len(self._syncing) > 1:
            self._syncing.pop(0).result()  # re-raises a failed fsync/index write here

    def _publish_now(self, pack: PackWriter, rows: list[IndexRow]) -> None:
        pack.publish()  # fsync, rename, directory fsync: the data is durable ...
        assert self._index is not None
        # ... and only then indexed. Chunks of a durable pack may be indexed at once:
        # without a manifest they are invisible, and indexing them early keeps a killed
        # session's packs referenced.
        self._index.add(rows)

    def _wait_for_syncs(self) -> None:
        syncing, self._syncing = self._syncing, []
        for future in syncing:
            future.result()

    def _finish(self, commit: bool) -> None:
        if not commit:
            return
        self._publish()
        self._wait_for_syncs()
        self._syncer.shutdown(wait=True)
        assert self._index is not None
        self._index.add(self._manifest_rows)  # files become visible last
        self._manifest_rows = []

    def _discard(self) -> None:
        for future in self._syncing:  # let packs already handed over finish (or fail)
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - the first error is already recorded
                pass
        self._syncing = []
        self._syncer.shutdown(wait=True)
        pack, self._pack = self._pack, None
        if pack is not None:
            pack.discard()
        self._chunk_rows = []
        self._manifest_rows = []


#: a file hashes its SHA-256 on the session's hashing thread once this many bytes are read
#: (smaller files hash in the caller: handing over costs more than it saves)
HASH_THREAD_FROM = 2 * 1024 * 1024
#: chunks waiting for the hashing thread (memory ~ this many chunks more)
HASH_QUEUE_CHUNKS = 4


class _HashThread:
    """Feeds SHA-256 objects on a thread of its own, in the order given (hashlib releases
    the GIL), so that a large file's whole-file hash overlaps the reading, chunking and
    BLAKE3 of the caller's thread: on the second core, which deduplicated chunks (most of
    an edited file) leave idle, instead of on the caller's critical path."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Any, bytes | None, threading.Event | None] | None] = (
            queue.Queue(maxsize=HASH_QUEUE_CHUNKS))
        #: what an update raised: every later wait() raises it (the session fails)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cvault-sha", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            hasher, data, done = item
            try:
                if data is not None and self.error is None:
                    hasher.update(data)
            except BaseException as exc:  # noqa: BLE001 - raised by wait(), never a hang
                self.error = exc
            if done is not None:
                done.set()

    def update(self, hasher: Any, data: bytes) -> None:
        """``hasher.update(data)``, after every update handed over before it."""
        self._queue.put((hasher, data, None))

    def wait(self, hasher: Any) -> None:
        """Return once every update handed over so far is done."""
        done = threading.Event()
        self._queue.put((hasher, None, done))
        done.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class StoreWriter:
    """A write session: ``with store.writer() as w: w.put_file(path)``.

    Holds the store lock for its life. Files put in a session become visible when the
    ``with`` block exits without an exception; an exception discards the pack being
    written and leaves the index untouched. After a failed put (e.g. disk full) the
    session is spoiled: later puts and a clean exit re-raise that first error.
    """

    def __init__(self, store: Store, *, progress: Progress | None = None) -> None:
        self._store = store
        self._progress = progress or Progress()
        self._lock = StoreLock(store.lock_path, timeout=store.lock_timeout)
        self._worker: _PackWorker | None = None
        self._session_chunks: set[bytes] = set()
        self._session_files: set[bytes] = set()
        self._failed: BaseException | None = None
        self._params = store.chunker
        self._compressor = Compressor(store.compression_level)
        self._pool: ThreadPoolExecutor | None = None
        self._hash_thread: _HashThread | None = None

    # -- session -------------------------------------------------------------------------

    def __enter__(self) -> StoreWriter:
        self._lock.acquire()
        # Compression is the slowest stage; a small pool runs it on every core while the
        # pack thread appends results in order (the bounded queue bounds the futures).
        self._pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)),
                                        thread_name_prefix="cvault-compress")
        self._worker = _PackWorker(self._store)
        self._worker.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        worker, self._worker = self._worker, None
        try:
            if worker is None:
                return
            commit = exc is None and self._failed is None
            finish = _Finish(commit)
            worker.queue.put(finish)
            finish.done.wait()
            worker.join()
            if exc is None:
                if self._failed is not None:
                    raise self._failed
                if worker.error is not None:
                    raise worker.error
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._hash_thread is not None:
                self._hash_thread.close()
                self._hash_thread = None
            self._lock.release()

    def _require_open(self) -> _PackWorker:
        if self._worker is None:
            raise StoreError("StoreWriter used outside its `with` block")
        if self._failed is not None:
            raise self._failed
        return self._worker

    def _send(self, worker: _PackWorker, item: _Entry | _Barrier) -> None:
        worker.queue.put(item)

    def _barrier(self, worker: _PackWorker) -> int:
        barrier = _Barrier(threading.Event())
        worker.queue.put(barrier)
        barrier.done.wait()
        if worker.error is not None:
            self._failed = worker.error
            raise worker.error
        return barrier.added

    # -- puts ----------------------------------------------------------------------------

    def put_file(self, path: Path, *, similar_to: str | None = None) -> StoredFile:
        """Store the file at ``path``, streaming it; return its id and sizes.

        ``similar_to`` is the file id of a stored file it probably resembles (its previous
        version): new chunks are then tried as deltas against that file's chunks. A hint
        the store does not hold is ignored.

        Raises :class:`FileVanishedError` if it cannot be opened, :class:`FileChangedError`
        if it changed while being read (nothing of it becomes visible) and
        :class:`DiskFullError` if the volume lacks its size plus a safety margin.
        """
        worker = self._require_open()
        path = Path(path)
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            raise FileVanishedError(f"cannot read the file: {exc.strerror or exc}",
                                    path=path) from exc
        try:
            before = os.fstat(fh.fileno())
            if not stat_mod.S_ISREG(before.st_mode):
                raise FileVanishedError("not a regular file", path=path)
            check_free_space(self._store.root, before.st_size, name=str(path))
            self._lock.refresh()
            result = self._put(worker, fh, str(path), stat_before=before, path=path,
                               similar_to=similar_to)
        finally:
            fh.close()
        return result

    def put_stream(self, stream: BinaryStreamReader, *, name: str = "<stream>",
                   similar_to: str | None = None) -> StoredFile:
        """Store everything readable from ``stream`` (``readinto`` or ``read``)."""
        worker = self._require_open()
        check_free_space(self._store.root, 0, name=name)
        self._lock.refresh()
        return self._put(worker, stream, name, similar_to=similar_to)

    def put_bytes(self, data: bytes, *, similar_to: str | None = None) -> StoredFile:
        """Store an in-memory byte string."""
        import io

        worker = self._require_open()
        check_free_space(self._store.root, len(data), name="<bytes>")
        return self._put(worker, io.BytesIO(data), "<bytes>", similar_to=similar_to)

    # -- deltas --------------------------------------------------------------------------

    def _alignment(self, similar_to: str | None) -> Alignment | None:
        """The previous version's chunks to align with, when the store holds it."""
        if similar_to is None or not self._store.has_file(similar_to):
            return None
        try:
            return Alignment(self._store.read_manifest(similar_to).chunks)
        except (CorruptObjectError, StoreError):
            return None  # a damaged hint costs only the deltas; fsck reports it

    def _full_base(self, key: bytes | None) -> bytes | None:
        """``key`` when it is stored in full, the base of ``key`` when it is a delta (bases
        are never deltas: chains never grow), None when it is not indexed."""
        if key is None:
            return None
        row = self._store.index.get(ENTRY_CHUNK, key)
        if row is None:
            return None
        return row.base if row.flags & FLAG_DELTA else key

    def _encode(self, data: bytes, compress: bool, base_key: bytes | None
                ) -> tuple[bytes, int, bytes | None]:
        """Stored bytes, flags and delta base of a new chunk (runs on the pool)."""
        stored, compressed = self._compressor.compress(data) if compress else (data, False)
        if base_key is not None:
            try:
                base = self._store.read_base(base_key, what=f"delta base {base_key.hex()}")
            except (CorruptObjectError, ObjectMissingError, StoreError):
                base = None  # store this chunk in full; fsck reports the damaged base
            if base is not None:
                delta = base_key + compress_delta(data, base)
                if len(delta) < DELTA_MAX_RATIO * len(stored):
                    return delta, FLAG_DELTA, base_key
        return stored, FLAG_ZSTD if compressed else 0, None

    def _put(self, worker: _PackWorker, stream: BinaryStreamReader, name: str, *,
             stat_before: os.stat_result | None = None, path: Path | None = None,
             similar_to: str | None = None) -> StoredFile:
        progress = self._progress
        progress.item(name)
        index = self._store.index
        alignment = self._alignment(similar_to)
        whole = hashlib.sha256()
        hashing: _HashThread | None = None  # the session's hashing thread, once it pays
        chunks: list[tuple[bytes, int]] = []
        size = 0
        compress: bool | None = None
        try:
            for view in iter_chunks(stream, self._params):
                data = bytes(view)  # the chunker reuses its buffer
                if compress is None:
                    compress = not is_precompressed(data[:16])
                if hashing is None and size >= HASH_THREAD_FROM:
                    if self._hash_thread is None:
                        self._hash_thread = _HashThread()
                    hashing = self._hash_thread
                if hashing is not None:
                    hashing.update(whole, data)
                else:
                    whole.update(data)
                key = blake3(data).digest()
                chunks.append((key, len(data)))
                offset, size = size, size + len(data)
                shared = alignment is not None and alignment.observe(key, offset, len(data))
                if key not in self._session_chunks and not index.contains(ENTRY_CHUNK, key):
                    self._session_chunks.add(key)
                    base = (self._full_base(alignment.base_for(offset))
                            if alignment is not None and not shared else None)
                    pending = (self._pool.submit(self._encode, data, compress, base)
                               if (compress or base is not None) and self._pool is not None
                               else None)
                    self._send(worker, _Entry(ENTRY_CHUNK, key, data, compress, name, len(data),
                                              pending))
                    if worker.error is not None:
                        break
                progress.advance(len(data))
        except OSError as exc:
            if path is not None:
                raise FileVanishedError(f"reading failed: {exc.strerror or exc}",
                                        path=path) from exc
            raise StoreError(f"reading {name} failed: {exc}", path=name) from exc
        if worker.error is None and stat_before is not None and path is not None:
            try:
                self._check_unchanged(path, stat_before, size)
            except FileChangedError:
                self._barrier(worker)  # its chunks stay in the pack, unreferenced
                raise
        if hashing is not None:
            hashing.wait(whole)
        file_id = whole.digest()
        if (worker.error is None and file_id not in self._session_files
                and not index.contains(ENTRY_MANIFEST, file_id)):
            manifest = Manifest(size=size, chunks=tuple(chunks)).encode()
            self._send(worker, _Entry(ENTRY_MANIFEST, file_id, manifest, True, name, size))
            self._session_files.add(file_id)
        added = self._barrier(worker)
        return StoredFile(file_id=file_id.hex(), size=size, added_bytes=added,
                          chunks=len(chunks))

    @staticmethod
    def _check_unchanged(path: Path, before: os.stat_result, size_read: int) -> None:
        try:
            after = os.stat(path)
        except OSError as exc:
            raise FileVanishedError(f"the file disappeared while being read: {exc.strerror}",
                                    path=path) from exc
        old = (before.st_size, before.st_mtime_ns, before.st_ino, before.st_ctime_ns)
        new = (after.st_size, after.st_mtime_ns, after.st_ino, after.st_ctime_ns)
        if old != new or size_read != before.st_size:
            raise FileChangedError(
                "the file changed while it was being stored; nothing of it was kept, retry",
                path=path, expected=f"size {before.st_size}", actual=f"size {after.st_size}, "
                f"read {size_read}")
