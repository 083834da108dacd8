"""git's pkt-line framing, as used by the long-running filter process protocol.

A packet is four lowercase hex digits giving its total length (including those four
bytes) followed by the payload; ``0000`` is a flush packet. Payloads are at most
``MAX_PAYLOAD`` bytes. See git's ``gitprotocol-common(5)`` and ``gitattributes(5)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from creativevault.errors import GitError

__all__ = ["FLUSH", "MAX_PAYLOAD", "PacketReader", "PacketStream", "PacketWriter"]

MAX_PAYLOAD = 65516
FLUSH = None
_HEX_DIGITS = b"0123456789abcdefABCDEF"


class PacketReader:
    """Reads packets from a binary stream; ``read()`` returns ``None`` for a flush."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def _exact(self, n: int) -> bytes:
        data = self._stream.read(n)
        while data is not None and len(data) < n:
            more = self._stream.read(n - len(data))
            if not more:
                break
            data += more
        if data is None or len(data) != n:
            raise GitError("git closed the filter pipe in the middle of a packet")
        return data

    def read(self) -> bytes | None:
        """The next packet's payload, or ``None`` for a flush packet; EOFError at the end."""
        head = self._stream.read(4)
        if not head:
            raise EOFError
        if len(head) < 4:
            head += self._exact(4 - len(head))
        if head.strip(_HEX_DIGITS):  # int() would also take "0x1a", "+01a", " 01a", "0_1a"
            raise GitError(f"bad pkt-line length {head!r} from git")
        length = int(head, 16)
        if length == 0:
            return None
        if length < 4 or length > MAX_PAYLOAD + 4:
            raise GitError(f"bad pkt-line length {length} from git")
        return self._exact(length - 4)

    def read_text(self) -> str | None:
        """A text packet without its trailing newline, or ``None`` for a flush."""
        data = self.read()
        if data is None:
            return None
        return data.decode("utf-8", "surrogateescape").rstrip("\n")

    def read_list(self) -> list[str]:
        """Text packets up to the next flush."""
        items = []
        while (line := self.read_text()) is not None:
            items.append(line)
        return items

    def read_dict(self) -> dict[str, str]:
        """``key=value`` text packets up to the next flush."""
        out: dict[str, str] = {}
        for line in self.read_list():
            key, _, value = line.partition("=")
            out[key] = value
        return out


class PacketStream:
    """The content packets of one request, up to its flush, as a readable binary stream."""

    def __init__(self, reader: PacketReader) -> None:
        self._reader = reader
        self._buffer = b""
        self._done = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        while not self._buffer and not self._done:
            packet = self._reader.read()
            if packet is None:
                self._done = True
            else:
                self._buffer = packet
        n = min(len(view), len(self._buffer))
        view[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            chunk = bytearray(MAX_PAYLOAD if n < 0 else min(MAX_PAYLOAD, n - len(out)))
            got = self.readinto(chunk)
            if not got:
                break
            out += chunk[:got]
        return bytes(out)

    def drain(self) -> None:
        """Skip whatever remains of this request's content."""
        self._buffer = b""
        while not self._done:
            if self._reader.read() is None:
                self._done = True


class PacketWriter:
    """Writes packets to a binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, payload: bytes) -> None:
        for start in range(0, len(payload), MAX_PAYLOAD):
            part = payload[start:start + MAX_PAYLOAD]
            self._stream.write(b"%04x" % (len(part) + 4) + part)

    def text(self, line: str) -> None:
        self.write((line + "\n").encode("utf-8", "surrogateescape"))

    def flush_packet(self) -> None:
        self._stream.write(b"0000")

    def lines(self, *lines: str) -> None:
        """Text packets followed by a flush, then push everything to git."""
        for line in lines:
            self.text(line)
        self.flush_packet()
        self.flush()

    def content(self, chunks: Iterator[bytes]) -> None:
        """Content packets (any sizes in, at most MAX_PAYLOAD each out), then a flush."""
        for chunk in chunks:
            if chunk:
                self.write(chunk)
        self.flush_packet()
        self.flush()

    def flush(self) -> None:
        self._stream.flush()
