"""Shared vocabulary: identifiers, the progress callback every layer reports through,
and the byte sink content is streamed into.

Imports nothing from the package except :mod:`creativevault.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["FileId", "Progress", "Sink", "StoredFile"]

#: Whole-file id: lowercase hex SHA-256 of the file's exact bytes.
FileId = str


class Sink(Protocol):
    """Where streamed bytes go: an open binary file, a pipe, or anything else that only
    needs to be handed the bytes in order (a hasher, a counter, a writer that can stop).
    """

    def write(self, data: bytes, /) -> object:
        """Take the next ``data``; what it returns is not used."""


class Progress:
    """Progress sink. Library code calls these; the defaults do nothing.

    The CLI subclasses it to draw a progress bar. ``total`` may be ``None`` when unknown.
    """

    def start(self, label: str, total: int | None = None, unit: str = "B") -> None:
        """A new phase of work begins."""

    def advance(self, amount: int) -> None:
        """``amount`` more units of the current phase are done."""

    def item(self, name: str) -> None:
        """Work moved on to the named item (usually a path)."""

    def expect_items(self, count: int) -> None:
        """The current phase covers ``count`` items (files), each announced by :meth:`item`."""

    def warn(self, message: str) -> None:
        """A non-fatal problem the user should see."""

    def finish(self) -> None:
        """The current phase is over."""


@dataclass(frozen=True)
class StoredFile:
    """What the store knows about one stored file after a write."""

    file_id: FileId
    size: int
    #: bytes this write added to the store (0 when every chunk already existed)
    added_bytes: int
    #: number of chunks in the file's manifest
    chunks: int
