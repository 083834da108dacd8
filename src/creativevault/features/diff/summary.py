"""A readable summary of one version of a vault file: what ``git diff`` shows for it.

Used as git's ``textconv`` for the ``cvault`` diff driver, so ``git diff`` and
``git log -p`` print a few stable lines (format, size, content id, presence) instead of
pointer text or binary noise. With ``describe``, real content also gets the diff
feature's description of that one version (dimensions, layers, mesh figures, photo
metadata field by field) after those lines, so ``git log -p`` shows which of them changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
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
    #: the format-aware description of the content, when asked for
    details: tuple[str, ...] = field(default=(), compare=False)

    def lines(self) -> list[str]:
        where = "" if self.present else " (content not in this vault)"
        return [f"format: {self.kind}{where}", f"size: {self.size:,} bytes",
                f"sha256: {self.sha256}", *self.details]


def summarize_file(vault, path: Path, *, describe: bool = False,
                   name: str | None = None) -> Summary:
    """Summarise ``path``: a pointer (content looked up in ``vault``) or real content.

    ``describe`` adds the diff feature's one-version description of real content
    (``name``, default the file's name, says which format to expect). A pointer's content
    is not described: it would have to be restored first.
    """
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
    details: tuple[str, ...] = ()
    if describe:
        from creativevault.features.diff.engine import describe_file

        details = tuple(describe_file(path, name or path.name))
    return Summary(sniff(head, path.name), size, digest.hexdigest(), True, False, details)
