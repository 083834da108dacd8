"""Store.drop_files: what a drop removes (only chunks no other stored file uses), what it
keeps, readers of other files, and crashes in the middle of the repack."""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from creativevault.errors import ObjectMissingError
from creativevault.store import Store
from creativevault.store import pack as pack_mod
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_MANIFEST

from .conftest import mixed_bytes

SHARED = mixed_bytes(300_000, seed=20)
A = SHARED + mixed_bytes(200_000, seed=21)  # a layered file ...
B = SHARED + mixed_bytes(150_000, seed=22)  # ... and its flattened export, sharing the start
C = mixed_bytes(250_000, seed=23)  # unrelated


def put(store: Store, *datas: bytes) -> list[str]:
    with store.writer() as writer:
        return [writer.put_bytes(d).file_id for d in datas]


def chunks(store: Store, fid: str) -> set[bytes]:
    return {k for k, _ in store.read_manifest(fid).chunks}


def read(store: Store, fid: str) -> bytes:
    out = io.BytesIO()
    store.write_file_to(fid, out)
    return out.getvalue()


def packs(store: Store) -> list[str]:
    return sorted(n for n in os.listdir(store.packs_dir) if pack_mod.is_pack_name(n))


def pack_bytes(store: Store) -> int:
    return sum((store.packs_dir / n).stat().st_size for n in os.listdir(store.packs_dir))


def assert_valid(store: Store) -> None:
    report = store.fsck()
    assert report.ok, [p.describe() for p in report.problems]
    assert not [n for n in os.listdir(store.packs_dir) if n.endswith(".tmp")]


def test_drop_removes_only_chunks_no_other_file_uses(store: Store) -> None:
    fa, fb, fc = put(store, A, B, C)
    only_a = chunks(store, fa) - chunks(store, fb) - chunks(store, fc)
    shared = chunks(store, fa) & chunks(store, fb)
    assert only_a and len(shared) >= 5
    size = pack_bytes(store)

    report = store.drop_files([fa])

    assert not store.has_file(fa)
    assert report.removed_manifests == 1 and report.removed_chunks == len(only_a)
    for key in only_a:
        assert not store.index.contains(ENTRY_CHUNK, key)
    for key in shared:
        assert store.index.contains(ENTRY_CHUNK, key)
    assert read(store, fb) == B and read(store, fc) == C
    assert report.freed_bytes > 0 and pack_bytes(store) == size - report.freed_bytes
    assert_valid(store)


def test_dropping_every_file_that_shares_a_chunk_removes_it(store: Store) -> None:
    fa, fb, fc = put(store, A, B, C)
    both = chunks(store, fa) | chunks(store, fb)
    report = store.drop_files([fa, fb])
    assert report.removed_chunks == len(both - chunks(store, fc))
    assert not any(store.index.contains(ENTRY_CHUNK, k) for k in both - chunks(store, fc))
    assert read(store, fc) == C
    assert_valid(store)


def test_dropping_everything_removes_the_packs(store: Store) -> None:
    ids = put(store, A, C)
    report = store.drop_files(ids)
    assert report.removed_packs == 1 and packs(store) == []
    assert store.stats().chunks == 0 and store.stats().files == 0
    assert_valid(store)


def test_dry_run_changes_nothing(store: Store) -> None:
    fa, fb, _fc = put(store, A, B, C)
    before = (packs(store), pack_bytes(store), store.stats())
    plan = store.drop_files([fa], dry_run=True)
    assert plan.dry_run and plan.removed_manifests == 1 and plan.removed_chunks > 0
    assert (packs(store), pack_bytes(store), store.stats()) == before
    assert read(store, fa) == A
    assert store.drop_files([fa]).removed_chunks == plan.removed_chunks


def test_unknown_and_malformed_ids(store: Store) -> None:
    (fc,) = put(store, C)
    before = packs(store)
    absent = "ab" * 32
    report = store.drop_files([absent])
    assert report.removed_chunks == report.removed_manifests == 0 and packs(store) == before
    with pytest.raises(ObjectMissingError):
        store.drop_files(["not-a-file-id"])
    assert read(store, fc) == C


def test_readers_of_other_files_are_not_disturbed(store: Store) -> None:
    fa, fb, fc = put(store, A, B, C)
    # One reader is in the middle of the export (its pack file is open); another has not
    # opened any pack yet. Both are separate Store objects, as other processes would be.
    with Store.open(store.root) as busy, Store.open(store.root) as fresh:
        stream = busy.iter_file(fb)
        first = next(stream)
        report = store.drop_files([fa])
        assert report.rewritten_packs == 1  # the pack the reader has open was replaced
        assert first + b"".join(stream) == B
        assert read(busy, fc) == C
        assert read(fresh, fb) == B and read(fresh, fc) == C
        with pytest.raises(ObjectMissingError):
            read(fresh, fa)


