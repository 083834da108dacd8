"""The Vault verbs through the public API, checked against the real ``git`` binary.

Files are generated in the test: several-MB binaries with a realistic header and a mix of
random and structured bytes (managed by the vault), and small text files (plain git blobs).
"""

from __future__ import annotations

import hashlib
import io
import os
import unicodedata
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import (
    PathNotFoundError,
    RevisionNotFoundError,
    UsageError,
    WorktreeError,
)
from creativevault.repo.attributes import BLOCK_BEGIN
from creativevault.repo.hooks import MARKER
from creativevault.repo.pointer import parse_pointer
from tests.conftest import run_git
from tests.vaulttools import (
    MB,
    assert_git_clean,
    commit_all,
    creative_bytes,
    git,
    sha,
    write,
)


# ---------------------------------------------------------------------------- init
def test_init_new_folder(proj: Path) -> None:
    with cv.Vault.init(proj) as vault:
        assert (proj / ".git" / "cvault" / "store.json").is_file()
        assert BLOCK_BEGIN in (proj / ".gitattributes").read_text()
        assert ".DS_Store" in (proj / ".gitignore").read_text()
        hook = proj / ".git" / "hooks" / "pre-commit"
        assert MARKER in hook.read_text() and os.access(hook, os.X_OK)
        st = vault.status()
        assert st.branch == "main" and st.head is None
        assert st.untracked == [".gitattributes", ".gitignore"]
        assert vault.log() == []
    assert git(proj, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    (proj / "sub").mkdir()
    with cv.Vault.open(proj / "sub") as again:  # opened from a subfolder
        assert again.root.resolve() == proj.resolve()


def test_init_existing_git_repo_keeps_history(proj: Path) -> None:
    run_git(proj, "init", "-q", "-b", "trunk")
    write(proj / "readme.txt", "first\n")
    run_git(proj, "add", ".")
    run_git(proj, "commit", "-q", "-m", "one")
    write(proj / "readme.txt", "second\n")
    write(proj / "scene.usda", "#usda 1.0\n")
    run_git(proj, "add", ".")
    run_git(proj, "commit", "-q", "-m", "two")
    before = git(proj, "log", "--format=%H %T %s").splitlines()
    with cv.Vault.init(proj) as vault:
        assert git(proj, "log", "--format=%H %T %s").splitlines() == before
        assert [c.id for c in vault.log()] == [line.split()[0] for line in before]
        assert vault.status().branch == "trunk"
        assert (proj / "readme.txt").read_text() == "second\n"
        write(proj / "art" / "cover.psd", creative_bytes("cover.psd", 3 * MB, 1))
        info = commit_all(vault, "add cover")
        assert info.parents == (before[0].split()[0],)
    assert git(proj, "log", "--format=%H %T %s").splitlines()[1:] == before
    assert "oid sha256:" in git(proj, "cat-file", "-p", "HEAD:art/cover.psd")
    assert git(proj, "cat-file", "-p", "HEAD:readme.txt") == "second\n"
    assert_git_clean(proj)


def test_init_chains_existing_pre_commit_hook(proj: Path) -> None:
    run_git(proj, "init", "-q")
    hook = proj / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/user-hook-ran\"\n"
                    "if [ -e block-commits ]; then echo 'user hook says no' >&2; exit 1; fi\n")
    hook.chmod(0o755)
    with cv.Vault.init(proj) as vault:
        assert MARKER in hook.read_text()
        chained = list(hook.parent.glob("pre-commit.cvault-chained*"))
        assert len(chained) == 1 and "user hook says no" in chained[0].read_text()
        write(proj / "a.txt", "a\n")
        commit_all(vault, "first")
        assert (proj / ".git" / "user-hook-ran").read_text() == "ran\n"
        head = vault.git.head_commit()
        write(proj / "block-commits", "")
        write(proj / "a.txt", "b\n")
        vault.add(["a.txt"])
        with pytest.raises(UsageError, match="user hook says no") as err:
            vault.commit("blocked")
        assert "pre-commit" in str(err.value)
        assert vault.git.head_commit() == head
        (proj / "block-commits").unlink()
        assert vault.commit("allowed").parents == (head,)
    # plain git runs the same chain (user hook first)
    write(proj / "block-commits", "")
    write(proj / "b.txt", "b\n")
    run_git(proj, "add", "b.txt")
    res = run_git(proj, "commit", "-q", "-m", "via git", check=False)
    assert res.returncode != 0 and b"user hook says no" in res.stderr


