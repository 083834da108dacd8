"""Faults during push: a killed process, an unplugged drive, a dropped SSH connection, a
drive that fills up. After each: one clear error, both vaults valid (their own fsck and
the real ``git fsck``), the remote ref unmoved, and the same push run again moves only
what is missing and ends with byte-identical content.

Sizes are scaled down with the data (a few MB instead of GBs): the receiver publishes
every 512 KiB instead of 16 MiB and the sender sends 512 KiB per message instead of
8 MiB, so a kill lands between, and inside, several published packs.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import creativevault as cv
from creativevault.errors import DiskFullError, RemoteError, StoreError, VaultError
from creativevault.features.sync import engine
from creativevault.features.sync.engine import push
from creativevault.features.sync.peers import LocalPeer, PeerOptions, SshPeer
from creativevault.features.sync.urls import parse_url
from creativevault.features.sync.wire import ConnectionLost
from creativevault.store import transfer
from tests.unit.sync import (
    FailingDrive,
    assert_whole,
    catted,
    copy_vault,
    ssh_options,
    studio_files,
    vault_templates,
)

BRANCH = "field/laptop"
REF = f"refs/heads/{BRANCH}"
FILES = studio_files(2)
STEP = 512 * 1024
TOTAL = sum(len(d) for p, d in FILES.items() if not p.endswith(".txt"))


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return vault_templates(tmp_path_factory.mktemp("templates"), FILES)


@pytest.fixture
def field(tmp_path: Path, templates: dict[str, Path]) -> Path:
    return copy_vault(templates["field"], tmp_path / "field")


@pytest.fixture
def studio(tmp_path: Path, templates: dict[str, Path]) -> Path:
    return copy_vault(templates["empty"], tmp_path / "studio")


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish and send in 512 KiB steps in this process (see the module docstring)."""
    monkeypatch.setitem(transfer.Ingest.__init__.__kwdefaults__, "publish_every", STEP)
    monkeypatch.setattr(engine, "BATCH_BYTES", STEP)


def push_again(field: Path, studio: Path, **options: Any) -> engine.TransferReport:
    with cv.Vault.open(field) as vault:
        peer = LocalPeer(parse_url(str(studio)), PeerOptions(**options))
        try:
            return push(vault, peer, [("main", BRANCH)], remote_name="studio")
        finally:
            peer.close()


def refs(path: Path) -> dict[str, str]:
    with cv.Vault.open(path) as vault:
        return {f"refs/heads/{b}": c for b, c in vault.git.branches().items()}


def stored_files(path: Path) -> int:
    with cv.Vault.open(path) as vault:
        return vault.store.stats().files


def assert_arrived_whole(field: Path, studio: Path) -> None:
    """The studio's branch is the field's main, with every file byte-identical."""
    with cv.Vault.open(field) as sender:
        head = sender.git.head_commit()
    assert refs(studio) == {REF: head}
    with cv.Vault.open(studio) as received:
        for path, data in FILES.items():
            assert catted(received, BRANCH, path) == data, path
    assert_whole(studio, allow_temp=True)
    assert_whole(field)


# -- (a) the pushing process is killed -----------------------------------------------------

PUSHER = textwrap.dedent("""
    import os, sys, time
    from creativevault.cli.main import main
    from creativevault.features.sync import engine, peers
    from creativevault.store import transfer

    step = int(os.environ["STEP"])
    transfer.Ingest.__init__.__kwdefaults__["publish_every"] = step
    engine.BATCH_BYTES = step
    pause = os.environ["PAUSE_AT"]

    def say(what):
        sys.stdout.write(f"@@ {what}\\n")
        sys.stdout.flush()

    def slowed(name):
        real = getattr(peers.LocalPeer, name)

        def call(self, *args):
            if name == pause:
                say(name)
                time.sleep(60)  # the test kills us here
            result = real(self, *args)
            say(f"{name} done")
            if name == "put":
                time.sleep(0.05)
            return result

        setattr(peers.LocalPeer, name, call)

    for op in ("put", "put_done", "put_pack", "update_refs"):
        slowed(op)
    if pause == "add":  # slow every entry so a kill lands inside a pack being written
        real_add = transfer.Ingest.add

        def add(self, entry):
            time.sleep(0.004)
            return real_add(self, entry)

        transfer.Ingest.add = add
    say("start")
    sys.exit(main(["push", sys.argv[1], "main:" + sys.argv[2]]))
""")


def _packs_bytes(studio: Path) -> int:
    packs = studio / ".git" / "cvault" / "packs"
    return sum(p.stat().st_size for p in packs.iterdir() if p.is_file())


