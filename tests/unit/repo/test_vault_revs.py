"""Revision names the verbs accept, rescue entries included."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import RevisionNotFoundError


def test_rescue_names_resolve_everywhere(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "art.psd").write_bytes(b"v1" * 50_000)
    vault = cv.Vault.init(root)
    vault.add(["."])
    vault.commit("v1")
    (root / "art.psd").write_bytes(b"unsaved" * 20_000)
    vault.restore(["art.psd"])  # keeps the unsaved bytes as rescue@{0}
    assert (root / "art.psd").read_bytes() == b"v1" * 50_000
    buf = io.BytesIO()
    vault.cat("rescue@{0}:art.psd", buf)
    assert buf.getvalue() == b"unsaved" * 20_000
    vault.restore(["art.psd"], source="rescue@{0}")
    assert (root / "art.psd").read_bytes() == b"unsaved" * 20_000
    assert vault.log("HEAD~0")[0].subject == "v1"
    with pytest.raises(RevisionNotFoundError):
        vault.cat("rescue@{7}:art.psd", io.BytesIO())
    with pytest.raises(RevisionNotFoundError):
        vault.log("HEAD~5")
    vault.close()


def test_cat_finds_one_path_without_flattening_the_tree(tmp_path: Path, monkeypatch) -> None:
    from creativevault.errors import PathNotFoundError
    from creativevault.repo.gitrepo import GitRepo

    root = tmp_path / "proj"
    (root / "shots" / "day1").mkdir(parents=True)
    (root / "shots" / "day1" / "a.jpg").write_bytes(b"\xff\xd8" + b"a" * 9000)
    (root / "notes.txt").write_text("n\n")
    vault = cv.Vault.init(root)
    vault.add(["."])
    vault.commit("v1")
    # reading many files one by one from a big commit must not walk the whole tree each time
    monkeypatch.setattr(GitRepo, "commit_tree_flat", lambda *a: pytest.fail("flattened"))
    buf = io.BytesIO()
    vault.cat("HEAD:shots/day1/a.jpg", buf)
    assert buf.getvalue() == b"\xff\xd8" + b"a" * 9000
    for missing in ("HEAD:shots/day1", "HEAD:notes.txt/x", "HEAD:nope.jpg", "HEAD:"):
        with pytest.raises(PathNotFoundError):
            vault.cat(missing, io.BytesIO())
    vault.close()
