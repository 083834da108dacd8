"""Ingest: entries from another store, verified before they are written, published in
steps, kept when the transfer is cut off, discarded when the disk fails."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    LockedError,
    ObjectMissingError,
    StoreError,
)
from creativevault.store import ChunkerParams, Store
from creativevault.store import pack as pack_mod
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_MANIFEST, FLAG_DELTA, FLAG_ZSTD
from creativevault.store.transfer import (
    MAX_ENTRY,
    Entry,
    Ingest,
    expand,
    manifest_of,
    missing_keys,
    read_entries,
)
from tests.unit.sync import FailingDrive, edit_middle
from tests.vaulttools import creative_bytes

SMALL = ChunkerParams.for_average(16 * 1024)
KIB = 1024


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[str], list[bytes]]]:
    """A store holding a "PSD", its edited version (sharing most chunks) and a "RAW"."""
    store = Store.init(tmp_path_factory.mktemp("source") / "cvault", chunker=SMALL)
    psd = creative_bytes("a.psd", 600 * KIB, 3)
    datas = [psd, edit_middle(psd, length=2000), creative_bytes("b.nef", 400 * KIB, 4)]
    with store.writer() as writer:
        ids = [writer.put_bytes(d).file_id for d in datas]
    yield store, ids, datas
    store.close()


@pytest.fixture
def dest(tmp_path: Path) -> Iterator[Store]:
    store = Store.init(tmp_path / "dest", chunker=SMALL, lock_timeout=0.3)
    yield store
    store.close()


def entries(store: Store, fid: str) -> list[Entry]:
    """A file's chunks (each once, in order), then its manifest: what a sender sends."""
    keys = list(dict.fromkeys(k for k, _ in store.read_manifest(fid).chunks))
    return [*read_entries(store, ENTRY_CHUNK, keys),
            *read_entries(store, ENTRY_MANIFEST, [bytes.fromhex(fid)])]


def restored(store: Store, fid: str) -> bytes:
    out = io.BytesIO()
    store.write_file_to(fid, out)
    return out.getvalue()


def published(store: Store) -> list[str]:
    return sorted(n for n in os.listdir(store.packs_dir) if pack_mod.is_pack_name(n))


def temp_packs(store: Store) -> list[str]:
    return [n for n in os.listdir(store.packs_dir) if n.endswith(".tmp")]


def assert_valid(store: Store) -> None:
    report = store.fsck()
    assert report.ok, [p.describe() for p in report.problems]
    assert temp_packs(store) == []


# -- copying -----------------------------------------------------------------------------

def test_files_arrive_byte_exact(source, dest: Store) -> None:
    store, ids, datas = source
    sent: list[Entry] = []
    with Ingest(dest) as ingest:
        for fid in ids:
            for entry in entries(store, fid):
                if ingest.add(entry):
                    sent.append(entry)
    report = ingest.report
    assert report.files == 3 and report.chunks == sum(e.etype == ENTRY_CHUNK for e in sent)
    assert report.bytes == sum(e.wire_size for e in sent)
    assert report.skipped > 0  # the edited PSD shares chunks with the original
    assert report.packs == 1 == len(published(dest))
    for fid, data in zip(ids, datas, strict=True):
        assert restored(dest, fid) == data
        assert hashlib.sha256(data).hexdigest() == fid
    # stored as it travelled: compressed chunks stay compressed, byte for byte
    for entry in sent:
        row = dest.index.get(entry.etype, entry.key)
        assert row is not None and dest.read_stored(row)[1] == entry.stored
    assert any(e.flags & FLAG_ZSTD for e in sent)
    assert_valid(dest)


def test_present_entries_are_skipped_not_written(source, dest: Store) -> None:
    store, ids, _datas = source
    batch = entries(store, ids[0])
    with Ingest(dest) as ingest:
        for entry in batch:
            ingest.add(entry)
        # the same chunk again while it is still in the unpublished pack
        assert ingest.add(batch[0]) is False
    packs = published(dest)
    with Ingest(dest) as again:
        assert [again.add(e) for e in batch] == [False] * len(batch)
    assert (again.report.chunks, again.report.files, again.report.bytes,
            again.report.skipped, again.report.packs) == (0, 0, 0, len(batch), 0)
    assert published(dest) == packs
    assert_valid(dest)


def test_a_manifest_sent_twice_in_one_session_is_stored_once(source, dest: Store) -> None:
    store, ids, _datas = source
    batch = entries(store, ids[2])
    with Ingest(dest) as ingest:
        for entry in batch:
            ingest.add(entry)
        assert ingest.add(batch[-1]) is False
    assert ingest.report.files == 1 and ingest.report.skipped == 1
    assert_valid(dest)