def _run_and_kill(field: Path, studio: Path, *, pause: str, after: str | None,
                  min_bytes: int = 0) -> None:
    """Start ``cvault push`` and SIGKILL it on the marker ``after`` (a line '@@ ...') or,
    with ``min_bytes``, once the studio's packs folder holds that many bytes."""
    env = {**os.environ, "STEP": str(STEP), "PAUSE_AT": pause}
    errors = field.parent / "push-stderr.txt"  # a file: a full pipe would stall the push
    with errors.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", PUSHER, str(studio), BRANCH],
                                cwd=field, env=env, stdout=subprocess.PIPE, stderr=stderr)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()  # read the fd itself: a buffered reader hides lines from select
    deadline = time.monotonic() + 30
    pending = b""
    seen: list[str] = []
    try:
        while True:
            if time.monotonic() > deadline:
                pytest.fail(f"no kill point within 30 s: {seen}")
            if min_bytes and _packs_bytes(studio) >= min_bytes:
                break
            ready, _, _ = select.select([fd], [], [], 0.005)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                pytest.fail(f"the push ended before the kill point: {seen}\n"
                            f"{errors.read_text(errors='replace')}")
            *lines, pending = (pending + chunk).split(b"\n")
            seen.extend(line.decode().strip() for line in lines)
            if after is not None and f"@@ {after}" in seen:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


