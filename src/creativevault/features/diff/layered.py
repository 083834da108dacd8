"""Diffs of layered documents (PSD/PSB, OpenRaster, Krita): per layer, then the composite.

Layers are matched across versions by their stable identity (Photoshop layer id, Krita
uuid, else the path in the group tree); what is still unmatched is paired by identical
stored pixel data, so a renamed or regrouped layer is reported as such and not as a removal
plus an addition. Only layers whose stored pixel data differs are decoded (see
:mod:`creativevault.formats.layered`), and those are compared with
:func:`~creativevault.features.diff.raster.compare_arrays` over the union of both
versions' boxes. A layer counts as moved when its parent group changed or when it left the
longest run of layers that kept their relative order (so one insertion does not "move"
everything above it).

Pictures (when ``options.out_dir`` is set): ``<stem>.layer-<n>-<name>.png`` for every layer
whose pixels changed, was added or removed (version A | version B | heat map, changed
regions outlined), and ``<stem>.composite.png`` for the whole image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from creativevault.features.diff.report import DiffOptions, FileDiff, Picture, Region
from creativevault.formats.layered import LayeredDoc, LayerInfo, is_layered, load_layered

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from creativevault.imaging.compare import RasterFigures

__all__ = ["LayeredDiffer", "match_layers", "moved_layers"]

#: changed regions listed in a summary line (the JSON figures hold all of them)
_REGIONS_IN_LINE = 3


@dataclass
class _Pair:
    a: LayerInfo | None
    b: LayerInfo | None
    changes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    status: str = "unchanged"
    pixels: tuple[Any, Any, tuple[int, int, int, int], Any] | None = None
    decoded: bool = False


def match_layers(a: list[LayerInfo], b: list[LayerInfo]
                 ) -> tuple[list[tuple[LayerInfo, LayerInfo]], list[LayerInfo], list[LayerInfo]]:
    """Pair the layers of two versions: (pairs, only in ``a``, only in ``b``).

    First by identity, then the rest by identical stored pixels (unique on both sides).
    """
    by_id_b = {info.id: info for info in b}
    pairs: list[tuple[LayerInfo, LayerInfo]] = []
    left: list[LayerInfo] = []
    taken: set[str] = set()
    for info in a:
        other = by_id_b.get(info.id)
        if other is not None and other.kind == info.kind and other.id not in taken:
            pairs.append((info, other))
            taken.add(other.id)
        else:
            left.append(info)
    right = [info for info in b if info.id not in taken]

    def unique(infos: list[LayerInfo]) -> dict[str, LayerInfo]:
        seen: dict[str, list[LayerInfo]] = {}
        for info in infos:
            if info.pixel_hash and info.kind == "layer":
                seen.setdefault(info.pixel_hash, []).append(info)
        return {h: v[0] for h, v in seen.items() if len(v) == 1}

    ua, ub = unique(left), unique(right)
    for h, info in ua.items():
        if h in ub:
            pairs.append((info, ub[h]))
            left.remove(info)
            right.remove(ub[h])
    pairs.sort(key=lambda p: p[0].index)
    return pairs, left, right


def moved_layers(pairs: list[tuple[LayerInfo, LayerInfo]]) -> set[str]:
    """Ids (version B) of paired layers outside the longest run that kept its order.

    Among runs of equal length the one keeping more layers at their old index wins (a swap
    of two layers reports those two). Quadratic; beyond 2,000 layers any longest run.
    """
    ordered = sorted(pairs, key=lambda p: p[0].index)
    seq = [p[1].index for p in ordered]
    n = len(seq)
    if n > 2000:
        return _moved_fast(ordered)
    weight = [1.0 + (1e-6 if pa.index == pb.index else 0.0) for pa, pb in ordered]
    best = weight[:]
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if seq[j] < seq[i] and best[j] + weight[i] > best[i]:
                best[i], prev[i] = best[j] + weight[i], j
    keep: set[int] = set()
    i = max(range(n), key=best.__getitem__) if n else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return {p[1].id for k, p in enumerate(ordered) if k not in keep}


def _moved_fast(ordered: list[tuple[LayerInfo, LayerInfo]]) -> set[str]:
    import bisect

    seq = [p[1].index for p in ordered]
    tails: list[int] = []  # patience sorting for a longest increasing subsequence
    tail_pos: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_pos.append(i)
        else:
            tails[k] = v
            tail_pos[k] = i
        prev[i] = tail_pos[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_pos[-1] if tail_pos else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return {p[1].id for k, p in enumerate(ordered) if k not in keep}


def _pct(x: float) -> str:
    if x == 0:
        return "0%"
    if x < 0.001:
        return "<0.1%"
    return f"{x * 100:.1f}%"


def _box(r: Region | tuple[int, int, int, int]) -> str:
    if isinstance(r, Region):
        return f"[{r.x0},{r.y0},{r.x1},{r.y1}]"
    return "[{},{},{},{}]".format(*r)


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]
           ) -> tuple[int, int, int, int]:
    boxes = [x for x in (a, b) if x[2] > x[0] and x[3] > x[1]]
    if not boxes:
        return (0, 0, 0, 0)
    return (min(x[0] for x in boxes), min(x[1] for x in boxes),
            max(x[2] for x in boxes), max(x[3] for x in boxes))


def _place(pixels: np.ndarray, bbox: tuple[int, int, int, int], area: tuple[int, int, int, int],
           dtype: Any) -> np.ndarray:
    """``pixels`` (covering ``bbox``) on a transparent canvas covering ``area``.

    Colour under fully transparent pixels is cleared: editors keep stale colour there
    (Krita does), and a difference nobody can see is not a change.
    """
    import numpy as np

    out = np.zeros((area[3] - area[1], area[2] - area[0], 4), dtype)
    h, w = pixels.shape[:2]
    if h and w:
        view = out[bbox[1] - area[1]:bbox[1] - area[1] + h,
                   bbox[0] - area[0]:bbox[0] - area[0] + w]
        view[...] = pixels
        view[..., :3][view[..., 3] == 0] = 0
    return out


def _common(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two images with the same shape: padded to the larger size, channels made equal."""
    import numpy as np

    from creativevault.imaging.pictures import to_unit_float

    if a.ndim == 2:
        a = a[..., None]
    if b.ndim == 2:
        b = b[..., None]
    if a.shape[2] != b.shape[2] or a.dtype != b.dtype:
        a, b = _rgba_float(to_unit_float(a)), _rgba_float(to_unit_float(b))
    h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])

    def pad(x: np.ndarray) -> np.ndarray:
        if x.shape[:2] == (h, w):
            return x
        out = np.zeros((h, w, x.shape[2]), x.dtype)
        out[:x.shape[0], :x.shape[1]] = x
        return out

    return pad(a), pad(b)


