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
