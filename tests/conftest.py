"""Base fixtures: every test runs with a clean environment and a throwaway HOME.

Tests never touch the developer's real git config: ``GIT_*`` and ``CVAULT_*`` variables
are cleared, HOME points at a temp dir holding a fixed git identity.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


def fixtures_dir() -> Path:
    """The shared real-file fixtures (override with CVAULT_TEST_FIXTURES)."""
    return Path(os.environ.get("CVAULT_TEST_FIXTURES", str(DEFAULT_FIXTURES)))


_FIXTURES = fixtures_dir()


@pytest.fixture(autouse=True)
def clean_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(("GIT_", "CVAULT_")) and key != "CVAULT_TEST_FIXTURES":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Artist")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "artist@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Artist")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "artist@example.com")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Artist\n\temail = artist@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    return home


@pytest.fixture
def fixture_file():
    """Return a function mapping a name under shared/fixtures to its path, or skip."""

    def get(relative: str) -> Path:
        path = _FIXTURES / relative
        if not path.exists():
            pytest.skip(f"shared fixture {relative} not found under {_FIXTURES} "
                        "(set CVAULT_TEST_FIXTURES to the shared/fixtures folder)")
        return path

    return get


def run_git(cwd: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run the real git binary in ``cwd``."""
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, **kw)


def run_cli(cwd: Path, *args: str, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run ``cvault`` as a subprocess (coverage follows it)."""
    return subprocess.run([sys.executable, "-m", "creativevault", *args], cwd=cwd,
                          check=check, capture_output=True, text=True, **kw)


def run_cli_expecting(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    """:func:`run_cli`, asserting its exit code (the output is in the failure message)."""
    res = run_cli(cwd, *args)
    assert res.returncode == code, (args, res.returncode, res.stdout, res.stderr)
    return res


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (the current directory during the test)."""
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def vault(proj: Path):
    """A fresh vault in ``proj`` (closed after the test)."""
    import creativevault as cv

    with cv.Vault.init(proj) as v:
        yield v


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A real OpenSSH server on 127.0.0.1 for the current user (``tests.remotes.SshServer``).

    Connect with ``sshd.ssh_command`` (GIT_SSH_COMMAND style) to ``sshd.url(path)`` or
    ``sshd.scp_url(path)``; the remote login is the real account, not the test's HOME.
    """
    from tests.remotes import SshServer

    reason = SshServer.unavailable()
    if reason:
        pytest.skip(reason)
    with SshServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def exfat_drive(tmp_path_factory: pytest.TempPathFactory):
    """A mounted 256 MiB exFAT file system (``tests.remotes.ExfatDrive``; ``.path``)."""
    from tests.remotes import ExfatDrive

    reason = ExfatDrive.unavailable()
    if reason:
        pytest.skip(reason)
    with ExfatDrive(tmp_path_factory.mktemp("exfat")) as drive:
        yield drive


@pytest.fixture
def full_drive(tmp_path_factory: pytest.TempPathFactory):
    """A mounted 8 MiB exFAT file system, for "disk full" tests (``.fill()`` fills it)."""
    from tests.remotes import MIB, ExfatDrive

    reason = ExfatDrive.unavailable()
    if reason:
        pytest.skip(reason)
    with ExfatDrive(tmp_path_factory.mktemp("exfat-full"), size=8 * MIB) as drive:
        yield drive
