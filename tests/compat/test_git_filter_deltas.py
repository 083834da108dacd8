"""Edits committed through plain ``git add`` are stored as deltas (docs/git.md).

git runs cvault's clean filter per path; the filter hands the store the version of that
path the index (or HEAD) holds, so the edit's new chunks become deltas against it. A hint
that cannot be used (content absent, pointer broken, manifest damaged) only costs the
deltas: ``git add`` still succeeds and the content is stored in full.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_HEADER_SIZE, ENTRY_MANIFEST, FLAG_DELTA
from tests.conftest import run_cli, run_git
from tests.vaulttools import MB, creative_bytes, write

V1 = creative_bytes("big.psd", 6 * MB, 71)


def edited(data: bytes, at: int, n: int = 3000) -> bytes:
    """``data`` with ``n`` bytes overwritten in place at ``at`` (a retouched layer)."""
    patch = bytes((b ^ 0x5A) for b in data[at:at + n])
    return data[:at] + patch + data[at + n:]


V2 = edited(V1, 3 * MB)
V3 = edited(V2, 5 * MB)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def delta_rows(root: Path) -> list:
    with cv.Vault.open(root) as vault:
        return [r for r in vault.store.index.rows(etype=ENTRY_CHUNK) if r.flags & FLAG_DELTA]


def pack_bytes(root: Path) -> int:
    with cv.Vault.open(root) as vault:
        return vault.store.stats().pack_bytes


def git_commit(root: Path, message: str, *paths: str) -> None:
    run_git(root, "add", *paths)
    run_git(root, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A vault with big.psd (V1) committed through plain git."""
    root = tmp_path / "proj"
    root.mkdir()
    res = run_cli(root, "init")
    assert res.returncode == 0, res.stderr
    write(root / "big.psd", V1)
    git_commit(root, "one", "-A")
    assert delta_rows(root) == []
    return root


def test_git_add_of_an_edit_stores_deltas_and_checkout_restores_both(repo: Path) -> None:
    before = pack_bytes(repo)
    write(repo / "big.psd", V2, age=75)  # same size as V1: another mtime
    git_commit(repo, "two", "big.psd")
    rows = delta_rows(repo)
    assert rows, "the edited chunks were stored as deltas"
    with cv.Vault.open(repo) as vault:
        v1_chunks = {k for k, _ in vault.store.read_manifest(sha(V1)).chunks}
    assert all(r.base in v1_chunks for r in rows)  # against the committed version
    assert pack_bytes(repo) - before < 64 * 1024  # a 3 KB edit, not whole chunks
    # a second edit staged over the first: its base is what the index holds
    write(repo / "big.psd", V3, age=50)  # same size as V2: another mtime
    git_commit(repo, "three", "big.psd")
    assert len(delta_rows(repo)) > len(rows)
    revs = [run_git(repo, "rev-parse", rev).stdout.decode().strip()
            for rev in ("HEAD~2", "HEAD~1")]
    for rev, data in ((revs[0], V1), (revs[1], V2), ("main", V3)):
        run_git(repo, "checkout", "-q", rev)
        assert sha((repo / "big.psd").read_bytes()) == sha(data), rev
    assert run_git(repo, "status", "--porcelain").stdout == b""


def test_a_new_path_with_a_staged_copy_elsewhere_is_stored_in_full(repo: Path) -> None:
    write(repo / "copy.psd", V2)  # no previous version of this path: no hint
    git_commit(repo, "copy", "copy.psd")
    assert delta_rows(repo) == []
    run_git(repo, "rm", "-q", "--cached", "copy.psd")
    (repo / "copy.psd").unlink()
    run_git(repo, "checkout", "-q", "HEAD", "--", "copy.psd")
    assert (repo / "copy.psd").read_bytes() == V2


def _commit_blob(root: Path, path: str, data: bytes) -> None:
    """Stage and commit ``data`` as the blob of ``path`` (index and HEAD both hold it)."""
    blob = run_git(root, "hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
    run_git(root, "update-index", "--cacheinfo", f"100644,{blob},{path}")
    run_git(root, "commit", "-q", "--no-verify", "-m", "unusable pointer")


@pytest.mark.parametrize("hint", ["absent", "broken-pointer", "damaged-manifest"])
def test_an_unusable_hint_falls_back_to_storing_in_full(repo: Path, hint: str) -> None:
    if hint == "absent":  # index and HEAD name content this vault does not hold
        _commit_blob(repo, "big.psd", (f"version https://creativevault.dev/spec/v1\n"
                                      f"oid sha256:{'ab' * 32}\nsize 5\n").encode())
    elif hint == "broken-pointer":  # looks like a pointer, is not a valid one
        _commit_blob(repo, "big.psd", b"version https://creativevault.dev/spec/v1\n"
                                     b"oid sha256:nothex\nsize x\n")
    else:  # the previous version's manifest is damaged on disk
        with cv.Vault.open(repo) as vault:
            row = vault.store.index.get(ENTRY_MANIFEST, bytes.fromhex(sha(V1)))
            assert row is not None
            pack = vault.store.packs_dir / row.pack
        with open(pack, "r+b") as fh:
            fh.seek(row.offset + ENTRY_HEADER_SIZE + row.stored_len // 2)  # the manifest's body
            byte = fh.read(1)
            fh.seek(-1, 1)
            fh.write(bytes([byte[0] ^ 0xFF]))
    write(repo / "big.psd", V2, age=75)  # same size as V1: another mtime
    res = run_git(repo, "add", "big.psd", check=False)
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""  # a hint is only a hint: no warning either
    run_git(repo, "commit", "-q", "-m", "two")
    assert delta_rows(repo) == []
    (repo / "big.psd").unlink()
    run_git(repo, "checkout", "-q", "--", "big.psd")
    assert (repo / "big.psd").read_bytes() == V2


def test_an_unusable_staged_pointer_falls_back_to_head(repo: Path) -> None:
    blob = run_git(repo, "hash-object", "-w", "--stdin",
                   input=b"version https://creativevault.dev/spec/v1\noid sha256:x\n"
                   ).stdout.decode().strip()
    run_git(repo, "update-index", "--cacheinfo", f"100644,{blob},big.psd")
    write(repo / "big.psd", V2, age=75)
    git_commit(repo, "two", "big.psd")
    assert delta_rows(repo), "HEAD's version was the base"
    (repo / "big.psd").unlink()
    run_git(repo, "checkout", "-q", "--", "big.psd")
    assert (repo / "big.psd").read_bytes() == V2