def test_reinit_is_idempotent(proj: Path) -> None:
    with cv.Vault.init(proj) as vault:
        with (proj / ".gitignore").open("a") as f:
            f.write("render/\n")
        write(proj / "tex.png", creative_bytes("tex.png", 2 * MB, 2))
        first = commit_all(vault, "first")
    attrs = (proj / ".gitattributes").read_text()
    ignore = (proj / ".gitignore").read_text()
    for _ in range(2):
        with cv.Vault.init(proj) as vault:
            assert vault.log()[0].id == first.id
            assert vault.status().clean
    assert (proj / ".gitattributes").read_text() == attrs
    assert (proj / ".gitignore").read_text() == ignore
    assert (proj / ".gitignore").read_text().count(BLOCK_BEGIN) == 1
    assert (proj / ".gitattributes").read_text().count(BLOCK_BEGIN) == 1
    assert not list((proj / ".git" / "hooks").glob("pre-commit.cvault-chained*"))
    assert_git_clean(proj)


def test_open_plain_folder_and_plain_repo(tmp_path: Path) -> None:
    with pytest.raises(cv.errors.NotAVaultError):
        cv.Vault.open(tmp_path)
    run_git(tmp_path, "init", "-q")
    with pytest.raises(cv.errors.NotAVaultError):
        cv.Vault.open(tmp_path)


# ---------------------------------------------------------------------------- add/commit
def test_commit_writes_pointers_for_binaries_and_blobs_for_text(vault: cv.Vault,
                                                                 proj: Path) -> None:
    files = {
        "tex/wall.png": creative_bytes("wall.png", 3 * MB, 10),
        "plates/shot.exr": creative_bytes("shot.exr", 2 * MB, 11),
        "scan.tif": creative_bytes("scan.tif", 2 * MB, 12),
        "scene.blend": creative_bytes("scene.blend", 4 * MB, 13),
        "raw/DSC_0001.nef": creative_bytes("a.nef", 2 * MB, 14),
        "raw/DSC_0001.jpg": creative_bytes("a.jpg", 1 * MB, 15),
        "notes.txt": b"shot list\n",
        "model.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
        "layout.usda": b'#usda 1.0\ndef Xform "root" {}\n',
    }
    for rel, data in files.items():
        write(proj / rel, data)
    report = vault.add(["."])
    assert set(files) <= set(report.paths)
    assert report.logical_bytes >= sum(map(len, files.values()))
    info = vault.commit("first version")
    assert info.parents == () and info.subject == "first version"
    for rel, data in files.items():
        shown = run_git(proj, "cat-file", "-p", f"HEAD:{rel}").stdout
        if rel.endswith((".txt", ".obj", ".usda")):
            assert shown == data
        else:
            ptr = parse_pointer(shown)
            assert ptr.oid == hashlib.sha256(data).hexdigest() and ptr.size == len(data)
            assert vault.store.has_file(ptr.oid)
    assert git(proj, "log", "--format=%H").split() == [info.id]
    assert_git_clean(proj)
    assert vault.status().clean
    assert vault.fsck().ok


def test_status_staged_unstaged_untracked(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 20))
    write(proj / "b.txt", "b\n")
    vault.add(["a.psd"])
    st = vault.status()
    assert [(c.path, c.kind, c.managed) for c in st.staged] == [("a.psd", "added", True)]
    assert st.unstaged == [] and "b.txt" in st.untracked
    vault.add(["."])
    vault.commit("one")
    assert vault.status().clean

    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 21))
    st = vault.status()
    assert [(c.path, c.kind) for c in st.unstaged] == [("a.psd", "modified")]
    assert st.staged == []
    vault.add(["a.psd"])
    st = vault.status()
    assert [(c.path, c.kind, c.managed) for c in st.staged] == [("a.psd", "modified", True)]
    assert st.unstaged == []
    (proj / "b.txt").unlink()
    write(proj / "c.txt", "c\n")
    st = vault.status()
    assert [(c.path, c.kind) for c in st.unstaged] == [("b.txt", "deleted")]
    assert st.untracked == ["c.txt"]
    vault.add(["b.txt"])  # staging a deletion, as git add does
    st = vault.status()
    assert ("b.txt", "deleted") in [(c.path, c.kind) for c in st.staged]
    # git agrees about what is staged
    assert git(proj, "diff", "--cached", "--name-status").split() == ["M", "a.psd", "D",
                                                                      "b.txt"]


