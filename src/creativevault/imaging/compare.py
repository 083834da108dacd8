"""Comparing two pixel arrays at full precision: the figures every image diff reports.

Shared by every feature that compares images (the raster and layered differs, and any
later feature that needs change figures). It never reduces precision before comparing: 8- and 16-bit integers are
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MASK_EDGE",
    "MAX_REGIONS",
    "REGION_GAP",
    "SSIM_EDGE",
    "RasterFigures",
    "Region",
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

@dataclass(frozen=True)
class Region:
    """A changed region: inclusive-exclusive pixel box and how many pixels changed in it."""

    x0: int
    y0: int
    x1: int
    y1: int
    pixels: int

    def to_json(self) -> dict[str, int]:
        return {"x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1,
                "pixels": self.pixels}



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
            wide: np.ndarray = d.astype(np.uint16 if d.itemsize == 1 else np.uint32)
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

    from creativevault.imaging.pictures import fit_edge, to_display_rgb8

    ha = imagehash.phash(Image.fromarray(to_display_rgb8(fit_edge(a, 256))))
    hb = imagehash.phash(Image.fromarray(to_display_rgb8(fit_edge(b, 256))))
    return int(ha - hb)
