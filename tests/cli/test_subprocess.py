"""A representative set of commands as real processes: ``python -m creativevault`` and
``git cvault`` found by the real git binary on PATH (the ``git-cvault`` console script)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import BIG, BIG_V2, COMMIT_LINE
from tests.conftest import run_cli, run_git

BIN_DIR = Path(sys.executable).parent


def ok(cwd: Path, *args: str) -> str:
    res = run_cli(cwd, *args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    assert res.stderr == "", (args, res.stderr)
    return res.stdout


def test_session_as_subprocesses(tmp_path):
    root = tmp_path / "proj"
    assert ok(tmp_path, "init", str(root)).startswith("Initialized CreativeVault in ")
    (root / "big.psd").write_bytes(BIG)
    (root / "notes.txt").write_text("n\n")
    assert ok(root, "status", "-s").splitlines() == [
        "?? .gitattributes", "?? .gitignore", "?? big.psd", "?? notes.txt"]
    ok(root, "add", ".")
    m = re.match(COMMIT_LINE, ok(root, "commit", "-m", "first").splitlines()[0])
    assert m and m["branch"] == "main" and m["root"]
    assert ok(root, "status") == "On branch main\nnothing to commit, working tree clean\n"
    (root / "big.psd").write_bytes(BIG_V2)
    out = ok(root, "commit", "-a", "-m", "second")
    assert out.startswith("[main ") and "(root-commit)" not in out
    assert [c["message"] for c in json.loads(ok(root, "log", "--json"))] == [
        "second\n", "first\n"]
    show = json.loads(ok(root, "show", "--json"))
    assert [c["path"] for c in show["changes"]] == ["big.psd"]
    # cat streams exact bytes to stdout
    res = subprocess.run([sys.executable, "-m", "creativevault", "cat", "HEAD~1:big.psd"],
                         cwd=root, capture_output=True)
    assert res.returncode == 0 and res.stdout == BIG and res.stderr == b""
    ok(root, "checkout", "HEAD~1")
    assert (root / "big.psd").read_bytes() == BIG
    assert ok(root, "status").startswith("HEAD detached at ")
    ok(root, "checkout", "main")
    assert (root / "big.psd").read_bytes() == BIG_V2
    assert ok(root, "fsck").endswith(": ok\n")


def test_errors_as_subprocesses(tmp_path, vault):
    res = run_cli(tmp_path, "status")
    assert res.returncode == 3
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("cvault: error: ")
    res = run_cli(vault, "cat", "HEAD:nope.psd")
    assert (res.returncode, res.stderr) == (
        2, "cvault: error: nope.psd: does not exist in HEAD\n")
    res = run_cli(vault)
    assert res.returncode == 2 and res.stdout.startswith("usage: cvault")
    res = run_cli(vault, "--version")
    assert res.returncode == 0 and re.match(r"^cvault \d+\.\d+", res.stdout)
    res = run_cli(vault, "status", "--bogus")
    assert res.returncode == 2 and "unrecognized arguments: --bogus" in res.stderr


def test_cat_into_a_closed_pipe_is_quiet(vault):
    proc = subprocess.Popen([sys.executable, "-m", "creativevault", "cat", "HEAD:big.psd"],
                            cwd=vault, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in err


@pytest.fixture
def git_env() -> dict[str, str]:
    if not (BIN_DIR / "git-cvault").exists():
        pytest.skip("git-cvault console script not installed next to the interpreter")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN_DIR), env.get("PATH", "")])
    return env


def test_git_cvault_through_the_git_binary(vault, git_env):
    assert shutil.which("git", path=git_env["PATH"])
    res = run_git(vault, "cvault", "status", env=git_env)
    assert res.stdout.decode() == "On branch main\nnothing to commit, working tree clean\n"
    (vault / "new.psd").write_bytes(BIG_V2)
    assert run_git(vault, "cvault", "status", "-s", env=git_env).stdout == b"?? new.psd\n"
    run_git(vault, "cvault", "add", "new.psd", env=git_env)
    out = run_git(vault, "cvault", "commit", "-m", "via git", env=git_env).stdout.decode()
    assert out.startswith("[main ") and "] via git\n" in out
    log = run_git(vault, "cvault", "log", "--oneline", env=git_env).stdout.decode()
    assert [line.split(" ", 1)[1] for line in log.splitlines()] == ["via git", "first"]
    res = run_git(vault, "cvault", "log", "nope", env=git_env, check=False)
    assert res.returncode == 2
    assert res.stderr.decode() == "cvault: error: unknown revision 'nope'\n"


def test_git_cvault_from_a_subfolder(vault, git_env):
    sub = vault / "shots" / "sh010"
    sub.mkdir(parents=True)
    (sub / "frame.psd").write_bytes(BIG_V2)
    run_git(sub, "cvault", "add", "frame.psd", env=git_env)
    assert run_git(sub, "cvault", "status", "-s", env=git_env).stdout == \
        b"A  shots/sh010/frame.psd\n"
