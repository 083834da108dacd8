"""The byte stream between two vaults: whole messages, garbled input, a stream that ends,
errors crossing with their class, and a server that survives malformed requests."""

from __future__ import annotations

import io
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

import creativevault as cv
from creativevault import errors
from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    ObjectMissingError,
    PushRejectedError,
    RemoteError,
    VaultError,
)
from creativevault.features.sync.peers import StreamPeer, stream_pair_for_tests
from creativevault.features.sync.server import serve
from creativevault.features.sync.wire import (
    PROTOCOL,
    Channel,
    ConnectionLost,
    decode_entries,
    encode_entries,
    error_reply,
    raise_error,
)
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_MANIFEST
from creativevault.store.transfer import Entry


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read (a slow network)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(self._step, len(self._data), len(buffer))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def sent(*messages: Any) -> bytes:
    out = io.BytesIO()
    channel = Channel(io.BytesIO(), out)
    for message in messages:
        channel.send(message)
    assert channel.sent == len(out.getvalue())
    return out.getvalue()


MESSAGES = [
    ["hello", [PROTOCOL]],
    ["ok", {"refs": {"refs/heads/main": "a" * 40}, "head": None, "free": 2**40}],
    ["missing", [ENTRY_CHUNK, [bytes(range(32)), b"\xff" * 32]]],
    ["ok", b"\x00" * (3 * 1024 * 1024 + 17)],  # a git pack of a few MB
    ["err", "CorruptObjectError", "chunk ... arrived damaged", "/studio/vault"],
    ["ok", None],
    ["put", [[[1, b"k" * 32, 5, 1, b"\x28\xb5\x2f\xfd..."]]]],
    ["ok", {"unicode path": "Fotos/Überblick – ✓.jpg"}],
]


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_messages_round_trip_whatever_the_read_sizes(step: int) -> None:
    messages = MESSAGES if step > 1000 else [m for m in MESSAGES if len(str(m)) < 1000]
    data = sent(*messages)
    reader = io.BufferedReader(Trickle(data, step)) if step > 1 else Trickle(data, step)
    channel = Channel(reader, io.BytesIO())  # type: ignore[arg-type]
    assert [channel.recv() for _ in messages] == messages
    assert channel.received == len(data)
    with pytest.raises(ConnectionLost, match="closed"):
        channel.recv()


def test_messages_cross_a_real_pipe_both_ways() -> None:
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    a = Channel(os.fdopen(a_r, "rb"), os.fdopen(a_w, "wb"), name="a")
    b = Channel(os.fdopen(b_r, "rb"), os.fdopen(b_w, "wb"), name="b")
    big = random.Random(1).randbytes(5 * 1024 * 1024)  # larger than a pipe's buffer

    def echo() -> None:
        for _ in range(3):
            b.send(b.recv())

    thread = threading.Thread(target=echo)
    thread.start()
    for message in (["put_pack", [big]], ["hello", [1]], ["ok", {"n": 1}]):
        a.send(message)
        assert a.recv() == message
    thread.join(5)
    a.close()
    with pytest.raises(ConnectionLost):
        b.recv()
    b.close()


@pytest.mark.parametrize("garbage", [
    b"\xc1",  # a byte msgpack never uses
    b"\x91\xc1",  # ... inside an array
    b"\xd9\x03\xff\xfe\xfd",  # a str that is not UTF-8
])
def test_garbled_input_is_a_remote_error(garbage: bytes) -> None:
    channel = Channel(io.BytesIO(garbage), io.BytesIO(), name="studio")  # type: ignore[arg-type]
    with pytest.raises(RemoteError, match="garbled message from studio") as err:
        channel.recv()
    assert not isinstance(err.value, ConnectionLost)


def test_a_stream_that_ends_mid_message_is_a_lost_connection() -> None:
    data = sent(["ok", b"x" * 10_000])
    channel = Channel(io.BytesIO(data[:5000]), io.BytesIO(), name="laptop")  # type: ignore[arg-type]
    with pytest.raises(ConnectionLost, match="laptop") as err:
        channel.recv()
    assert err.value.retriable and isinstance(err.value, RemoteError)


def test_sending_into_a_closed_stream_is_a_lost_connection() -> None:
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(ConnectionLost, match="sending"):
        Channel(io.BytesIO(), closed, name="x").send(["hello", [1]])  # type: ignore[arg-type]
    r, w = os.pipe()
    os.close(r)  # the other end went away: EPIPE
    with pytest.raises(ConnectionLost):
        Channel(io.BytesIO(), os.fdopen(w, "wb")).send(["ok", b"y" * 200_000])  # type: ignore[arg-type]
    reading = io.BytesIO(b"\x92")
    reading.close()
    with pytest.raises(ConnectionLost, match="receiving"):
        Channel(reading, io.BytesIO()).recv()  # type: ignore[arg-type]


