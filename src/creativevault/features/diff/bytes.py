"""The byte-level differ: what every file gets when no format-aware differ applies.

It streams both versions side by side in blocks of :data:`BLOCK` bytes (memory stays at
two blocks whatever the size) and reports sizes, SHA-256s, the first differing offset
and the changed byte ranges, found at a granularity of :data:`GRANULE` bytes (a range
``[start, end)`` covers every granule in which the versions differ; the tail of the
longer version is one range). At most :data:`MAX_RANGES` ranges are kept; the count of
changed bytes covers them all. An insertion shifts everything after it, so from there
every granule differs: the summary says so rather than guessing an alignment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from creativevault.errors import InputFileError
from creativevault.features.diff.report import DiffOptions, FileDiff
from creativevault.formats.sniff import HEAD_BYTES, sniff

__all__ = ["BLOCK", "GRANULE", "MAX_RANGES", "BytesDiffer", "compare_bytes"]

BLOCK = 1 << 20
GRANULE = 4096
MAX_RANGES = 64
#: ranges named in the text summary
_SHOWN_RANGES = 4


def _read_full(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the file)."""
    data = f.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = f.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _first_difference(x: bytes, y: bytes) -> int:
    """Index of the first differing byte of two equal-length, unequal byte strings."""
    lo, hi = 0, len(x)
    while hi - lo > 64:  # halve while the halves are long: slices compare in C
        mid = (lo + hi) // 2
        if x[lo:mid] != y[lo:mid]:
            hi = mid
        else:
            lo = mid
    for i in range(lo, hi):
        if x[i] != y[i]:
            return i
    return hi  # pragma: no cover - callers pass unequal strings


class _Ranges:
    """Changed ranges, merged when adjacent, capped at :data:`MAX_RANGES`."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self.changed = 0
        self.truncated = False

    def add(self, start: int, end: int) -> None:
        self.changed += end - start
        if self.ranges and self.ranges[-1][1] == start:
            self.ranges[-1][1] = end
        elif len(self.ranges) < MAX_RANGES:
            self.ranges.append([start, end])
        else:
            self.truncated = True


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputFileError(f"cannot read ({exc.strerror or exc})", path=path) from exc


def _hash_one(path: Path) -> tuple[int, str, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    with _open(path) as f:
        try:
            while block := _read_full(f, BLOCK):
                if not size:
                    head = block[:HEAD_BYTES]
                digest.update(block)
                size += len(block)
        except OSError as exc:
            raise InputFileError(f"cannot read ({exc.strerror or exc})", path=path) from exc
    return size, digest.hexdigest(), head


def compare_bytes(a: Path | None, b: Path | None, name: str) -> FileDiff:
    """Compare two files byte by byte, streaming (``None``: the side is absent)."""
    if a is None and b is None:
        return FileDiff(name, "bytes", "unchanged", summary=["bytes: both sides absent"])
    if a is None or b is None:
        present = b if a is None else a
        assert present is not None
        size, sha, head = _hash_one(present)
        side = "b" if a is None else "a"
        figures: dict[str, Any] = {f"size_{side}": size, f"sha256_{side}": sha,
                                   f"format_{side}": sniff(head, name)}
        return FileDiff(name, "bytes", "added" if a is None else "deleted",
                        summary=[f"format: {sniff(head, name)}", f"size: {size:,} bytes",
                                 f"sha256: {sha}"], figures=figures)
    ha, hb = hashlib.sha256(), hashlib.sha256()
    size_a = size_b = 0
    head_a = head_b = b""
    first: int | None = None
    ranges = _Ranges()
    offset = 0
    with _open(a) as fa, _open(b) as fb:
        try:
            while True:
                xa = _read_full(fa, BLOCK)
                xb = _read_full(fb, BLOCK)
                if not xa and not xb:
                    break
                if offset == 0:
                    head_a, head_b = xa[:HEAD_BYTES], xb[:HEAD_BYTES]
                ha.update(xa)
                hb.update(xb)
                size_a += len(xa)
                size_b += len(xb)
                if xa != xb:
                    common = min(len(xa), len(xb))
                    for g in range(0, common, GRANULE):
                        stop = min(g + GRANULE, common)
                        ga, gb = xa[g:stop], xb[g:stop]
                        if ga != gb:
                            if first is None:
                                first = offset + g + _first_difference(ga, gb)
                            ranges.add(offset + g, offset + stop)
                    if len(xa) != len(xb):
                        if first is None:
                            first = offset + common
                        ranges.add(offset + common, offset + max(len(xa), len(xb)))
                offset += max(len(xa), len(xb))
        except OSError as exc:
            raise InputFileError(f"cannot read ({exc.strerror or exc})",
                                 path=exc.filename or name) from exc
    sha_a, sha_b = ha.hexdigest(), hb.hexdigest()
    fmt_a, fmt_b = sniff(head_a, name), sniff(head_b, name)
    figures = {"size_a": size_a, "size_b": size_b, "sha256_a": sha_a, "sha256_b": sha_b,
               "format_a": fmt_a, "format_b": fmt_b, "first_difference": first,
               "changed_bytes": ranges.changed, "changed_ranges": ranges.ranges,
               "ranges_truncated": ranges.truncated, "granularity": GRANULE}
    if first is None:
        return FileDiff(name, "bytes", "unchanged", figures=figures, summary=[
            f"format: {fmt_a}", f"bytes: identical ({size_a:,} bytes)", f"sha256: {sha_a}"])
    delta = size_b - size_a
    summary = [f"format: {fmt_a}" if fmt_a == fmt_b else f"format: {fmt_a} -> {fmt_b}",
               f"size: {size_a:,} -> {size_b:,} bytes ({delta:+,})",
               f"sha256: {sha_a} -> {sha_b}",
               f"first difference at byte {first:,} (0x{first:x})"]
    span = max(size_a, size_b) - first
    shown = ", ".join(f"0x{s:x}-0x{e:x}" for s, e in ranges.ranges[:_SHOWN_RANGES])
    more = len(ranges.ranges) - _SHOWN_RANGES
    extra = f" and {more}{'+' if ranges.truncated else ''} more" if more > 0 else ""
    summary.append(f"changed: {ranges.changed:,} bytes in {len(ranges.ranges)}"
                   f"{'+' if ranges.truncated else ''} range(s) of {GRANULE:,}-byte "
                   f"granules: {shown}{extra}")
    if delta and ranges.changed >= span - GRANULE:
        summary.append("everything after the first difference differs (bytes inserted or "
                       "removed there, or the file was rewritten)")
    return FileDiff(name, "bytes", "modified", summary=summary, figures=figures)


class BytesDiffer:
    """The fallback differ: accepts every file."""

    kind = "bytes"

    def accepts(self, name: str, head: bytes) -> bool:
        return True

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        return compare_bytes(a, b, name)
