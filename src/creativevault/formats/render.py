"""A small headless software rasteriser (numpy + Pillow, no OpenGL) for model previews.

Perspective camera, z-buffer on interpolated inverse depth, flat Lambert shading (two-sided,
a head light plus a key light) and optional per-vertex colours (interpolated
perspective-correctly, used for displacement heat colouring). Triangles are rasterised in
batches: each triangle's pixel bounding box is rounded up to a power-of-two tile, triangles
with the same tile size are tested against all their tile's pixel centres at once, and the
nearest candidate per pixel wins (one sort per batch). Only triangles whose box exceeds
64 x 64 pixels are drawn one at a time (each still vectorised over its box); there is no
per-pixel Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["BACKGROUND", "Camera", "RenderMesh", "fit_camera", "heat_colors", "render"]

#: default background (dark grey-blue: grey models and heat colours both stand out)
BACKGROUND: tuple[int, int, int] = (36, 38, 46)
#: candidate pixels tested per batch (bounds the temporaries to ~100 MB)
_BATCH = 1 << 21
#: tiles up to this many pixels are batched; larger triangles are drawn one by one
_BIG_TILE = 64 * 64


@dataclass(frozen=True)
class Camera:
    """A perspective camera looking from ``eye`` at ``target``; ``fov_y`` in degrees."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y: float = 35.0
    width: int = 1024
    height: int = 768


@dataclass
class RenderMesh:
    """Triangles to draw: world-space vertices, faces, a base colour or per-vertex colours.

    Colours are RGB floats in 0..1 (``vertex_colors`` is N x 3 and overrides ``color``).
    """

    vertices: np.ndarray
    faces: np.ndarray
    color: tuple[float, float, float] = (0.78, 0.78, 0.80)
    vertex_colors: np.ndarray | None = None


