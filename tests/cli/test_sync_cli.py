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
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import creativevault as cv
from tests.conftest import run_cli, run_git
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
    assert cat(studio, "field/laptop:shoot/f002.nef") == \
        (laptop / "shoot" / "f002.nef").read_bytes()
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


def test_a_field_day_as_git_cvault_processes(studio, tmp_path):
    """The same verbs through the real git binary (``git cvault`` on PATH)."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "git-cvault").exists():
        pytest.skip("the git-cvault console script is not installed")
    env = dict(os.environ, PATH=os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]))

    def gc(cwd: Path, *args: str) -> str:
        res = subprocess.run(["git", "cvault", *args], cwd=cwd, env=env, capture_output=True,
                             text=True)
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res.stdout

    gc(tmp_path, "clone", str(studio), "cam")
    cam = tmp_path / "cam"
    write(cam / "shoot" / "f700.nef", creative_bytes("f700.nef", 300_000, seed=104))
    assert gc(cam, "sync").startswith("Committed pending changes as ")
    assert heads(studio)["refs/heads/field/cam"] == head(cam)
    assert gc(studio, "merge", "field/cam").startswith("Updating ")
    assert (studio / "shoot" / "f700.nef").read_bytes() == \
        (cam / "shoot" / "f700.nef").read_bytes()
    assert gc(cam, "push") == "To origin\nEverything up-to-date\n"
    assert_git_clean(studio)


# ----------------------------------------------------------------------------- pull / merge
def test_pull_fast_forwards_to_origin_main(studio, laptop, ok):
    write(studio / "shoot" / "f010.jpg", creative_bytes("f010.jpg", 250_000, seed=51))
    new = commit(ok, studio, "studio: f010")
    out = ok(laptop, "pull")
    assert out.startswith("From origin\n")
    assert f"Updating {head(studio, 'HEAD~1')[:7]}..{new[:7]}\nFast-forward\n" in out
    assert branch_of(laptop) == "field/laptop" and head(laptop) == new
    assert (laptop / "shoot" / "f010.jpg").read_bytes() == \
        (studio / "shoot" / "f010.jpg").read_bytes()
    assert_git_clean(laptop)
    assert ok(laptop, "pull").endswith("Everything up-to-date\nAlready up to date.\n")


def test_pull_makes_a_merge_when_both_sides_moved(studio, laptop, ok):
    write(studio / "shoot" / "f010.jpg", creative_bytes("f010.jpg", 250_000, seed=51))
    theirs = commit(ok, studio, "studio: f010")
    write(laptop / "shoot" / "f020.nef", creative_bytes("f020.nef", 300_000, seed=52))
    ours = commit(ok, laptop, "field: f020")
    data = json.loads(ok(laptop, "pull", "--json"))
    merge = data["merge"]
    assert merge["kind"] == "merge" and merge["conflicts"] == [] and merge["kept"] == []
    assert merge["branch"] == "field/laptop" and merge["rev"] == "origin/main"
    assert git(laptop, "rev-list", "--parents", "-n1", "HEAD").split()[1:] == [ours, theirs]
    assert git(laptop, "log", "-1", "--format=%s").strip() == \
        "Merge origin/main into field/laptop"
    assert sorted(p.name for p in (laptop / "shoot").iterdir()) == [
        "f001.jpg", "f001.nef", "f001.xmp", "f010.jpg", "f020.nef"]
    assert_git_clean(laptop)
    # the studio takes the field work with one merge of the pushed branch
    ok(laptop, "push")
    out = ok(studio, "merge", "field/laptop")
    assert "Fast-forward" in out
    assert head(studio) == head(laptop)
    assert (studio / "shoot" / "f020.nef").read_bytes() == \
        (laptop / "shoot" / "f020.nef").read_bytes()
    assert_git_clean(studio)


def test_studio_pulls_a_field_branch_straight_from_the_laptop_path(studio, laptop, ok):
    write(laptop / "shoot" / "f030.nef", creative_bytes("f030.nef", 300_000, seed=53))
    commit(ok, laptop, "field: f030")
    write(studio / "plan.txt", "shot list\n")
    commit(ok, studio, "studio: plan")
    out = ok(studio, "pull", str(laptop), "field/laptop")
    assert f"From {laptop}\n" in out
    assert re.search(r"^Merge made by cvault: \[main [0-9a-f]{7}\] Merge field/laptop from "
                     rf"{re.escape(str(laptop))} into main$", out, re.M), out
    assert git(studio, "log", "-1", "--format=%s").strip() == \
        f"Merge field/laptop from {laptop} into main"
    assert branch_of(studio) == "main"
    assert (studio / "shoot" / "f030.nef").read_bytes() == \
        (laptop / "shoot" / "f030.nef").read_bytes()
    assert (studio / "plan.txt").read_text() == "shot list\n"
    assert_git_clean(studio)
    assert ok(studio, "fsck").endswith(": ok\n")
    # both sides edit the same frame: theirs is named after the branch, not an internal ref
    write(laptop / "shoot" / "f030.nef", creative_bytes("f030.nef", 300_000, seed=54))
    commit(ok, laptop, "field: f030 again")
    write(studio / "shoot" / "f030.nef", creative_bytes("f030.nef", 300_000, seed=55))
    commit(ok, studio, "studio: f030 retouched")
    ok(studio, "pull", str(laptop), "field/laptop")
    kept = studio / "shoot" / "f030 (conflicted copy from field-laptop).nef"
    assert kept.read_bytes() == (laptop / "shoot" / "f030.nef").read_bytes()
    assert "refs" not in git(studio, "log", "-1", "--format=%B")


def _diverge(ok, studio: Path, laptop: Path, edit_studio, edit_laptop) -> None:
    """Each side edits and commits; the laptop pushes its branch."""
    edit_laptop(laptop)
    commit(ok, laptop, "field edit")
    ok(laptop, "push")
    edit_studio(studio)
    commit(ok, studio, "studio edit")


def test_both_changed_binary_keeps_both_and_the_merge_says_so(studio, laptop, ok):
    ours, theirs = (creative_bytes("f001.jpg", 310_000, seed=s) for s in (61, 62))
    _diverge(ok, studio, laptop, lambda r: write(r / "shoot" / "f001.jpg", ours),
             lambda r: write(r / "shoot" / "f001.jpg", theirs))
    out = ok(studio, "merge", "field/laptop")
    kept_as = "shoot/f001 (conflicted copy from field-laptop).jpg"
    assert f'kept both: shoot/f001.jpg (theirs as "{kept_as}")\n' in out
    assert (studio / "shoot" / "f001.jpg").read_bytes() == ours
    assert (studio / kept_as).read_bytes() == theirs
    message = git(studio, "log", "-1", "--format=%B")
    assert message.startswith("Merge field/laptop into main\n\n")
    assert f'kept both: shoot/f001.jpg (theirs as "{kept_as}")' in message
    assert len(git(studio, "rev-list", "--parents", "-n1", "HEAD").split()) == 3
    assert_git_clean(studio)
    assert not (studio / ".git" / "MERGE_HEAD").exists()
    # the laptop pulls the reconciled main: both versions arrive, nothing conflicts again
    out = ok(laptop, "pull")
    assert "Fast-forward" in out
    assert (laptop / kept_as).read_bytes() == theirs
    assert (laptop / "shoot" / "f001.jpg").read_bytes() == ours


def test_modify_delete_keeps_the_changed_file(studio, laptop, ok):
    changed = creative_bytes("f001.nef", 610_000, seed=63)
    _diverge(ok, studio, laptop, lambda r: (r / "shoot" / "f001.nef").unlink(),
             lambda r: write(r / "shoot" / "f001.nef", changed))
    out = ok(studio, "merge", "field/laptop")
    line = "kept changed: shoot/f001.nef (deleted in main, changed in field/laptop)"
    assert line + "\n" in out
    assert (studio / "shoot" / "f001.nef").read_bytes() == changed
    assert line in git(studio, "log", "-1", "--format=%B")
    assert_git_clean(studio)


def test_text_changed_apart_merges_like_git(studio, laptop, ok):
    lines = NOTES.splitlines(keepends=True)
    top = ["line 1: studio notes, color graded\n", *lines[1:]]
    bottom = [*lines[:-1], "line 10: field notes, rain at noon\n"]
    _diverge(ok, studio, laptop, lambda r: write(r / "notes.txt", "".join(top)),
             lambda r: write(r / "notes.txt", "".join(bottom)))
    data = json.loads(ok(studio, "merge", "field/laptop", "--json"))
    assert data["text_merged"] == ["notes.txt"] and data["conflicts"] == []
    assert (studio / "notes.txt").read_text() == "".join([top[0], *lines[1:-1], bottom[-1]])
    assert_git_clean(studio)


def test_text_conflict_is_kept_both_ways_never_half_merged(studio, laptop, ok):
    ours = XMP1.replace('xmp:Rating="3"', 'xmp:Rating="5"')
    theirs = XMP1.replace('xmp:Rating="3"', 'xmp:Rating="1"')
    _diverge(ok, studio, laptop, lambda r: write(r / "shoot" / "f001.xmp", ours),
             lambda r: write(r / "shoot" / "f001.xmp", theirs))
    data = json.loads(ok(studio, "merge", "field/laptop", "--json"))
    kept_as = "shoot/f001 (conflicted copy from field-laptop).xmp"
    assert data["conflicts"] == [{"path": "shoot/f001.xmp", "kept_as": kept_as,
                                  "kind": "text-conflict"}]
    assert (studio / "shoot" / "f001.xmp").read_text() == ours
    assert (studio / kept_as).read_text() == theirs
    for path in (studio / "shoot").iterdir():
        assert b"<<<<<<<" not in path.read_bytes() and b">>>>>>>" not in path.read_bytes()
    assert not (studio / ".git" / "MERGE_HEAD").exists()
    assert git(studio, "ls-files", "--unmerged") == ""
    assert_git_clean(studio)
    assert f'kept both: shoot/f001.xmp (theirs as "{kept_as}")' in \
        git(studio, "log", "-1", "--format=%B")


# ----------------------------------------------------------------------------- sync
def test_sync_commits_new_modified_and_deleted_then_pulls_and_pushes(studio, laptop, ok):
    write(studio / "shoot" / "f040.jpg", creative_bytes("f040.jpg", 200_000, seed=71))
    studio_new = commit(ok, studio, "studio: f040")
    write(laptop / "shoot" / "f041.nef", creative_bytes("f041.nef", 300_000, seed=72))
    write(laptop / "shoot" / "f001.jpg", creative_bytes("f001.jpg", 300_000, seed=73))
    (laptop / "shoot" / "f001.xmp").unlink()
    before = head(laptop)
    out = ok(laptop, "sync")
    committed = re.match(r"^Committed pending changes as ([0-9a-f]{10})\n", out)
    assert committed, out
    auto = git(laptop, "rev-parse", committed[1]).strip()
    assert git(laptop, "rev-parse", f"{auto}~1").strip() == before
    assert git(laptop, "log", "-1", "--format=%s", auto).startswith("cvault sync from ")
    changes = {c["path"]: c["kind"] for c in json.loads(ok(laptop, "show", auto, "--json"))[
        "changes"]}
    assert changes == {"shoot/f041.nef": "added", "shoot/f001.jpg": "modified",
                       "shoot/f001.xmp": "deleted"}
    # pulled the studio's main (a true merge), then pushed the result
    assert "Merge made by cvault: [field/laptop " in out
    assert "To origin\n" in out
    assert git(laptop, "rev-list", "--parents", "-n1", "HEAD").split()[1:] == [auto,
                                                                               studio_new]
    assert (laptop / "shoot" / "f040.jpg").is_file()
    assert heads(studio)["refs/heads/field/laptop"] == head(laptop)
    assert heads(studio)["refs/heads/main"] == studio_new
    assert_git_clean(laptop)
    assert_git_clean(studio)
    # nothing left to do: no commit, nothing moves
    before_refs, before_packs = heads(studio), packs(studio)
    data = json.loads(ok(laptop, "sync", "--json"))
    assert data["committed"] is None
    assert data["pull"]["fetch"]["up_to_date"] and data["pull"]["merge"]["kind"] == "up-to-date"
    assert data["push"]["up_to_date"] and data["push"]["files"] == 0
    assert heads(studio) == before_refs and packs(studio) == before_packs
    assert ok(laptop, "sync") == ("Everything up-to-date\nAlready up to date.\n"
                                  "To origin\nEverything up-to-date\n")


def test_sync_message_option(studio, laptop, ok):
    write(laptop / "shoot" / "f050.jpg", creative_bytes("f050.jpg", 100_000, seed=74))
    ok(laptop, "sync", "-m", "day 3, ridge")
    assert git(laptop, "log", "-1", "--format=%s").strip() == "day 3, ridge"
    assert heads(studio)["refs/heads/field/laptop"] == head(laptop)


# ----------------------------------------------------------------------------- partial content
def test_clone_no_content_leaves_pointers_and_get_fetches_them(studio, ok, cli, tmp_path):
    write(studio / "shoot" / "day2" / "f101.nef", creative_bytes("f101.nef", 200_000, seed=81))
    write(studio / "shoot" / "day2" / "f101.jpg", creative_bytes("f101.jpg", 100_000, seed=82))
    commit(ok, studio, "day 2")
    res = cli(tmp_path, "clone", "--no-content", str(studio), "light")
    assert res.code == 0 and "received" not in res.out
    assert res.err == ("cvault: 4 files are pointers without their content here; "
                       "'cvault get PATH' fetches them\n")
    light = tmp_path / "light"
    for rel in ("shoot/f001.nef", "shoot/f001.jpg", "shoot/day2/f101.nef"):
        assert is_pointer(light / rel), rel
    assert (light / "notes.txt").read_text() == NOTES  # git blobs come with history
    assert (light / "shoot" / "f001.xmp").read_text() == XMP1
    assert ok(light, "status") == "On branch field/light\nnothing to commit, working tree clean\n"
    assert_git_clean(light)
    assert git(light, "config", "cvault.partial").strip() == "true"
    assert ok(light, "get", "shoot/f001.nef") == "get\tshoot/f001.nef\n"
    assert (light / "shoot" / "f001.nef").read_bytes() == NEF1
    assert is_pointer(light / "shoot" / "f001.jpg")
    out = ok(light / "shoot", "get", "day2")  # a folder, relative to the current one
    assert out == "get\tshoot/day2/f101.jpg\nget\tshoot/day2/f101.nef\n"
    assert (light / "shoot" / "day2" / "f101.nef").read_bytes() == \
        (studio / "shoot" / "day2" / "f101.nef").read_bytes()
    data = json.loads(ok(light, "get", ".", "--json"))
    assert data["fetched"] == ["shoot/f001.jpg"] and data["unavailable"] == []
    assert sorted(data["already"]) == ["shoot/day2/f101.jpg", "shoot/day2/f101.nef",
                                       "shoot/f001.nef"]
    assert (light / "shoot" / "f001.jpg").read_bytes() == JPG1
    assert ok(light, "get", "shoot") == "nothing to get: the content is here\n"
    assert_git_clean(light)
    assert ok(light, "status") == "On branch field/light\nnothing to commit, working tree clean\n"
    assert ok(light, "fsck").endswith(": ok\n")


def test_get_with_no_reachable_remote_is_6(studio, ok, cli, tmp_path):
    assert cli(tmp_path, "clone", "--no-content", str(studio), "light").code == 0
    light = tmp_path / "light"
    studio.rename(tmp_path / "unplugged")  # the studio drive is not mounted
    res = cli(light, "get", "shoot/f001.nef")
    assert res.code == 6
    assert "not reachable" in res.err  # why, from the remote
    assert res.err.endswith("cvault: error: no reachable remote has the content of 1 files "
                            "(first: shoot/f001.nef)\n")
    assert is_pointer(light / "shoot" / "f001.nef")
    assert "no remote named nope" in one_line_error(
        cli(light, "get", "shoot/f001.nef", "--from", "nope"), 2)


def test_drop_after_push_frees_space_and_get_brings_it_back(studio, laptop, ok):
    frame = creative_bytes("f200.nef", 800_000, seed=91)
    write(laptop / "shoot" / "f200.nef", frame)
    commit(ok, laptop, "f200")
    ok(laptop, "push")
    before_fsck = json.loads(ok(laptop, "fsck", "--json"))
    before = store_bytes(laptop)
    out = ok(laptop, "drop", "shoot/f200.nef")
    assert out.startswith("drop\tshoot/f200.nef\nfreed ")
    assert is_pointer(laptop / "shoot" / "f200.nef")
    assert store_bytes(laptop) < before - len(frame) // 4  # compressed, about half
    res_fsck = run_cli(laptop, "fsck", "--json")
    assert res_fsck.returncode == 6
    after_fsck = json.loads(res_fsck.stdout)
    assert after_fsck["problems"] == [] and after_fsck["checked_files"] == \
        before_fsck["checked_files"] - 1
    assert [m.split(" ")[0] for m in after_fsck["missing_content"]] == ["shoot/f200.nef"]
    # the working tree is as committed, for cvault and for git
    assert ok(laptop, "status") == "On branch field/laptop\nnothing to commit, working tree " \
                                   "clean\n"
    assert_git_clean(laptop)
    # and it comes back byte-exact
    assert ok(laptop, "get", "shoot/f200.nef") == "get\tshoot/f200.nef\n"
    assert (laptop / "shoot" / "f200.nef").read_bytes() == frame
    assert_git_clean(laptop)
    assert ok(laptop, "fsck").endswith(": ok\n")


def test_drop_keep_file_leaves_the_working_file(studio, laptop, ok):
    before = store_bytes(laptop)
    data = json.loads(ok(laptop, "drop", "--keep-file", "shoot/f001.nef", "--json"))
    assert data["dropped"] == ["shoot/f001.nef"] and data["kept_files"] is True
    assert data["freed_bytes"] > 0 and list(data["copies"].values()) == [["origin"]]
    assert (laptop / "shoot" / "f001.nef").read_bytes() == NEF1
    assert store_bytes(laptop) < before
    assert_git_clean(laptop)
    assert run_cli(laptop, "fsck").returncode == 6  # its stored copy is gone
    assert ok(laptop, "get", "shoot/f001.nef") == "get\tshoot/f001.nef\n"
    assert ok(laptop, "fsck").endswith(": ok\n")


def test_drop_dry_run_verifies_and_drops_nothing(studio, laptop, ok):
    before = packs(laptop)
    out = ok(laptop, "drop", "--dry-run", "shoot")
    assert out == "would drop\tshoot/f001.jpg\nwould drop\tshoot/f001.nef\n"
    assert packs(laptop) == before
    assert (laptop / "shoot" / "f001.nef").read_bytes() == NEF1


def test_drop_refuses_without_enough_verified_copies(studio, laptop, ok, cli):
    frame = creative_bytes("f300.nef", 300_000, seed=92)
    write(laptop / "shoot" / "f300.nef", frame)
    commit(ok, laptop, "not pushed yet")
    before = packs(laptop)

    def refused(*args: str, code: int = 13) -> str:
        err = one_line_error(cli(laptop, "drop", *args), code)
        assert packs(laptop) == before
        assert (laptop / "shoot" / "f300.nef").read_bytes() == frame
        assert (laptop / "shoot" / "f001.nef").read_bytes() == NEF1
        return err

    err = refused("shoot/f300.nef")
    assert "1 files have fewer than 1 verified copies elsewhere (first: shoot/f300.nef, " \
           "0 found)" in err and "nothing was dropped" in err
    assert "fewer than 2 verified copies" in refused("--numcopies", "2", "shoot/f001.nef")
    run_git(laptop, "config", "cvault.numcopies", "2")
    assert "fewer than 2 verified copies" in refused("shoot/f001.nef")
    assert "last copy is never dropped" in refused("--numcopies", "0", "shoot/f001.nef",
                                                   code=2)
    ok(laptop, "drop", "--numcopies", "1", "--dry-run", "shoot/f001.nef")  # flag wins
    run_git(laptop, "config", "cvault.numcopies", "many")
    assert "cvault.numcopies must be a whole number" in refused("shoot/f001.nef", code=2)
    run_git(laptop, "config", "--unset", "cvault.numcopies")
    # an uncommitted change is never replaced by a pointer
    ok(laptop, "push")
    write(laptop / "shoot" / "f300.nef", frame[:-10])
    err = one_line_error(cli(laptop, "drop", "shoot/f300.nef"), 9)
    assert "has uncommitted changes" in err
    assert (laptop / "shoot" / "f300.nef").read_bytes() == frame[:-10]


def test_the_last_copy_is_never_dropped(studio, laptop, ok, cli):
    frame = creative_bytes("f400.nef", 300_000, seed=93)
    write(laptop / "shoot" / "f400.nef", frame)
    commit(ok, laptop, "f400")
    ok(laptop, "push")
    ok(studio, "merge", "field/laptop")
    ok(studio, "remote", "add", "laptop", str(laptop))
    ok(laptop, "drop", "shoot/f400.nef")  # the studio holds it
    # now the studio's copy is the last one: the laptop's verification says so
    before = packs(studio)
    err = one_line_error(cli(studio, "drop", "shoot/f400.nef"), 13)
    assert "fewer than 1 verified copies elsewhere (first: shoot/f400.nef, 0 found)" in err
    assert packs(studio) == before
    assert (studio / "shoot" / "f400.nef").read_bytes() == frame
    ok(laptop, "get", "shoot/f400.nef")
    ok(studio, "drop", "--dry-run", "shoot/f400.nef")  # two copies again


def test_drop_in_a_vault_without_remotes_is_refused(studio, cli):
    before = packs(studio)
    err = one_line_error(cli(studio, "drop", "shoot/f001.nef"), 13)
    assert "no remotes configured" in err and "nothing was dropped" in err
    assert packs(studio) == before and (studio / "shoot" / "f001.nef").read_bytes() == NEF1


# ----------------------------------------------------------------------------- every version
def cat(root: Path, spec: str) -> bytes:
    import io

    with cv.Vault.open(root) as vault:
        buf = io.BytesIO()
        vault.cat(spec, buf)
        return buf.getvalue()


def test_push_sends_every_version_of_a_file_changed_twice(studio, laptop, ok):
    v2, v3 = (creative_bytes("f001.jpg", 300_000, seed=s) for s in (94, 95))
    write(laptop / "shoot" / "f001.jpg", v2)
    commit(ok, laptop, "v2")
    write(laptop / "shoot" / "f001.jpg", v3)
    commit(ok, laptop, "v3")
    assert json.loads(ok(laptop, "push", "--json"))["files"] == 2
    assert cat(studio, "field/laptop~1:shoot/f001.jpg") == v2
    assert cat(studio, "field/laptop:shoot/f001.jpg") == v3
    assert ok(studio, "fsck").endswith(": ok\n")


def test_push_after_the_studio_moved_main(studio, laptop, ok):
    ours = creative_bytes("f001.jpg", 300_000, seed=96)
    write(laptop / "shoot" / "f001.jpg", ours)
    commit(ok, laptop, "field edit")
    write(studio / "shoot" / "f001.jpg", creative_bytes("f001.jpg", 300_000, seed=97))
    commit(ok, studio, "studio edit")
    assert json.loads(ok(laptop, "push", "--json"))["files"] == 1
    assert cat(studio, "field/laptop:shoot/f001.jpg") == ours
    assert ok(studio, "fsck").endswith(": ok\n")


# ----------------------------------------------------------------------------- SSH
REMOTE_CVAULT = str(Path(sys.executable).parent / "cvault")


@pytest.fixture
def over_ssh(sshd, monkeypatch):
    """The ssh command and the far side's cvault, as a user sets them in the environment."""
    monkeypatch.setenv("CVAULT_SSH_COMMAND", sshd.ssh_command)
    monkeypatch.setenv("CVAULT_REMOTE_CVAULT", REMOTE_CVAULT)
    return sshd


