"""Result records of store operations: fsck problems, gc results and statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FsckProblem", "FsckReport", "GcReport", "StoreStats"]


@dataclass(frozen=True)
class FsckProblem:
    """One damaged or inconsistent thing, named exactly.

    ``kind`` is one of ``corrupt-chunk``, ``missing-chunk``, ``corrupt-manifest``,
    ``unindexed-pack``, ``truncated-pack``, ``corrupt-pack``, ``missing-pack``,
    ``bad-index-row``.
    """

    kind: str
    pack: str | None = None
    offset: int | None = None
    #: hex id of the chunk (BLAKE3) or file (SHA-256) concerned
    object_id: str | None = None
    #: file ids whose manifests reference the damaged object
    affected_files: list[str] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        """One line naming what is damaged and where."""
        parts = [self.kind]
        if self.pack is not None:
            parts.append(f"in {self.pack}")
        if self.offset is not None:
            parts.append(f"at offset {self.offset}")
        if self.object_id is not None:
            parts.append(f"object {self.object_id}")
        if self.detail:
            parts.append(f"({self.detail})")
        if self.affected_files:
            shown = ", ".join(self.affected_files[:5])
            more = len(self.affected_files) - 5
            parts.append(f"affects file{'s' if len(self.affected_files) > 1 else ''} {shown}"
                         + (f" and {more} more" if more > 0 else ""))
        return " ".join(parts)


@dataclass
class FsckReport:
    """What :meth:`Store.fsck` verified and every problem it found."""

    ok: bool
    checked_chunks: int
    checked_files: int
    problems: list[FsckProblem] = field(default_factory=list)
    #: findings that are not damage (e.g. a pack left by an interrupted write)
    notes: list[FsckProblem] = field(default_factory=list)


@dataclass
class GcReport:
    """What :meth:`Store.gc` removed (or, on a dry run, would remove)."""

    removed_packs: int = 0
    rewritten_packs: int = 0
    removed_chunks: int = 0
    freed_bytes: int = 0
    #: packs left untouched because they are younger than the grace period
    kept_recent: int = 0
    removed_manifests: int = 0
    removed_temp_packs: int = 0
    dry_run: bool = False
    #: one line per action taken (or planned), for ``--dry-run`` output
    actions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreStats:
    """Size and content counts of a store."""

    packs: int
    pack_bytes: int
    chunks: int
    files: int
    logical_bytes: int
