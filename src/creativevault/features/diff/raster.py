"""Raster image comparison: figures from two pixel arrays, and the differ for image files.

:func:`compare_arrays` is the shared core (the layered-file differ calls it for layers and
composites). It never reduces precision before comparing: 8- and 16-bit integers are
differenced in their own dtype, floats in float32, and every figure is then expressed on a
0..1 scale (full scale is 255, 65535, or 1.0 for float images, whose HDR values may make a
difference exceed 1). It works in row tiles across a few threads, so a 100-MP 16-bit pair
needs only the two images, a one-byte-per-pixel change mask and small tile temporaries.

Documented downsamples:

* SSIM runs on luminance (Rec. 709 weights; the first channel of grey images, alpha
  ignored), block-averaged by an integer factor so the long edge is at most
  :data:`SSIM_EDGE` pixels (the last ``factor - 1`` rows/columns may be left out), with
  the usual 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, data range 1.
* Changed regions are found on the change mask pooled (block maximum) so its long edge
  is at most :data:`MASK_EDGE` cells; components closer than :data:`REGION_GAP` cells are
  merged into one region, then each region's box and pixel count are made exact on the
  full-resolution mask.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creativevault.features.diff.report import DiffOptions, FileDiff, Picture, Region
from creativevault.formats.raster import RAW_EXTENSIONS, Raster, load_raster

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MASK_EDGE",
    "RAW_EXTENSIONS",
    "RASTER_EXTENSIONS",
    "REGION_GAP",
    "SSIM_EDGE",
    "RasterDiffer",
    "RasterFigures",
    "compare_arrays",
    "full_scale",
    "phash_distance",
]

#: SSIM is computed on luminance downsampled to at most this long edge
SSIM_EDGE = 1024
#: changed regions are clustered on the change mask pooled to at most this long edge
MASK_EDGE = 512
#: components of the pooled mask closer than this many cells become one region
REGION_GAP = 2
#: at most this many regions are reported (the largest first)
MAX_REGIONS = 100
#: elements per tile of work (bounds temporaries whatever the image size)
_TILE_ELEMENTS = 1 << 21

#: extensions this differ takes (camera raws through their embedded preview)
RASTER_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "jfif", "tif", "tiff", "exr",
                               "webp", "bmp", "gif", "tga"}) | RAW_EXTENSIONS


@dataclass
class RasterFigures:
    """What :func:`compare_arrays` measured (differences on a 0..1 scale)."""

    width: int
    height: int
    channels: int
    changed_pixels: int
    changed_fraction: float
    regions: list[Region]
    #: components found before the list was capped at :data:`MAX_REGIONS`
    region_count: int
    mean_diff: float
    max_diff: float
    #: peak signal 1.0; ``math.inf`` when identical
    psnr: float
    ssim: float
    #: the block factor SSIM's luminance was averaged by (1: full resolution)
    ssim_factor: int
    #: the change mask pooled by ``mask_scale`` (a small bool array, for pictures)
    mask_preview: Any = field(repr=False, default=None)
    mask_scale: int = 1

    def to_json(self) -> dict[str, Any]:
        """Every figure as JSON-ready values (infinite PSNR becomes ``None``)."""
        return {
            "width": self.width, "height": self.height, "channels": self.channels,
            "changed_pixels": self.changed_pixels,
            "changed_fraction": self.changed_fraction,
            "regions": [r.to_json() for r in self.regions],
            "region_count": self.region_count,
            "mean_diff": self.mean_diff, "max_diff": self.max_diff,
            "psnr": None if math.isinf(self.psnr) else self.psnr,
            "ssim": self.ssim, "ssim_factor": self.ssim_factor,
        }


def full_scale(dtype: Any) -> float:
    """The value meaning "full intensity" for ``dtype`` (1.0 for floats)."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt.kind == "b":
        return 1.0
    if dt.kind in "ui":
        return float(np.iinfo(dt).max)
    return 1.0


