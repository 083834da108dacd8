from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from creativevault.errors import CorruptObjectError
from creativevault.store.pack import (
    ENTRY_CHUNK,
    ENTRY_HEADER_SIZE,
    ENTRY_MANIFEST,
    FLAG_DELTA,
    FLAG_ZSTD,
    PACK_HEADER,
    EntryHeader,
    PackReader,
    PackScanError,
    PackWriter,
    is_pack_name,
    is_temp_pack_name,
    scan_pack,
    split_delta,
)


def _write(tmp_path: Path) -> tuple[str, list[int]]:
    w = PackWriter(tmp_path)
    offsets = [w.append(ENTRY_CHUNK, b"k" * 32, b"hello", 5, 0),
               w.append(ENTRY_MANIFEST, b"m" * 32, b"zz", 9, FLAG_ZSTD)]
    assert w.temp_path.exists() and is_temp_pack_name(w.temp_path.name)
    name = w.publish()
    assert is_pack_name(name) and not w.temp_path.exists()
    return name, offsets


def test_write_publish_read_and_scan(tmp_path: Path) -> None:
    name, offsets = _write(tmp_path)
    assert offsets == [len(PACK_HEADER), len(PACK_HEADER) + ENTRY_HEADER_SIZE + 5]
    reader = PackReader(tmp_path, max_open=1)
    header, body = reader.read_entry(name, offsets[0], 5)
    assert (header.type, header.key, body, header.compressed) == (ENTRY_CHUNK, b"k" * 32,
                                                                  b"hello", False)
    header, body = reader.read_entry(name, offsets[1], 2)
    assert header.compressed and header.plain_len == 9
    entries = list(scan_pack(tmp_path / name))
    assert [(o, h.key, b) for o, h, b in entries] == [(offsets[0], b"k" * 32, b"hello"),
                                                      (offsets[1], b"m" * 32, b"zz")]
    reader.forget(name)
    reader.close()


def test_reader_cache_evicts_the_least_recently_used(tmp_path: Path) -> None:
    a, offs = _write(tmp_path)
    b, _ = _write(tmp_path)
    c, _ = _write(tmp_path)
    reader = PackReader(tmp_path, max_open=2)
    reader.read_entry(a, offs[0], 5)
    reader.read_entry(b, offs[0], 5)
    kept = reader._files[a]
    reader.read_entry(a, offs[0], 5)  # a is used again: b is now the oldest
    reader.read_entry(c, offs[0], 5)
    assert list(reader._files) == [a, c] and reader._files[a] is kept
    reader.close()
    assert kept.fh.closed