def test_missing_keys_keeps_order_and_drops_duplicates(source, dest: Store) -> None:
    store, ids, _datas = source
    keys = [e.key for e in entries(store, ids[0]) if e.etype == ENTRY_CHUNK]
    with Ingest(dest) as ingest:
        for entry in read_entries(store, ENTRY_CHUNK, keys[::2]):
            ingest.add(entry)
    asked = keys + list(reversed(keys))
    assert missing_keys(dest, ENTRY_CHUNK, asked) == keys[1::2]
    assert missing_keys(dest, ENTRY_MANIFEST, [bytes.fromhex(ids[0])]) == [bytes.fromhex(ids[0])]
    assert missing_keys(dest, ENTRY_CHUNK, []) == []
    with pytest.raises(ObjectMissingError):
        list(read_entries(dest, ENTRY_CHUNK, [keys[1]]))


# -- verification ------------------------------------------------------------------------

def _plain(entry: Entry) -> bytes:
    import zstandard

    if entry.flags & FLAG_ZSTD:
        return zstandard.ZstdDecompressor().decompress(entry.stored,
                                                       max_output_size=entry.plain_len)
    return entry.stored


def test_damaged_entries_are_refused_and_nothing_of_them_is_written(source, dest: Store
                                                                    ) -> None:
    store, ids, _datas = source
    batch = entries(store, ids[2])
    chunk, manifest = batch[0], batch[-1]
    raw = bytearray(_plain(chunk))
    raw[100] ^= 1
    damaged = [
        Entry(ENTRY_CHUNK, chunk.key, chunk.plain_len, 0, bytes(raw)),
        chunk._replace(plain_len=chunk.plain_len - 1),
        chunk._replace(stored=chunk.stored[:-5]),
        chunk._replace(flags=4),
        chunk._replace(key=b"short"),
        chunk._replace(etype=3),
        Entry(ENTRY_CHUNK, chunk.key, MAX_ENTRY + 1, 0, b""),
        manifest,  # before its chunks
        manifest._replace(stored=b"\x93\x01\x02"),
    ]
    with Ingest(dest) as ingest:
        for entry in damaged:
            with pytest.raises(CorruptObjectError):
                ingest.add(entry)
        assert ingest.report.to_json() == {"chunks": 0, "files": 0, "bytes": 0,
                                           "skipped": 0, "packs": 0}
        # the session goes on: good entries after refused ones are taken
        for entry in batch:
            ingest.add(entry)
    assert ingest.report.files == 1
    assert restored(dest, ids[2]) == source[2][2]
    assert_valid(dest)


def test_manifest_of_checks_what_it_decodes(source) -> None:
    store, ids, _datas = source
    batch = entries(store, ids[0])
    assert manifest_of(batch[-1]).size == 600 * KIB
    with pytest.raises(CorruptObjectError, match="another type"):
        manifest_of(batch[0])
    with pytest.raises(CorruptObjectError):
        manifest_of(batch[-1]._replace(stored=b"\xc1garbage", flags=0))


# -- publishing --------------------------------------------------------------------------

