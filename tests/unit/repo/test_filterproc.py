"""The long-running filter process, driven in-process over byte pipes speaking git's
protocol (``gitattributes(5)``, "Long Running Filter Process", version 2).

Each test writes what git would send (handshake, then requests) into one input buffer,
runs :class:`FilterProcess` until EOF, and reads the answers back in git's order:
status list, content packets and flush, then the trailing status list.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import DiskFullError, GitError
from creativevault.repo.filterproc import CAPABILITIES, FilterProcess
from creativevault.repo.pktline import MAX_PAYLOAD, PacketReader
from creativevault.repo.pointer import LFS_VERSION_URL, VERSION_URL, Pointer, parse_pointer
from creativevault.store.pack import ENTRY_CHUNK
from tests.conftest import run_git
from tests.vaulttools import MB, creative_bytes, damage_entry, write

BIG = creative_bytes("big.psd", 3 * MB, 1)
OTHER = creative_bytes("other.psd", 300_000, 2)


# ------------------------------------------------------------------ what git sends
def pkt(payload: bytes) -> bytes:
    assert len(payload) <= MAX_PAYLOAD
    return b"%04x" % (len(payload) + 4) + payload


def lines(*items: str) -> bytes:
    return b"".join(pkt(f"{item}\n".encode()) for item in items) + b"0000"


def content(data: bytes) -> bytes:
    return b"".join(pkt(data[i:i + MAX_PAYLOAD])
                    for i in range(0, len(data), MAX_PAYLOAD)) + b"0000"


def handshake(*capabilities: str) -> bytes:
    caps = capabilities or ("clean", "smudge", "delay")
    return (lines("git-filter-client", "version=2")
            + lines(*[f"capability={c}" for c in caps]))


def request(command: str, pathname: str, data: bytes, *extra: str) -> bytes:
    return lines(f"command={command}", f"pathname={pathname}", *extra) + content(data)


# ------------------------------------------------------------------ what we answer
@dataclass
class Answer:
    status: str  # the status git acts on (the trailing list overrides the first)
    data: bytes
    first: str  # status sent before the content
    trailer: list[str] | None  # the list after the content (None: no content phase)


@dataclass
class Session:
    server: list[str]
    capabilities: list[str]
    answers: list[Answer]
    warnings: list[str]


def read_answer(r: PacketReader) -> Answer:
    first = r.read_dict()["status"]
    if first != "success":
        return Answer(first, b"", first, None)
    data = bytearray()
    while (packet := r.read()) is not None:
        assert 0 < len(packet) <= MAX_PAYLOAD
        data += packet
    trailer = r.read_list()
    status = trailer[0].removeprefix("status=") if trailer else first
    return Answer(status, bytes(data), first, trailer)


def serve(vault: cv.Vault, *requests: bytes, hello: bytes | None = None) -> Session:
    """Run one filter process over ``requests``; return its answers and warnings."""
    stdin = io.BytesIO((hello if hello is not None else handshake()) + b"".join(requests))
    stdout = io.BytesIO()
    warnings: list[str] = []
    FilterProcess(vault, stdin, stdout, warnings.append).run()
    assert stdin.read() == b"", "the filter must consume every request"
    r = PacketReader(io.BytesIO(stdout.getvalue()))
    server = r.read_list()
    capabilities = r.read_list()
    answers = [read_answer(r) for _ in requests]
    with pytest.raises(EOFError):
        r.read()  # nothing else was written
    return Session(server, capabilities, answers, warnings)


def stage_blob(root: Path, path: str, data: bytes) -> None:
    """Stage ``data`` as the blob of ``path`` with real git, bypassing every filter."""
    blob = run_git(root, "hash-object", "-w", "--no-filters", "--stdin",
                   input=data).stdout.decode().strip()
    run_git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")


def staged_bytes(root: Path, path: str) -> bytes:
    return run_git(root, "cat-file", "blob", f":{path}").stdout


def flip_chunk(vault: cv.Vault, file_id: str, which: int) -> None:
    """Flip one byte inside the stored chunk number ``which`` of ``file_id``."""
    key, _ = vault.store.read_manifest(file_id).chunks[which]
    row = vault.store.index.get(ENTRY_CHUNK, key)
    assert row is not None
    damage_entry(vault.store, row)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ handshake
def test_handshake_accepts_clean_and_smudge_but_not_delay(vault):
    session = serve(vault)
    assert session.server == ["git-filter-server", "version=2"]
    assert session.capabilities == ["capability=clean", "capability=smudge"]
    assert "delay" not in CAPABILITIES
    assert session.warnings == []


def test_handshake_answers_only_what_git_offers(vault):
    session = serve(vault, hello=handshake("clean"))
    assert session.capabilities == ["capability=clean"]


def test_handshake_picks_version_2_among_several(vault):
    hello = lines("git-filter-client", "version=2", "version=3") + lines("capability=smudge")
    assert serve(vault, hello=hello).server == ["git-filter-server", "version=2"]


@pytest.mark.parametrize("hello", [
    lines("git-filter-client", "version=1") + lines("capability=clean"),
    lines("git-filter-server", "version=2") + lines("capability=clean"),
    lines() + lines("capability=clean"),
])
def test_bad_handshake_is_a_git_error(vault, hello):
    with pytest.raises(GitError, match="unexpected filter handshake"):
        FilterProcess(vault, io.BytesIO(hello), io.BytesIO(), print).run()


def test_pipe_closed_before_handshake_is_a_git_error(vault):
    with pytest.raises(GitError, match="before the handshake"):
        FilterProcess(vault, io.BytesIO(b""), io.BytesIO(), print).run()


# ------------------------------------------------------------------ clean
def test_clean_stores_the_content_and_answers_its_pointer(vault, proj):
    disk = write(proj / "big.psd", BIG)
    [answer] = serve(vault, request("clean", "big.psd", BIG)).answers
    assert (answer.first, answer.status, answer.trailer) == ("success", "success", [])
    assert answer.data.startswith(f"version {VERSION_URL}\n".encode())
    ptr = parse_pointer(answer.data)
    assert (ptr.oid, ptr.size) == (sha(BIG), len(BIG))
    assert ptr.mtime_ns == disk.stat().st_mtime_ns  # committed modification time
    assert answer.data == ptr.encode()  # canonical encoding
    assert vault.store.has_file(sha(BIG))
    assert b"".join(vault.store.iter_file(sha(BIG))) == BIG


def test_clean_of_content_unlike_the_working_file_records_no_mtime(vault, proj):
    write(proj / "big.psd", BIG[:1000])  # git may clean a blob that is not on disk as such
    [answer] = serve(vault, request("clean", "big.psd", BIG)).answers
    assert parse_pointer(answer.data) == Pointer(oid=sha(BIG), size=len(BIG))
    [answer] = serve(vault, request("clean", "gone.psd", OTHER)).answers
    assert parse_pointer(answer.data) == Pointer(oid=sha(OTHER), size=len(OTHER))


def test_clean_of_an_empty_file_round_trips(vault):
    clean, = serve(vault, request("clean", "empty.psd", b"")).answers
    ptr = parse_pointer(clean.data)
    assert (ptr.oid, ptr.size) == (sha(b""), 0)
    smudge, = serve(vault, request("smudge", "empty.psd", clean.data)).answers
    assert (smudge.status, smudge.data) == ("success", b"")


def test_clean_of_a_pointer_passes_it_through(vault):
    ptr = Pointer(oid=sha(b"elsewhere"), size=9, extra={"mtime": "1"}).encode()
    lfs = (f"version {LFS_VERSION_URL}\noid sha256:{sha(b'lfs')}\nsize 3\n").encode()
    answers = serve(vault, request("clean", "a.psd", ptr), request("clean", "b.psd", lfs)).answers
    assert [a.data for a in answers] == [ptr, lfs]
    assert [a.status for a in answers] == ["success", "success"]
    assert vault.store.stats().files == 0  # nothing was stored


def test_clean_of_a_small_non_pointer_stores_it(vault):
    data = b"version 7 of my notes\n"  # starts like a pointer, is not one
    [answer] = serve(vault, request("clean", "notes.psd", data)).answers
    assert parse_pointer(answer.data).oid == sha(data)
    assert vault.store.has_file(sha(data))


def test_clean_of_unchanged_content_returns_the_staged_pointer_exactly(vault, proj):
    disk = write(proj / "big.psd", BIG)
    vault.add(["big.psd"])
    staged = staged_bytes(proj, "big.psd")
    assert parse_pointer(staged).mtime_ns == disk.stat().st_mtime_ns
    os.utime(disk, ns=(1_000_000_000, 1_000_000_000))  # touched: a new pointer would differ
    [answer] = serve(vault, request("clean", "big.psd", BIG)).answers
    assert answer.data == staged
    # changed content gets a new pointer
    write(proj / "big.psd", OTHER)
    [answer] = serve(vault, request("clean", "big.psd", OTHER)).answers
    assert parse_pointer(answer.data).oid == sha(OTHER) and answer.data != staged


def test_clean_of_committed_content_returns_head_pointer_when_the_index_differs(vault, proj):
    """git stash pop --index and git reset --refresh compare with HEAD's blob while the
    index file holds another: clean must still give HEAD's pointer for HEAD's content."""
    disk = write(proj / "big.psd", BIG)
    vault.add(["big.psd"])
    vault.commit("one")
    committed = run_git(proj, "cat-file", "blob", "HEAD:big.psd").stdout
    stage_blob(proj, "big.psd", Pointer(oid=sha(OTHER), size=len(OTHER)).encode())
    os.utime(disk, ns=(1_000_000_000, 1_000_000_000))  # restored by git: a new mtime
    [answer] = serve(vault, request("clean", "big.psd", BIG)).answers
    assert answer.data == committed


def test_clean_keeps_a_staged_git_lfs_pointer_while_content_is_unchanged(vault, proj):
    lfs = (f"version {LFS_VERSION_URL}\noid sha256:{sha(BIG)}\nsize {len(BIG)}\n").encode()
    stage_blob(proj, "big.psd", lfs)
    write(proj / "big.psd", BIG)
    [same, changed] = serve(vault, request("clean", "big.psd", BIG),
                            request("clean", "big.psd", OTHER)).answers
    assert same.data == lfs
    assert vault.store.has_file(sha(BIG))  # the content is now in this vault too
    assert parse_pointer(changed.data).origin == "cvault"
    assert parse_pointer(changed.data).oid == sha(OTHER)


def test_clean_ignores_a_staged_blob_that_is_not_a_pointer(vault, proj):
    stage_blob(proj, "big.psd", BIG)  # committed raw before cvault
    write(proj / "big.psd", BIG)
    [answer] = serve(vault, request("clean", "big.psd", BIG)).answers
    assert parse_pointer(answer.data).oid == sha(BIG)


def test_store_error_during_clean_answers_error_and_keeps_serving(vault, proj, monkeypatch):
    import creativevault.store.writer as writer_mod

    def full(root, needed, *, name):
        raise DiskFullError(f"not enough free space to store {name}", path=name)

    monkeypatch.setattr(writer_mod, "check_free_space", full)
    session = serve(vault, request("clean", "big.psd", BIG))
    assert [(a.first, a.trailer) for a in session.answers] == [("error", None)]
    assert session.warnings == ["big.psd: not enough free space to store big.psd"]
    monkeypatch.undo()
    assert not vault.store.has_file(sha(BIG))


def test_disk_full_in_the_middle_of_a_clean_then_the_next_request_works(vault, proj):
    written = 0
    real_opener = vault.store.opener

    class Cramped:
        """A pack file that runs out of space after 1 MB."""

        def __init__(self, fh):
            self._fh = fh

        def write(self, data):
            nonlocal written
            if written + len(data) > MB:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += len(data)
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

    vault.store.opener = lambda path: Cramped(real_opener(path))
    small = b"\x89PNG\r\n\x1a\n" + bytes(100)
    session = serve(vault, request("clean", "big.psd", BIG), request("clean", "a.png", small),
                    request("smudge", "x.psd", b"plain text\n"))
    failed, cleaned, smudged = session.answers
    assert (failed.first, failed.trailer) == ("error", None)
    assert len(session.warnings) == 1 and session.warnings[0].startswith("big.psd: ")
    assert not vault.store.has_file(sha(BIG))
    assert cleaned.status == "success" and parse_pointer(cleaned.data).oid == sha(small)
    assert vault.store.has_file(sha(small))
    assert smudged.data == b"plain text\n"


# ------------------------------------------------------------------ smudge
def test_smudge_writes_the_exact_bytes(vault, proj):
    [clean] = serve(vault, request("clean", "big.psd", BIG)).answers
    session = serve(vault, request("smudge", "big.psd", clean.data),
                    request("smudge", "copy/of big.psd", clean.data))
    for answer in session.answers:
        assert (answer.first, answer.trailer) == ("success", [])
        assert len(answer.data) == len(BIG) and answer.data == BIG
    assert session.warnings == []


def test_smudge_of_a_git_lfs_pointer_with_present_content(vault):
    serve(vault, request("clean", "big.psd", OTHER))
    lfs = (f"version {LFS_VERSION_URL}\noid sha256:{sha(OTHER)}\nsize {len(OTHER)}\n").encode()
    [answer] = serve(vault, request("smudge", "big.psd", lfs)).answers
    assert answer.data == OTHER


def test_smudge_of_missing_content_writes_the_pointer_and_warns(vault):
    ptr_a = Pointer(oid=sha(b"not here"), size=8).encode()
    ptr_b = Pointer(oid=sha(b"nor here"), size=8, extra={"mtime": "5"}).encode()
    session = serve(vault, request("smudge", "art/a.psd", ptr_a),
                    request("smudge", "art/b.psd", ptr_b),
                    request("smudge", "art/c.txt", b"plain\n"))
    assert [a.data for a in session.answers] == [ptr_a, ptr_b, b"plain\n"]
    assert [a.status for a in session.answers] == ["success"] * 3
    assert len(session.warnings) == 3
    assert session.warnings[0] == (f"art/a.psd: content {sha(b'not here')[:12]} is not in "
                                   "this vault; wrote the pointer file instead")
    assert session.warnings[1].startswith("art/b.psd: content ")
    summary = session.warnings[2]  # at EOF, after every request
    assert summary.startswith("2 file(s) were written as pointer files") and "cvault fsck" in summary


def test_no_summary_warning_when_nothing_is_missing(vault):
    session = serve(vault, request("smudge", "a.txt", b"text\n"))
    assert session.warnings == []


@pytest.mark.parametrize("size", [1025, 3 * MAX_PAYLOAD + 5, 2 * MB])
def test_smudge_of_a_non_pointer_blob_passes_it_through(vault, size):
    raw = creative_bytes("raw.psd", size, size)
    session = serve(vault, request("smudge", "raw.psd", raw), request("smudge", "b.psd", raw))
    assert [a.data for a in session.answers] == [raw, raw]
    assert [a.status for a in session.answers] == ["success", "success"]
    assert session.warnings == []


def test_smudge_of_a_small_non_pointer_passes_it_through(vault):
    data = b"version 3 of the notes\n"
    [answer] = serve(vault, request("smudge", "notes.psd", data)).answers
    assert answer.data == data


def test_smudge_of_a_broken_pointer_writes_it_as_is_with_a_warning(vault):
    broken = f"version {VERSION_URL}\noid sha256:nothex\nsize 3\n".encode()
    session = serve(vault, request("smudge", "bad.psd", broken))
    assert session.answers[0].data == broken and session.answers[0].status == "success"
    [warning] = session.warnings
    assert warning.startswith("bad.psd: ") and "written as it is in git" in warning


def test_corrupt_chunk_ends_the_content_then_answers_error(vault):
    [clean] = serve(vault, request("clean", "big.psd", BIG)).answers
    chunks = vault.store.read_manifest(sha(BIG)).chunks
    assert len(chunks) >= 4
    flip_chunk(vault, sha(BIG), 2)
    session = serve(vault, request("smudge", "big.psd", clean.data),
                    request("smudge", "next.txt", b"next\n"))
    broken, following = session.answers
    # protocol order: status=success, the content that was verified, flush, status=error
    assert broken.first == "success"
    assert broken.trailer == ["status=error"] and broken.status == "error"
    good = sum(length for _, length in chunks[:2])
    assert broken.data == BIG[:good]
    [warning] = session.warnings
    assert warning.startswith("big.psd: chunk ") and "pack-" in warning
    assert following.data == b"next\n" and following.status == "success"


def test_corrupt_first_chunk_answers_error_before_any_content(vault):
    [clean] = serve(vault, request("clean", "big.psd", BIG)).answers
    flip_chunk(vault, sha(BIG), 0)
    [answer] = serve(vault, request("smudge", "big.psd", clean.data)).answers
    assert (answer.first, answer.trailer, answer.data) == ("error", None, b"")


# ------------------------------------------------------------------ other requests
def test_unknown_command_answers_error_and_the_next_request_is_served(vault):
    session = serve(vault, request("list_available_blobs", "x.psd", BIG[:200_000]),
                    lines("command=frobnicate") + content(b""),
                    request("smudge", "a.txt", b"a\n"))
    assert [(a.first, a.trailer) for a in session.answers[:2]] == [("error", None)] * 2
    assert session.answers[2].data == b"a\n"


def test_extra_request_headers_are_ignored(vault):
    [answer] = serve(vault, request("smudge", "a.txt", b"a\n", "ref=refs/heads/main",
                                    "treeish=0123", "blob=abcd")).answers
    assert answer.data == b"a\n"


def test_many_requests_in_one_process(vault, proj):
    datas = [creative_bytes(f"f{i}.psd", 50_000 + i, i) for i in range(5)]
    cleaned = serve(vault, *[request("clean", f"f{i}.psd", d)
                             for i, d in enumerate(datas)]).answers
    smudged = serve(vault, *[request("smudge", f"f{i}.psd", a.data)
                             for i, a in enumerate(cleaned)]).answers
    assert [a.data for a in smudged] == datas
