"""Faults: every failure is one clear VaultError naming the file, and the vault stays valid.

After each fault: the error's ``str`` names the file, HEAD and the index are as before,
``fsck()`` is clean (or names the damage exactly), and the user's files are intact.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import (
    CorruptObjectError,
    DiskFullError,
    FileChangedError,
    FileVanishedError,
    InputFileError,
    NotAVaultError,
    PointerError,
    VaultError,
)
from creativevault.store import writer as writer_mod
from creativevault.store.writer import StoreWriter
from tests.conftest import run_git
from tests.vaulttools import MB, age_all, commit_all, creative_bytes, damage_entry, git, sha, write


@pytest.fixture
def vault(proj: Path):
    with cv.Vault.init(proj) as v:
        write(proj / "base.psd", creative_bytes("base.psd", 2 * MB, 1))
        write(proj / "notes.txt", "base\n")
        commit_all(v, "base")
        yield v


def snapshot(vault: cv.Vault) -> tuple[str | None, bytes, dict[str, str]]:
    """HEAD, the git index bytes and the sha256 of every working file."""
    files = {p.relative_to(vault.root).as_posix(): sha(p) for p in vault.root.rglob("*")
             if p.is_file() and ".git" not in p.relative_to(vault.root).parts}
    return vault.git.head_commit(), (vault.root / ".git" / "index").read_bytes(), files


def assert_valid(vault: cv.Vault) -> None:
    result = vault.fsck()
    assert result.ok, result
    run_git(vault.root, "fsck", "--strict")
    assert not list((vault.root / ".git" / "cvault" / "packs").glob("*.tmp"))


# ---------------------------------------------------------------------------- not a vault
def test_not_a_vault(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotAVaultError) as err:
        cv.Vault.open(plain)
    assert str(plain) in str(err.value)
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q")
    with pytest.raises(NotAVaultError, match="cvault init") as err:
        cv.Vault.open(repo)
    assert str(repo) in str(err.value)
    assert not (repo / ".git" / "cvault").exists()


# ---------------------------------------------------------------------------- input files
def test_file_vanishing_during_add(vault: cv.Vault, proj: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write(proj / "keep.png", creative_bytes("keep.png", MB, 2))
    write(proj / "gone.png", creative_bytes("gone.png", 2 * MB, 3))
    before = snapshot(vault)
    original = StoreWriter.put_file

    def vanish_first(self, path, **hint):
        if Path(path).name == "gone.png":
            Path(path).unlink()  # removed between the walk and the read
        return original(self, path, **hint)

    with monkeypatch.context() as m, pytest.raises(FileVanishedError) as err:
        m.setattr(StoreWriter, "put_file", vanish_first)
        vault.add(["."])
    assert "gone.png" in str(err.value)
    head, index, files = snapshot(vault)
    assert (head, index) == before[:2]
    assert files == {k: v for k, v in before[2].items() if k != "gone.png"}
    assert_valid(vault)
    report = vault.add(["."])  # the vault carries on
    assert report.paths == ["keep.png"]
    vault.commit("keep")
    assert vault.status().clean


def test_text_file_vanishing_during_add(vault: cv.Vault, proj: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write(proj / "shotlist.txt", "a\n")
    before = snapshot(vault)
    real_read = Path.read_bytes

    def vanish(self):
        if self.name == "shotlist.txt":
            self.unlink()
        return real_read(self)

    with monkeypatch.context() as m, pytest.raises(FileVanishedError) as err:
        m.setattr(Path, "read_bytes", vanish)
        vault.add(["shotlist.txt"])
    assert "shotlist.txt" in str(err.value)
    assert snapshot(vault)[:2] == before[:2]
    assert_valid(vault)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads any file; needs POSIX permissions")
def test_unreadable_file_during_add(vault: cv.Vault, proj: Path) -> None:
    locked = write(proj / "locked.tif", creative_bytes("locked.tif", MB, 4))
    locked.chmod(0)
    try:
        with pytest.raises(InputFileError) as err:
            vault.add(["locked.tif"])
        assert "locked.tif" in str(err.value)
    finally:
        locked.chmod(0o644)
    assert_valid(vault)


def test_file_modified_while_being_read(vault: cv.Vault, proj: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = write(proj / "paint.psd", creative_bytes("paint.psd", 6 * MB, 5))
    before = snapshot(vault)
    real_iter = writer_mod.iter_chunks

    def growing(stream, params):
        for n, chunk in enumerate(real_iter(stream, params)):
            if n == 2:  # the painter saves again while cvault reads
                with target.open("ab") as f:
                    f.write(b"more paint" * 1000)
            yield chunk

    with monkeypatch.context() as m, pytest.raises(FileChangedError) as err:
        m.setattr(writer_mod, "iter_chunks", growing)
        vault.add(["paint.psd"])
    assert "paint.psd" in str(err.value) and err.value.retriable
    head, index, files = snapshot(vault)
    assert (head, index) == before[:2]
    grown = target.read_bytes()
    assert len(grown) == 6 * MB + 10000
    torn = hashlib.sha256(grown[:6 * MB]).hexdigest()
    assert not vault.store.has_file(torn)  # nothing torn became visible
    assert vault.status().untracked == ["paint.psd"]
    assert_valid(vault)
    age_all(proj)
    vault.add(["paint.psd"])
    info = vault.commit("paint")
    buf = io.BytesIO()
    vault.cat(f"{info.id}:paint.psd", buf)
    assert buf.getvalue() == grown


def test_text_file_modified_while_being_read(vault: cv.Vault, proj: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    target = write(proj / "scene.usda", "#usda 1.0\n")
    real_read = Path.read_bytes

    def edit_then_read(self):
        data = real_read(self)
        if self.name == "scene.usda":
            with self.open("a") as f:
                f.write('def "x" {}\n')
        return data

    with monkeypatch.context() as m, pytest.raises(FileChangedError) as err:
        m.setattr(Path, "read_bytes", edit_then_read)
        vault.add(["scene.usda"])
    assert "scene.usda" in str(err.value)
    assert "scene.usda" in vault.status().untracked
    assert target.read_text().endswith('def "x" {}\n')


# ---------------------------------------------------------------------------- kill -9
_COMMITTER = """
import sys
import creativevault as cv
with cv.Vault.open(sys.argv[1]) as vault:
    vault.add([sys.argv[1] + "/huge.exr"])
    vault.commit("huge")
