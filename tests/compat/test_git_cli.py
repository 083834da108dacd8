"""The real ``git`` binary on a vault made by cvault, and cvault on history made by git.

cvault commands run in-process (``creativevault.cli.main.main``); git commands run the
installed git binary. The vault is made by ``cvault init`` only (no ``cvault install``),
so these tests also show what plain git sees without the filter process registered.
"""

from __future__ import annotations

import io
import json
import os
import random
import stat
from pathlib import Path

import pytest

from creativevault.cli.main import main
from tests.conftest import run_git

POINTER_FIRST_LINE = "version https://creativevault.dev/spec/v1"
BIG = random.Random(21).randbytes(200_000)
BIG_V2 = random.Random(22).randbytes(210_000)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return run_git(cwd, *args, check=check).stdout.decode()


def saved(path: Path, data: bytes | str, *, age: float = 60.0) -> None:
    """Write a file as an application saved it a while ago.

    Plain git (built without USE_NSEC) treats a file whose mtime is in the same second as
    the index as "racily clean" and re-reads it; without cvault's filter process registered
    (``cvault install``, not built yet) it compares the raw bytes with the pointer and
    reports the file modified. Saving "a minute ago" keeps these tests about everything
    else; test_racy_git_status_right_after_commit pins the racy case.
    """
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(age * 1e9)))


@pytest.fixture
def cv(monkeypatch, capsys):
    """Run cvault in-process in ``cwd``; assert it succeeds and return stdout."""

    def run(cwd: Path, *args: str, code: int = 0) -> str:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        buf = io.StringIO()
        got = main(list(args), out=buf)
        err = capsys.readouterr().err
        assert got == code, (args, got, err)
        run.last_err = err  # type: ignore[attr-defined]
        return buf.getvalue()

    return run


@pytest.fixture
def vault(tmp_path, cv) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    cv(root, "init")
    saved(root / "big.psd", BIG)
    saved(root / "scene.usda", "#usda 1.0\n")
    cv(root, "add", ".")
    cv(root, "commit", "-m", "first")
    return root


def test_git_sees_a_clean_valid_repository(vault, cv):
    assert git(vault, "status", "--porcelain") == ""
    run_git(vault, "fsck", "--strict")
    saved(vault / "big.psd", BIG_V2)
    saved(vault / "scene.usda", "#usda 1.0\ndef Xform \"root\" {}\n")
    cv(vault, "commit", "-a", "-m", "second")
    assert git(vault, "status", "--porcelain") == ""
    run_git(vault, "fsck", "--strict", "--no-dangling")
    assert git(vault, "log", "--format=%s").splitlines() == ["second", "first"]
    assert git(vault, "rev-parse", "HEAD") == cv(vault, "log", "-n", "1", "--json").split(
        '"id": "')[1][:40] + "\n"


def test_cat_file_shows_pointer_for_vault_files_and_raw_text(vault):
    pointer = git(vault, "cat-file", "-p", "HEAD:big.psd")
    lines = pointer.splitlines()
    assert lines[0] == POINTER_FIRST_LINE
    assert f"size {len(BIG)}" in lines
    import hashlib

    assert f"oid sha256:{hashlib.sha256(BIG).hexdigest()}" in lines
    assert len(pointer) < 300
    assert git(vault, "cat-file", "-p", "HEAD:scene.usda") == "#usda 1.0\n"
    attrs = git(vault, "check-attr", "filter", "--", "big.psd", "scene.usda")
    assert attrs.splitlines() == ["big.psd: filter: cvault", "scene.usda: filter: unspecified"]


def test_git_diff_stat_lists_changed_files(vault, cv):
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "scene.usda").write_text("#usda 1.0\n# edited\n")
    (vault / "added.txt").write_text("new\n")
    cv(vault, "add", ".")
    cv(vault, "commit", "-m", "second")
    stat_out = git(vault, "diff", "--stat", "HEAD~1")
    files = {line.split("|")[0].strip() for line in stat_out.splitlines() if "|" in line}
    assert files == {"big.psd", "scene.usda", "added.txt"}
    assert "3 files changed" in stat_out
    names = git(vault, "diff", "--name-status", "HEAD~1", "HEAD").splitlines()
    assert names == ["A\tadded.txt", "M\tbig.psd", "M\tscene.usda"]


