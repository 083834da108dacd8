"""Plain ``git`` through cvault's filter process, textconv driver and hooks (docs/git.md).

Every vault here is made by ``cvault init`` (which runs ``cvault install``), and every
git command is the real git binary: git starts ``cvault filter-process`` itself, so these
tests cover the protocol as git speaks it, not as we think it does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import creativevault as cv
from tests.conftest import run_cli_expecting as cvault
from tests.conftest import run_git
from tests.vaulttools import MB, creative_bytes, git, write

POINTER_FIRST_LINE = "version https://creativevault.dev/spec/v1"
V1 = creative_bytes("big.psd", 3 * MB, 31)
V2 = creative_bytes("big.psd", 3 * MB + 4321, 32)
V3 = creative_bytes("big.psd", 2 * MB, 33)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha_of(path: Path) -> str:
    return sha(path.read_bytes())


def assert_clean(root: Path) -> None:
    assert git(root, "status", "--porcelain") == ""
    run_git(root, "fsck", "--strict", "--no-dangling")


def store_has(root: Path, data: bytes) -> bool:
    with cv.Vault.open(root) as vault:
        return vault.store.has_file(sha(data))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A vault made by ``cvault init``, with big.psd (V1) committed by plain git."""
    root = tmp_path / "proj"
    root.mkdir()
    cvault(root, "init")
    write(root / "big.psd", V1)
    write(root / "notes.txt", "plain text stays in git\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "one")
    return root


# ------------------------------------------------------------------ clean: git add
def test_git_add_commits_a_pointer_and_stores_the_content(repo):
    pointer = git(repo, "cat-file", "-p", ":big.psd")
    lines = pointer.splitlines()
    assert lines[0] == POINTER_FIRST_LINE
    assert f"oid sha256:{sha(V1)}" in lines and f"size {len(V1)}" in lines
    mtime = (repo / "big.psd").stat().st_mtime_ns
    assert f"mtime {mtime}" in lines  # the committed modification time
    assert git(repo, "cat-file", "-p", "HEAD:big.psd") == pointer
    assert git(repo, "cat-file", "-p", "HEAD:notes.txt") == "plain text stays in git\n"
    assert store_has(repo, V1)
    assert_clean(repo)
    # cvault reads what git committed
    out = repo.parent / "out.psd"
    cvault(repo, "cat", "HEAD:big.psd", "-o", str(out))
    assert out.read_bytes() == V1


def test_git_add_of_several_files_in_one_filter_process(repo):
    datas = {f"art/layer{i}.png": creative_bytes("x.png", 200_000 + i, 40 + i) for i in range(4)}
    for name, data in datas.items():
        write(repo / name, data)
    run_git(repo, "add", "art")
    run_git(repo, "commit", "-q", "-m", "layers")
    for name, data in datas.items():
        assert git(repo, "cat-file", "-p", f"HEAD:{name}").startswith(POINTER_FIRST_LINE)
        assert store_has(repo, data)
    for name in datas:
        (repo / name).unlink()
    run_git(repo, "checkout", "--", "art")
    assert {name: (repo / name).read_bytes() for name in datas} == datas
    assert_clean(repo)


# ------------------------------------------------------------------ smudge: checkout
def test_checkout_of_an_older_commit_writes_the_exact_old_bytes(repo):
    write(repo / "big.psd", V2)
    run_git(repo, "commit", "-q", "-am", "two")
    run_git(repo, "checkout", "-q", "HEAD~1")
    assert sha_of(repo / "big.psd") == sha(V1)
    assert_clean(repo)
    run_git(repo, "checkout", "-q", "main")
    assert sha_of(repo / "big.psd") == sha(V2)
    assert_clean(repo)
    # a file that only exists in one commit comes and goes
    write(repo / "extra.exr", V3)
    run_git(repo, "add", "extra.exr")
    run_git(repo, "commit", "-q", "-m", "three")
    run_git(repo, "checkout", "-q", "HEAD~2")
    assert not (repo / "extra.exr").exists() and sha_of(repo / "big.psd") == sha(V1)
    run_git(repo, "checkout", "-q", "main")
    assert sha_of(repo / "extra.exr") == sha(V3)
    assert_clean(repo)


def test_status_is_clean_after_touching_an_unchanged_file(repo):
    staged = git(repo, "cat-file", "-p", ":big.psd")
    now = time.time()
    os.utime(repo / "big.psd", (now - 5, now - 5))  # a program re-saved the same bytes
    assert_clean(repo)
    # the staged pointer came back byte for byte (its committed mtime too)
    run_git(repo, "add", "big.psd")
    assert git(repo, "cat-file", "-p", ":big.psd") == staged
    assert git(repo, "diff", "--cached") == ""


def test_status_is_clean_after_a_racy_same_second_commit(repo):
    (repo / "big.psd").write_bytes(V2)  # saved now: in the same second as the index
    run_git(repo, "add", "big.psd")
    run_git(repo, "commit", "-q", "-m", "two")
    mtime = (repo / "big.psd").stat().st_mtime_ns
    os.utime(repo / ".git" / "index", ns=(mtime, mtime))  # pin the race
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "status", "--porcelain") == ""  # and after git rewrote the index