"""


def test_process_killed_mid_commit(vault: cv.Vault, proj: Path) -> None:
    write(proj / "second.png", creative_bytes("second.png", MB, 6))
    c2 = commit_all(vault, "second")
    huge = proj / "huge.exr"
    with huge.open("wb") as f:  # 300 MB of unique bytes: many chunks, several packs
        for _ in range(300 // 8):
            f.write(os.urandom(8 * MB))
    packs = proj / ".git" / "cvault" / "packs"
    proc = subprocess.Popen([sys.executable, "-c", _COMMITTER, str(proj)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    killed_at = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            tmp = [p for p in packs.glob("*.tmp") if p.stat().st_size > 4 * MB]
            if tmp:
                published = [p for p in packs.glob("*.pack")]
                killed_at = (tmp[0].name, len(published))
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and killed_at is None:
            proc.kill()
        proc.wait()  # reap it: a zombie would still look alive to the lock
    assert killed_at is not None, f"never saw the store write: {proc.stderr.read()!r}"
    assert proc.returncode == -signal.SIGKILL
    assert (proj / ".git" / "cvault" / "lock").exists()  # left behind by the dead writer

    with cv.Vault.open(proj) as after:
        assert after.git.head_commit() == c2.id
        assert [c.id for c in after.log()][0] == c2.id
        assert after.status().untracked == ["huge.exr"]
        assert not after.store.has_file(sha(huge))
        result = after.fsck()  # the abandoned temp pack is not part of the store
        assert result.ok, result
        run_git(proj, "fsck", "--strict")
        write(proj / "after.txt", "the next commit works\n")
        after.add(["after.txt"])  # the stale lock is recognised and broken
        c3 = after.commit("after the crash")
        assert c3.parents == (c2.id,)
        assert not (proj / ".git" / "cvault" / "lock").exists()
        for rev, path in (("HEAD", "base.psd"), ("HEAD", "second.png"), ("HEAD~2", "notes.txt")):
            buf = io.BytesIO()
            after.cat(f"{rev}:{path}", buf)
            assert hashlib.sha256(buf.getvalue()).hexdigest() == sha(proj / path)
        gc = after.gc(grace_seconds=0)  # the abandoned temp pack and orphan chunks go
        assert gc.removed_temp_packs >= 1
        assert not list(packs.glob("*.tmp"))
        assert after.fsck().ok
        assert git(proj, "status", "--porcelain") == "?? huge.exr\n"


# ---------------------------------------------------------------------------- disk full
class _FullDisk:
    """A pack file that accepts ``budget`` bytes (shared by all packs), then ENOSPC."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.opened: list[Path] = []

    def __call__(self, path: Path):
        self.opened.append(path)
        fh = open(path, "xb")  # noqa: SIM115 - returned to the PackWriter
        outer = self

        class Limited:
            def write(self, data: bytes) -> int:
                if len(data) > outer.budget:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                outer.budget -= len(data)
                return fh.write(data)

            def __getattr__(self, name: str):
                return getattr(fh, name)

        return Limited()


