"""Vault storage behaviour: dedup, locality of edits, stats, mtimes, rescue, gc, fixtures."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.repo.pointer import parse_pointer
from tests.conftest import run_git
from tests.vaulttools import (
    MB,
    age_all,
    assert_git_clean,
    commit_all,
    creative_bytes,
    git,
    sha,
    write,
)


def pack_bytes(vault: cv.Vault) -> int:
    return vault.store.stats().pack_bytes


def file_id(vault: cv.Vault, rev: str, path: str) -> str:
    return parse_pointer(run_git(vault.root, "cat-file", "-p", f"{rev}:{path}").stdout).oid


# ---------------------------------------------------------------------------- dedup
def test_identical_textures_are_stored_once(vault: cv.Vault, proj: Path) -> None:
    tex = creative_bytes("brick.png", 4 * MB, 1)
    write(proj / "project_a" / "tex" / "brick.png", tex)
    commit_all(vault, "a")
    after_one = pack_bytes(vault)
    files_one = vault.store.stats().files
    assert after_one > 0
    write(proj / "project_b" / "textures" / "brick_copy.png", tex)
    write(proj / "project_c" / "brick.PNG", tex)
    report = vault.add(["."])
    assert report.added_bytes == 0 and report.logical_bytes == 2 * len(tex)
    vault.commit("copies")
    assert pack_bytes(vault) == after_one
    assert vault.store.stats().files == files_one
    oids = {file_id(vault, "HEAD", p) for p in ("project_a/tex/brick.png",
                                                "project_b/textures/brick_copy.png",
                                                "project_c/brick.PNG")}
    assert oids == {hashlib.sha256(tex).hexdigest()}
    stats = vault.stats()
    assert stats.files == 5 and stats.commits == 2
    assert stats.logical_bytes >= 3 * len(tex)
    assert stats.stored_bytes == after_one
    assert stats.ratio > 2.5


def test_small_edit_in_a_large_file_adds_few_chunks(vault: cv.Vault, proj: Path) -> None:
    size = 16 * MB
    data = bytearray(creative_bytes("matte.psd", size, 2))
    write(proj / "matte.psd", bytes(data))
    commit_all(vault, "v1")
    first = pack_bytes(vault)
    data[size // 2: size // 2 + 200] = os.urandom(200)  # a brush stroke in the middle
    write(proj / "matte.psd", bytes(data))
    report = vault.add(["matte.psd"])
    vault.commit("v2")
    growth = pack_bytes(vault) - first
    # max chunk is 1 MiB: an edit touches at most a couple of chunks, never the whole file
    assert 0 < growth <= 2.5 * MB, growth
    assert report.added_bytes <= 2.5 * MB
    assert growth < size / 6
    stats = vault.stats()
    assert stats.versions == 4  # .gitattributes, .gitignore, two versions of matte.psd
    assert stats.logical_bytes - 2 * size < 64 * 1024  # plus the two small text files
    assert stats.stored_bytes == pack_bytes(vault) < 1.3 * size
    buf = io.BytesIO()
    vault.cat("HEAD~1:matte.psd", buf)
    assert buf.getvalue()[size // 2: size // 2 + 200] != data[size // 2: size // 2 + 200]
    assert vault.fsck().ok


# ---------------------------------------------------------------------------- mtimes
def test_checkout_of_older_commit_restores_committed_mtime(vault: cv.Vault, proj: Path) -> None:
    write(proj / "shot.exr", creative_bytes("shot.exr", 2 * MB, 3), age=0)
    os.utime(proj / "shot.exr", ns=(1_600_000_000_123_456_789,) * 2)
    write(proj / "notes.txt", "v1\n")
    vault.add(["."])  # not commit_all: it would age the file and change its mtime
    c1 = vault.commit("v1")
    pointer = parse_pointer(run_git(proj, "cat-file", "-p", f"{c1.id}:shot.exr").stdout)
    assert pointer.mtime_ns == 1_600_000_000_123_456_789
    write(proj / "shot.exr", creative_bytes("shot.exr", 2 * MB, 4))
    c2 = commit_all(vault, "v2")
    v2_mtime = (proj / "shot.exr").stat().st_mtime_ns
    vault.checkout(c1.id)
    assert (proj / "shot.exr").stat().st_mtime_ns == 1_600_000_000_123_456_789
    vault.checkout("main")
    assert vault.git.head_commit() == c2.id
    assert (proj / "shot.exr").stat().st_mtime_ns == v2_mtime
    (proj / "shot.exr").unlink()
    vault.restore(["shot.exr"], source=c1.id)
    assert (proj / "shot.exr").stat().st_mtime_ns == 1_600_000_000_123_456_789
    vault.restore(["shot.exr"])
    assert vault.status().clean
    assert_git_clean(proj)


# ---------------------------------------------------------------------------- rescue
def test_checkout_over_modified_file_keeps_a_rescue_entry(vault: cv.Vault, proj: Path) -> None:
    v1, v2, mine = (creative_bytes("a.psd", 3 * MB, s) for s in (10, 11, 12))
    write(proj / "a.psd", v1)
    write(proj / "n.txt", "v1\n")
    commit_all(vault, "v1")
    vault.checkout("other", create=True)
    write(proj / "a.psd", v2)
    write(proj / "n.txt", "v2\n")
    write(proj / "only_other.png", creative_bytes("o.png", MB, 13))
    commit_all(vault, "v2")
    vault.checkout("main")
    assert vault.rescue_list() == []
    write(proj / "a.psd", mine)  # unsaved work, never committed
    write(proj / "n.txt", "my notes\n")
    untracked = creative_bytes("o.png", MB, 14)
    write(proj / "only_other.png", untracked)  # an untracked file in the way
    dry = vault.checkout("other", dry_run=True)
    assert dry.rescued is None and (proj / "a.psd").read_bytes() == mine
    report = vault.checkout("other")
    assert report.rescued is not None
    assert sorted(report.rescued.paths) == ["a.psd", "n.txt", "only_other.png"]
    assert (proj / "a.psd").read_bytes() == v2
    assert (proj / "n.txt").read_text() == "v2\n"
    entries = vault.rescue_list()
    assert len(entries) == 1 and entries[0].name == "rescue@{0}"
    assert "checkout other" in entries[0].reason
    # the rescue ref does not show up as a branch or in the log
    assert sorted(vault.branch()) == ["main", "other"]
    assert len(vault.log()) == 2
    back = vault.rescue_restore("rescue@{0}")
    assert sorted(back.written) == ["a.psd", "n.txt", "only_other.png"]
    assert (proj / "a.psd").read_bytes() == mine
    assert (proj / "n.txt").read_text() == "my notes\n"
    assert (proj / "only_other.png").read_bytes() == untracked
    # restoring over the committed v2 kept v2? it is committed, so no new entry is needed
    assert len(vault.rescue_list()) == 1
    assert vault.fsck().ok
    assert vault.stats().commits == 2  # rescue commits are not history


def test_restore_over_modified_file_and_partial_rescue_restore(vault: cv.Vault,
                                                               proj: Path) -> None:
    v1 = creative_bytes("t.tif", 2 * MB, 20)
    write(proj / "t.tif", v1)
    write(proj / "u.tif", creative_bytes("u.tif", 2 * MB, 21))
    commit_all(vault, "v1")
    e1 = creative_bytes("t.tif", 2 * MB, 22)
    e2 = creative_bytes("u.tif", 2 * MB, 23)
    write(proj / "t.tif", e1)
    write(proj / "u.tif", e2)
    report = vault.restore(["t.tif", "u.tif"])
    assert report.rescued is not None and sorted(report.rescued.paths) == ["t.tif", "u.tif"]
    assert (proj / "t.tif").read_bytes() == v1
    write(proj / "t.tif", creative_bytes("t.tif", 2 * MB, 24))
    second = vault.restore(["t.tif"])
    assert second.rescued is not None
    entries = vault.rescue_list()
    assert [e.index for e in entries] == [0, 1] and entries[1].id == report.rescued.id
    vault.rescue_restore("1", paths=["u.tif"])  # an older entry, one path
    assert (proj / "u.tif").read_bytes() == e2
    assert (proj / "t.tif").read_bytes() == v1
    vault.rescue_restore(entries[1].id[:8], paths=["t.tif"])
    assert (proj / "t.tif").read_bytes() == e1
    with pytest.raises(cv.errors.RevisionNotFoundError):
        vault.rescue_restore("rescue@{9}")
    with pytest.raises(cv.errors.PathNotFoundError):
        vault.rescue_restore("0", paths=["nope.tif"])


# ---------------------------------------------------------------------------- gc
def test_gc_keeps_reflog_and_rescue_content_and_drops_expired(vault: cv.Vault,
                                                               proj: Path) -> None:
    base = creative_bytes("base.psd", 2 * MB, 30)
    write(proj / "base.psd", base)
    commit_all(vault, "base")
    vault.checkout("experiment", create=True)
    experiment = creative_bytes("exp.blend", 3 * MB, 31)
    write(proj / "exp.blend", experiment)
    commit_all(vault, "experiment")
    exp_id = hashlib.sha256(experiment).hexdigest()
    vault.checkout("main")
    rescued = creative_bytes("base.psd", 2 * MB, 32)
    write(proj / "base.psd", rescued)
    vault.restore(["base.psd"])  # rescued bytes live only in the rescue entry
    rescued_id = hashlib.sha256(rescued).hexdigest()
    staged = creative_bytes("wip.png", MB, 33)
    write(proj / "wip.png", staged)
    vault.add(["wip.png"])  # staged, never committed
    staged_id = hashlib.sha256(staged).hexdigest()
    vault.branch("experiment", delete=True, force=True)

    report = vault.gc(grace_seconds=0)  # reflogs still reach the experiment
    assert report.removed_manifests == 0 and report.removed_chunks == 0
    for fid in (exp_id, rescued_id, staged_id, hashlib.sha256(base).hexdigest()):
        assert vault.store.has_file(fid)

    shutil.rmtree(proj / ".git" / "logs")  # expire every reflog
    size_before = pack_bytes(vault)
    kept = vault.gc()  # default grace: fresh packs are never touched
    assert kept.removed_manifests == 0 and kept.kept_recent >= 1
    assert vault.store.has_file(exp_id)
    dry = vault.gc(grace_seconds=0, dry_run=True)
    assert dry.removed_manifests == 1 and vault.store.has_file(exp_id)

    report = vault.gc(grace_seconds=0)
    assert report.removed_manifests == 1 and report.removed_chunks >= 1
    assert not vault.store.has_file(exp_id)
    assert report.freed_bytes > 0
    assert pack_bytes(vault) == size_before - report.freed_bytes
    for fid in (rescued_id, staged_id, hashlib.sha256(base).hexdigest()):
        assert vault.store.has_file(fid)
    result = vault.fsck()
    assert result.ok, result
    vault.rescue_restore("0")
    assert (proj / "base.psd").read_bytes() == rescued
    vault.restore(["base.psd"])
    info = vault.commit("wip")
    buf = io.BytesIO()
    vault.cat(f"{info.id}:wip.png", buf)
    assert buf.getvalue() == staged
    assert_git_clean(proj)


# ---------------------------------------------------------------------------- fixtures
FIXTURE_DIRS = ["psd", "krita", "mesh", "photo", "blend"]


def test_real_fixtures_round_trip_byte_exact(vault: cv.Vault, proj: Path,
                                             fixture_file) -> None:
    sources = {name: fixture_file(name) for name in FIXTURE_DIRS}
    write(proj / "README.txt", "fixtures\n")
    empty = commit_all(vault, "before the assets")
    expected: dict[str, str] = {}
    for name, src in sources.items():
        shutil.copytree(src, proj / "assets" / name)
    age_all(proj)
    for p in (proj / "assets").rglob("*"):
        if p.is_file():
            expected[p.relative_to(proj).as_posix()] = sha(p)
    assert len(expected) >= 40
    report = vault.add(["assets"])
    assert sorted(report.paths) == sorted(expected)
    info = vault.commit("real assets")
    tree = git(proj, "ls-tree", "-r", "--name-only", "HEAD").split("\n")
    assert set(expected) <= set(tree)
    for rel in ("assets/psd/group.psd", "assets/krita/example_RGBA.kra",
                "assets/photo/Nikon.nef", "assets/blend/basic_file.blend",
                "assets/mesh/BoxTextured.glb"):
        if rel in expected:
            assert parse_pointer(run_git(proj, "cat-file", "-p", f"HEAD:{rel}").stdout).oid \
                == expected[rel]
    if "assets/mesh/box.obj" in expected:
        raw = run_git(proj, "cat-file", "-p", "HEAD:assets/mesh/box.obj").stdout
        assert hashlib.sha256(raw).hexdigest() == expected["assets/mesh/box.obj"]
    assert_git_clean(proj)

    vault.checkout(empty.id)
    assert not (proj / "assets").exists()
    vault.checkout("main")
    assert vault.git.head_commit() == info.id
    for rel, digest in expected.items():
        assert sha(proj / rel) == digest, rel
        buf = io.BytesIO()
        vault.cat(f"HEAD:{rel}", buf)
        assert hashlib.sha256(buf.getvalue()).hexdigest() == digest, rel
    shutil.rmtree(proj / "assets")
    vault.restore(["assets"])
    for rel, digest in expected.items():
        assert sha(proj / rel) == digest, rel
    assert vault.status().clean
    assert vault.fsck().ok
