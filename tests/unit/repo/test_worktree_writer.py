"""The working-tree writer: several files at once, direct or cached writes, clean failure."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from creativevault.errors import CorruptObjectError, DiskFullError, WorktreeError
from creativevault.repo import worktree_writer as ww
from creativevault.repo.worktree_writer import (
    DIRECT_BUFFER,
    TEMP_PREFIX,
    FileWrite,
    WorktreeWriter,
)
from creativevault.store import ChunkerParams, Store, directio
from creativevault.store.pack import ENTRY_CHUNK
from tests.vaulttools import creative_bytes, damage_entry

SMALL_CHUNKS = ChunkerParams.for_average(16 * 1024)
#: sizes around the direct-write alignment and buffer boundaries
SIZES = [0, 1, 4095, 4096, 4097, DIRECT_BUFFER - 1, DIRECT_BUFFER, DIRECT_BUFFER + 1,
         3 * DIRECT_BUFFER + 12_345]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.init(tmp_path / "cvault", chunker=SMALL_CHUNKS)
    yield s
    s.close()


def _put(store: Store, contents: dict[str, bytes]) -> dict[str, str]:
    with store.writer() as w:
        return {name: w.put_bytes(data).file_id for name, data in contents.items()}


def _plan(root: Path, contents: dict[str, bytes], ids: dict[str, str]) -> list[FileWrite]:
    return [FileWrite(name, root / name, len(data), file_id=ids[name],
                      mtime_ns=1_600_000_000_123_456_789) for name, data in contents.items()]


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TEMP_PREFIX}*")]


def _no_blobs(blob_id: str) -> bytes:
    raise AssertionError(f"no blob should be read ({blob_id})")


@pytest.mark.parametrize("direct", [True, False])
def test_files_of_every_size_are_written_byte_exact(store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     direct: bool) -> None:
    contents = {f"d{i % 3}/f{i}_{size}.psd": creative_bytes(".psd", size, i)
                for i, size in enumerate(SIZES)}
    ids = _put(store, contents)
    root = tmp_path / "work"
    done: list[tuple[str, os.stat_result, str]] = []
    asked: list[bool] = []
    real = directio.set_direct

    def set_direct(fd: int, on: bool) -> bool:
        asked.append(on)
        return real(fd, on)

    monkeypatch.setattr(directio, "set_direct", set_direct)
    writer = WorktreeWriter(store, _no_blobs, workers=3, direct=direct)
    writer.write(_plan(root, contents, ids),
                 lambda f, st: done.append((f.path, st, threading.current_thread().name)))
    assert sorted(p for p, _, _ in done) == sorted(contents)
    assert {name for _, _, name in done} == {threading.current_thread().name}
    for path, st, _ in done:
        disk = root / path
        assert disk.read_bytes() == contents[path]
        assert os.stat(disk).st_ino == st.st_ino
        assert st.st_mtime_ns == 1_600_000_000_123_456_789
        assert stat.S_IMODE(st.st_mode) == 0o666 & ~ww._UMASK
    assert not _temp_files(root)
    big = sum(1 for size in SIZES if size >= DIRECT_BUFFER)
    # direct writes are tried for the large files only (where the platform has them)
    assert asked.count(True) == (big if direct and directio.HAS_DIRECT else 0)


def test_the_largest_files_go_first(store: Store, tmp_path: Path) -> None:
    contents = {f"f{size}": creative_bytes(".psd", size, size) for size in (5, 90_000, 700)}
    ids = _put(store, contents)
    done: list[str] = []
    WorktreeWriter(store, _no_blobs, workers=1).write(_plan(tmp_path, contents, ids),
                                                       lambda f, st: done.append(f.path))
    assert done == ["f90000", "f700", "f5"]


def test_blob_files_and_executables(store: Store, tmp_path: Path) -> None:
    blobs = {"b1": b"#!/bin/sh\necho hi\n", "b2": b"plain text\n"}
    files = [FileWrite("tools/run.sh", tmp_path / "tools" / "run.sh", 18, executable=True,
                       blob_id="b1"),
             FileWrite("notes.txt", tmp_path / "notes.txt", 11, blob_id="b2")]
    read_in: set[str] = set()

    def read_blob(blob_id: str) -> bytes:
        read_in.add(threading.current_thread().name)
        return blobs[blob_id]

    WorktreeWriter(store, read_blob).write(files, lambda f, st: None)
    assert (tmp_path / "tools" / "run.sh").read_bytes() == blobs["b1"]
    assert (tmp_path / "notes.txt").read_bytes() == blobs["b2"]
    assert os.access(tmp_path / "tools" / "run.sh", os.X_OK)
    assert not os.access(tmp_path / "notes.txt", os.X_OK)
    assert read_in == {threading.current_thread().name}  # git is only read by the caller


def test_a_file_system_refusing_direct_writes_gets_cached_ones(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contents = {"big.psd": creative_bytes(".psd", 2 * DIRECT_BUFFER + 99, 1)}
    ids = _put(store, contents)
    monkeypatch.setattr(directio, "set_direct", lambda fd, on: False)  # fcntl refused
    WorktreeWriter(store, _no_blobs).write(_plan(tmp_path, contents, ids), lambda f, st: None)
    assert (tmp_path / "big.psd").read_bytes() == contents["big.psd"]


def _damage(store: Store, file_id: str, nth: int) -> None:
    key = store.read_manifest(file_id).chunks[nth][0]
    row = store.index.get(ENTRY_CHUNK, key)
    assert row is not None
    damage_entry(store, row)


@pytest.mark.parametrize("direct", [True, False])
def test_a_damaged_chunk_stops_every_file_and_leaves_no_temp_file(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool) -> None:
    new = {f"shot/f{i}.psd": creative_bytes(".psd", DIRECT_BUFFER + 50_000 * i, 10 + i)
           for i in range(8)}
    ids = _put(store, new)
    root = tmp_path / "work"
    old = {name: b"old bytes of " + name.encode() for name in new}
    for name, data in old.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    bad = "shot/f5.psd"
    _damage(store, ids[bad], len(store.read_manifest(ids[bad]).chunks) // 2)
    done: list[str] = []
    started: list[str] = []
    import tempfile  # the writer imports it when it first writes

    real_mkstemp = tempfile.mkstemp

    def mkstemp(**kw: str) -> tuple[int, str]:
        started.append(kw["dir"])
        return real_mkstemp(**kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(CorruptObjectError) as err:
        WorktreeWriter(store, _no_blobs, workers=3, direct=direct).write(
            _plan(root, new, ids), lambda f, st: done.append(f.path))
    assert str(err.value).startswith(f"{bad}: stopped at damaged data in the store")
    assert ids[bad] in str(err.value) and "cvault fsck" in str(err.value)
    assert (root / bad).read_bytes() == old[bad]
    for name in new:  # every file holds its old bytes or its new bytes, nothing between
        assert (root / name).read_bytes() == (new[name] if name in done else old[name])
    assert len(started) <= len(done) + 3  # no file was started after the failure
    assert not _temp_files(root)


def test_disk_full_names_the_file(store: Store, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    contents = {"a.psd": creative_bytes(".psd", 200_000, 3)}
    ids = _put(store, contents)

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ww.os, "fsync", fsync)
    with pytest.raises(DiskFullError, match="disk full while writing it") as err:
        WorktreeWriter(store, _no_blobs).write(_plan(tmp_path, contents, ids),
                                               lambda f, st: None)
    assert err.value.path == "a.psd"
    assert not (tmp_path / "a.psd").exists() and not _temp_files(tmp_path)


def test_a_folder_in_the_way_and_other_write_errors(store: Store, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    contents = {"a.psd": b"A" * 5000}
    ids = _put(store, contents)
    (tmp_path / "a.psd").mkdir()
    with pytest.raises(WorktreeError, match="a folder is in the way"):
        WorktreeWriter(store, _no_blobs).write(_plan(tmp_path, contents, ids),
                                               lambda f, st: None)
    (tmp_path / "a.psd").rmdir()

    def replace(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ww.os, "replace", replace)
    with pytest.raises(WorktreeError, match=r"^a.psd: cannot write it \(Permission denied\)"):
        WorktreeWriter(store, _no_blobs).write(_plan(tmp_path, contents, ids),
                                               lambda f, st: None)
    assert not _temp_files(tmp_path)


def test_a_failing_callback_stops_the_files_in_flight(store: Store, tmp_path: Path) -> None:
    contents = {f"f{i}.psd": creative_bytes(".psd", 300_000, 20 + i) for i in range(6)}
    ids = _put(store, contents)
    calls = []

    def done(f: FileWrite, st: os.stat_result) -> None:
        calls.append(f.path)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        WorktreeWriter(store, _no_blobs, workers=2).write(_plan(tmp_path, contents, ids), done)
    assert len(calls) == 1
    assert not _temp_files(tmp_path)
    for name in contents:
        disk = tmp_path / name
        assert not disk.exists() or disk.read_bytes() == contents[name]
