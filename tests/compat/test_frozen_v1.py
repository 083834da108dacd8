"""Every cvault must read a vault written by format version 1 (tests/compat/data)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import creativevault as cv
from tests.conftest import run_git

DATA = Path(__file__).with_name("data") / "vault-v1.tar.gz"

# Written by tests/compat/make_frozen_v1.py when the tarball was made; never regenerate.
EXPECTED = {
    "9f14a467475e7d1903edf671ddd1cc38c6d00745": {
        "paint/key.psd": "246dbca8ccb6c821c99c7f2392a840a709b4d8970f9cd2f4ae0961c93c0bd301",
        "tex/wood.png": "9e4b10f2c6d6fb57a26dc66ec26ab4e43268de486ddec2695524929736f32115",
        "notes.txt": "88e4b698f7420484a677db8b14c2bfcf8300041332bea5a5d68eb6fd5e1e918c",
    },
    "7894fbd3b209789ecd97116d6b492f4a7e963d99": {
        "paint/key.psd": "183cdad1917a1486096bca626da08734c73dace8a2536a5355e4c78be58e380e",
        "tex/wood.png": "9e4b10f2c6d6fb57a26dc66ec26ab4e43268de486ddec2695524929736f32115",
        "notes.txt": "88e4b698f7420484a677db8b14c2bfcf8300041332bea5a5d68eb6fd5e1e918c",
    },
}


def _extract(tmp_path: Path) -> Path:
    with tarfile.open(DATA) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "vault-v1"


def test_frozen_v1_vault_reads_byte_exact(tmp_path: Path) -> None:
    root = _extract(tmp_path)
    with cv.Vault.open(root) as vault:
        assert vault.fsck().ok
        for commit, files in EXPECTED.items():
            for path, digest in files.items():
                buf = io.BytesIO()
                vault.cat(f"{commit}:{path}", buf)
                assert hashlib.sha256(buf.getvalue()).hexdigest() == digest, (commit, path)
        assert [c.subject for c in vault.log()] == ["v1: retouch", "v1: first"]
        assert set(vault.branch()) == {"main", "lookdev"}
        [rescue] = vault.rescue_list()
        assert rescue.paths == ["tex/wood.png"]
        assert vault.status().clean
        first = next(iter(EXPECTED))
        vault.checkout(first)
        for path, digest in EXPECTED[first].items():
            assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest
    run_git(root, "fsck", "--strict")
