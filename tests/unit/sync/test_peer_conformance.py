"""One conformance suite for every kind of Peer (docs/formats/remote-protocol.md).

Each test runs against a vault reached four ways: ``LocalPeer`` on a path, ``StreamPeer``
over in-memory pipes to a server thread, ``SshPeer`` through a real OpenSSH server
running ``cvault serve``, and ``LocalPeer`` on a real exFAT drive. The remote vault has
work of its own (``main``, checked out there); the sender is a studio vault with a
layered "PSD", a camera "RAW", a JPEG and notes. Errors must arrive as the same class
whichever way the vault is reached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zstandard

import creativevault as cv
from creativevault.errors import (
    CorruptObjectError,
    GitError,
    ObjectMissingError,
    PushRejectedError,
    RemoteError,
    UsageError,
)
from creativevault.features.sync.content import content_introduced
from creativevault.features.sync.peers import (
    PEER_KINDS,
    LocalPeer,
    Peer,
    PeerOptions,
    SshPeer,
    StreamPeer,
    open_peer,
    stream_pair_for_tests,
)
from creativevault.features.sync.urls import parse_url
from creativevault.features.sync.wire import PROTOCOL
from creativevault.repo.gitsync import read_pack, write_pack
from creativevault.store.manifest import Manifest
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_MANIFEST, FLAG_DELTA, FLAG_ZSTD
from creativevault.store.transfer import Entry, read_entries
from tests.unit.sync import (
    ART,
    PHOTO,
    RAW,
    assert_whole,
    edit_middle,
    file_id,
    make_vault,
    ssh_options,
    studio_files,
)
from tests.vaulttools import commit_all, write

KINDS = ["local", "stream", "ssh", "exfat"]


@dataclass
class RemoteSide:
    """The remote vault of one test and how to reach it (each ``connect`` is a session)."""

    kind: str
    path: Path
    main: str
    _connect: Callable[[], Peer]
    sessions: list[Peer] = field(default_factory=list)

    def connect(self) -> Peer:
        peer = self._connect()
        self.sessions.append(peer)
        return peer

    @property
    def peer(self) -> Peer:
        """The first session (opened on first use)."""
        return self.sessions[0] if self.sessions else self.connect()

    def refs(self) -> dict[str, str]:
        """The remote's branches, read from disk by a fresh vault object."""
        with cv.Vault.open(self.path) as vault:
            return {f"refs/heads/{b}": c for b, c in vault.git.branches().items()}


