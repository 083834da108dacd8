"""The stat cache: round trip at scale, the racy-timestamp rule, corrupt files."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import msgpack
import pytest

from creativevault.repo.statcache import (
    FORMAT_NAME,
    FORMAT_VERSION,
    RACY_GRANULARITY_NS,
    StatCache,
    StatEntry,
    fingerprint,
    git_mode,
    index_signature,
)

BLOB = "a" * 40
FILE_ID = hashlib.sha256(b"x").hexdigest()


def _entry(i: int) -> StatEntry:
    managed = i % 3 == 0
    return StatEntry(
        size=i * 1000,
        mtime_ns=1_600_000_000_000_000_000 + i,
        ino=2**63 + i,
        ctime_ns=1_600_000_000_000_000_000 + 2 * i,
        mode=0o100644,
        blob_id=hashlib.sha1(str(i).encode()).hexdigest(),
        file_id=hashlib.sha256(str(i).encode()).hexdigest() if managed else None,
    )


def test_round_trip_100k(tmp_path: Path) -> None:
    cache = StatCache()
    for i in range(100_000):
        cache.set(f"shoot/day{i % 37:02d}/IMG_{i:06d}.CR3", _entry(i))
    cache.head = "b" * 40
    cache.index_sig = (123456, 1_700_000_000_000_000_000)
    path = tmp_path / ".git" / "cvault" / "statcache.msgpack"
    cache.save(path)
    assert not list(path.parent.glob("*.tmp*"))

    # Loading takes ~0.13 s here (target < 0.5 s); timing is for benchmarks, not this suite.
    loaded = StatCache.load(path)
    assert len(loaded) == 100_000
    assert loaded.head == "b" * 40
    assert loaded.index_sig == (123456, 1_700_000_000_000_000_000)
    assert loaded.written_ns == cache.written_ns > 0
    for i in (0, 1, 2, 99_999):
        assert loaded.get(f"shoot/day{i % 37:02d}/IMG_{i:06d}.CR3") == _entry(i)
    assert dict(loaded.items()) == dict(cache.items())


def test_saved_file_is_sorted_and_deterministic(tmp_path: Path) -> None:
    a, b = StatCache(), StatCache()
    for name in ["z.psd", "a.psd", "m/k.png"]:
        a.set(name, _entry(1))
    for name in ["m/k.png", "z.psd", "a.psd"]:
        b.set(name, _entry(1))
    a.save(tmp_path / "a")
    doc = msgpack.unpackb((tmp_path / "a").read_bytes())
    assert list(doc["entries"]) == ["a.psd", "m/k.png", "z.psd"]
    assert doc["format"] == FORMAT_NAME and doc["version"] == FORMAT_VERSION
    assert isinstance(doc["entries"]["a.psd"][5], bytes)


def test_get_set_remove(tmp_path: Path) -> None:
    cache = StatCache()
    assert cache.get("x") is None
    cache.set("x", _entry(3))
    assert "x" in cache and len(cache) == 1
    assert cache.get("x") == _entry(3)
    assert cache.remove("x") is True
    assert cache.remove("x") is False
    cache.set("y", _entry(3))
    cache.clear()
    assert len(cache) == 0


def test_sha256_repository_blob_ids(tmp_path: Path) -> None:
    cache = StatCache()
    cache.set("x", _entry(1)._replace(blob_id="c" * 64))
    cache.save(tmp_path / "c")
    assert StatCache.load(tmp_path / "c").get("x").blob_id == "c" * 64


def _file(tmp_path: Path, name: str, mtime_ns: int) -> tuple[Path, os.stat_result]:
    path = tmp_path / name
    path.write_bytes(b"content")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path, os.lstat(path)


def test_matches_and_racy_rule(tmp_path: Path) -> None:
    now = time.time_ns()
    old_path, old_st = _file(tmp_path, "old.psd", now - 60 * 10**9)
    racy_path, racy_st = _file(tmp_path, "racy.psd", now - RACY_GRANULARITY_NS // 2)
    cache = StatCache()
    cache.set("old.psd", StatEntry.from_stat(old_st, BLOB, FILE_ID))
    cache.set("racy.psd", StatEntry.from_stat(racy_st, BLOB, None))
    # Never saved: nothing is trusted yet.
    assert not cache.matches("old.psd", old_st)

    cache.save(tmp_path / "cache")
    loaded = StatCache.load(tmp_path / "cache")
    assert loaded.matches("old.psd", old_st)
    assert cache.matches("old.psd", old_st)
    # Modified within the granularity of the write: not trusted, although stat is equal.
    assert not loaded.matches("racy.psd", racy_st)
    assert not loaded.matches("missing.psd", old_st)

    # A later save makes it trustworthy (its mtime is now well before written_ns).
    loaded.written_ns = now + 2 * RACY_GRANULARITY_NS
    assert loaded.matches("racy.psd", racy_st)

    # Any change of a stat field breaks the match.
    old_path.write_bytes(b"changed!")
    os.utime(old_path, ns=(old_st.st_mtime_ns, old_st.st_mtime_ns))
    assert not loaded.matches("old.psd", os.lstat(old_path))
    os.chmod(racy_path, 0o600)
    assert not loaded.matches("racy.psd", os.lstat(racy_path))


def test_fingerprint(tmp_path: Path) -> None:
    _, st = _file(tmp_path, "f", 10**18)
    fp = fingerprint(st)
    assert fp == (st.st_size, 10**18, st.st_ino, st.st_ctime_ns, git_mode(st))
    assert StatEntry.from_stat(st, BLOB, None).fingerprint == fp


def test_index_signature(tmp_path: Path) -> None:
    assert index_signature(tmp_path / "index") is None
    (tmp_path / "index").write_bytes(b"DIRC")
    assert index_signature(tmp_path / "index") == (4, os.stat(tmp_path / "index").st_mtime_ns)


def _valid_doc() -> dict:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "written_ns": 5, "head": None,
            "index_sig": None, "entries": {"a": [1, 2, 3, 4, 5, b"\x01" * 20, None]}}


def _with(**changes: object) -> bytes:
    doc = _valid_doc()
    doc.update(changes)
    return msgpack.packb(doc)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00garbage\xff",
        b"\xc1",
        msgpack.packb([1, 2, 3]),
        msgpack.packb(_valid_doc())[:-3],
        msgpack.packb(_valid_doc()) + b"\x00",
        _with(format="something-else"),
        _with(version=2),
        _with(written_ns="yesterday"),
        _with(head=123),
        _with(index_sig=[1]),
        _with(entries=[]),
        _with(entries={"a": [1, 2, 3]}),
        _with(entries={"a": [1, 2, 3, 4, 5, "not bytes", None]}),
        _with(entries={"a": [1, 2, 3, 4, 5, b"\x01" * 19, None]}),
        _with(entries={"a": [1, 2, 3, 4, 5, b"\x01" * 20, b"short"]}),
        _with(entries={"a": [1, 2.5, 3, 4, 5, b"\x01" * 20, None]}),
        _with(entries={b"a": [1, 2, 3, 4, 5, b"\x01" * 20, None]}),
    ],
)
def test_corrupt_or_unknown_file_is_an_empty_cache(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "statcache.msgpack"
    path.write_bytes(data)
    cache = StatCache.load(path)
    assert len(cache) == 0
    assert cache.written_ns == 0 and cache.head is None and cache.index_sig is None


def test_valid_minimal_doc_loads(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_bytes(_with(head="d" * 40, index_sig=[7, 8]))
    cache = StatCache.load(path)
    assert cache.get("a") == StatEntry(1, 2, 3, 4, 5, "01" * 20, None)
    assert cache.head == "d" * 40 and cache.index_sig == (7, 8) and cache.written_ns == 5


def test_missing_file_and_directory_are_empty(tmp_path: Path) -> None:
    assert len(StatCache.load(tmp_path / "nope")) == 0
    assert len(StatCache.load(tmp_path)) == 0
