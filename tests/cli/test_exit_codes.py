"""One test per row of ``EXIT_CODES``, each provoking its error through the CLI.

Every error is exactly one line on stderr, starts ``cvault: error:``, names what it is
about (a file, a path or a revision) and is never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from creativevault import errors as E
from creativevault.cli import main as cli_main
from creativevault.cli.main import EXIT_CODES, exit_code_for
from tests.cli.conftest import BIG, payload
from tests.conftest import run_cli, run_git

#: every row of the table has a test below (checked by test_every_row_is_covered)
COVERED = {
    E.NotAVaultError: "test_not_a_vault_is_3",
    E.RevisionNotFoundError: "test_unknown_revision_is_2",
    E.PathNotFoundError: "test_unknown_path_is_2",
    E.UsageError: "test_usage_error_is_2",
    E.InputFileError: "test_unreadable_input_is_4",
    E.PointerError: "test_garbage_pointer_is_5",
    E.CorruptObjectError: "test_corrupt_pack_byte_is_5",
    E.StoreFormatError: "test_unknown_store_format_is_5",
    E.ObjectMissingError: "test_missing_content_is_6",
    E.DiskFullError: "test_disk_full_is_7",
    E.LockedError: "test_lock_held_by_live_process_is_8",
    E.WorktreeError: "test_worktree_conflict_is_9",
    E.GitError: "test_git_error_is_10",
    E.PushRejectedError: "test_push_to_checked_out_branch_is_12",
    E.NotEnoughCopiesError: "test_not_enough_copies_is_13",
    E.RemoteError: "test_unreachable_remote_is_11",
    E.VaultError: "test_other_vault_error_is_1",
}


def one_error_line(err: str, *names: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("cvault: error: "), line
    assert "Traceback" not in err
    for name in names:
        assert name in line, (name, line)
    return line


def test_every_row_is_covered():
    assert [cls for cls, _ in EXIT_CODES] == list(COVERED)
    for name in COVERED.values():
        assert callable(globals()[name])
    assert {code for _, code in EXIT_CODES} == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}


def test_exit_code_for_most_specific_first():
    assert exit_code_for(E.FileChangedError("x")) == 4
    assert exit_code_for(E.CaseCollisionError("x")) == 9
    assert exit_code_for(E.StoreError("x")) == 1
    assert exit_code_for(E.NotAPointerError("x")) == 1
    assert exit_code_for(RuntimeError("not ours")) == 1


# ----------------------------------------------------------------------------- 2
def test_unknown_revision_is_2(vault, cli):
    for args in (("log", "nope"), ("show", "nope"), ("checkout", "nope"),
                 ("cat", "nope:big.psd"), ("restore", "--source", "nope", "big.psd"),
                 ("branch", "-d", "nope"), ("log", "HEAD~5")):
        res = cli(vault, *args)
        assert res.code == 2, args
        one_error_line(res.err, "nope" if "nope" in " ".join(args) else "HEAD~5")


def test_unknown_path_is_2(vault, cli):
    for args in (("add", "missing.psd"), ("cat", "HEAD:missing.psd"), ("rm", "missing.psd"),
                 ("mv", "missing.psd", "x.psd"), ("restore", "missing.psd"),
                 ("cat", ":missing.psd")):
        res = cli(vault, *args)
        assert res.code == 2, args
        one_error_line(res.err, "missing.psd")


def test_usage_error_is_2(vault, cli, tmp_path):
    res = cli(vault, "commit", "-m", "nothing staged")
    assert res.code == 2
    one_error_line(res.err, "nothing to commit")
    res = cli(vault, "cat", "no-colon")
    assert res.code == 2
    one_error_line(res.err, "no-colon")
    res = cli(vault, "add", str(tmp_path / "outside.psd"))
    assert res.code == 2
    one_error_line(res.err, "outside.psd", "outside the repository")


# ----------------------------------------------------------------------------- 3
def test_not_a_vault_is_3(tmp_path, cli):
    plain = tmp_path / "plain"
    plain.mkdir()
    res = cli(plain, "status")
    assert res.code == 3
    one_error_line(res.err, str(plain), "not a vault")
    run_git(plain, "init", "-q")
    res = cli(plain, "log")
    assert res.code == 3
    one_error_line(res.err, "cvault init")


# ----------------------------------------------------------------------------- 4
def test_unreadable_input_is_4(vault, cli, monkeypatch):
    """A file the OS refuses to open (chmod 000 does not stop root, so the refusal is
    simulated where cvault opens it)."""
    from creativevault.store import writer as writer_mod

    (vault / "locked.psd").write_bytes(payload(1000, seed=11))
    (vault / "locked.txt").write_text("secret\n")
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("locked.psd"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(writer_mod, "open", refusing_open, raising=False)
    res = cli(vault, "add", "locked.psd")
    assert res.code == 4
    one_error_line(res.err, "locked.psd", "Permission denied")

    real_read = Path.read_bytes

    def refusing_read(self):
        if self.name == "locked.txt":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", refusing_read)
    res = cli(vault, "add", "locked.txt")
    assert res.code == 4
    one_error_line(res.err, "locked.txt", "Permission denied")
    assert cli(vault, "status", "-s").out.splitlines() == ["?? locked.psd", "?? locked.txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a non-root POSIX user for chmod 000 to refuse reads")
def test_unreadable_input_is_4_for_real(vault):
    locked = vault / "locked.psd"
    locked.write_bytes(payload(1000, seed=12))
    locked.chmod(0)
    try:
        res = run_cli(vault, "add", "locked.psd")
    finally:
        locked.chmod(0o644)
    assert res.returncode == 4
    one_error_line(res.stderr, "locked.psd")


# ----------------------------------------------------------------------------- 5
def _pack(vault: Path) -> Path:
    packs = sorted((vault / ".git" / "cvault" / "packs").glob("*.pack"))
    assert packs
    return packs[0]


def test_corrupt_pack_byte_is_5(vault, cli):
    pack = _pack(vault)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    res = cli(vault, "cat", "HEAD:big.psd", "-o", str(vault.parent / "out.psd"))
    assert res.code == 5
    one_error_line(res.err, pack.name)
    assert not (vault.parent / "out.psd").exists()
    assert not list(vault.parent.glob("*.cvault-partial"))
    (vault / "big.psd").unlink()
    res = cli(vault, "restore", "big.psd")
    assert res.code == 5
    one_error_line(res.err, pack.name)
    assert not (vault / "big.psd").exists()
    assert not list(vault.glob(".cvault-tmp-*"))
    # fsck reports the damage (one line per problem) and exits 5
    res = cli(vault, "fsck")
    assert res.code == 5
    assert res.out.endswith(": DAMAGED\n")
    assert res.err.startswith("damaged: corrupt-chunk in ") and pack.name in res.err
    res = cli(vault, "fsck", "--json")
    assert res.code == 5
    data = json.loads(res.out)
    assert data["ok"] is False and len(data["problems"]) >= 1


def test_garbage_pointer_is_5(vault, cli):
    garbage = vault / "garbage.ptr"
    garbage.write_bytes(b"version https://creativevault.dev/spec/v1\noid sha256:zz\nsize x\n")
    blob = run_git(vault, "hash-object", "-w", str(garbage)).stdout.decode().strip()
    garbage.unlink()
    run_git(vault, "update-index", "--add", "--cacheinfo", f"100644,{blob},bad.psd")
    run_git(vault, "commit", "-q", "--no-verify", "-m", "garbage pointer")
    res = cli(vault, "cat", "HEAD:bad.psd")
    assert res.code == 5
    one_error_line(res.err, "bad.psd", "malformed pointer")
    res = cli(vault, "checkout", "-b", "again", "--dry-run")
    assert res.code in (0, 5)
    res = cli(vault, "show")
    assert res.code == 5
    one_error_line(res.err, "bad.psd", "malformed pointer")


def test_unknown_store_format_is_5(vault, cli):
    config = vault / ".git" / "cvault" / "store.json"
    body = json.loads(config.read_text())
    body["version"] = 99
    config.write_text(json.dumps(body))
    res = cli(vault, "status")
    assert res.code == 5
    one_error_line(res.err, "store.json", "version")


# ----------------------------------------------------------------------------- 6
def test_missing_content_is_6(vault, cli):
    for p in (vault / ".git" / "cvault" / "packs").iterdir():
        p.unlink()
    (vault / ".git" / "cvault" / "index.sqlite").unlink()
    res = cli(vault, "cat", "HEAD:big.psd")
    assert res.code == 6
    one_error_line(res.err, "big.psd", "not in this vault")
    (vault / "big.psd").unlink()
    res = cli(vault, "restore", "big.psd")
    assert res.code == 6
    one_error_line(res.err, "big.psd")
    res = cli(vault, "fsck")
    assert res.code == 6  # nothing is damaged: the content is simply not here
    assert "missing content: big.psd" in res.err
    assert "DAMAGED" not in res.out and "content is not in this vault" in res.out


# ----------------------------------------------------------------------------- 7
def test_disk_full_is_7(vault, cli, monkeypatch):
    (vault / "huge.psd").write_bytes(payload(20_000, seed=13))
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1024))
    res = cli(vault, "add", "huge.psd")
    assert res.code == 7
    one_error_line(res.err, "huge.psd", "free space")
    monkeypatch.undo()
    assert cli(vault, "status", "-s").out == "?? huge.psd\n"


def test_enospc_oserror_safety_net_is_7(vault, cli, monkeypatch):
    from creativevault.cli import cmd_status

    def full(args, out):
        raise OSError(errno.ENOSPC, "No space left on device", "/vault/somewhere")

    monkeypatch.setattr(cmd_status, "run", full)
    res = cli(vault, "status")
    assert res.code == 7
    assert one_error_line(res.err) == \
        "cvault: error: /vault/somewhere: No space left on device"


# ----------------------------------------------------------------------------- 8
def test_lock_held_by_live_process_is_8(vault, cli, monkeypatch):
    from creativevault.store.store import Store

    lock = vault / ".git" / "cvault" / "lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                "created": time.time(), "token": "test"}))
    real_init = Store.__init__

    def short_timeout(self, *args, **kwargs):
        kwargs["lock_timeout"] = 0.2  # the default waits 30 s for the holder
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Store, "__init__", short_timeout)
    (vault / "next.psd").write_bytes(payload(1000, seed=14))
    res = cli(vault, "add", "next.psd")
    assert res.code == 8
    line = one_error_line(res.err, str(lock), f"pid {os.getpid()}")
    assert "locked" in line
    assert lock.exists()  # a live holder's lock is never broken
    # a lock left by a dead process is broken, and the add goes through
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(),
                                "created": time.time(), "token": "dead"}))
    res = cli(vault, "add", "next.psd")
    assert res.code == 0, res


# ----------------------------------------------------------------------------- 9
def test_worktree_conflict_is_9(vault, cli, ok):
    (vault / "big.psd").write_bytes(BIG[::-1])
    res = cli(vault, "rm", "big.psd")
    assert res.code == 9
    one_error_line(res.err, "big.psd", "--force")
    (vault / "other.txt").write_text("o\n")
    res = cli(vault, "mv", "notes.txt", "other.txt")
    assert res.code == 9
    one_error_line(res.err, "other.txt", "exists")


def test_checkout_blocked_by_folder_or_file_is_9(vault, cli, ok):
    ok(vault, "checkout", "-b", "deep")
    (vault / "sub").mkdir()
    (vault / "sub" / "f.txt").write_text("s\n")
    ok(vault, "add", "sub")
    ok(vault, "commit", "-m", "sub")
    ok(vault, "checkout", "main")
    (vault / "sub" / "f.txt").mkdir(parents=True)  # a folder where a file must go
    res = cli(vault, "checkout", "deep")
    assert res.code == 9
    one_error_line(res.err, "sub/f.txt", "folder is in the way")
    shutil.rmtree(vault / "sub")
    (vault / "sub").write_text("a file where a folder must go\n")
    res = cli(vault, "checkout", "deep")
    assert res.code == 9
    one_error_line(res.err, "sub", "file is in the way")
    assert (vault / "sub").read_text() == "a file where a folder must go\n"


# ----------------------------------------------------------------------------- 10
def test_git_error_is_10(vault, cli):
    blob = run_git(vault, "rev-parse", "HEAD:notes.txt").stdout.decode().strip()
    (vault / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    res = cli(vault, "cat", "HEAD:notes.txt")
    assert res.code == 10
    one_error_line(res.err, blob, "missing")


def test_damaged_git_index_is_10(vault, cli):
    (vault / ".git" / "index").write_bytes(b"garbage, not an index")
    res = cli(vault, "status")
    one_error_line(res.err, "index")
    assert res.code == 10


# ----------------------------------------------------------------------------- 11-13
def test_unreachable_remote_is_11(vault, cli, tmp_path):
    res = cli(vault, "push", str(tmp_path / "unplugged-drive"), "main")
    assert res.code == 11
    one_error_line(res.err, "unplugged-drive", "not reachable")
    (tmp_path / "plain").mkdir()
    res = cli(vault, "fetch", str(tmp_path / "plain"))
    assert res.code == 11
    one_error_line(res.err, "plain", "not a vault")


def test_push_to_checked_out_branch_is_12(vault, cli, tmp_path):
    other = tmp_path / "studio"
    assert cli(tmp_path, "init", str(other)).code == 0
    res = cli(vault, "push", str(other), "main")
    assert res.code == 12
    one_error_line(res.err, "refusing to update 'main'", "checked out")
    assert run_git(other, "branch", "--list").stdout == b""  # nothing moved there


def test_not_enough_copies_is_13(vault, cli, tmp_path):
    other = tmp_path / "backup"
    assert cli(tmp_path, "init", str(other)).code == 0
    assert cli(vault, "remote", "add", "backup", str(other)).code == 0
    before = (vault / "big.psd").read_bytes()
    res = cli(vault, "drop", "big.psd")
    assert res.code == 13
    one_error_line(res.err, "big.psd", "fewer than 1 verified copies")
    assert (vault / "big.psd").read_bytes() == before
    assert cli(vault, "fsck").code == 0


# ----------------------------------------------------------------------------- 1 and others
def test_other_vault_error_is_1(vault, cli, monkeypatch):
    from creativevault.cli import cmd_status

    def fail(args, out):
        raise E.StoreError("something the table has no row for", path="x/y.psd")

    monkeypatch.setattr(cmd_status, "run", fail)
    res = cli(vault, "status")
    assert res.code == 1
    assert one_error_line(res.err) == \
        "cvault: error: x/y.psd: something the table has no row for"


@pytest.mark.parametrize("exc, code, text", [
    (KeyboardInterrupt(), 130, "cvault: interrupted"),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 0, ""),
    (PermissionError(errno.EACCES, "Permission denied", "/some/file"), 1,
     "cvault: error: /some/file: Permission denied"),
    (ValueError("a bug"), 1, "cvault: error: internal error: ValueError: a bug"),
])
def test_unconverted_exceptions_are_one_line(vault, cli, monkeypatch, exc, code, text):
    from creativevault.cli import cmd_log

    def fail(args, out):
        raise exc

    monkeypatch.setattr(cmd_log, "run", fail)
    res = cli(vault, "log")
    assert res.code == code
    assert "Traceback" not in res.err
    if text:
        assert len(res.err_lines) == 1 and res.err.startswith(text)
    else:
        assert res.err == ""


def test_debug_env_shows_the_traceback(vault, cli, monkeypatch):
    from creativevault.cli import cmd_log

    def fail(args, out):
        raise ValueError("a bug")

    monkeypatch.setattr(cmd_log, "run", fail)
    monkeypatch.setenv("CVAULT_DEBUG", "1")
    with pytest.raises(ValueError, match="a bug"):
        cli(vault, "log")


def test_main_module_entry_point(vault):
    res = run_cli(vault, "log", "nope")
    assert res.returncode == 2
    one_error_line(res.stderr, "nope")
    assert cli_main.main.__doc__
