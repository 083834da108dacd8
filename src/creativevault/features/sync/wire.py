"""The byte stream between two vaults: msgpack messages, one request and one reply at a time.

A request is ``[op, args]``; a reply is ``["ok", result]`` or ``["err", kind, message,
path]`` (docs/formats/remote-protocol.md). Stored entries travel as
``[type, key, plain_len, flags, stored]``. The same :class:`Channel` carries the SSH
transport (``cvault serve`` on the far side) and the in-memory pipes the tests use.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import msgpack

from creativevault import errors
from creativevault.errors import RemoteError, VaultError
from creativevault.store.transfer import Entry

__all__ = ["MAX_MESSAGE", "PROTOCOL", "Channel", "ConnectionLost", "decode_entries",
           "encode_entries", "error_reply", "raise_error"]

#: protocol version spoken; a server refuses a client of another major version
PROTOCOL = 1
#: largest message accepted (a batch of entries is ~8 MiB; a git pack may be larger)
MAX_MESSAGE = 1024 * 1024 * 1024
_READ = 1024 * 1024


class ConnectionLost(RemoteError):
    """The other side went away (process killed, cable pulled, network down)."""


class Channel:
    """Sends and receives whole messages over a pair of binary streams."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO, *, name: str = "remote") -> None:
        self.rfile = rfile
        self.wfile = wfile
        self.name = name
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_MESSAGE,
                                          strict_map_key=False)
        #: bytes moved each way (for progress and benchmarks)
        self.sent = 0
        self.received = 0

    def send(self, message: Any) -> None:
        data = msgpack.packb(message, use_bin_type=True)
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            raise ConnectionLost(f"connection to {self.name} lost while sending") from exc
        self.sent += len(data)

    def recv(self) -> Any:
        """The next message; :class:`ConnectionLost` at end of stream."""
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                pass
            except (msgpack.UnpackException, ValueError) as exc:
                raise RemoteError(f"garbled message from {self.name}: {exc}") from exc
            try:
                read1 = getattr(self.rfile, "read1", None)
                data = read1(_READ) if read1 is not None else self.rfile.read(_READ)
            except (OSError, ValueError) as exc:
                raise ConnectionLost(f"connection to {self.name} lost while receiving"
                                     ) from exc
            if not data:
                raise ConnectionLost(f"connection to {self.name} closed")
            self.received += len(data)
            self._unpacker.feed(data)

    def close(self) -> None:
        for stream in (self.wfile, self.rfile):
            try:
                stream.close()
            except OSError:
                pass


def encode_entries(entries: list[Entry]) -> list[list]:
    return [[e.etype, e.key, e.plain_len, e.flags, e.stored] for e in entries]


def decode_entries(raw: Any) -> list[Entry]:
    try:
        entries = [Entry(int(t), k, int(n), int(f), s) for t, k, n, f, s in raw]
    except (TypeError, ValueError) as exc:
        raise RemoteError(f"malformed entries in a message: {exc}") from exc
    # bytes(k) would turn a number into that many zero bytes (a huge one into a
    # MemoryError): keys and stored bytes must arrive as msgpack binary
    if not all(isinstance(e.key, bytes) and isinstance(e.stored, bytes) for e in entries):
        raise RemoteError("malformed entries in a message: key and stored bytes must be "
                          "binary")
    return entries


def error_reply(exc: VaultError) -> list:
    """The reply that carries ``exc`` to the other side."""
    return ["err", type(exc).__name__, exc.message, exc.path]


def raise_error(reply: list, *, where: str) -> None:
    """Re-raise an error reply as the same kind of :class:`VaultError` on this side."""
    kind = reply[1] if len(reply) > 1 else "RemoteError"
    message = reply[2] if len(reply) > 2 else "unknown error"
    path = reply[3] if len(reply) > 3 else None
    cls = getattr(errors, str(kind), None)
    if not (isinstance(cls, type) and issubclass(cls, VaultError)) or cls in (
            errors.NotAVaultError, errors.UsageError):
        cls = RemoteError  # "not a vault" there is not "not a vault" here
    raise cls(f"{where}: {message}", path=path)
