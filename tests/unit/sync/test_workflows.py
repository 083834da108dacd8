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


def test_a_push_that_is_not_a_fast_forward_sends_nothing(tmp_path: Path) -> None:
    import pytest

    from creativevault.errors import PushRejectedError
    from creativevault.features.sync.workflows import push_branch

    studio = Vault.init(tmp_path / "studio")
    (studio.root / "a.psd").write_bytes(os.urandom(300_000))
    studio.add([studio.root])
    studio.commit("a")
    studio.close()
    clone(str(tmp_path / "studio"), tmp_path / "one", name="cam", options=PeerOptions())
    clone(str(tmp_path / "studio"), tmp_path / "two", name="cam", options=PeerOptions())
    for name, size in (("one", 200_000), ("two", 900_000)):
        with Vault.open(tmp_path / name) as field:
            (field.root / f"{name}.psd").write_bytes(os.urandom(size))
            field.add([field.root])
            field.commit(name)
            if name == "one":
                push_branch(field, None, None, options=PeerOptions())
    packs = tmp_path / "studio" / ".git" / "cvault" / "packs"
    before = sorted(p.name for p in packs.iterdir())
    with Vault.open(tmp_path / "two") as field, pytest.raises(PushRejectedError,
                                                               match="nothing was sent"):
        push_branch(field, None, None, options=PeerOptions())
    assert sorted(p.name for p in packs.iterdir()) == before
