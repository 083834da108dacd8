"""Helpers shared by the tests that drive a vault: generated creative files, git checks."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import creativevault as cv
from creativevault.store import Store
from creativevault.store.index import IndexRow
from tests.conftest import run_git

__all__ = ["MB", "age_all", "env_without_coverage", "assert_git_clean", "commit_all", "creative_bytes",
           "damage_entry", "flip_byte", "git", "sha", "write"]

MB = 1024 * 1024
_MAGIC = {
    ".psd": b"8BPS\x00\x01", ".png": b"\x89PNG\r\n\x1a\n", ".tif": b"II*\x00",
    ".exr": b"v/1\x01", ".blend": b"BLENDER-v300", ".nef": b"MM\x00*", ".jpg": b"\xff\xd8\xff\xe0",
}


def flip_byte(path: Path, offset: int, mask: int = 0x55) -> None:
    """XOR one byte of a file with ``mask``: damage on disk, in place."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ mask]))


def damage_entry(store: Store, row: IndexRow, mask: int = 0x5A) -> None:
    """Flip the byte in the middle of the stored bytes of the store entry at ``row`` (a
    chunk or a manifest) and drop the store's cached pack handles."""
    from creativevault.store.pack import ENTRY_HEADER_SIZE

    flip_byte(store.packs_dir / row.pack, row.offset + ENTRY_HEADER_SIZE + row.stored_len // 2,
              mask)
    store._reader.close()  # noqa: SLF001 - drop cached handles


def creative_bytes(name: str, size: int, seed: int) -> bytes:
    """Bytes shaped like a creative file: a magic header, random runs, structured rows."""
    rng = random.Random(seed)
    head = _MAGIC.get(Path(name).suffix.lower(), b"DATA")
    parts = [head]
    total = len(head)
    while total < size:
        n = rng.randint(16 * 1024, 256 * 1024)
        if rng.random() < 0.5:
            part = rng.randbytes(n)
        else:  # a gradient row pattern, compressible like image data
            row = bytes((i * rng.randint(1, 7)) & 0xFF for i in range(1024))
            part = (row * (n // 1024 + 1))[:n]
        parts.append(part)
        total += n
    return b"".join(parts)[:size]


def write(path: Path, data: bytes | str, *, age: float = 100.0) -> Path:
    """Write a file whose mtime lies ``age`` seconds in the past (not racily new for git)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args).stdout.decode()


def age_all(root: Path) -> None:
    """Push every working file's mtime into the past (files a user made earlier)."""
    t = time.time() - 100
    for p in root.rglob("*"):
        if ".git" not in p.relative_to(root).parts and p.is_file():
            os.utime(p, (t, t))


def commit_all(vault: cv.Vault, message: str) -> cv.repo.vault.CommitInfo:
    age_all(vault.root)
    vault.add(["."])
    return vault.commit(message)


def assert_git_clean(root: Path) -> None:
    assert git(root, "status", "--porcelain") == ""
    run_git(root, "fsck", "--strict")


def env_without_coverage() -> dict[str, str]:
    """This environment minus coverage's subprocess hook: coverage itself imports sqlite3,
    which tests of what a command imports must not mistake for the command's own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
