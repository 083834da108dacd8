"""Field-by-field differences of photo metadata (EXIF, XMP, IPTC) and XMP sidecars.

The engine adds this differ's result as a *part* of every photo's diff (JPEG, TIFF,
camera raws, HEIC, WebP), and uses it as the whole diff of an XMP sidecar. Fields are
read by :mod:`creativevault.formats.metadata`; keys are exiv2-style
(``Exif.Photo.FNumber``, ``Xmp.xmp.Rating``, ``Iptc.Application2.Caption``).
"""

from __future__ import annotations

from pathlib import Path

from creativevault.features.diff.report import DiffOptions, FileDiff
from creativevault.formats.metadata import PhotoMetadata, is_photo, is_sidecar, read_metadata

__all__ = ["MAX_LINES", "MetadataDiffer", "compare_metadata", "describe_metadata"]

#: changed fields listed in the text summary (``--json`` lists them all)
MAX_LINES = 40

#: fields named in a one-side description, when present
_HIGHLIGHTS = ("Exif.Image.Make", "Exif.Image.Model", "Exif.Photo.DateTimeOriginal",
               "Exif.Photo.LensModel", "Xmp.xmp.Rating", "Xmp.xmp.Label",
               "Xmp.photoshop.DateCreated", "Iptc.Application2.Caption")


def _family(key: str) -> str:
    return key.split(".", 1)[0].lower()


def _counts_text(meta: PhotoMetadata) -> str:
    c = meta.counts()
    return f"{c['exif']} EXIF, {c['xmp']} XMP, {c['iptc']} IPTC fields"


def describe_metadata(meta: PhotoMetadata) -> list[str]:
    """A few lines describing one version's metadata (counts and highlight fields)."""
    fields = meta.fields()
    lines = [f"metadata: {_counts_text(meta)}"]
    lines += [f"{key}: {fields[key]}" for key in _HIGHLIGHTS if fields.get(key)]
    return lines


def compare_metadata(a: PhotoMetadata | None, b: PhotoMetadata | None,
                     path: str) -> FileDiff:
    """The field-by-field comparison of two versions' metadata (``None``: absent side)."""
    notes = [f"old version: {n}" for n in (a.notes if a else [])]
    notes += [f"new version: {n}" for n in (b.notes if b else [])]
    if a is None or b is None:
        present = b if a is None else a
        assert present is not None
        diff = FileDiff(path, "metadata", "added" if a is None else "deleted",
                        summary=describe_metadata(present), notes=notes)
        diff.figures = {"fields": present.counts(), "values": present.fields()}
        return diff
    fa, fb = a.fields(), b.fields()
    changed = {k: {"a": fa[k], "b": fb[k]} for k in fa if k in fb and fa[k] != fb[k]}
    added = {k: fb[k] for k in fb if k not in fa}
    removed = {k: fa[k] for k in fa if k not in fb}
    unchanged = sum(1 for k in fa if k in fb and fa[k] == fb[k])
    by_family = {fam: 0 for fam in ("exif", "xmp", "iptc")}
    for key in (*changed, *added, *removed):
        by_family[_family(key)] = by_family.get(_family(key), 0) + 1
    total = len(changed) + len(added) + len(removed)
    if not total:
        summary = [f"metadata: unchanged ({_counts_text(b)})"]
    else:
        summary = [f"metadata: {len(changed)} changed, {len(added)} added, "
                   f"{len(removed)} removed (EXIF {by_family['exif']}, XMP "
                   f"{by_family['xmp']}, IPTC {by_family['iptc']}); {unchanged} unchanged"]
        lines = [f"~ {k}: {v['a']} -> {v['b']}" for k, v in changed.items()]
        lines += [f"+ {k}: {v}" for k, v in added.items()]
        lines += [f"- {k}: {v}" for k, v in removed.items()]
        summary += lines[:MAX_LINES]
        if len(lines) > MAX_LINES:
            summary.append(f"... and {len(lines) - MAX_LINES} more (--json lists every field)")
    figures = {"fields": {"a": a.counts(), "b": b.counts()}, "changed": changed,
               "added": added, "removed": removed, "unchanged": unchanged}
    return FileDiff(path, "metadata", "modified" if total else "unchanged",
                    summary=summary, figures=figures, notes=notes)


class MetadataDiffer:
    """Compares photo metadata (EXIF/XMP/IPTC); the whole diff of an XMP sidecar."""

    kind = "metadata"

    def accepts(self, name: str, head: bytes) -> bool:
        return is_sidecar(name) or is_photo(name, head)

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        ma = read_metadata(a, name) if a is not None else None
        mb = read_metadata(b, name) if b is not None else None
        return compare_metadata(ma, mb, name)