def fit_camera(low: Sequence[float], high: Sequence[float], width: int = 1024,
               height: int = 768, *, direction: Sequence[float] = (1.0, 0.75, 1.4),
               up: Sequence[float] = (0.0, 1.0, 0.0), fov_y: float = 35.0,
               margin: float = 1.08) -> Camera:
    """A camera seeing the whole box ``low``..``high`` (its bounding sphere) from
    ``direction`` (a three-quarter view, +Y up). Pass the union of two versions' bounds
    so both are drawn from the same place."""
    import numpy as np

    lo = np.asarray(low, dtype=np.float64)
    hi = np.asarray(high, dtype=np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        lo, hi = np.full(3, -1.0), np.full(3, 1.0)
    center = (lo + hi) / 2.0
    radius = float(np.linalg.norm(hi - lo)) / 2.0 or 1.0
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    half_y = math.radians(fov_y) / 2.0
    half_x = math.atan(math.tan(half_y) * width / height)
    distance = radius * margin / math.sin(min(half_x, half_y))
    eye = center + d * distance
    return Camera(eye=tuple(float(x) for x in eye),  # type: ignore[arg-type]
                  target=tuple(float(x) for x in center),  # type: ignore[arg-type]
                  up=tuple(float(x) for x in up),  # type: ignore[arg-type]
                  fov_y=fov_y, width=width, height=height)


def heat_colors(values: np.ndarray, vmax: float) -> np.ndarray:
    """N x 3 float colours from blue (0) through cyan and yellow to red (``vmax``)."""
    import numpy as np

    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    t = np.clip(v / vmax, 0.0, 1.0) if vmax > 0 else np.zeros_like(v)
    stops = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    palette = np.array([[0.15, 0.30, 1.00], [0.15, 0.85, 0.90],
                        [1.00, 0.85, 0.15], [1.00, 0.12, 0.08]])
    return np.stack([np.interp(t, stops, palette[:, c]) for c in range(3)], axis=-1)


def _view(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    eye = np.asarray(camera.eye, dtype=np.float64)
    forward = np.asarray(camera.target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward) or 1.0
    right = np.cross(forward, np.asarray(camera.up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-12:  # looking along "up": pick another
        right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    return eye, right, true_up, forward


def render(meshes: Sequence[RenderMesh], camera: Camera, *,
           background: tuple[int, int, int] = BACKGROUND,
           supersample: int = 1) -> np.ndarray:
    """Draw ``meshes`` seen by ``camera``: a height x width x 3 uint8 RGB array.

    ``supersample`` > 1 renders that many times larger and box-filters down (smoother
    edges, about supersample² the time).
    """
    import numpy as np

    s = max(1, int(supersample))
    width, height = camera.width * s, camera.height * s
    eye, right, up, forward = _view(camera)
    focal = (height / 2.0) / math.tan(math.radians(camera.fov_y) / 2.0)

    tris_list, colors_list = [], []
    for mesh in meshes:
        v = np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)
        f = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
        if not len(f) or not len(v):
            continue
        f = f[((f >= 0) & (f < len(v))).all(axis=1)]
        tris_list.append(v[f])
        if mesh.vertex_colors is not None:
            vc = np.asarray(mesh.vertex_colors, dtype=np.float64).reshape(-1, 3)
            colors_list.append(vc[f])
        else:
            base = np.asarray(mesh.color, dtype=np.float64)[:3]
            colors_list.append(np.broadcast_to(base, (len(f), 3, 3)))
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    if not tris_list:
        return _reduce(out, s)
    tris = np.concatenate(tris_list)  # T x 3 corners x 3
    colors = np.concatenate(colors_list)

    # flat shading from the world-space face normal, lit from both sides
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    normals /= np.where(lengths > 0, lengths, 1.0)[:, None]
    head = -forward
    key = head + 0.6 * up - 0.45 * right
    key /= np.linalg.norm(key)
    shade = (0.22 + 0.48 * np.abs(normals @ head) + 0.30 * np.abs(normals @ key))

    rel = tris - eye
    xv, yv, zv = rel @ right, rel @ up, rel @ forward  # each T x 3
    near = 1e-9 * max(1.0, float(np.abs(zv).max(initial=0.0)))
    keep = (zv > near).all(axis=1) & np.isfinite(rel).all(axis=(1, 2)) & (lengths > 0)
    sx = width / 2.0 + focal * xv / np.where(zv > 0, zv, 1.0)
    sy = height / 2.0 - focal * yv / np.where(zv > 0, zv, 1.0)
    inv_z = 1.0 / np.where(zv > 0, zv, 1.0)
    det = ((sy[:, 1] - sy[:, 2]) * (sx[:, 0] - sx[:, 2])
           + (sx[:, 2] - sx[:, 1]) * (sy[:, 0] - sy[:, 2]))
    keep &= np.abs(det) > 1e-12
    # pixel i is covered when its centre i + 0.5 is inside
    x0 = np.ceil(sx.min(axis=1) - 0.5)
    x1 = np.floor(sx.max(axis=1) - 0.5)
    y0 = np.ceil(sy.min(axis=1) - 0.5)
    y1 = np.floor(sy.max(axis=1) - 0.5)
    keep &= (x1 >= 0) & (y1 >= 0) & (x0 <= width - 1) & (y0 <= height - 1) & (x0 <= x1) \
        & (y0 <= y1)
    idx = np.nonzero(keep)[0]
    x0 = np.clip(x0[idx], 0, width - 1).astype(np.int64)
    x1 = np.clip(x1[idx], 0, width - 1).astype(np.int64)
    y0 = np.clip(y0[idx], 0, height - 1).astype(np.int64)
    y1 = np.clip(y1[idx], 0, height - 1).astype(np.int64)

    raster = _Raster(width, height, sx[idx], sy[idx], inv_z[idx], det[idx])
    bw = _pow2(x1 - x0 + 1)
    bh = _pow2(y1 - y0 + 1)
    small = bw * bh <= _BIG_TILE
    groups = bw * 1_000_003 + bh
    for key_value in np.unique(groups[small]):
        members = np.nonzero(small & (groups == key_value))[0]
        kw, kh = int(bw[members[0]]), int(bh[members[0]])
        oy, ox = np.divmod(np.arange(kw * kh), kw)
        step = max(1, _BATCH // (kw * kh))
        for start in range(0, len(members), step):
            m = members[start:start + step]
            px = x0[m, None] + ox[None, :]
            py = y0[m, None] + oy[None, :]
            ok = (px <= x1[m, None]) & (py <= y1[m, None])
            rows = np.broadcast_to(m[:, None], px.shape)
            raster.test(rows[ok], px[ok], py[ok])
    for big in np.nonzero(~small)[0]:
        py, px = np.mgrid[y0[big]:y1[big] + 1, x0[big]:x1[big] + 1]
        raster.test(np.full(px.size, big), px.ravel(), py.ravel())

    hit = raster.tri >= 0
    if hit.any():
        t = raster.tri[hit]
        l0, l1 = raster.l0[hit], raster.l1[hit]
        l2 = 1.0 - l0 - l1
        w = np.stack([l0, l1, l2], axis=1) * inv_z[idx][t]  # perspective-correct weights
        w /= w.sum(axis=1, keepdims=True)
        tri_colors = colors[idx][t]  # P x 3 corners x 3
        rgb = np.einsum("pc,pcj->pj", w, tri_colors) * shade[idx][t][:, None]
        flat = out.reshape(-1, 3)
        flat[np.nonzero(hit)[0]] = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _reduce(out, s)


def _pow2(n: np.ndarray) -> np.ndarray:
    import numpy as np

    return (1 << np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)).astype(np.int64)


def _reduce(img: np.ndarray, s: int) -> np.ndarray:
    if s == 1:
        return img
    import numpy as np
    from PIL import Image

    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((w // s, h // s), Image.Resampling.BOX)
    return np.asarray(small).copy()


class _Raster:
    """Z-buffer (inverse depth: larger is nearer), winning triangle and barycentrics."""

    def __init__(self, width: int, height: int, sx: np.ndarray, sy: np.ndarray,
                 inv_z: np.ndarray, det: np.ndarray) -> None:
        import numpy as np

        self.width = width
        self.sx, self.sy, self.inv_z, self.det = sx, sy, inv_z, det
        n = width * height
        self.depth = np.full(n, -np.inf)
        self.tri = np.full(n, -1, dtype=np.int64)
        self.l0 = np.zeros(n)
        self.l1 = np.zeros(n)

    def test(self, t: np.ndarray, px: np.ndarray, py: np.ndarray) -> None:
        """Test pixel centres (px, py) against triangles t; keep the nearest per pixel."""
        import numpy as np

        if not len(t):
            return
        sx, sy = self.sx[t], self.sy[t]
        cx, cy = px + 0.5, py + 0.5
        det = self.det[t]
        l0 = ((sy[:, 1] - sy[:, 2]) * (cx - sx[:, 2])
              + (sx[:, 2] - sx[:, 1]) * (cy - sy[:, 2])) / det
        l1 = ((sy[:, 2] - sy[:, 0]) * (cx - sx[:, 2])
              + (sx[:, 0] - sx[:, 2]) * (cy - sy[:, 2])) / det
        l2 = 1.0 - l0 - l1
        eps = -1e-9
        inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
        if not inside.any():
            return
        t, l0, l1, l2 = t[inside], l0[inside], l1[inside], l2[inside]
        pix = py[inside] * self.width + px[inside]
        iz = self.inv_z[t]
        depth = l0 * iz[:, 0] + l1 * iz[:, 1] + l2 * iz[:, 2]
        # nearest candidate per pixel within the batch, then against the buffer
        order = np.lexsort((-depth, pix))
        pix_sorted = pix[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = pix_sorted[1:] != pix_sorted[:-1]
        pick = order[first]
        pix = pix[pick]
        nearer = depth[pick] > self.depth[pix]
        pick, pix = pick[nearer], pix[nearer]
        self.depth[pix] = depth[pick]
        self.tri[pix] = t[pick]
        self.l0[pix] = l0[pick]
        self.l1[pix] = l1[pick]
