"""Delta chunks (docs/formats/pack.md, "Delta entries"): written for an edited file given
its previous version, read back byte-exact, never chained, verified with their base, and
kept alive (with their bases) by gc, drop, fsck and an index rebuild."""

from __future__ import annotations

import contextlib
import io
import os
import random
import sqlite3
from pathlib import Path

import pytest

from creativevault.errors import CorruptObjectError
from creativevault.store import Store
from creativevault.store.alignment import Alignment
from creativevault.store.index import IndexRow
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_HEADER_SIZE, FLAG_DELTA
from tests.vaulttools import damage_entry, flip_byte

from .conftest import SMALL_CHUNKS, mixed_bytes

V1 = mixed_bytes(400_000, seed=31)


def edited(data: bytes, seed: int, edits: int = 3, length: int = 300) -> bytes:
    """``data`` with a few small regions painted over, one insertion and one deletion:
    what an artist's touch-up does to a layered file."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(edits):
        at = rng.randrange(0, len(out) - length)
        out[at:at + length] = rng.randbytes(length)
    at = rng.randrange(0, len(out))
    out[at:at] = rng.randbytes(500)
    at = rng.randrange(0, len(out) - 700)
    del out[at:at + 700]
    return bytes(out)


V2 = edited(V1, seed=1)
V3 = edited(V2, seed=2)


def put(store: Store, data: bytes, similar_to: str | None = None) -> str:
    with store.writer() as writer:
        return writer.put_bytes(data, similar_to=similar_to).file_id


def read(store: Store, fid: str) -> bytes:
    out = io.BytesIO()
    store.write_file_to(fid, out)
    return out.getvalue()


def deltas(store: Store) -> list[IndexRow]:
    return [r for r in store.index.rows(etype=ENTRY_CHUNK) if r.flags & FLAG_DELTA]


def history(store: Store) -> tuple[str, str, str]:
    f1 = put(store, V1)
    f2 = put(store, V2, similar_to=f1)
    f3 = put(store, V3, similar_to=f2)
    return f1, f2, f3


# -- writing and reading -----------------------------------------------------------------


def test_an_edited_file_is_stored_as_small_deltas_and_reads_byte_exact(store: Store,
                                                                       tmp_path: Path) -> None:
    f1 = put(store, V1)
    before = store.stats().pack_bytes
    with store.writer() as writer:
        stored = writer.put_bytes(V2, similar_to=f1)
    rows = deltas(store)
    assert rows, "the changed chunks were stored as deltas"
    for row in rows:
        base = store.index.get(ENTRY_CHUNK, row.base)  # type: ignore[arg-type]
        assert base is not None and not base.flags & FLAG_DELTA
        assert row.base in {k for k, _ in store.read_manifest(f1).chunks}
    assert read(store, f1) == V1 and read(store, stored.file_id) == V2
    # Against the same edit stored without the hint: a fraction of the bytes.
    plain = Store.init(tmp_path / "plain", chunker=store.chunker)
    put(plain, V1)
    plain_before = plain.stats().pack_bytes
    put(plain, V2)
    grew, grew_plain = store.stats().pack_bytes - before, plain.stats().pack_bytes - plain_before
    assert grew < 0.2 * grew_plain, (grew, grew_plain)
    assert stored.added_bytes == grew - len(b"CVPACK\r\n") - 8  # one new pack's entries
    plain.close()


def test_deltas_never_chain(store: Store) -> None:
    f1, f2, f3 = history(store)
    rows = deltas(store)
    assert rows
    full = {r.key for r in store.index.rows(etype=ENTRY_CHUNK) if not r.flags & FLAG_DELTA}
    assert all(r.base in full for r in rows)  # a delta's base is never a delta
    assert (read(store, f1), read(store, f2), read(store, f3)) == (V1, V2, V3)


def test_a_hint_the_store_lacks_or_no_hint_stores_chunks_in_full(store: Store) -> None:
    f1 = put(store, V1)
    put(store, V2, similar_to="ab" * 32)  # not stored here
    put(store, edited(V1, seed=9), similar_to="not a file id")
    put(store, edited(V1, seed=8))
    assert deltas(store) == []
    assert read(store, f1) == V1


def test_a_delta_is_kept_only_when_clearly_smaller(store: Store) -> None:
    f1 = put(store, V1)
    unrelated = random.Random(5).randbytes(len(V1))  # nothing in common with V1
    fid = put(store, unrelated, similar_to=f1)
    assert deltas(store) == []
    assert read(store, fid) == unrelated


def test_a_damaged_hint_or_base_costs_only_the_deltas(store: Store) -> None:
    from blake3 import blake3

    from creativevault.store.chunker import iter_chunks

    f1 = put(store, V1)
    shared = {blake3(bytes(c)).digest() for c in iter_chunks(io.BytesIO(V2), store.chunker)}
    for row in store.index.rows(etype=ENTRY_CHUNK):  # every possible base is damaged
        if row.key not in shared:
            damage_entry(store, row, 0x55)
    f2 = put(store, V2, similar_to=f1)
    assert deltas(store) == []
    assert read(store, f2) == V2


# -- damage ------------------------------------------------------------------------------


def test_a_missing_base_is_named_with_the_file(store: Store) -> None:
    _f1, f2, _f3 = history(store)
    row = next(r for r in deltas(store)
               if r.key in {k for k, _ in store.read_manifest(f2).chunks})
    store.index.remove(ENTRY_CHUNK, [row.base])  # type: ignore[list-item]
    with pytest.raises(CorruptObjectError) as err:
        read(store, f2)
    message = str(err.value)
    assert f2 in message and row.base.hex() in message and "missing" in message  # type: ignore[union-attr]
    report = store.fsck()
    assert not report.ok
    [problem] = [p for p in report.problems if p.object_id == row.key.hex()]
    assert problem.kind == "corrupt-chunk" and f2 in problem.affected_files


def damage_a_base_of(store: Store, file_id: str) -> tuple[IndexRow, IndexRow]:
    """Damage the stored base of one delta chunk of ``file_id``; return the rows of the
    delta and of its base."""
    row = next(r for r in deltas(store)
               if r.key in {k for k, _ in store.read_manifest(file_id).chunks})
    base = store.index.get(ENTRY_CHUNK, row.base)  # type: ignore[arg-type]
    assert base is not None
    damage_entry(store, base, 0x55)
    return row, base


def test_a_damaged_base_is_named_with_the_file_and_fsck_flags_both(store: Store) -> None:
    f1, f2, _f3 = history(store)
    row, base = damage_a_base_of(store, f2)
    with pytest.raises(CorruptObjectError) as err:
        read(store, f2)
    assert f2 in str(err.value) and base.key.hex() in str(err.value)
    report = store.fsck()
    kinds = {p.object_id: p for p in report.problems}
    assert kinds[base.key.hex()].kind == "corrupt-chunk"
    assert f1 in kinds[base.key.hex()].affected_files
    assert kinds[row.key.hex()].kind == "corrupt-chunk"
    assert "delta base" in kinds[row.key.hex()].detail
    assert f2 in kinds[row.key.hex()].affected_files


def test_fsck_flags_a_broken_delta(store: Store) -> None:
    _f1, f2, _f3 = history(store)
    assert store.fsck().ok
    row = deltas(store)[0]
    flip_byte(store.packs_dir / row.pack, row.offset + ENTRY_HEADER_SIZE + row.stored_len - 2)
    report = store.fsck()
    [problem] = report.problems
    assert (problem.kind, problem.pack, problem.offset) == ("corrupt-chunk", row.pack, row.offset)
    assert problem.affected_files
    with pytest.raises(CorruptObjectError):
        for fid in problem.affected_files:
            read(store, fid)


def test_fsck_flags_an_index_row_that_names_another_base(store: Store) -> None:
    history(store)
    row = deltas(store)[0]
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE entries SET base=? WHERE type=1 AND key=?", (b"\x01" * 32, row.key))
    report = store.fsck()
    assert any(p.kind == "bad-index-row" and p.object_id == row.key.hex() for p in report.problems)
    with pytest.raises(CorruptObjectError, match="base differs"):
        store._read_chunk(row.key, row.plain_len, "x", store.index.get(ENTRY_CHUNK, row.key))


def test_a_base_that_is_itself_a_delta_is_refused(store: Store) -> None:
    history(store)
    first, second = deltas(store)[:2]
    # point one delta's row at another delta as its base, as damage could
    header, stored = store.read_stored(second)
    store.index.remove(ENTRY_CHUNK, [second.base])  # type: ignore[list-item]
    store.index.add([IndexRow(ENTRY_CHUNK, second.base, first.pack, first.offset,  # type: ignore[arg-type]
                              first.stored_len, first.plain_len, first.flags, first.plain_len,
                              first.base)])
    with pytest.raises(CorruptObjectError, match="itself a delta"):
        store.read_base(second.base, what="base")  # type: ignore[arg-type]


# -- gc, drop and rebuild ----------------------------------------------------------------


def _age(store: Store, seconds: float = 30 * 24 * 3600.0) -> None:
    import time

    old = time.time() - seconds
    for name in os.listdir(store.packs_dir):
        os.utime(store.packs_dir / name, (old, old))


def test_gc_keeps_the_bases_of_live_deltas(store: Store) -> None:
    f1, f2, f3 = history(store)
    _age(store)
    report = store.gc([f3])
    assert report.removed_manifests == 2
    assert read(store, f3) == V3
    assert not store.has_file(f1) and not store.has_file(f2)
    assert store.fsck().ok
    for row in deltas(store):
        assert store.index.contains(ENTRY_CHUNK, row.base)  # type: ignore[arg-type]
    _age(store)
    store.gc([])
    assert store.stats().chunks == 0


def test_drop_keeps_a_base_while_a_delta_on_it_stays(store: Store) -> None:
    f1, f2, f3 = history(store)
    store.drop_files([f1])
    assert read(store, f2) == V2 and read(store, f3) == V3
    store.drop_files([f2])
    assert read(store, f3) == V3
    assert store.fsck().ok
    store.drop_files([f3])
    assert store.stats().chunks == 0 and store.stats().files == 0


def test_rebuild_index_restores_deltas_and_their_bases(store: Store) -> None:
    f1, f2, f3 = history(store)
    # gc rewrites the first pack (its manifest goes) under a new random name, so bases
    # may now sit in a pack scanned after their deltas' pack
    _age(store)
    store.gc([f2, f3])
    before = sorted(r.as_tuple() for r in store.index.rows())
    assert any(r[8] is not None for r in before)
    store.rebuild_index()
    assert sorted(r.as_tuple() for r in store.index.rows()) == before
    root = store.root
    store.close()
    (root / "index.sqlite").unlink()
    reopened = Store.open(root)
    assert sorted(r.as_tuple() for r in reopened.index.rows()) == before
    assert [read(reopened, f) for f in (f2, f3)] == [V2, V3]
    assert not reopened.has_file(f1)
    reopened.close()


def test_rebuild_index_leaves_out_a_delta_whose_base_is_damaged(store: Store) -> None:
    _f1, f2, _f3 = history(store)
    _row, base = damage_a_base_of(store, f2)
    store.rebuild_index()
    assert not store.index.contains(ENTRY_CHUNK, base.key)
    dependants = [r for r in deltas(store) if r.base == base.key]
    assert dependants == []


def test_copy_files_brings_a_history_of_deltas_over_expanded_and_exact(
        store: Store, tmp_path: Path) -> None:
    from creativevault.store.transfer import copy_files

    fids = history(store)
    assert deltas(store)
    with contextlib.closing(Store.init(tmp_path / "other", chunker=SMALL_CHUNKS)) as target:
        put(target, V1)  # already there: only what is missing travels
        report = copy_files(store, target)
        assert report.files == 2
        assert [read(target, fid) for fid in fids] == [V1, V2, V3]
        assert deltas(target) == []  # expanded: the target may lack a base
        assert target.fsck().ok
        assert copy_files(store, target).files == 0


# -- alignment ---------------------------------------------------------------------------


def test_alignment_pairs_a_changed_chunk_with_the_old_chunk_in_its_place() -> None:
    old = [(b"a", 100), (b"b", 100), (b"c", 100), (b"d", 100)]
    align = Alignment(old)
    assert align.observe(b"a", 0, 100)
    # "b" changed and grew by 20 bytes: the new chunk at 100 is paired with old "b"
    assert not align.observe(b"B", 100, 120)
    assert align.base_for(100) == b"b"
    assert align.observe(b"c", 220, 100)
    # after the shared "c" the alignment resynchronises: the chunk at 320 is old "d"
    assert align.base_for(320) == b"d"
    assert align.base_for(10_000) == b"d"  # past the old end: its last chunk
    assert Alignment([]).base_for(0) is None


def test_alignment_is_not_pulled_back_by_repeated_chunks() -> None:
    old = [(b"z", 10), (b"x", 10), (b"z", 10), (b"y", 10)]
    align = Alignment(old)
    align.observe(b"z", 0, 10)
    align.observe(b"x", 10, 10)
    align.observe(b"z", 20, 10)  # the second "z", not the first
    assert align.base_for(30) == b"y"