@pytest.fixture(scope="module")
def remote_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A studio vault with work of its own on ``main`` (copied for each test)."""
    path = tmp_path_factory.mktemp("template") / "studio-remote"
    with make_vault(path, {"readme.txt": b"the studio's own vault\n",
                           "art/logo.psd": studio_files(9)[ART][:300_000]}, "studio") as v:
        main = v.git.head_commit()
    assert main is not None
    return path, main


@pytest.fixture(params=KINDS)
def remote(request: pytest.FixtureRequest, tmp_path: Path,
           remote_template: tuple[Path, str]) -> Iterator[RemoteSide]:
    kind = request.param
    base = request.getfixturevalue("exfat_drive").path if kind == "exfat" else tmp_path
    path = base / "studio-remote"
    shutil.copytree(remote_template[0], path)
    threads: list[threading.Thread] = []

    def connect() -> Peer:
        if kind in ("local", "exfat"):
            return LocalPeer(parse_url(str(path)), PeerOptions())
        if kind == "stream":
            peer, thread = stream_pair_for_tests(path)
            threads.append(thread)
            return peer
        sshd = request.getfixturevalue("sshd")
        return SshPeer(parse_url(sshd.url(path)), ssh_options(sshd))

    side = RemoteSide(kind, path, remote_template[1], connect)
    yield side
    for peer in side.sessions:
        peer.close()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server thread did not end after 'bye'"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cv.Vault, dict[str, str]]]:
    """The sender (read only by the tests) and its history: c1 (studio files) -> c2
    (cover edited in the middle) on main; c3 (raw retouched) diverges from c1 on alt."""
    with make_vault(tmp_path_factory.mktemp("field") / "field", studio_files(1)) as vault:
        c1 = vault.git.head_commit()
        assert c1 is not None
        c2 = commit_edit(vault, ART, edit_middle(studio_files(1)[ART]), "cover: new logo")
        vault.branch("alt", start=c1)
        vault.checkout("alt")
        c3 = commit_edit(vault, RAW, edit_middle(studio_files(1)[RAW], seed=3), "raw: retouch")
        vault.checkout("main")
        yield vault, {"c1": c1, "c2": c2, "c3": c3}


@pytest.fixture
def sender(studio: tuple[cv.Vault, dict[str, str]]) -> cv.Vault:
    return studio[0]


@pytest.fixture
def history(studio: tuple[cv.Vault, dict[str, str]]) -> dict[str, str]:
    return studio[1]


# -- helpers -----------------------------------------------------------------------------

def chunk_entries(vault: cv.Vault, fid: str) -> list[Entry]:
    manifest = vault.store.read_manifest(fid)
    keys = list(dict.fromkeys(k for k, _ in manifest.chunks))
    return list(read_entries(vault.store, ENTRY_CHUNK, keys))


def manifest_entry(vault: cv.Vault, fid: str) -> Entry:
    return next(read_entries(vault.store, ENTRY_MANIFEST, [bytes.fromhex(fid)]))


def plain(entry: Entry) -> bytes:
    if entry.flags & FLAG_ZSTD:
        return zstandard.ZstdDecompressor().decompress(entry.stored,
                                                       max_output_size=entry.plain_len)
    return entry.stored


def pack_of(vault: cv.Vault, wants: list[str], haves: list[str]) -> bytes:
    buf = io.BytesIO()
    write_pack(vault.git, wants, haves, buf)
    return buf.getvalue()


def deliver(peer: Peer, vault: cv.Vault, tip: str, *, content: bool = True) -> dict:
    """Send what ``tip`` needs by the raw protocol: content (chunks, then each manifest),
    then the git objects. Returns file id -> ContentRef of what the commits introduce."""
    known = list(peer.hello()["refs"].values())
    _commits, refs = content_introduced(vault.git, [tip], known)
    if content:
        for fid in refs:
            peer.put([*chunk_entries(vault, fid), manifest_entry(vault, fid)])
        peer.put_done()
    peer.put_pack(pack_of(vault, [tip], known))
    return refs


def commit_edit(vault: cv.Vault, rel: str, data: bytes, message: str) -> str:
    write(vault.root / rel, data)
    return commit_all(vault, message).id


# -- hello -------------------------------------------------------------------------------

def test_hello_describes_the_remote(remote: RemoteSide) -> None:
    info = remote.peer.hello()
    assert info["protocol"] == PROTOCOL
    assert info["refs"] == {"refs/heads/main": remote.main}
    assert info["head"] == "main"
    assert info["partial"] is False
    assert Path(info["path"]).resolve() == remote.path.resolve()
    with cv.Vault.open(remote.path) as vault:
        assert info["chunker"] == vault.store.chunker.to_json()
    free = shutil.disk_usage(remote.path).free
    assert info["free"] > 0 and abs(info["free"] - free) < 64 * 1024 * 1024
    if remote.kind == "exfat":
        assert info["free"] < 256 * 1024 * 1024  # the drive's, not the test machine's


# -- entries -----------------------------------------------------------------------------

def test_entries_round_trip_byte_exact(remote: RemoteSide, sender: cv.Vault,
                                      history: dict[str, str]) -> None:
    peer = remote.peer
    fid = file_id(sender, history["c1"], ART)
    chunks = chunk_entries(sender, fid)
    keys = [e.key for e in chunks]
    fkey = bytes.fromhex(fid)
    assert len(chunks) >= 4
    assert peer.missing(ENTRY_MANIFEST, [fkey]) == [fkey]
    assert peer.missing(ENTRY_CHUNK, keys + keys[:2]) == keys  # order kept, duplicates dropped

    half = len(chunks) // 2
    running = peer.put(chunks[:half])
    assert running["chunks"] == half and running["files"] == 0
    peer.put([*chunks[half:], manifest_entry(sender, fid)])
    done = peer.put_done()
    assert (done["chunks"], done["files"], done["skipped"]) == (len(chunks), 1, 0)
    assert done["packs"] >= 1 and done["bytes"] >= sum(len(e.stored) for e in chunks)

    assert peer.missing(ENTRY_CHUNK, keys) == []
    assert peer.missing(ENTRY_MANIFEST, [fkey]) == []
    got = peer.get(ENTRY_CHUNK, keys)
    assert got == chunks  # type, key, length, flags and the stored bytes, as they were
    assert b"".join(plain(e) for e in got) == studio_files(1)[ART]
    [got_manifest] = peer.get(ENTRY_MANIFEST, [fkey])
    assert got_manifest == manifest_entry(sender, fid)
    assert peer.verify_files([fid]) == {fid: None}

    # A new session sees it (published, not just held by the first), and sending the
    # same entries again writes nothing.
    again = remote.connect()
    assert again.missing(ENTRY_CHUNK, keys) == []
    again.put([*chunks, manifest_entry(sender, fid)])
    second = again.put_done()
    assert (second["chunks"], second["files"], second["skipped"]) == (0, 0, len(chunks) + 1)
    for session in remote.sessions:
        session.close()
    with cv.Vault.open(remote.path) as vault:
        out = io.BytesIO()
        vault.store.write_file_to(fid, out)
    assert hashlib.sha256(out.getvalue()).hexdigest() == fid
    assert_whole(remote.path)


def _damaged(sender: cv.Vault) -> dict[str, tuple[list[Entry], str]]:
    """Entry sequences a receiver must refuse, and what the refusal says."""
    fid = file_id(sender, "HEAD", RAW)
    chunks = chunk_entries(sender, fid)
    one = chunks[1]
    raw = bytearray(plain(one))
    raw[len(raw) // 2] ^= 0x40
    other = chunks[2]
    manifest = manifest_entry(sender, fid)
    decoded = Manifest.decode(plain(manifest))
    oversized = Manifest(decoded.size + 1, decoded.chunks).encode()  # lengths do not add up
    return {
        "flipped byte": ([Entry(ENTRY_CHUNK, one.key, one.plain_len, 0, bytes(raw))],
                         "hash check"),
        "another chunk's bytes": ([Entry(ENTRY_CHUNK, one.key, other.plain_len, other.flags,
                                         other.stored)], "hash check"),
        "wrong length": ([Entry(ENTRY_CHUNK, one.key, one.plain_len + 1, 0, plain(one))],
                         "wrong length"),
        "garbled zstd": ([Entry(ENTRY_CHUNK, one.key, one.plain_len, FLAG_ZSTD,
                                b"\x28\xb5\x2f\xfd" + bytes(64))], ""),
        "unknown flags": ([one._replace(flags=one.flags | 0x80)], "flags"),
        "short key": ([one._replace(key=one.key[:31])], "key"),
        "unknown type": ([one._replace(etype=9)], "type"),
        "manifest before its chunks": ([manifest], "before its chunk"),
        "manifest after only some chunks": ([*chunks[:-1], manifest], "before its chunk"),
        "garbled manifest": ([*chunks, manifest._replace(stored=manifest.stored[:-3])], ""),
        "manifest that does not add up": (
            [*chunks, Entry(ENTRY_MANIFEST, manifest.key, len(oversized), 0, oversized)],
            "add up"),
    }


def test_damaged_entries_are_refused_with_their_class(remote: RemoteSide,
                                                      sender: cv.Vault) -> None:
    peer = remote.peer
    for name, (entries, says) in _damaged(sender).items():
        with pytest.raises(CorruptObjectError, match=says or None) as refused:
            peer.put(entries)
        assert type(refused.value) is CorruptObjectError, name
        assert refused.value.corrupt, name
        peer.put_done()
    # Nothing damaged was written (the good chunks sent before a bad manifest were).
    fid = file_id(sender, "HEAD", RAW)
    assert peer.missing(ENTRY_MANIFEST, [bytes.fromhex(fid)]) == [bytes.fromhex(fid)]
    bad = chunk_entries(sender, fid)[1]
    with cv.Vault.open(remote.path) as vault:
        row = vault.store.index.get(ENTRY_CHUNK, bad.key)
        assert row is not None, "the good copy sent before the bad manifest is kept"
        assert vault.store._read_chunk(bad.key, bad.plain_len, fid, row) == plain(bad)
    assert_whole(remote.path)


def test_entries_verified_before_a_refusal_are_kept(remote: RemoteSide,
                                                    sender: cv.Vault) -> None:
    peer = remote.peer
    fid = file_id(sender, "HEAD", ART)
    chunks = chunk_entries(sender, fid)
    broken = chunks[3]._replace(stored=chunks[4].stored, plain_len=chunks[4].plain_len)
    with pytest.raises(CorruptObjectError):
        peer.put([*chunks[:3], broken, *chunks[4:]])
    assert peer.put_done()["chunks"] == 3
    assert peer.missing(ENTRY_CHUNK, [e.key for e in chunks]) == [e.key for e in chunks[3:]]
    # The same series again completes, sending on top of what was kept.
    peer.put([*chunks, manifest_entry(sender, fid)])
    report = peer.put_done()
    assert (report["chunks"], report["files"], report["skipped"]) == (len(chunks) - 3, 1, 3)
    assert peer.verify_files([fid]) == {fid: None}


# -- git objects -------------------------------------------------------------------------

def test_git_packs_round_trip(remote: RemoteSide, sender: cv.Vault, tmp_path: Path) -> None:
    peer = remote.peer
    tip = sender.git.head_commit()
    assert tip is not None
    peer.put_pack(pack_of(sender, [tip], []))
    peer.put_pack(b"")  # nothing to add is not an error
    with cv.Vault.open(remote.path) as vault:
        assert vault.git.has_object(tip)
        assert vault.git.commit_tree_flat(tip).keys() == sender.git.commit_tree_flat(tip).keys()

    # What the remote gives back is a pack a third vault reads, holding both histories.
    data = peer.get_pack([tip, remote.main], [])
    with cv.Vault.init(tmp_path / "third") as third:
        read_pack(third.git, io.BytesIO(data).read, source="test")
        for commit in (tip, remote.main):
            assert third.git.has_object(commit)
            assert third.git.commit_tree_flat(commit)
    # Commits the remote does not have, or that are not commit ids, are errors.
    for unknown in ("0" * 40, "not-an-id"):
        with pytest.raises(ObjectMissingError):
            peer.get_pack([unknown], [])
    # A holder of the tip needs nothing more.
    assert peer.get_pack([tip], [tip]) == b""
    # haves the server does not know are ignored, not an error
    assert peer.get_pack([remote.main], ["f" * 40]) != b""
    assert_whole(remote.path)


def test_damaged_git_packs_are_refused(remote: RemoteSide, sender: cv.Vault) -> None:
    tip = sender.git.head_commit()
    assert tip is not None
    good = pack_of(sender, [tip], [])
    flipped = bytearray(good)
    flipped[len(good) // 3] ^= 0x01
    for damaged in (b"not a pack at all" * 10, good[:len(good) // 2], good[:30],
                    bytes(flipped)):
        with pytest.raises(CorruptObjectError):
            remote.peer.put_pack(damaged)
    assert remote.peer.hello()["refs"] == {"refs/heads/main": remote.main}  # still serving
    with cv.Vault.open(remote.path) as vault:
        assert not vault.git.has_object(tip)
    assert_whole(remote.path)


# -- refs --------------------------------------------------------------------------------

REF = "refs/heads/field/laptop"


def test_update_refs_creates_then_fast_forwards(remote: RemoteSide, sender: cv.Vault,
                                                history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c1"])
    assert peer.update_refs([(REF, None, history["c1"])], False, [], "laptop") == [REF]
    assert peer.hello()["refs"][REF] == history["c1"]
    deliver(peer, sender, history["c2"])
    assert peer.update_refs([(REF, history["c1"], history["c2"])], False, [], "laptop") == [REF]
    assert remote.refs() == {"refs/heads/main": remote.main, REF: history["c2"]}
    assert_whole(remote.path)


def test_update_refs_is_compare_and_swap(remote: RemoteSide, sender: cv.Vault,
                                         history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c2"])
    peer.update_refs([(REF, None, history["c1"])], False, [], "laptop")
    # Another push moved it meanwhile: a create, and a wrong expected value, are refused.
    for old in (None, history["c2"], "0" * 40):
        with pytest.raises(PushRejectedError, match="moved"):
            peer.update_refs([(REF, old, history["c2"])], False, [], "laptop")
        with pytest.raises(PushRejectedError, match="moved"):
            peer.update_refs([(REF, old, history["c2"])], True, [], "laptop")  # even forced
    assert remote.refs()[REF] == history["c1"]


def test_update_refs_refuses_a_rewind_unless_forced(remote: RemoteSide, sender: cv.Vault,
                                                    history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c2"])
    deliver(peer, sender, history["c3"])
    peer.update_refs([(REF, None, history["c2"])], False, [], "laptop")
    for new in (history["c3"], history["c1"]):  # diverged, and behind
        with pytest.raises(PushRejectedError, match="fast-forward"):
            peer.update_refs([(REF, history["c2"], new)], False, [], "laptop")
    assert remote.refs()[REF] == history["c2"]
    assert peer.update_refs([(REF, history["c2"], history["c3"])], True, [], "laptop") == [REF]
    assert remote.refs()[REF] == history["c3"]
    assert_whole(remote.path)


def test_checked_out_branch_is_refused(remote: RemoteSide, sender: cv.Vault,
                                       history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c1"])
    for force in (False, True):
        with pytest.raises(PushRejectedError, match="checked out"):
            peer.update_refs([("refs/heads/main", remote.main, history["c1"])], force, [],
                             "laptop")
    assert remote.refs() == {"refs/heads/main": remote.main}
    with cv.Vault.open(remote.path) as vault:
        assert vault.status().clean


def test_a_ref_waits_for_its_commit_and_content(remote: RemoteSide, sender: cv.Vault,
                                               history: dict[str, str]) -> None:
    peer = remote.peer
    with pytest.raises(PushRejectedError, match="has not arrived"):
        peer.update_refs([(REF, None, history["c1"])], False, [], "laptop")
    refs = deliver(peer, sender, history["c1"], content=False)
    assert len(refs) == 3
    with pytest.raises(ObjectMissingError, match="has not arrived") as refused:
        peer.update_refs([(REF, None, history["c1"])], False, [], "laptop")
    assert any(ref.path in str(refused.value) for ref in refs.values())
    assert REF not in remote.refs()
    # Content that only arrived in part is still refused ...
    art = file_id(sender, history["c1"], ART)
    peer.put([*chunk_entries(sender, art), manifest_entry(sender, art)])
    peer.put_done()
    with pytest.raises(ObjectMissingError):
        peer.update_refs([(REF, None, history["c1"])], False, [], "laptop")
    # ... unless the sender says it has none of the rest itself (a partial vault).
    rest = [fid for fid in refs if fid != art]
    assert peer.update_refs([(REF, None, history["c1"])], False, rest, "laptop") == [REF]
    assert remote.refs()[REF] == history["c1"]


def test_update_refs_moves_only_branches_and_all_or_nothing(remote: RemoteSide,
                                                            sender: cv.Vault,
                                                            history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c2"])
    for ref in ("refs/tags/v1", "HEAD", "refs/heads/../../config", "refs/remotes/x/y",
                "refs/heads/a b", "refs/heads/x.lock", "refs/heads//x", "refs/heads/",
                "refs/heads/a:b"):
        # the wire turns the server's UsageError into RemoteError (remote-protocol.md);
        # a drive path raises it as it is
        with pytest.raises((UsageError, RemoteError), match="branch"):
            peer.update_refs([(ref, None, history["c1"])], False, [], "laptop")
    # A branch names a commit, never a tree or a file.
    with cv.Vault.open(remote.path) as vault:
        tree = vault.git.commit(history["c2"]).tree
        blob = next(iter(vault.git.commit_tree_flat(history["c2"]).values())).blob_id
    for not_a_commit in (tree, blob):
        with pytest.raises(PushRejectedError, match="not a commit"):
            peer.update_refs([(REF, None, not_a_commit)], False, [], "laptop")
    # The second update is refused, so the first (valid) one does not move either.
    with pytest.raises(PushRejectedError):
        peer.update_refs([(REF, None, history["c1"]),
                          ("refs/heads/main", remote.main, history["c2"])], False, [], "laptop")
    assert remote.refs() == {"refs/heads/main": remote.main}


def test_a_push_to_the_same_ref_from_two_sessions(remote: RemoteSide, sender: cv.Vault,
                                                  history: dict[str, str]) -> None:
    first, second = remote.peer, remote.connect()
    deliver(first, sender, history["c2"])
    deliver(first, sender, history["c3"])
    plan_one = (REF, None, history["c2"])
    plan_two = (REF, None, history["c3"])
    assert first.update_refs([plan_one], False, [], "laptop") == [REF]
    with pytest.raises(PushRejectedError):
        second.update_refs([plan_two], False, [], "desktop")
    assert remote.refs()[REF] == history["c2"]


# -- verification ------------------------------------------------------------------------

def test_verify_files_rereads_every_chunk(remote: RemoteSide, sender: cv.Vault,
                                         history: dict[str, str]) -> None:
    peer = remote.peer
    deliver(peer, sender, history["c1"])
    art, photo = file_id(sender, history["c1"], ART), file_id(sender, history["c1"], PHOTO)
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert peer.verify_files([art, photo, absent]) == {art: None, photo: None,
                                                       absent: "not here"}
    # Damage one byte of one chunk of the cover on the remote's disk.
    key = chunk_entries(sender, art)[2].key
    with cv.Vault.open(remote.path) as vault:
        row = vault.store.index.get(ENTRY_CHUNK, key)
        assert row is not None
        pack = vault.store.packs_dir / row.pack
    with pack.open("r+b") as f:
        f.seek(row.offset + row.stored_len)  # the entry's last stored byte
        last = f.read(1)
        f.seek(-1, io.SEEK_CUR)
        f.write(bytes([last[0] ^ 0xFF]))
    result = peer.verify_files([art, photo])
    assert result[photo] is None
    assert isinstance(result[art], str) and result[art]


# -- connecting --------------------------------------------------------------------------

def test_what_is_not_a_vault_top_is_a_remote_error(remote: RemoteSide,
                                                   request: pytest.FixtureRequest) -> None:
    (remote.path.parent / "just-files").mkdir()
    for target in (remote.path.parent / "no-such-vault", remote.path.parent / "just-files",
                   remote.path / "art"):  # missing, a plain folder, inside a vault
        with pytest.raises(RemoteError) as refused:
            if remote.kind in ("local", "exfat"):
                LocalPeer(parse_url(str(target)), PeerOptions())
            elif remote.kind == "stream":
                stream_pair_for_tests(target)
            else:
                sshd = request.getfixturevalue("sshd")
                SshPeer(parse_url(sshd.url(target)), ssh_options(sshd))
        assert type(refused.value) is RemoteError
        assert str(target) in str(refused.value)


def test_open_peer_picks_the_kind_by_address(remote: RemoteSide,
                                             request: pytest.FixtureRequest) -> None:
    if remote.kind == "stream":
        pytest.skip("in-memory pipes have no address")
    if remote.kind == "ssh":
        sshd = request.getfixturevalue("sshd")
        # scp-like: the port comes from the -p in the ssh command
        peer = open_peer(parse_url(sshd.scp_url(remote.path)), ssh_options(sshd))
        assert isinstance(peer, SshPeer)
    else:
        peer = open_peer(parse_url(f"file://{remote.path}"))
        assert isinstance(peer, LocalPeer)
    try:
        assert peer.hello()["refs"] == {"refs/heads/main": remote.main}
    finally:
        peer.close()


def test_unknown_address_kind_is_a_remote_error() -> None:
    assert set(PEER_KINDS) == {"local", "ssh"}
    with pytest.raises(RemoteError, match="ftp"):
        open_peer(dataclasses.replace(parse_url("/srv/vault"), kind="ftp"))


def test_absent_and_malformed_lookups_are_errors_not_crashes(remote: RemoteSide) -> None:
    peer = remote.peer
    assert isinstance(peer, LocalPeer if remote.kind in ("local", "exfat") else StreamPeer)
    with pytest.raises(ObjectMissingError):
        peer.get(ENTRY_CHUNK, [b"\x01" * 32])
    assert peer.missing(ENTRY_MANIFEST, []) == []
    assert peer.verify_files(["not-hex"]) == {"not-hex": "not here"}
    assert peer.put_done()["files"] == 0  # nothing was put: an empty report
    assert peer.hello()["refs"]  # the session is still usable


def test_two_sessions_creating_the_same_ref_at_once(remote: RemoteSide, sender: cv.Vault,
                                                    history: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The second session creates the ref while the first is between its checks and its
    write: the first must fail (its expected old value, none, no longer holds) instead of
    silently replacing the other push."""
    if remote.kind == "ssh":
        pytest.skip("the interleaving is injected into a server in this process")
    from creativevault.features.sync import server as server_mod

    first, second = remote.peer, remote.connect()
    deliver(first, sender, history["c2"])
    deliver(first, sender, history["c3"])
    real = server_mod.content_introduced
    calls = {"n": 0}

    def meanwhile(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:  # the first session has checked REF is absent ...
            assert second.update_refs([(REF, None, history["c3"])], False, [],
                                      "desktop") == [REF]
        return real(*args, **kwargs)

    monkeypatch.setattr(server_mod, "content_introduced", meanwhile)
    with pytest.raises((PushRejectedError, GitError)):
        first.update_refs([(REF, None, history["c2"])], False, [], "laptop")
    assert remote.refs()[REF] == history["c3"]


# -- deltas ------------------------------------------------------------------------------

def test_deltas_are_sent_as_stored_only_when_asked_and_need_their_base(
        remote: RemoteSide, sender: cv.Vault, history: dict[str, str]) -> None:
    peer = remote.peer
    assert peer.hello()["deltas"] is True
    old, new = file_id(sender, history["c1"], ART), file_id(sender, history["c2"], ART)
    keys = list(dict.fromkeys(k for k, _ in sender.store.read_manifest(new).chunks))
    stored = list(read_entries(sender.store, ENTRY_CHUNK, keys, deltas=True))
    deltas = [e for e in stored if e.flags & FLAG_DELTA]
    assert deltas, "the edited cover holds delta chunks"
    # without its base the remote refuses a delta, naming the base
    with pytest.raises(CorruptObjectError, match=deltas[0].base.hex()):  # type: ignore[union-attr]
        peer.put([deltas[0]])
    peer.put_done()
    # with the first version there, the edit travels as deltas and stays one
    peer.put([*chunk_entries(sender, old), manifest_entry(sender, old)])
    peer.put([*stored, manifest_entry(sender, new)])
    done = peer.put_done()
    assert done["files"] == 2
    assert peer.get(ENTRY_CHUNK, [e.key for e in deltas], True) == deltas
    expanded = peer.get(ENTRY_CHUNK, [e.key for e in deltas])
    assert not any(e.flags & FLAG_DELTA for e in expanded)
    assert b"".join(plain(e) for e in peer.get(ENTRY_CHUNK, keys)) == edit_middle(
        studio_files(1)[ART])
    assert peer.verify_files([old, new]) == {old: None, new: None}
    for session in remote.sessions:
        session.close()
    assert_whole(remote.path, content_complete=False)
