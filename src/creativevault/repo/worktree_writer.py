"""Writing committed files into the working tree, several at once.

Restore, checkout, merge and rescue restore plan which files to write, then hand them to
a :class:`WorktreeWriter`. Each file is written to a temp file in its own folder, its
bytes verified (BLAKE3 per chunk and SHA-256 of the whole file, by the store), fsynced,
given its mode and committed modification time, and only then renamed over the old
file: a working file holds its old bytes or its new bytes, never a part.

A few files are written at once, on a small thread pool: reading the store, zstd,
BLAKE3, SHA-256 and file I/O release the GIL, and while one file waits for its fsync the
others keep the cores busy. The largest files go first, so the last ones to finish are
small. Memory stays bounded: each file in flight holds a few chunks and one write
buffer, never the file. The first failure stops the writing: no further file is started,
the files in flight stop at their next chunk and remove their temp files, and the error
names the file.

Where the system allows it (Linux ``O_DIRECT``), large files are written around the page
cache, through one aligned buffer per worker: copying a restore's bytes into fresh
page-cache pages cost more CPU than reading, decompressing and verifying them together
(docs/benchmarks.md). A file system that refuses direct writes gets ordinary ones; the
fsync before the rename is the same either way.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from creativevault.errors import CorruptObjectError, DiskFullError, WorktreeError
from creativevault.repo.worktree_temp import TEMP_PREFIX, temp_prefix
from creativevault.store.directio import DIRECT_BLOCK, HAS_DIRECT, DirectSink
from creativevault.store.durable import is_disk_full

if TYPE_CHECKING:
    import mmap
    import queue
    from concurrent.futures import Future, ThreadPoolExecutor

    from creativevault.store import Store
    from creativevault.types import Sink

__all__ = ["DEFAULT_WORKERS", "DIRECT_BUFFER", "TEMP_PREFIX", "FileWrite", "WorktreeWriter",
           "write_verified"]

#: files written at once: on 2 cores, 4 keep both busy while others wait on the disk (reads
#: of packs not in the cache, direct writes, fsync); 3 restored 940 MB ~10 % slower
DEFAULT_WORKERS = 4
#: bytes a direct write hands the kernel at once; smaller files are written through the
#: page cache
DIRECT_BUFFER = DIRECT_BLOCK
#: the write buffer of a file written through the page cache
_CACHED_BUFFER = 64 * 1024


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it: set, then restore
    os.umask(mask)
    return mask


#: the process umask, read once (reading it means briefly setting it)
_UMASK = _current_umask()


@dataclass(frozen=True)
class FileWrite:
    """One working file to write: stored content (``file_id``) or a git blob's bytes."""

    #: repository path, as errors and callers name the file
    path: str
    #: where the file goes on disk
    disk: Path
    #: size in bytes (the largest files are written first)
    size: int
    executable: bool = False
    #: stored content, streamed from the store and verified
    file_id: str | None = None
    #: else the git blob whose bytes are written as they are (small files, pointer text)
    blob_id: str | None = None
    #: modification time to give the file (a pointer's committed mtime), if any
    mtime_ns: int | None = None


def write_verified(store: Store, relpath: str, file_id: str, out: Sink, *,
                   read_ahead: bool = True) -> int:
    """Stream the verified content ``file_id`` to ``out``; a damaged chunk names the
    user's file ``relpath``. Returns the bytes written."""
    try:
        return store.write_file_to(file_id, out, read_ahead=read_ahead)
    except CorruptObjectError as exc:
        raise CorruptObjectError(f"stopped at damaged data in the store ({exc}); "
                                 "'cvault fsck' lists all damage", path=relpath) from exc


class _Stopped(Exception):
    """Another file of the same write failed: this one stops (internal)."""


class _StoppableSink:
    """Hands chunks to a :class:`DirectSink` until the shared stop flag is set."""

    def __init__(self, out: DirectSink, stop: threading.Event) -> None:
        self._out = out
        self._stop = stop

    def write(self, data: bytes) -> int:
        if self._stop.is_set():
            raise _Stopped
        return self._out.write(data)