def test_commit_nothing_and_bad_message(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    commit_all(vault, "one")
    with pytest.raises(UsageError, match="nothing to commit"):
        vault.commit("again")
    with pytest.raises(UsageError):
        vault.commit("   ")
    assert len(vault.log()) == 1
    assert vault.commit("empty on purpose", allow_empty=True).parents == (vault.log()[1].id,)


def test_commit_nothing_on_an_unborn_branch(vault: cv.Vault, proj: Path) -> None:
    with pytest.raises(UsageError, match="nothing to commit"):
        vault.commit("nothing staged yet")
    assert vault.log() == [] and vault.git.head_commit() is None
    assert vault.commit("empty root", allow_empty=True).parents == ()


def test_checkout_carries_local_changes_like_git(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 140))
    write(proj / "n.txt", "one\n")
    c1 = commit_all(vault, "one")
    vault.branch("other")
    mine = creative_bytes("a.psd", 2 * MB, 141)
    write(proj / "a.psd", mine)  # unstaged edit
    write(proj / "new.png", creative_bytes("new.png", MB, 142))
    vault.add(["new.png"])  # staged new file
    report = vault.checkout("feature", create=True)  # git checkout -b keeps both
    assert report.written == [] and report.deleted == [] and report.rescued is None
    assert (proj / "a.psd").read_bytes() == mine
    st = vault.status()
    assert st.branch == "feature"
    assert [c.path for c in st.unstaged] == ["a.psd"]
    assert [(c.path, c.kind) for c in st.staged] == [("new.png", "added")]
    vault.checkout("other")  # same commit content: still carried
    assert (proj / "a.psd").read_bytes() == mine and vault.rescue_list() == []
    vault.add(["a.psd"])
    info = vault.commit("on other")
    assert info.parents == (c1.id,) and vault.status().clean
    assert git(proj, "log", "--format=%s", "other").split("\n")[0] == "on other"


def test_checkout_and_rm_rescue_content_that_was_only_staged(vault: cv.Vault,
                                                               proj: Path) -> None:
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 150))
    commit_all(vault, "one")
    vault.branch("old")
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 151))
    commit_all(vault, "two")
    staged = creative_bytes("a.psd", 2 * MB, 152)
    write(proj / "a.psd", staged)
    vault.add(["a.psd"])  # staged, never committed: the index is its only reference
    report = vault.checkout("old")
    assert report.rescued is not None and report.rescued.paths == ["a.psd"]
    vault.rescue_restore()
    assert (proj / "a.psd").read_bytes() == staged
    vault.checkout("main")
    fresh = creative_bytes("b.psd", 2 * MB, 153)
    write(proj / "b.psd", fresh)
    vault.add(["b.psd"])
    with pytest.raises(WorktreeError, match="never committed") as err:
        vault.rm(["b.psd"])  # git rm refuses staged-only content too
    assert "b.psd" in str(err.value) and (proj / "b.psd").read_bytes() == fresh
    vault.rm(["b.psd"], force=True)
    assert vault.rescue_list()[0].paths == ["b.psd"]
    vault.rescue_restore("0")
    assert (proj / "b.psd").read_bytes() == fresh


