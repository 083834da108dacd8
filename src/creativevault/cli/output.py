"""Shared CLI plumbing: opening the vault, JSON output, human sizes, the progress bar."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from creativevault.types import Progress

if TYPE_CHECKING:
    from creativevault.repo.vault import Vault

__all__ = ["BarProgress", "absolute", "human_size", "open_vault", "print_json"]


def open_vault() -> Vault:
    """The vault containing the current directory."""
    from creativevault.repo.vault import Vault

    return Vault.open(".")


def absolute(paths: list[str]) -> list[str]:
    """Command-line paths are relative to the current directory; the API's to the vault."""
    from pathlib import Path

    return [str(Path(p).absolute()) for p in paths]


def print_json(out: TextIO, data: Any) -> None:
    json.dump(data, out, indent=2, sort_keys=True)
    out.write("\n")


def human_size(n: int | float | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


class BarProgress(Progress):
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, min_interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.unit = "B"
        self._last = 0.0
        self._started = 0.0
        self.items = 0
        self.items_total: int | None = None

    def start(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.label, self.total, self.unit, self.done = label, total, unit, 0
        self.items, self.items_total = 0, None
        self._started = time.monotonic()
        self._draw(force=True)

    def advance(self, amount: int) -> None:
        self.done += amount
        self._draw()

    def expect_items(self, count: int) -> None:
        self.items_total = count

    def item(self, name: str) -> None:
        self.items += 1
        self._draw()

    def warn(self, message: str) -> None:
        self._clear()
        self.stream.write(f"cvault: warning: {message}\n")

    def finish(self) -> None:
        self._draw(force=True)
        self._clear()

    def _fmt(self, n: int) -> str:
        return human_size(n) if self.unit == "B" else f"{n} {self.unit}"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 30)
            text = (f"\r{self.label}: [{bar:<30}] {frac * 100:5.1f}% "
                    f"{self._fmt(self.done)}/{self._fmt(self.total)}")
        else:
            text = f"\r{self.label}: {self._fmt(self.done)}"
        if self.items_total is not None:
            text += f" {min(self.items, self.items_total)}/{self.items_total} files"
        elapsed = now - self._started
        if self.unit == "B" and elapsed > 0.5:
            text += f" {human_size(self.done / elapsed)}/s"
        self.stream.write(text[:120])
        self.stream.flush()

    def _clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
