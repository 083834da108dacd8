"""pkt-line framing (git's ``gitprotocol-common(5)``): round trips, limits, damage."""

from __future__ import annotations

import io
import random

import pytest

from creativevault.errors import GitError
from creativevault.repo.pktline import MAX_PAYLOAD, PacketReader, PacketStream, PacketWriter


def written(action) -> bytes:
    buf = io.BytesIO()
    action(PacketWriter(buf))
    return buf.getvalue()


def reader(data: bytes) -> PacketReader:
    return PacketReader(io.BytesIO(data))


class Trickle(io.RawIOBase):
    """A pipe that hands out at most ``step`` bytes per read (short reads, as pipes do)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(self._step, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_text_lines_and_flush_round_trip():
    data = written(lambda w: w.lines("git-filter-client", "version=2"))
    assert data == b"0016git-filter-client\n000eversion=2\n0000"
    r = reader(data + written(lambda w: w.lines("command=smudge", "pathname=a b/ü.psd")))
    assert r.read_list() == ["git-filter-client", "version=2"]
    assert r.read_dict() == {"command": "smudge", "pathname": "a b/ü.psd"}
    with pytest.raises(EOFError):
        r.read()


def test_read_returns_none_for_flush_and_payload_otherwise():
    r = reader(b"0005x0000" + b"0004" + b"0006AB")
    assert r.read() == b"x"
    assert r.read() is None
    assert r.read() == b""  # an empty data packet is not a flush
    assert r.read() == b"AB"


def test_dict_value_keeps_everything_after_the_first_equals_sign():
    r = reader(written(lambda w: w.lines("pathname=a=b.psd", "flag")))
    assert r.read_dict() == {"pathname": "a=b.psd", "flag": ""}


def test_non_utf8_path_round_trips_through_surrogateescape():
    raw = b"pathname=caf\xe9.psd"
    line = reader(written(lambda w: w.write(raw + b"\n"))).read_text()
    assert line is not None
    assert written(lambda w: w.text(line)) == written(lambda w: w.write(raw + b"\n"))


@pytest.mark.parametrize("size", [0, 1, MAX_PAYLOAD - 1, MAX_PAYLOAD, MAX_PAYLOAD + 1,
                                  3 * MAX_PAYLOAD + 17])
def test_content_is_split_at_max_payload_and_round_trips(size):
    payload = random.Random(size).randbytes(size)
    data = written(lambda w: w.content(iter([payload[:size // 3], b"", payload[size // 3:]])))
    # every packet is at most MAX_PAYLOAD + 4 bytes
    r = reader(data)
    sizes = []
    while (packet := r.read()) is not None:
        sizes.append(len(packet))
    assert all(0 < s <= MAX_PAYLOAD for s in sizes)
    assert sum(sizes) == size
    with pytest.raises(EOFError):
        r.read()
    assert PacketStream(reader(data)).read() == payload


def test_uppercase_hex_length_is_read():
    assert reader(b"000A" + b"abcdef").read() == b"abcdef"


def test_max_payload_packet_has_length_fff0_and_one_more_byte_is_split():
    data = written(lambda w: w.write(b"a" * (MAX_PAYLOAD + 1)))
    assert data[:4] == b"fff0"
    assert data[4 + MAX_PAYLOAD:4 + MAX_PAYLOAD + 5] == b"0005a"
    assert len(data) == MAX_PAYLOAD + 4 + 5


def test_oversized_packet_length_is_a_git_error():
    with pytest.raises(GitError, match="bad pkt-line length 65521"):
        reader(b"fff1" + b"a" * 65517).read()


@pytest.mark.parametrize("head", [b"0001", b"0002", b"0003"])
def test_lengths_below_four_are_git_errors(head):
    with pytest.raises(GitError, match="bad pkt-line length"):
        reader(head + b"abcd").read()


@pytest.mark.parametrize("head", [b"zzzz", b"00 5", b"\xff\xff\xff\xff",
                                  # Python's int(..., 16) accepts these; git does not
                                  b"0x1a", b"+01a", b" 01a", b"0_1a", b"-001"])
def test_non_hex_length_is_a_git_error(head):
    with pytest.raises(GitError, match="bad pkt-line length"):
        reader(head + b"abcd").read()


@pytest.mark.parametrize("data", [b"000ashort", b"00", b"0009abc"])
def test_truncated_packet_is_a_git_error(data):
    with pytest.raises(GitError, match="in the middle of a packet"):
        reader(data).read()


def test_short_reads_from_a_pipe_are_reassembled():
    payload = random.Random(1).randbytes(2 * MAX_PAYLOAD + 5)
    data = written(lambda w: (w.lines("command=clean"), w.content(iter([payload]))))
    r = PacketReader(io.BufferedReader(Trickle(data, 3), buffer_size=1))
    assert r.read_list() == ["command=clean"]
    stream = PacketStream(r)
    assert stream.read(10) == payload[:10]
    assert stream.read() == payload[10:]
    with pytest.raises(EOFError):
        r.read()


def test_stream_stops_at_flush_and_drain_skips_the_rest():
    first = written(lambda w: w.content(iter([b"a" * 100, b"b" * 100])))
    second = written(lambda w: w.lines("next"))
    r = reader(first + second)
    stream = PacketStream(r)
    assert stream.read(150) == b"a" * 100 + b"b" * 50
    stream.drain()
    assert stream.read() == b""
    assert r.read_list() == ["next"]


def test_stream_readinto_fills_at_most_the_buffer():
    r = reader(written(lambda w: w.content(iter([b"0123456789"]))))
    stream = PacketStream(r)
    buf = bytearray(4)
    assert stream.readinto(buf) == 4 and buf == b"0123"
    assert stream.readinto(memoryview(buf)) == 4 and buf == b"4567"
    assert stream.readinto(buf) == 2 and buf[:2] == b"89"
    assert stream.readinto(buf) == 0
