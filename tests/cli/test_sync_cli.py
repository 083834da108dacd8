"""The remote verbs as a photographer and a studio use them, through the CLI.

``remote``, ``clone``, ``fetch``, ``push``, ``pull``, ``sync``, ``get``, ``drop`` and the
studio's ``merge field/NAME``, run in-process (``creativevault.cli.main.main``) and, for a
few flows, as real processes; git state is checked with the real ``git`` binary. Remotes
are vaults on a local path, over the ``sshd`` fixture (both address forms) and on a
loop-mounted exFAT drive (``exfat_drive``, ``full_drive``).

The engine's own unit, conformance and fault tests live in ``tests/unit/sync`` and
``tests/e2e/test_sync_faults.py``; these are the user-level flows.

JSON keys relied on here (the contract; more may be added):

- push / fetch: {direction, remote, refs[{ref, old, new}], files, bytes, chunks,
  skipped_files, unavailable[], up_to_date, dry_run}
- clone: {path, branch, start, fetch, missing[]}
- pull: {fetch, merge}; sync: {committed, pull, push}
- get: {fetched[], already[], unavailable[], transfers[]}
- drop: {dropped[], copies{file id: [remote]}, unreachable[], freed_bytes, kept_files,
  dry_run}
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import creativevault as cv
from tests.conftest import run_git
from tests.vaulttools import assert_git_clean, creative_bytes, git, write

TRANSFER_KEYS = {"direction", "remote", "refs", "files", "bytes", "chunks", "skipped_files",
                 "unavailable", "up_to_date", "dry_run"}
POINTER_START = b"version https://creativevault.dev/spec/v1\n"

NEF1 = creative_bytes("f001.nef", 600_000, seed=11)
JPG1 = creative_bytes("f001.jpg", 300_000, seed=12)
XMP1 = ('<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:Description xmp:Rating="3"\n'
        '  xmp:Label="Blue"/>\n</x:xmpmeta>\n')
NOTES = "".join(f"line {i}: studio notes\n" for i in range(1, 11))


# ----------------------------------------------------------------------------- helpers
def head(root: Path, rev: str = "HEAD") -> str:
    return git(root, "rev-parse", "--verify", "-q", rev).strip()


def branch_of(root: Path) -> str:
    return git(root, "symbolic-ref", "--short", "HEAD").strip()


def heads(root: Path) -> dict[str, str]:
    """Every ref of a vault (real git's view)."""
    lines = git(root, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def packs(root: Path) -> dict[str, int]:
    """The store's pack files and their sizes."""
    return {p.name: p.stat().st_size for p in (root / ".git" / "cvault" / "packs").iterdir()}


def store_bytes(root: Path) -> int:
    with cv.Vault.open(root) as vault:
        return vault.store.stats().pack_bytes


def is_pointer(path: Path) -> bool:
    return path.read_bytes().startswith(POINTER_START)


def commit(ok, root: Path, message: str) -> str:
    ok(root, "add", ".")
    ok(root, "commit", "-m", message)
    return head(root)


def one_line_error(res, code: int) -> str:
    assert res.code == code, res
    assert res.err.count("\n") == 1 and res.err.startswith("cvault: error: "), res.err
    return res.err


@pytest.fixture
def studio(tmp_path: Path, ok) -> Path:
    """The studio vault: one shoot committed on main (RAW, JPEG, XMP sidecar, notes)."""
    root = tmp_path / "studio"
    ok(tmp_path, "init", str(root))
    write(root / "shoot" / "f001.nef", NEF1)
    write(root / "shoot" / "f001.jpg", JPG1)
    write(root / "shoot" / "f001.xmp", XMP1)
    write(root / "notes.txt", NOTES)
    commit(ok, root, "studio: first shoot")
    return root


@pytest.fixture
def laptop(studio: Path, ok) -> Path:
    """A field laptop cloned from the studio (on field/laptop)."""
    ok(studio.parent, "clone", str(studio), str(studio.parent / "laptop"))
    return studio.parent / "laptop"


# ----------------------------------------------------------------------------- remote
def test_remote_add_list_remove_as_git_sees_it(studio, laptop, ok, tmp_path):
    ok(laptop, "remote", "add", "drive", "../studio")
    ok(laptop, "remote", "add", "nas", "ssh://photo@nas.local:2222/srv/vaults/trip")
    ok(laptop, "remote", "add", "box", "photo@box:vaults/trip", "--cvault", "/opt/bin/cvault")
    assert ok(laptop, "remote") == "origin\ndrive\nnas\nbox\n"
    verbose = dict(line.split("\t") for line in ok(laptop, "remote", "-v").splitlines())
    assert Path(verbose["origin"]) == studio and Path(verbose["drive"]).resolve() == studio
    assert verbose["nas"] == "ssh://photo@nas.local:2222/srv/vaults/trip"
    listed = {r["name"]: r for r in json.loads(ok(laptop, "remote", "--json"))}
    assert {k: (v["kind"], v["cvault"]) for k, v in listed.items()} == {
        "origin": ("local", None), "drive": ("local", None), "nas": ("ssh", None),
        "box": ("ssh", "/opt/bin/cvault")}
    # the real git reads the same config
    lines = git(laptop, "remote", "-v").splitlines()
    assert "nas\tssh://photo@nas.local:2222/srv/vaults/trip (push)" in lines
    assert "box\tphoto@box:vaults/trip (fetch)" in lines
    assert git(laptop, "config", "remote.box.cvault").strip() == "/opt/bin/cvault"
    assert git(laptop, "config", "remote.drive.fetch").strip() == \
        "+refs/heads/*:refs/remotes/drive/*"
    # a fetch from the drive makes tracking refs; remove forgets them with the remote
    ok(laptop, "fetch", "drive")
    assert heads(laptop)["refs/remotes/drive/main"] == head(studio)
    ok(laptop, "remote", "remove", "drive")
    ok(laptop, "remote", "rm", "nas")
    assert git(laptop, "remote").split() == ["box", "origin"]
    assert not any(ref.startswith("refs/remotes/drive/") for ref in heads(laptop))


@pytest.mark.parametrize("name", ["bad name", "a/b", "..", ".hidden", "ünï"])
def test_remote_bad_names_are_refused(laptop, cli, name):
    before = git(laptop, "config", "--list", "--local")
    err = one_line_error(cli(laptop, "remote", "add", name, "/tmp"), 2)
    assert "invalid remote name" in err
    assert git(laptop, "config", "--list", "--local") == before


def test_remote_unknown_and_duplicate(laptop, cli):
    assert "remote origin already exists" in one_line_error(
        cli(laptop, "remote", "add", "origin", "/tmp"), 2)
    assert "no such remote: nope" in one_line_error(cli(laptop, "remote", "remove", "nope"), 2)
    for verb in ("push", "fetch", "pull", "sync"):
        assert "no remote named nope" in one_line_error(cli(laptop, verb, "nope"), 2)
    assert "unsupported remote address" in one_line_error(
        cli(laptop, "remote", "add", "web", "https://example.com/vault"), 2)


# ----------------------------------------------------------------------------- clone
def test_clone_checks_out_field_branch_at_origin_main(studio, ok, tmp_path):
    out = ok(tmp_path, "clone", str(studio), "laptop")
    dst = tmp_path / "laptop"
    assert out.startswith(f"Cloned {studio} into {dst}\nFrom origin\n")
    assert re.search(r"^   \(new\)\.\.[0-9a-f]{10}  origin/main$", out, re.M)
    assert re.search(r"^2 files, [\d.]+ KiB received \(\d+ chunks\)$", out, re.M)
    assert out.endswith("On branch field/laptop (from origin/main)\n")
    assert branch_of(dst) == "field/laptop"
    assert head(dst) == head(dst, "origin/main") == head(studio, "main")
    for rel, data in {"shoot/f001.nef": NEF1, "shoot/f001.jpg": JPG1,
                      "shoot/f001.xmp": XMP1.encode(), "notes.txt": NOTES.encode()}.items():
        assert (dst / rel).read_bytes() == data, rel
    assert_git_clean(dst)
    assert git(dst, "remote", "-v").splitlines()[0] == f"origin\t{studio} (fetch)"
    assert ok(dst, "status") == "On branch field/laptop\nnothing to commit, working tree clean\n"
    assert ok(dst, "fsck").endswith(": ok\n")
    # the studio is untouched: no new ref, its working tree still clean
    assert set(heads(studio)) == {"refs/heads/main"}
    assert_git_clean(studio)


def test_clone_name_option_and_json(studio, ok, tmp_path):
    data = json.loads(ok(tmp_path, "clone", str(studio), "card-a", "--name", "cam2", "--json"))
    assert data["branch"] == "field/cam2" and data["start"] == "main"
    assert data["path"] == str(tmp_path / "card-a") and data["missing"] == []
    assert set(data["fetch"]) >= TRANSFER_KEYS
    assert data["fetch"]["files"] == 2 and data["fetch"]["bytes"] == len(NEF1) + len(JPG1)
    assert [r["ref"] for r in data["fetch"]["refs"]] == ["refs/remotes/origin/main"]
    assert branch_of(tmp_path / "card-a") == "field/cam2"


def test_clone_of_missing_path_or_not_a_vault_is_11(studio, cli, tmp_path):
    res = cli(tmp_path, "clone", str(tmp_path / "unplugged"), "a")
    assert "not reachable" in one_line_error(res, 11)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "photo.jpg").write_bytes(JPG1)
    assert "not a vault" in one_line_error(cli(tmp_path, "clone", "plain", "b"), 11)
    res = cli(tmp_path, "clone", str(studio / "shoot"), "c")  # inside a vault
    assert "not the top of a vault" in one_line_error(res, 11)
    for name in "abc":
        assert not (tmp_path / name).exists()


def test_clone_into_a_non_empty_folder_is_refused(studio, cli, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    write(busy / "keep.jpg", JPG1)
    err = one_line_error(cli(tmp_path, "clone", str(studio), "busy"), 2)
    assert "destination exists and is not empty" in err
    assert [p.name for p in busy.iterdir()] == ["keep.jpg"]
    # a finished clone is not "resumed" either
    cli(tmp_path, "clone", str(studio), "done")
    before = heads(tmp_path / "done")
    one_line_error(cli(tmp_path, "clone", str(studio), "done"), 2)
    assert heads(tmp_path / "done") == before


def test_interrupted_clone_is_resumed_by_running_it_again(studio, ok, cli, tmp_path,
                                                          monkeypatch):
    from creativevault.features.sync import engine
    from creativevault.store.pack import ENTRY_MANIFEST

    class CutAfterOneFile(engine.Ingest):  # the cable is pulled after the first file
        def add(self, entry):
            if entry.etype == ENTRY_MANIFEST and self.report.files >= 1:
                raise KeyboardInterrupt
            return super().add(entry)

    monkeypatch.setattr(engine, "Ingest", CutAfterOneFile)
    res = cli(tmp_path, "clone", str(studio), "laptop")
    assert res.code == 130 and "interrupted" in res.err
    dst = tmp_path / "laptop"
    assert dst.is_dir() and not (dst / "shoot").exists()
    monkeypatch.undo()  # a fresh attempt on the same destination
    monkeypatch.chdir(tmp_path)
    data = json.loads(ok(tmp_path, "clone", str(studio), "laptop", "--json"))
    # only what was still missing moved the second time
    assert (data["fetch"]["files"], data["fetch"]["skipped_files"]) == (1, 1)
    assert branch_of(dst) == "field/laptop" and head(dst) == head(studio)
    assert (dst / "shoot" / "f001.nef").read_bytes() == NEF1
    assert (dst / "shoot" / "f001.jpg").read_bytes() == JPG1
    assert git(dst, "config", "cvault.cloning").strip() == "false"
    assert_git_clean(dst)
    assert ok(dst, "fsck").endswith(": ok\n")


# ----------------------------------------------------------------------------- push
def test_push_sends_the_current_branch_to_the_same_name(studio, laptop, ok):
    write(laptop / "shoot" / "f002.nef", creative_bytes("f002.nef", 500_000, seed=21))
    new = commit(ok, laptop, "field: f002")
    out = ok(laptop, "push")
    lines = out.splitlines()
    assert lines[0] == "To origin"
    assert lines[1] == f"   (new)..{new[:10]}  field/laptop"
    assert re.match(r"^1 files, 488\.3 KiB sent \(\d+ chunks\)$", lines[2]), out
    assert heads(studio)["refs/heads/field/laptop"] == new
    assert heads(laptop)["refs/remotes/origin/field/laptop"] == new
    # the studio's checked-out main and its working files did not move
    assert heads(studio)["refs/heads/main"] == head(laptop, "origin/main")
    assert not (studio / "shoot" / "f002.nef").exists()
    assert_git_clean(studio)
    with cv.Vault.open(studio) as vault:
        import io

        buf = io.BytesIO()
        vault.cat("field/laptop:shoot/f002.nef", buf)
        assert buf.getvalue() == (laptop / "shoot" / "f002.nef").read_bytes()
    assert ok(studio, "fsck").endswith(": ok\n")
    assert ok(laptop, "push") == "To origin\nEverything up-to-date\n"


def test_push_moves_only_the_chunks_the_remote_lacks(studio, laptop, ok):
    big = bytearray(creative_bytes("big.nef", 3_000_000, seed=31))
    write(laptop / "shoot" / "big.nef", bytes(big))
    commit(ok, laptop, "big frame")
    first = json.loads(ok(laptop, "push", "--json"))
    assert first["bytes"] == len(big) and first["files"] == 1
    big[2_900_000:2_900_100] = b"\x00" * 100  # a small retouch near the end
    write(laptop / "shoot" / "big.nef", bytes(big))
    commit(ok, laptop, "retouch")
    second = json.loads(ok(laptop, "push", "--json"))
    assert second["files"] == 1 and 0 < second["chunks"] < first["chunks"]
    assert second["bytes"] < len(big) // 2


def test_pushing_the_remote_checked_out_branch_is_refused(studio, laptop, ok, cli):
    write(laptop / "shoot" / "f002.jpg", creative_bytes("f002.jpg", 200_000, seed=22))
    commit(ok, laptop, "field work")
    before_refs, before_packs = heads(studio), packs(studio)
    err = one_line_error(cli(laptop, "push", "origin", "field/laptop:main"), 12)
    assert "refusing to update 'main', the branch checked out in origin" in err
    assert "nothing was sent" in err
    assert heads(studio) == before_refs and packs(studio) == before_packs
    assert_git_clean(studio)


def test_non_fast_forward_is_refused_and_force_moves_it(studio, ok, cli, tmp_path):
    ok(tmp_path, "clone", str(studio), "cam-a", "--name", "cam")
    ok(tmp_path, "clone", str(studio), "cam-b", "--name", "cam")
    a, b = tmp_path / "cam-a", tmp_path / "cam-b"
    write(a / "a.jpg", creative_bytes("a.jpg", 100_000, seed=41))
    first = commit(ok, a, "from a")
    ok(a, "push")
    write(b / "b.jpg", creative_bytes("b.jpg", 100_000, seed=42))
    second = commit(ok, b, "from b")
    err = one_line_error(cli(b, "push"), 12)
    assert "not a fast-forward" in err
    assert heads(studio)["refs/heads/field/cam"] == first
    out = ok(b, "push", "--force")
    assert f"{first[:10]}..{second[:10]}  field/cam" in out
    assert heads(studio)["refs/heads/field/cam"] == second
    run_git(studio, "fsck", "--strict")


def test_push_dry_run_moves_nothing_and_json_shape(studio, laptop, ok):
    write(laptop / "shoot" / "f002.nef", creative_bytes("f002.nef", 400_000, seed=23))
    write(laptop / "shoot" / "f002.xmp", XMP1.replace("3", "5"))
    new = commit(ok, laptop, "f002")
    before_refs, before_packs = heads(studio), packs(studio)
    dry = json.loads(ok(laptop, "push", "--dry-run", "--json"))
    assert set(dry) >= TRANSFER_KEYS
    assert dry["dry_run"] is True and dry["up_to_date"] is False
    assert (dry["files"], dry["bytes"]) == (1, 400_000) and dry["chunks"] >= 1
    assert dry["refs"] == [{"ref": "refs/heads/field/laptop", "old": None, "new": new}]
    assert heads(studio) == before_refs and packs(studio) == before_packs
    assert "refs/remotes/origin/field/laptop" not in heads(laptop)
    text = ok(laptop, "push", "--dry-run")
    assert re.search(r"^1 files, 390\.6 KiB would be sent \(\d+ chunks\)$", text, re.M), text
    real = json.loads(ok(laptop, "push", "--json"))
    assert {k: real[k] for k in ("files", "bytes", "chunks", "refs", "up_to_date")} == {
        k: dry[k] for k in ("files", "bytes", "chunks", "refs", "up_to_date")}
    assert real["dry_run"] is False and real["direction"] == "push"
    again = json.loads(ok(laptop, "push", "--json"))
    assert again["up_to_date"] is True and again["refs"] == [] and again["files"] == 0


def test_fetch_brings_branches_and_content_then_says_up_to_date(studio, laptop, ok):
    write(studio / "shoot" / "f010.jpg", creative_bytes("f010.jpg", 250_000, seed=51))
    new = commit(ok, studio, "studio retouch")
    out = ok(laptop, "fetch")
    assert out.startswith("From origin\n")
    assert f"..{new[:10]}  origin/main" in out
    assert heads(laptop)["refs/remotes/origin/main"] == new
    assert head(laptop) != new  # fetch does not merge
    with cv.Vault.open(laptop) as vault:  # the content came with the commits
        assert vault.store.has_file(_file_id(vault, new, "shoot/f010.jpg"))
    assert ok(laptop, "fetch") == "Everything up-to-date\n"


def _file_id(vault: cv.Vault, rev: str, path: str) -> str:
    from creativevault.repo.pointer import parse_pointer

    blob = vault.git.commit_tree_flat(vault.resolve(rev))[path].blob_id
    return parse_pointer(vault.git.read_blob(blob)).oid
