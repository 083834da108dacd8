"""``add`` and ``commit`` when little or nothing changed.

A no-change ``add`` decides from the walk and the stat cache alone and writes nothing (no
store session, no git index, no stat cache); ``commit`` knows "nothing to commit" from
the cache's record that the index is HEAD's tree. Every change must still be seen: a new
file, a deleted one, a size-preserving edit, and an edit the stat cannot show (the racy
case of docs/formats/statcache.md), which only re-reading the file reveals.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import StoreFormatError, UsageError
from creativevault.repo.statcache import RACY_GRANULARITY_NS, StatCache, StatEntry, git_mode
from tests.vaulttools import (
    MB,
    assert_git_clean,
    commit_all,
    creative_bytes,
    env_without_coverage,
    git,
    write,
)


def _state(vault: cv.Vault) -> dict[str, tuple[int, int, bytes]]:
    """What the no-change path must leave alone: the index and the stat cache."""
    out = {}
    for path in (vault.git.index_path, vault.cvault_dir / "statcache.msgpack"):
        st = path.stat()
        out[path.name] = (st.st_mtime_ns, st.st_ino, path.read_bytes())
    return out


def _no_store_session(vault: cv.Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_kw: object) -> None:
        raise AssertionError("a no-change add opened a store write session")

    monkeypatch.setattr(vault.store, "writer", refuse)


@pytest.fixture
def committed(vault: cv.Vault, proj: Path) -> cv.Vault:
    write(proj / "art" / "a.psd", creative_bytes("a.psd", 2 * MB, 1))
    write(proj / "art" / "b.png", creative_bytes("b.png", MB, 2))
    write(proj / "notes.txt", "notes\n")
    commit_all(vault, "one")
    return vault


def test_a_no_change_add_writes_nothing(committed: cv.Vault, proj: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(committed)
    _no_store_session(committed, monkeypatch)
    for paths in (["."], ["art"], ["art/a.psd", "notes.txt"]):
        report = committed.add(paths)
        assert (report.paths, report.removed, report.warnings) == ([], [], [])
    assert _state(committed) == before
    assert committed.status().clean
    assert_git_clean(proj)


def test_nothing_to_commit_needs_no_tree(committed: cv.Vault,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    committed.add(["."])

    def refuse(_entries: object) -> str:
        raise AssertionError("the tree was built to find that nothing changed")

    monkeypatch.setattr(committed.git, "write_tree", refuse)
    for all_ in (False, True):
        with pytest.raises(UsageError, match="nothing to commit"):
            committed.commit("again", all=all_)
    assert len(committed.log()) == 1
    monkeypatch.undo()
    assert committed.commit("on purpose", allow_empty=True).parents == (committed.log()[1].id,)


def test_nothing_to_commit_found_the_long_way_is_remembered(
        committed: cv.Vault, proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Same bytes, new mtime: add re-stages the file (same blob); the index equals HEAD
    # again, but only building the tree can tell, once.
    path = proj / "notes.txt"
    os.utime(path, (time.time() - 50, time.time() - 50))
    assert committed.add(["."]).paths == ["notes.txt"]
    with pytest.raises(UsageError, match="nothing to commit"):
        committed.commit("same")
    monkeypatch.setattr(committed.git, "write_tree", lambda _e: pytest.fail("tree built"))
    with pytest.raises(UsageError, match="nothing to commit"):
        committed.commit("same again")
    assert_git_clean(proj)


def test_new_deleted_and_size_preserving_edits_are_staged(committed: cv.Vault,
                                                          proj: Path) -> None:
    first = committed.log()[0].id
    old = (proj / "art" / "b.png").read_bytes()
    edited = bytes([old[0] ^ 0xFF]) + old[1:]  # same size
    write(proj / "art" / "b.png", edited, age=50)  # an older mtime than the saved one
    (proj / "notes.txt").unlink()
    write(proj / "art" / "c.tif", creative_bytes("c.tif", MB, 3))
    report = committed.add(["."])
    assert report.paths == ["art/b.png", "art/c.tif"] and report.removed == ["notes.txt"]
    info = committed.commit("two")
    assert info.parents == (first,)
    _, changes = committed.show(info.id)
    assert sorted((c.path, c.kind) for c in changes) == [
        ("art/b.png", "modified"), ("art/c.tif", "added"), ("notes.txt", "deleted")]
    assert_git_clean(proj)


def _racy_entry(vault: cv.Vault, relpath: str, staged_from: bytes) -> None:
    """Make the cache claim the file's current stat for ``staged_from``'s ids, recorded
    a moment ago: what a file system with coarse timestamps leaves when a file is
    rewritten within the granule of the stat cache's write."""
    disk = vault.root / relpath
    st = disk.stat()
    cache = vault._load_statcache()
    entry = cache.get(relpath)
    assert entry is not None
    file_id = entry.file_id and hashlib.sha256(staged_from).hexdigest()
    header = f"blob {len(staged_from)}\0".encode()
    blob_id = entry.blob_id if file_id else hashlib.sha1(header + staged_from).hexdigest()
    cache.set(relpath, StatEntry(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns,
                                 git_mode(st), blob_id, file_id))
    vault._save_statcache(cache)  # written now: the entry's mtime is within the granule
    assert st.st_mtime_ns >= StatCache.load(vault._statcache_path).written_ns \
        - RACY_GRANULARITY_NS