def test_publishes_every_publish_every_bytes(source, dest: Store) -> None:
    store, ids, datas = source
    batch = entries(store, ids[0])
    visible_during: list[int] = []
    with Ingest(dest, publish_every=64 * KIB) as ingest:
        for entry in batch:
            ingest.add(entry)
            # another reader (a second Store object) sees what was published so far
            with Store.open(dest.root) as reader:
                visible_during.append(reader.stats().chunks)
                assert reader.fsck().ok  # never a manifest before its chunks
    total = sum(e.wire_size for e in batch)
    assert ingest.report.packs == len(published(dest)) >= total // (64 * KIB)
    assert visible_during == sorted(visible_during) and visible_during[len(batch) // 2] > 0
    for name in published(dest):  # no pack is far above the step
        assert (dest.packs_dir / name).stat().st_size < 64 * KIB + max(
            e.wire_size for e in batch) + 16
    assert restored(dest, ids[0]) == datas[0]
    assert_valid(dest)


def test_what_was_verified_is_kept_when_an_exception_leaves_the_block(source, dest: Store
                                                                      ) -> None:
    store, ids, datas = source
    batch = entries(store, ids[0])
    half = len(batch) // 2
    with pytest.raises(ConnectionResetError), Ingest(dest) as ingest:
        for entry in batch[:half]:
            ingest.add(entry)
        raise ConnectionResetError("the sender went away")
    assert ingest.report.packs == 1
    assert missing_keys(dest, ENTRY_CHUNK, [e.key for e in batch[:half]]) == []
    assert not dest.has_file(ids[0])
    assert_valid(dest)
    # The lock was released, and the re-run sends only the rest.
    with Ingest(dest) as again:
        for entry in batch:
            again.add(entry)
    assert again.report.chunks == len(batch) - 1 - half and again.report.skipped == half
    assert restored(dest, ids[0]) == datas[0]


def test_the_store_lock_is_held_for_the_session(source, dest: Store) -> None:
    with Ingest(dest), Store.open(dest.root, lock_timeout=0.2) as other, \
            pytest.raises(LockedError):
        Ingest(other).__enter__()
    with Ingest(dest):
        pass


# -- write failures ----------------------------------------------------------------------

@pytest.mark.parametrize("error, raised", [(errno.EIO, StoreError),
                                           (errno.ENOSPC, DiskFullError)])
def test_a_write_failure_discards_only_the_pack_being_written(source, tmp_path: Path,
                                                              error: int, raised: type) -> None:
    store, ids, datas = source
    batch = entries(store, ids[0])
    total = sum(e.wire_size for e in batch)
    drive = FailingDrive(budget=total * 2 // 3, error=error)
    dest = Store.init(tmp_path / "drive", chunker=SMALL, opener=drive)
    with pytest.raises(raised) as failed, Ingest(dest, publish_every=64 * KIB) as ingest:
        for entry in batch:
            ingest.add(entry)
    assert type(failed.value) is raised
    assert str(dest.root) in str(failed.value)
    kept = ingest.report.packs
    assert kept >= 1 and len(published(dest)) == kept
    assert temp_packs(dest) == []  # the pack being written was discarded
    assert not dest.has_file(ids[0])
    assert_valid(dest)
    # after the failure the session refuses more, and leaving it raises nothing more
    with pytest.raises(StoreError, match="already failed"):
        ingest.add(batch[-2])
    dest.close()

    with Store.open(tmp_path / "drive") as replugged, Ingest(replugged) as again:
        for entry in batch:
            again.add(entry)
    assert 0 < again.report.skipped < len(batch)
    with Store.open(tmp_path / "drive") as replugged:
        assert restored(replugged, ids[0]) == datas[0]
        assert_valid(replugged)


def test_a_failing_publish_discards_the_pack(source, dest: Store,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids, _datas = source
    batch = entries(store, ids[1])

    def unplugged(self: pack_mod.PackWriter) -> str:
        raise OSError(errno.EIO, "Input/output error")

    ingest = Ingest(dest)
    with ingest:
        for entry in batch:
            ingest.add(entry)
        monkeypatch.setattr(pack_mod.PackWriter, "publish", unplugged)
        with pytest.raises(StoreError, match="Input/output error"):
            ingest.publish()
    monkeypatch.undo()
    assert published(dest) == [] and temp_packs(dest) == []
    assert missing_keys(dest, ENTRY_CHUNK, [batch[0].key]) == [batch[0].key]
    assert_valid(dest)


def test_a_failing_disk_from_the_first_byte(source, tmp_path: Path) -> None:
    store, ids, _datas = source
    dest = Store.init(tmp_path / "dead", chunker=SMALL, opener=FailingDrive(budget=0))
    with pytest.raises(StoreError), Ingest(dest) as ingest:
        ingest.add(entries(store, ids[2])[0])
    assert published(dest) == [] and temp_packs(dest) == []
    dest.close()


def test_random_entry_order_never_publishes_a_manifest_without_its_chunks(source,
                                                                          dest: Store
                                                                          ) -> None:
    store, ids, datas = source
    everything = [e for fid in ids for e in entries(store, fid)]
    random.Random(5).shuffle(everything)
    refused = 0
    with Ingest(dest, publish_every=32 * KIB) as ingest:
        for entry in everything:
            try:
                ingest.add(entry)
            except CorruptObjectError:
                refused += 1  # a manifest that came before one of its chunks
    assert_valid(dest)
    with Ingest(dest) as again:  # a re-run in the right order completes
        for fid in ids:
            for entry in entries(store, fid):
                again.add(entry)
    assert again.report.files == refused
    for fid, data in zip(ids, datas, strict=True):
        assert restored(dest, fid) == data


# -- deltas ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def with_deltas(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Store, list[str], list[bytes]]]:
    """A store holding a "PSD" and two touched-up versions, stored as deltas."""
    store = Store.init(tmp_path_factory.mktemp("deltas") / "cvault", chunker=SMALL)
    v1 = creative_bytes("a.psd", 600 * KIB, 5)
    datas = [v1, edit_middle(v1, length=300), edit_middle(edit_middle(v1, length=300),
                                                          seed=9, length=200)]
    ids: list[str] = []
    for data in datas:
        with store.writer() as writer:
            ids.append(writer.put_bytes(data, similar_to=ids[-1] if ids else None).file_id)
    assert any(r.flags & FLAG_DELTA for r in store.index.rows(etype=ENTRY_CHUNK))
    yield store, ids, datas
    store.close()


def as_stored(store: Store, fid: str) -> list[Entry]:
    """A file's chunks as stored (deltas as deltas), then its manifest."""
    keys = list(dict.fromkeys(k for k, _ in store.read_manifest(fid).chunks))
    return [*read_entries(store, ENTRY_CHUNK, keys, deltas=True),
            *read_entries(store, ENTRY_MANIFEST, [bytes.fromhex(fid)])]


def test_deltas_arrive_after_their_bases_and_stay_deltas(with_deltas, dest: Store) -> None:
    store, ids, datas = with_deltas
    with Ingest(dest, publish_every=64 * KIB) as ingest:
        for fid in ids:  # the first version holds every base, in the same or an earlier pack
            for entry in as_stored(store, fid):
                ingest.add(entry)
    sent_deltas = [e for fid in ids for e in as_stored(store, fid) if e.flags & FLAG_DELTA]
    assert sent_deltas
    for entry in sent_deltas:
        row = dest.index.get(ENTRY_CHUNK, entry.key)
        assert row is not None and row.base == entry.base and row.flags == FLAG_DELTA
    for fid, data in zip(ids, datas, strict=True):
        assert restored(dest, fid) == data
    assert_valid(dest)


def test_a_delta_whose_base_is_in_the_same_unpublished_pack_is_verified(with_deltas,
                                                                       dest: Store) -> None:
    store, ids, datas = with_deltas
    with Ingest(dest) as ingest:  # everything in one pack: bases never indexed before
        for entry in [*as_stored(store, ids[0]), *as_stored(store, ids[2])]:
            ingest.add(entry)
    assert ingest.report.packs == 1
    assert restored(dest, ids[2]) == datas[2]
    assert_valid(dest)


def test_a_delta_without_its_base_is_refused_naming_the_base(with_deltas, dest: Store) -> None:
    store, ids, _datas = with_deltas
    delta = next(e for e in as_stored(store, ids[1]) if e.flags & FLAG_DELTA)
    assert delta.base is not None
    with Ingest(dest) as ingest, pytest.raises(CorruptObjectError,
                                              match=f"before the delta base {delta.base.hex()}"):
        ingest.add(delta)
    assert dest.stats().chunks == 0
    # expanded, the same chunk is accepted on its own
    with Ingest(dest) as ingest:
        assert ingest.add(expand(store, delta.key))
    row = dest.index.get(ENTRY_CHUNK, delta.key)
    assert row is not None and row.base is None and not row.flags & FLAG_DELTA
    assert_valid(dest)


def test_damaged_or_malformed_deltas_are_refused(with_deltas, dest: Store) -> None:
    store, ids, _datas = with_deltas
    base_entries = as_stored(store, ids[0])
    delta = next(e for e in as_stored(store, ids[1]) if e.flags & FLAG_DELTA)
    with Ingest(dest) as ingest:
        for entry in base_entries:
            ingest.add(entry)
        frame = bytearray(delta.stored)
        frame[-3] ^= 0x40
        bad = [
            (delta._replace(stored=bytes(frame)), ""),
            (delta._replace(flags=FLAG_DELTA | FLAG_ZSTD), "flags"),
            (delta._replace(etype=ENTRY_MANIFEST), "flags"),
            (delta._replace(stored=delta.stored[:32]), "flags"),
            (delta._replace(plain_len=delta.plain_len + 1), ""),
            (delta._replace(key=b"\x08" * 32), "hash check"),  # decodes, to other bytes
        ]
        for entry, says in bad:
            with pytest.raises(CorruptObjectError, match=says or None):
                ingest.add(entry)
        # a base that is itself a delta (arrived in this ingest) is refused
        ingest.add(delta)
        chained = delta._replace(key=b"\x07" * 32, stored=delta.key + delta.stored[32:])
        with pytest.raises(CorruptObjectError, match="itself a delta"):
            ingest.add(chained)
    assert_valid(dest)


def test_read_entries_expands_deltas_unless_asked(with_deltas) -> None:
    store, ids, datas = with_deltas
    keys = [k for k, _ in store.read_manifest(ids[1]).chunks]
    stored = list(read_entries(store, ENTRY_CHUNK, keys, deltas=True))
    expanded = list(read_entries(store, ENTRY_CHUNK, keys))
    assert any(e.flags & FLAG_DELTA for e in stored)
    assert not any(e.flags & FLAG_DELTA for e in expanded)
    assert [e.key for e in stored] == [e.key for e in expanded] == keys
    plain = b"".join(zstandard.ZstdDecompressor().decompress(e.stored, max_output_size=e.plain_len)
                     if e.flags & FLAG_ZSTD else e.stored for e in expanded)
    assert plain == datas[1]
    with pytest.raises(ObjectMissingError):
        expand(store, b"\x00" * 32)
