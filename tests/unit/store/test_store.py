from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import threading
from collections import namedtuple
from pathlib import Path
from typing import BinaryIO

import pytest

from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    FileChangedError,
    FileVanishedError,
    LockedError,
    ObjectMissingError,
    StoreError,
    StoreFormatError,
)
from creativevault.store import Store, StoreStats
from creativevault.store import writer as writer_mod
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_HEADER_SIZE, FLAG_ZSTD
from tests.vaulttools import damage_entry

from .conftest import SMALL_CHUNKS, mixed_bytes

Usage = namedtuple("Usage", "total used free")


def _tmp_packs(store: Store) -> list[str]:
    return [n for n in os.listdir(store.packs_dir) if n.endswith(".tmp")]


def _read(store: Store, file_id: str) -> bytes:
    out = io.BytesIO()
    store.write_file_to(file_id, out)
    return out.getvalue()


# -- layout -------------------------------------------------------------------------------


def test_init_is_idempotent_and_records_chunker(tmp_path: Path) -> None:
    root = tmp_path / "cvault"
    Store.init(root, chunker=SMALL_CHUNKS).close()
    body = json.loads((root / "store.json").read_text())
    assert body["format"] == "cvault-store" and body["version"] == 1
    assert body["chunker"]["avg_size"] == 16 * 1024
    again = Store.init(root)  # keeps the settings it was created with
    assert again.chunker == SMALL_CHUNKS
    assert (root / "packs").is_dir() and (root / "index.sqlite").exists()
    again.close()


@pytest.mark.parametrize("content,match", [
    (None, "store.json missing"),
    (b"{not json", "unreadable"),
    (b"[]", "not a cvault store"),
    (json.dumps({"format": "other", "version": 1}).encode(), "not a cvault store"),
    (json.dumps({"format": "cvault-store", "version": 2}).encode(), "version"),
    (json.dumps({"format": "cvault-store", "version": 1, "chunker": {}}).encode(), "chunker"),
])
def test_open_rejects_unknown_layouts(tmp_path: Path, content: bytes | None, match: str) -> None:
    tmp_path.joinpath("packs").mkdir()
    if content is not None:
        tmp_path.joinpath("store.json").write_bytes(content)
    with pytest.raises(StoreFormatError, match=match):
        Store.open(tmp_path)


def test_open_requires_packs_dir(tmp_path: Path) -> None:
    Store.init(tmp_path / "s").close()
    (tmp_path / "s" / "packs").rmdir()
    with pytest.raises(StoreFormatError, match="packs"):
        Store.open(tmp_path / "s")


# -- writing and reading ------------------------------------------------------------------


def test_round_trip_dedup_and_visibility(store: Store, tmp_path: Path) -> None:
    data = mixed_bytes(600_000, seed=1)
    src = tmp_path / "layer.psd"
    src.write_bytes(data)
    file_id = hashlib.sha256(data).hexdigest()
    with store.writer() as w:
        first = w.put_file(src)
        assert first.file_id == file_id and first.size == len(data) and first.chunks > 10
        assert first.added_bytes > 0
        assert not store.has_file(file_id)  # visible only after the session commits
        again = w.put_bytes(data)  # dedup against chunks written in this session
        assert again.file_id == file_id and again.added_bytes == 0
    assert store.has_file(file_id)
    assert store.file_size(file_id) == len(data)
    assert _read(store, file_id) == data
    assert b"".join(store.iter_file(file_id)) == data
    assert store.missing_files([file_id, "0" * 64]) == {"0" * 64}
    with store.writer() as w:
        assert w.put_file(src).added_bytes == 0


def test_small_empty_and_stream_inputs(store: Store) -> None:
    with store.writer() as w:
        empty = w.put_bytes(b"")
        small = w.put_bytes(b"tiny")
        streamed = w.put_stream(io.BytesIO(b"tiny"), name="pipe")
    assert empty.chunks == 0 and empty.size == 0
    assert empty.file_id == hashlib.sha256(b"").hexdigest()
    assert small.chunks == 1 and streamed.file_id == small.file_id
    assert _read(store, empty.file_id) == b"" and list(store.iter_file(empty.file_id)) == []
    assert _read(store, small.file_id) == b"tiny"


def test_stream_without_readinto(store: Store) -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._buf = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._buf.read(min(n, 1000))

    data = mixed_bytes(100_000, seed=2)
    with store.writer() as w:
        stored = w.put_stream(ReadOnly(data))  # type: ignore[arg-type]
    assert _read(store, stored.file_id) == data


