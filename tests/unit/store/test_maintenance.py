from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from creativevault.errors import CorruptObjectError
from creativevault.store import Store
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_HEADER_SIZE, ENTRY_MANIFEST
from tests.vaulttools import damage_entry, flip_byte

from .conftest import SMALL_CHUNKS, mixed_bytes

DAY = 24 * 3600.0


def _store_two(store: Store) -> tuple[str, str, bytes, bytes]:
    a, b = mixed_bytes(300_000, seed=11), mixed_bytes(300_000, seed=12)
    with store.writer() as w:
        fa = w.put_bytes(a).file_id
        fb = w.put_bytes(b).file_id
    return fa, fb, a, b


def _age(store: Store, seconds: float) -> None:
    old = time.time() - seconds
    for name in os.listdir(store.packs_dir):
        os.utime(store.packs_dir / name, (old, old))


# -- fsck ----------------------------------------------------------------------------------


def test_clean_store_passes_fsck(store: Store) -> None:
    _store_two(store)
    report = store.fsck()
    assert report.ok and report.problems == []
    assert report.checked_files == 2 and report.checked_chunks == store.stats().chunks


def test_flipped_byte_is_named_and_never_served(store: Store) -> None:
    fa, fb, a, _ = _store_two(store)
    manifest = store.read_manifest(fa)
    third_key = manifest.chunks[2][0]
    row = store.index.get(ENTRY_CHUNK, third_key)
    assert row is not None
    damage_entry(store, row, 0x55)

    report = store.fsck()
    assert not report.ok
    [problem] = report.problems
    assert problem.kind == "corrupt-chunk" and problem.pack == row.pack
    assert problem.offset == row.offset and problem.object_id == third_key.hex()
    assert problem.affected_files == [fa]
    line = problem.describe()
    assert row.pack in line and fa in line and str(row.offset) in line

    yielded = []
    with pytest.raises(CorruptObjectError) as info:
        for data in store.iter_file(fa):
            yielded.append(data)
    assert len(yielded) == 2  # the damaged third chunk was never handed out
    assert b"".join(yielded) == a[: manifest.chunks[0][1] + manifest.chunks[1][1]]
    assert row.pack in str(info.value) and fa in str(info.value)
    assert info.value.offset == row.offset and info.value.corrupt
    out = io.BytesIO()
    with pytest.raises(CorruptObjectError):
        store.write_file_to(fa, out)
    assert _store_read_ok(store, fb)


def _store_read_ok(store: Store, file_id: str) -> bool:
    return store.write_file_to(file_id, io.BytesIO()) == store.file_size(file_id)


def test_hash_mismatch_with_valid_crc_is_caught(store: Store) -> None:
    fa, *_ = _store_two(store)
    key = store.read_manifest(fa).chunks[0][0]
    row = store.index.get(ENTRY_CHUNK, key)
    assert row is not None
    # Point the row's key at another chunk's entry: the pack bytes are intact, the hash is not.
    other = store.index.get(ENTRY_CHUNK, store.read_manifest(fa).chunks[1][0])
    assert other is not None
    store.index.replace_pack("nothing", [])
    db = store.index._db
    db.execute("UPDATE entries SET offset=?, stored_len=?, plain_len=? WHERE key=?",
               (other.offset, other.stored_len, other.plain_len, key))
    with pytest.raises(CorruptObjectError, match="does not match the index"):
        list(store.iter_file(fa))


def test_fsck_finds_missing_chunks_packs_and_unindexed_packs(store: Store) -> None:
    fa, fb, *_ = _store_two(store)
    key = store.read_manifest(fb).chunks[0][0]
    store.index._db.execute("DELETE FROM entries WHERE type=1 AND key=?", (key,))
    [pack] = os.listdir(store.packs_dir)
    shutil.copy(store.packs_dir / pack, store.packs_dir / ("pack-" + "0" * 32 + ".pack"))
    report = store.fsck()
    kinds = {p.kind: p for p in report.problems}
    assert kinds["missing-chunk"].object_id == key.hex()
    assert kinds["missing-chunk"].affected_files == [fb]
    # an unindexed pack is what an interrupted write leaves: a note, not damage
    assert "unindexed-pack" not in kinds
    assert [n.pack for n in report.notes if n.kind == "unindexed-pack"] == [
        "pack-" + "0" * 32 + ".pack"]
    os.remove(store.packs_dir / pack)
    report = store.fsck()
    missing = [p for p in report.problems if p.kind == "missing-pack"]
    assert missing and missing[0].pack == pack
    assert set(missing[0].affected_files) == {fa, fb}
    assert "affects files" in missing[0].describe()


def test_fsck_truncated_pack_and_corrupt_manifest(store: Store) -> None:
    fa, fb, *_ = _store_two(store)
    mrow = store.index.get(ENTRY_MANIFEST, bytes.fromhex(fb))
    assert mrow is not None
    flip_byte(store.packs_dir / mrow.pack, mrow.offset + ENTRY_HEADER_SIZE + 3)
    report = store.fsck()
    corrupt = [p for p in report.problems if p.kind == "corrupt-manifest"]
    assert corrupt and corrupt[0].affected_files == [fb]
    path = store.packs_dir / mrow.pack
    path.write_bytes(path.read_bytes()[:-3])
    report = store.fsck()
    kinds = {p.kind for p in report.problems}
    assert "truncated-pack" in kinds and "bad-index-row" in kinds