def test_commit_all_stages_tracked_changes_only(vault: cv.Vault, proj: Path) -> None:
    write(proj / "keep.png", creative_bytes("keep.png", 2 * MB, 30))
    write(proj / "gone.png", creative_bytes("gone.png", 2 * MB, 31))
    write(proj / "notes.txt", "v1\n")
    commit_all(vault, "one")
    new_png = creative_bytes("keep.png", 2 * MB, 32)
    write(proj / "keep.png", new_png)
    write(proj / "notes.txt", "v2\n")
    (proj / "gone.png").unlink()
    write(proj / "new.png", creative_bytes("new.png", MB, 33))
    info = vault.commit("two", all=True)
    _, changes = vault.show(info.id)
    assert sorted((c.path, c.kind) for c in changes) == [
        ("gone.png", "deleted"), ("keep.png", "modified"), ("notes.txt", "modified")]
    assert vault.status().untracked == ["new.png"]
    buf = io.BytesIO()
    vault.cat("HEAD:keep.png", buf)
    assert buf.getvalue() == new_png
    assert git(proj, "ls-tree", "--name-only", "HEAD").split() == [
        ".gitattributes", ".gitignore", "keep.png", "notes.txt"]


def test_log_and_show(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 40))
    c1 = commit_all(vault, "first\n\nlonger body")
    write(proj / "b.txt", "b\n")
    c2 = commit_all(vault, "second")
    write(proj / "a.psd", creative_bytes("a.psd", 3 * MB, 41))
    c3 = commit_all(vault, "third")
    assert [c.id for c in vault.log()] == [c3.id, c2.id, c1.id]
    assert git(proj, "log", "--format=%H").split() == [c3.id, c2.id, c1.id]
    assert [c.id for c in vault.log(max_count=2)] == [c3.id, c2.id]
    assert [c.id for c in vault.log(paths=["a.psd"])] == [c3.id, c1.id]
    assert [c.id for c in vault.log("HEAD~1")] == [c2.id, c1.id]
    assert c1.subject == "first" and "longer body" in c1.message
    assert "Test Artist" in c1.author
    info, changes = vault.show("HEAD")
    assert info.id == c3.id
    assert [(c.path, c.kind, c.managed, c.old_size, c.new_size) for c in changes] == [
        ("a.psd", "modified", True, 2 * MB, 3 * MB)]
    _, first = vault.show(c1.id[:10])
    assert ("a.psd", "added") in [(c.path, c.kind) for c in first]
    with pytest.raises(RevisionNotFoundError):
        vault.show("no-such-branch")