def test_entries_round_trip() -> None:
    entries = [Entry(ENTRY_CHUNK, bytes([i]) * 32, 1000 + i, 1, os.urandom(50 + i))
               for i in range(5)] + [Entry(ENTRY_MANIFEST, b"m" * 32, 88, 0, b"\x83" * 88)]
    wire = msgpack.unpackb(msgpack.packb(encode_entries(entries), use_bin_type=True),
                           raw=False)
    assert decode_entries(wire) == entries
    for bad in ([[1, b"k", 1]], [[1, b"k", "x", 0, b""]], [5], None, [[1, 2, 3, 4, 5]]):
        with pytest.raises(RemoteError, match="malformed entries"):
            decode_entries(bad)


# -- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [CorruptObjectError, ObjectMissingError, DiskFullError,
                                 PushRejectedError, errors.LockedError, RemoteError,
                                 errors.StoreFormatError, errors.GitError])
def test_errors_cross_as_their_own_class(cls: type[VaultError]) -> None:
    reply = msgpack.unpackb(msgpack.packb(error_reply(cls("it broke", path="/v/x.psd")),
                                          use_bin_type=True), raw=False)
    with pytest.raises(cls) as err:
        raise_error(reply, where="ssh://studio/v")
    assert type(err.value) is cls
    assert err.value.message == "ssh://studio/v: it broke" and err.value.path == "/v/x.psd"
    assert err.value.corrupt == cls.corrupt and err.value.retriable == cls.retriable


@pytest.mark.parametrize("kind", ["NotAVaultError", "UsageError", "OSError", "KeyError",
                                  "__class__", "VaultErrorX", "Progress", "", 42])
def test_foreign_and_local_only_kinds_become_remote_errors(kind: Any) -> None:
    with pytest.raises(RemoteError) as err:
        raise_error(["err", kind, "no", None], where="there")
    assert type(err.value) is RemoteError and "there: no" in str(err.value)


def test_a_short_error_reply_still_raises() -> None:
    with pytest.raises(RemoteError, match="unknown error"):
        raise_error(["err"], where="there")


# -- a server on the other end -----------------------------------------------------------

@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    cv.Vault.init(tmp_path / "v").close()
    return tmp_path / "v"


@pytest.fixture
def raw_server(vault_path: Path) -> Iterator[Channel]:
    """A client channel to ``serve`` on a thread, past its greeting."""
    c2s_r, c2s_w = os.pipe()
    s2c_r, s2c_w = os.pipe()
    server_side = Channel(os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb"))
    result: list[int] = []

    def run() -> None:
        try:
            result.append(serve(lambda: cv.Vault.open(vault_path), server_side))
        finally:
            server_side.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = Channel(os.fdopen(s2c_r, "rb"), os.fdopen(c2s_w, "wb"))
    assert client.recv() == ["ok", {"protocol": PROTOCOL}]
    yield client
    client.send(["bye", []])
    assert client.recv() == ["ok", None]
    thread.join(5)
    assert result == [0]
    client.close()


@pytest.mark.parametrize("request_", [
    ["nosuchop", []],
    ["hello", [PROTOCOL + 1]],
    ["missing"],  # no arguments
    ["missing", [ENTRY_CHUNK]],  # too few
    ["missing", [ENTRY_CHUNK, [], "extra"]],  # too many
    ["missing", ["chunk", [b"k" * 32]]],
    ["missing", [ENTRY_CHUNK, "not a list"]],
    ["put", [[[1, b"k"]]]],
    ["put", []],
    ["update_refs", [[["refs/heads/x"]], False, [], "me"]],
    42,
    [],
    [42, []],
    [["hello"], []],
    ["hello", "not a list"],
])
def test_a_malformed_request_gets_an_error_and_the_session_goes_on(raw_server: Channel,
                                                                   request_: Any) -> None:
    raw_server.send(request_)
    reply = raw_server.recv()
    assert reply[0] == "err" and reply[1] in ("RemoteError", "UsageError"), reply
    raw_server.send(["hello", [PROTOCOL]])
    ok, info = raw_server.recv()
    assert ok == "ok" and info["protocol"] == PROTOCOL


def test_the_server_ends_cleanly_when_the_client_vanishes(vault_path: Path) -> None:
    peer, thread = stream_pair_for_tests(vault_path)
    peer.hello()
    peer.channel.close()  # no 'bye': the laptop's lid closed
    thread.join(5)
    assert not thread.is_alive()


def test_a_client_sees_a_server_that_dies_as_a_lost_connection(vault_path: Path) -> None:
    c2s_r, c2s_w = os.pipe()
    s2c_r, s2c_w = os.pipe()
    server_in, server_out = os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb")
    server = Channel(server_in, server_out)
    server.send(["ok", {"protocol": PROTOCOL}])
    peer = StreamPeer(Channel(os.fdopen(s2c_r, "rb"), os.fdopen(c2s_w, "wb")), name="studio")
    server_out.close()  # the server process was killed
    with pytest.raises(ConnectionLost, match="run the same command again"):
        peer.hello()
    peer.close()  # closing after a lost connection raises nothing
    server_in.close()


def test_a_server_that_cannot_open_the_vault_says_so_in_its_greeting(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="not a vault"):
        stream_pair_for_tests(tmp_path)