def _as_hwc(array: np.ndarray) -> np.ndarray:
    return array[:, :, None] if array.ndim == 2 else array


def _luma(tile: np.ndarray, scale: float) -> np.ndarray:
    """Luminance of an (h, w, c) tile as float32 on the 0..1 scale."""
    import numpy as np

    if tile.shape[2] >= 3:
        out = tile[:, :, 0].astype(np.float32) * np.float32(0.2126)
        out += tile[:, :, 1].astype(np.float32) * np.float32(0.7152)
        out += tile[:, :, 2].astype(np.float32) * np.float32(0.0722)
    else:
        out = tile[:, :, 0].astype(np.float32)
    if scale != 1.0:
        out *= np.float32(1.0 / scale)
    return np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _block_mean(plane: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of a 2-D float32 plane (rows already a multiple)."""
    if factor == 1:
        return plane
    h, w = plane.shape
    w2 = w - w % factor
    return plane[:, :w2].reshape(h // factor, factor, w2 // factor, factor).mean(axis=(1, 3))


def _tile_diff(ta: np.ndarray, tb: np.ndarray, same_int: bool, sa: float,
               sb: float) -> np.ndarray:
    """|a - b| of one tile: native dtype for equal integer dtypes, else float32 on 0..1."""
    import numpy as np

    if same_int:
        d = np.maximum(ta, tb)
        d -= np.minimum(ta, tb)
        return d
    fa = ta.astype(np.float32)
    fb = tb.astype(np.float32)
    # divide (correctly rounded), so v/255 and 257v/65535 give the very same float32
    if sa != 1.0:
        fa /= np.float32(sa)
    if sb != 1.0:
        fb /= np.float32(sb)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, handled just below
        d = np.abs(fa - fb)
    bad = ~np.isfinite(d)
    if bad.any():  # NaN/inf: equal when both sides hold the same special value
        same = (fa == fb) | (np.isnan(fa) & np.isnan(fb))
        d[bad] = np.where(same[bad], 0.0, 1.0)
    return d


def compare_arrays(a: np.ndarray, b: np.ndarray, *, threshold: float = 0.0) -> RasterFigures:
    """Compare two same-shape images (H x W or H x W x C; uint8/uint16/float16/float32...).

    A pixel counts as changed when any channel differs by more than ``threshold`` (a
    fraction of full scale; 0 means any difference). Precision is never reduced before
    differencing. Raises ``ValueError`` if the shapes differ.
    """
    import numpy as np

    a = _as_hwc(np.asarray(a))
    b = _as_hwc(np.asarray(b))
    if a.shape != b.shape:
        raise ValueError(f"compare_arrays needs equal shapes, got {a.shape} and {b.shape}")
    h, w, c = a.shape
    if a.dtype == bool:
        a = a.view(np.uint8)
    if b.dtype == bool:
        b = b.view(np.uint8)
    same_int = a.dtype == b.dtype and a.dtype.kind in "ui"
    sa, sb = full_scale(a.dtype), full_scale(b.dtype)
    scale = sa if same_int else 1.0
    if same_int:
        limit: float = math.floor(threshold * scale) if threshold > 0 else 0
    else:
        limit = threshold

    ssim_factor = max(1, math.ceil(max(h, w) / SSIM_EDGE))
    rows = max(1, _TILE_ELEMENTS // max(1, w * c))
    rows = max(ssim_factor, rows - rows % ssim_factor)
    starts = list(range(0, h, rows))
    mask = np.empty((h, w), dtype=bool)
    ssim_rows = h - h % ssim_factor

    def work(r0: int) -> tuple[float, float, float, int, Any, Any]:
        r1 = min(h, r0 + rows)
        ta, tb = a[r0:r1], b[r0:r1]
        d = _tile_diff(ta, tb, same_int, sa, sb)
        if d.dtype.kind == "u" and d.itemsize <= 2:  # exact integer sums, no float64 copy
            total = float(d.sum(dtype=np.uint64))
            wide = d.astype(np.uint16 if d.itemsize == 1 else np.uint32)
            wide *= wide
            sq = float(wide.sum(dtype=np.uint64))
        else:
            total = float(d.sum(dtype=np.float64))
            wide = d.reshape(-1).astype(np.float64)
            sq = float(wide @ wide)
        del wide
        pix = d[:, :, 0]
        for k in range(1, c):  # a chain of maximums beats max(axis=2) on interleaved data
            pix = np.maximum(pix, d[:, :, k])
        peak = float(pix.max()) if pix.size else 0.0
        np.greater(pix, limit, out=mask[r0:r1])
        count = int(np.count_nonzero(mask[r0:r1]))
        la = lb = None
        s1 = min(r1, ssim_rows)
        if s1 > r0:
            la = _block_mean(_luma(ta[: s1 - r0], sa), ssim_factor)
            lb = _block_mean(_luma(tb[: s1 - r0], sb), ssim_factor)
        return total, sq, peak, count, la, lb

    workers = min(4, os.cpu_count() or 1, len(starts)) or 1
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(work, starts))
    else:
        parts = [work(r0) for r0 in starts]

    samples = max(1, h * w * c)
    total = sum(p[0] for p in parts)
    sq = sum(p[1] for p in parts)
    peak = max((p[2] for p in parts), default=0.0)
    changed = sum(p[3] for p in parts)
    mean_diff = total / samples / scale
    mse = sq / samples / (scale * scale)
    psnr = math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
    luma_a = [p[4] for p in parts if p[4] is not None]
    luma_b = [p[5] for p in parts if p[5] is not None]
    if changed == 0 and mse == 0:
        ssim = 1.0
    elif luma_a:
        ssim = _ssim(np.concatenate(luma_a), np.concatenate(luma_b))
    else:
        ssim = float("nan")

    mask_scale = max(1, math.ceil(max(h, w) / MASK_EDGE))
    pooled = _pool(mask, mask_scale) if changed else np.zeros(
        (math.ceil(h / mask_scale), math.ceil(w / mask_scale)), dtype=bool)
    regions, region_count = _regions(mask, pooled, mask_scale) if changed else ([], 0)
    return RasterFigures(
        width=w, height=h, channels=c, changed_pixels=changed,
        changed_fraction=changed / max(1, h * w), regions=regions,
        region_count=region_count, mean_diff=mean_diff, max_diff=peak / scale, psnr=psnr,
        ssim=ssim, ssim_factor=ssim_factor, mask_preview=pooled, mask_scale=mask_scale)


def _pool(mask: np.ndarray, s: int) -> np.ndarray:
    """Block maximum of a bool mask over ``s`` x ``s`` cells (edges included)."""
    import numpy as np

    if s == 1:
        return mask.copy()
    h, w = mask.shape
    m = mask.view(np.uint8)
    rows = np.maximum.reduceat(m, np.arange(0, h, s), axis=0)
    return np.maximum.reduceat(rows, np.arange(0, w, s), axis=1).astype(bool)


def _regions(mask: np.ndarray, pooled: np.ndarray, s: int) -> tuple[list[Region], int]:
    """Clustered changed regions: label the dilated pooled mask, then exact boxes."""
    import numpy as np
    from scipy import ndimage

    grown = ndimage.binary_dilation(pooled, structure=np.ones((3, 3), bool),
                                    iterations=max(1, REGION_GAP // 2 + REGION_GAP % 2))
    labels, count = ndimage.label(grown, structure=np.ones((3, 3), bool))
    boxes: list[list[int]] = []
    for sl in ndimage.find_objects(labels):
        if sl is None:
            continue
        y0, y1 = sl[0].start * s, min(mask.shape[0], sl[0].stop * s)
        x0, x1 = sl[1].start * s, min(mask.shape[1], sl[1].stop * s)
        boxes.append([x0, y0, x1, y1])
    boxes = _merge_overlapping(boxes)
    regions = []
    for x0, y0, x1, y1 in boxes:
        sub = mask[y0:y1, x0:x1]
        ys = np.flatnonzero(sub.any(axis=1))
        if not ys.size:
            continue
        xs = np.flatnonzero(sub.any(axis=0))
        ex0, ex1 = x0 + int(xs[0]), x0 + int(xs[-1]) + 1
        ey0, ey1 = y0 + int(ys[0]), y0 + int(ys[-1]) + 1
        regions.append(Region(ex0, ey0, ex1, ey1,
                              int(np.count_nonzero(mask[ey0:ey1, ex0:ex1]))))
    regions.sort(key=lambda r: (-r.pixels, r.y0, r.x0))
    return regions[:MAX_REGIONS], len(regions)


def _merge_overlapping(boxes: list[list[int]]) -> list[list[int]]:
    """Merge boxes that overlap until none do (bounding boxes of interleaved shapes)."""
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        out: list[list[int]] = []
        for box in sorted(boxes):
            for other in out:
                if (box[0] < other[2] and other[0] < box[2]
                        and box[1] < other[3] and other[1] < box[3]):
                    other[0], other[1] = min(other[0], box[0]), min(other[1], box[1])
                    other[2], other[3] = max(other[2], box[2]), max(other[3], box[3])
                    merged = True
                    break
            else:
                out.append(box)
        boxes = out
    return boxes


def _ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM of two float32 luminance planes (Gaussian window, sigma 1.5)."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    if x.size == 0:
        return float("nan")
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    opts = {"sigma": 1.5, "truncate": 3.5, "mode": "reflect"}
    mx, my = gaussian_filter(x, **opts), gaussian_filter(y, **opts)
    vx = gaussian_filter(x * x, **opts) - mx * mx
    vy = gaussian_filter(y * y, **opts) - my * my
    cxy = gaussian_filter(x * y, **opts) - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean(num / den, dtype=np.float64))


def phash_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance of the perceptual hashes (imagehash.phash) of two images."""
    import imagehash
    from PIL import Image

    from creativevault.features.diff.pictures import fit_edge, to_display_rgb8

    ha = imagehash.phash(Image.fromarray(to_display_rgb8(fit_edge(a, 256))))
    hb = imagehash.phash(Image.fromarray(to_display_rgb8(fit_edge(b, 256))))
    return int(ha - hb)


_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"v/1\x01", b"II*\x00", b"MM\x00*",
          b"II+\x00", b"MM\x00+", b"GIF8", b"FUJIFILMCCD-RAW", b"IIU\x00", b"IIRO")
