"""Real remotes for tests: an OpenSSH server on loopback and an exFAT drive.

``SshServer`` runs the system ``sshd`` on 127.0.0.1 with its own config, host key, client
key and authorized_keys, so ``ssh://`` and ``host:path`` remotes are exercised through
the same binaries a user has. ``ExfatDrive`` formats a loop-mounted image with exFAT
(through exfat-fuse) so "external drive" remotes meet the real file system's limits:
case-insensitive names, no colons, no symlinks, a finite size.

Both are context managers; the pytest fixtures in ``conftest.py`` wrap them and skip with
the reason ``unavailable()`` gives when the machine cannot run them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = ["MIB", "ExfatDrive", "SshServer", "find_tool"]

MIB = 1024 * 1024
SSHD = "/usr/sbin/sshd"
# sshd refuses to start as root without its privilege separation directory.
PRIVSEP_DIR = Path("/run/sshd")
PR_SET_PDEATHSIG = 1
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_tool(name: str) -> str | None:
    """The absolute path of a command, looking in the sbin folders a user PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN_DIRS:
        candidate = Path(folder) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-limit:].strip() or "(empty)"


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (Linux), so a
    killed test run leaves no sshd behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SshServer:
    """An OpenSSH server on 127.0.0.1 that accepts one throwaway key for the current user.

    ``ssh`` reads its config and known hosts from the real user's home (getpwuid), never
    from ``$HOME``, so ``ssh_command`` spells out every option it depends on.
    """

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, start_timeout: float = 15.0) -> None:
        self.workdir = Path(workdir)
        self.start_timeout = start_timeout
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0
        self.client_key = self.workdir / "client_ed25519"
        self.host_key = self.workdir / "host_ed25519"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.config = self.workdir / "sshd_config"
        self.log = self.workdir / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def unavailable() -> str | None:
        """Why no server can start here (None when it can)."""
        if not os.access(SSHD, os.X_OK) or find_tool("ssh-keygen") is None \
                or find_tool("ssh") is None:
            return "openssh-server is not installed (.ci/run installs it)"
        return None

    # -- client side -------------------------------------------------------------------

    @property
    def ssh_command(self) -> str:
        """An ``ssh`` command line for GIT_SSH_COMMAND-style use (host and command follow)."""
        return shlex.join(self.ssh_options())

    def ssh_options(self) -> list[str]:
        """``ssh_command`` as an argument list."""
        return [
            "ssh", "-F", "/dev/null", "-i", str(self.client_key), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
        ]

    @property
    def destination(self) -> str:
        """``user@127.0.0.1``."""
        return f"{self.user}@{self.host}"

    def ssh_argv(self, *command: str) -> list[str]:
        """The argv that runs ``command`` on the server (quoted for the remote shell).

        The remote side is a login of the real account: its shell, its home and its
        shell start-up files, not the test's environment; pass absolute paths and any
        variables explicitly (``env HOME=... /abs/python ...``).
        """
        return [*self.ssh_options(), self.destination, shlex.join(command)]

    def url(self, path: str | os.PathLike[str]) -> str:
        """``ssh://user@127.0.0.1:PORT/abs/path``."""
        return f"ssh://{self.destination}:{self.port}{Path(path).resolve()}"

    def scp_url(self, path: str | os.PathLike[str]) -> str:
        """``user@127.0.0.1:/abs/path`` (the port comes from ``ssh_command``'s ``-p``)."""
        return f"{self.destination}:{Path(path).resolve()}"

    # -- server side -------------------------------------------------------------------

    def start(self) -> SshServer:
        """Generate keys and config, start sshd and wait until a login succeeds."""
        reason = self.unavailable()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        keygen = find_tool("ssh-keygen") or "ssh-keygen"
        for key in (self.host_key, self.client_key):
            if not key.exists():
                subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "cvault-test",
                                "-f", str(key)], check=True, capture_output=True)
        self.authorized_keys.write_text(Path(f"{self.client_key}.pub").read_text())
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # another process may take the free port before sshd
            self.port = _free_port()
            self._write_config()
            with self.log.open("ab") as log:
                self._process = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(self.config)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    preexec_fn=_end_with_parent)
            try:
                self._wait_listening()
            except RuntimeError as error:
                last_error = str(error)
                self.stop()
                if "Address already in use" in last_error:
                    continue
                raise
            self._check_login()
            return self
        raise RuntimeError(last_error)

    def _write_config(self) -> None:
        lines = {
            "ListenAddress": self.host,
            "Port": str(self.port),
            "HostKey": str(self.host_key),
            "PidFile": str(self.workdir / "sshd.pid"),
            "AuthorizedKeysFile": str(self.authorized_keys),
            "AllowUsers": self.user,
            "PubkeyAuthentication": "yes",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "PermitRootLogin": "prohibit-password",
            "StrictModes": "no",
            "UsePAM": "no",
            "PrintMotd": "no",
            "X11Forwarding": "no",
            "AllowTcpForwarding": "no",
        }
        self.config.write_text("".join(f"{key} {value}\n" for key, value in lines.items()))

    def _wait_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited with status {self._process.returncode} "
                                   f"before listening on {self.host}:{self.port}; "
                                   f"sshd said:\n{_tail(self.log)}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on {self.host}:{self.port} within "
                           f"{self.start_timeout:.0f} s; sshd said:\n{_tail(self.log)}")

    def _check_login(self) -> None:
        """Fail at setup, with both sides' messages, when the key login does not work."""
        try:
            result = subprocess.run(self.ssh_argv("true"), capture_output=True, text=True,
                                    stdin=subprocess.DEVNULL, timeout=self.start_timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"ssh login to {self.destination} port {self.port} hung; "
                               f"sshd said:\n{_tail(self.log)}") from None
        if result.returncode != 0:
            self.stop()
            log = _tail(self.log)
            hint = ""
            if "account is locked" in log:  # UsePAM no: a password field starting with '!'
                hint = f"\n(unlock the key login with `usermod -p '*' {self.user}`)"
            raise RuntimeError(f"ssh login as {self.user} to port {self.port} failed "
                               f"(exit {result.returncode}): {result.stderr.strip()}\n"
                               f"sshd said:\n{log}{hint}")

    def stop(self) -> None:
        """Stop sshd: terminate, wait, then kill."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class ExfatDrive:
    """An exFAT file system on a sparse image, loop-attached and mounted through FUSE.

    exfat-fuse mounts block devices only, so the image goes through ``losetup``; that and
    FUSE need root. ``path`` is the mount point.
    """

    def __init__(self, workdir: Path, size: int = 256 * MIB, *, label: str = "CVAULT") -> None:
        self.workdir = Path(workdir)
        self.size = size
        self.label = label
        self.image = self.workdir / "exfat.img"
        self.path = self.workdir / "mnt"
        self.device: str | None = None
        self._mounted = False

    @staticmethod
    def unavailable() -> str | None:
        """Why no drive can be mounted here (None when it can)."""
        if os.geteuid() != 0:
            return "the exFAT drive needs root (losetup and a FUSE block mount)"
        if not os.path.exists("/dev/fuse"):
            return "no /dev/fuse on this machine"
        for tool, package in (("losetup", "mount"), ("mount.exfat-fuse", "exfat-fuse"),
                              ("mkfs.exfat", "exfatprogs")):
            if find_tool(tool) is None:
                return f"{tool} is not installed (package {package}; .ci/run installs it)"
        if find_tool("fusermount3") is None and find_tool("fusermount") is None:
            return "fusermount is not installed (package fuse3; .ci/run installs it)"
        return None

    def mount(self) -> ExfatDrive:
        """Create, format, attach and mount the image."""
        reason = self.unavailable()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.image.open("wb") as image:
            image.truncate(self.size)  # sparse: only what the file system writes takes space
        self._run("mkfs.exfat", "-L", self.label, str(self.image))
        self.device = self._run("losetup", "-f", "--show", str(self.image)).strip()
        try:
            self.path.mkdir(exist_ok=True)
            self._run("mount.exfat-fuse", self.device, str(self.path))
            self._mounted = True
        except BaseException:
            self.unmount()
            raise
        return self

    def unmount(self) -> None:
        """Unmount (retrying while busy), detach the loop device and delete the image."""
        try:
            if self._mounted:
                self._mounted = False
                self._unmount_fuse()
        finally:
            device, self.device = self.device, None
            if device:  # detached even after a lazy unmount: the kernel frees it when idle
                self._run("losetup", "-d", device)
            self.image.unlink(missing_ok=True)

    def _unmount_fuse(self) -> None:
        tool = find_tool("fusermount3") or find_tool("fusermount") or "fusermount"
        message = ""
        for _attempt in range(10):
            result = subprocess.run([tool, "-u", str(self.path)], capture_output=True,
                                    text=True)
            if result.returncode == 0:
                return
            message = result.stderr.strip()
            time.sleep(0.3)
        # Still busy (a process holds a file open): detach it from the tree anyway, so no
        # mount outlives the test, and report.
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        raise RuntimeError(f"could not unmount {self.path}: {message}")

    def fill(self, leave: int = 0) -> Path:
        """Write a filler file until the drive is full (or ``leave`` bytes stay free)."""
        filler = self.path / "filler.bin"
        block = b"\0" * MIB
        with filler.open("wb", buffering=0) as out:  # unbuffered: nothing left to flush
            try:
                while True:
                    room = shutil.disk_usage(self.path).free - leave
                    if room <= 0:
                        break
                    out.write(block[:room])
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
        return filler

    @staticmethod
    def _run(tool: str, *args: str) -> str:
        command = [find_tool(tool) or tool, *args]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} failed (exit {result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()}")
        return result.stdout

    def __enter__(self) -> ExfatDrive:
        return self.mount()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unmount()
