"""``cvault merge``: field work brought into main without losing a version.

Each test starts from the CLI ``vault`` fixture (big.psd managed by the vault, notes.txt a
git blob), makes main and ``field/laptop`` diverge through the CLI, merges, then checks the
bytes on disk, the merge commit (parents, message) and the repository with the real
``git`` binary.

JSON keys tools may rely on: rev, kind (up-to-date|fast-forward|merge), branch, old_head,
head, base, commit, conflicts[] ({path, kept_as, kind}), kept[] ({path, deleted_by, kind}),
text_merged[], written[], deleted[], missing[], rescued.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from creativevault.repo.gitrepo import MODE_FILE, FlatEntry, GitRepo
from creativevault.repo.pointer import Pointer, parse_pointer
from tests.cli.conftest import BIG, BIG_V2, payload
from tests.conftest import run_cli, run_git

FIELD = payload(320_000, seed=3)
NOTES = "".join(f"shot {i}\n" for i in range(1, 9))
COPY = "big (conflicted copy from field-laptop).psd"


def _git(root: Path, *args: str) -> str:
    return run_git(root, *args).stdout.decode()


def _lines(text: str, **edits: str) -> str:
    lines = text.splitlines(True)
    for key, value in edits.items():
        lines[int(key.removeprefix("l")) - 1] = value
    return "".join(lines)


def _start(root: Path, ok) -> None:
    """A longer notes.txt on main, then the field branch."""
    (root / "notes.txt").write_text(NOTES)
    ok(root, "commit", "-a", "-m", "shot list")
    ok(root, "branch", "field/laptop")


def _diverge(root: Path, ok, *, studio: dict, field: dict) -> None:
    """Commit ``studio`` on main and ``field`` on field/laptop (name -> bytes, str or None
    to delete), ending on main."""
    for branch, files in (("main", studio), ("field/laptop", field)):
        ok(root, "checkout", branch)
        for name, data in files.items():
            path = root / name
            if data is None:
                ok(root, "rm", name)
            elif isinstance(data, str):
                path.write_text(data)
            else:
                path.write_bytes(data)
        ok(root, "add", ".")
        ok(root, "commit", "-m", f"{branch} work")
    ok(root, "checkout", "main")


def test_merge_keeps_both_versions_and_lists_them(vault, ok):
    _start(vault, ok)
    _diverge(vault, ok,
             studio={"big.psd": BIG_V2, "notes.txt": _lines(NOTES, l1="studio 1\n")},
             field={"big.psd": FIELD, "notes.txt": _lines(NOTES, l8="field 8\n"),
                    "plate.png": payload(200_000, seed=4)})
    ours = _git(vault, "rev-parse", "main").strip()
    theirs = _git(vault, "rev-parse", "field/laptop").strip()
    out = ok(vault, "merge", "field/laptop")
    head = _git(vault, "rev-parse", "HEAD").strip()
    assert out.splitlines() == [
        f"Updating {ours[:7]}..{head[:7]}",
        f"Merge made by cvault: [main {head[:7]}] Merge field/laptop into main",
        f'kept both: big.psd (theirs as "{COPY}")',
        "merged text: notes.txt",
        " 3 file(s) written, 0 removed"]
    # both versions on disk, byte for byte; the text merged line by line
    assert (vault / "big.psd").read_bytes() == BIG_V2
    assert (vault / COPY).read_bytes() == FIELD
    assert (vault / "plate.png").read_bytes() == payload(200_000, seed=4)
    assert (vault / "notes.txt").read_text() == _lines(NOTES, l1="studio 1\n", l8="field 8\n")
    # the merge commit, as git sees it
    assert _git(vault, "log", "-1", "--format=%P").split() == [ours, theirs]
    assert _git(vault, "log", "-1", "--format=%B") == (
        "Merge field/laptop into main\n\n"
        f'kept both: big.psd (theirs as "{COPY}")\n\n')
    graph = _git(vault, "log", "--graph", "--format=%s")
    assert graph.startswith("*   Merge field/laptop into main\n|\\  \n")
    assert _git(vault, "status", "--porcelain") == ""
    run_git(vault, "fsck", "--strict")
    assert not (vault / ".git" / "MERGE_HEAD").exists()
    assert "nothing to commit" in ok(vault, "status")
    assert "Merge: " in ok(vault, "log", "-n", "1")
    # both versions stay in history: the copy is a pointer to field's content
    blob = _git(vault, "rev-parse", f"HEAD:{COPY}").strip()
    pointer = parse_pointer(run_git(vault, "cat-file", "blob", blob).stdout)
    assert pointer.oid == hashlib.sha256(FIELD).hexdigest()
    assert ok(vault, "merge", "field/laptop") == "Already up to date.\n"


def test_merge_json_and_message(vault, ok):
    _start(vault, ok)
    _diverge(vault, ok, studio={"big.psd": BIG_V2}, field={"big.psd": FIELD})
    data = json.loads(ok(vault, "merge", "field/laptop", "-m", "Field week 12", "--json"))
    assert data["kind"] == "merge" and data["branch"] == "main" and data["rev"] == \
        "field/laptop"
    assert data["conflicts"] == [{"path": "big.psd", "kept_as": COPY,
                                  "kind": "both-modified"}]
    assert data["commit"] == data["head"] == _git(vault, "rev-parse", "HEAD").strip()
    assert data["written"] == [COPY] and data["missing"] == [] and data["kept"] == []
    assert _git(vault, "log", "-1", "--format=%B").startswith(
        "Field week 12\n\nkept both: big.psd")


def test_merge_refuses_over_uncommitted_changes(vault, cli, ok):
    _start(vault, ok)
    _diverge(vault, ok, studio={"big.psd": BIG_V2}, field={"notes.txt": "field notes\n"})
    head = _git(vault, "rev-parse", "HEAD").strip()
    (vault / "notes.txt").write_text("unsaved studio notes\n")
    res = cli(vault, "merge", "field/laptop")
    assert res.code == 9
    assert len(res.err_lines) == 1
    assert res.err.startswith("cvault: error: notes.txt: has uncommitted changes")
    assert "cvault commit" in res.err and "nothing was changed" in res.err
    assert res.out == ""
    assert (vault / "notes.txt").read_text() == "unsaved studio notes\n"
    assert _git(vault, "rev-parse", "HEAD").strip() == head
    assert ok(vault, "rescue", "list") == ""
    ok(vault, "commit", "-a", "-m", "studio notes")
    out = ok(vault, "merge", "field/laptop")
    assert 'kept both: notes.txt (theirs as "notes (conflicted copy from field-laptop).txt")' \
        in out
    assert (vault / "notes.txt").read_text() == "unsaved studio notes\n"
    assert (vault / "notes (conflicted copy from field-laptop).txt").read_text() == \
        "field notes\n"


def test_merge_fast_forward_then_up_to_date(vault, ok):
    ok(vault, "checkout", "-b", "field/laptop")
    (vault / "big.psd").write_bytes(FIELD)
    (vault / "raw").mkdir()
    (vault / "raw" / "IMG_0001.nef").write_bytes(payload(150_000, seed=5))
    ok(vault, "add", ".")
    ok(vault, "commit", "-m", "day one")
    ok(vault, "checkout", "main")
    old = _git(vault, "rev-parse", "main").strip()
    tip = _git(vault, "rev-parse", "field/laptop").strip()
    out = ok(vault, "merge", "field/laptop")
    assert out == (f"Updating {old[:7]}..{tip[:7]}\nFast-forward\n"
                   " 2 file(s) written, 0 removed\n")
    assert _git(vault, "rev-parse", "main").strip() == tip
    assert _git(vault, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (vault / "big.psd").read_bytes() == FIELD
    assert (vault / "raw" / "IMG_0001.nef").read_bytes() == payload(150_000, seed=5)
    assert "merge field/laptop: Fast-forward" in _git(vault, "reflog", "-1", "main")
    assert _git(vault, "status", "--porcelain") == ""
    assert ok(vault, "merge", "field/laptop") == "Already up to date.\n"
    data = json.loads(ok(vault, "merge", "main~1", "--json"))
    assert data["kind"] == "up-to-date" and data["head"] == tip


def test_merge_keeps_a_file_deleted_on_one_side_and_changed_on_the_other(vault, ok):
    _start(vault, ok)
    _diverge(vault, ok, studio={"big.psd": None, "notes.txt": _lines(NOTES, l2="x\n")},
             field={"big.psd": FIELD, "notes.txt": None})
    out = ok(vault, "merge", "field/laptop")
    assert "kept changed: big.psd (deleted in main, changed in field/laptop)\n" in out
    assert "kept changed: notes.txt (deleted in field/laptop, changed in main)\n" in out
    assert (vault / "big.psd").read_bytes() == FIELD
    assert (vault / "notes.txt").read_text() == _lines(NOTES, l2="x\n")
    body = _git(vault, "log", "-1", "--format=%b")
    assert body.strip().splitlines() == [
        "kept changed: big.psd (deleted in main, changed in field/laptop)",
        "kept changed: notes.txt (deleted in field/laptop, changed in main)"]
    assert _git(vault, "status", "--porcelain") == ""
    run_git(vault, "fsck", "--strict")


def test_merge_text_conflict_is_kept_both_ways_without_markers(vault, ok):
    _start(vault, ok)
    ours_text = _lines(NOTES, l4="studio take\n")
    theirs_text = _lines(NOTES, l4="field take\n")
    _diverge(vault, ok, studio={"notes.txt": ours_text}, field={"notes.txt": theirs_text})
    out = ok(vault, "merge", "field/laptop")
    copy = "notes (conflicted copy from field-laptop).txt"
    assert f'kept both: notes.txt (theirs as "{copy}")\n' in out
    assert (vault / "notes.txt").read_text() == ours_text
    assert (vault / copy).read_text() == theirs_text
    for path in vault.rglob("*"):
        if ".git" not in path.relative_to(vault).parts and path.is_file():
            assert b"<<<<<<<" not in path.read_bytes() and b">>>>>>>" not in path.read_bytes()
    assert not (vault / ".git" / "MERGE_HEAD").exists()
    assert _git(vault, "status", "--porcelain") == ""
    assert _git(vault, "ls-files", "--unmerged") == ""
    data = json.loads(ok(vault, "show", "--json"))
    assert [c["path"] for c in data["changes"]] == [copy]
    run_git(vault, "fsck", "--strict")


def test_merge_writes_pointer_files_for_content_this_vault_lacks(vault, cli, ok):
    """A branch whose content never reached this vault (refs fetched without content)."""
    _start(vault, ok)
    far = payload(90_000, seed=9)
    git = GitRepo.discover(vault)
    try:
        tree = dict(git.commit_tree_flat(git.head_commit()))
        text = Pointer(oid=hashlib.sha256(far).hexdigest(), size=len(far)).encode()
        tree["far.psd"] = FlatEntry(MODE_FILE, git.add_blob(text))
        commit = git.create_commit(git.write_tree(tree), [git.head_commit() or ""], "far")
        git.set_ref("refs/heads/field/laptop", commit, "test: fetched without content")
    finally:
        git.close()
    (vault / "notes.txt").write_text("studio\n")
    ok(vault, "commit", "-a", "-m", "studio")
    res = cli(vault, "merge", "field/laptop")
    assert res.code == 0
    assert res.err_lines == [
        "cvault: warning: 1 file(s) were written as pointer files because their content is "
        "not in this vault; 'cvault get PATH' fetches them"]
    assert res.out.endswith(" 1 file(s) written, 0 removed, 1 without content\n")
    assert (vault / "far.psd").read_bytes() == text
    assert _git(vault, "status", "--porcelain") == ""
    assert "nothing to commit" in ok(vault, "status")
    res = cli(vault, "checkout", "HEAD~1")
    assert res.code == 0  # leaving the merge: the pointer file is removed, nothing lost
    assert not (vault / "far.psd").exists()
    res = cli(vault, "checkout", "field/laptop")
    assert res.code == 6 and "is not in this vault" in res.err  # checkout keeps "error"


def test_merge_refusals_and_unrelated_histories(vault, cli, ok):
    res = cli(vault, "merge", "no-such-branch")
    assert res.code == 2 and "unknown revision" in res.err
    git = GitRepo.discover(vault)
    try:
        tree = git.write_tree({"other.txt": FlatEntry(MODE_FILE, git.add_blob(b"other\n"))})
        lonely = git.create_commit(tree, [], "another project")
        git.set_ref("refs/heads/lonely", lonely, "test")
    finally:
        git.close()
    res = cli(vault, "merge", "lonely")
    assert res.code == 2 and "unrelated histories" in res.err
    out = ok(vault, "merge", "lonely", "--allow-unrelated-histories")
    assert "Merge made by cvault" in out
    assert (vault / "other.txt").read_text() == "other\n"
    assert (vault / "big.psd").read_bytes() == BIG
    ok(vault, "checkout", "HEAD~1")
    res = cli(vault, "merge", "lonely")
    assert res.code == 2 and "detached" in res.err


def test_merge_as_a_subprocess(vault, ok):
    _start(vault, ok)
    _diverge(vault, ok, studio={"big.psd": BIG_V2}, field={"big.psd": FIELD})
    res = run_cli(vault, "merge", "field/laptop")
    assert res.returncode == 0, res.stderr
    assert f'kept both: big.psd (theirs as "{COPY}")' in res.stdout
    assert (vault / COPY).read_bytes() == FIELD
    res = run_cli(vault, "merge", "--help")
    assert res.returncode == 0 and "--allow-unrelated-histories" in res.stdout