#: container/layered formats other differs own even when their bytes look like TIFF/zip
_NOT_OURS = frozenset({"psd", "psb", "kra", "ora", "xcf", "usdz", "blend"})


class RasterDiffer:
    """Differ for raster images and camera raws (these through their embedded preview)."""

    kind = "raster"

    def accepts(self, name: str, head: bytes) -> bool:
        """Raster extensions, or raster magic bytes under any other name."""
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext in RASTER_EXTENSIONS:
            return True
        if ext in _NOT_OURS:
            return False
        return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")

    def diff(self, a: Path | None, b: Path | None, name: str,
             options: DiffOptions) -> FileDiff:
        """Compare two versions of an image (``None`` for an absent side).

        Raises :class:`~creativevault.errors.InputFileError` (naming the file) when a side
        cannot be decoded.
        """
        if a is None and b is None:
            return FileDiff(path=name, kind=self.kind, status="unchanged",
                            summary=["raster: both sides absent"])
        if a is None or b is None:
            return self._one_side(a if a is not None else b, name, options, added=a is None)
        ra, rb = _load_pair(a, b)
        return _diff_rasters(ra, rb, name, options)

    def _one_side(self, path: Path | None, name: str, options: DiffOptions, *,
                  added: bool) -> FileDiff:
        assert path is not None
        raster = load_raster(path)
        status = "added" if added else "deleted"
        diff = FileDiff(path=name, kind=self.kind, status=status,
                        summary=[f"raster: {status} {raster.describe()} ({raster.format})"],
                        figures={"b" if added else "a": _describe(raster)})
        if raster.note:
            diff.notes.append(raster.note)
        if options.out_dir is not None:
            from creativevault.features.diff import pictures as pic

            factor = 1 if options.full_resolution else pic.fit_factor(
                *raster.size, options.preview_edge)
            img = pic.to_display_rgb8(pic.fit_edge(raster.pixels, 0, factor=factor),
                                      mode=raster.mode, linear=raster.linear)
            role = "blink-b" if added else "blink-a"
            path_out = Path(options.out_dir) / f"{_stem(name)}.{role}.png"
            diff.pictures.append(Picture(role, pic.save_png(img, path_out)))
        return diff


