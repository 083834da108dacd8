"""Restore and checkout write many files at once: byte-exact, and all or nothing per file."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import CorruptObjectError
from creativevault.repo.worktree_writer import TEMP_PREFIX
from creativevault.store.pack import ENTRY_CHUNK
from tests.vaulttools import (
    MB,
    assert_git_clean,
    commit_all,
    creative_bytes,
    damage_entry,
    git,
    write,
)

NAMES = ["paint/bg.psd", "paint/key_010.psd", "paint/key_020.psd", "tex/brick.png",
         "tex/height.tif", "photos/DSC_0001.jpg", "photos/DSC_0002.jpg", "models/rock.blend"]


def _project(proj: Path, seed: int) -> dict[str, bytes]:
    files = {name: creative_bytes(name, (i % 4) * MB + 10_000 * i + 100_000, seed * 100 + i)
             for i, name in enumerate(NAMES)}
    for name, data in files.items():
        write(proj / name, data)
    write(proj / "notes.txt", f"version {seed}\n")
    return files


def _temp_files(proj: Path) -> list[Path]:
    return [p for p in proj.rglob(f"{TEMP_PREFIX}*") if ".git" not in p.parts]


def _damage_a_chunk(vault: cv.Vault, data: bytes) -> None:
    file_id = hashlib.sha256(data).hexdigest()
    chunks = vault.store.read_manifest(file_id).chunks
    row = vault.store.index.get(ENTRY_CHUNK, chunks[len(chunks) // 2][0])
    assert row is not None
    damage_entry(vault.store, row)


def test_restore_of_a_deleted_working_tree(vault: cv.Vault, proj: Path) -> None:
    files = _project(proj, 1)
    commit_all(vault, "v1")
    mtimes = {name: (proj / name).stat().st_mtime_ns for name in files}
    for child in proj.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    report = vault.restore(["."], source="HEAD")
    assert report.written == sorted(vault.git.commit_tree_flat(vault.git.head_commit()))
    assert set(files) < set(report.written)
    for name, data in files.items():
        assert (proj / name).read_bytes() == data
        assert (proj / name).stat().st_mtime_ns == mtimes[name]
    assert (proj / "notes.txt").read_text() == "version 1\n"
    assert not _temp_files(proj)
    assert vault.status().clean
    assert_git_clean(proj)


def test_a_damaged_chunk_stops_a_restore_of_many_files(vault: cv.Vault, proj: Path) -> None:
    v1 = _project(proj, 1)
    c1 = commit_all(vault, "v1")
    v2 = _project(proj, 2)
    commit_all(vault, "v2")
    bad = "paint/key_020.psd"
    _damage_a_chunk(vault, v1[bad])
    head = vault.git.head_commit()

    for attempt in (lambda: vault.restore(["."], source=c1.id),
                    lambda: vault.checkout(c1.id)):
        with pytest.raises(CorruptObjectError) as err:
            attempt()
        message = str(err.value)
        assert message.startswith(f"{bad}: stopped at damaged data in the store")
        assert "cvault fsck" in message
        assert (proj / bad).read_bytes() == v2[bad]
        for name in NAMES:  # each file holds one whole version, nothing between
            assert (proj / name).read_bytes() in (v1[name], v2[name])
        assert not _temp_files(proj)
        assert vault.git.head_commit() == head
    assert "checkout stopped after" in message and "HEAD and the index are unchanged" in message

    vault.restore(["."], source="HEAD")  # the undamaged version comes back whole
    assert all((proj / name).read_bytes() == v2[name] for name in NAMES)
    assert vault.status().clean


def _pointers_in_place_of(vault: cv.Vault, proj: Path, names: list[str]) -> None:
    """Leave ``names`` as their committed pointer text, and git's index with their stat
    data, as a clone made without the content does."""
    tree = vault.git.commit_tree_flat(vault.git.head_commit())
    for name in names:
        (proj / name).write_bytes(vault.git.read_blob(tree[name].blob_id))
    git(proj, "add", "--", *names)  # the clean filter gives the same pointer blobs


def test_materialize_pointers_writes_every_pointer_file(vault: cv.Vault, proj: Path) -> None:
    files = _project(proj, 1)
    commit_all(vault, "v1")
    mtimes = {name: (proj / name).stat().st_mtime_ns for name in files}
    _pointers_in_place_of(vault, proj, NAMES)
    assert vault.materialize_pointers() and set(vault.materialize_pointers()) == set()
    for name, data in files.items():
        assert (proj / name).read_bytes() == data
        assert (proj / name).stat().st_mtime_ns == mtimes[name]
    index = vault.git.read_index()
    assert all(index[name].size == len(files[name]) for name in NAMES)  # git's stat data
    assert not _temp_files(proj)
    assert_git_clean(proj)


def test_materialize_pointers_stops_at_damage_and_keeps_what_it_wrote(vault: cv.Vault,
                                                                      proj: Path) -> None:
    files = _project(proj, 1)
    commit_all(vault, "v1")
    bad = "paint/key_020.psd"
    _damage_a_chunk(vault, files[bad])
    _pointers_in_place_of(vault, proj, NAMES)
    with pytest.raises(CorruptObjectError, match=f"^{bad}: stopped at damaged data"):
        vault.materialize_pointers()
    assert (proj / bad).read_bytes().startswith(b"version https://")  # still the pointer
    index = vault.git.read_index()
    for name in NAMES:  # each file is its pointer or its content; git knows the written
        data = (proj / name).read_bytes()
        assert data == files[name] or data.startswith(b"version https://")
        if data == files[name]:
            assert index[name].size == len(data)
    assert not _temp_files(proj)


def test_checkout_back_and_forth_writes_every_file(vault: cv.Vault, proj: Path) -> None:
    v1 = _project(proj, 1)
    c1 = commit_all(vault, "v1")
    v2 = _project(proj, 2)
    commit_all(vault, "v2")
    report = vault.checkout(c1.id)
    assert sorted(report.written) == sorted([*NAMES, "notes.txt"])
    assert all((proj / name).read_bytes() == v1[name] for name in NAMES)
    assert vault.status().clean
    vault.checkout("main")
    assert all((proj / name).read_bytes() == v2[name] for name in NAMES)
    assert not _temp_files(proj)
    assert vault.status().clean
    assert_git_clean(proj)
