"""Thumbnails, facts and change figures of one content (decoded from a temporary file).

Images go through :func:`~creativevault.formats.raster.load_raster` (camera raws through
their embedded JPEG preview), PSD/PSB/KRA/ORA through their stored composite
(:mod:`creativevault.formats.layered`), models through the software renderer; anything
else gets a typed placeholder tile naming its format (:func:`~creativevault.formats.sniff.sniff`).

Change figures are measured by :func:`~creativevault.imaging.compare.compare_arrays` on the
**analysis decode**: the image block-averaged so its long edge is at most
:data:`ANALYSIS_EDGE` pixels (full resolution up to 1024 pixels; a 6000 x 4000 photo is
compared at 1000 x 667), which keeps a cold timeline of large files fast while small
edits stay visible.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from creativevault.errors import VaultError
from creativevault.features.timeline.entries import Change, FileFacts

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ANALYSIS_EDGE", "THUMB_EDGE", "Decoded", "change_between", "changed_fraction",
           "decode_content", "encode_png", "placeholder_tile"]

#: long edge of stored thumbnails, in pixels
THUMB_EDGE = 256
#: long edge of the decode change figures are measured on
ANALYSIS_EDGE = 1024

_RASTER_EXT = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".webp", ".gif", ".bmp",
               ".tga"}
_TILE_BG = (58, 60, 66)


@dataclass
class Decoded:
    """One content decoded for the timeline."""

    facts: FileFacts
    thumb: np.ndarray  # H x W x 3 uint8, long edge <= THUMB_EDGE
    analysis: Any = None  # array compared for change figures, or None


def encode_png(img: np.ndarray) -> bytes:
    """PNG bytes of an H x W x 3 uint8 picture."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def placeholder_tile(title: str, detail: str = "", *, edge: int = THUMB_EDGE,
                     color: tuple[int, int, int] = _TILE_BG) -> np.ndarray:
    """A square tile with a title and a detail line (format name, "missing", ...)."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (edge, edge), color)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([4, 4, edge - 5, edge - 5], outline=(140, 140, 150), width=2)
    y = edge // 2 - 20
    for line in [title, *_wrap(detail, max(8, edge // 7))]:
        width = draw.textlength(line)
        draw.text(((edge - width) / 2, y), line, fill=(235, 235, 235))
        y += 14
    return np.asarray(canvas).copy()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word[:width])
    return lines[:4]


def _thumb_of(array: np.ndarray, *, mode: str | None = None, linear: bool = False
              ) -> np.ndarray:
    from creativevault.imaging.pictures import fit_edge, to_display_rgb8

    return to_display_rgb8(fit_edge(array, THUMB_EDGE), mode=mode, linear=linear)


def decode_content(path: Path, name: str) -> Decoded:
    """Facts, thumbnail and analysis array of the file at ``path`` (called ``name``).

    Never raises for unreadable content: a file no decoder accepts gets a placeholder
    tile naming its format and a note.
    """
    from creativevault.formats.sniff import HEAD_BYTES, sniff

    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    label = sniff(head, name)
    ext = PurePosixPath(name).suffix.lower()
    try:
        return _decode(path, name, ext, head, label)
    except (VaultError, ValueError, MemoryError) as exc:
        # the scratch path means nothing to users: keep the reason only
        reason = exc.message if isinstance(exc, VaultError) else str(exc)
        note = (reason.splitlines() or [""])[0][:200]
        return Decoded(FileFacts(label, note=note),
                       placeholder_tile(ext.lstrip(".").upper() or "FILE", label))


def _decode(path: Path, name: str, ext: str, head: bytes, label: str) -> Decoded:
    from creativevault.formats.layered import is_layered
    from creativevault.formats.mesh import MESH_SUFFIXES
    from creativevault.formats.raster import RAW_EXTENSIONS

    if is_layered(name, head):
        return _decode_layered(path)
    if ext in MESH_SUFFIXES:
        return _decode_mesh(path, MESH_SUFFIXES[ext])
    if (ext in _RASTER_EXT or ext.lstrip(".") in RAW_EXTENSIONS
            or label.endswith("image") or "camera raw" in label):
        return _decode_raster(path)
    return Decoded(FileFacts(label), placeholder_tile(ext.lstrip(".").upper() or "FILE",
                                                      label))


def _decode_raster(path: Path) -> Decoded:
    from creativevault.formats.raster import load_raster
    from creativevault.imaging.pictures import fit_edge

    raster = load_raster(path)
    w, h = raster.size
    facts = FileFacts(raster.format, w, h, note=raster.note)
    thumb = _thumb_of(raster.pixels, mode=raster.mode, linear=raster.linear)
    return Decoded(facts, thumb, fit_edge(raster.pixels, ANALYSIS_EDGE))


def _decode_layered(path: Path) -> Decoded:
    from creativevault.formats.layered import load_layered
    from creativevault.imaging.pictures import fit_edge

    with load_layered(path) as doc:
        signatures = {
            info.id: "|".join(str(x) for x in (info.pixel_hash, info.mask_hash,
                                               round(info.opacity, 4), info.visible,
                                               info.blend_mode, info.name, info.bbox))
            for info in doc.layers}
        layers = sum(1 for info in doc.layers if info.kind == "layer")
        facts = FileFacts(doc.format.upper(), doc.size[0], doc.size[1], layers=layers,
                          layer_signatures=signatures)
        composite = doc.composite()
    if composite is None:
        return Decoded(facts, placeholder_tile(doc.format.upper(), "no stored composite"))
    return Decoded(facts, _thumb_of(composite), fit_edge(composite, ANALYSIS_EDGE))


def _decode_mesh(path: Path, fmt: str) -> Decoded:
    from creativevault.formats.mesh import load_scene
    from creativevault.formats.render import RenderMesh, fit_camera, render

    doc = load_scene(path, fmt)
    facts = FileFacts(fmt.upper(), vertices=doc.vertex_count, faces=doc.face_count)
    bounds = doc.bounds()
    low, high = ([float(x) for x in b] for b in bounds) if bounds is not None \
        else ([-1.0] * 3, [1.0] * 3)
    camera = fit_camera(low, high, THUMB_EDGE, THUMB_EDGE * 3 // 4)
    meshes = [RenderMesh(doc.world_vertices(n), doc.geometries[n.geometry].faces)
              for n in doc.mesh_nodes() if n.geometry is not None]
    return Decoded(facts, render(meshes, camera, supersample=2))


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels that differ, measured by
    :func:`~creativevault.imaging.compare.compare_arrays` on the bounding box of the
    differing pixels only (a local edit costs its own area, not the whole picture's
    SSIM; pixels outside the box are equal by construction)."""
    import numpy as np

    from creativevault.imaging.compare import compare_arrays

    differs = np.asarray(a) != np.asarray(b)
    if differs.ndim == 3:
        differs = differs.any(axis=2)
    rows = np.flatnonzero(differs.any(axis=1))
    if not len(rows):
        return 0.0
    cols = np.flatnonzero(differs.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    figures = compare_arrays(a[box], b[box])
    return figures.changed_pixels / float(differs.shape[0] * differs.shape[1])


def change_between(a: FileFacts | None, b: FileFacts | None, arr_a: Any, arr_b: Any,
                   size_a: int | None, size_b: int | None) -> Change:
    """The change from content A to content B, from their facts and analysis arrays."""
    size_delta = None if size_a is None or size_b is None else size_b - size_a
    fraction = None
    resized = False
    if arr_a is not None and arr_b is not None:
        if arr_a.shape == arr_b.shape:
            fraction = changed_fraction(arr_a, arr_b)
        else:
            resized = True
    if a is not None and b is not None and a.format != b.format:
        return Change("bytes", size_delta=size_delta,
                      note=f"format changed: {a.format} -> {b.format}")
    if a is not None and b is not None and (a.layer_signatures or b.layer_signatures):
        old, new = a.layer_signatures, b.layer_signatures
        return Change("layers", fraction,
                      layers_added=len(new.keys() - old.keys()),
                      layers_removed=len(old.keys() - new.keys()),
                      layers_changed=sum(1 for k in new.keys() & old.keys()
                                         if new[k] != old[k]),
                      size_delta=size_delta, note="resized" if resized else None)
    if a is not None and b is not None and a.vertices is not None and b.vertices is not None:
        return Change("mesh", vertices_delta=b.vertices - a.vertices,
                      faces_delta=(b.faces or 0) - (a.faces or 0), size_delta=size_delta)
    if resized:
        return Change("resized", size_delta=size_delta,
                      note=f"{a.width}x{a.height} -> {b.width}x{b.height}" if a and b else None)
    if fraction is not None:
        return Change("pixels", fraction, size_delta=size_delta)
    return Change("bytes", size_delta=size_delta)