def test_stash_reset_and_switch_keep_bytes_exact(repo):
    write(repo / "big.psd", V2)
    assert git(repo, "status", "--porcelain") == " M big.psd\n"
    run_git(repo, "stash")
    assert sha_of(repo / "big.psd") == sha(V1)
    assert_clean(repo)
    run_git(repo, "stash", "pop")
    assert sha_of(repo / "big.psd") == sha(V2)
    assert git(repo, "status", "--porcelain") == " M big.psd\n"

    run_git(repo, "reset", "-q", "--hard")
    assert sha_of(repo / "big.psd") == sha(V1)
    assert_clean(repo)

    run_git(repo, "switch", "-q", "-c", "feature")
    assert sha_of(repo / "big.psd") == sha(V1)
    write(repo / "big.psd", V3)
    run_git(repo, "commit", "-q", "-am", "feature work")
    run_git(repo, "switch", "-q", "main")
    assert sha_of(repo / "big.psd") == sha(V1)
    assert_clean(repo)
    run_git(repo, "switch", "-q", "feature")
    assert sha_of(repo / "big.psd") == sha(V3)
    assert_clean(repo)

    # reset --hard to another commit, and a stash of a staged change
    run_git(repo, "reset", "-q", "--hard", "main")
    assert sha_of(repo / "big.psd") == sha(V1)
    assert_clean(repo)
    run_git(repo, "reset", "-q", "--hard", "feature@{1}")
    assert sha_of(repo / "big.psd") == sha(V3)
    write(repo / "big.psd", V2)
    run_git(repo, "add", "big.psd")
    run_git(repo, "stash")
    assert sha_of(repo / "big.psd") == sha(V3)
    run_git(repo, "stash", "pop", "--index")
    assert sha_of(repo / "big.psd") == sha(V2)
    assert git(repo, "status", "--porcelain") == "M  big.psd\n"
    run_git(repo, "fsck", "--strict", "--no-dangling")


# ------------------------------------------------------------------ textconv
def test_diff_and_log_print_the_summary_instead_of_pointer_text(repo, fixture_file):
    first = fixture_file("psd/masks.psd").read_bytes()
    second = fixture_file("psd/group.psd").read_bytes()
    write(repo / "art.psd", first)
    run_git(repo, "add", "art.psd")
    run_git(repo, "commit", "-q", "-m", "art")
    write(repo / "art.psd", second)

    # plain `git diff` runs the drivers' external command (test_git_diff_drivers.py);
    # --no-ext-diff shows the textconv summary, the layered differ's line after it
    diff = git(repo, "diff", "--no-ext-diff")
    assert "creativevault.dev" not in diff and "Binary files" not in diff
    assert textwrap.dedent(f"""\
        @@ -1,4 +1,4 @@
         format: Adobe Photoshop document (PSD)
        -size: {len(first):,} bytes
        -sha256: {sha(first)}
        """) in diff
    assert f"+size: {len(second):,} bytes\n+sha256: {sha(second)}\n" in diff

    (repo / "docs").mkdir()
    assert git(repo / "docs", "diff", "--no-ext-diff") == diff  # textconv runs at the top

    run_git(repo, "commit", "-q", "-am", "art v2")
    log = git(repo, "log", "-p", "--format=%s")
    assert "creativevault.dev" not in log
    assert f"+sha256: {sha(second)}\n" in log and f"-sha256: {sha(first)}\n" in log
    assert f"-size: {len(first):,} bytes\n" in log
    assert f"+sha256: {sha(first)}\n" in log  # the commit that added it
    assert f"+sha256: {sha(V1)}\n+" not in log
    assert f"+format: Adobe Photoshop document (PSD)\n+size: {len(V1):,} bytes\n" in log

    stat = git(repo, "diff", "--stat", "HEAD~1")
    assert stat.splitlines()[0].split("|")[0].strip() == "art.psd"
    assert "1 file changed" in stat
    # git show of one version, through textconv too
    shown = git(repo, "show", "--textconv", "HEAD:art.psd")
    assert shown.splitlines()[:3] == ["format: Adobe Photoshop document (PSD)",
                                      f"size: {len(second):,} bytes", f"sha256: {sha(second)}"]


