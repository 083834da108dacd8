"""Clone's choices that the CLI tests cannot see: the store settings a clone inherits."""

from __future__ import annotations

import os
from pathlib import Path

from creativevault.features.sync.peers import PeerOptions
from creativevault.features.sync.workflows import clone
from creativevault.repo.vault import Vault
from creativevault.store import ChunkerParams


def test_a_clone_cuts_content_like_its_source(tmp_path: Path) -> None:
    params = ChunkerParams.for_average(64 * 1024)
    source = Vault.init(tmp_path / "studio", chunker=params)
    data = os.urandom(1_500_000)
    (source.root / "plate.psd").write_bytes(data)
    source.add([source.root / "plate.psd"])
    source.commit("plate")
    chunks = source.store.read_manifest(_file_id(source)).chunks
    source.close()

    report = clone(str(tmp_path / "studio"), tmp_path / "field", options=PeerOptions())
    assert report.branch == "field/field" and report.start == "main"
    with Vault.open(tmp_path / "field") as field:
        assert field.store.chunker == params
        assert (field.root / "plate.psd").read_bytes() == data
        # the same chunks on both sides: a later edit moves only what changed
        assert field.store.read_manifest(_file_id(field)).chunks == chunks


def _file_id(vault: Vault) -> str:
    import hashlib

    return hashlib.sha256((vault.root / "plate.psd").read_bytes()).hexdigest()