def test_ssh_url_clone_push_pull_sync(studio, over_ssh, ok, tmp_path):
    url = over_ssh.url(studio)
    out = ok(tmp_path, "clone", url, "laptop")
    laptop = tmp_path / "laptop"
    assert out.startswith(f"Cloned {url} into {laptop}\n")
    assert out.endswith("On branch field/laptop (from origin/main)\n")
    assert git(laptop, "remote", "get-url", "origin").strip() == url
    assert (laptop / "shoot" / "f001.nef").read_bytes() == NEF1
    assert_git_clean(laptop)
    # push the field branch
    frame = creative_bytes("f500.nef", 400_000, seed=101)
    write(laptop / "shoot" / "f500.nef", frame)
    new = commit(ok, laptop, "f500")
    out = ok(laptop, "push")
    assert out.startswith("To origin\n") and re.search(r"^1 files, .* sent", out, re.M)
    assert heads(studio)["refs/heads/field/laptop"] == new
    # the studio moves main; pull merges it over ssh
    write(studio / "shoot" / "f501.jpg", creative_bytes("f501.jpg", 200_000, seed=102))
    commit(ok, studio, "studio f501")
    out = ok(laptop, "pull")
    assert "Merge made by cvault: [field/laptop " in out
    assert (laptop / "shoot" / "f501.jpg").read_bytes() == \
        (studio / "shoot" / "f501.jpg").read_bytes()
    # sync: commit, pull, push in one connection
    (laptop / "shoot" / "f001.xmp").write_text(XMP1.replace("Blue", "Red"))
    out = ok(laptop, "sync")
    assert out.startswith("Committed pending changes as ")
    assert heads(studio)["refs/heads/field/laptop"] == head(laptop)
    assert ok(laptop, "sync").endswith("To origin\nEverything up-to-date\n")
    ok(studio, "merge", "field/laptop")
    assert (studio / "shoot" / "f500.nef").read_bytes() == frame
    assert_git_clean(studio)
    assert ok(studio, "fsck").endswith(": ok\n")


