"""push / fetch between vaults: what moves, in what order, and what a re-run moves.

A field laptop's vault pushes to a studio vault (empty at first), and a third vault
fetches from the studio; content is restored byte-exact from each receiver and checked
with the vault's fsck and the real ``git fsck --strict``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import creativevault as cv
from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    PushRejectedError,
    RemoteError,
    UsageError,
)
from creativevault.features.sync import engine
from creativevault.features.sync.content import ContentRef
from creativevault.features.sync.engine import RefChange, fetch, push
from creativevault.features.sync.peers import (
    LocalPeer,
    Peer,
    PeerOptions,
    SshPeer,
    stream_pair_for_tests,
)
from creativevault.features.sync.urls import parse_url
from creativevault.store.pack import ENTRY_CHUNK, FLAG_DELTA
from creativevault.types import Progress
from tests.unit.sync import (
    ART,
    NOTES,
    PHOTO,
    RAW,
    assert_whole,
    catted,
    copy_vault,
    edit_middle,
    file_id,
    make_vault,
    sha256,
    ssh_options,
    studio_files,
    vault_templates,
)
from tests.vaulttools import MB, assert_git_clean, commit_all, creative_bytes, write

BRANCH = "field/laptop"
REF = f"refs/heads/{BRANCH}"
FILES = studio_files(1)
STORED = (ART, PHOTO, RAW)  # NOTES is a plain git blob


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A field vault with the studio files committed, and an empty vault."""
    return vault_templates(tmp_path_factory.mktemp("templates"), FILES)


@pytest.fixture
def field(tmp_path: Path, templates: dict[str, Path]) -> Iterator[cv.Vault]:
    with cv.Vault.open(copy_vault(templates["field"], tmp_path / "field")) as vault:
        yield vault


@pytest.fixture
def studio(tmp_path: Path, templates: dict[str, Path]) -> Path:
    """An empty vault (its ``main`` unborn and checked out)."""
    return copy_vault(templates["empty"], tmp_path / "studio")


@pytest.fixture
def third(tmp_path: Path, templates: dict[str, Path]) -> Iterator[cv.Vault]:
    with cv.Vault.open(copy_vault(templates["empty"], tmp_path / "third")) as vault:
        yield vault


def local(path: Path, **options: Any) -> LocalPeer:
    return LocalPeer(parse_url(str(path)), PeerOptions(**options))


@contextlib.contextmanager
def session(path: Path) -> Iterator[LocalPeer]:
    peer = local(path)
    try:
        yield peer
    finally:
        peer.close()


def chunk_plan(vault: cv.Vault, rev: str, paths: tuple[str, ...]) -> tuple[int, int]:
    """(distinct chunks, their plain bytes) of the stored files at ``paths``."""
    chunks: dict[bytes, int] = {}
    for path in paths:
        for key, length in vault.store.read_manifest(file_id(vault, rev, path)).chunks:
            chunks[key] = length
    return len(chunks), sum(chunks.values())


def refs_of(path: Path) -> dict[str, str]:
    with cv.Vault.open(path) as vault:
        return {r: c for r, c in vault.git.all_ref_targets().items() if r != "HEAD"}


def packs_of(path: Path) -> set[str]:
    return set(os.listdir(path / ".git" / "cvault" / "packs"))


class Recorder:
    """A Peer that records the order of calls (and can fail one of them)."""

    def __init__(self, peer: Peer, fail: dict[str, Exception] | None = None) -> None:
        self.peer = peer
        self.name = peer.name
        self.calls: list[str] = []
        self.fail = fail or {}

    def __getattr__(self, op: str) -> Any:
        method = getattr(self.peer, op)

        def call(*args: Any) -> Any:
            self.calls.append(op)
            if op in self.fail:
                raise self.fail[op]
            return method(*args)

        return call


# -- push, then fetch into a third vault -------------------------------------------------