def _stem(name: str) -> str:
    return Path(name).stem or "image"


def _load_pair(a: Path, b: Path) -> tuple[Raster, Raster]:
    """Decode both sides at once (the decoders release the GIL)."""
    with ThreadPoolExecutor(2) as pool:
        fa, fb = pool.submit(load_raster, a), pool.submit(load_raster, b)
        return fa.result(), fb.result()


def _describe(r: Raster) -> dict[str, Any]:
    return {"width": r.size[0], "height": r.size[1], "mode": r.mode,
            "bit_depth": r.bit_depth, "float": r.is_float, "format": r.format,
            "channels": r.channels, "icc_profile": _icc_name(r.icc_profile),
            "icc_bytes": len(r.icc_profile) if r.icc_profile else 0}


def _icc_name(icc: bytes | None) -> str | None:
    """The profile's description (or its size when it has none readable)."""
    if not icc:
        return None
    try:
        import io

        from PIL import ImageCms

        desc = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.profile_description
        if desc:
            return str(desc).strip()
    except Exception:  # an unreadable profile is still a profile: name it by size
        pass
    return f"{len(icc)}-byte profile"


def _harmonize(ra: Raster, rb: Raster, notes: list[str]) -> tuple[Any, Any]:
    """Both sides cropped to their overlap with the same channels (grey to RGB, alpha added)."""
    import numpy as np

    (wa, ha), (wb, hb) = ra.size, rb.size
    w, h = min(wa, wb), min(ha, hb)
    pa, pb = ra.pixels[:h, :w], rb.pixels[:h, :w]
    ca, cb = pa.shape[2], pb.shape[2]
    if ca == cb:
        return pa, pb

    def opaque(p: Any) -> Any:
        return np.full(p.shape[:2] + (1,), full_scale(p.dtype), dtype=p.dtype)

    grey = {1, 2}
    colour = {3, 4}
    if {ca, cb} <= grey | colour and ra.mode != "CMYK" and rb.mode != "CMYK":
        def to_rgba_like(p: Any, want_alpha: bool) -> Any:
            c = p.shape[2]
            colour_part = np.repeat(p[:, :, :1], 3, axis=2) if c in grey else p[:, :, :3]
            alpha = p[:, :, c - 1:c] if c in (2, 4) else (opaque(p) if want_alpha else None)
            return colour_part if alpha is None else np.concatenate([colour_part, alpha], 2)

        alpha = ca in (2, 4) or cb in (2, 4)
        notes.append(f"channels compared as {'RGBA' if alpha else 'RGB'} "
                     f"({ra.mode} -> {rb.mode}; missing alpha counts as opaque)")
        return to_rgba_like(pa, alpha), to_rgba_like(pb, alpha)
    k = min(ca, cb)
    notes.append(f"only the first {k} channels compared ({ra.mode} -> {rb.mode})")
    return pa[:, :, :k], pb[:, :, :k]


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.3g}" if x >= 0.001 else f"{x:.2e}"


