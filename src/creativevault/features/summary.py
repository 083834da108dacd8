"""A readable summary of one version of a vault file: what ``git diff`` shows for it.

Used as git's ``textconv`` for the ``cvault`` diff driver, so ``git diff`` and
``git log -p`` print a few stable lines (format, size, content id, presence) instead of
pointer text or binary noise. Format-aware details (dimensions, layers) belong to the
diff feature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from creativevault.errors import CorruptObjectError, NotAPointerError, PointerError
from creativevault.formats.sniff import HEAD_BYTES, sniff
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer

__all__ = ["Summary", "summarize_file"]


@dataclass(frozen=True)
class Summary:
    """What a version is, in a few lines."""

    kind: str
    size: int
    sha256: str
    present: bool
    pointer: bool

    def lines(self) -> list[str]:
        where = "" if self.present else " (content not in this vault)"
        return [f"format: {self.kind}{where}", f"size: {self.size:,} bytes",
                f"sha256: {self.sha256}"]


def summarize_file(vault, path: Path) -> Summary:
    """Summarise ``path``: a pointer (content looked up in ``vault``) or real content."""
    size = path.stat().st_size
    if size <= MAX_POINTER_SIZE:
        data = path.read_bytes()
        try:
            ptr = parse_pointer(data, path=str(path))
        except (NotAPointerError, PointerError):
            pass
        else:
            present = vault is not None and vault.store.has_file(ptr.oid)
            kind = "vault file"
            if present:
                try:
                    head = next(iter(vault.store.iter_file(ptr.oid)), b"")[:HEAD_BYTES]
                    kind = sniff(head, path.name)
                except CorruptObjectError:
                    kind = "vault file, DAMAGED in this vault (run cvault fsck)"
            return Summary(kind, ptr.size, ptr.oid, present, True)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        digest.update(head)
        while block := f.read(1 << 20):
            digest.update(block)
    return Summary(sniff(head, path.name), size, digest.hexdigest(), True, False)