class WorktreeWriter:
    """Writes planned files into the working tree (see the module docstring)."""

    def __init__(self, store: Store, read_blob: Callable[[str], bytes], *,
                 workers: int = DEFAULT_WORKERS, direct: bool = True) -> None:
        """``read_blob(blob_id)`` returns a git blob's bytes; it is only called from the
        thread that calls :meth:`write`. ``direct=False`` writes every file through the
        page cache."""
        self.store = store
        self.read_blob = read_blob
        self.workers = max(1, workers)
        self.direct = direct and HAS_DIRECT

    def write(self, files: Sequence[FileWrite],
              done: Callable[[FileWrite, os.stat_result], None]) -> None:
        """Write ``files``; call ``done(file, stat)`` in the calling thread as each one is
        in place. On the first failure no further file is started, the others in flight
        stop, every temp file is removed, and that failure is raised (a
        :class:`~creativevault.errors.VaultError` naming the file)."""
        if not files:
            return
        import mmap
        import queue
        from concurrent.futures import ThreadPoolExecutor  # imported by the verbs that write

        order = sorted(files, key=lambda f: f.size, reverse=True)
        workers = min(self.workers, len(order))
        # one aligned buffer per worker, reused from file to file (fresh pages cost too)
        buffers: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        if self.direct and any(self._direct_for(f) for f in order):
            for _ in range(workers):
                buffers.put(mmap.mmap(-1, DIRECT_BUFFER))
        try:
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="cvault-write") as pool:
                self._run(pool, order, workers, buffers, done)
        finally:
            while not buffers.empty():
                with contextlib.suppress(BufferError):  # a view kept by a traceback: the
                    buffers.get().close()              # buffer goes with it instead

    def _direct_for(self, f: FileWrite) -> bool:
        return self.direct and f.file_id is not None and f.size >= DIRECT_BUFFER

    def _run(self, pool: ThreadPoolExecutor, order: list[FileWrite], workers: int,
             buffers: queue.SimpleQueue[mmap.mmap],
             done: Callable[[FileWrite, os.stat_result], None]) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        total = sum(f.size for f in order)
        stop = threading.Event()
        todo = iter(order)
        running: dict[Future[os.stat_result], FileWrite] = {}
        failure: BaseException | None = None

        def start_next() -> None:
            f = next(todo, None)
            if f is None:
                return
            # blob bytes are read here, in the calling thread (dulwich's readers are not
            # shared across threads), and only for the files in flight
            data = self.read_blob(f.blob_id) if f.file_id is None and f.blob_id else b""
            # a file that is most of the work ends up being written alone: its chunks
            # are then read ahead on the spare cores
            read_ahead = f.size * workers >= total
            running[pool.submit(self._write_one, f, data, read_ahead, buffers, stop)] = f

        try:
            for _ in range(workers):
                start_next()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    f = running.pop(future)
                    try:
                        st = future.result()
                    except BaseException as exc:  # noqa: BLE001 - raised below
                        if failure is None:
                            failure = exc
                            stop.set()
                        continue
                    done(f, st)
                    if failure is None:
                        start_next()
        except BaseException:
            stop.set()  # an interrupt, or ``done`` failed: the files in flight stop
            raise
        if failure is not None:
            raise failure

    def _write_one(self, f: FileWrite, data: bytes, read_ahead: bool,
                   buffers: queue.SimpleQueue[mmap.mmap],
                   stop: threading.Event) -> os.stat_result:
        """Temp file, verified bytes, fsync, mode, mtime, rename; the file's new stat."""
        import tempfile  # with shutil and random: 4 % of every command's imports

        disk = f.disk
        if disk.is_dir():
            raise WorktreeError("a folder is in the way of a file being restored", path=disk)
        try:
            disk.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise WorktreeError("a file is in the way of a folder being restored",
                                path=exc.filename or disk.parent) from exc
        except OSError as exc:
            raise self._os_error(f, exc) from exc
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(), dir=disk.parent)
        except OSError as exc:
            raise self._os_error(f, exc) from exc
        tmp = Path(tmp_name)
        buffer = buffers.get() if self._direct_for(f) else None
        out: DirectSink | None = None
        try:
            try:
                out = (DirectSink(fd, buffer=buffer) if buffer is not None
                       else DirectSink(fd, block=_CACHED_BUFFER, direct=False))
                if f.file_id is not None:
                    write_verified(self.store, f.path, f.file_id,
                                   _StoppableSink(out, stop),
                                   read_ahead=read_ahead)
                else:
                    out.write(data)
                out.finish()
                os.fsync(fd)
            finally:
                os.close(fd)
                if out is not None:
                    out.release()
                if buffer is not None:
                    buffers.put(buffer)
            # mkstemp makes 0600 files; a restored file gets what git would give it
            with contextlib.suppress(OSError):
                tmp.chmod((0o777 if f.executable else 0o666) & ~_UMASK)
            if f.mtime_ns is not None:
                os.utime(tmp, ns=(f.mtime_ns, f.mtime_ns))
            os.replace(tmp, disk)
            return disk.stat()
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise self._os_error(f, exc) from exc
            raise

    @staticmethod
    def _os_error(f: FileWrite, exc: OSError) -> DiskFullError | WorktreeError:
        """One clear error naming the working file (not its temp file)."""
        if is_disk_full(exc):
            return DiskFullError(f"disk full while writing it ({exc.strerror or exc}); "
                                 "free some space and retry", path=f.path)
        return WorktreeError(f"cannot write it ({exc.strerror or exc})", path=f.path)
