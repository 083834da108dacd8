"""Every cvault verb, run in-process through ``creativevault.cli.main.main``.

JSON keys the tests rely on (the contract tools may use; more keys may be added):

- status: branch, head, staged[], unstaged[], untracked[], collisions[];
  a change is {path, kind (added|modified|deleted), managed, old_size, new_size}
- log: a list of {id, message, author, time, tz, parents[]}
- show / commit: the log entry plus changes[]
- checkout / restore / rescue restore: {target, written[], deleted[], rescued, dry_run}
- branch: {current, branches: {name: commit id}}
- rescue list: a list of {name, id, time, reason, paths[]}
- fsck: {ok, problems[], missing_content[], checked_chunks, checked_files}
- gc: {freed_bytes, removed_chunks, removed_packs, rewritten_packs, dry_run, ...}
- add: {paths[], removed[], added_bytes, logical_bytes, warnings[]}
- init: {root, store, adopted_existing_git}
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from creativevault.cli.main import main
from tests.cli.conftest import BIG, BIG_V2, COMMIT_LINE, payload
from tests.conftest import run_git

CHANGE_KEYS = {"path", "kind", "managed", "old_size", "new_size"}
COMMIT_KEYS = {"id", "message", "author", "time", "tz", "parents"}
REPORT_KEYS = {"target", "written", "deleted", "rescued", "dry_run"}


# ----------------------------------------------------------------------------- init
def test_init_new_folder_and_json(tmp_path, ok):
    out = ok(tmp_path, "init", "fresh")
    assert out.startswith("Initialized CreativeVault in ")
    assert "(new vault)" in out
    assert (tmp_path / "fresh" / ".git" / "cvault" / "store.json").is_file()
    assert (tmp_path / "fresh" / ".gitattributes").is_file()
    assert (tmp_path / "fresh" / ".git" / "hooks" / "pre-commit").is_file()
    data = json.loads(ok(tmp_path, "init", "other", "--json", "-b", "trunk"))
    assert {"root", "store", "adopted_existing_git"} <= set(data)
    assert data["adopted_existing_git"] is False
    assert Path(data["store"]).name == "cvault"
    assert ok(tmp_path / "other", "status").startswith("On branch trunk\n")


def test_init_adopts_existing_git_repository(tmp_path, ok):
    run_git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "readme.txt").write_text("hi\n")
    run_git(tmp_path, "add", "readme.txt")
    run_git(tmp_path, "commit", "-qm", "plain git")
    out = ok(tmp_path, "init")
    assert "existing git repository (history kept)" in out
    log = ok(tmp_path, "log", "--oneline")
    assert log.endswith(" plain git\n")
    # init is idempotent on a vault
    data = json.loads(ok(tmp_path, "init", "--json"))
    assert data["adopted_existing_git"] is True


# ----------------------------------------------------------------------------- add / commit
def test_add_and_root_commit_output(tmp_path, ok):
    ok(tmp_path, "init")
    (tmp_path / "big.psd").write_bytes(BIG)
    (tmp_path / "a.txt").write_text("a\n")
    out = ok(tmp_path, "add", "big.psd", "a.txt")
    assert re.match(r"^staged 2 file\(s\), [\d.]+ KiB \([\d.]+ KiB new in the store\)\n$", out)
    out = ok(tmp_path, "commit", "-m", "first frame", "-m", "body text")
    first, second = out.splitlines()
    m = re.match(COMMIT_LINE, first)
    assert m and m["branch"] == "main" and m["root"] and m["subject"] == "first frame"
    assert second == " 2 file(s) changed"
    head = run_git(tmp_path, "rev-parse", "HEAD").stdout.decode().strip()
    assert head.startswith(m["id"])
    raw = run_git(tmp_path, "cat-file", "commit", "HEAD").stdout.decode()
    assert raw.endswith("\n\nfirst frame\n\nbody text\n")


def test_add_json_and_nothing_to_stage(vault, ok):
    (vault / "b.psd").write_bytes(payload(50_000, seed=9))
    data = json.loads(ok(vault, "add", "b.psd", "--json"))
    assert {"paths", "removed", "added_bytes", "logical_bytes", "warnings"} <= set(data)
    assert data["paths"] == ["b.psd"] and data["logical_bytes"] == 50_000
    assert data["added_bytes"] >= 50_000
    # re-adding an unchanged file changes nothing
    before = ok(vault, "status", "--json")
    ok(vault, "add", "notes.txt")
    assert ok(vault, "status", "--json") == before


def test_add_directory_records_removals(vault, ok):
    (vault / "notes.txt").unlink()
    out = ok(vault, "add", ".")
    assert out.endswith(", 1 removal(s)\n")
    assert ok(vault, "status", "-s") == "D  notes.txt\n"


def test_add_large_unknown_file_warns_and_tracks_by_size(vault, cli, ok):
    ok(vault, "init")  # idempotent
    ok(vault, "commit", "--allow-empty", "-m", "noop")
    res = cli(vault, "-C", str(vault), "add", "blob.bin")  # missing file
    assert res.code == 2
    from creativevault.repo.gitrepo import GitRepo

    git = GitRepo.discover(vault)
    try:
        git.config_set("cvault", "largefilethreshold", "1000")
    finally:
        git.close()
    (vault / "blob.bin").write_bytes(payload(5000, seed=3))
    res = cli(vault, "add", "blob.bin")
    assert res.code == 0
    assert res.err.startswith("cvault: warning: blob.bin: larger than the size threshold")
    assert "blob.bin" in (vault / ".gitattributes").read_text()
    st = json.loads(ok(vault, "status", "--json"))
    assert {c["path"]: c["managed"] for c in st["staged"]} == {
        "blob.bin": True, ".gitattributes": False}


def test_commit_all_and_json(vault, ok):
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "notes.txt").unlink()
    data = json.loads(ok(vault, "commit", "-a", "-m", "second", "--json"))
    assert COMMIT_KEYS | {"changes"} <= set(data)
    assert len(data["parents"]) == 1
    by_path = {c["path"]: c for c in data["changes"]}
    assert set(by_path) == {"big.psd", "notes.txt"}
    assert set(by_path["big.psd"]) >= CHANGE_KEYS
    assert {k: by_path["big.psd"][k] for k in CHANGE_KEYS} == {
        "path": "big.psd", "kind": "modified", "managed": True, "old_size": len(BIG),
        "new_size": len(BIG_V2)}
    assert by_path["notes.txt"]["kind"] == "deleted"
    assert ok(vault, "status") == "On branch main\nnothing to commit, working tree clean\n"


def test_commit_non_root_line_and_author(vault, ok):
    (vault / "notes.txt").write_text("second\n")
    ok(vault, "add", "notes.txt")
    out = ok(vault, "commit", "-m", "edit", "--author", "Someone Else <se@example.com>")
    m = re.match(COMMIT_LINE, out.splitlines()[0])
    assert m and m["root"] is None and m["branch"] == "main"
    log = json.loads(ok(vault, "log", "-n", "1", "--json"))
    assert log[0]["author"] == "Someone Else <se@example.com>"


def test_commit_detached_head_line(vault, ok):
    ok(vault, "checkout", "HEAD")
    (vault / "notes.txt").write_text("detached\n")
    out = ok(vault, "commit", "-a", "-m", "on detached")
    assert out.startswith("[detached HEAD ")


# ----------------------------------------------------------------------------- status
def test_status_long_short_json(vault, ok):
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "new.txt").write_text("new\n")
    (vault / "staged.txt").write_text("s\n")
    ok(vault, "add", "staged.txt")
    (vault / "notes.txt").unlink()
    long = ok(vault, "status")
    assert long.startswith("On branch main\n")
    assert "\nChanges to be committed:\n\tadded:      staged.txt\n" in long
    assert "\nChanges not staged for commit:\n" in long
    assert "\tmodified:   big.psd\n" in long
    assert "\tdeleted:    notes.txt\n" in long
    assert "\nUntracked files:\n\tnew.txt\n" in long
    assert "nothing to commit" not in long
    short = ok(vault, "status", "-s")
    assert short.splitlines() == [" M big.psd", " D notes.txt", "A  staged.txt", "?? new.txt"]
    data = json.loads(ok(vault, "status", "--json"))
    assert {"branch", "head", "staged", "unstaged", "untracked", "collisions"} <= set(data)
    assert data["branch"] == "main" and len(data["head"]) == 40
    assert data["untracked"] == ["new.txt"]
    assert [c["path"] for c in data["staged"]] == ["staged.txt"]
    unstaged = {c["path"]: c for c in data["unstaged"]}
    assert unstaged["big.psd"]["managed"] is True
    assert unstaged["big.psd"]["new_size"] == len(BIG_V2)
    assert all(set(c) >= CHANGE_KEYS for c in data["unstaged"])


def test_status_no_commits_and_detached(tmp_path, vault, ok):
    ok(tmp_path, "init", "empty")
    out = ok(tmp_path / "empty", "status")
    assert out.startswith("On branch main\n\nNo commits yet\n")
    assert "\nUntracked files:\n\t.gitattributes\n\t.gitignore\n" in out
    head = run_git(vault, "rev-parse", "HEAD").stdout.decode().strip()
    ok(vault, "checkout", head)
    assert ok(vault, "status").startswith(f"HEAD detached at {head[:7]}\n")
    assert json.loads(ok(vault, "status", "--json"))["branch"] is None


def test_status_staged_modification_and_deletion(vault, ok):
    (vault / "notes.txt").write_text("changed\n")
    ok(vault, "add", "notes.txt")
    ok(vault, "rm", "--cached", "big.psd")
    short = ok(vault, "status", "-s")
    assert short.splitlines() == ["D  big.psd", "M  notes.txt", "?? big.psd"]


# ----------------------------------------------------------------------------- log / show
def _three_commits(vault, ok):
    (vault / "notes.txt").write_text("two\n")
    ok(vault, "commit", "-a", "-m", "second")
    (vault / "big.psd").write_bytes(BIG_V2)
    ok(vault, "commit", "-a", "-m", "third\n\nlonger body")


def test_log_formats(vault, ok):
    _three_commits(vault, ok)
    oneline = ok(vault, "log", "--oneline").splitlines()
    assert [line.split(" ", 1)[1] for line in oneline] == ["third", "second", "first"]
    assert all(re.match(r"^[0-9a-f]{7} ", line) for line in oneline)
    assert len(ok(vault, "log", "--oneline", "-n", "2").splitlines()) == 2
    assert len(ok(vault, "log", "--oneline", "-n", "-1").splitlines()) == 3
    full = ok(vault, "log")
    blocks = full.split("\n\ncommit ")
    assert len(blocks) == 3
    assert re.match(r"^commit [0-9a-f]{40}\nAuthor: Test Artist <artist@example.com>\n"
                    r"Date:   \w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4} [+-]\d{4}\n\n"
                    r"    third\n    \n    longer body\n", full)
    data = json.loads(ok(vault, "log", "--json"))
    assert all(set(c) >= COMMIT_KEYS for c in data) and len(data) == 3
    assert data[0]["parents"] == [data[1]["id"]] and data[2]["parents"] == []
    assert data[0]["message"] == "third\n\nlonger body\n"


def test_log_paths_and_revisions(vault, ok):
    _three_commits(vault, ok)
    subjects = [line.split(" ", 1)[1] for line in ok(vault, "log", "--oneline", "--",
                                                        "big.psd").splitlines()]
    assert subjects == ["third", "first"]
    assert ok(vault, "log", "--oneline", "HEAD~1", "--", "big.psd").endswith(" first\n")
    assert len(ok(vault, "log", "--oneline", "HEAD", "notes.txt").splitlines()) == 2
    assert ok(vault, "log", "--oneline", "HEAD~2").endswith(" first\n")


def test_log_empty_vault_prints_nothing(tmp_path, ok):
    ok(tmp_path, "init")
    assert ok(tmp_path, "log") == ""
    assert json.loads(ok(tmp_path, "log", "--json")) == []


def test_log_merge_line(vault, ok):
    from creativevault.repo.gitrepo import GitRepo

    (vault / "notes.txt").write_text("two\n")
    ok(vault, "commit", "-a", "-m", "second")
    git = GitRepo.discover(vault)
    try:
        head = git.head_commit()
        first = git.commit(head).parents[0]
        merge = git.create_commit(git.commit(head).tree, [head, first], "merge\n")
        git.update_ref("HEAD", merge, head, "merge")
    finally:
        git.close()
    out = ok(vault, "log")
    assert f"Merge: {head[:7]} {first[:7]}\n" in out


def test_show_text_and_json(vault, ok):
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "extra.txt").write_text("x\n")
    ok(vault, "add", ".")
    ok(vault, "commit", "-m", "second")
    out = ok(vault, "show")
    assert out.startswith("commit ")
    assert "\n    second\n\n" in out
    assert "M\tbig.psd\t(vault, 293.0 KiB -> 302.7 KiB)\n" in out
    assert "A\textra.txt\t(git, - -> 2 B)\n" in out
    data = json.loads(ok(vault, "show", "HEAD~1", "--json"))
    assert COMMIT_KEYS | {"changes"} <= set(data)
    assert {c["path"]: c["kind"] for c in data["changes"]} == {
        ".gitattributes": "added", ".gitignore": "added", "big.psd": "added",
        "notes.txt": "added"}


# ----------------------------------------------------------------------------- checkout
def test_checkout_branch_new_branch_detached_and_dry_run(vault, ok):
    out = ok(vault, "checkout", "-b", "feature")
    assert out == "Switched to a new branch 'feature' (0 written, 0 removed)\n"
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "feature.txt").write_text("f\n")
    ok(vault, "add", ".")
    ok(vault, "commit", "-m", "feature work")
    plan = ok(vault, "checkout", "main", "--dry-run")
    assert plan.splitlines() == ["would write\tbig.psd", "would delete\tfeature.txt"]
    assert (vault / "feature.txt").exists()  # dry run changed nothing
    data = json.loads(ok(vault, "checkout", "main", "--dry-run", "--json"))
    assert set(data) >= REPORT_KEYS and data["dry_run"] is True
    out = ok(vault, "checkout", "main")
    assert re.match(r"^Switched to branch 'main' \(\d+ written, 1 removed\)\n$", out)
    assert (vault / "big.psd").read_bytes() == BIG
    assert not (vault / "feature.txt").exists()
    out = ok(vault, "checkout", "feature~1")
    assert out.startswith("HEAD is now at feature~1 (detached; ")
    assert ok(vault, "status").startswith("HEAD detached at ")
    data = json.loads(ok(vault, "checkout", "feature", "--json"))
    assert data["target"] == "feature" and "feature.txt" in data["written"]
    assert (vault / "big.psd").read_bytes() == BIG_V2


def test_checkout_rescues_modified_file(vault, cli, ok):
    ok(vault, "branch", "other")
    (vault / "notes.txt").write_text("two\n")
    ok(vault, "commit", "-a", "-m", "second")
    (vault / "notes.txt").write_text("unsaved work\n")
    res = cli(vault, "checkout", "other")
    assert res.code == 0
    assert res.err.startswith("cvault: saved 1 modified file(s) as rescue@{0} before "
                              "overwriting them")
    assert (vault / "notes.txt").read_text() == "first notes\n"
    lst = ok(vault, "rescue", "list")
    assert re.match(r"^rescue@\{0\}\t[0-9a-f]{10}\t.+\tbefore checkout other\n\t\tnotes.txt\n$",
                    lst)


# ----------------------------------------------------------------------------- restore
def test_restore_from_index_source_staged_dry_run(vault, cli, ok):
    (vault / "big.psd").write_bytes(BIG_V2)
    ok(vault, "commit", "-a", "-m", "v2")
    assert ok(vault, "restore", "--source", "HEAD~1", "big.psd", "--dry-run") == \
        "would restore\tbig.psd\n"
    assert (vault / "big.psd").read_bytes() == BIG_V2
    assert ok(vault, "restore", "-s", "HEAD~1", "big.psd") == "restored\tbig.psd\n"
    assert (vault / "big.psd").read_bytes() == BIG
    assert ok(vault, "status", "-s") == " M big.psd\n"
    ok(vault, "add", "big.psd")
    assert ok(vault, "status", "-s") == "M  big.psd\n"
    assert ok(vault, "restore", "--staged", "big.psd") == "restored\tbig.psd\n"
    assert ok(vault, "status", "-s") == " M big.psd\n"
    # discarding a working change keeps the discarded bytes as a rescue entry
    (vault / "big.psd").write_bytes(b"scribble")
    res = cli(vault, "restore", "big.psd")
    assert res.code == 0 and "as rescue@{0}" in res.err
    assert (vault / "big.psd").read_bytes() == BIG_V2
    data = json.loads(ok(vault, "restore", "--source", "HEAD~1", ".", "--json"))
    assert set(data) >= REPORT_KEYS
    assert data["written"] == ["big.psd"] and data["target"] == "HEAD~1"


# ----------------------------------------------------------------------------- rm / mv
def test_rm_cached_force(vault, cli, ok):
    assert ok(vault, "rm", "--cached", "notes.txt") == "rm 'notes.txt'\n"
    assert (vault / "notes.txt").exists()
    ok(vault, "add", "notes.txt")
    (vault / "big.psd").write_bytes(BIG_V2)
    res = cli(vault, "rm", "big.psd")
    assert res.code == 9 and "big.psd" in res.err and (vault / "big.psd").exists()
    assert ok(vault, "rm", "-f", "big.psd") == "rm 'big.psd'\n"
    assert not (vault / "big.psd").exists()
    assert ok(vault, "status", "-s") == "D  big.psd\n"
    assert "before rm --force" in ok(vault, "rescue", "list")
    ok(vault, "rescue", "restore")
    assert (vault / "big.psd").read_bytes() == BIG_V2


def test_mv_file_and_into_folder(vault, ok):
    assert ok(vault, "mv", "notes.txt", "renamed.txt") == \
        "renamed 'notes.txt' -> 'renamed.txt'\n"
    (vault / "art").mkdir()
    assert ok(vault, "mv", "big.psd", "art") == "renamed 'big.psd' -> 'art/big.psd'\n"
    assert (vault / "art" / "big.psd").read_bytes() == BIG
    assert ok(vault, "status", "-s").splitlines() == [
        "A  art/big.psd", "D  big.psd", "D  notes.txt", "A  renamed.txt"]


# ----------------------------------------------------------------------------- branch
def test_branch_list_create_delete_json(vault, cli, ok):
    assert ok(vault, "branch") == "* main\n"
    assert ok(vault, "branch", "topic") == ""
    assert ok(vault, "branch", "old", "HEAD") == ""
    assert ok(vault, "branch").splitlines() == ["* main", "  old", "  topic"]
    data = json.loads(ok(vault, "branch", "--json"))
    assert {"current", "branches"} <= set(data) and data["current"] == "main"
    assert set(data["branches"]) == {"main", "old", "topic"}
    assert len(set(data["branches"].values())) == 1
    assert ok(vault, "branch", "-d", "old") == "Deleted branch old\n"
    # an unmerged branch needs -D
    ok(vault, "checkout", "topic")
    (vault / "notes.txt").write_text("topic\n")
    ok(vault, "commit", "-a", "-m", "topic work")
    ok(vault, "checkout", "main")
    res = cli(vault, "branch", "-d", "topic")
    assert res.code == 2 and "not merged" in res.err
    assert ok(vault, "branch", "-D", "topic") == "Deleted branch topic\n"
    res = cli(vault, "branch", "-d", "main")
    assert res.code == 2 and "checked-out" in res.err
    for bad in ("main", "bad..name"):
        assert cli(vault, "branch", bad).code == 2


# ----------------------------------------------------------------------------- cat
def test_cat_stdout_bytes_exact_and_output_file(vault, ok, monkeypatch, capsys):
    (vault / "big.psd").write_bytes(BIG_V2)
    ok(vault, "add", "big.psd")
    monkeypatch.chdir(vault)
    for spec, want in (("HEAD:big.psd", BIG), (":big.psd", BIG_V2),
                       ("HEAD:notes.txt", b"first notes\n")):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw)
        assert main(["cat", spec], out=stream) == 0
        assert raw.getvalue() == want, spec
    target = vault.parent / "out.psd"
    assert ok(vault, "cat", "HEAD:big.psd", "-o", str(target)) == ""
    assert target.read_bytes() == BIG
    assert not list(vault.parent.glob("*.cvault-partial"))


def test_cat_output_to_missing_folder_names_the_file(vault, cli):
    target = vault.parent / "no-such-dir" / "out.psd"
    res = cli(vault, "cat", "HEAD:big.psd", "-o", str(target))
    assert res.code == 1
    assert res.err_lines == [f"cvault: error: {target}: No such file or directory"]


# ----------------------------------------------------------------------------- rescue
def test_rescue_list_json_and_restore_by_name(vault, cli, ok):
    assert ok(vault, "rescue", "list") == ""
    (vault / "notes.txt").write_text("lost work 1\n")
    cli(vault, "restore", "notes.txt")
    (vault / "notes.txt").write_text("lost work 2\n")
    cli(vault, "restore", "notes.txt")
    entries = json.loads(ok(vault, "rescue", "list", "--json"))
    assert [e["name"] for e in entries] == ["rescue@{0}", "rescue@{1}"]
    assert {"name", "id", "time", "reason", "paths"} <= set(entries[0])
    assert entries[0]["paths"] == ["notes.txt"] and entries[0]["reason"] == "restore from index"
    assert ok(vault, "rescue", "restore", "rescue@{1}") == "restored\tnotes.txt\n"
    assert (vault / "notes.txt").read_text() == "lost work 1\n"
    res = cli(vault, "rescue", "restore", entries[0]["id"][:8], "notes.txt", "--json")
    assert res.code == 0
    data = json.loads(res.out)
    assert set(data) >= REPORT_KEYS and data["written"] == ["notes.txt"]
    assert data["rescued"]["paths"] == ["notes.txt"]  # "lost work 1" was saved again
    assert (vault / "notes.txt").read_text() == "lost work 2\n"
    res = cli(vault, "rescue", "restore", "7")
    assert res.code == 2 and res.err_lines == [
        "cvault: error: no rescue entry '7' (see 'cvault rescue list')"]


# ----------------------------------------------------------------------------- fsck / gc
def test_fsck_ok_and_json(vault, ok):
    out = ok(vault, "fsck")
    assert re.match(r"^checked \d+ chunks, \d+ files: ok\n$", out)
    data = json.loads(ok(vault, "fsck", "--json"))
    assert {"ok", "problems", "missing_content", "checked_chunks", "checked_files"} <= set(data)
    assert data["ok"] is True and data["problems"] == [] and data["checked_files"] >= 1


def test_gc_dry_run_grace_and_json(vault, cli, ok):
    (vault / "scratch.psd").write_bytes(payload(80_000, seed=5))
    ok(vault, "add", "scratch.psd")
    ok(vault, "rm", "--cached", "scratch.psd")  # content now reachable from nothing
    out = ok(vault, "gc", "--dry-run")
    assert out == "would free 0 B: 0 chunk(s), 0 pack(s) removed, 0 rewritten\n"
    data = json.loads(ok(vault, "gc", "--grace", "0", "--dry-run", "--json"))
    assert {"freed_bytes", "removed_chunks", "removed_packs", "rewritten_packs",
            "dry_run"} <= set(data)
    assert data["dry_run"] is True and data["freed_bytes"] >= 80_000
    out = ok(vault, "gc", "--grace", "0")
    assert re.match(r"^freed [\d.]+ KiB: \d+ chunk\(s\), \d+ pack\(s\) removed, \d+ rewritten\n$",
                    out)
    assert json.loads(ok(vault, "gc", "--grace", "0", "--json"))["freed_bytes"] == 0
    assert ok(vault, "fsck").endswith(": ok\n")
    assert ok(vault, "cat", "HEAD:big.psd", "-o", str(vault.parent / "x")) == ""
    for bad in ("-1", "soon", "nan"):
        res = cli(vault, "gc", "--grace", bad)
        assert res.code == 2 and "--grace" in res.err


# ----------------------------------------------------------------------------- hook
def test_hook_pre_commit(vault, cli, ok):
    assert ok(vault, "hook", "pre-commit") == ""
    (vault / "raw.psd").write_bytes(payload(1000, seed=4))
    # a raw blob staged behind the filter's back (as a git without cvault installed would)
    blob = run_git(vault, "hash-object", "-w", "--no-filters", "raw.psd").stdout.decode().strip()
    run_git(vault, "update-index", "--add", "--cacheinfo", f"100644,{blob},raw.psd")
    res = cli(vault, "hook", "pre-commit")
    assert res.code == 1
    assert res.err_lines == [
        "cvault: raw.psd: vault-managed file staged as a plain git blob; unstage it "
        "(git reset -- raw.psd) and add it again (cvault add raw.psd, or git add raw.psd "
        "with cvault installed)"]


# ----------------------------------------------------------------------------- global
def test_version_help_and_usage_errors(tmp_path, cli):
    from creativevault import __version__

    for flag in ("--version", "-V"):
        res = cli(tmp_path, flag)
        assert res.code == 0 and res.out == f"cvault {__version__}\n"
    res = cli(tmp_path)
    assert res.code == 2 and res.out.startswith("usage: cvault")
    for name in ("init", "status", "checkout", "rescue", "gc"):
        assert f"    {name} " in res.out
    res = cli(tmp_path, "--help")
    assert res.code == 0 and "COMMAND" in res.out
    res = cli(tmp_path, "frobnicate")
    assert res.code == 2 and "invalid choice" in res.err
    res = cli(tmp_path, "commit")
    assert res.code == 2 and "-m/--message" in res.err


def test_dash_c_runs_elsewhere(tmp_path, vault, cli):
    res = cli(tmp_path, "-C", str(vault), "status", "-s")
    assert res.code == 0 and res.out == ""
    res = cli(tmp_path, "-C", str(tmp_path / "missing"), "status")
    assert res.code == 2
    assert res.err_lines == [f"cvault: error: {tmp_path / 'missing'}: No such file or directory"]


@pytest.mark.parametrize("sub", ["nested/deeper"])
def test_commands_work_from_a_subfolder(vault, ok, sub):
    (vault / sub).mkdir(parents=True)
    (vault / sub / "frame.psd").write_bytes(payload(2000, seed=6))
    ok(vault / sub, "add", "frame.psd")
    assert ok(vault / sub, "status", "-s") == f"A  {sub}/frame.psd\n"
    ok(vault / sub, "commit", "-m", "deep")
    assert ok(vault / sub, "log", "--oneline", "--", "frame.psd").endswith(" deep\n")


def test_status_warns_about_case_collisions(vault, cli, ok):
    (vault / "Shot.psd").write_bytes(payload(1000, seed=30))
    (vault / "shot.psd").write_bytes(payload(1000, seed=31))
    res = cli(vault, "add", "Shot.psd", "shot.psd")
    assert res.code == 0 and "Shot.psd, shot.psd" in res.err
    out = ok(vault, "status")
    assert ("\nwarning: these paths differ only by case or Unicode form and cannot both "
            "exist on macOS/Windows: Shot.psd, shot.psd\n") in out
    assert json.loads(ok(vault, "status", "--json"))["collisions"] == [["Shot.psd", "shot.psd"]]


def test_fsck_notes_an_unindexed_pack(vault, ok, cli):
    packs = vault / ".git" / "cvault" / "packs"
    pack = sorted(packs.glob("pack-*.pack"))[0]
    stray = packs / ("pack-" + "ab" * 16 + ".pack")
    stray.write_bytes(pack.read_bytes())
    res = cli(vault, "fsck")
    assert res.code == 0 and res.out.endswith(": ok\n")
    assert res.err.startswith("note: ") and stray.name in res.err
    data = json.loads(cli(vault, "fsck", "--json").out)
    assert data["ok"] is True and any(stray.name in n for n in data["notes"])


def test_cat_output_error_elsewhere_names_that_file(vault, cli, monkeypatch):
    import errno

    from creativevault.repo.vault import Vault

    def broken(self, spec, out):
        raise OSError(errno.EIO, "Input/output error", "/somewhere/else.pack")

    monkeypatch.setattr(Vault, "cat", broken)
    res = cli(vault, "cat", "HEAD:big.psd", "-o", str(vault.parent / "o.psd"))
    assert res.code == 1
    assert res.err_lines == ["cvault: error: /somewhere/else.pack: Input/output error"]
    assert not (vault.parent / "o.psd").exists()
    assert not list(vault.parent.glob("*.cvault-partial"))
