"""Build tests/compat/data/vault-v1.tar.gz: a small vault written by format version 1.

Run once when the format version changes (never for a newer version: the old tarball
stays, so every later cvault proves it still reads version 1). Deterministic inputs;
the tarball is the one generated file the repository commits.

    .venv/bin/python tests/compat/make_frozen_v1.py
"""

from __future__ import annotations

import hashlib
import json
import random
import tarfile
import tempfile
from pathlib import Path

import creativevault as cv

__all__ = ["build"]

OUT = Path(__file__).with_name("data") / "vault-v1.tar.gz"


def _payload(seed: int, size: int) -> bytes:
    rnd = random.Random(seed)
    block = bytes(rnd.getrandbits(8) for _ in range(4096))
    return (block * (size // 4096 + 1))[:size]


def build() -> dict[str, dict[str, str]]:
    """Create the vault, tar it, and return the expected sha256 per commit and path."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "vault-v1"
        root.mkdir()
        (root / "paint").mkdir()
        (root / "paint" / "key.psd").write_bytes(_payload(1, 300_000))
        (root / "tex").mkdir()
        (root / "tex" / "wood.png").write_bytes(_payload(2, 120_000))
        (root / "notes.txt").write_text("frozen vault, format v1\n")
        vault = cv.Vault.init(root)
        vault.add(["."])
        first = vault.commit("v1: first").id
        data = bytearray((root / "paint" / "key.psd").read_bytes())
        data[150_000:150_100] = b"\x07" * 100
        (root / "paint" / "key.psd").write_bytes(bytes(data))
        vault.commit("v1: retouch", all=True)
        vault.branch("lookdev")
        (root / "tex" / "wood.png").write_bytes(b"unsaved work " * 100)
        vault.restore(["tex/wood.png"])  # leaves a rescue entry
        expected = {}
        for rev in (first, "main"):
            cid = vault.git.resolve(rev)
            expected[cid] = {}
            for path in ("paint/key.psd", "tex/wood.png", "notes.txt"):
                import io

                buf = io.BytesIO()
                vault.cat(f"{cid}:{path}", buf)
                expected[cid][path] = hashlib.sha256(buf.getvalue()).hexdigest()
        vault.close()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(OUT, "w:gz") as tar:
            tar.add(root, arcname="vault-v1")
    return expected


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