# ---------------------------------------------------------------------------- branches
def test_branch_create_list_delete(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    c1 = commit_all(vault, "one")
    assert vault.branch() == {"main": c1.id}
    assert vault.branch("feature") == {"main": c1.id, "feature": c1.id}
    assert git(proj, "rev-parse", "feature").strip() == c1.id
    with pytest.raises(UsageError, match="already exists"):
        vault.branch("feature")
    for bad in ("-x", "a..b", "with space"):
        with pytest.raises(UsageError):
            vault.branch(bad)
    vault.checkout("feature")
    write(proj / "f.psd", creative_bytes("f.psd", 2 * MB, 50))
    c2 = commit_all(vault, "feature work")
    with pytest.raises(UsageError, match="checked-out"):
        vault.branch("feature", delete=True)
    vault.checkout("main")
    assert not (proj / "f.psd").exists()
    with pytest.raises(UsageError, match="not merged"):
        vault.branch("feature", delete=True)
    assert vault.branch("feature", delete=True, force=True) == {"main": c1.id}
    assert "feature" not in git(proj, "branch", "--list")
    with pytest.raises(RevisionNotFoundError):
        vault.branch("feature", delete=True)
    vault.branch("old", start=c1.id)
    assert vault.branch("old", delete=True) == {"main": c1.id}  # merged: no force needed
    assert vault.git.has_object(c2.id)
    assert_git_clean(proj)


def test_checkout_branch_and_detached_commit(vault: cv.Vault, proj: Path) -> None:
    v1 = creative_bytes("hero.psd", 3 * MB, 60)
    write(proj / "hero.psd", v1)
    write(proj / "notes.txt", "v1\n")
    c1 = commit_all(vault, "v1")
    vault.checkout("look-dev", create=True)
    assert vault.status().branch == "look-dev"
    v2 = creative_bytes("hero.psd", 3 * MB, 61)
    write(proj / "hero.psd", v2)
    write(proj / "notes.txt", "v2\n")
    write(proj / "extra" / "ref.jpg", creative_bytes("ref.jpg", MB, 62))
    c2 = commit_all(vault, "v2")

    report = vault.checkout("main")
    assert report.rescued is None
    assert "extra/ref.jpg" in report.deleted and "hero.psd" in report.written
    assert sha(proj / "hero.psd") == hashlib.sha256(v1).hexdigest()
    assert (proj / "notes.txt").read_text() == "v1\n"
    assert not (proj / "extra").exists()
    assert git(proj, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert vault.status().clean
    assert_git_clean(proj)

    vault.checkout(c2.id)  # detached
    assert (proj / "hero.psd").read_bytes() == v2
    assert (proj / "extra" / "ref.jpg").is_file()
    st = vault.status()
    assert st.branch is None and st.head == c2.id and st.clean
    assert run_git(proj, "symbolic-ref", "-q", "HEAD", check=False).returncode != 0
    assert git(proj, "rev-parse", "HEAD").strip() == c2.id
    assert_git_clean(proj)

    dry = vault.checkout("main", dry_run=True)
    assert dry.dry_run and (proj / "hero.psd").read_bytes() == v2
    vault.checkout("main")
    assert vault.git.head_commit() == c1.id and vault.status().branch == "main"
    with pytest.raises(RevisionNotFoundError):
        vault.checkout("nope")


def test_restore_from_index_source_and_staged(vault: cv.Vault, proj: Path) -> None:
    v1 = creative_bytes("a.png", 2 * MB, 70)
    v2 = creative_bytes("a.png", 2 * MB, 71)
    v3 = creative_bytes("a.png", 2 * MB, 72)
    write(proj / "a.png", v1)
    write(proj / "n.txt", "one\n")
    c1 = commit_all(vault, "one")
    write(proj / "a.png", v2)
    write(proj / "n.txt", "two\n")
    commit_all(vault, "two")

    # restore from the index (git restore a.png): staged == HEAD here, file was edited
    write(proj / "a.png", v3)
    report = vault.restore(["a.png"])
    assert (proj / "a.png").read_bytes() == v2 and report.written == ["a.png"]
    assert report.rescued is not None  # v3 existed nowhere else
    # restore --source: the working file takes the old bytes, the index keeps HEAD
    vault.restore(["a.png", "n.txt"], source=c1.id)
    assert (proj / "a.png").read_bytes() == v1 and (proj / "n.txt").read_text() == "one\n"
    st = vault.status()
    assert sorted(c.path for c in st.unstaged) == ["a.png", "n.txt"] and st.staged == []
    # stage that, then unstage with restore --staged: working file untouched
    vault.add(["a.png"])
    assert [c.path for c in vault.status().staged] == ["a.png"]
    vault.restore(["a.png"], staged=True)
    st = vault.status()
    assert st.staged == [] and "a.png" in [c.path for c in st.unstaged]
    assert (proj / "a.png").read_bytes() == v1
    assert git(proj, "diff", "--cached", "--name-only") == ""
    vault.restore(["."])  # whole tree back to the index
    assert (proj / "a.png").read_bytes() == v2 and (proj / "n.txt").read_text() == "two\n"
    assert vault.status().clean
    assert_git_clean(proj)  # the git index follows the rewritten files
    with pytest.raises(PathNotFoundError):
        vault.restore(["missing.png"])
    # restore --staged of a newly added file unstages it, as git does
    new = write(proj / "new.exr", creative_bytes("new.exr", MB, 73))
    vault.add(["new.exr"])
    vault.restore(["new.exr"], staged=True)
    st = vault.status()
    assert st.staged == [] and st.untracked == ["new.exr"] and new.is_file()
    assert git(proj, "diff", "--cached", "--name-only") == ""


# ---------------------------------------------------------------------------- rm / mv
def test_rm_clean_modified_forced_and_cached(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.psd", creative_bytes("a.psd", 2 * MB, 80))
    write(proj / "b.psd", creative_bytes("b.psd", 2 * MB, 81))
    write(proj / "c.txt", "c\n")
    write(proj / "dir" / "d.txt", "d\n")
    commit_all(vault, "one")
    assert vault.rm(["a.psd"]) == ["a.psd"]
    assert not (proj / "a.psd").exists()
    edited = creative_bytes("b.psd", 2 * MB, 82)
    write(proj / "b.psd", edited)
    with pytest.raises(WorktreeError) as err:
        vault.rm(["b.psd"])
    assert "b.psd" in str(err.value) and (proj / "b.psd").read_bytes() == edited
    before = len(vault.rescue_list())
    vault.rm(["b.psd"], force=True)
    assert not (proj / "b.psd").exists()
    entries = vault.rescue_list()
    assert len(entries) == before + 1 and entries[0].paths == ["b.psd"]
    vault.rescue_restore(entries[0].name)
    assert (proj / "b.psd").read_bytes() == edited
    assert vault.rm(["c.txt"], cached=True) == ["c.txt"]
    assert (proj / "c.txt").is_file()
    assert vault.rm(["dir"]) == ["dir/d.txt"] and not (proj / "dir").exists()
    with pytest.raises(PathNotFoundError):
        vault.rm(["nothing-here"])
    st = vault.status()
    assert sorted((c.path, c.kind) for c in st.staged) == [
        ("a.psd", "deleted"), ("b.psd", "deleted"), ("c.txt", "deleted"),
        ("dir/d.txt", "deleted")]
    assert sorted(st.untracked) == ["b.psd", "c.txt"]
    vault.commit("removed")
    assert git(proj, "ls-tree", "--name-only", "HEAD").split() == [".gitattributes",
                                                                   ".gitignore"]


def test_mv_file_and_folder(vault: cv.Vault, proj: Path) -> None:
    tex = creative_bytes("t.png", 2 * MB, 90)
    write(proj / "t.png", tex)
    write(proj / "assets" / "rock.blend", creative_bytes("rock.blend", 2 * MB, 91))
    write(proj / "assets" / "sub" / "rock.obj", "v 0 0 0\n")
    commit_all(vault, "one")
    pointer_before = git(proj, "rev-parse", "HEAD:t.png")
    assert vault.mv("t.png", "wall.png") == [("t.png", "wall.png")]
    assert (proj / "wall.png").read_bytes() == tex and not (proj / "t.png").exists()
    (proj / "library").mkdir()
    moves = vault.mv("assets", "library")  # into an existing folder, as git mv does
    assert sorted(moves) == [("assets/rock.blend", "library/assets/rock.blend"),
                             ("assets/sub/rock.obj", "library/assets/sub/rock.obj")]
    assert not (proj / "assets").exists()
    vault.mv("library/assets", "props")
    with pytest.raises(WorktreeError):
        write(proj / "taken.png", "x")
        vault.mv("wall.png", "taken.png")
    with pytest.raises(PathNotFoundError):
        vault.mv("nope.png", "x.png")
    (proj / "taken.png").unlink()
    st = vault.status()
    assert st.unstaged == [] and st.untracked == []
    info = vault.commit("moved")
    _, changes = vault.show(info.id)
    assert sorted((c.path, c.kind) for c in changes) == [
        ("assets/rock.blend", "deleted"), ("assets/sub/rock.obj", "deleted"),
        ("props/rock.blend", "added"), ("props/sub/rock.obj", "added"),
        ("t.png", "deleted"), ("wall.png", "added")]
    assert git(proj, "rev-parse", "HEAD:wall.png") == pointer_before  # same pointer blob
    assert_git_clean(proj)


# ---------------------------------------------------------------------------- cat
def test_cat_revisions_and_staged(vault: cv.Vault, proj: Path) -> None:
    v1 = creative_bytes("a.exr", 3 * MB, 100)
    v2 = creative_bytes("a.exr", 3 * MB, 101)
    write(proj / "shots" / "a.exr", v1)
    write(proj / "n.txt", "text\n")
    commit_all(vault, "one")
    write(proj / "shots" / "a.exr", v2)
    vault.add(["shots"])
    for spec, want in (("HEAD:shots/a.exr", v1), (":shots/a.exr", v2), ("HEAD:n.txt", b"text\n")):
        buf = io.BytesIO()
        assert vault.cat(spec, buf) == len(want)
        assert buf.getvalue() == want
    vault.commit("two")
    buf = io.BytesIO()
    vault.cat("HEAD~1:/shots/a.exr", buf)
    assert buf.getvalue() == v1
    with pytest.raises(PathNotFoundError):
        vault.cat("HEAD:nope.exr", io.BytesIO())
    with pytest.raises(UsageError):
        vault.cat("shots/a.exr", io.BytesIO())
    with pytest.raises(RevisionNotFoundError):
        vault.cat("HEAD~5:n.txt", io.BytesIO())


# ---------------------------------------------------------------------------- ignore / paths
def test_default_ignores_are_not_added(vault: cv.Vault, proj: Path) -> None:
    write(proj / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(proj / "scene.blend", creative_bytes("scene.blend", MB, 110))
    write(proj / "scene.blend1", creative_bytes("scene.blend", MB, 111))
    write(proj / "textures" / "Thumbs.db", b"\xd0\xcf\x11\xe0")
    write(proj / "textures" / ".DS_Store", b"Bud1")
    write(proj / "textures" / "brick.png", creative_bytes("brick.png", MB, 112))
    assert sorted(vault.status().untracked) == [".gitattributes", ".gitignore",
                                                "scene.blend", "textures/brick.png"]
    report = vault.add(["."])
    assert sorted(report.paths) == [".gitattributes", ".gitignore", "scene.blend",
                                    "textures/brick.png"]
    vault.commit("one")
    assert git(proj, "ls-files").split() == [".gitattributes", ".gitignore", "scene.blend",
                                             "textures/brick.png"]
    assert git(proj, "status", "--porcelain", "--ignored").count("!!") == 4


def test_unicode_nfd_and_nfc_names_are_one_path(vault: cv.Vault, proj: Path) -> None:
    nfc_name = "Caf\u00e9.psd"
    nfd_name = unicodedata.normalize("NFD", nfc_name)
    assert nfd_name != nfc_name
    data = creative_bytes(nfc_name, 2 * MB, 120)
    write(proj / nfd_name, data)  # as a Mac copy would name it
    assert vault.status().untracked == [".gitattributes", ".gitignore", nfc_name]
    report = vault.add([nfc_name])  # the NFC spelling finds the NFD file
    assert report.paths == [nfc_name]
    vault.add([nfd_name, ".gitattributes", ".gitignore"])  # NFD spelling: the same path
    info = vault.commit("accent")
    st = vault.status()
    assert st.clean and st.collisions == []
    assert git(proj, "ls-tree", "--name-only", "-z", info.id).split("\0")[2] == nfc_name
    for spelling in (nfc_name, nfd_name):
        buf = io.BytesIO()
        vault.cat(f"HEAD:{spelling}", buf)
        assert buf.getvalue() == data
    edited = creative_bytes(nfc_name, 2 * MB, 121)
    write(proj / nfd_name, edited)
    assert [c.path for c in vault.status().unstaged] == [nfc_name]
    vault.restore([nfd_name])
    assert (proj / nfd_name).read_bytes() == data
    assert not (proj / nfc_name).exists() or os.path.samefile(proj / nfc_name, proj / nfd_name)


def test_case_and_unicode_collisions_are_reported(vault: cv.Vault, proj: Path) -> None:
    write(proj / "Tex.png", creative_bytes("Tex.png", MB, 130))
    write(proj / "tex.png", creative_bytes("tex.png", MB, 131))
    if len(list(proj.glob("*.png"))) < 2:
        pytest.skip("case-insensitive file system")
    st = vault.status()
    assert ("Tex.png", "tex.png") in [tuple(sorted(g)) for g in st.collisions]
    report = vault.add(["."])
    assert any("Tex.png" in w and "tex.png" in w for w in report.warnings)
    nfd = unicodedata.normalize("NFD", "R\u00e9f.txt")
    write(proj / "R\u00e9f.txt", "nfc\n")
    write(proj / nfd, "nfd\n")
    # the same name twice in two Unicode forms cannot be one repo path: reported, and only
    # the first spelling is taken
    st = vault.status()
    assert ("R\u00e9f.txt", nfd) in [tuple(g) for g in st.collisions] or \
        (nfd, "R\u00e9f.txt") in [tuple(g) for g in st.collisions]
    assert st.untracked.count("R\u00e9f.txt") == 1
    report = vault.add(["."])
    assert any(nfd in w for w in report.warnings)
