"""Long verbs report progress through the Progress callback, once per byte."""

from __future__ import annotations

from pathlib import Path

from creativevault.types import Progress
from tests.vaulttools import MB, creative_bytes, write


class Recorder(Progress):
    def __init__(self) -> None:
        self.done = 0
        self.items: list[str] = []
        self.phases: list[tuple[str, int | None]] = []

    def start(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.phases.append((label, total))
        self.done = 0

    def advance(self, amount: int) -> None:
        self.done += amount

    def item(self, name: str) -> None:
        self.items.append(name)


def test_add_reports_each_byte_once(vault, proj: Path) -> None:
    write(proj / "big.psd", creative_bytes("big.psd", 3 * MB, 1))
    write(proj / "notes.txt", "hello\n")
    rec = Recorder()
    report = vault.add(["."], progress=rec)
    assert rec.phases[0][0] == "adding"
    assert rec.phases[0][1] == report.logical_bytes == rec.done
    assert any(i.endswith("big.psd") for i in rec.items)
