"""Pictures for diffs: downsampling, display conversion, heat maps, outlines, PNG output.

Generic helpers shared by the raster, layered and mesh differs. Arrays are H x W or
H x W x C numpy arrays of any supported dtype. Tone mapping (16-bit to 8-bit, float
clipping, linear-to-sRGB) happens here for DISPLAY only: figures are always computed by
:func:`creativevault.imaging.compare.compare_arrays` at full precision.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from creativevault.imaging.compare import Region

__all__ = [
    "draw_regions",
    "fit_edge",
    "fit_factor",
    "heatmap",
    "save_png",
    "side_by_side",
    "to_display_rgb8",
    "to_unit_float",
]

#: elements per tile when downsampling (bounds temporaries)
_TILE_ELEMENTS = 1 << 21


def fit_factor(width: int, height: int, edge: int) -> int:
    """The smallest integer factor bringing the long edge to at most ``edge``."""
    return max(1, math.ceil(max(width, height) / max(1, edge)))


def to_unit_float(array: np.ndarray) -> np.ndarray:
    """``array`` as float32 on the 0..1 scale of its dtype (floats keep their values)."""
    import numpy as np

    arr = np.asarray(array)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    out = arr.astype(np.float32)
    out *= np.float32(1.0 / np.iinfo(arr.dtype).max)
    return out


def fit_edge(array: np.ndarray, edge: int, *, factor: int | None = None) -> np.ndarray:
    """Block-average ``array`` so its long edge is at most ``edge`` (or by ``factor``).

    Returns ``array`` itself when no reduction is needed, else float32 on the 0..1 scale
    (trailing rows/columns that do not fill a block are averaged over what they hold).
    """
    import numpy as np

    arr = np.asarray(array)
    h, w = arr.shape[:2]
    f = factor if factor is not None else fit_factor(w, h, edge)
    if f <= 1:
        return arr
    squeeze = arr.ndim == 2
    if squeeze:
        arr = arr[:, :, None]
    c = arr.shape[2]
    if arr.dtype == np.uint8 and c in (1, 3, 4):
        out = _pillow_reduce(arr, f)
    else:
        out = _block_reduce(arr, f)
    return out[:, :, 0] if squeeze else out


def _pillow_reduce(arr: np.ndarray, f: int) -> np.ndarray:
    """Pillow's box reduction (C, fast) for 8-bit L/RGB/RGBA, as float32 0..1."""
    import numpy as np
    from PIL import Image

    c = arr.shape[2]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    src = np.ascontiguousarray(arr[:, :, 0] if c == 1 else arr)
    im = Image.frombuffer(mode, (arr.shape[1], arr.shape[0]), src, "raw", mode, 0, 1)
    small = np.asarray(im.reduce(f), dtype=np.float32)
    small = small.reshape(small.shape[0], small.shape[1], c)
    small *= np.float32(1.0 / 255.0)
    return small


