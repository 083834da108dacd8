"""The writer's temp files: names, the info/exclude line, and removing only stale ones."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from creativevault.repo import worktree_temp as wt
from creativevault.repo.worktree_temp import EXCLUDE_PATTERN, TEMP_PREFIX, clean, temp_prefix
from creativevault.store.lock import STALE_AFTER
from tests.conftest import run_git

OTHER_HOST = "00000000" if wt._host_tag() != "00000000" else "11111111"


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The id of another process that is still running."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def make(folder: Path, name: str, data: bytes = b"partial") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def names(found: list[wt.TempFile]) -> dict[str, bool]:
    return {t.path: t.removed for t in found}


def test_the_writers_names_carry_host_and_pid(tmp_path: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=temp_prefix(), dir=tmp_path)
    os.close(fd)
    base = os.path.basename(name)
    assert base.startswith(f"{TEMP_PREFIX}{wt._host_tag()}-{os.getpid()}-")
    assert wt._NAME.fullmatch(base) and wt.is_temp_name(base)
    assert not wt._OLD_NAME.fullmatch(base)


def test_a_dead_writers_file_is_removed_a_running_ones_kept(tmp_path: Path, dead_pid: int,
                                                            live_pid: int) -> None:
    host = wt._host_tag()
    dead = make(tmp_path / "shots", f"{TEMP_PREFIX}{host}-{dead_pid}-abc123_z")
    live = make(tmp_path / "shots", f"{TEMP_PREFIX}{host}-{live_pid}-abc123_z")
    mine = make(tmp_path / "shots", f"{TEMP_PREFIX}{host}-{os.getpid()}-abc123_z")
    found = clean(tmp_path)
    assert names(found) == {f"shots/{dead.name}": True, f"shots/{live.name}": False,
                            f"shots/{mine.name}": False}
    reasons = {t.path.rpartition("/")[2]: t.reason for t in found}
    assert reasons[dead.name] == f"left by process {dead_pid}, which is no longer running"
    assert reasons[live.name] == f"process {live_pid} (still running) may be writing it"
    assert reasons[mine.name] == "being written by this process"
    assert not dead.exists() and live.exists() and mine.exists()


def test_writers_that_cannot_be_checked_are_judged_by_idle_time(tmp_path: Path,
                                                                live_pid: int) -> None:
    other_host = make(tmp_path, f"{TEMP_PREFIX}{OTHER_HOST}-1234-abcdefgh")
    old_name = make(tmp_path, f"{TEMP_PREFIX}k2j4_x9q")  # cvault before the pid was in it
    reused = make(tmp_path, f"{TEMP_PREFIX}{wt._host_tag()}-{live_pid}-abcdefgh")
    assert names(clean(tmp_path)) == {other_host.name: False, old_name.name: False,
                                      reused.name: False}
    # a live writer changes its file all the time: 6 hours idle is an abandoned one
    later = time.time() + STALE_AFTER + 60
    found = clean(tmp_path, now=later)
    assert names(found) == {other_host.name: True, old_name.name: True, reused.name: True}
    assert {t.reason for t in found} == {"not written to for 6 hours"}
    assert list(tmp_path.iterdir()) == []


def test_nothing_but_the_writers_own_files_is_touched(tmp_path: Path, dead_pid: int) -> None:
    host = wt._host_tag()
    later = time.time() + 10 * STALE_AFTER
    keep = [
        make(tmp_path, f"{TEMP_PREFIX}notes.txt"),  # a user's file that happens to match
        make(tmp_path, f"{TEMP_PREFIX}{host}-{dead_pid}-abc.psd"),
        make(tmp_path, f"{TEMP_PREFIX}{host}-x{dead_pid}-abcdefgh"),
        make(tmp_path, ".cvault-tmp"),
        make(tmp_path, f"x{TEMP_PREFIX}{host}-{dead_pid}-abcdefgh"),
        make(tmp_path, f".CVAULT-TMP-{host}-{dead_pid}-abcdefgh"),
    ]
    folder = tmp_path / f"{TEMP_PREFIX}{host}-{dead_pid}-abcdefgh"  # a folder: not ours
    folder.mkdir()
    target = make(tmp_path / "elsewhere", "precious.psd")
    link = tmp_path / f"{TEMP_PREFIX}{host}-{dead_pid}-linkxxxx"
    link.symlink_to(target)
    inside_git = make(tmp_path / ".git", f"{TEMP_PREFIX}{host}-{dead_pid}-abcdefgh")
    nested = make(tmp_path / "sub" / "repo", f"{TEMP_PREFIX}{host}-{dead_pid}-abcdefgh")
    (tmp_path / "sub" / "repo" / ".git").mkdir()
    assert clean(tmp_path, now=later) == []
    assert all(p.exists() for p in [*keep, folder, target, inside_git, nested])
    assert link.is_symlink()


def test_only_the_named_folders_are_cleaned(tmp_path: Path, dead_pid: int) -> None:
    name = f"{TEMP_PREFIX}{wt._host_tag()}-{dead_pid}-abcdefgh"
    top, a, b = make(tmp_path, name), make(tmp_path / "a", name), make(tmp_path / "b", name)
    assert names(clean(tmp_path, ["a", "missing/folder"])) == {f"a/{name}": True}
    assert top.exists() and not a.exists() and b.exists()
    assert names(clean(tmp_path, [""])) == {name: True}
    assert names(clean(tmp_path)) == {f"b/{name}": True}


def test_a_file_that_cannot_be_removed_is_reported_kept(tmp_path: Path, dead_pid: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = make(tmp_path, f"{TEMP_PREFIX}{wt._host_tag()}-{dead_pid}-abcdefgh")

    def refuse(p: object) -> None:
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(wt.os, "unlink", refuse)
    [found] = clean(tmp_path)
    assert not found.removed and found.reason.endswith("cannot remove it (Permission denied)")
    assert path.exists()


def test_the_exclude_line_is_added_once_and_keeps_the_users_lines(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q")
    git_dir = tmp_path / ".git"
    exclude = git_dir / "info" / "exclude"
    exclude.write_bytes(b"# mine\n*.bak")  # no final newline
    assert wt.ensure_excluded(git_dir)
    assert exclude.read_text().startswith("# mine\n*.bak\n# cvault: ")
    assert exclude.read_text().endswith(f"\n{EXCLUDE_PATTERN}\n")
    assert not wt.ensure_excluded(git_dir)
    exclude.unlink()
    assert wt.ensure_excluded(git_dir)  # created when missing
    name = f"{TEMP_PREFIX}{wt._host_tag()}-{os.getpid()}-abcdefgh"
    make(tmp_path / "shots", name)
    make(tmp_path, "real.txt")
    # plain git: not untracked, not added, and says why
    assert run_git(tmp_path, "status", "--porcelain", "-uall").stdout == b"?? real.txt\n"
    assert run_git(tmp_path, "ls-files", "--others", "--exclude-standard").stdout == \
        b"real.txt\n"
    why = run_git(tmp_path, "check-ignore", "-v", f"shots/{name}").stdout.decode()
    assert why.startswith(".git/info/exclude:") and EXCLUDE_PATTERN in why
    run_git(tmp_path, "add", "-A")
    assert run_git(tmp_path, "ls-files").stdout == b"real.txt\n"


def test_a_killed_write_of_gitattributes_leaves_a_temp_file_that_is_cleaned(
        tmp_path: Path) -> None:
    """``write_atomic`` of a working-tree file (``.gitattributes``, a pointer file) names its
    temp file as the writer does: a process killed before the rename leaves one that is
    hidden and removed like the writer's, and the old file is whole."""
    target = make(tmp_path, ".gitattributes", b"*.psd filter=cvault\n")
    child = subprocess.run([sys.executable, "-c", f"""
import os, pathlib
from creativevault.repo.worktree_temp import temp_prefix
from creativevault.store import durable
os.fsync = lambda fd: os._exit(9)  # killed after writing, before the rename
durable.write_atomic(pathlib.Path({str(target)!r}), b"new", temp_prefix=temp_prefix())
"""], capture_output=True, text=True, timeout=60)
    assert child.returncode == 9, child.stderr
    [left] = [p for p in tmp_path.iterdir() if p != target]
    assert wt.is_temp_name(left.name) and wt._NAME.fullmatch(left.name)
    assert target.read_bytes() == b"*.psd filter=cvault\n"
    [found] = clean(tmp_path)
    assert found.removed and found.reason.startswith("left by process ")
    assert [p.name for p in tmp_path.iterdir()] == [".gitattributes"]