def test_compression_policy(store: Store) -> None:
    compressible = bytes(range(256)) * 200
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 200  # would compress, but is sniffed
    with store.writer() as w:
        a = w.put_bytes(compressible)
        b = w.put_bytes(jpeg)
        c = w.put_bytes(os.urandom(50_000))
    flags = {}
    for fid in (a.file_id, b.file_id, c.file_id):
        key = store.read_manifest(fid).chunks[0][0]
        row = store.index.get(ENTRY_CHUNK, key)
        assert row is not None
        flags[fid] = row.flags & FLAG_ZSTD
    assert flags == {a.file_id: FLAG_ZSTD, b.file_id: 0, c.file_id: 0}
    assert _read(store, b.file_id) == jpeg


def test_missing_objects(store: Store) -> None:
    with pytest.raises(ObjectMissingError):
        store.file_size("ab" * 32)
    with pytest.raises(ObjectMissingError):
        store.iter_file("ab" * 32)
    with pytest.raises(ObjectMissingError):
        store.write_file_to("nothex", io.BytesIO())
    assert not store.has_file("nothex")


@pytest.mark.parametrize("read_ahead", [True, False])
def test_reading_with_or_without_read_ahead(store: Store, read_ahead: bool) -> None:
    data = mixed_bytes(400_000, seed=21)
    with store.writer() as w:
        file_id = w.put_bytes(data).file_id
    chunks = list(store.iter_file(file_id, read_ahead=read_ahead))
    assert len(chunks) > 4 and b"".join(chunks) == data
    out = io.BytesIO()
    assert store.write_file_to(file_id, out, read_ahead=read_ahead) == len(data)
    assert out.getvalue() == data

    manifest = store.read_manifest(file_id)
    row = store.index.get(ENTRY_CHUNK, manifest.chunks[3][0])
    assert row is not None
    damage_entry(store, row, 0x55)
    yielded = []
    with pytest.raises(CorruptObjectError) as info:
        for chunk in store.iter_file(file_id, read_ahead=read_ahead):
            yielded.append(chunk)
    assert b"".join(yielded) == data[:sum(n for _, n in manifest.chunks[:3])]
    assert row.pack in str(info.value) and file_id in str(info.value)
    with pytest.raises(CorruptObjectError):
        store.write_file_to(file_id, io.BytesIO(), read_ahead=read_ahead)


