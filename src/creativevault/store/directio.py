"""Writing new files around the page cache (Linux ``O_DIRECT``), with a clean fallback.

On the VM issue #3 was measured on, copying 1 GB into fresh page-cache pages costs
1.5-1.9 s of CPU, a direct write of aligned 1 MiB blocks about 0.13 s. Files that are
fsynced anyway (packs, restored files) gain nothing from the cache, so they are written
through one page-aligned buffer: every full buffer goes to the disk directly, and the
unaligned tail through the cache once direct writes are switched off again. Where the
platform has no ``O_DIRECT``, or the file system refuses it (FUSE, some network file
systems), or a device wants another alignment (``EINVAL``), the same bytes are written
with ordinary ``write`` calls. The caller's ``fsync`` is needed either way: a direct
write does not make the file's size or allocation durable.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os

__all__ = ["ALIGN", "DIRECT_BLOCK", "HAS_DIRECT", "DirectSink", "set_direct"]

#: bytes handed to the kernel at once (a multiple of :data:`ALIGN`)
DIRECT_BLOCK = 1 << 20
#: offset, length and memory alignment of a direct write (the largest logical block size)
ALIGN = 4096
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
#: whether this platform has direct writes at all
HAS_DIRECT = bool(_O_DIRECT)


def set_direct(fd: int, on: bool) -> bool:
    """Switch ``O_DIRECT`` on or off for ``fd``; return whether it is now on. Turning it
    on fails quietly where unsupported; turning it off raises if the system refuses."""
    if not _O_DIRECT:
        return False
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | _O_DIRECT) if on else (flags & ~_O_DIRECT))
    except OSError:
        if not on:
            raise
        return False  # this file system takes no direct writes
    return on


class DirectSink:
    """Writes a new file from its start (``fd`` at offset 0) through one page-aligned
    buffer of ``block`` bytes: directly where allowed, else with ordinary writes.

    :meth:`write` copies into the buffer and writes each full block; :meth:`finish`
    writes what is left (the unaligned tail through the page cache) and frees the buffer;
    :meth:`release` frees it without writing (after a failure). The file descriptor stays
    the caller's: it fsyncs and closes it.
    """

    def __init__(self, fd: int, *, block: int = DIRECT_BLOCK, direct: bool = True,
                 buffer: mmap.mmap | None = None) -> None:
        """``buffer``: a page-aligned buffer (an anonymous ``mmap``) to use instead of a new
        one of ``block`` bytes; it stays the caller's, to reuse for the next file."""
        if buffer is not None:
            block = len(buffer)
        if block <= 0 or block % ALIGN:
            raise ValueError(f"the block size must be a positive multiple of {ALIGN}")
        self._fd = fd
        self._owned = buffer is None
        self._buffer: mmap.mmap | None = mmap.mmap(-1, block) if buffer is None else buffer
        self._view: memoryview | None = memoryview(self._buffer)
        self._used = 0
        self._direct = direct and set_direct(fd, True)
        #: bytes accepted so far
        self.size = 0

    @property
    def direct(self) -> bool:
        """True while full blocks go around the page cache."""
        return self._direct

    def write(self, data: bytes | memoryview) -> int:
        """Accept ``data`` (copied: the caller may reuse it); return its length."""
        view = self._view
        if view is None:
            raise ValueError("write to a finished DirectSink")
        src = memoryview(data)
        block = len(view)
        taken, total = 0, len(src)
        while taken < total:
            n = min(block - self._used, total - taken)
            view[self._used:self._used + n] = src[taken:taken + n]
            self._used += n
            taken += n
            if self._used == block:
                self._put(view)
                self._used = 0
        self.size += total
        return total

    def finish(self) -> None:
        """Write what the buffer holds (its aligned part directly, the rest through the
        cache), switch direct writes off and free the buffer."""
        view = self._view
        if view is None:
            return
        aligned = self._used - self._used % ALIGN
        if aligned:
            self._put(view[:aligned])
        if self._direct:
            self._direct = set_direct(self._fd, False)
        self._put(view[aligned:self._used])
        self._used = 0
        self.release()

    def release(self) -> None:
        """Free the buffer without writing it (safe to call again)."""
        view, self._view = self._view, None
        buffer, self._buffer = self._buffer, None
        if view is not None:
            view.release()
        if buffer is not None and self._owned:
            with contextlib.suppress(BufferError):  # a view kept by a traceback: the
                buffer.close()                     # buffer goes with it instead

    def _put(self, view: memoryview) -> None:
        written = 0
        while written < len(view):
            try:
                written += os.write(self._fd, view[written:])
            except OSError as exc:
                if not (self._direct and exc.errno == errno.EINVAL):
                    raise
                # the file system or device wants another alignment: the rest of this
                # file goes through the page cache
                self._direct = set_direct(self._fd, False)