KILL_POINTS = {
    # (pause at, kill on marker, studio packs bytes to wait for)
    "after the first message": ("never", "put done", 0),
    "inside a pack, mid-transfer": ("add", None, TOTAL // 2),
    "after all content, before git objects": ("put_pack", "put_pack", 0),
    "after git objects, before the ref": ("update_refs", "update_refs", 0),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_push_resumes_with_what_is_missing(field: Path, studio: Path, point: str
                                                    ) -> None:
    pause, after, min_bytes = KILL_POINTS[point]
    _run_and_kill(field, studio, pause=pause, after=after, min_bytes=min_bytes)

    assert refs(studio) == {}  # refs move last
    assert_whole(studio, allow_temp=True)  # what arrived is verified, nothing half-visible
    assert_whole(field)
    arrived = stored_files(studio)

    report = push_again(field, studio)
    assert report.refs and report.files + report.skipped_files == 3
    assert report.skipped_files == arrived
    if point != "after the first message":
        assert report.bytes < TOTAL  # only what was missing travelled
    if after in ("put_pack", "update_refs"):
        assert report.files == report.bytes == 0  # all content had arrived
    assert_arrived_whole(field, studio)


# -- (b) an unplugged drive ----------------------------------------------------------------

def test_a_drive_unplugged_during_a_push(field: Path, studio: Path, small_steps: None
                                         ) -> None:
    drive = FailingDrive(budget=TOTAL // 2)
    with pytest.raises(VaultError) as failed:
        push_again(field, studio, open_vault=lambda p: cv.Vault.open(p, opener=drive))
    assert type(failed.value) is StoreError and not isinstance(failed.value, DiskFullError)
    assert "Input/output error" in str(failed.value) and str(studio) in str(failed.value)
    assert drive.failures == 1  # the session stopped at the first failure
    assert refs(studio) == {}
    assert_whole(studio)
    assert_whole(field)

    report = push_again(field, studio)  # plugged in again
    assert 0 < report.bytes < TOTAL
    assert_arrived_whole(field, studio)


def test_a_read_error_on_the_sending_drive(field: Path, studio: Path, small_steps: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from creativevault.store.pack import PackReader

    real = PackReader.read
    reads = {"n": 0}

    def failing(self: PackReader, pack: str, offset: int, length: int) -> bytes:
        reads["n"] += 1
        if reads["n"] > 12:
            raise OSError(errno.EIO, "Input/output error")
        return real(self, pack, offset, length)

    monkeypatch.setattr(PackReader, "read", failing)
    with pytest.raises(StoreError, match="Input/output error") as failed:
        push_again(field, studio)
    assert str(field) in str(failed.value)  # names the sender's store, not the studio's
    monkeypatch.setattr(PackReader, "read", real)
    assert refs(studio) == {}
    assert_whole(studio)
    assert_whole(field)

    report = push_again(field, studio)
    assert 0 < report.bytes < TOTAL
    assert_arrived_whole(field, studio)


# -- (c) the SSH connection drops ----------------------------------------------------------

def test_an_ssh_connection_dropped_mid_transfer(field: Path, studio: Path, sshd,
                                                small_steps: None) -> None:
    options = ssh_options(sshd)
    peer = SshPeer(parse_url(sshd.url(studio)), options)
    real_put = peer.put
    puts = {"n": 0}

    def put(entries: list) -> dict:
        result = real_put(entries)
        puts["n"] += 1
        if puts["n"] == 4:
            peer.process.kill()  # the network went away under the ssh client
            peer.process.wait(5)
        return result

    peer.put = put  # type: ignore[method-assign]
    with cv.Vault.open(field) as vault, pytest.raises(RemoteError) as dropped:
        push(vault, peer, [("main", BRANCH)], remote_name="studio")
    peer.close()
    assert isinstance(dropped.value, ConnectionLost) and dropped.value.retriable
    assert "again" in str(dropped.value) or sshd.host in str(dropped.value)

    _wait_until_unlocked(studio)  # the far side's 'cvault serve' saw EOF and finished
    assert refs(studio) == {}
    assert_whole(studio)
    assert_whole(field)

    peer = SshPeer(parse_url(sshd.url(studio)), options)
    try:
        with cv.Vault.open(field) as vault:
            report = push(vault, peer, [("main", BRANCH)], remote_name="studio")
    finally:
        peer.close()
    assert 0 < report.bytes < TOTAL  # what arrived before the drop was kept
    assert_arrived_whole(field, studio)


def _wait_until_unlocked(vault: Path, timeout: float = 20) -> None:
    lock = vault / ".git" / "cvault" / "lock"
    deadline = time.monotonic() + timeout
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lock.exists(), "the remote session did not end after the drop"


# -- (d) the drive fills up ----------------------------------------------------------------

@pytest.fixture
def roomy_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 8 MiB drive stands for a big one: the 64 MiB safety margin goes, so the
    transfer starts and meets the real end of the disk."""
    monkeypatch.setattr(engine, "FREE_SPACE_MARGIN", 0)
    monkeypatch.setattr(transfer, "check_free_space", lambda *a, **k: None)


@pytest.mark.parametrize("when", ["while a pack is written", "between a pack and its index",
                                  "while git objects are stored"])
def test_a_drive_that_fills_up_mid_transfer(field: Path, full_drive, small_steps: None,
                                            roomy_checks: None, when: str) -> None:
    from creativevault.store.pack import PackWriter

    drive_vault = full_drive.path / "vault"
    cv.Vault.init(drive_vault).close()
    filler: dict[str, Path] = {}

    def fill() -> None:
        if "path" not in filler:  # another program fills the drive meanwhile
            filler["path"] = full_drive.fill(leave=STEP if "written" in when else 0)

    real_put, real_publish, real_put_pack = LocalPeer.put, PackWriter.publish, LocalPeer.put_pack

    def put(self: LocalPeer, entries: list) -> dict:
        if "written" in when:
            fill()
        return real_put(self, entries)

    def put_pack(self: LocalPeer, data: bytes) -> None:
        if "git" in when:
            fill()
        real_put_pack(self, data)

    published: list[str] = []

    def publish(self: PackWriter) -> str:
        published.append(real_publish(self))
        if "index" in when and len(published) == 2:  # the first pack is in the index
            fill()
        return published[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalPeer, "put", put)
        mp.setattr(PackWriter, "publish", publish)
        mp.setattr(LocalPeer, "put_pack", put_pack)
        with pytest.raises(DiskFullError) as full:
            push_again(field, drive_vault)
    assert full.value.retriable and str(drive_vault) in str(full.value)
    assert refs(drive_vault) == {}
    assert_whole(drive_vault)

    filler["path"].unlink()  # space freed
    report = push_again(field, drive_vault)
    assert report.files + report.skipped_files == 3
    assert_arrived_whole(field, drive_vault)
    assert shutil.disk_usage(full_drive.path).free > 0


def test_a_host_without_cvault_or_unreachable_says_so(studio: Path, sshd) -> None:
    options = ssh_options(sshd)
    options.remote_cvault = "/opt/nowhere/cvault"
    with pytest.raises(RemoteError) as missing:
        SshPeer(parse_url(sshd.url(studio)), options)
    assert "/opt/nowhere/cvault" in str(missing.value)  # the remote shell's own words
    closed = ssh_options(sshd)
    closed.ssh_command = closed.ssh_command.replace(f"-p {sshd.port}", "-p 1")
    with pytest.raises(RemoteError) as unreachable:
        SshPeer(parse_url(sshd.url(studio).replace(f":{sshd.port}/", ":1/")), closed)
    assert "refused" in str(unreachable.value).lower() or "port 1" in str(unreachable.value)