# -- crashes in the middle ---------------------------------------------------------------

def _named_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """New packs get increasing names (pack-000…01, -02, …): the order drop walks them."""
    counter = itertools.count(1)
    monkeypatch.setattr(pack_mod.secrets, "token_hex", lambda n: f"{next(counter):0{2 * n}x}")


def _two_packs(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """A and C in the first pack; B, written later, reuses A's first chunks there and puts
    its manifest and own chunks in a second pack."""
    _named_in_order(monkeypatch)
    fa, fc = put(store, A, C)
    (fb,) = put(store, B)
    assert len(packs(store)) == 2
    assert store.index.get(ENTRY_MANIFEST, bytes.fromhex(fb)).pack == packs(store)[1]
    return fa, fb, fc


class Crash(Exception):
    """Stands for the process dying at this point."""


def _crash_on(calls: int, real: Callable, *, before: bool = True) -> Callable:
    count = itertools.count(1)

    def wrapper(*args, **kwargs):
        n = next(count)
        if n == calls and before:
            raise Crash
        result = real(*args, **kwargs)
        if n == calls:
            raise Crash
        return result

    return wrapper


CRASH_POINTS = {
    # while the kept entries are copied into the new pack
    "copying": lambda mp, st: mp.setattr(pack_mod.PackWriter, "append",
                                         _crash_on(3, pack_mod.PackWriter.append)),
    # the new pack is durable, the index still points at the old one
    "before the index moves": lambda mp, st: mp.setattr(
        st.index, "replace_pack", _crash_on(1, st.index.replace_pack)),
    # the index moved, the old pack is not deleted yet
    "before the old pack is deleted": lambda mp, st: mp.setattr(
        st._reader, "forget", _crash_on(1, st._reader.forget)),
    # one pack rewritten, the next not started
    "between packs": lambda mp, st: mp.setattr(
        Store, "_gc_pack", _crash_on(1, Store._gc_pack, before=False)),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_a_crash_during_the_repack_leaves_the_store_valid(store: Store,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          point: str) -> None:
    fa, fb, fc = _two_packs(store, monkeypatch)
    CRASH_POINTS[point](monkeypatch, store)
    with pytest.raises(Crash):
        store.drop_files([fa, fb])
    monkeypatch.undo()

    with Store.open(store.root) as after:  # what the next process finds
        report = after.fsck()
        assert report.ok, [p.describe() for p in report.problems]
        for fid, data in ((fa, A), (fb, B)):
            if after.has_file(fid):  # not dropped yet: still whole
                assert read(after, fid) == data
        assert read(after, fc) == C
        # the same drop run again finishes the job
        after.drop_files([fa, fb])
        assert not after.has_file(fa) and not after.has_file(fb)
        assert read(after, fc) == C
        assert not (chunks(after, fc) ^ {r.key for r in after.index.rows(etype=ENTRY_CHUNK)})
        assert_valid(after)


def test_a_killed_drop_leaves_only_notes(store: Store, tmp_path: Path) -> None:
    """A drop that stops between the pack rename and the index commit leaves an unindexed
    pack: a note for gc, not a problem."""
    fa, _fb, fc = put(store, A, B, C)
    real = store.index.replace_pack
    store.index.replace_pack = _crash_on(1, real)  # type: ignore[method-assign]
    with pytest.raises(Crash):
        store.drop_files([fa])
    store.index.replace_pack = real  # type: ignore[method-assign]
    report = store.fsck()
    assert report.ok and [n.kind for n in report.notes] == ["unindexed-pack"]
    # the file was dropped (its manifest goes first, in one transaction); the others are
    # whole, and the journal lets the next drop finish reclaiming the space
    assert not store.has_file(fa) and read(store, fc) == C
    assert (store.root / "drop-pending").exists()
    store.drop_files([])
    assert not (store.root / "drop-pending").exists() and store.fsck().ok
    assert read(store, fc) == C


def test_an_unreadable_drop_journal_is_ignored(store: Store) -> None:
    """A damaged ``drop-pending`` (say a disk error mid-write) only leaves unreferenced
    data behind for gc: the next drop works and never removes what a file still uses."""
    fa, fb, fc = put(store, A, B, C)
    (store.root / "drop-pending").write_bytes(b"\xc1 not msgpack")
    store.drop_files([fa])
    assert not (store.root / "drop-pending").exists()
    assert not store.has_file(fa)
    assert read(store, fb) == B and read(store, fc) == C
    assert store.fsck().ok