def test_branches_made_by_git_are_seen_by_cvault(vault, cv):
    run_git(vault, "branch", "from-git")
    run_git(vault, "checkout", "-q", "-b", "git-checkout")
    assert cv(vault, "branch").splitlines() == ["  from-git", "* git-checkout", "  main"]
    data = json.loads(cv(vault, "branch", "--json"))
    assert data["current"] == "git-checkout"
    assert cv(vault, "status").startswith("On branch git-checkout\n")
    cv(vault, "checkout", "from-git")
    assert git(vault, "branch", "--show-current") == "from-git\n"
    cv(vault, "branch", "made-by-cvault")
    assert "made-by-cvault" in git(vault, "branch", "--list")


def test_plain_git_commit_is_seen_by_cvault(vault, cv):
    (vault / "readme.txt").write_text("written with plain git\n")
    run_git(vault, "add", "readme.txt")
    # the stat cache notices the index changed under it
    assert cv(vault, "status", "-s") == "A  readme.txt\n"
    run_git(vault, "commit", "-q", "-m", "plain git commit")
    assert cv(vault, "status") == "On branch main\nnothing to commit, working tree clean\n"
    subjects = [line.split(" ", 1)[1] for line in cv(vault, "log", "--oneline").splitlines()]
    assert subjects == ["plain git commit", "first"]
    assert cv(vault, "cat", "HEAD:readme.txt", "-o", str(vault.parent / "r.txt")) == ""
    assert (vault.parent / "r.txt").read_text() == "written with plain git\n"
    # and cvault keeps building on it
    saved(vault / "readme.txt", "edited by cvault\n")
    cv(vault, "commit", "-a", "-m", "cvault on top")
    assert git(vault, "log", "--format=%s", "-2").splitlines() == [
        "cvault on top", "plain git commit"]
    assert git(vault, "status", "--porcelain") == ""


def test_plain_git_rm_is_seen_by_cvault(vault, cv):
    run_git(vault, "rm", "-q", "scene.usda")
    assert cv(vault, "status", "-s") == "D  scene.usda\n"


def test_racy_git_status_right_after_commit(vault, cv):
    """git re-reads a racily clean vault file through the clean filter, which hands back
    the staged pointer byte for byte: status stays clean."""
    (vault / "big.psd").write_bytes(BIG_V2)
    cv(vault, "commit", "-a", "-m", "second")
    # pin "saved in the same second as the index was written" (it usually is, here)
    mtime = (vault / "big.psd").stat().st_mtime_ns
    os.utime(vault / ".git" / "index", ns=(mtime, mtime))
    assert git(vault, "status", "--porcelain") == ""


def stage_raw(root, name, **kw):
    """Stage a file's raw bytes, bypassing the clean filter."""
    blob = run_git(root, "hash-object", "-w", "--no-filters", name, **kw).stdout.decode().strip()
    run_git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", **kw)


def test_pre_commit_hook_refuses_raw_vault_blob_after_user_hook(tmp_path, cv):
    root = tmp_path / "proj"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    marker = tmp_path / "user-hook-ran"
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nexit 0\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    cv(root, "init")
    assert (root / ".git" / "hooks" / "pre-commit.cvault-chained").exists()
    run_git(root, "add", ".gitattributes", ".gitignore")
    run_git(root, "commit", "-q", "-m", "attributes")
    assert marker.read_text() == "ran\n"

    (root / "big.psd").write_bytes(BIG)
    # stage the raw bytes behind the filter's back, as a git without cvault installed would
    stage_raw(root, "big.psd")
    res = run_git(root, "commit", "-m", "raw blob", check=False)
    assert res.returncode != 0
    err = res.stderr.decode()
    assert "big.psd" in err and "git reset -- big.psd" in err
    assert marker.read_text() == "ran\nran\n"  # the user's hook ran first
    assert git(root, "log", "--format=%s") == "attributes\n"

    # the way out the message gives works
    run_git(root, "reset", "-q", "--", "big.psd")
    cv(root, "add", "big.psd")
    run_git(root, "commit", "-q", "-m", "through cvault")
    assert git(root, "cat-file", "-p", "HEAD:big.psd").startswith(POINTER_FIRST_LINE)
    assert marker.read_text() == "ran\nran\nran\n"