# ------------------------------------------------------------------ clone, global install
def test_clone_with_a_global_install_writes_pointers_and_warns(repo, tmp_path, clean_env):
    art = creative_bytes("art.png", 500_000, 50)
    write(repo / "sub" / "art.png", art)
    run_git(repo, "add", "sub")
    run_git(repo, "commit", "-q", "-m", "art")

    gitconfig = clean_env / ".gitconfig"
    with gitconfig.open("a") as f:
        f.write('# my aliases\n[alias]\n\tboth = "!echo a ; echo b"\n')
    cvault(repo, "install", "--global")
    res = cvault(repo, "install", "--global")  # twice: settings replaced, not repeated
    assert str(gitconfig) in res.stdout
    config = gitconfig.read_text()
    # the user's file is edited, not rewritten (fixed: dulwich dropped comments and quotes)
    assert "name = Test Artist" in config and "# my aliases\n" in config
    assert git(tmp_path, "config", "--global", "alias.both") == "!echo a ; echo b\n"
    assert git(tmp_path, "config", "--global", "--get-all", "filter.cvault.process").count(
        "\n") == 1
    assert git(tmp_path, "config", "--global", "filter.cvault.process") == (
        f"{sys.executable} -m creativevault filter-process\n")
    assert git(tmp_path, "config", "--global", "filter.cvault.required") == "true\n"
    assert git(tmp_path, "config", "--global", "diff.cvault.textconv").endswith(" textconv\n")

    clone = tmp_path / "clone"
    res = run_git(tmp_path, "clone", str(repo), str(clone), check=False)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    for name, data in (("big.psd", V1), ("sub/art.png", art)):
        text = (clone / name).read_text()
        assert text.startswith(POINTER_FIRST_LINE) and f"oid sha256:{sha(data)}" in text
        assert (f"cvault: warning: {name}: content {sha(data)[:12]} is not in this vault; "
                "wrote the pointer file instead\n") in err
    assert "cvault: warning: 2 file(s) were written as pointer files" in err
    assert err.count("cvault: warning:") == 3
    assert (clone / "notes.txt").read_text() == "plain text stays in git\n"
    # git is content: the pointer file cleans to the committed pointer
    assert git(clone, "status", "--porcelain") == ""
    log = git(clone, "log", "-p", "-1", "--format=%s")
    assert "+format: vault file (content not in this vault)\n" in log
    assert f"+sha256: {sha(art)}\n" in log

    # adopt the clone; fsck lists the missing content
    cvault(clone, "init")
    res = cvault(clone, "fsck", code=6)
    assert f"missing content: big.psd ({sha(V1)[:12]})\n" in res.stderr
    assert f"missing content: sub/art.png ({sha(art)[:12]})\n" in res.stderr

    # content arrives (here: the same bytes added under another name)
    for name, data in (("copy1.psd", V1), ("copy2.png", art)):
        write(clone / name, data)
    cvault(clone, "add", "copy1.psd", "copy2.png")
    run_git(clone, "reset", "-q", "--", "copy1.psd", "copy2.png")
    (clone / "copy1.psd").unlink()
    (clone / "copy2.png").unlink()
    assert (clone / "big.psd").read_text().startswith(POINTER_FIRST_LINE)

    # git checkout of the same branch runs the post-checkout hook: pointers materialise
    res = run_git(clone, "checkout", "main", check=False)
    assert res.returncode == 0
    assert "restored the content of 2 file(s)" in res.stderr.decode()
    assert (clone / "big.psd").read_bytes() == V1
    assert (clone / "sub" / "art.png").read_bytes() == art
    assert (clone / "big.psd").stat().st_mtime_ns == (repo / "big.psd").stat().st_mtime_ns
    assert_clean(clone)
    cvault(clone, "fsck")

    # and a checkout of a path now smudges the real bytes directly
    (clone / "sub" / "art.png").unlink()
    res = run_git(clone, "checkout", "--", "sub/art.png")
    assert b"warning" not in res.stderr
    assert (clone / "sub" / "art.png").read_bytes() == art
    assert_clean(clone)


