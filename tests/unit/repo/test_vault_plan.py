"""Checkout checks the whole plan before it touches a single working file."""

from __future__ import annotations

from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import WorktreeError


def _vault(tmp_path: Path) -> tuple[cv.Vault, Path]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.psd").write_bytes(b"A" * 100_000)
    (root / "z.psd").write_bytes(b"Z1" * 50_000)
    vault = cv.Vault.init(root)
    vault.add(["."])
    vault.commit("base")
    return vault, root


def test_untracked_file_blocking_a_folder_stops_before_any_change(tmp_path: Path) -> None:
    vault, root = _vault(tmp_path)
    vault.branch("shots")
    vault.checkout("shots")
    (root / "shots").mkdir()
    (root / "shots" / "s1.psd").write_bytes(b"S" * 100_000)
    (root / "z.psd").write_bytes(b"Z2" * 50_000)
    vault.add(["."])
    vault.commit("shots folder, new z")
    vault.checkout("main")
    assert not (root / "shots").exists()
    (root / "shots").write_bytes(b"an untracked file named like the folder")
    with pytest.raises(WorktreeError, match="in the way") as err:
        vault.checkout("shots")
    assert "shots" in str(err.value)
    # nothing was touched: z.psd (written before shots/ in path order) is still main's
    assert (root / "z.psd").read_bytes() == b"Z1" * 50_000
    assert vault.git.head_branch() == "main"
    assert (root / "shots").read_bytes().startswith(b"an untracked")
    vault.close()


def test_untracked_folder_blocking_a_file_stops_before_any_change(tmp_path: Path) -> None:
    vault, root = _vault(tmp_path)
    vault.checkout("notes", create=True)
    (root / "notes.psd").write_bytes(b"N" * 100_000)
    vault.add(["notes.psd"])
    vault.commit("notes")
    vault.checkout("main")
    (root / "notes.psd").mkdir()
    (root / "notes.psd" / "keep.txt").write_text("mine")
    with pytest.raises(WorktreeError, match="folder is in the way"):
        vault.checkout("notes")
    assert (root / "notes.psd" / "keep.txt").read_text() == "mine"
    assert vault.git.head_branch() == "main"
    vault.close()


def test_restored_files_get_normal_permissions(tmp_path: Path) -> None:
    import os
    import stat

    vault, root = _vault(tmp_path)
    mask = os.umask(0o022)
    os.umask(mask)
    (root / "a.psd").unlink()
    vault.restore(["a.psd"])
    mode = stat.S_IMODE((root / "a.psd").stat().st_mode)
    assert mode == 0o666 & ~mask  # not mkstemp's 0600
    vault.close()