def _diff_rasters(ra: Raster, rb: Raster, name: str, options: DiffOptions) -> FileDiff:
    summary = [f"raster: {ra.describe()} -> {rb.describe()}"]
    notes: list[str] = []
    changes: list[str] = []
    if ra.format != rb.format:
        changes.append(f"format: {ra.format} -> {rb.format}")
    if ra.size != rb.size:
        (wa, ha), (wb, hb) = ra.size, rb.size
        changes.append(f"size: {wa}x{ha} -> {wb}x{hb}")
        notes.append(f"sizes differ: compared on the {min(wa, wb)}x{min(ha, hb)} overlap "
                     "(top-left aligned)")
    if ra.mode != rb.mode:
        changes.append(f"mode: {ra.mode} -> {rb.mode}")
    if (ra.bit_depth, ra.is_float) != (rb.bit_depth, rb.is_float):
        da = f"{ra.bit_depth}{' float' if ra.is_float else ''}"
        db = f"{rb.bit_depth}{' float' if rb.is_float else ''}"
        changes.append(f"bit depth: {da} -> {db}")
    if ra.icc_profile != rb.icc_profile:
        na, nb = _icc_name(ra.icc_profile), _icc_name(rb.icc_profile)
        if na is None:
            changes.append(f"ICC profile: added ({nb})")
        elif nb is None:
            changes.append(f"ICC profile: removed ({na})")
        else:
            changes.append(f"ICC profile: changed ({na} -> {nb})")
    for r, side in ((ra, "A"), (rb, "B")):
        if r.note:
            notes.append(f"{side}: {r.note}")
    pa, pb = _harmonize(ra, rb, notes)
    fig = compare_arrays(pa, pb, threshold=options.threshold)
    if fig.changed_pixels:
        more = (f" (largest {len(fig.regions)} listed)"
                if fig.region_count > len(fig.regions) else "")
        summary.append(f"changed: {fig.changed_fraction * 100:.2f}% of pixels in "
                       f"{fig.region_count} region{'s' if fig.region_count != 1 else ''}{more}")
    else:
        summary.append("changed: none (pixels identical"
                       + (" on the overlap)" if ra.size != rb.size else ")"))
    pictures: list[Picture] = []
    small_a, small_b, factor = _previews(pa, pb, options)
    phash = phash_distance(small_a, small_b)
    psnr = "inf" if math.isinf(fig.psnr) else f"{fig.psnr:.1f}"
    summary.append(f"mean/max difference: {_fmt(fig.mean_diff)}/{_fmt(fig.max_diff)}, "
                   f"PSNR {psnr} dB, SSIM {fig.ssim:.4g}, phash distance {phash}")
    summary += changes
    figures: dict[str, Any] = {"a": _describe(ra), "b": _describe(rb),
                               "compared_size": [fig.width, fig.height],
                               "threshold": options.threshold, **fig.to_json(),
                               "phash_distance": phash}
    if options.out_dir is not None:
        pictures = _write_pictures(ra, rb, pa, pb, small_a, small_b, factor, fig, name,
                                   options)
    modified = bool(fig.changed_pixels or changes)
    return FileDiff(path=name, kind="raster", status="modified" if modified else "unchanged",
                    summary=summary, figures=figures, pictures=pictures, notes=notes)


