"""git's long-running filter process (``filter.cvault.process``), protocol version 2.

git starts one process per command and sends every vault-managed file through it:
*clean* streams a working file into the store and answers with its pointer; *smudge*
turns a pointer back into the exact bytes. A smudge whose content is not in this vault
writes the pointer itself and warns: it never fails a checkout. Clean passes the
store the previous version of the same path (what the index, or failing that HEAD, holds
for it) so an edit's new chunks are stored as deltas, as ``cvault add`` does; the index
is read once per process, HEAD one path at a time, and a hint that cannot be read is
dropped, never a reason to fail. The ``delay``
capability is not offered: content is local, so delaying would only add round trips
(it pays once content is fetched from a remote).

Memory: cvault streams in both directions (a few chunks at a time), but git itself
buffers a whole smudged file in memory before writing it (see docs/git.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from creativevault.errors import GitError, NotAPointerError, PointerError, VaultError
from creativevault.repo.pktline import PacketReader, PacketStream, PacketWriter
from creativevault.repo.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer

__all__ = ["CAPABILITIES", "FilterProcess"]

CAPABILITIES = ("clean", "smudge")


class _Prefixed:
    """A stream that first returns ``head`` and then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: PacketStream) -> None:
        self._head = head
        self._rest = rest

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._rest.readinto(view)