@pytest.mark.parametrize("kind", ["local", "stream", "ssh"])
def test_push_to_an_empty_vault_then_fetch_into_a_third(field: cv.Vault, studio: Path,
                                                        third: cv.Vault, kind: str,
                                                        request: pytest.FixtureRequest
                                                        ) -> None:
    c1 = field.git.head_commit()
    assert c1 is not None

    def connect() -> Peer:
        if kind == "local":
            return local(studio)
        if kind == "stream":
            return stream_pair_for_tests(studio)[0]
        sshd = request.getfixturevalue("sshd")
        return SshPeer(parse_url(sshd.url(studio)), ssh_options(sshd))

    peer = connect()
    with_chunks, plain_bytes = chunk_plan(field, "HEAD", STORED)
    try:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    finally:
        peer.close()
    assert report.refs == [RefChange(REF, None, c1)]
    assert (report.files, report.chunks, report.bytes) == (3, with_chunks, plain_bytes)
    assert report.unavailable == [] and not report.up_to_date
    assert field.git.ref(f"refs/remotes/studio/{BRANCH}") == c1
    assert refs_of(studio) == {REF: c1}
    assert_whole(studio)
    with cv.Vault.open(studio) as received:
        for path, data in FILES.items():
            assert catted(received, c1, path) == data, path

    peer = connect()
    try:
        got = fetch(third, peer, remote_name="studio")
    finally:
        peer.close()
    assert got.refs == [RefChange(f"refs/remotes/studio/{BRANCH}", None, c1)]
    assert (got.files, got.chunks, got.bytes) == (3, with_chunks, plain_bytes)
    assert_whole(third.root)
    third.checkout(c1)
    for path, data in FILES.items():
        assert sha256((third.root / path).read_bytes()) == sha256(data), path
    assert third.status().clean
    assert_git_clean(third.root)


def test_a_second_push_and_fetch_move_nothing(field: cv.Vault, studio: Path,
                                              third: cv.Vault) -> None:
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    before = packs_of(studio)
    with session(studio) as peer:
        again = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert again.up_to_date and (again.files, again.bytes, again.refs) == (0, 0, [])
    assert packs_of(studio) == before
    with session(studio) as peer:
        fetch(third, peer, remote_name="studio")
    before = packs_of(third.root)
    with session(studio) as peer:
        again = fetch(third, peer, remote_name="studio")
    assert again.up_to_date and (again.files, again.bytes, again.refs) == (0, 0, [])
    assert packs_of(third.root) == before