def _block_reduce(arr: np.ndarray, f: int) -> np.ndarray:
    """Block means (any dtype) as float32 on the 0..1 scale, in row tiles over threads.

    Integer samples are summed exactly in uint32/uint64, floats in float32; strided adds
    of the ``f`` phases are several times faster than numpy's multi-axis ``mean``.
    """
    import numpy as np

    h, w, c = arr.shape
    oh, ow = math.ceil(h / f), math.ceil(w / f)
    out = np.empty((oh, ow, c), dtype=np.float32)
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        acc: np.dtype[np.uint32 | np.float64 | np.float32] = np.dtype(np.uint32)
    elif arr.dtype.kind in "ui":
        acc = np.dtype(np.float64)
    else:
        acc = np.dtype(np.float32)
    scale = 1.0 if arr.dtype.kind in "fb" else float(np.iinfo(arr.dtype).max)
    rows = max(f, (_TILE_ELEMENTS // max(1, w * c)) // f * f)
    wf = w - w % f

    def phase_sum(x: np.ndarray, axis: int) -> np.ndarray:
        total = np.take(x, 0, axis=axis).astype(acc)
        for k in range(1, f):
            total += np.take(x, k, axis=axis)
        return total

    def work(r0: int) -> None:
        r1 = min(h, r0 + rows)
        tile = arr[r0:r1]
        th = tile.shape[0]
        full, rest = th - th % f, th % f
        o0 = r0 // f
        if full and wf:
            cols = phase_sum(tile[:full, :wf].reshape(full, wf // f, f, c), 2)
            body = phase_sum(cols.reshape(full // f, f, wf // f, c), 1)
            out[o0:o0 + full // f, :wf // f] = body.astype(np.float32) / np.float32(f * f)
        if full and wf < w:
            out[o0:o0 + full // f, wf // f] = (
                tile[:full, wf:].astype(np.float32).reshape(full // f, f, w - wf, c)
                .mean(axis=(1, 2)))
        if rest:
            last = tile[full:].astype(np.float32)
            if wf:
                out[o0 + full // f, :wf // f] = (
                    last[:, :wf].reshape(rest, wf // f, f, c).mean(axis=(0, 2)))
            if wf < w:
                out[o0 + full // f, wf // f] = last[:, wf:].mean(axis=(0, 1))

    starts = list(range(0, h, rows))
    if len(starts) > 1 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
            list(pool.map(work, starts))
    else:
        for r0 in starts:
            work(r0)
    if scale != 1.0:
        out *= np.float32(1.0 / scale)
    return out


def _srgb(linear: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def to_display_rgb8(array: np.ndarray, *, mode: str | None = None,
                    linear: bool = False) -> np.ndarray:
    """An H x W x 3 uint8 picture of ``array`` for display.

    uint16 keeps its high byte, floats are clipped to 0..1 (``linear``: encoded with
    the sRGB curve first, as for EXR); grey is repeated, alpha composited over a
    checkerboard, CMYK (``mode``) converted naively.
    """
    import numpy as np

    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.uint8 and not linear and mode != "CMYK" and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    f = to_unit_float(arr)
    f = np.nan_to_num(f, nan=0.0, posinf=1.0, neginf=0.0)
    c = f.shape[2]
    if mode == "CMYK" and c >= 4:
        k = 1.0 - f[:, :, 3:4]
        rgb = (1.0 - f[:, :, :3]) * k
        alpha = None
    elif c >= 3:
        rgb = f[:, :, :3]
        alpha = f[:, :, 3] if c >= 4 else None
    else:
        rgb = np.repeat(f[:, :, :1], 3, axis=2)
        alpha = f[:, :, 1] if c == 2 else None
    if linear:
        rgb = _srgb(rgb)
    rgb = np.clip(rgb, 0.0, 1.0)
    if alpha is not None:
        h, w = alpha.shape
        yy, xx = np.indices((h, w), dtype=np.int32)
        checker = np.where(((yy // 8) + (xx // 8)) % 2 == 0, 0.8, 0.6).astype(np.float32)
        a = np.clip(alpha, 0.0, 1.0)[:, :, None]
        rgb = rgb * a + checker[:, :, None] * (1.0 - a)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def heatmap(values: np.ndarray, *, gain: float | None = None) -> np.ndarray:
    """An H x W x 3 uint8 heat map (black, red, yellow, white) of a 2-D array.

    ``values`` is a difference magnitude (0..1) or a bool mask; with ``gain=None`` it is
    normalised by its maximum and square-rooted so small changes stay visible.
    """
    import numpy as np

    v = np.asarray(values)
    v = v.astype(np.float32) if v.dtype == bool else np.nan_to_num(v.astype(np.float32))
    if gain is None:
        top = float(v.max()) if v.size else 0.0
        v = np.sqrt(v / top) if top > 0 else v
    else:
        v = v * np.float32(gain)
    v = np.clip(v, 0.0, 1.0)
    out = np.empty(v.shape + (3,), dtype=np.uint8)
    out[:, :, 0] = np.clip(v * 3.0, 0, 1) * 255
    out[:, :, 1] = np.clip(v * 3.0 - 1.0, 0, 1) * 255
    out[:, :, 2] = np.clip(v * 3.0 - 2.0, 0, 1) * 255
    return out


def draw_regions(img: np.ndarray, regions: Sequence[Region], scale: float = 1.0, *,
                 color: tuple[int, int, int] = (0, 255, 255), width: int = 2) -> np.ndarray:
    """Outline each region (full-resolution coordinates divided by ``scale``); returns the
    picture (drawn in place, or on a copy when ``img`` is read-only, e.g. Pillow-backed)."""
    if not img.flags.writeable:
        img = img.copy()
    h, w = img.shape[:2]
    for r in regions:
        x0 = min(w - 1, max(0, int(r.x0 / scale)))
        y0 = min(h - 1, max(0, int(r.y0 / scale)))
        x1 = min(w, max(x0 + 1, math.ceil(r.x1 / scale)))
        y1 = min(h, max(y0 + 1, math.ceil(r.y1 / scale)))
        # grow by the line width so the outline does not cover the change itself
        x0, y0 = max(0, x0 - width), max(0, y0 - width)
        x1, y1 = min(w, x1 + width), min(h, y1 + width)
        img[y0:min(y1, y0 + width), x0:x1] = color
        img[max(y0, y1 - width):y1, x0:x1] = color
        img[y0:y1, x0:min(x1, x0 + width)] = color
        img[y0:y1, max(x0, x1 - width):x1] = color
    return img


def side_by_side(images: Sequence[np.ndarray], labels: Sequence[str] | None = None, *,
                 gap: int = 8, background: int = 32) -> np.ndarray:
    """Place H x W x 3 uint8 pictures left to right (top-aligned), labels above each."""
    import numpy as np
    from PIL import Image, ImageDraw

    band = 18 if labels else 0
    height = max(i.shape[0] for i in images) + band
    width = sum(i.shape[1] for i in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), background, dtype=np.uint8)
    x = 0
    spots = []
    for img in images:
        out[band:band + img.shape[0], x:x + img.shape[1]] = img[:, :, :3]
        spots.append(x)
        x += img.shape[1] + gap
    if labels:
        canvas = Image.fromarray(out)
        draw = ImageDraw.Draw(canvas)
        for x0, text in zip(spots, labels, strict=False):
            draw.text((x0 + 4, 3), text, fill=(230, 230, 230))
        out = np.asarray(canvas).copy()
    return out


def save_png(img: np.ndarray, path: Path) -> Path:
    """Write ``img`` (uint8 H x W x 3/4 or H x W) as PNG atomically (temp file, then rename).

    Fast zlib level 1 through libpng (imagecodecs, releases the GIL): pictures are
    previews, rewritten on demand.
    """
    import imagecodecs

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = imagecodecs.png_encode(img, level=1)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