def _previews(pa: Any, pb: Any, options: DiffOptions) -> tuple[Any, Any, int]:
    """Both sides block-averaged by one factor: preview size for pictures, else small."""
    from creativevault.features.diff.pictures import fit_edge, fit_factor

    h, w = pa.shape[:2]
    if options.out_dir is None:
        factor = fit_factor(w, h, 256)
    elif options.full_resolution:
        factor = 1
    else:
        factor = fit_factor(w, h, options.preview_edge)
    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(fit_edge, pa, 0, factor=factor)
        fb = pool.submit(fit_edge, pb, 0, factor=factor)
        return fa.result(), fb.result(), factor


def _write_pictures(ra: Raster, rb: Raster, pa: Any, pb: Any, small_a: Any, small_b: Any,
                    factor: int, fig: RasterFigures, name: str,
                    options: DiffOptions) -> list[Picture]:
    """The blink pair (each image at preview size) and A | B | heat map (regions
    outlined) whose whole width is about the preview size, unless full resolution."""
    import numpy as np

    from creativevault.features.diff import pictures as pic

    assert options.out_dir is not None
    out_dir = Path(options.out_dir)
    stem = _stem(name)
    # whole images (not only the overlap) for the A and B frames
    if ra.size == rb.size:
        full_a, full_b = small_a, small_b
    else:
        full_a = pic.fit_edge(ra.pixels, 0, factor=factor)
        full_b = pic.fit_edge(rb.pixels, 0, factor=factor)
    img_a = pic.to_display_rgb8(full_a, mode=ra.mode, linear=ra.linear)
    img_b = pic.to_display_rgb8(full_b, mode=rb.mode, linear=rb.linear)
    # the blink pair shares one canvas size so the two frames line up
    hh, ww = max(img_a.shape[0], img_b.shape[0]), max(img_a.shape[1], img_b.shape[1])
    blink = []
    for img in (img_a, img_b):
        canvas = np.zeros((hh, ww, 3), dtype=np.uint8)
        canvas[:img.shape[0], :img.shape[1]] = img
        blink.append(canvas)

    # side by side: a further integer reduction so three panels fit the preview edge
    extra = 1 if options.full_resolution else pic.fit_factor(3 * ww, hh,
                                                             options.preview_edge)
    scale = factor * extra
    panel_a = pic.to_display_rgb8(pic.fit_edge(img_a, 0, factor=extra))
    panel_b = pic.to_display_rgb8(pic.fit_edge(img_b, 0, factor=extra))
    ua = pic.to_unit_float(pic.fit_edge(small_a, 0, factor=extra))
    ub = pic.to_unit_float(pic.fit_edge(small_b, 0, factor=extra))
    mag = np.abs(ua - ub).max(axis=2)
    if fig.changed_pixels:
        # every changed pixel shows, even one below the picture's visible step
        ys = (np.arange(mag.shape[0]) * scale) // fig.mask_scale
        xs = (np.arange(mag.shape[1]) * scale) // fig.mask_scale
        mask = fig.mask_preview[np.minimum(ys, fig.mask_preview.shape[0] - 1)][
            :, np.minimum(xs, fig.mask_preview.shape[1] - 1)]
        top = float(np.nanmax(mag)) if mag.size else 0.0
        level = np.sqrt(mag / top) if top > 0 else mag
        heat = pic.heatmap(np.maximum(level, 0.3 * mask), gain=1.0)
    else:
        heat = pic.heatmap(mag)
    pic.draw_regions(heat, fig.regions, scale, width=2)
    pic.draw_regions(panel_b, fig.regions, scale, width=1)
    labels = [f"A  {ra.describe()}", f"B  {rb.describe()}",
              f"difference  {fig.changed_fraction * 100:.2f}% changed"]
    sbs = pic.side_by_side([panel_a, panel_b, heat], labels)
    jobs = [("side-by-side", sbs), ("blink-a", blink[0]), ("blink-b", blink[1])]
    with ThreadPoolExecutor(len(jobs)) as pool:  # libpng releases the GIL
        paths = list(pool.map(lambda job: pic.save_png(job[1], out_dir /
                                                       f"{stem}.{job[0]}.png"), jobs))
    return [Picture(role, path) for (role, _), path in zip(jobs, paths, strict=True)]