@pytest.mark.parametrize("relpath", ["art/a.psd", "notes.txt"])
def test_an_edit_the_stat_cannot_show_is_found_by_reading(committed: cv.Vault, proj: Path,
                                                          relpath: str) -> None:
    disk = proj / relpath
    staged = disk.read_bytes()
    new = bytearray(staged)
    new[len(new) // 2] ^= 0xFF
    disk.write_bytes(bytes(new))  # modified now, within the same second as the cache
    _racy_entry(committed, relpath, staged)
    assert committed.add(["."]).paths == [relpath]
    committed.commit("edited in the same second")
    assert git(proj, "show", "--stat", "--format=", "HEAD").split()[0] == relpath
    assert_git_clean(proj)


def test_a_recent_file_that_is_unchanged_is_read_but_not_restaged(
        committed: cv.Vault, proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = proj / "art" / "a.psd"
    disk.write_bytes(disk.read_bytes())  # saved again just now, same bytes
    committed.add(["."])  # re-staged: the cache holds the new stat
    with pytest.raises(UsageError, match="nothing to commit"):
        committed.commit("resaved")
    _racy_entry(committed, "art/a.psd", disk.read_bytes())
    index_before = _state(committed)["index"]
    _no_store_session(committed, monkeypatch)
    read = []
    real = Path.open

    def spy(self: Path, *args: object, **kw: object):
        if ".git" not in self.parts:
            read.append(self.name)
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "open", spy)
    report = committed.add(["."])
    assert report.paths == [] and read == ["a.psd"]
    assert _state(committed)["index"] == index_before
    assert_git_clean(proj)


def test_a_rebuilt_cache_is_written_back(committed: cv.Vault, proj: Path) -> None:
    subprocess.run(["git", "update-index", "--refresh"], cwd=proj, capture_output=True)
    os.utime(committed.git.index_path)  # plain git touched the index
    committed.add(["."])
    cache = StatCache.load(committed._statcache_path)
    assert cache.index_sig == committed.git.index_signature() and cache.written_ns
    assert_git_clean(proj)


def test_no_change_add_and_commit_open_neither_dulwich_nor_the_store(
        committed: cv.Vault, proj: Path) -> None:
    code = ("import sys\n"
            "from creativevault.cli.main import main\n"
            "codes = main(['add', '.']), main(['commit', '-m', 'again'])\n"
            "heavy = ('dulwich.repo', 'dulwich.objects', 'dulwich.index', 'zstandard',\n"
            "         'creativevault.store.store', 'sqlite3', 'pyfastcdc',\n"
            "         'creativevault.repo.merge', 'concurrent.futures')\n"
            "print(codes, sorted(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=proj, capture_output=True,
                         text=True, check=True, env=env_without_coverage())
    assert out.stdout.strip() == "(0, 2) []", out.stderr
    assert "nothing to commit" in out.stderr


def test_the_store_is_opened_only_when_content_is_read_or_written(
        committed: cv.Vault, proj: Path) -> None:
    with cv.Vault.open(proj) as vault:
        vault.add(["."])
        with pytest.raises(UsageError, match="nothing to commit"):
            vault.commit("again")
        assert vault.status().clean
        assert vault._store is None
        write(proj / "art" / "d.png", creative_bytes("d.png", MB, 4))
        assert vault.add(["."]).paths == ["art/d.png"]
        assert vault._store is not None


def test_a_store_json_this_version_cannot_use_is_refused_at_open(committed: cv.Vault,
                                                                 proj: Path) -> None:
    config = committed.cvault_dir / "store.json"
    body = json.loads(config.read_text())
    config.write_text(json.dumps({**body, "version": 99}))
    with pytest.raises(StoreFormatError, match="version"):
        cv.Vault.open(proj)
    # chunker settings are checked by the store itself, when it is first used
    config.write_text(json.dumps({**body, "chunker": {"algorithm": "other"}}))
    with cv.Vault.open(proj) as vault:
        assert vault.status().clean
        write(proj / "art" / "e.png", creative_bytes("e.png", MB, 5))
        with pytest.raises(StoreFormatError, match="chunk"):
            vault.add(["."])


def test_several_recent_files_are_rechecked_together(committed: cv.Vault, proj: Path) -> None:
    staged = {}
    for relpath in ("art/a.psd", "art/b.png", "notes.txt"):
        disk = proj / relpath
        staged[relpath] = disk.read_bytes()
        if relpath != "art/b.png":  # b.png keeps its bytes: re-read, found unchanged
            new = bytearray(staged[relpath])
            new[-1] ^= 0xFF
            disk.write_bytes(bytes(new))
        else:
            disk.write_bytes(staged[relpath])
    for relpath, data in staged.items():
        _racy_entry(committed, relpath, data)
    assert committed.add(["."]).paths == ["art/a.psd", "notes.txt"]
    committed.commit("two edits in the same second")
    assert sorted(git(proj, "show", "--name-only", "--format=", "HEAD").split()) == [
        "art/a.psd", "notes.txt"]
    assert_git_clean(proj)


def test_show_sizes_a_large_plain_blob_without_reading_it(
        committed: cv.Vault, proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mesh = "".join(f"v {i} {i + 1} {i + 2}\n" for i in range(40_000))
    write(proj / "mesh.obj", mesh)
    commit_all(committed, "mesh")
    write(proj / "mesh.obj", mesh.replace("v 7 ", "v 9 ", 1))
    info = commit_all(committed, "moved a vertex")
    real = committed.git.read_blob

    def small_only(blob_id: str) -> bytes:
        data = real(blob_id)
        assert len(data) <= 1024, "a large plain blob was read"
        return data

    monkeypatch.setattr(committed.git, "read_blob", small_only)
    _, changes = committed.show(info.id)
    assert [c.to_json() for c in changes] == [
        {"path": "mesh.obj", "kind": "modified", "managed": False,
         "old_size": len(mesh), "new_size": len(mesh)}]