@pytest.mark.skipif(os.name != "posix", reason="shell hook scripts")
def test_hooks_go_where_core_hooks_path_points_and_idle_in_other_repositories(tmp_path, cv):
    """With ``core.hooksPath`` (a team's shared hooks folder), git runs no hook from
    .git/hooks: cvault installs there, chaining what the folder had, and its hooks do
    nothing in the other repositories that share the folder."""
    shared = tmp_path / "team-hooks"
    shared.mkdir()
    marker = tmp_path / "team-hook-ran"
    team_hook = shared / "pre-commit"
    team_script = f"#!/bin/sh\necho ran >> '{marker}'\nexit 0\n"
    team_hook.write_text(team_script)
    team_hook.chmod(0o755)
    root, other = tmp_path / "proj", tmp_path / "other"
    for repo in (root, other):
        repo.mkdir()
        run_git(repo, "init", "-q", "-b", "main")
        run_git(repo, "config", "core.hooksPath", str(shared))
    cv(root, "init")
    assert (shared / "pre-commit.cvault-chained").read_text() == team_script
    assert "creativevault hook pre-commit" in team_hook.read_text()
    assert not (root / ".git" / "hooks" / "pre-commit").exists()
    (root / "big.psd").write_bytes(BIG)
    stage_raw(root, "big.psd")
    res = run_git(root, "commit", "-m", "raw blob", check=False)
    assert res.returncode != 0 and b"git reset -- big.psd" in res.stderr
    assert marker.read_text() == "ran\n"
    # a repository that is not a vault commits as before, the team's hook included
    (other / "notes.txt").write_text("plain\n")
    run_git(other, "add", "notes.txt")
    res = run_git(other, "commit", "-q", "-m", "plain")
    assert res.stderr == b""
    res = run_git(other, "checkout", "-q", "-b", "topic")  # post-checkout: silent too
    assert res.stderr == b""
    assert marker.read_text() == "ran\nran\n"


def test_failing_user_hook_stops_git_and_cvault_commits(vault, cv):
    hooks = vault / ".git" / "hooks"
    chained = hooks / "pre-commit.cvault-chained"
    chained.write_text("#!/bin/sh\necho 'lint: style check failed' >&2\nexit 3\n")
    chained.chmod(0o755)
    (vault / "a.txt").write_text("a\n")
    run_git(vault, "add", "a.txt")
    res = run_git(vault, "commit", "-m", "blocked", check=False)
    assert res.returncode != 0 and b"style check failed" in res.stderr
    out = cv(vault, "commit", "-m", "blocked too", code=2)
    assert out == ""
    err = cv.last_err  # type: ignore[attr-defined]
    assert err.count("\n") == 1 and err.startswith("cvault: error: ")
    assert "pre-commit hook refused the commit: lint: style check failed" in err


@pytest.mark.skipif(os.name != "posix", reason="shell hook scripts")
def test_hook_runs_without_the_venv_python_on_path(vault):
    """The installed hook calls the interpreter cvault was installed with, so plain git
    finds it with a PATH that has no cvault on it."""
    hook = (vault / ".git" / "hooks" / "pre-commit").read_text()
    assert "-m creativevault hook pre-commit" in hook
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = "/usr/bin:/bin"
    (vault / "raw.png").write_bytes(b"\x89PNG\r\n\x1a\n" + BIG[:100])
    stage_raw(vault, "raw.png", env=env)
    res = run_git(vault, "commit", "-m", "raw", check=False, env=env)
    assert res.returncode == 1 and b"raw.png" in res.stderr
    # and plain `git add` goes through the filter process, found the same way
    run_git(vault, "reset", "-q", "--", "raw.png", env=env)
    run_git(vault, "add", "raw.png", env=env)
    run_git(vault, "commit", "-q", "-m", "through the filter", env=env)
    assert git(vault, "cat-file", "-p", "HEAD:raw.png").startswith(POINTER_FIRST_LINE)
