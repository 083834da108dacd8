"""The remote fixtures are the real thing: an OpenSSH login and an exFAT file system."""

from __future__ import annotations

import errno
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_git
from tests.remotes import MIB, ExfatDrive, SshServer


def _mounts() -> list[list[str]]:
    return [line.split() for line in Path("/proc/mounts").read_text().splitlines()]


def _run_shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


# -- ssh ---------------------------------------------------------------------------------


def test_ssh_command_runs_a_remote_command(sshd: SshServer) -> None:
    result = _run_shell(f"{sshd.ssh_command} {sshd.host} echo ok")
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_remote_side_is_the_current_user(sshd: SshServer) -> None:
    result = subprocess.run(sshd.ssh_argv("id", "-u", "-n"), capture_output=True, text=True,
                            check=True, stdin=subprocess.DEVNULL)
    assert result.stdout.strip() == pwd.getpwuid(os.getuid()).pw_name == sshd.user


def test_remote_side_runs_this_venv_python_by_absolute_path(sshd: SshServer) -> None:
    code = "import os, sys; print(sys.prefix); print(os.getuid())"
    result = subprocess.run(sshd.ssh_argv(sys.executable, "-c", code), capture_output=True,
                            text=True, check=True, stdin=subprocess.DEVNULL)
    assert result.stdout.splitlines() == [sys.prefix, str(os.getuid())]


def test_urls_name_the_server(sshd: SshServer, tmp_path: Path) -> None:
    assert sshd.url(tmp_path) == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}{tmp_path.resolve()}"
    assert sshd.scp_url(tmp_path) == f"{sshd.user}@127.0.0.1:{tmp_path.resolve()}"
    assert 1024 < sshd.port < 65536


def test_git_pushes_and_lists_through_both_url_forms(sshd: SshServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command)
    bare = tmp_path / "remote.git"
    run_git(tmp_path, "init", "-q", "--bare", str(bare))
    work = tmp_path / "work"
    run_git(tmp_path, "init", "-q", str(work))
    (work / "scene.txt").write_text("frame 1\n")
    run_git(work, "add", "scene.txt")
    run_git(work, "commit", "-q", "-m", "first")

    run_git(work, "push", "-q", sshd.scp_url(bare), "main")
    listed = run_git(work, "ls-remote", sshd.url(bare), text=True).stdout

    head = run_git(work, "rev-parse", "HEAD", text=True).stdout.strip()
    assert f"{head}\trefs/heads/main" in listed


def test_stop_ends_the_server(tmp_path: Path) -> None:
    reason = SshServer.unavailable()
    if reason:
        pytest.skip(reason)
    with SshServer(tmp_path) as server:
        process = server._process
        assert process is not None and process.poll() is None
    assert process.poll() is not None
    with pytest.raises(OSError), socket.create_connection((server.host, server.port), 1):
        pass


def test_ssh_command_needs_nothing_from_the_real_home(sshd: SshServer) -> None:
    options = shlex.split(sshd.ssh_command)
    assert options[:3] == ["ssh", "-F", "/dev/null"]
    assert "UserKnownHostsFile=/dev/null" in options and "IdentitiesOnly=yes" in options
    assert re.search(r"-p \d+", sshd.ssh_command)


# -- exFAT -------------------------------------------------------------------------------


def test_drive_is_a_mounted_exfat_fuse_block_device(exfat_drive: ExfatDrive) -> None:
    entries = [m for m in _mounts() if m[1] == str(exfat_drive.path)]
    assert [(m[0], m[2]) for m in entries] == [(exfat_drive.device, "fuseblk")]
    probe = subprocess.run(["blkid", "-o", "value", "-s", "TYPE", str(exfat_drive.device)],
                           capture_output=True, text=True)
    if probe.returncode == 0:  # blkid may lack a cache entry; the mount type is the proof
        assert probe.stdout.strip() == "exfat"


def test_names_are_case_insensitive_and_case_preserving(exfat_drive: ExfatDrive) -> None:
    (exfat_drive.path / "a.txt").write_bytes(b"lowercase")
    assert (exfat_drive.path / "A.TXT").read_bytes() == b"lowercase"
    assert os.listdir(exfat_drive.path) == ["a.txt"]


def test_a_colon_in_a_name_is_refused(exfat_drive: ExfatDrive) -> None:
    with pytest.raises(OSError):
        (exfat_drive.path / "shot:01.png").write_bytes(b"x")
    assert os.listdir(exfat_drive.path) == []


def test_symlinks_are_refused(exfat_drive: ExfatDrive) -> None:
    (exfat_drive.path / "target.bin").write_bytes(b"x")
    with pytest.raises(OSError):
        os.symlink("target.bin", exfat_drive.path / "link")


def test_free_space_reflects_the_image_size(exfat_drive: ExfatDrive) -> None:
    usage = shutil.disk_usage(exfat_drive.path)
    assert 0.9 * 256 * MIB < usage.total <= 256 * MIB
    assert 0 < usage.free <= usage.total
    (exfat_drive.path / "take.bin").write_bytes(os.urandom(4 * MIB))
    assert shutil.disk_usage(exfat_drive.path).free <= usage.free - 4 * MIB


def test_full_drive_runs_out_of_space(full_drive: ExfatDrive) -> None:
    assert shutil.disk_usage(full_drive.path).total <= 8 * MIB
    full_drive.fill()
    with pytest.raises(OSError) as raised:
        (full_drive.path / "one-more.bin").write_bytes(b"x" * MIB)
    assert raised.value.errno == errno.ENOSPC


def test_unmount_leaves_no_mount_or_loop_device(tmp_path: Path) -> None:
    reason = ExfatDrive.unavailable()
    if reason:
        pytest.skip(reason)
    with ExfatDrive(tmp_path, size=8 * MIB) as drive:
        device = drive.device
        (drive.path / "kept.txt").write_text("still here")
    assert not [m for m in _mounts() if m[1] == str(drive.path)]
    assert device is not None and drive.device is None
    attached = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in attached
    assert not drive.image.exists()