def test_rebuild_index_from_packs(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "s", chunker=SMALL_CHUNKS, pack_target_size=200_000)
    fa, fb, a, b = _store_two(store)
    rows = sorted(r.as_tuple() for r in store.index.rows())
    store.index._db.execute("DELETE FROM entries")
    assert not store.has_file(fa)
    assert store.rebuild_index() == len(rows)
    assert sorted(r.as_tuple() for r in store.index.rows()) == rows
    store.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "s" / f"index.sqlite{suffix}").unlink(missing_ok=True)
    reopened = Store.open(tmp_path / "s")  # a lost index is rebuilt on open
    assert reopened.write_file_to(fb, io.BytesIO()) == len(b)
    # damaged entries and packs are skipped, the rest is kept
    packs = sorted(os.listdir(reopened.packs_dir))
    p0 = reopened.packs_dir / packs[0]
    flip_byte(p0, 16 + ENTRY_HEADER_SIZE + 1)
    p1 = reopened.packs_dir / packs[1]
    p1.write_bytes(p1.read_bytes()[:-1])
    assert 0 < reopened.rebuild_index() < len(rows)
    reopened.close()


# -- gc ------------------------------------------------------------------------------------


def test_gc_keeps_recent_packs(store: Store) -> None:
    fa, fb, *_ = _store_two(store)
    report = store.gc([])
    assert report.kept_recent == 1 and report.removed_packs == 0
    assert store.has_file(fa) and store.has_file(fb)


def test_gc_removes_unreachable_old_packs_and_dry_run(store: Store) -> None:
    fa, fb, *_ = _store_two(store)
    _age(store, 30 * DAY)
    before = store.stats()
    plan = store.gc([], dry_run=True)
    assert plan.dry_run and plan.removed_packs == 1 and plan.freed_bytes == before.pack_bytes
    assert store.stats() == before
    report = store.gc([])
    assert report.removed_packs == 1 and report.removed_manifests == 2
    assert report.removed_chunks == before.chunks
    assert store.stats().packs == 0 and not store.has_file(fa)
    assert store.fsck().ok


def test_gc_rewrites_mixed_packs(store: Store) -> None:
    fa, fb, a, b = _store_two(store)
    _age(store, 30 * DAY)
    before = store.stats()
    report = store.gc([fa])
    assert report.rewritten_packs == 1 and report.removed_manifests == 1
    assert report.removed_chunks > 0 and report.freed_bytes > 0
    assert store.has_file(fa) and not store.has_file(fb)
    out = io.BytesIO()
    store.write_file_to(fa, out)
    assert out.getvalue() == a
    assert store.stats().pack_bytes == before.pack_bytes - report.freed_bytes
    assert store.fsck().ok
    # a second pass has nothing to do for the fresh pack
    assert store.gc([fa], now=time.time() + 30 * DAY).rewritten_packs == 0


def test_gc_recent_manifests_protect_old_chunks(store: Store) -> None:
    data = mixed_bytes(300_000, seed=13)
    with store.writer() as w:
        w.put_bytes(data)
    _age(store, 30 * DAY)
    with store.writer() as w:  # a new file sharing every chunk, not yet referenced by git
        fresh = w.put_bytes(data + b"new tail").file_id
    report = store.gc([])
    assert report.kept_recent == 1
    assert store.write_file_to(fresh, io.BytesIO()) == len(data) + 8
    assert store.fsck().ok


def test_gc_removes_stale_temp_packs(store: Store) -> None:
    temp = store.packs_dir / ("pack-" + "a" * 32 + ".pack.tmp")
    temp.write_bytes(b"half written")
    assert store.gc([]).removed_temp_packs == 0
    _age(store, 30 * DAY)
    report = store.gc([], dry_run=True)
    assert report.removed_temp_packs == 1 and temp.exists()
    store.gc([])
    assert not temp.exists()


def test_gc_refuses_to_guess_on_a_damaged_live_manifest(store: Store) -> None:
    fa, *_ = _store_two(store)
    mrow = store.index.get(ENTRY_MANIFEST, bytes.fromhex(fa))
    assert mrow is not None
    flip_byte(store.packs_dir / mrow.pack, mrow.offset + ENTRY_HEADER_SIZE + 3)
    _age(store, 30 * DAY)
    with pytest.raises(CorruptObjectError):
        store.gc([fa])
    assert store.stats().packs == 1


# -- crash safety --------------------------------------------------------------------------

_CRASH_SCRIPT = r"""
import io, os, sys
from pathlib import Path
from creativevault.store import Store

class Endless(io.RawIOBase):
    def readable(self): return True
    def readinto(self, b):
        n = len(b)
        b[:n] = os.urandom(n)
        return n

store = Store.open(Path(sys.argv[1]), pack_target_size=256 * 1024)
with store.writer() as w:
    w.put_bytes(b"committed in the killed session? no")
    w.put_stream(Endless(), name="endless")
"""


def test_sigkill_mid_write_leaves_a_valid_store(tmp_path: Path) -> None:
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("POSIX only")
    root = tmp_path / "cvault"
    store = Store.init(root, chunker=SMALL_CHUNKS)
    with store.writer() as w:
        kept = w.put_bytes(mixed_bytes(200_000, seed=14)).file_id
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", _CRASH_SCRIPT, str(root)], env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(os.listdir(root / "packs")) < 4:
            time.sleep(0.02)
        assert proc.poll() is None, "writer ended before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (root / "lock").exists()  # left behind by the dead writer
    store.close()

    store = Store.open(root, lock_timeout=5.0)
    assert store.write_file_to(kept, io.BytesIO()) == 200_000
    with store.writer() as w:  # breaks the dead process's lock
        after = w.put_bytes(mixed_bytes(100_000, seed=15)).file_id
    assert store.has_file(after)
    report = store.fsck()
    assert report.ok, [p.describe() for p in report.problems]
    assert store.stats().files == 2  # nothing of the killed session became visible
    _age(store, 30 * DAY)
    store.gc([kept, after])
    assert not [n for n in os.listdir(root / "packs") if n.endswith(".tmp")]
    assert store.fsck().ok
    store.close()