def _rgba_float(x: np.ndarray) -> np.ndarray:
    import numpy as np

    c = x.shape[2]
    if c == 4:
        return x
    if c == 3:
        return np.concatenate([x, np.ones(x.shape[:2] + (1,), np.float32)], axis=2)
    grey = x[..., :1]
    alpha = x[..., 1:2] if c == 2 else np.ones_like(grey)
    return np.concatenate([grey, grey, grey, alpha], axis=2)


def _pixel_phrase(fig: RasterFigures, origin: tuple[int, int]) -> tuple[str, list[Region]]:
    regions = [Region(r.x0 + origin[0], r.y0 + origin[1], r.x1 + origin[0],
                      r.y1 + origin[1], r.pixels) for r in fig.regions]
    n = fig.region_count
    boxes = ", ".join(_box(r) for r in regions[:_REGIONS_IN_LINE])
    more = ", ..." if len(regions) > _REGIONS_IN_LINE else ""
    return (f"pixels changed {_pct(fig.changed_fraction)} in {n} region"
            f"{'' if n == 1 else 's'} {boxes}{more}"), regions


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_.")[:40] or "layer"


class LayeredDiffer:
    """Differ for layered documents: PSD, PSB, OpenRaster (.ora) and Krita (.kra)."""

    kind = "layered"

    def accepts(self, name: str, head: bytes) -> bool:
        """PSD/PSB by extension or magic; ORA/KRA by extension (they are zip files)."""
        return is_layered(name, head)

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        """Compare two versions of a layered document (either may be absent)."""
        doc_a = load_layered(a) if a is not None else None
        try:
            doc_b = load_layered(b) if b is not None else None
            try:
                return self._diff(doc_a, doc_b, name, options)
            finally:
                if doc_b is not None:
                    doc_b.close()
        finally:
            if doc_a is not None:
                doc_a.close()

    # ------------------------------------------------------------------ whole documents

    def _diff(self, da: LayeredDoc | None, db: LayeredDoc | None, name: str,
              options: DiffOptions) -> FileDiff:
        stem = PurePosixPath(name).stem or "layered"
        if da is None or db is None:
            return self._one_side(da, db, name, stem, options)
        result = FileDiff(path=name, kind=self.kind, status="unchanged")
        result.figures = {"a": self._doc_json(da), "b": self._doc_json(db)}
        doc_changes = []
        if da.size != db.size:
            doc_changes.append("canvas {}x{} -> {}x{}".format(*da.size, *db.size))
        if da.bit_depth != db.bit_depth:
            doc_changes.append(f"bit depth {da.bit_depth} -> {db.bit_depth}")
        if da.format != db.format:
            doc_changes.append(f"format {da.format} -> {db.format}")

        pairs, removed, added = match_layers(da.layers, db.layers)
        moved = moved_layers(pairs)
        map_ab = {pa.id: pb.id for pa, pb in pairs}
        entries: list[_Pair] = []
        for pa, pb in pairs:
            entry = self._compare_pair(da, db, pa, pb, pb.id in moved, map_ab, options)
            if entry.status != "unchanged":
                entries.append(entry)
        for info in removed:
            entries.append(self._one_layer(da, info, "removed", options))
        for info in added:
            entries.append(self._one_layer(db, info, "added", options))
        entries.sort(key=lambda e: (e.b.index if e.b else e.a.index if e.a else 0,
                                    e.b is None))
        for n, entry in enumerate(entries, 1):
            result.parts.append(self._layer_part(entry, n, stem, options))

        composite = self._composite_part(da, db, stem, options)
        result.parts.append(composite)
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry.status] = counts.get(entry.status, 0) + 1
        order = ("added", "removed", "modified", "renamed", "moved")
        tally = ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
        line = f"layered: {len(da.layers)} layers -> {len(db.layers)} layers; "
        line += tally or "no layer changed"
        if doc_changes:
            line += "; " + "; ".join(doc_changes)
        result.summary.append(line)
        result.figures.update({
            "layers_a": len(da.layers), "layers_b": len(db.layers), "counts": counts,
            "document_changes": doc_changes,
            "decoded_layers": sum(1 for e in entries if e.decoded),
        })
        changed = bool(entries or doc_changes or composite.status != "unchanged")
        result.status = "modified" if changed else "unchanged"
        for part in result.parts:
            result.pictures.extend(part.pictures)
        return result

    @staticmethod
    def _doc_json(doc: LayeredDoc) -> dict[str, Any]:
        return {"format": doc.format, "width": doc.size[0], "height": doc.size[1],
                "bit_depth": doc.bit_depth, "layers": len(doc.layers)}

    def _one_side(self, da: LayeredDoc | None, db: LayeredDoc | None, name: str, stem: str,
                  options: DiffOptions) -> FileDiff:
        doc = db if db is not None else da
        status = "added" if db is not None else "deleted"
        if doc is None:
            return FileDiff(path=name, kind=self.kind, status="unchanged",
                            summary=["layered: both versions absent"])
        w, h = doc.size
        result = FileDiff(path=name, kind=self.kind, status=status)
        result.summary.append(
            f"layered: {'new' if status == 'added' else 'deleted'} {doc.format.upper()} "
            f"document, {w}x{h}, {doc.bit_depth}-bit, {len(doc.layers)} layers")
        result.figures = {"a" if status == "deleted" else "b": self._doc_json(doc),
                          "layers": [info.to_json() for info in doc.layers]}
        if options.out_dir is not None:
            from creativevault.imaging import pictures as pics

            img = pics.to_display_rgb8(self._fit(doc.composite(), options))
            path = pics.save_png(img, Path(options.out_dir) / f"{stem}.composite.png")
            result.pictures.append(Picture("composite", path))
        return result

    # ------------------------------------------------------------------ layers

    def _compare_pair(self, da: LayeredDoc, db: LayeredDoc, a: LayerInfo, b: LayerInfo,
                      moved: bool, map_ab: dict[str, str], options: DiffOptions) -> _Pair:
        entry = _Pair(a, b)
        ch = entry.changes
        fig = entry.figures
        if a.pixel_hash != b.pixel_hash and (a.kind == "layer" or b.kind == "layer"):
            self._compare_pixels(da, db, entry, options)
        if abs(a.opacity - b.opacity) > 1e-6:
            ch.append(f"opacity {round(a.opacity * 100)}%->{round(b.opacity * 100)}%")
            fig["opacity"] = [a.opacity, b.opacity]
        if a.blend_mode != b.blend_mode:
            ch.append(f"blend {a.blend_mode}->{b.blend_mode}")
            fig["blend_mode"] = [a.blend_mode, b.blend_mode]
        if a.visible != b.visible:
            ch.append("visible->hidden" if a.visible else "hidden->visible")
            fig["visible"] = [a.visible, b.visible]
        if a.has_mask != b.has_mask:
            ch.append("mask added" if b.has_mask else "mask removed")
            fig["mask"] = "added" if b.has_mask else "removed"
        elif a.mask_hash != b.mask_hash:
            ch.append("mask changed")
            fig["mask"] = "changed"
        modified = bool(ch)
        parent_a = map_ab.get(a.parent or "", a.parent)
        regrouped = parent_a != b.parent
        if moved or regrouped:
            where = ""
            if regrouped:
                where = (f" ({_group_of(a)} -> {_group_of(b)})")
            ch.append(f"moved {a.index}->{b.index}{where}")
            fig["moved"] = {"index": [a.index, b.index],
                            "group": [_group_of(a), _group_of(b)]}
        if a.name != b.name:
            ch.append(f"renamed '{a.name}'->'{b.name}'")
            fig["renamed"] = [a.name, b.name]
        if modified:
            entry.status = "modified"
        elif a.name != b.name:
            entry.status = "renamed"
        elif moved or regrouped:
            entry.status = "moved"
        return entry

    def _compare_pixels(self, da: LayeredDoc, db: LayeredDoc, entry: _Pair,
                        options: DiffOptions) -> None:
        import numpy as np

        from creativevault.imaging.compare import compare_arrays

        a, b = entry.a, entry.b
        assert a is not None and b is not None
        pa, pb = da.decode_layer(a.id), db.decode_layer(b.id)
        entry.decoded = True
        area = _union(a.bbox, b.bbox)
        if pa.dtype != pb.dtype:
            from creativevault.imaging.pictures import to_unit_float

            pa, pb = to_unit_float(pa), to_unit_float(pb)
        dtype = pa.dtype if pa.size else pb.dtype if pb.size else np.dtype(np.uint8)
        ca, cb = _place(pa, a.bbox, area, dtype), _place(pb, b.bbox, area, dtype)
        del pa, pb
        if ca.size == 0:
            entry.figures["pixels"] = {"stored_data_changed": True, "changed_pixels": 0}
            return
        figs = compare_arrays(ca, cb, threshold=options.threshold)
        data = figs.to_json()
        phrase, regions = _pixel_phrase(figs, (area[0], area[1]))
        data["regions"] = [r.to_json() for r in regions]
        data["area"] = list(area)
        canvas = max(1, da.size[0] * da.size[1])
        data["canvas_fraction"] = figs.changed_pixels / canvas
        data["stored_data_changed"] = True
        entry.figures["pixels"] = data
        if a.bbox != b.bbox:
            entry.figures["bbox"] = [list(a.bbox), list(b.bbox)]
        if figs.changed_pixels:
            entry.changes.insert(0, phrase)
            entry.pixels = (ca, cb, area, regions)
        else:
            entry.figures["pixels"]["note"] = "stored data differs, pixels identical"

    def _one_layer(self, doc: LayeredDoc, info: LayerInfo, status: str,
                   options: DiffOptions) -> _Pair:
        entry = _Pair(info if status == "removed" else None,
                      info if status == "added" else None, status=status)
        x0, y0, x1, y1 = info.bbox
        what = "group" if info.kind == "group" else f"{x1 - x0}x{y1 - y0} px {_box(info.bbox)}"
        entry.changes.append(f"{status} at {info.index}, {what}")
        entry.figures["layer"] = info.to_json()
        if options.out_dir is not None and info.kind == "layer" and x1 > x0 and y1 > y0:
            pixels = doc.decode_layer(info.id)
            empty = _place(pixels[:0, :0], info.bbox, info.bbox, pixels.dtype)
            ca, cb = (pixels, empty) if status == "removed" else (empty, pixels)
            entry.pixels = (ca, cb, info.bbox, [Region(x0, y0, x1, y1, (x1 - x0) * (y1 - y0))])
        return entry

    def _layer_part(self, entry: _Pair, n: int, stem: str, options: DiffOptions) -> FileDiff:
        info = entry.b if entry.b is not None else entry.a
        assert info is not None
        part = FileDiff(path=info.path, kind="layer", status=entry.status)
        part.summary.append(f"layer '{info.name}' ({info.path}): " + "; ".join(entry.changes))
        part.figures = {"id": info.id, "status": entry.status,
                        "a": entry.a.to_json() if entry.a else None,
                        "b": entry.b.to_json() if entry.b else None, **entry.figures}
        if entry.pixels is not None and options.out_dir is not None:
            ca, cb, area, regions = entry.pixels
            path = Path(options.out_dir) / f"{stem}.layer-{n:02d}-{_safe(info.name)}.png"
            self._picture(ca, cb, regions, (area[0], area[1]), path, options)
            part.pictures.append(Picture(f"layer:{info.name}", path))
        entry.pixels = None  # free the canvases
        return part

    # ------------------------------------------------------------------ composite

    def _composite_part(self, da: LayeredDoc, db: LayeredDoc, stem: str,
                        options: DiffOptions) -> FileDiff:
        from creativevault.imaging.compare import compare_arrays

        part = FileDiff(path="composite", kind="composite", status="unchanged")
        ca, cb = _common(da.composite(), db.composite())
        figs = compare_arrays(ca, cb, threshold=options.threshold)
        part.figures = figs.to_json()
        if figs.changed_pixels:
            phrase, regions = _pixel_phrase(figs, (0, 0))
            part.status = "modified"
            part.summary.append(f"composite: {phrase}; SSIM {figs.ssim:.4f}")
        else:
            regions = []
            part.summary.append("composite: unchanged")
        if options.out_dir is not None:
            path = Path(options.out_dir) / f"{stem}.composite.png"
            self._picture(ca, cb, regions, (0, 0), path, options)
            part.pictures.append(Picture("composite", path))
        return part

    # ------------------------------------------------------------------ pictures

    @staticmethod
    def _fit(array: np.ndarray, options: DiffOptions) -> np.ndarray:
        from creativevault.imaging import pictures as pics

        return array if options.full_resolution else pics.fit_edge(array, options.preview_edge)

    def _picture(self, a: np.ndarray, b: np.ndarray, regions: list[Region],
                 origin: tuple[int, int], path: Path, options: DiffOptions) -> None:
        """A | B | heat map, changed regions outlined on B; written to ``path``."""
        import numpy as np

        from creativevault.imaging import pictures as pics

        h, w = a.shape[:2]
        factor = 1 if options.full_resolution else pics.fit_factor(w, h, options.preview_edge)
        fa = pics.to_unit_float(pics.fit_edge(a, 0, factor=factor))
        fb = pics.to_unit_float(pics.fit_edge(b, 0, factor=factor))
        if fa.ndim == 2:
            fa, fb = fa[..., None], fb[..., None]
        diff = np.abs(np.nan_to_num(fa) - np.nan_to_num(fb)).max(axis=2)
        left, right = pics.to_display_rgb8(fa), pics.to_display_rgb8(fb).copy()
        local = [Region(r.x0 - origin[0], r.y0 - origin[1], r.x1 - origin[0],
                        r.y1 - origin[1], r.pixels) for r in regions]
        right = pics.draw_regions(right, local, scale=factor)
        img = pics.side_by_side([left, right, pics.heatmap(diff)], ["A", "B", "difference"])
        pics.save_png(img, path)


def _group_of(info: LayerInfo) -> str:
    parent = info.path.rsplit("/", 1)[0] if "/" in info.path else ""
    return parent or "(top)"
