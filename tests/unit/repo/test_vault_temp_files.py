"""Temp files a killed restore left: never shown or staged, removed once certainly stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.repo import worktree_temp as wt
from creativevault.repo.worktree_temp import EXCLUDE_PATTERN, TEMP_PREFIX
from tests.conftest import run_git
from tests.vaulttools import MB, commit_all, creative_bytes, git, write


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftover(folder: Path, pid: int, tag: str = "abcdefgh") -> Path:
    """A temp file as a writer killed mid-write leaves it."""
    return write(folder / f"{TEMP_PREFIX}{wt._host_tag()}-{pid}-{tag}", b"\0" * 5000)


@pytest.fixture
def two_versions(vault: cv.Vault, proj: Path) -> tuple[str, str]:
    write(proj / "art" / "bg.psd", creative_bytes("bg.psd", MB, 1))
    write(proj / "photos" / "a.jpg", creative_bytes("a.jpg", MB, 2))
    c1 = commit_all(vault, "v1").id
    write(proj / "art" / "bg.psd", creative_bytes("bg.psd", MB, 3))
    write(proj / "photos" / "a.jpg", creative_bytes("a.jpg", MB, 4))
    c2 = commit_all(vault, "v2").id
    return c1, c2


def _exclude(proj: Path) -> Path:
    return proj / ".git" / "info" / "exclude"


def test_init_tells_git_to_ignore_the_temp_files(vault: cv.Vault, proj: Path) -> None:
    assert EXCLUDE_PATTERN in _exclude(proj).read_text().splitlines()


@pytest.mark.parametrize("exclude_line", [True, False])
def test_status_and_add_skip_them(vault: cv.Vault, proj: Path, two_versions: tuple[str, str],
                                  dead_pid: int, exclude_line: bool) -> None:
    if not exclude_line:  # a vault made before the line existed: cvault's own rule holds
        _exclude(proj).write_text("")
    dead = leftover(proj / "art", dead_pid)
    live = leftover(proj, os.getpid())
    write(proj / "art" / f"{TEMP_PREFIX}k2j4_x9q", b"old cvault's name")
    status = vault.status()
    assert status.clean
    # not untracked files, but named, so that status can point at them
    assert status.temp_files == sorted([dead.relative_to(proj).as_posix(),
                                        live.relative_to(proj).as_posix(),
                                        f"art/{TEMP_PREFIX}k2j4_x9q"])
    write(proj / "art" / "new.psd", creative_bytes("new.psd", 200_000, 5))
    assert vault.status().untracked == ["art/new.psd"]
    assert vault.add(["."]).paths == ["art/new.psd"]
    assert sorted(vault.git.read_index()) == [".gitattributes", ".gitignore", "art/bg.psd",
                                              "art/new.psd", "photos/a.jpg"]
    if exclude_line:
        assert git(proj, "status", "--porcelain", "-uall") == "A  art/new.psd\n"


def test_restore_removes_stale_ones_where_it_writes(vault: cv.Vault, proj: Path,
                                                    two_versions: tuple[str, str],
                                                    dead_pid: int) -> None:
    c1, _ = two_versions
    stale = leftover(proj / "art", dead_pid)
    live = leftover(proj / "art", os.getpid(), "livexxxx")  # another thread's write
    elsewhere = leftover(proj / "photos", dead_pid)
    vault.restore(["art"], source=c1, dry_run=True)
    assert stale.exists()  # a dry run changes nothing
    vault.restore(["art"], source=c1)
    assert not stale.exists() and live.exists() and elsewhere.exists()
    assert (proj / "art" / "bg.psd").read_bytes() == creative_bytes("bg.psd", MB, 1)
    vault.checkout(c1)
    assert not elsewhere.exists() and live.exists()


def test_a_restore_adds_the_exclude_line_an_older_vault_lacks(
        vault: cv.Vault, proj: Path, two_versions: tuple[str, str]) -> None:
    c1, _ = two_versions
    _exclude(proj).write_text("# the user's own\n*.bak\n")
    with cv.Vault.open(proj) as again:
        again.restore(["photos/a.jpg"], source=c1)
    assert _exclude(proj).read_text().startswith("# the user's own\n*.bak\n# cvault: ")
    assert EXCLUDE_PATTERN in _exclude(proj).read_text().splitlines()


def test_fsck_removes_and_reports_them(vault: cv.Vault, proj: Path,
                                       two_versions: tuple[str, str], dead_pid: int) -> None:
    stale = leftover(proj / "photos", dead_pid)
    live = leftover(proj / "art", os.getpid())
    result = vault.fsck()
    assert result.ok and not stale.exists() and live.exists()
    assert result.removed_temp_files == [f"photos/{stale.name}"]
    assert f"removed photos/{stale.name}: a temp file an interrupted restore or checkout " \
           f"left (left by process {dead_pid}, which is no longer running)" in result.notes
    assert f"kept art/{live.name}: a cvault temp file (being written by this process)" \
        in result.notes
    assert result.to_json()["removed_temp_files"] == [f"photos/{stale.name}"]
    assert vault.fsck().removed_temp_files == []
    run_git(proj, "fsck", "--strict")
