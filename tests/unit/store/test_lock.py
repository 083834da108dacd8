from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from creativevault.errors import LockedError
from creativevault.store.lock import StoreLock, pid_alive


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_acquire_release_and_content(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with StoreLock(path) as lock:
        assert lock.held
        data = json.loads(path.read_text())
        assert data["pid"] == os.getpid() and data["host"] == socket.gethostname()
        assert isinstance(data["created"], float)
        lock.refresh()
    assert not path.exists()
    lock.release()  # idempotent


def test_a_held_lock_times_out(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with StoreLock(path), pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        StoreLock(path, timeout=0.2).acquire()


def test_lock_of_a_dead_process_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                "created": time.time()}))
    with StoreLock(path, timeout=1.0) as lock:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        assert lock.held


def test_other_hosts_lock_is_kept_until_it_is_old(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "created": time.time()}))
    assert not StoreLock(path).is_stale()
    with pytest.raises(LockedError, match="on elsewhere"):
        StoreLock(path, timeout=0.1).acquire()
    old = time.time() - 7 * 3600
    os.utime(path, (old, old))
    assert StoreLock(path).is_stale()
    with StoreLock(path, timeout=0.5):
        pass


def test_unreadable_lock_is_broken_only_when_aged(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text("garbage")
    lock = StoreLock(path)
    assert lock.describe_owner() == "owner unknown"
    assert not lock.is_stale()
    old = time.time() - 60
    os.utime(path, (old, old))
    assert lock.is_stale()


def test_release_leaves_a_foreign_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    lock = StoreLock(path)
    lock.acquire()
    path.write_text("someone else")
    lock.release()
    assert path.read_text() == "someone else"


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(0)
