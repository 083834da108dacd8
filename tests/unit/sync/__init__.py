"""Tests of push and fetch between vaults (features/sync, store/transfer, repo/gitsync).

The scenes these tests and ``tests/e2e/test_sync_faults.py`` share are built here: a
studio's files (a layered "PSD", a camera "RAW", a JPEG made with Pillow, notes), an edit
in the middle of a file, and the checks that a vault is whole after a transfer.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import random
import shutil
import sys
from pathlib import Path
from typing import BinaryIO

import creativevault as cv
from creativevault.features.sync.peers import PeerOptions
from creativevault.repo.pointer import parse_pointer
from tests.conftest import run_git
from tests.vaulttools import MB, commit_all, creative_bytes, write

__all__ = ["ART", "FailingDrive", "NOTES", "PHOTO", "RAW", "assert_whole", "catted", "copy_vault",
           "edit_middle", "file_id", "jpeg_bytes", "make_vault", "sha256", "ssh_options", "studio_files"]

ART = "art/cover.psd"
RAW = "raw/DSC_0001.nef"
PHOTO = "photos/set.jpg"
NOTES = "notes/brief.txt"


@functools.cache
def jpeg_bytes(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A real JPEG (Pillow): a gradient with noise, like a photo's sky and grain."""
    import numpy as np
    from PIL import Image

    width, height = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.stack([xs * 255 // width, ys * 255 // height,
                       np.full_like(xs, 40 + seed % 200)], axis=-1)
    pixels = pixels + rng.integers(-24, 24, size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


@functools.cache
def studio_files(seed: int = 1) -> dict[str, bytes]:
    """A small studio's files: about 5.5 MB in four files, path -> bytes."""
    return {
        ART: creative_bytes(ART, 3 * MB, seed),
        RAW: creative_bytes(RAW, 2 * MB, seed + 100),
        PHOTO: jpeg_bytes(seed),
        NOTES: f"Brief {seed}\n\nCover in teal, logo top left.\n".encode() * 20,
    }


def edit_middle(data: bytes, seed: int = 7, length: int = 4096) -> bytes:
    """The same file with ``length`` bytes in the middle painted over (size unchanged)."""
    mid = len(data) // 2
    patch = random.Random(seed).randbytes(length)
    return data[:mid] + patch + data[mid + length:]


def make_vault(path: Path, files: dict[str, bytes] | None = None,
               message: str = "studio files") -> cv.Vault:
    """A new vault at ``path`` with ``files`` committed on ``main`` (open; caller closes)."""
    vault = cv.Vault.init(path)
    if files:
        for rel, data in files.items():
            write(path / rel, data)
        commit_all(vault, message)
    return vault


def copy_vault(template: Path, dest: Path) -> Path:
    """A copy of a vault made once per module (cheaper than adding its files again)."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


def vault_templates(base: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Under ``base``: "field", a vault with ``files`` committed, and "empty", a new
    vault; made once per module, then copied per test with :func:`copy_vault`."""
    make_vault(base / "field", files).close()
    cv.Vault.init(base / "empty").close()
    return {"field": base / "field", "empty": base / "empty"}


def file_id(vault: cv.Vault, rev: str, path: str) -> str:
    """The stored file id the pointer of ``rev:path`` names."""
    flat = vault.git.commit_tree_flat(vault.resolve(rev))
    return parse_pointer(vault.git.read_blob(flat[path].blob_id), path=path).oid


def catted(vault: cv.Vault, rev: str, path: str) -> bytes:
    """The bytes of ``rev:path`` as the vault restores them."""
    out = io.BytesIO()
    vault.cat(f"{rev}:{path}", out)
    return out.getvalue()


def assert_whole(path: Path, *, content_complete: bool = True,
                 allow_temp: bool = False) -> None:
    """The vault at ``path`` passes its own fsck (all content present unless told
    otherwise), the real ``git fsck --strict``, and holds no half-written pack (unless
    a killed process left one, which nothing refers to and gc removes)."""
    with cv.Vault.open(path) as vault:
        result = vault.fsck()
    assert not result.problems, result.problems
    if content_complete:
        assert result.ok and not result.missing_content, result
    run_git(path, "fsck", "--strict", "--no-dangling")
    packs = path / ".git" / "cvault" / "packs"
    if not allow_temp:
        assert not list(packs.glob("*.tmp")), list(packs.iterdir())


class FailingDrive:
    """An opener for new pack files on a drive that fails after ``budget`` more bytes
    (``errno.EIO``: unplugged; ``errno.ENOSPC``: full). Shared by all packs it opens."""

    def __init__(self, budget: int, error: int = errno.EIO) -> None:
        self.budget = budget
        self.error = error
        self.failures = 0

    def __call__(self, path: Path) -> BinaryIO:
        if self.budget <= 0:
            self.failures += 1
            raise OSError(self.error, os.strerror(self.error), str(path))
        return _FailingFile(self, open(path, "xb"))  # noqa: SIM115 - PackWriter closes it


class _FailingFile:
    def __init__(self, drive: FailingDrive, fh: BinaryIO) -> None:
        self._drive = drive
        self._fh = fh

    def write(self, data: bytes) -> int:
        if len(data) > self._drive.budget:
            self._drive.budget = 0
            self._drive.failures += 1
            raise OSError(self._drive.error, os.strerror(self._drive.error))
        self._drive.budget -= len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._fh.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ssh_options(sshd) -> PeerOptions:
    """How to reach the test sshd and run this venv's cvault on its side (whose PATH
    has no cvault)."""
    cvault = Path(sys.executable).parent / "cvault"
    assert cvault.exists() or shutil.which("cvault"), "the venv has no cvault script"
    return PeerOptions(ssh_command=sshd.ssh_command, remote_cvault=str(cvault))
