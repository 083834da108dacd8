"""A restore killed mid-write (SIGKILL: a crash, a power cut): every working file holds its
old or its new bytes, the temp files left beside them are never shown or staged, the
clean-up removes them, and running the restore again finishes it byte-exact.

The kill is aimed by watching the file system, no hook in the code: the test waits until a
temp file beside the working files holds some bytes but fewer than the smallest file
restored, so a file is certainly being written (its rename only comes after the last byte
and the fsync), then kills the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.repo.worktree_temp import EXCLUDE_PATTERN, TEMP_PREFIX
from creativevault.repo.worktree_writer import DEFAULT_WORKERS
from tests.conftest import run_cli, run_git
from tests.vaulttools import MB, commit_all, git, sha, write

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"),
    reason="needs SIGKILL to kill the restore without warning (POSIX); Windows has none")

#: big enough that each file takes a while to write: written largest first, DEFAULT_WORKERS
#: at once
FILES = {"shots/plate_010.exr": 40 * MB, "shots/plate_020.exr": 36 * MB,
         "shots/plate_030.exr": 32 * MB, "renders/final.psd": 28 * MB}
#: a temp file this small is certainly mid-write (the smallest file restored is 28 MB)
MID_WRITE = min(FILES.values()) - 12 * MB


def _versions() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Two versions of every file: v2 is v1 with its first and last 256 KiB edited (so the
    store keeps one copy of the rest), and the same size (only the bytes can tell)."""
    rng = random.Random(7)
    v1, v2 = {}, {}
    for name, size in FILES.items():
        data = rng.randbytes(size)
        v1[name] = data
        v2[name] = rng.randbytes(256 * 1024) + data[256 * 1024:-256 * 1024] + \
            rng.randbytes(256 * 1024)
    return v1, v2


def _temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(f"{TEMP_PREFIX}*") if ".git" not in p.parts)


def _kill_mid_write(root: Path, *args: str) -> list[Path]:
    """Run ``cvault ARGS`` and SIGKILL it while a file is being written; the temp files."""
    folders = sorted({root / name.rpartition("/")[0] for name in FILES})
    proc = subprocess.Popen([sys.executable, "-m", "creativevault", *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: tuple[str, int] | None = None
    try:
        deadline = time.monotonic() + 120
        while seen is None and proc.poll() is None and time.monotonic() < deadline:
            for folder in folders:
                try:
                    with os.scandir(folder) as it:
                        for entry in it:
                            if entry.name.startswith(TEMP_PREFIX):
                                size = entry.stat().st_size
                                if 0 < size <= MID_WRITE:
                                    proc.send_signal(signal.SIGKILL)
                                    seen = (entry.name, size)
                                    break
                except FileNotFoundError:
                    continue
                if seen:
                    break
            time.sleep(0.002)
    finally:
        if proc.poll() is None and seen is None:
            proc.kill()
        _, err = proc.communicate()
    assert seen is not None, f"the restore ended before it could be killed: {err!r}"
    assert proc.returncode == -signal.SIGKILL
    left = _temp_files(root)
    assert seen[0] in {p.name for p in left}, (seen, left)
    return left


@pytest.mark.slow
@pytest.mark.parametrize("cleaned_by", ["restore", "fsck"])
def test_a_killed_restore_leaves_whole_files_and_cleans_up(proj: Path, cleaned_by: str) -> None:
    v1, v2 = _versions()
    with cv.Vault.init(proj) as vault:
        for name, data in v1.items():
            write(proj / name, data)
        commit_all(vault, "plates v1")
        for name, data in v2.items():
            write(proj / name, data)
        commit_all(vault, "plates v2")
    old = {name: hashlib.sha256(data).hexdigest() for name, data in v2.items()}
    new = {name: hashlib.sha256(data).hexdigest() for name, data in v1.items()}
    del v1, v2

    left = _kill_mid_write(proj, "restore", "--source", "HEAD~1", ".")
    assert 1 <= len(left) <= DEFAULT_WORKERS  # the files in flight, never more
    for temp in left:
        assert temp.parent in {proj / "shots", proj / "renders"}
        assert temp.name.startswith(TEMP_PREFIX)
    # no working file is partial: each holds exactly its old or its new bytes
    states = {name: "new" if sha(proj / name) == new[name] else
              "old" if sha(proj / name) == old[name] else "PARTIAL" for name in FILES}
    assert "PARTIAL" not in states.values(), states
    assert "old" in states.values()  # the file being written when it was killed

    # nothing shows the leftovers, nothing would stage them
    status = json.loads(run_cli(proj, "status", "--json", check=True).stdout)
    assert status["untracked"] == []
    assert status["temp_files"] == sorted(p.relative_to(proj).as_posix() for p in left)
    text = run_cli(proj, "status", check=True).stdout
    assert f"note: {len(left)} temp file(s) of an interrupted" in text and "fsck" in text
    assert sorted(c["path"] for c in status["unstaged"]) == \
        sorted(n for n, s in states.items() if s == "new")
    assert git(proj, "ls-files", "--others", "--exclude-standard") == ""
    for temp in left:
        rel = temp.relative_to(proj).as_posix()
        why = git(proj, "check-ignore", "-v", rel)
        assert why.startswith(".git/info/exclude:") and EXCLUDE_PATTERN in why, why

    if cleaned_by == "fsck":
        res = run_cli(proj, "fsck", "--json", check=True)
        report = json.loads(res.stdout)
        assert report["ok"] is True
        assert report["removed_temp_files"] == [p.relative_to(proj).as_posix() for p in left]
        assert _temp_files(proj) == []

    # running the restore again finishes it: exact bytes, no leftovers, nothing rescued
    res = run_cli(proj, "restore", "--source", "HEAD~1", ".")
    assert res.returncode == 0, res.stderr
    assert _temp_files(proj) == []
    for name in FILES:
        assert sha(proj / name) == new[name], name
    with cv.Vault.open(proj) as vault:
        assert vault.rescue_list() == []
        assert vault.status().untracked == []
        assert vault.fsck().ok
    run_git(proj, "fsck", "--strict")
