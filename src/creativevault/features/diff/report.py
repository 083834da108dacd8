"""The shape every diff has: figures for tools (JSON), lines for people, pictures on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from creativevault.imaging.compare import Region

__all__ = ["DiffOptions", "Differ", "FileDiff", "Picture", "Region"]


@dataclass(frozen=True)
class Picture:
    """A picture written for a diff: what it shows and where it is."""

    role: str  # "side-by-side", "blink-a", "blink-b", "layer:<name>", "render", ...
    path: Path

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "path": str(self.path)}


@dataclass
class DiffOptions:
    """How to diff: where pictures go (None: no pictures) and at what size."""

    out_dir: Path | None = None
    full_resolution: bool = False
    #: long edge of preview pictures when not at full resolution
    preview_edge: int = 2048
    #: a channel difference above this fraction of full scale counts a pixel as changed
    threshold: float = 0.0


@dataclass
class FileDiff:
    """The comparison of two versions of one file (either side may be absent)."""

    path: str
    kind: str  # "raster" | "layered" | "mesh" | "metadata" | "bytes"
    status: str  # "modified" | "added" | "deleted" | "unchanged" | "error"
    summary: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    parts: list[FileDiff] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "status": self.status,
                "summary": self.summary, "figures": self.figures,
                "parts": [p.to_json() for p in self.parts],
                "pictures": [p.to_json() for p in self.pictures], "notes": self.notes}

    def lines(self, indent: str = "") -> list[str]:
        """The textual summary, parts indented below it (what git's drivers print)."""
        out = [f"{indent}{line}" for line in self.summary]
        out += [f"{indent}note: {n}" for n in self.notes]
        for part in self.parts:
            out += part.lines(indent + "  ")
        return out


class Differ(Protocol):
    """A plug-in comparing one family of files."""

    kind: str

    def accepts(self, name: str, head: bytes) -> bool:
        """Whether this differ handles a file called ``name`` starting with ``head``."""
        ...

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        """Compare two versions (``None`` for an absent side). May raise on bad input;
        the engine turns that into a byte-level summary with a note."""
        ...