def test_file_committed_raw_before_cvault_is_smudged_unchanged(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    raw = creative_bytes("raw.psd", 300_000, 60)
    small = b"8BPS\x00\x01" + bytes(200)
    write(root / "raw.psd", raw)
    write(root / "small.psd", small)
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "before cvault")
    cvault(root, "init")
    assert git(root, "check-attr", "filter", "raw.psd") == "raw.psd: filter: cvault\n"
    run_git(root, "add", ".gitattributes", ".gitignore")
    # the pre-commit hook lets raw blobs HEAD already has through (bug fixed in cmd_hook)
    run_git(root, "commit", "-q", "-m", "cvault")

    (root / "raw.psd").unlink()
    (root / "small.psd").unlink()
    res = run_git(root, "checkout", "--", "raw.psd", "small.psd")
    assert res.stderr == b""
    assert (root / "raw.psd").read_bytes() == raw
    assert (root / "small.psd").read_bytes() == small
    # the blobs in git are still the raw bytes
    assert run_git(root, "cat-file", "blob", "HEAD:raw.psd").stdout == raw

    # a changed raw blob staged behind the filter's back is still refused
    blob = run_git(root, "hash-object", "-w", "--stdin", "--no-filters",
                   input=raw[::-1]).stdout.decode().strip()
    run_git(root, "update-index", "--cacheinfo", f"100644,{blob},raw.psd")
    refused = run_git(root, "commit", "-q", "-m", "raw again", check=False)
    assert refused.returncode != 0 and b"raw.psd" in refused.stderr
    assert b"small.psd" not in refused.stderr
    run_git(root, "reset", "-q")

    # a clone with cvault installed globally gets the raw bytes too, without warnings
    cvault(root, "install", "--global")
    res = run_git(tmp_path, "clone", "-q", str(root), str(tmp_path / "clone"))
    assert b"warning" not in res.stderr
    assert (tmp_path / "clone" / "raw.psd").read_bytes() == raw
    assert (tmp_path / "clone" / "small.psd").read_bytes() == small


# ------------------------------------------------------------------ memory
MEASURE = """
import resource, subprocess, sys
res = subprocess.run(["git", "add", sys.argv[1]], capture_output=True)
sys.stderr.buffer.write(res.stderr)
print(res.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_git_add_of_a_large_file_streams_in_bounded_memory(repo):
    size = 300 * MB
    with (repo / "huge.psd").open("wb") as f:
        f.write(b"8BPS\x00\x01")
        for _ in range(size // MB):
            f.write(os.urandom(MB))
    size += 6
    # measure in a fresh process: RUSAGE_CHILDREN is the largest child it ever waited
    # for (git, and the filter process git waited for), not earlier tests' children
    res = subprocess.run([sys.executable, "-c", MEASURE, "huge.psd"], cwd=repo,
                         capture_output=True, text=True)
    code, max_rss_kib = map(int, res.stdout.split())
    assert code == 0, res.stderr
    assert git(repo, "cat-file", "-p", ":huge.psd").splitlines()[-1] == f"size {size}"
    assert max_rss_kib * 1024 < 150 * MB, f"peak RSS {max_rss_kib / 1024:.0f} MiB"
    with cv.Vault.open(repo) as vault:
        fid = git(repo, "cat-file", "-p", ":huge.psd").split("oid sha256:")[1][:64]
        assert vault.store.file_size(fid) == size
    shutil.rmtree(repo / ".git" / "cvault" / "packs")  # free the space early
    (repo / "huge.psd").unlink()
