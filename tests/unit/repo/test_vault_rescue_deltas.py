"""A rescue save stores unsaved edits as deltas against the staged (or committed) version."""

from __future__ import annotations

from pathlib import Path

import creativevault as cv
from creativevault.store.pack import ENTRY_CHUNK, FLAG_DELTA
from tests.vaulttools import MB, commit_all, creative_bytes, write


def _edited(data: bytes, at: int, n: int = 3000) -> bytes:
    return data[:at] + bytes(b ^ 0x5A for b in data[at:at + n]) + data[at + n:]


def _deltas(vault: cv.Vault) -> list:
    return [r for r in vault.store.index.rows(etype=ENTRY_CHUNK) if r.flags & FLAG_DELTA]


def test_checkout_over_an_edited_file_rescues_it_as_deltas(vault: cv.Vault,
                                                           proj: Path) -> None:
    v1 = creative_bytes("a.psd", 4 * MB, 21)
    write(proj / "a.psd", v1)
    commit_all(vault, "v1")
    vault.checkout("other", create=True)
    write(proj / "a.psd", creative_bytes("a.psd", 4 * MB, 22), age=90)
    commit_all(vault, "v2")
    vault.checkout("main")
    assert _deltas(vault) == []
    mine = _edited(v1, 2 * MB)  # unsaved work on top of main's version
    write(proj / "a.psd", mine, age=80)
    before = vault.store.stats().pack_bytes
    report = vault.checkout("other")
    assert report.rescued is not None and report.rescued.paths == ["a.psd"]
    assert _deltas(vault), "the unsaved edit was stored against main's version"
    assert vault.store.stats().pack_bytes - before < 64 * 1024
    vault.rescue_restore("rescue@{0}")
    assert (proj / "a.psd").read_bytes() == mine
    assert vault.fsck().ok