def test_reads_of_one_pack_run_side_by_side(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A read in flight does not hold the reader's lock: a second thread reads (and even
    evicts the first one's handle) meanwhile; the evicted handle closes after its read."""
    names = []
    for body in (b"first", b"other"):
        pw = PackWriter(tmp_path)
        offset = pw.append(ENTRY_CHUNK, body.ljust(32, b"k"), body, len(body), 0)
        names.append(pw.publish())
    reader = PackReader(tmp_path, max_open=1)
    entered, release = threading.Event(), threading.Event()
    real_pread = os.pread

    def slow_pread(fd: int, length: int, at: int) -> bytes:
        if threading.current_thread().name == "slow":
            entered.set()
            assert release.wait(10)
        return real_pread(fd, length, at)

    monkeypatch.setattr(os, "pread", slow_pread)
    got: list[bytes] = []
    slow = threading.Thread(target=lambda: got.append(reader.read_entry(names[0], offset, 5)[1]),
                            name="slow")
    slow.start()
    assert entered.wait(10)
    first = reader._files[names[0]]
    assert reader.read_entry(names[1], offset, 5)[1] == b"other"  # evicts the first handle
    assert names[0] not in reader._files and not first.fh.closed  # still being read
    release.set()
    slow.join(10)
    assert got == [b"first"] and first.fh.closed
    reader.close()
    with pytest.raises(ValueError):
        first.fh.fileno()


def test_damage_is_detected(tmp_path: Path) -> None:
    name, offsets = _write(tmp_path)
    path = tmp_path / name
    raw = bytearray(path.read_bytes())
    raw[offsets[0] + ENTRY_HEADER_SIZE] ^= 0xFF  # body byte
    path.write_bytes(bytes(raw))
    reader = PackReader(tmp_path)
    with pytest.raises(CorruptObjectError, match="checksum"):
        reader.read_entry(name, offsets[0], 5)
    with pytest.raises(CorruptObjectError, match="length"):
        reader.read_entry(name, offsets[1], 3)
    raw[offsets[1] + 40] ^= 0xFF  # header byte
    path.write_bytes(bytes(raw))
    reader.forget(name)
    with pytest.raises(CorruptObjectError, match="header checksum"):
        reader.read_entry(name, offsets[1], 2)
    with pytest.raises(PackScanError) as info:
        list(scan_pack(path))
    assert info.value.kind == "corrupt-pack" and info.value.offset == offsets[1]


def test_header_decode_rejects_garbage() -> None:
    good = EntryHeader(ENTRY_CHUNK, 0, b"k" * 32, 1, 1, 0).encode()
    with pytest.raises(CorruptObjectError, match="truncated"):
        EntryHeader.decode(good[:10], where="x")
    with pytest.raises(CorruptObjectError, match="magic"):
        EntryHeader.decode(b"XXXX" + good[4:], where="x")
    bad_type = EntryHeader(7, 0, b"k" * 32, 1, 1, 0).encode()
    with pytest.raises(CorruptObjectError, match="unknown entry type"):
        EntryHeader.decode(bad_type, where="x")


def test_scan_reports_truncation_and_bad_file_header(tmp_path: Path) -> None:
    name, offsets = _write(tmp_path)
    path = tmp_path / name
    raw = path.read_bytes()
    path.write_bytes(raw[:-1])
    with pytest.raises(PackScanError) as info:
        list(scan_pack(path))
    assert info.value.kind == "truncated-pack"
    path.write_bytes(raw[: offsets[1] + 10])
    with pytest.raises(PackScanError, match="entry header"):
        list(scan_pack(path))
    path.write_bytes(b"JUNKJUNKJUNKJUNK")
    with pytest.raises(PackScanError, match="bad file header"):
        list(scan_pack(path))
    path.write_bytes(PACK_HEADER[:8] + b"\x09\x00" + b"\x00" * 6)
    with pytest.raises(PackScanError, match="version"):
        list(scan_pack(path))


def test_entries_over_4gib_are_refused(tmp_path: Path) -> None:
    w = PackWriter(tmp_path)
    with pytest.raises(ValueError):
        w.append(ENTRY_CHUNK, b"k" * 32, b"x", 1 << 33, 0)
    w.discard()
    w.discard()
    assert list(tmp_path.iterdir()) == []


def test_failing_opener_leaves_nothing(tmp_path: Path) -> None:
    def opener(path: Path):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        PackWriter(tmp_path, opener)
    assert list(tmp_path.iterdir()) == []


def test_delta_entries_are_chunks_with_a_base_key_and_never_also_zstd(tmp_path: Path) -> None:
    w = PackWriter(tmp_path)
    good = w.append(ENTRY_CHUNK, b"d" * 32, b"b" * 32 + b"frame", 100, FLAG_DELTA)
    name = w.publish()
    [(offset, header, stored)] = list(scan_pack(tmp_path / name))
    assert offset == good and header.delta and not header.compressed
    assert split_delta(stored) == (b"b" * 32, b"frame")
    for etype, flags, stored_len in [(ENTRY_CHUNK, FLAG_DELTA | FLAG_ZSTD, 40),
                                     (ENTRY_MANIFEST, FLAG_DELTA, 40),
                                     (ENTRY_CHUNK, FLAG_DELTA, 32)]:  # no frame after the key
        raw = EntryHeader(etype, flags, b"k" * 32, stored_len, 100, 0).encode()
        with pytest.raises(CorruptObjectError, match="malformed delta"):
            EntryHeader.decode(raw, where="test")


def test_version_1_packs_are_still_read(tmp_path: Path) -> None:
    name, offsets = _write(tmp_path)
    path = tmp_path / name
    assert PACK_HEADER[8:10] == b"\x02\x00"
    raw = path.read_bytes()
    path.write_bytes(raw[:8] + b"\x01\x00" + raw[10:])  # what cvault wrote before deltas
    assert [o for o, _h, _s in scan_pack(path)] == offsets
