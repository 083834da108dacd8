"""Repo path vocabulary: conversion, Unicode forms, case collisions, the worktree walk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from creativevault.errors import CaseCollisionError, UsageError
from creativevault.repo.paths import (
    find_collisions,
    from_repo_path,
    nfc,
    to_repo_path,
    walk_worktree,
)

NFD_E = "e\u0301"  # e + combining acute accent
NFC_E = "\u00e9"  # precomposed é


def test_nfc() -> None:
    assert nfc(f"caf{NFD_E}.psd") == f"caf{NFC_E}.psd"
    assert nfc("plain.psd") == "plain.psd"


def test_to_repo_path(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    (wt / "art" / "sub").mkdir(parents=True)
    assert to_repo_path(wt, wt / "art" / "hero.psd") == "art/hero.psd"
    assert to_repo_path(wt, "art/sub/../hero.psd") == "art/hero.psd"
    assert to_repo_path(wt, Path("art") / f"caf{NFD_E}.psd") == f"art/caf{NFC_E}.psd"
    assert to_repo_path(wt, wt) == ""
    assert to_repo_path(wt, str(wt) + "/") == ""
    assert to_repo_path(wt, "with space/x.png") == "with space/x.png"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_to_repo_path_through_symlinked_worktree(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert to_repo_path(link, real / "a.psd") == "a.psd"
    assert to_repo_path(real, link / "a.psd") == "a.psd"


@pytest.mark.parametrize("bad", ["../outside.psd", "/etc/passwd", ".git/config",
                                 ".git", "sub/.GIT/x", "a/../../b"])
def test_to_repo_path_rejects(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError):
        to_repo_path(tmp_path, bad)


def test_from_repo_path(tmp_path: Path) -> None:
    assert from_repo_path(tmp_path, "art/hero.psd") == tmp_path / "art" / "hero.psd"
    assert from_repo_path(tmp_path, "") == tmp_path


@pytest.mark.parametrize("bad", ["/abs", "a//b", "a/./b", "../x", "a/", ".git/HEAD", "a/\x00"])
def test_from_repo_path_rejects(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError):
        from_repo_path(tmp_path, bad)


def test_from_repo_path_finds_nfd_spelling_on_disk(tmp_path: Path) -> None:
    nfd_dir = tmp_path / f"caf{NFD_E}"
    nfd_dir.mkdir()
    (nfd_dir / "x.png").write_bytes(b"x")
    found = from_repo_path(tmp_path, f"caf{NFC_E}/x.png")
    assert found.read_bytes() == b"x"
    # A name that exists nowhere keeps its NFC spelling.
    assert from_repo_path(tmp_path, f"n{NFC_E}w") == tmp_path / f"n{NFC_E}w"


def test_find_collisions() -> None:
    paths = [
        "Hero.PSD", "hero.psd", "HERO.psd", "other.psd",
        f"caf{NFD_E}.png", f"caf{NFC_E}.png", f"CAF{NFC_E.upper()}.png",
        "dir/A.txt", "Dir/a.txt", "dir/b.txt",
        "same.txt", "same.txt",
    ]
    assert find_collisions(paths) == [
        (f"CAF{NFC_E.upper()}.png", f"caf{NFD_E}.png", f"caf{NFC_E}.png"),
        ("Dir/a.txt", "dir/A.txt"),
        ("HERO.psd", "Hero.PSD", "hero.psd"),
    ]
    assert find_collisions(["a", "b", "a"]) == []
    # casefold, not lower: German sharp s folds to "ss"
    assert find_collisions(["stra\u00dfe.png", "STRASSE.png"]) == [
        ("STRASSE.png", "stra\u00dfe.png")]


def _make_tree(root: Path) -> None:
    for rel in ["b.psd", "a.png", "sub/z.kra", "sub/deep/y.exr", "cache/tmp.bin",
                "Sub2/X.TIF", "with space/file name.png", "nested/.git/HEAD",
                "nested/inner.psd", ".git/config", "keep.blend1"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())


def test_walk_worktree(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    found = dict(walk_worktree(tmp_path))
    assert list(found) == ["Sub2/X.TIF", "a.png", "b.psd", "cache/tmp.bin", "keep.blend1",
                           "sub/deep/y.exr", "sub/z.kra", "with space/file name.png"]
    st = found["sub/deep/y.exr"]
    assert st.st_size == len(b"sub/deep/y.exr")
    assert st.st_mtime_ns == os.stat(tmp_path / "sub" / "deep" / "y.exr").st_mtime_ns


def test_walk_worktree_ignore_prunes_directories(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    asked: list[str] = []

    def ignore(relpath: str) -> bool:
        asked.append(relpath)
        return relpath in ("cache/", "keep.blend1")

    found = [rel for rel, _ in walk_worktree(tmp_path, ignore)]
    assert "cache/tmp.bin" not in found and "keep.blend1" not in found
    assert "cache/" in asked and "cache/tmp.bin" not in asked
    assert "sub/" in asked and "sub/z.kra" in asked


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_walk_worktree_skips_symlinks_and_nested_repos(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    (tmp_path / "linkdir").symlink_to(tmp_path / "sub")
    skipped: list[str] = []
    found = [rel for rel, _ in walk_worktree(tmp_path, on_skip=lambda r, s: skipped.append(r))]
    assert "link.png" not in found and not any(r.startswith("linkdir") for r in found)
    assert not any(r.startswith("nested") for r in found)
    assert skipped == ["link.png", "linkdir", "nested"]


def test_walk_worktree_normalizes_to_nfc(tmp_path: Path) -> None:
    (tmp_path / f"caf{NFD_E}").mkdir()
    (tmp_path / f"caf{NFD_E}" / f"{NFD_E}t{NFD_E}.psd").write_bytes(b"x")
    found = [rel for rel, _ in walk_worktree(tmp_path)]
    assert found == [f"caf{NFC_E}/{NFC_E}t{NFC_E}.psd"]
    assert from_repo_path(tmp_path, found[0]).read_bytes() == b"x"


def _fs_keeps_both_forms(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / NFD_E).write_bytes(b"1")
    (probe / NFC_E).write_bytes(b"2")
    return len(os.listdir(probe)) == 2


def test_walk_worktree_rejects_two_unicode_forms_of_one_name(tmp_path: Path) -> None:
    if not _fs_keeps_both_forms(tmp_path):
        pytest.skip("file system normalizes Unicode names")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / f"{NFD_E}.png").write_bytes(b"nfd")
    (wt / f"{NFC_E}.png").write_bytes(b"nfc")
    with pytest.raises(CaseCollisionError) as info:
        list(walk_worktree(wt))
    assert info.value.path == f"{NFC_E}.png"
    seen: list[tuple[str, tuple[str, ...]]] = []
    found = [rel for rel, _ in walk_worktree(wt, on_collision=lambda p, n: seen.append((p, n)))]
    assert found == [f"{NFC_E}.png"]
    assert seen and seen[0][0] == f"{NFC_E}.png" and len(seen[0][1]) == 2


def test_walk_worktree_case_twins_are_collisions(tmp_path: Path) -> None:
    (tmp_path / "Hero.psd").write_bytes(b"1")
    if (tmp_path / "hero.psd").exists():
        pytest.skip("case-insensitive file system")
    (tmp_path / "hero.psd").write_bytes(b"2")
    found = [rel for rel, _ in walk_worktree(tmp_path)]
    assert find_collisions(found) == [("Hero.psd", "hero.psd")]


def test_walk_missing_worktree_yields_nothing(tmp_path: Path) -> None:
    assert list(walk_worktree(tmp_path / "missing")) == []