class FilterProcess:
    """Serve git's filter requests for one vault until git closes the pipe."""

    def __init__(self, vault, stdin: BinaryIO, stdout: BinaryIO,
                 warn: Callable[[str], None]) -> None:
        self.vault = vault
        self.reader = PacketReader(stdin)
        self.writer = PacketWriter(stdout)
        self.warn = warn
        self._staged: dict[str, str] | None = None
        self._head_commit: str | None | bool = False  # False: not resolved yet
        #: (source, path) -> that blob's bytes and pointer, None when it is not a pointer
        self._recorded: dict[tuple[str, str], tuple[bytes, Pointer] | None] = {}
        #: paths whose content was missing, so a pointer file was written instead
        self.missing: list[str] = []

    # -- protocol ------------------------------------------------------------------------
    def run(self) -> None:
        """Handshake, then answer requests until EOF."""
        self._handshake()
        while True:
            try:
                headers = self.reader.read_dict()
            except EOFError:
                if self.missing:
                    self.warn(f"{len(self.missing)} file(s) were written as pointer files "
                              "because their content is not in this vault (the vault this "
                              "was cloned from has it); 'cvault fsck' lists them")
                return
            command = headers.get("command")
            pathname = headers.get("pathname", "")
            if command == "clean":
                self._serve(pathname, self._clean)
            elif command == "smudge":
                self._serve(pathname, self._smudge)
            else:
                PacketStream(self.reader).drain()
                self.writer.lines("status=error")

    def _handshake(self) -> None:
        try:
            hello = self.reader.read_list()
        except EOFError as exc:
            raise GitError("git closed the filter pipe before the handshake") from exc
        if not hello or hello[0] != "git-filter-client" or "version=2" not in hello[1:]:
            raise GitError(f"unexpected filter handshake from git: {hello!r}")
        self.writer.lines("git-filter-server", "version=2")
        offered = {c.removeprefix("capability=") for c in self.reader.read_list()}
        self.writer.lines(*[f"capability={c}" for c in CAPABILITIES if c in offered])

    def _serve(self, pathname: str,
               action: Callable[[str, PacketStream], Iterator[bytes]]) -> None:
        stream = PacketStream(self.reader)
        try:
            chunks = action(pathname, stream)
            first = next(chunks, b"")
        except VaultError as exc:
            stream.drain()
            self.warn(f"{pathname}: {exc.message}")
            self.writer.lines("status=error")
            return
        stream.drain()
        self.writer.lines("status=success")
        try:
            self.writer.write(first)
            for chunk in chunks:
                self.writer.write(chunk)
        except VaultError as exc:
            # content already started: end it, then report the failure (protocol rule)
            self.warn(f"{pathname}: {exc.message}")
            self.writer.flush_packet()
            self.writer.lines("status=error")
            return
        self.writer.flush_packet()
        self.writer.lines()  # empty list: keep "status=success"

    # -- clean ---------------------------------------------------------------------------
    def _clean(self, pathname: str, stream: PacketStream) -> Iterator[bytes]:
        head = stream.read(MAX_POINTER_SIZE + 1)
        if len(head) <= MAX_POINTER_SIZE:
            try:
                parse_pointer(head, path=pathname)
                return iter([head])  # already a pointer (content not present here)
            except (NotAPointerError, PointerError):
                pass
        similar_to = self._previous_file_id(pathname)
        with self.vault.store.writer() as writer:
            stored = writer.put_stream(_Prefixed(head, stream), name=pathname,
                                       similar_to=similar_to)
        known = self._known_pointer(pathname, stored.file_id)
        if known is not None:
            # same content as staged (or committed): keep that pointer byte-exact (committed
            # mtime, and a git-lfs pointer stays a git-lfs pointer until the content really
            # changes), so cleaning unchanged content always gives the same blob
            return iter([known])
        extra: dict[str, str] = {}
        try:
            st = os.stat(Path(self.vault.root, pathname))
            if st.st_size == stored.size:
                extra["mtime"] = str(st.st_mtime_ns)
        except OSError:
            pass
        return iter([Pointer(oid=stored.file_id, size=stored.size, extra=extra).encode()])

    def _previous_file_id(self, pathname: str) -> str | None:
        """The file id of the version of ``pathname`` staged or, failing that, committed in
        HEAD, when the store holds it: the likeliest delta base for an edit's new chunks.

        Only a hint: anything unreadable (index, blob, pointer, store row) means no hint.
        """
        for source in ("index", "HEAD"):
            recorded = self._recorded_pointer(source, pathname)
            if recorded is None:
                continue
            try:
                if self.vault.store.has_file(recorded[1].oid):
                    return recorded[1].oid
            except VaultError:
                return None
        return None

    def _known_pointer(self, pathname: str, file_id: str) -> bytes | None:
        """The exact bytes of the pointer to ``file_id`` staged for ``pathname`` or, failing
        that, committed for it in HEAD.

        HEAD matters because git does not always compare with the index on disk: ``git
        stash pop --index`` and ``git reset --refresh`` compare working files with HEAD's
        blobs while the index file still holds other ones.
        """
        for source in ("index", "HEAD"):
            recorded = self._recorded_pointer(source, pathname)
            if recorded is not None and recorded[1].oid == file_id:
                return recorded[0]
        return None

    def _recorded_pointer(self, source: str, pathname: str) -> tuple[bytes, Pointer] | None:
        """The pointer blob ``source`` (``index`` or ``HEAD``) holds for ``pathname``, read
        once per process; None when there is none or it cannot be read."""
        key = (source, pathname)
        if key not in self._recorded:
            blob_id = (self._staged_blob(pathname) if source == "index"
                       else self._head_blob(pathname))
            self._recorded[key] = self._pointer_of(blob_id)
        return self._recorded[key]

    def _staged_blob(self, pathname: str) -> str | None:
        if self._staged is None:  # read the index once per process, and only if needed
            try:
                self._staged = {path: entry.sha.decode()
                                for path, entry in self.vault.git.read_index().items()}
            except VaultError:
                self._staged = {}  # git reports a damaged index itself
        return self._staged.get(pathname)

    def _head_blob(self, pathname: str) -> str | None:
        """HEAD's blob for one path (a lookup down the tree, never the whole tree)."""
        try:
            if self._head_commit is False:
                self._head_commit = self.vault.git.head_commit()
            if not isinstance(self._head_commit, str):
                return None
            entry = self.vault.git.entry_at(self._head_commit, pathname)
        except (VaultError, KeyError):  # KeyError: a tree object missing from the repository
            return None
        return entry.blob_id if entry is not None else None

    def _pointer_of(self, blob_id: str | None) -> tuple[bytes, Pointer] | None:
        """The blob's bytes and pointer, when it is one."""
        if blob_id is None:
            return None
        try:
            data = self.vault.git.read_blob(blob_id)
            if len(data) > MAX_POINTER_SIZE:
                return None
            return data, parse_pointer(data)
        except (GitError, NotAPointerError, PointerError):
            return None

    # -- smudge --------------------------------------------------------------------------
    def _smudge(self, pathname: str, stream: PacketStream) -> Iterator[bytes]:
        data = stream.read(MAX_POINTER_SIZE + 1)
        if len(data) > MAX_POINTER_SIZE:
            # not a pointer: a file committed as a plain blob; pass it through unchanged.
            # git sends all input before it reads any output, so spool the rest first.
            return _spooled(data, stream)
        try:
            ptr = parse_pointer(data, path=pathname)
        except NotAPointerError:
            return iter([data])
        except PointerError as exc:
            self.warn(f"{pathname}: {exc}; the file was written as it is in git")
            return iter([data])
        if not self.vault.store.has_file(ptr.oid):
            self.warn(f"{pathname}: content {ptr.oid[:12]} is not in this vault; wrote the "
                      "pointer file instead")
            self.missing.append(pathname)
            return iter([data])
        return self.vault.store.iter_file(ptr.oid)


def _spooled(head: bytes, stream: PacketStream) -> Iterator[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed below
    spool.write(head)
    while block := stream.read(1 << 20):
        spool.write(block)
    spool.seek(0)

    def replay() -> Iterator[bytes]:
        with spool:
            while block := spool.read(1 << 20):
                yield block

    return replay()