def test_scp_form_as_subprocesses_with_git_config(studio, over_ssh, tmp_path, monkeypatch):
    url = over_ssh.scp_url(studio)
    assert ":" in url and "://" not in url
    res = run_cli(tmp_path, "clone", url, "cam", "--name", "cam-b")
    assert res.returncode == 0, res.stderr
    cam = tmp_path / "cam"
    assert branch_of(cam) == "field/cam-b"
    assert (cam / "shoot" / "f001.jpg").read_bytes() == JPG1
    # from here on the vault's git config says how to reach the host
    monkeypatch.delenv("CVAULT_SSH_COMMAND")
    monkeypatch.delenv("CVAULT_REMOTE_CVAULT")
    run_git(cam, "config", "cvault.sshCommand", over_ssh.ssh_command)
    run_git(cam, "config", "cvault.remoteCvault", REMOTE_CVAULT)
    write(cam / "shoot" / "f600.jpg", creative_bytes("f600.jpg", 300_000, seed=103))
    res = run_cli(cam, "sync", "-m", "card B")
    assert res.returncode == 0, res.stderr
    assert heads(studio)["refs/heads/field/cam-b"] == head(cam)
    write(studio / "plan.txt", "day 2\n")
    studio_head = commit(lambda *a: run_cli(*a, check=True), studio, "plan")
    res = run_cli(cam, "pull", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["merge"]["kind"] == "merge"
    assert git(cam, "rev-parse", "HEAD^2").strip() == studio_head
    res = run_cli(cam, "push", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["files"] == 0
    assert heads(studio)["refs/heads/field/cam-b"] == head(cam)
    assert_git_clean(cam)


def test_ssh_wrong_remote_cvault_is_11_with_ssh_stderr(studio, over_ssh, cli, tmp_path,
                                                       monkeypatch, ok):
    monkeypatch.setenv("CVAULT_REMOTE_CVAULT", "/opt/nowhere/cvault")
    res = cli(tmp_path, "clone", over_ssh.url(studio), "laptop")
    err = one_line_error(res, 11)
    assert "/opt/nowhere/cvault" in err and ("No such file" in err or "not found" in err)
    assert not (tmp_path / "laptop").exists()
    # remote.<name>.cvault beats the environment, for that remote only
    monkeypatch.setenv("CVAULT_REMOTE_CVAULT", REMOTE_CVAULT)
    ok(tmp_path, "clone", over_ssh.url(studio), "laptop")
    laptop = tmp_path / "laptop"
    ok(laptop, "remote", "add", "box", over_ssh.scp_url(studio), "--cvault", "/opt/x/cvault")
    err = one_line_error(cli(laptop, "fetch", "box"), 11)
    assert "/opt/x/cvault" in err
    ok(laptop, "fetch", "origin")
    # a path that is no vault on the host
    err = one_line_error(cli(laptop, "fetch", over_ssh.url(tmp_path / "nothing")), 11)
    assert "nothing" in err


# ----------------------------------------------------------------------------- exFAT drives
@pytest.fixture
def exfat(exfat_drive, tmp_path):
    """``exfat_drive``; the in-process CLI's current folder leaves it before the unmount."""
    yield exfat_drive
    os.chdir(tmp_path)


@pytest.fixture
def full(full_drive, tmp_path):
    """``full_drive``, left by the current folder before the unmount."""
    yield full_drive
    os.chdir(tmp_path)


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def test_exfat_drive_carries_a_field_branch_to_the_studio(studio, laptop, exfat, ok):
    """Field -> drive -> studio: the drive vault is a push target, then a fetch source."""
    drive = exfat.path / "trip-2024"
    ok(exfat.path, "init", str(drive))
    write(laptop / "shoot" / "IMG_0042.JPG", creative_bytes("IMG_0042.JPG", 400_000, seed=111))
    write(laptop / "shoot" / "IMG_0042.CR3", creative_bytes("IMG_0042.CR3", 700_000, seed=112))
    new = commit(ok, laptop, "card A")
    ok(laptop, "remote", "add", "drive", str(drive))
    data = json.loads(ok(laptop, "push", "drive", "--json"))
    # the drive vault has no history yet: everything the branch refers to travels
    assert data["files"] == 4 and data["refs"][0]["ref"] == "refs/heads/field/laptop"
    assert heads(drive)["refs/heads/field/laptop"] == new
    run_git(drive, "fsck", "--strict")
    assert ok(drive, "fsck").endswith(": ok\n")
    assert ok(laptop, "push", "drive") == "To drive\nEverything up-to-date\n"
    # the studio reads the drive
    ok(studio, "remote", "add", "drive", str(drive))
    out = ok(studio, "fetch", "drive")
    assert f"..{new[:10]}  drive/field/laptop" in out
    assert re.search(r"^2 files, 1\.0 MiB received \(\d+ chunks\)$", out, re.M), out
    ok(studio, "merge", "drive/field/laptop")
    assert (studio / "shoot" / "IMG_0042.CR3").read_bytes() == \
        (laptop / "shoot" / "IMG_0042.CR3").read_bytes()
    assert_git_clean(studio)
    assert ok(studio, "fsck").endswith(": ok\n")


def test_exfat_drive_as_a_clone_destination(studio, exfat, ok, tmp_path):
    write(studio / "shoot" / "IMG_0001.JPG", creative_bytes("IMG_0001.JPG", 300_000, seed=113))
    write(studio / "Shoot Notes.TXT", "Mixed Case names survive\n")
    commit(ok, studio, "mixed case")
    field = exfat.path / "field"
    ok(tmp_path, "clone", str(studio), str(field), "--name", "ssd")
    assert branch_of(field) == "field/ssd"
    assert tree_files(field) == tree_files(studio)
    assert sorted(p.name for p in (field / "shoot").iterdir()) == [
        "IMG_0001.JPG", "f001.jpg", "f001.nef", "f001.xmp"]  # case preserved
    assert_git_clean(field)
    assert ok(field, "fsck").endswith(": ok\n")
    # work on the drive: a frame edited on both sides is kept both ways, with a name
    # exFAT accepts (no ':'), then pushed back and fetched again
    write(studio / "shoot" / "f001.jpg", creative_bytes("f001.jpg", 300_000, seed=114))
    commit(ok, studio, "studio grade")
    theirs = (studio / "shoot" / "f001.jpg").read_bytes()
    ours = creative_bytes("f001.jpg", 300_000, seed=115)
    write(field / "shoot" / "f001.jpg", ours)
    out = ok(field, "sync")
    kept_as = "shoot/f001 (conflicted copy from origin-main).jpg"
    assert f'kept both: shoot/f001.jpg (theirs as "{kept_as}")' in out
    assert (field / "shoot" / "f001.jpg").read_bytes() == ours
    assert (field / kept_as).read_bytes() == theirs
    assert heads(studio)["refs/heads/field/ssd"] == head(field)
    assert_git_clean(field)
    ok(studio, "merge", "field/ssd")
    assert tree_files(field) == tree_files(studio)
    assert "origin/main" in ok(field, "fetch")  # the studio's main moved
    assert ok(field, "fetch") == "Everything up-to-date\n"
    run_git(field, "fsck", "--strict")
    assert ok(field, "fsck").endswith(": ok\n")


def test_full_drive_is_refused_before_anything_is_sent(studio, laptop, full, ok, cli):
    drive = full.path / "vault"
    ok(full.path, "init", str(drive))
    full.fill(leave=512 * 1024)
    ok(laptop, "remote", "add", "drive", str(drive))
    before_refs, before_packs = heads(drive), packs(drive)
    before_objects = sorted(p.name for p in (drive / ".git" / "objects").rglob("*"))
    err = one_line_error(cli(laptop, "push", "drive"), 7)
    assert "not enough free space" in err and "nothing was sent" in err
    assert heads(drive) == before_refs and packs(drive) == before_packs
    assert sorted(p.name for p in (drive / ".git" / "objects").rglob("*")) == before_objects
    assert "refs/remotes/drive/field/laptop" not in heads(laptop)
    # a clone onto the full drive stops before receiving content, with the same code
    err = one_line_error(cli(full.path, "clone", str(studio), "copy"), 7)
    assert "not enough free space" in err and "no content was received" in err


def test_a_drive_with_no_byte_free_says_disk_full(studio, laptop, full, ok, cli):
    drive = full.path / "vault"
    ok(full.path, "init", str(drive))
    full.fill()
    ok(laptop, "remote", "add", "drive", str(drive))
    before = heads(drive)
    err = one_line_error(cli(laptop, "push", "drive"), 7)
    assert "index.sqlite" in err or "space" in err, err
    assert heads(drive) == before
