"""Linked worktrees (``git worktree add``) of a vault, through the real git binary.

All worktrees of a repository share one store (in the main worktree's ``.git/cvault``),
its hooks and settings; each keeps its own index and stat cache. Content committed or
staged in a linked worktree must survive ``git worktree remove`` and ``cvault gc``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.repo.paths import common_git_dir, linked_git_dir
from tests.conftest import run_cli_expecting as cvault
from tests.conftest import run_git
from tests.vaulttools import MB, creative_bytes, git, write

V1 = creative_bytes("big.psd", 2 * MB, 61)
V2 = creative_bytes("big.psd", 2 * MB + 999, 62)
NEW = creative_bytes("scan.tif", MB + 17, 63)
STAGED = creative_bytes("plate.exr", MB + 5, 64)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_clean(root: Path) -> None:
    assert git(root, "status", "--porcelain") == ""
    assert "nothing to commit" in cvault(root, "status").stdout


@pytest.fixture
def main(tmp_path: Path) -> Path:
    """A vault with big.psd committed twice (V1, then V2) on main."""
    root = tmp_path / "main"
    root.mkdir()
    cvault(root, "init")
    write(root / "big.psd", V1)
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "one")
    write(root / "big.psd", V2)
    run_git(root, "commit", "-q", "-am", "two")
    return root


def add_worktree(main: Path, *args: str) -> Path:
    wt = main.parent / "wt"
    res = run_git(main, "worktree", "add", str(wt), *args)
    # the post-checkout hook ran and found the content: no pointer file, no warning
    assert b"not in this vault" not in res.stderr, res.stderr
    return wt


def test_a_linked_worktree_checks_out_content_from_the_shared_store(main):
    wt = add_worktree(main, "HEAD~1")
    assert (wt / "big.psd").read_bytes() == V1
    assert_clean(wt)
    assert linked_git_dir(wt) == main / ".git" / "worktrees" / "wt"
    assert common_git_dir(wt) == main / ".git"
    # one store for the repository: nothing like a store appears in the worktree's git dir
    assert not (main / ".git" / "worktrees" / "wt" / "cvault" / "store.json").exists()
    with cv.Vault.open(wt) as vault:
        assert vault.cvault_dir == main / ".git" / "cvault"
        assert vault.git.worktree == wt
        assert vault.status().clean
    # switching in the worktree writes the other version; main is untouched
    run_git(wt, "checkout", "-q", "main", "--detach")
    assert (wt / "big.psd").read_bytes() == V2
    assert (main / "big.psd").read_bytes() == V2
    assert_clean(wt)
    assert_clean(main)


def test_work_committed_in_a_linked_worktree_survives_its_removal(main):
    wt = add_worktree(main, "-b", "retouch", "HEAD~1")
    # one file committed through cvault, one through plain git's filter
    write(wt / "scan.tif", NEW)
    cvault(wt, "add", "scan.tif")
    cvault(wt, "commit", "-m", "scan")
    write(wt / "big.psd", V1[::-1])
    run_git(wt, "commit", "-q", "-am", "flip")
    assert git(wt, "cat-file", "-p", "HEAD:big.psd").startswith("version ")
    assert_clean(wt)
    run_git(main, "worktree", "remove", str(wt))
    assert not wt.exists() and not (main / ".git" / "worktrees" / "wt").exists()
    run_git(main, "switch", "-q", "retouch")
    assert (main / "scan.tif").read_bytes() == NEW
    assert (main / "big.psd").read_bytes() == V1[::-1]
    assert_clean(main)
    res = cvault(main, "fsck")
    assert "missing" not in res.stdout


def test_gc_in_the_main_worktree_keeps_what_a_linked_worktree_needs(main):
    wt = add_worktree(main, "--detach", "HEAD~1")
    write(wt / "scan.tif", NEW)
    cvault(wt, "add", "scan.tif")
    cvault(wt, "commit", "-m", "detached work")  # on a detached HEAD: in no branch
    write(wt / "plate.exr", STAGED)
    run_git(wt, "add", "plate.exr")  # staged through git's filter, not committed
    detached = git(wt, "rev-parse", "HEAD").strip()
    with cv.Vault.open(main) as vault:
        vault.gc(grace_seconds=0)
        for data in (V1, V2, NEW, STAGED):
            assert vault.store.has_file(sha(data))
    run_git(wt, "commit", "-q", "-m", "plate")
    (wt / "scan.tif").unlink()
    (wt / "plate.exr").unlink()
    run_git(wt, "checkout", "-q", "--", ".")
    assert (wt / "scan.tif").read_bytes() == NEW
    assert (wt / "plate.exr").read_bytes() == STAGED
    assert git(wt, "rev-parse", "HEAD~1").strip() == detached
    # once the worktree is gone, its detached commits are only in its (deleted) reflog:
    # like git's own gc, cvault's then lets their content go
    run_git(main, "worktree", "remove", "--force", str(wt))
    with cv.Vault.open(main) as vault:
        vault.gc(grace_seconds=0)
        assert vault.store.has_file(sha(V1)) and vault.store.has_file(sha(V2))
        assert not vault.store.has_file(sha(NEW))


def test_init_in_a_linked_worktree_makes_the_repository_a_vault(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    write(root / "readme.txt", "hello\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "start")
    wt = root.parent / "wt"
    run_git(root, "worktree", "add", "-q", str(wt), "-b", "art")
    cvault(wt, "init")
    assert (root / ".git" / "cvault" / "store.json").is_file()
    assert (root / ".git" / "hooks" / "post-checkout").is_file()
    assert "filter.cvault.process" in git(root, "config", "--list", "--local")
    write(wt / "big.psd", V1)
    run_git(wt, "add", "-A")
    run_git(wt, "commit", "-q", "-m", "art")
    assert git(wt, "cat-file", "-p", "HEAD:big.psd").startswith("version ")
    # the main worktree is a vault too, and sees the content
    run_git(root, "merge", "-q", "art")
    assert (root / "big.psd").read_bytes() == V1
    assert_clean(root)


def test_init_still_refuses_a_git_file_of_a_repository_of_its_own(tmp_path):
    target = tmp_path / "elsewhere.git"
    work = tmp_path / "work"
    run_git(tmp_path, "init", "-q", f"--separate-git-dir={target}", str(work))
    res = cvault(work, "init", code=2)
    assert "separate-git-dir" in res.stderr and str(work) in res.stderr
    assert not (target / "cvault").exists()


def test_fsck_adopts_a_store_an_older_cvault_made_in_a_linked_worktree(main):
    from creativevault.repo.gitrepo import GitRepo
    from creativevault.store import Store

    wt = add_worktree(main, "-b", "old", "HEAD~1")
    stray = main / ".git" / "worktrees" / "wt" / "cvault"
    # what cvault did before: a store of the worktree's own, in its git dir
    with cv.Vault(GitRepo.discover(wt), Store.init(stray)) as old:
        write(wt / "scan.tif", NEW)
        old.add(["scan.tif"])
        old.commit("scanned in the worktree")
    with cv.Vault.open(main) as vault:
        assert not vault.store.has_file(sha(NEW))
    res = cvault(main, "fsck")
    assert res.stdout.endswith(": ok\n")
    assert "note: adopted" in res.stderr and "1 file(s) copied" in res.stderr, res.stderr
    assert not stray.exists() and (stray.parent / "cvault-adopted" / "store.json").is_file()
    with cv.Vault.open(main) as vault:
        assert vault.store.has_file(sha(NEW))
    assert "adopted" not in cvault(main, "fsck").stderr  # once
    run_git(main, "worktree", "remove", "--force", str(wt))
    run_git(main, "switch", "-q", "old")
    assert (main / "scan.tif").read_bytes() == NEW
    assert_clean(main)


def test_a_branch_is_checked_out_in_one_worktree_at_a_time(main):
    run_git(main, "branch", "side", "HEAD~1")
    wt = add_worktree(main, "side")
    # as git refuses it: a commit in one worktree would move the branch under the other
    res = cvault(wt, "checkout", "main", code=2)
    assert f"'main' is already checked out at '{main}'" in res.stderr
    assert git(wt, "symbolic-ref", "--short", "HEAD").strip() == "side"
    assert (wt / "big.psd").read_bytes() == V1
    res = cvault(main, "branch", "-d", "side", code=2)
    assert f"checked out at '{wt}'" in res.stderr
    assert "side" in git(main, "branch", "--list", "side")
    # its commit can be checked out, detached, like any other
    commit = git(main, "rev-parse", "main").strip()
    cvault(wt, "checkout", commit)
    assert (wt / "big.psd").read_bytes() == V2
    assert_clean(wt)


def test_a_push_never_moves_a_branch_checked_out_in_a_linked_worktree(main, tmp_path):
    run_git(main, "branch", "side", "HEAD~1")
    wt = add_worktree(main, "side")
    field = tmp_path / "field"
    cvault(tmp_path, "clone", str(main), str(field))
    cvault(field, "checkout", "-b", "side-edit")
    write(field / "scan.tif", NEW)
    cvault(field, "add", "scan.tif")
    cvault(field, "commit", "-m", "scan")
    res = cvault(field, "push", "origin", "side-edit:side", code=12)
    assert "refusing to update 'side'" in res.stderr
    assert git(main, "rev-parse", "side").strip() == git(main, "rev-parse", "main~1").strip()
    cvault(field, "push", "origin", "side-edit:field/scan")  # another branch is fine
    run_git(wt, "merge", "-q", "field/scan")
    assert (wt / "scan.tif").read_bytes() == NEW
    assert_clean(wt)


def test_gc_refuses_when_another_worktrees_index_is_damaged(main):
    wt = add_worktree(main, "--detach", "HEAD~1")
    write(wt / "plate.exr", STAGED)
    run_git(wt, "add", "plate.exr")  # only that worktree's index refers to it
    index = main / ".git" / "worktrees" / "wt" / "index"
    index.write_bytes(b"DIRC" + b"\xff" * 20)  # a torn write
    with cv.Vault.open(main) as vault:
        with pytest.raises(cv.VaultError) as err:
            vault.gc(grace_seconds=0)
        assert str(index) in str(err.value) and "damaged" in str(err.value)
        assert vault.store.has_file(sha(STAGED))  # nothing was removed
    res = cvault(main, "gc", "--grace", "0", code=10)
    assert str(index) in res.stderr and res.stderr.count("\n") == 1