@pytest.mark.parametrize("compressible", [True, False])
def test_damage_in_a_chunk_is_caught_by_its_hash_without_its_crc(store: Store,
                                                                 compressible: bool) -> None:
    data = (bytes(range(256)) * 400 if compressible else os.urandom(100_000))
    with store.writer() as w:
        file_id = w.put_bytes(data).file_id
    key = store.read_manifest(file_id).chunks[0][0]
    row = store.index.get(ENTRY_CHUNK, key)
    assert row is not None and bool(row.flags & FLAG_ZSTD) == compressible
    path = store.packs_dir / row.pack
    with open(path, "r+b") as fh:
        fh.seek(row.offset + ENTRY_HEADER_SIZE + row.stored_len - 3)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(CorruptObjectError) as info:
        list(store.iter_file(file_id, read_ahead=False))
    assert row.pack in str(info.value) and file_id in str(info.value)
    assert info.value.offset == row.offset and info.value.corrupt
    with store.writer() as w:  # a second file whose manifest lives in another pack
        other = w.put_bytes(data + b"tail").file_id
    assert store.read_manifest(other).chunks[0][0] == key
    with open(path, "r+b") as fh:  # the first pack cut short inside the shared chunk
        fh.truncate(row.offset + ENTRY_HEADER_SIZE + row.stored_len // 2)
    with pytest.raises(CorruptObjectError, match="stored length mismatch") as info:
        list(store.iter_file(other, read_ahead=False))
    assert row.pack in str(info.value) and other in str(info.value)


def test_pack_rollover(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "s", chunker=SMALL_CHUNKS, pack_target_size=100_000)
    data = mixed_bytes(1_000_000, seed=4)
    with store.writer() as w:
        stored = w.put_bytes(data)
    assert store.stats().packs > 3
    assert _read(store, stored.file_id) == data
    assert store.fsck().ok
    store.close()


def test_stats(store: Store) -> None:
    assert store.stats() == StoreStats(0, 0, 0, 0, 0)
    with store.writer() as w:
        a = w.put_bytes(mixed_bytes(200_000, seed=5))
        w.put_bytes(b"x")
    st = store.stats()
    assert st.packs == 1 and st.files == 2 and st.logical_bytes == a.size + 1
    assert st.chunks >= a.chunks and st.pack_bytes > 0


def test_memory_stays_bounded(store: Store) -> None:
    import tracemalloc

    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size
            self.n = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            n = min(len(b), self.left)
            b[:n] = os.urandom(n) if self.n % 2 else b"\x07" * n
            self.n += 1
            self.left -= n
            return n

    tracemalloc.start()
    with store.writer() as w:
        w.put_stream(Zeros(48 * 1024 * 1024))  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 12 * 1024 * 1024


def test_large_files_hash_on_the_sessions_hashing_thread(store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HASH_THREAD_FROM bytes a file's SHA-256 is fed on one thread per session, in
    order: the ids are exact, small files never start it, and it ends with the session."""
    monkeypatch.setattr(writer_mod, "HASH_THREAD_FROM", 256 * 1024)
    started = []
    real = writer_mod._HashThread.__init__

    def counting(self: writer_mod._HashThread) -> None:
        started.append(self)
        real(self)

    monkeypatch.setattr(writer_mod._HashThread, "__init__", counting)
    small, big, other = (mixed_bytes(100_000, seed=31), mixed_bytes(3_000_000, seed=32),
                         mixed_bytes(2_000_000, seed=33))
    with store.writer() as w:
        assert w.put_bytes(small).file_id == hashlib.sha256(small).hexdigest()
        assert not started
        assert w.put_bytes(big).file_id == hashlib.sha256(big).hexdigest()
        assert w.put_bytes(other).file_id == hashlib.sha256(other).hexdigest()
        [hashing] = started  # one for the session
        assert hashing._thread.is_alive()
    assert not hashing._thread.is_alive()
    assert _read(store, hashlib.sha256(big).hexdigest()) == big


def test_a_failed_hash_update_fails_the_file_and_never_hangs() -> None:
    class Broken:
        def update(self, data: bytes) -> None:
            raise MemoryError("no room")

    hashing = writer_mod._HashThread()
    hashing.update(Broken(), b"x")
    with pytest.raises(MemoryError, match="no room"):
        hashing.wait(Broken())
    hashing.close()
    assert not hashing._thread.is_alive()


# -- input problems ------------------------------------------------------------------------


def test_vanished_inputs(store: Store, tmp_path: Path) -> None:
    with store.writer() as w:
        with pytest.raises(FileVanishedError) as info:
            w.put_file(tmp_path / "gone.cr3")
        assert info.value.path == str(tmp_path / "gone.cr3")
        with pytest.raises(FileVanishedError):
            w.put_file(tmp_path)
        fifo = tmp_path / "fifo"
        if hasattr(os, "mkfifo"):
            os.mkfifo(fifo)
            fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # keep open() from blocking
            try:
                with pytest.raises(FileVanishedError, match="regular"):
                    w.put_file(fifo)
            finally:
                os.close(fd)
        ok = w.put_bytes(b"still usable")
    assert store.has_file(ok.file_id)


def test_file_changed_while_read(store: Store, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "busy.psd"
    src.write_bytes(mixed_bytes(300_000, seed=6))
    real = writer_mod.iter_chunks

    def editing(stream: BinaryIO, params: object):  # type: ignore[no-untyped-def]
        for i, view in enumerate(real(stream, params)):  # type: ignore[arg-type]
            yield view
            if i == 1:
                with open(src, "ab") as fh:
                    fh.write(b"more paint")

    monkeypatch.setattr(writer_mod, "iter_chunks", editing)
    with store.writer() as w:
        with pytest.raises(FileChangedError) as info:
            w.put_file(src)
        assert info.value.retriable and info.value.path == str(src)
        w.put_bytes(b"other")
    assert store.stats().files == 1  # only "other"


def test_read_error_mid_file(store: Store, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "flaky.tif"
    src.write_bytes(b"x" * 1000)

    def failing(stream: BinaryIO, params: object):  # type: ignore[no-untyped-def]
        raise OSError(errno.EIO, "Input/output error")
        yield b""  # pragma: no cover

    monkeypatch.setattr(writer_mod, "iter_chunks", failing)
    with store.writer() as w:
        with pytest.raises(FileVanishedError, match="Input/output"):
            w.put_file(src)
        with pytest.raises(StoreError, match="pipe"):
            w.put_stream(io.BytesIO(b"x"), name="pipe")


# -- session failures -----------------------------------------------------------------------


def test_exception_in_session_discards_everything(store: Store) -> None:
    with pytest.raises(RuntimeError), store.writer() as w:
        stored = w.put_bytes(mixed_bytes(200_000, seed=7))
        raise RuntimeError("user aborted")
    assert not store.has_file(stored.file_id)
    assert _tmp_packs(store) == [] and store.stats().packs == 0
    assert list(store.index.rows()) == []
    assert not store.lock_path.exists()


def test_writer_outside_with_block(store: Store) -> None:
    w = store.writer()
    with pytest.raises(StoreError, match="outside"):
        w.put_bytes(b"x")
    w.__exit__(None, None, None)  # harmless without __enter__


def test_free_space_is_checked_first(store: Store, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "scene.blend"
    src.write_bytes(b"b" * 10_000)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**9, 10**9, 1024))
    with store.writer() as w:
        with pytest.raises(DiskFullError, match="scene.blend"):
            w.put_file(src)
        with pytest.raises(DiskFullError):
            w.put_bytes(b"x")
        with pytest.raises(DiskFullError):
            w.put_stream(io.BytesIO(b"x"))
    assert store.stats().files == 0


class _FullDisk:
    """A pack file that raises ENOSPC once ``limit`` bytes have been written."""

    def __init__(self, path: Path, limit: int) -> None:
        self._fh = open(path, "xb")  # noqa: SIM115
        self._left = limit

    def write(self, data: bytes) -> int:
        if len(data) > self._left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)


def test_disk_full_during_pack_write(tmp_path: Path) -> None:
    root = tmp_path / "cvault"
    store = Store.init(root, chunker=SMALL_CHUNKS)
    with store.writer() as w:
        before = w.put_bytes(mixed_bytes(100_000, seed=8))
    rows_before = list(store.index.rows())
    store.close()

    full = Store.open(root, opener=lambda p: _FullDisk(p, 50_000))  # type: ignore[arg-type,return-value]
    big = tmp_path / "plate.exr"
    big.write_bytes(mixed_bytes(400_000, seed=9))
    with pytest.raises(DiskFullError) as info, full.writer() as w:
        w.put_file(big)
    message = str(info.value)
    assert "plate.exr" in message and str(root) in message and "disk full" in message
    assert _tmp_packs(full) == []
    assert list(full.index.rows()) == rows_before
    assert _read(full, before.file_id) == mixed_bytes(100_000, seed=8)
    assert not full.lock_path.exists()
    full.close()

    store = Store.open(root)
    with store.writer() as w:
        after = w.put_file(big)
    assert _read(store, after.file_id) == big.read_bytes()
    assert store.fsck().ok
    store.close()


def test_caught_disk_full_spoils_the_session(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "s", chunker=SMALL_CHUNKS,
                       opener=lambda p: _FullDisk(p, 20_000))  # type: ignore[arg-type,return-value]
    with pytest.raises(DiskFullError) as at_exit, store.writer() as w:
        w.put_bytes(b"small")
        with pytest.raises(DiskFullError) as first:
            w.put_bytes(mixed_bytes(200_000, seed=10))
        with pytest.raises(DiskFullError):
            w.put_bytes(b"again")
    # a clean exit must not pretend the session's files were stored
    assert at_exit.value is first.value
    assert store.stats().files == 0 and _tmp_packs(store) == []


def test_other_write_errors_become_store_errors(tmp_path: Path) -> None:
    def opener(path: Path) -> BinaryIO:
        raise OSError(errno.EIO, "Input/output error")

    store = Store.init(tmp_path / "s", opener=opener)
    with pytest.raises(StoreError, match="cannot write a pack"), store.writer() as w:
        w.put_bytes(b"data")
    assert store.stats().files == 0


def test_lock_is_held_for_the_session_only(store: Store) -> None:
    other = Store.open(store.root, lock_timeout=0.2)
    with store.writer() as w:
        assert store.lock_path.exists()
        assert any(t.name == "cvault-pack-writer" for t in threading.enumerate())
        with pytest.raises(LockedError), other.writer():
            pass
        w.put_bytes(b"a")
    assert not store.lock_path.exists()
    with other.writer() as w2:
        w2.put_bytes(b"b")
    other.close()