def test_disk_full_during_pack_write(vault: cv.Vault, proj: Path) -> None:
    write(proj / "plate.exr", creative_bytes("plate.exr", 8 * MB, 7))
    before = snapshot(vault)
    packs_before = sorted(p.name for p in (proj / ".git" / "cvault" / "packs").iterdir())
    full = _FullDisk(budget=3 * MB)
    with cv.Vault.open(proj, opener=full) as cramped:
        with pytest.raises(DiskFullError) as err:
            cramped.add(["plate.exr"])
        assert "plate.exr" in str(err.value) and err.value.retriable
        assert full.opened  # the failure happened inside a pack write
    head, index, files = snapshot(vault)
    assert (head, index, files) == before
    assert sorted(p.name for p in (proj / ".git" / "cvault" / "packs").iterdir()) \
        == packs_before
    assert not vault.store.has_file(sha(proj / "plate.exr"))
    assert_valid(vault)
    with cv.Vault.open(proj) as roomy:  # space freed: a later add works
        roomy.add(["plate.exr"])
        info = roomy.commit("plate")
        buf = io.BytesIO()
        roomy.cat(f"{info.id}:plate.exr", buf)
        assert hashlib.sha256(buf.getvalue()).hexdigest() == sha(proj / "plate.exr")
        assert roomy.fsck().ok


# ---------------------------------------------------------------------------- corruption
def _flip_byte_in_chunk(vault: cv.Vault, file_id: str) -> str:
    """Flip one byte in the middle of the first chunk of ``file_id``; return the pack name."""
    manifest = vault.store.read_manifest(file_id)
    key, _length = manifest.chunks[len(manifest.chunks) // 2]
    from creativevault.store.pack import ENTRY_CHUNK

    row = vault.store.index.get(ENTRY_CHUNK, key)
    damage_entry(vault.store, row)
    return row.pack


def test_corrupted_byte_in_a_pack(vault: cv.Vault, proj: Path) -> None:
    v1 = creative_bytes("hero.tif", 4 * MB, 8)
    write(proj / "art" / "hero.tif", v1)
    c1 = commit_all(vault, "hero v1")
    v2 = creative_bytes("hero.tif", 4 * MB, 9)
    write(proj / "art" / "hero.tif", v2)
    commit_all(vault, "hero v2")
    pack = _flip_byte_in_chunk(vault, hashlib.sha256(v1).hexdigest())

    result = vault.fsck()
    assert not result.ok
    text = "\n".join(result.problems)
    assert pack in text and "art/hero.tif" in text, text
    assert hashlib.sha256(v1).hexdigest() in text

    mine = creative_bytes("hero.tif", 4 * MB, 10)
    write(proj / "art" / "hero.tif", mine)  # unsaved work in the way
    for attempt in (lambda: vault.restore(["art/hero.tif"], source=c1.id),
                    lambda: vault.checkout(c1.id)):
        head = vault.git.head_commit()
        with pytest.raises(CorruptObjectError) as err:
            attempt()
        assert pack in str(err.value)
        assert (proj / "art" / "hero.tif").read_bytes() == mine
        assert vault.git.head_commit() == head
        assert not list((proj / "art").glob(".cvault-tmp-*"))
    with pytest.raises(CorruptObjectError):
        vault.cat(f"{c1.id}:art/hero.tif", io.BytesIO())
    buf = io.BytesIO()
    vault.cat("HEAD:art/hero.tif", buf)  # undamaged versions still read
    assert buf.getvalue() == v2
    assert vault.status().branch == "main"


# ---------------------------------------------------------------------------- bad pointer
def test_hand_edited_pointer_committed_with_plain_git(vault: cv.Vault, proj: Path) -> None:
    garbage = (b"version https://creativevault.dev/spec/v1\n"
               b"oid sha256:this-is-not-a-hash\nsize twelve\n")
    blob = run_git(proj, "hash-object", "-w", "--stdin", input=garbage).stdout.decode().strip()
    run_git(proj, "update-index", "--add", "--cacheinfo", f"100644,{blob},broken.png")
    run_git(proj, "commit", "-q", "--no-verify", "-m", "hand edit")
    bad = git(proj, "rev-parse", "HEAD").strip()
    with pytest.raises(PointerError) as err:
        vault.cat("HEAD:broken.png", io.BytesIO())
    assert "broken.png" in str(err.value)
    vault.checkout("main~1")
    assert vault.git.head_commit() != bad
    with pytest.raises(PointerError) as err:
        vault.checkout("main")
    assert "broken.png" in str(err.value)
    assert not (proj / "broken.png").exists()
    assert vault.git.head_commit() != bad
    result = vault.fsck()  # reported, not a crash
    assert not result.ok and any("broken.png" in p for p in result.problems)
    assert vault.stats().commits == 2


def test_errors_are_vault_errors() -> None:
    for cls in (FileVanishedError, FileChangedError, DiskFullError, CorruptObjectError,
                PointerError, NotAVaultError):
        assert issubclass(cls, VaultError)
