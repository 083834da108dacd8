"""Timeline entries as dataclasses, and their JSON form (schema in docs/timeline.md)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA", "Change", "CommitEntry", "FileFacts", "ProjectTimeline", "Timeline",
           "TimelineEntry", "iso_time"]

#: the ``schema`` value of the JSON documents (bumped on incompatible changes)
SCHEMA = "cvault.timeline/1"


def iso_time(ts: int, tz: int) -> str:
    """``2026-11-21T18:53:46+01:00`` in the commit's own time zone."""
    zone = _dt.timezone(_dt.timedelta(seconds=tz))
    return _dt.datetime.fromtimestamp(ts, zone).isoformat()


@dataclass
class FileFacts:
    """What one content is: format and size in pixels, layers or mesh counts."""

    format: str
    width: int | None = None
    height: int | None = None
    layers: int | None = None
    vertices: int | None = None
    faces: int | None = None
    note: str | None = None
    #: layer id -> signature of its pixels/mask/opacity/visibility (for layer changes)
    layer_signatures: dict[str, str] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "width": self.width, "height": self.height,
                "layers": self.layers, "vertices": self.vertices, "faces": self.faces,
                "note": self.note}

    def to_cache(self) -> dict[str, Any]:
        return {**self.to_json(), "layer_signatures": self.layer_signatures}

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> FileFacts:
        return cls(str(data.get("format") or ""), data.get("width"), data.get("height"),
                   data.get("layers"), data.get("vertices"), data.get("faces"),
                   data.get("note"), dict(data.get("layer_signatures") or {}))


@dataclass
class Change:
    """How a version differs from the previous one (the content in its parent commit).

    ``kind``: ``pixels`` (``changed_fraction`` of pixels differs, measured on the
    analysis-size decode), ``layers`` (layer counts, plus the composite's fraction when
    both composites exist), ``mesh`` (vertex/face deltas), ``resized`` (pixel sizes differ),
    ``bytes`` (no decoder: only the size delta), ``none`` (same content).
    """

    kind: str
    changed_fraction: float | None = None
    layers_added: int | None = None
    layers_removed: int | None = None
    layers_changed: int | None = None
    vertices_delta: int | None = None
    faces_delta: int | None = None
    size_delta: int | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "changed_fraction": self.changed_fraction,
                "layers_added": self.layers_added, "layers_removed": self.layers_removed,
                "layers_changed": self.layers_changed, "vertices_delta": self.vertices_delta,
                "faces_delta": self.faces_delta, "size_delta": self.size_delta,
                "note": self.note}

    def describe(self) -> str:
        """A short human summary: ``12.5% pixels``, ``+1 -0 ~2 layers``."""
        if self.kind == "pixels" and self.changed_fraction is not None:
            return f"{self.changed_fraction * 100:.1f}% pixels"
        if self.kind == "layers":
            text = f"+{self.layers_added} -{self.layers_removed} ~{self.layers_changed} layers"
            if self.changed_fraction is not None:
                text += f", {self.changed_fraction * 100:.1f}% pixels"
            return text
        if self.kind == "mesh":
            return f"{self.vertices_delta:+d} vertices, {self.faces_delta:+d} faces"
        if self.kind == "none":
            return "same content"
        if self.kind == "resized":
            return "resized"
        return f"{self.size_delta:+d} bytes" if self.size_delta is not None else self.kind


@dataclass
class TimelineEntry:
    """One version of a file: the commit that made it and what it holds."""

    commit: str
    author: str
    time: int
    tz: int
    message: str
    branch: str
    path: str
    kind: str  # added | modified | renamed | merged | deleted
    old_path: str | None
    content_id: str | None  # vault file id (SHA-256) or git:<blob id>; None when deleted
    size: int | None
    present: bool  # the content's bytes are in this vault
    facts: FileFacts | None = None
    change: Change | None = None
    thumbnail: str | None = None  # catalog key of the thumbnail ("thumb:256", content id)
    parents: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.commit[:10]

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    @property
    def date(self) -> str:
        return iso_time(self.time, self.tz)

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit, "parents": list(self.parents), "author": self.author,
            "time": self.time, "date": self.date, "message": self.message,
            "branch": self.branch, "path": self.path, "kind": self.kind,
            "old_path": self.old_path, "content_id": self.content_id, "size": self.size,
            "present": self.present,
            "facts": self.facts.to_json() if self.facts else None,
            "change": self.change.to_json() if self.change else None,
            "thumbnail": self.thumbnail,
        }


@dataclass
class Timeline:
    """The versions of one file, oldest first."""

    path: str
    entries: list[TimelineEntry]
    branches: list[str]
    #: work done by this call: thumbs_made, facts_made, changes_made, cache_hits, tree_diffs
    stats: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": "file", "path": self.path,
                "branches": self.branches, "entries": [e.to_json() for e in self.entries]}


@dataclass
class CommitEntry:
    """One commit of a project timeline and the files it changed."""

    commit: str
    author: str
    time: int
    tz: int
    message: str
    branch: str
    parents: tuple[str, ...]
    changes: list[dict[str, Any]]

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "parents": list(self.parents), "author": self.author,
                "time": self.time, "date": iso_time(self.time, self.tz),
                "message": self.message, "branch": self.branch, "changes": self.changes}


@dataclass
class ProjectTimeline:
    """Every commit of a project, oldest first, with the files each changed."""

    commits: list[CommitEntry]
    branches: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": "project", "branches": self.branches,
                "commits": [c.to_json() for c in self.commits]}