def test_an_edit_in_the_middle_moves_only_its_chunks(field: cv.Vault, studio: Path,
                                                     third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
        fetch(third, peer, remote_name="studio")
    edited = edit_middle(FILES[ART])
    write(field.root / ART, edited)
    c2 = commit_all(field, "cover: new logo").id
    cover_chunks = len(field.store.read_manifest(file_id(field, c2, ART)).chunks)
    assert cover_chunks >= 6

    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.refs == [RefChange(REF, c1, c2)]
    assert report.files == 1 and report.skipped_files == 0
    old_chunks = set(field.store.read_manifest(file_id(field, c1 or "", ART)).chunks)
    new_chunks = [c for c in field.store.read_manifest(file_id(field, c2, ART)).chunks
                  if c not in old_chunks]
    assert 1 <= report.chunks == len(new_chunks) <= 2 < cover_chunks
    assert report.bytes == sum(length for _key, length in new_chunks)
    with session(studio) as peer:
        got = fetch(third, peer, remote_name="studio")
    assert (got.files, got.chunks, got.bytes) == (1, report.chunks, report.bytes)
    for vault in (studio, third.root):
        with cv.Vault.open(vault) as received:
            assert catted(received, c2, ART) == edited
            assert catted(received, c1, ART) == FILES[ART]
        assert_whole(vault)


def test_every_version_of_a_file_edited_twice_in_one_push_arrives(field: cv.Vault,
                                                                 studio: Path) -> None:
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    first = edit_middle(FILES[RAW], seed=1)
    write(field.root / RAW, first)
    c2 = commit_all(field, "raw: exposure").id
    second = edit_middle(first, seed=2, length=100_000)
    write(field.root / RAW, second)
    c3 = commit_all(field, "raw: crop").id
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.files == 2
    with cv.Vault.open(studio) as received:
        assert catted(received, c2, RAW) == first
        assert catted(received, c3, RAW) == second
    assert_whole(studio)


def test_chunks_shared_between_files_move_once(field: cv.Vault, studio: Path) -> None:
    # A flattened export sharing the first 2 MB with the layered cover, and a plain copy.
    flat = FILES[ART][:2 * MB] + creative_bytes("flat.psd", 300_000, 42)
    write(field.root / "art/cover-flat.psd", flat)
    write(field.root / "art/cover-copy.psd", FILES[ART])
    commit_all(field, "exports")
    paths = (*STORED, "art/cover-flat.psd", "art/cover-copy.psd")
    chunks, plain_bytes = chunk_plan(field, "HEAD", paths)
    per_file = sum(len(field.store.read_manifest(file_id(field, "HEAD", p)).chunks)
                   for p in paths)
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.files == 4  # the copy is the same stored file as the cover
    assert (report.chunks, report.bytes) == (chunks, plain_bytes)
    assert per_file - report.chunks >= 5  # the shared 2 MB did not travel twice
    assert report.bytes < sum(len(d) for d in FILES.values()) + len(flat)
    with cv.Vault.open(studio) as received:
        assert catted(received, BRANCH, "art/cover-flat.psd") == flat
    assert_whole(studio)


def test_dry_run_moves_nothing(field: cv.Vault, studio: Path, third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    before = packs_of(studio)
    with session(studio) as peer:
        plan = push(field, peer, [("main", BRANCH)], remote_name="studio", dry_run=True)
    assert plan.dry_run and plan.refs == [RefChange(REF, None, c1)]
    assert (plan.files, plan.chunks, plan.bytes) == (3, *chunk_plan(field, "HEAD", STORED))
    assert packs_of(studio) == before and refs_of(studio) == {}
    with cv.Vault.open(studio) as untouched:
        assert not untouched.git.has_object(c1 or "")
    assert field.git.ref(f"refs/remotes/studio/{BRANCH}") is None

    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
        plan = fetch(third, peer, remote_name="studio", dry_run=True)
    assert plan.refs == [RefChange(f"refs/remotes/studio/{BRANCH}", None, c1)]
    assert refs_of(third.root) == {} and not third.git.has_object(c1 or "")
    assert third.store.stats().files == 0


def test_too_little_free_space_refuses_before_anything_is_sent(field: cv.Vault,
                                                               studio: Path) -> None:
    c1 = field.git.head_commit()
    before = packs_of(studio)
    peer = Recorder(local(studio))
    real_hello = peer.peer.hello
    peer.peer.hello = lambda: {**real_hello(), "free": 40 * MB}  # type: ignore[method-assign]
    with pytest.raises(DiskFullError) as refused:
        push(field, peer, [("main", BRANCH)], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    assert refused.value.retriable and "nothing was sent" in str(refused.value)
    assert not {"put", "put_pack", "update_refs"} & set(peer.calls)
    assert packs_of(studio) == before and refs_of(studio) == {}
    with cv.Vault.open(studio) as untouched:
        assert not untouched.git.has_object(c1 or "")
    assert field.git.ref(f"refs/remotes/studio/{BRANCH}") is None
    assert_whole(studio)


def test_a_full_drive_refuses_a_push_and_stays_valid(field: cv.Vault, full_drive) -> None:
    drive_vault = full_drive.path / "vault"
    cv.Vault.init(drive_vault).close()
    before = packs_of(drive_vault)
    with session(drive_vault) as peer, pytest.raises(DiskFullError):
        push(field, peer, [("main", BRANCH)], remote_name="drive")
    assert packs_of(drive_vault) == before and refs_of(drive_vault) == {}
    assert_whole(drive_vault)


def test_a_fetch_without_room_leaves_the_tracking_refs(field: cv.Vault, studio: Path,
                                                        third: cv.Vault,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    real = engine.shutil.disk_usage

    def tight(path: Any) -> Any:
        usage = real(path)
        return usage._replace(free=10 * MB) if Path(path) == third.store.root else usage

    monkeypatch.setattr(engine.shutil, "disk_usage", tight)
    with session(studio) as peer, pytest.raises(DiskFullError):
        fetch(third, peer, remote_name="studio")
    assert third.git.ref(f"refs/remotes/studio/{BRANCH}") is None
    assert third.store.stats().files == 0
    assert_whole(third.root)
    monkeypatch.undo()
    with session(studio) as peer:
        assert fetch(third, peer, remote_name="studio").files == 3
    assert_whole(third.root)


def test_content_the_sender_lacks_is_reported_and_the_ref_moves(field: cv.Vault,
                                                                studio: Path,
                                                                third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    field.store.drop_files([file_id(field, "HEAD", RAW)])  # a partial vault
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.unavailable == [RAW]
    assert report.files == 2 and report.refs == [RefChange(REF, None, c1)]
    assert refs_of(studio) == {REF: c1}
    with cv.Vault.open(studio) as received:
        result = received.fsck()
        assert not result.problems  # what is there is intact ...
        assert [m.split(" ")[0] for m in result.missing_content] == [RAW]  # ... RAW is not
        assert catted(received, c1, ART) == FILES[ART]
    with session(studio) as peer:
        got = fetch(third, peer, remote_name="studio")
    assert got.unavailable == [RAW] and got.files == 2
    assert third.git.ref(f"refs/remotes/studio/{BRANCH}") == c1


def test_push_order_is_content_then_objects_then_ref(field: cv.Vault, studio: Path) -> None:
    peer = Recorder(local(studio))
    push(field, peer, [("main", BRANCH)], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    calls = [c for i, c in enumerate(peer.calls) if i == 0 or peer.calls[i - 1] != c]
    assert calls == ["hello", "missing", "put", "put_done", "put_pack", "update_refs"]


def test_a_refused_ref_update_leaves_the_tracking_ref(field: cv.Vault, studio: Path) -> None:
    peer = Recorder(local(studio), fail={"update_refs": PushRejectedError("moved")})
    with pytest.raises(PushRejectedError):
        push(field, peer, [("main", BRANCH)], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    assert field.git.ref(f"refs/remotes/studio/{BRANCH}") is None
    assert refs_of(studio) == {}
    assert_whole(studio)
    with session(studio) as peer2:  # the content is there: the re-run only moves the ref
        again = push(field, peer2, [("main", BRANCH)], remote_name="studio")
    assert again.files == 0 and again.skipped_files == 3 and again.refs


def test_tracking_refs_move_only_after_the_content(field: cv.Vault, studio: Path,
                                                   third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")

    class Flaky(Recorder):
        gets = 0

        def get(self, etype: int, keys: list[bytes], *deltas: bool) -> Any:
            if etype == ENTRY_CHUNK:
                Flaky.gets += 1
                if Flaky.gets == 2:
                    raise RemoteError("connection lost")
            return self.peer.get(etype, keys, *deltas)

    flaky = Flaky(local(studio))
    with pytest.raises(RemoteError):
        fetch(third, flaky, remote_name="studio")  # type: ignore[arg-type]
    flaky.peer.close()
    assert third.git.ref(f"refs/remotes/studio/{BRANCH}") is None
    assert third.git.has_object(c1 or "")  # git objects come first; harmless unreferenced
    kept = third.store.stats().files
    assert 1 <= kept < 3  # the files completed before the failure are kept
    assert_whole(third.root)
    with session(studio) as peer:
        again = fetch(third, peer, remote_name="studio")
    assert again.files == 3 - kept and again.skipped_files == kept
    assert third.git.ref(f"refs/remotes/studio/{BRANCH}") == c1
    assert_whole(third.root)


def test_checked_out_branch_is_refused_before_anything_is_sent(field: cv.Vault,
                                                               studio: Path) -> None:
    peer = Recorder(local(studio))
    with pytest.raises(PushRejectedError, match="checked out"):
        push(field, peer, [("main", "main")], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    assert peer.calls == ["hello"]
    assert refs_of(studio) == {}


def test_a_rewind_is_refused_unless_forced(field: cv.Vault, studio: Path) -> None:
    c1 = field.git.head_commit()
    write(field.root / ART, edit_middle(FILES[ART]))
    c2 = commit_all(field, "cover").id
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
        with pytest.raises(PushRejectedError, match="fast-forward"):
            push(field, peer, [(c1 or "", BRANCH)], remote_name="studio")
        assert refs_of(studio) == {REF: c2}
        report = push(field, peer, [(c1 or "", BRANCH)], remote_name="studio", force=True)
    assert report.refs == [RefChange(REF, c2, c1 or "")] and report.files == 0
    assert refs_of(studio) == {REF: c1}


def test_fetch_names_branches_and_an_unnamed_remote(field: cv.Vault, studio: Path,
                                                    third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH), ("main", "field/backup")], remote_name=None)
        with pytest.raises(UsageError, match="no branch"):
            fetch(third, peer, remote_name=None, branches=["field/nope"])
        report = fetch(third, peer, remote_name=None, branches=[BRANCH])
    assert report.refs == [RefChange(f"refs/cvault/fetched/{BRANCH}", None, c1)]
    assert field.git.ref(f"refs/remotes/studio/{BRANCH}") is None  # no name, no tracking ref
    assert refs_of(studio) == {REF: c1, "refs/heads/field/backup": c1}


def test_fetch_without_content_brings_history_only(field: cv.Vault, studio: Path,
                                                   third: cv.Vault) -> None:
    c1 = field.git.head_commit()
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
        report = fetch(third, peer, remote_name="studio", content=False)
    assert report.files == 0 and third.git.has_object(c1 or "")
    assert third.store.stats().files == 0
    assert catted(third, c1 or "", NOTES) == FILES[NOTES]  # plain git files are history


def test_progress_reports_bytes_and_files(field: cv.Vault, studio: Path) -> None:
    class Seen(Progress):
        def __init__(self) -> None:
            self.total: int | None = None
            self.done = 0
            self.items: list[str] = []

        def start(self, label: str, total: int | None = None, unit: str = "B") -> None:
            self.total = total

        def advance(self, amount: int) -> None:
            self.done += amount

        def item(self, name: str) -> None:
            self.items.append(name)

    seen = Seen()
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio", progress=seen)
    assert seen.total == seen.done == report.bytes
    assert seen.items == sorted(STORED)


def test_a_push_that_cannot_fast_forward_is_refused_before_sending(field: cv.Vault,
                                                                   studio: Path,
                                                                   tmp_path: Path) -> None:
    """Another laptop pushed to the same branch first: nothing of this push travels."""
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    with make_vault(tmp_path / "other", {"other.psd": creative_bytes("o.psd", MB, 5)}) as o, \
            session(studio) as peer:
        push(o, peer, [("main", "field/other")], remote_name="studio")
    write(field.root / ART, edit_middle(FILES[ART]))
    commit_all(field, "cover")
    # the studio's field/laptop now points at a commit this laptop does not have
    with cv.Vault.open(studio) as received:
        received.git.update_ref(REF, received.git.branches()["field/other"],
                                received.git.branches()[BRANCH], "test: moved elsewhere")
    before = packs_of(studio)
    peer = Recorder(local(studio))
    with pytest.raises(PushRejectedError, match="fast-forward"):
        push(field, peer, [("main", BRANCH)], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    assert not {"put", "put_pack", "update_refs"} & set(peer.calls)
    assert packs_of(studio) == before


def test_damage_in_the_senders_store_stops_the_push_at_the_sender(field: cv.Vault,
                                                                  studio: Path) -> None:
    key = field.store.read_manifest(file_id(field, "HEAD", RAW)).chunks[1][0]
    row = field.store.index.get(ENTRY_CHUNK, key)
    assert row is not None
    with (field.store.packs_dir / row.pack).open("r+b") as f:
        f.seek(row.offset + row.stored_len)
        last = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([last[0] ^ 0x20]))
    with session(studio) as peer, pytest.raises(CorruptObjectError) as damaged:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert row.pack in str(damaged.value)  # names the sender's pack, not "arrived damaged"
    assert refs_of(studio) == {}
    assert_whole(studio)


@pytest.mark.parametrize("branch", ["a b", "field/x.lock", "field//x", "x:y", "x~1", ""])
def test_a_branch_name_git_refuses_is_refused_before_anything_moves(field: cv.Vault,
                                                                    studio: Path,
                                                                    branch: str) -> None:
    peer = Recorder(local(studio))
    with pytest.raises(UsageError, match="branch"):
        push(field, peer, [("main", branch)], remote_name="studio")  # type: ignore[arg-type]
    peer.peer.close()
    assert not {"put", "put_pack", "update_refs"} & set(peer.calls)
    assert refs_of(studio) == {}
    assert not [r for r in field.git.all_ref_targets() if r.startswith("refs/remotes/")]


def test_a_push_that_fits_with_the_margin_is_accepted_by_the_receiver(
        field: cv.Vault, studio: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan and the receiver agree: 5 MB into a drive with 70 MB free (the 64 MiB
    safety margin included) goes through; 60 MB free is refused before anything moves."""
    real = shutil.disk_usage
    free = {"bytes": 70 * MB}

    def studio_drive(path: Any) -> Any:
        usage = real(path)
        return usage._replace(free=free["bytes"]) if str(path).startswith(str(studio)) \
            else usage

    monkeypatch.setattr(shutil, "disk_usage", studio_drive)
    free["bytes"] = 60 * MB
    with session(studio) as peer, pytest.raises(DiskFullError, match="nothing was sent"):
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    free["bytes"] = 70 * MB
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.files == 3 and refs_of(studio) == {REF: field.git.head_commit()}


# -- deltas ------------------------------------------------------------------------------

TOUCHED = [edit_middle(FILES[ART], seed=11, length=600)]
TOUCHED.append(edit_middle(TOUCHED[0], seed=12, length=400))


def touch_up(vault: cv.Vault) -> list[str]:
    """Commit two touch-ups of the cover after the first commit; the commits, oldest first
    (the touched chunks are stored as deltas against the first version's)."""
    commits = [vault.git.head_commit()]
    for data in TOUCHED:
        write(vault.root / ART, data)
        commits.append(commit_all(vault, "cover: touch-up").id)
    assert delta_rows(vault.root)
    return commits  # type: ignore[return-value]


def delta_rows(path: Path) -> dict[bytes, bytes]:
    """delta key -> base key, in the store of the vault at ``path``."""
    with cv.Vault.open(path) as vault:
        return {r.key: r.base for r in vault.store.index.rows(etype=ENTRY_CHUNK)
                if r.flags & FLAG_DELTA}


def versions_read_back(path: Path, commits: list[str]) -> None:
    with cv.Vault.open(path) as vault:
        for commit, data in zip(commits, [FILES[ART], *TOUCHED], strict=True):
            assert catted(vault, commit, ART) == data


class OlderPeer:
    """A peer as a cvault from before deltas answers: no 'deltas' in hello, get takes
    two arguments."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.name = peer.name

    def hello(self) -> dict[str, Any]:
        info = dict(self.peer.hello())
        info.pop("deltas")
        return info

    def get(self, etype: int, keys: list[bytes]) -> Any:
        return self.peer.get(etype, keys)

    def __getattr__(self, op: str) -> Any:
        return getattr(self.peer, op)


@pytest.mark.parametrize("kind", ["local", "stream"])
def test_deltas_travel_as_deltas_in_a_push_and_a_fetch(field: cv.Vault, studio: Path,
                                                       third: cv.Vault, kind: str) -> None:
    commits = touch_up(field)
    sent = delta_rows(field.root)

    def connect() -> Peer:
        return local(studio) if kind == "local" else stream_pair_for_tests(studio)[0]

    peer = connect()
    try:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    finally:
        peer.close()
    assert delta_rows(studio) == sent  # every base travelled too, first
    assert_whole(studio)
    versions_read_back(studio, commits)
    peer = connect()
    try:
        fetch(third, peer, remote_name="studio")
    finally:
        peer.close()
    assert delta_rows(third.root) == sent
    assert_whole(third.root)
    versions_read_back(third.root, commits)


def test_a_pushed_touch_up_costs_its_delta_when_the_remote_holds_the_base(
        field: cv.Vault, studio: Path) -> None:
    with session(studio) as peer:
        push(field, peer, [("main", BRANCH)], remote_name="studio")
    before = packs_of(studio)
    commits = touch_up(field)
    with session(studio) as peer:
        report = push(field, peer, [("main", BRANCH)], remote_name="studio")
    assert report.files == 2 and report.chunks >= 2
    new = packs_of(studio) - before
    grew = sum((studio / ".git" / "cvault" / "packs" / n).stat().st_size for n in new)
    assert grew < 20_000, grew  # the deltas and two manifests, not whole chunks
    assert delta_rows(studio) == delta_rows(field.root)
    assert_whole(studio)
    versions_read_back(studio, commits[:1] + commits[1:])


def test_an_older_peer_is_sent_and_sends_expanded_chunks(field: cv.Vault, studio: Path,
                                                         third: cv.Vault) -> None:
    commits = touch_up(field)
    with session(studio) as peer:
        push(field, OlderPeer(peer), [("main", BRANCH)],  # type: ignore[arg-type]
             remote_name="studio")
    assert delta_rows(studio) == {}
    assert_whole(studio)
    versions_read_back(studio, commits)
    with session(field.root) as peer:  # the field vault holds deltas; asked by an older client
        fetch(third, OlderPeer(peer), remote_name="field")  # type: ignore[arg-type]
    assert delta_rows(third.root) == {}
    assert_whole(third.root)
    versions_read_back(third.root, commits)


@pytest.mark.parametrize("order", ["base first", "delta first"])
def test_a_delta_goes_after_its_base_or_expanded_when_the_receiver_lacks_it(
        field: cv.Vault, studio: Path, third: cv.Vault, order: str) -> None:
    commits = touch_up(field)
    refs = {fid: ContentRef(fid, 0, ART) for fid in
            (file_id(field, c, ART) for c in commits)}
    if order == "delta first":
        refs = dict(reversed(list(refs.items())))
    latest = file_id(field, commits[-1], ART)
    # only the latest version: its deltas' bases are not sent, so the deltas go expanded
    with session(studio) as peer:
        engine.send_content(field, peer, {latest: refs[latest]},
                            engine.TransferReport("push", "studio"), free=1 << 40, deltas=True)
    with cv.Vault.open(studio) as vault:
        assert catted_id(vault, latest) == TOUCHED[-1]
    assert delta_rows(studio) == {}
    # every version, in either order: each base goes before its delta
    with session(studio) as peer:
        engine.send_content(field, peer, refs, engine.TransferReport("push", "studio"),
                            free=1 << 40, deltas=True)
    assert set(delta_rows(studio)) < set(delta_rows(field.root))  # less what went expanded
    assert delta_rows(studio)
    # and fetched the same ways, from the vault holding the deltas
    with session(field.root) as peer:
        engine.fetch_content(third, peer, {latest: refs[latest]},
                             engine.TransferReport("fetch", "field"))
        assert delta_rows(third.root) == {}
        engine.fetch_content(third, peer, refs, engine.TransferReport("fetch", "field"),
                             deltas=True)
    assert delta_rows(third.root) == delta_rows(studio)
    for path in (studio, third.root):
        with cv.Vault.open(path) as vault:
            for fid, data in zip(
                    (file_id(field, c, ART) for c in commits), [FILES[ART], *TOUCHED],
                    strict=True):
                assert catted_id(vault, fid) == data


def catted_id(vault: cv.Vault, fid: str) -> bytes:
    out = io.BytesIO()
    vault.store.write_file_to(fid, out)
    return out.getvalue()
