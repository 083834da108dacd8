"""Direct writes: byte-exact files of every size, and clean fallbacks when refused."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from creativevault.errors import DiskFullError
from creativevault.store import ChunkerParams, Store, directio
from creativevault.store.directio import ALIGN, DirectSink
from creativevault.store.pack import ENTRY_CHUNK, PACK_HEADER, PackWriter, default_opener, scan_pack

BLOCK = 16 * ALIGN
#: sizes around the alignment and block boundaries
SIZES = [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12_345]


def _bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _sink_write(path: Path, pieces: list[bytes], *, direct: bool = True) -> DirectSink:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        sink = DirectSink(fd, block=BLOCK, direct=direct)
        for piece in pieces:
            sink.write(piece)
        sink.finish()
        os.fsync(fd)
    finally:
        os.close(fd)
    return sink


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_files_of_every_size_are_byte_exact(tmp_path: Path, size: int, direct: bool) -> None:
    data = _bytes(size, size)
    # pieces of awkward sizes, so copies straddle the buffer's end
    cuts = sorted(random.Random(size).sample(range(size + 1), min(size + 1, 7)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, size], strict=True)]
    sink = _sink_write(tmp_path / "f", pieces, direct=direct)
    assert (tmp_path / "f").read_bytes() == data
    assert sink.size == size and not sink.direct  # switched off for the tail


def test_direct_writes_are_used_where_the_system_has_them(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        sink = DirectSink(fd, block=BLOCK)
        # tmpfs and some others refuse O_DIRECT; where refused, the sink says so
        assert sink.direct == (directio.HAS_DIRECT and directio.set_direct(fd, True))
        sink.release()
        sink.release()
    finally:
        os.close(fd)


def test_a_file_system_refusing_direct_writes_gets_ordinary_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directio, "set_direct", lambda fd, on: False)  # fcntl refused
    data = _bytes(2 * BLOCK + 99, 1)
    sink = _sink_write(tmp_path / "f", [data])
    assert not sink.direct
    assert (tmp_path / "f").read_bytes() == data


def test_a_refused_direct_write_continues_through_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"on": False, "refused": 0}
    real_write = os.write

    def set_direct(fd: int, on: bool) -> bool:
        state["on"] = on
        return on

    def write(fd: int, data: bytes) -> int:
        if state["on"]:
            state["refused"] += 1
            raise OSError(errno.EINVAL, "Invalid argument")  # e.g. a 64 KiB block device
        return real_write(fd, data)

    monkeypatch.setattr(directio, "set_direct", set_direct)
    monkeypatch.setattr(directio.os, "write", write)
    data = _bytes(3 * BLOCK + 77, 2)
    _sink_write(tmp_path / "f", [data])
    assert state["refused"] == 1
    assert (tmp_path / "f").read_bytes() == data


def test_other_write_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def write(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(directio.os, "write", write)
    with pytest.raises(OSError) as info:
        _sink_write(tmp_path / "f", [_bytes(BLOCK + 1, 3)])
    assert info.value.errno == errno.ENOSPC


def test_bad_block_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        DirectSink(0, block=ALIGN + 1)


def _entries(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [0, 1, 55, ALIGN, directio.DIRECT_BLOCK - 56 - 16, directio.DIRECT_BLOCK + 3,
             *(rng.randrange(1, 300_000) for _ in range(20))]
    return [rng.randbytes(n) for n in sizes]


def _write_pack(directory: Path, entries: list[bytes], opener=default_opener) -> Path:
    w = PackWriter(directory, opener)
    for i, stored in enumerate(entries):
        w.append(ENTRY_CHUNK, i.to_bytes(32, "big"), stored, len(stored) + 1, 0)
    return directory / w.publish()


def test_a_pack_written_directly_equals_one_written_through_a_file_object(
        tmp_path: Path) -> None:
    entries = _entries(4)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    direct = _write_pack(tmp_path / "a", entries)
    cached = _write_pack(tmp_path / "b", entries, lambda p: open(p, "xb"))  # noqa: SIM115
    assert direct.read_bytes() == cached.read_bytes()
    assert direct.read_bytes().startswith(PACK_HEADER)
    assert [stored for _, _, stored in scan_pack(direct)] == entries
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [direct.name]


def test_a_full_disk_during_a_direct_pack_write_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    budget = {"left": 2}

    def write(fd: int, data: bytes) -> int:
        budget["left"] -= 1
        if budget["left"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(directio.os, "write", write)
    w = PackWriter(tmp_path)
    with pytest.raises(OSError):
        for i in range(40):
            w.append(ENTRY_CHUNK, i.to_bytes(32, "big"), _bytes(200_000, i), 200_000, 0)
        w.publish()
    w.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_store_on_a_full_drive_reports_disk_full_and_keeps_nothing(
        full_drive, monkeypatch: pytest.MonkeyPatch) -> None:
    # the 64 MiB free-space margin is bigger than the drive: let the writes hit the wall
    monkeypatch.setattr("creativevault.store.writer.check_free_space", lambda *a, **k: None)
    store = Store.init(full_drive.path / "store", chunker=ChunkerParams.for_average(16 * 1024))
    try:
        with store.writer() as w:
            w.put_bytes(b"small and early")
        with pytest.raises(DiskFullError), store.writer() as w:
            w.put_bytes(_bytes(12 * 1024 * 1024, 5))
        assert not [p for p in store.packs_dir.iterdir() if p.name.endswith(".tmp")]
        assert store.index.counts()[1] == 1
    finally:
        store.close()


def test_packs_on_an_exfat_drive_round_trip(exfat_drive) -> None:
    entries = _entries(6)
    pack = _write_pack(exfat_drive.path, entries)
    assert [stored for _, _, stored in scan_pack(pack)] == entries
    store = Store.init(exfat_drive.path / "store", chunker=ChunkerParams.for_average(16 * 1024))
    try:
        data = _bytes(5 * 1024 * 1024 + 321, 7)
        with store.writer() as w:
            file_id = w.put_bytes(data).file_id
        assert b"".join(store.iter_file(file_id)) == data
    finally:
        store.close()
