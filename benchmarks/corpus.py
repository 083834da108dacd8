"""A deterministic synthetic creative project, and artist-like local edits to it.

``generate_project(root, scale_bytes, seed)`` writes an animation project of about
``scale_bytes`` bytes under ``root``::

    projects/shotA/paint/*.psd      layered Photoshop files (8-bit RLE or raw, one 16-bit)
    projects/shotA/paint/*.ora      OpenRaster (zip: mimetype, stack.xml, PNG layers, ...)
    projects/shotA/tex/*            textures, partly exact copies of library/textures
    projects/shotB/...              the same for a second shot
    library/textures/*.png|*.tif    shared texture library (8-bit PNG, 16-bit gray TIFF)
    library/models/*                OBJ+MTL (text), binary PLY and GLB (trimesh export)
    reference/photos/*.jpg|*.dng    JPEGs with EXIF and RAW-like 12/14-bit packed TIFFs

About 40% of the texture files are exact duplicates of another texture file.
``edit_iteration(root, i, seed)`` then makes the local edits an artist makes in one
sitting: repaint a rectangle in one layer of one PSD (only that layer's rows and the
composite's rows under it change), touch up one texture, move a few vertices of one
mesh, add two photos and, every fourth iteration, add a new layer to a PSD.

Everything is a pure function of ``seed`` (and ``i``): same seed, same bytes. Pixel
data is made with vectorised numpy and written one file at a time, so memory stays
around the size of the largest file.

The PSD writer follows Adobe's "Photoshop File Formats Specification" (version 1
files: header, color mode data, image resources, layer and mask information with
layer records and per-channel image data, merged image data). 8-bit layers use raw
(0) or PackBits RLE (1) channel data; 16-bit files keep their layers in an ``Lr16``
tagged block, as Photoshop does.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "SCALES",
    "PsdChannel",
    "PsdDocument",
    "PsdLayer",
    "duplicate_fraction",
    "edit_iteration",
    "generate_project",
    "iter_files",
    "read_psd",
    "tree_bytes",
    "write_psd",
]

#: Named corpus sizes in bytes ("small" for ``make bench``, "full" for the issue's corpus).
SCALES: dict[str, int] = {
    "tiny": 3 * 1024 * 1024,
    "small": 40 * 1024 * 1024,
    "full": 1024 * 1024 * 1024,
}

_ZIP_DATE = (2024, 3, 1, 12, 0, 0)
_PALETTE = np.array(
    [
        [214, 94, 64], [240, 200, 120], [72, 110, 160], [40, 62, 48], [120, 160, 90],
        [230, 230, 220], [30, 28, 40], [180, 60, 110], [90, 180, 200], [160, 120, 80],
    ],
    dtype=np.float32,
)


# --------------------------------------------------------------------------- painting


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _smooth(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1], shape (h, w), float32 (bicubic upsampled grid)."""
    from PIL import Image

    gh = max(2, cells * h // max(h, w) + 2)
    gw = max(2, cells * w // max(h, w) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    img = Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def _grain(rng: np.random.Generator, shape: tuple[int, ...], amount: int) -> np.ndarray:
    return rng.integers(-amount, amount + 1, size=shape, dtype=np.int8).astype(np.float32)


def _color(rng: np.random.Generator) -> np.ndarray:
    return _PALETTE[int(rng.integers(len(_PALETTE)))] * float(rng.uniform(0.8, 1.1))


def _shape_mask(rng: np.random.Generator, h: int, w: int, count: int, lines: bool) -> np.ndarray:
    """Anti-aliased ellipses/polygons (or strokes) drawn with Pillow, float32 in [0, 1]."""
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    for _ in range(count):
        if lines:
            pts = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(6)]
            draw.line(pts, fill=int(rng.integers(160, 256)), width=int(rng.integers(2, 7)),
                      joint="curve")
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            rx, ry = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
            box = [float(cx - rx), float(cy - ry), float(cx + rx), float(cy + ry)]
            if rng.random() < 0.6:
                draw.ellipse(box, fill=int(rng.integers(180, 256)))
            else:
                draw.rectangle(box, fill=int(rng.integers(180, 256)))
    img = img.filter(ImageFilter.GaussianBlur(1.5 if lines else 3))
    return np.asarray(img, dtype=np.float32) / 255.0


def _paint_layer(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    """A painted-looking RGBA layer (h, w, 4) uint8: gradients, soft shapes, strokes, grain."""
    if kind == "background":
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        rgb = _color(rng)[None, None] * (1 - t) + _color(rng)[None, None] * t
        rgb = rgb + (_smooth(rng, h, w, 6)[..., None] - 0.5) * 70
        alpha = np.ones((h, w), np.float32)
    elif kind == "shading":
        alpha = _smooth(rng, h, w, 4) * 0.55
        rgb = np.broadcast_to(_color(rng)[None, None] * 0.4, (h, w, 3)).copy()
    elif kind == "lines":
        alpha = _shape_mask(rng, h, w, 12, lines=True)
        rgb = np.broadcast_to(_PALETTE[6][None, None], (h, w, 3)).copy()
    else:  # "paint": color blocking with soft shapes and a brushy texture
        blob = np.clip((_smooth(rng, h, w, 5) - 0.55) * 6, 0, 1)
        alpha = np.maximum(blob, _shape_mask(rng, h, w, 6, lines=False))
        mix = _smooth(rng, h, w, 8)[..., None]
        rgb = _color(rng)[None, None] * mix + _color(rng)[None, None] * (1 - mix)
    alpha8 = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    rgb = rgb + _grain(rng, (h, w, 3), 3)
    out = np.empty((h, w, 4), np.uint8)
    np.clip(rgb, 0, 255, out=rgb)
    out[..., :3] = rgb.astype(np.uint8)
    out[..., :3][alpha8 == 0] = 0
    out[..., 3] = alpha8
    return out


def _over(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> None:
    """Alpha-composite RGBA uint8 ``src`` onto float32 RGB ``dst`` in place."""
    a = src[..., 3:4].astype(np.float32) * (opacity / 255.0)
    dst *= 1 - a
    dst += src[..., :3].astype(np.float32) * a


# --------------------------------------------------------------------------- PSD


@dataclass
class PsdChannel:
    """One channel's encoded rows: ``data`` is the concatenated row bytes (no header)."""

    id: int
    compression: int  # 0 raw, 1 PackBits RLE
    data: bytes
    counts: np.ndarray | None = None  # RLE: bytes per row (big-endian u16)

    def encoded_size(self) -> int:
        """Size in a layer's channel image data: compression word, row counts, rows."""
        return 2 + len(self.data) + (0 if self.counts is None else 2 * len(self.counts))


@dataclass
class PsdLayer:
    """A layer record plus its channels (-1 alpha, 0 R, 1 G, 2 B)."""

    name: str
    top: int
    left: int
    bottom: int
    right: int
    channels: list[PsdChannel]
    opacity: int = 255
    visible: bool = True

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass
class PsdDocument:
    """A layered RGB document in encoded form (rows are only decoded where edited)."""

    width: int
    height: int
    depth: int
    layers: list[PsdLayer] = field(default_factory=list)
    composite: list[PsdChannel] = field(default_factory=list)  # R, G, B
    resources: bytes = b""


def _packbits_rows(a: np.ndarray) -> tuple[bytes, np.ndarray]:
    """PackBits-encode each row of a (h, w) uint8 array, vectorised.

    Each row is cut into 128-byte blocks; a uniform block becomes a 2-byte repeat
    packet, any other block a literal packet. That is valid PackBits (what
    Photoshop's decoder reads), compresses flat and transparent areas 64:1 and
    costs at most 1/128 on grainy paint.
    """
    h, w = a.shape
    nb = -(-w // 128)
    pad = nb * 128 - w
    if pad:
        a = np.pad(a, ((0, 0), (0, pad)), mode="edge")
    blocks = a.reshape(h, nb, 128)
    uniform = (blocks == blocks[:, :, :1]).all(axis=2)
    n = np.full(nb, 128, np.int32)
    n[-1] = 128 - pad
    header = np.where(uniform, (257 - n) & 0xFF, n - 1).astype(np.uint8)
    full = np.empty((h, nb, 129), np.uint8)
    full[:, :, 0] = header
    full[:, :, 1:] = blocks
    literal_span = np.arange(129)[None, :] <= n[:, None]  # (nb, 129): header + n bytes
    keep = (~uniform)[:, :, None] & literal_span[None]
    keep[:, :, :2] = True
    counts = keep.reshape(h, -1).sum(axis=1).astype(">u2")
    return full[keep].tobytes(), counts


def _unpackbits(buf: bytes, size: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < size:
        hdr = buf[i]
        i += 1
        if hdr < 128:
            out += buf[i : i + hdr + 1]
            i += hdr + 1
        elif hdr > 128:
            out += bytes((buf[i],)) * (257 - hdr)
            i += 1
    return bytes(out[:size])


def _encode_channel(cid: int, a: np.ndarray, compression: int) -> PsdChannel:
    if compression == 1:
        data, counts = _packbits_rows(a)
        return PsdChannel(cid, 1, data, counts)
    dtype = ">u2" if a.dtype == np.uint16 else np.uint8
    return PsdChannel(cid, 0, np.ascontiguousarray(a, dtype=dtype).tobytes())


def _row_offsets(ch: PsdChannel, width: int, depth: int, rows: int) -> np.ndarray:
    if ch.counts is None:
        return np.arange(rows + 1, dtype=np.int64) * (width * depth // 8)
    return np.concatenate([[0], np.cumsum(ch.counts.astype(np.int64))])


def _decode_rows(ch: PsdChannel, width: int, depth: int, rows: int, y0: int, y1: int) -> np.ndarray:
    """Decode rows [y0, y1) of a channel into an array (y1-y0, width)."""
    off = _row_offsets(ch, width, depth, rows)
    dtype = np.dtype(">u2") if depth == 16 else np.dtype(np.uint8)
    if ch.counts is None:
        raw = ch.data[off[y0] : off[y1]]
    else:
        rb = width * depth // 8
        raw = b"".join(_unpackbits(ch.data[off[y] : off[y + 1]], rb) for y in range(y0, y1))
    return np.frombuffer(raw, dtype=dtype).reshape(y1 - y0, width).astype(
        np.uint16 if depth == 16 else np.uint8
    )


def _replace_rows(ch: PsdChannel, width: int, depth: int, rows: int, y0: int,
                  new: np.ndarray) -> PsdChannel:
    """Return ``ch`` with rows [y0, y0+len(new)) replaced; other rows keep their bytes."""
    y1 = y0 + new.shape[0]
    off = _row_offsets(ch, width, depth, rows)
    enc = _encode_channel(ch.id, new, ch.compression)
    data = ch.data[: off[y0]] + enc.data + ch.data[off[y1] :]
    counts = None
    if ch.counts is not None and enc.counts is not None:
        counts = np.concatenate([ch.counts[:y0], enc.counts, ch.counts[y1:]]).astype(">u2")
    return PsdChannel(ch.id, ch.compression, data, counts)


def _pascal(name: str, pad: int) -> bytes:
    raw = name.encode("latin-1", "replace")[:255]
    b = bytes([len(raw)]) + raw
    return b + b"\0" * (-len(b) % pad)


def _layer_record(layer: PsdLayer) -> bytes:
    out = [struct.pack(">iiiiH", layer.top, layer.left, layer.bottom, layer.right,
                       len(layer.channels))]
    for ch in layer.channels:
        out.append(struct.pack(">hI", ch.id, ch.encoded_size()))
    flags = 0x08 | (0 if layer.visible else 0x02)
    out.append(b"8BIMnorm" + struct.pack(">BBBB", layer.opacity, 0, flags, 0))
    luni_chars = layer.name.encode("utf-16-be")
    luni = struct.pack(">I", len(layer.name)) + luni_chars
    luni += b"\0" * (-len(luni) % 4)
    extra = (struct.pack(">I", 0)  # layer mask data: none
             + struct.pack(">I", 0)  # blending ranges: none
             + _pascal(layer.name, 4)
             + b"8BIMluni" + struct.pack(">I", len(luni)) + luni)
    out.append(struct.pack(">I", len(extra)) + extra)
    return b"".join(out)


def _layer_info_parts(doc: PsdDocument) -> list[bytes]:
    """Layer info body: count, records, then every layer's channel image data."""
    parts = [struct.pack(">h", len(doc.layers))]
    parts += [_layer_record(layer) for layer in doc.layers]
    for layer in doc.layers:
        for ch in layer.channels:
            parts.append(struct.pack(">H", ch.compression))
            if ch.counts is not None:
                parts.append(ch.counts.astype(">u2").tobytes())
            parts.append(ch.data)
    size = sum(len(p) for p in parts)
    parts.append(b"\0" * (-size % 4))
    return parts


def write_psd(path: Path, doc: PsdDocument) -> None:
    """Write ``doc`` as a Photoshop (.psd, version 1) file, section by section."""
    if doc.depth not in (8, 16):
        raise ValueError(f"unsupported PSD depth {doc.depth}")
    info = _layer_info_parts(doc)
    info_len = sum(len(p) for p in info)
    with open(path, "wb") as f:
        f.write(b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, doc.height, doc.width, doc.depth, 3))
        f.write(struct.pack(">I", 0))  # color mode data (none for RGB)
        f.write(struct.pack(">I", len(doc.resources)) + doc.resources)
        if doc.depth == 8:
            f.write(struct.pack(">II", 4 + info_len + 4, info_len))
            for p in info:
                f.write(p)
            f.write(struct.pack(">I", 0))  # global layer mask info: none
        else:  # 16-bit: empty layer info, layers in an Lr16 tagged block
            f.write(struct.pack(">III", 4 + 4 + 12 + info_len, 0, 0))
            f.write(b"8BIMLr16" + struct.pack(">I", info_len))
            for p in info:
                f.write(p)
        comp = doc.composite
        f.write(struct.pack(">H", comp[0].compression))
        if comp[0].compression == 1:
            for ch in comp:
                f.write(ch.counts.astype(">u2").tobytes())  # type: ignore[union-attr]
        for ch in comp:
            f.write(ch.data)


def _resolution_resource(dpi: int = 300) -> bytes:
    body = struct.pack(">IHHIHH", dpi << 16, 1, 1, dpi << 16, 1, 1)
    return b"8BIM" + struct.pack(">H", 0x03ED) + b"\0\0" + struct.pack(">I", len(body)) + body


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def take(self, n: int) -> bytes:
        b = self.f.read(n)
        if len(b) != n:
            raise ValueError("truncated PSD")
        return b

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def _read_layer_info(r: _Reader, depth: int) -> list[PsdLayer]:
    (count,) = r.unpack(">h")
    records: list[tuple[PsdLayer, list[int]]] = []
    for _ in range(abs(count)):
        top, left, bottom, right, nch = r.unpack(">iiiiH")
        ids, lens = [], []
        for _c in range(nch):
            cid, clen = r.unpack(">hI")
            ids.append(cid)
            lens.append(clen)
        r.take(8)
        opacity, _clip, flags, _ = r.unpack(">BBBB")
        (extra_len,) = r.unpack(">I")
        extra = r.take(extra_len)
        mlen = struct.unpack(">I", extra[:4])[0]
        pos = 4 + mlen
        blen = struct.unpack(">I", extra[pos : pos + 4])[0]
        pos += 4 + blen
        nlen = extra[pos]
        name = extra[pos + 1 : pos + 1 + nlen].decode("latin-1")
        layer = PsdLayer(name, top, left, bottom, right,
                         [PsdChannel(cid, 0, b"") for cid in ids], opacity, not flags & 0x02)
        records.append((layer, lens))
    layers = []
    for layer, lens in records:
        for ch, clen in zip(layer.channels, lens, strict=True):
            (ch.compression,) = r.unpack(">H")
            body = r.take(clen - 2)
            if ch.compression == 1:
                ch.counts = np.frombuffer(body[: 2 * layer.height], ">u2").copy()
                ch.data = body[2 * layer.height :]
            elif ch.compression == 0:
                ch.data = body
            else:
                raise ValueError(f"unsupported channel compression {ch.compression}")
        layers.append(layer)
    return layers


def read_psd(path: Path) -> PsdDocument:
    """Read a PSD written by :func:`write_psd` (encoded rows, nothing decoded)."""
    with open(path, "rb") as f:
        r = _Reader(f)
        sig, version, nch, height, width, depth, mode = r.unpack(">4sH6xHIIHH")
        if sig != b"8BPS" or version != 1 or mode != 3:
            raise ValueError(f"{path}: not an RGB PSD (version 1)")
        (cm_len,) = r.unpack(">I")
        r.take(cm_len)
        (res_len,) = r.unpack(">I")
        resources = r.take(res_len)
        (lm_len,) = r.unpack(">I")
        lm_end = f.tell() + lm_len
        (li_len,) = r.unpack(">I")
        li_end = f.tell() + li_len
        layers = _read_layer_info(r, depth) if li_len else []
        f.seek(li_end)
        if not layers and f.tell() < lm_end:
            (gm_len,) = r.unpack(">I")
            r.take(gm_len)
            while f.tell() + 12 <= lm_end:
                _sig, key, blen = r.unpack(">4s4sI")
                end = f.tell() + blen
                if key in (b"Lr16", b"Lr32"):
                    layers = _read_layer_info(r, depth)
                f.seek(end + (-blen % 4 if key not in (b"Lr16", b"Lr32") else 0))
        f.seek(lm_end)
        (compression,) = r.unpack(">H")
        composite: list[PsdChannel] = []
        if compression == 1:
            counts = np.frombuffer(r.take(2 * nch * height), ">u2").reshape(nch, height)
            for c in range(nch):
                composite.append(PsdChannel(c, 1, r.take(int(counts[c].sum(dtype=np.int64))),
                                            counts[c].copy()))
        else:
            rb = width * depth // 8
            for c in range(nch):
                composite.append(PsdChannel(c, 0, r.take(rb * height)))
    return PsdDocument(width, height, depth, layers, composite[:3], resources)


def _layer_from_pixels(name: str, rgba: np.ndarray, top: int, left: int, depth: int,
                       compression: int) -> PsdLayer:
    h, w = rgba.shape[:2]
    chans = []
    for cid, idx in ((-1, 3), (0, 0), (1, 1), (2, 2)):
        plane = rgba[..., idx]
        if depth == 16:
            plane = plane.astype(np.uint16) * 257
        chans.append(_encode_channel(cid, plane, compression))
    return PsdLayer(name, top, left, top + h, left + w, chans)


def _layer_rgba(layer: PsdLayer, depth: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Decode canvas rect [y0:y1, x0:x1] (inside the layer) of a layer as RGBA uint8."""
    out = np.empty((y1 - y0, x1 - x0, 4), np.uint8)
    order = {-1: 3, 0: 0, 1: 1, 2: 2}
    for ch in layer.channels:
        rows = _decode_rows(ch, layer.width, depth, layer.height, y0 - layer.top, y1 - layer.top)
        rows = rows[:, x0 - layer.left : x1 - layer.left]
        out[..., order[ch.id]] = (rows >> 8) if depth == 16 else rows
    return out


def _recomposite(doc: PsdDocument, y0: int, y1: int, x0: int, x1: int) -> None:
    """Recompute the merged image over a canvas rectangle, splicing only its rows."""
    acc = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    for layer in doc.layers:
        if not layer.visible:
            continue
        iy0, iy1 = max(y0, layer.top), min(y1, layer.bottom)
        ix0, ix1 = max(x0, layer.left), min(x1, layer.right)
        if iy0 >= iy1 or ix0 >= ix1:
            continue
        src = _layer_rgba(layer, doc.depth, iy0, iy1, ix0, ix1)
        _over(acc[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0], src, layer.opacity / 255)
    merged = np.clip(acc + 0.5, 0, 255).astype(np.uint8)
    for c, ch in enumerate(doc.composite):
        rows = _decode_rows(ch, doc.width, doc.depth, doc.height, y0, y1)
        rows[:, x0:x1] = merged[..., c].astype(np.uint16) * 257 if doc.depth == 16 else merged[..., c]
        doc.composite[c] = _replace_rows(ch, doc.width, doc.depth, doc.height, y0, rows)


def _make_psd(path: Path, rng: np.random.Generator, w: int, h: int, nlayers: int,
              depth: int, compression: int) -> None:
    """Paint a layered document and write it, with its merged composite."""
    kinds = ["background", "paint", "shading", "paint", "lines", "paint", "shading", "lines"]
    names = ["Background", "Color blocking", "Shadows", "Character", "Line art",
             "Props", "Ambient occlusion", "Sketch"]
    doc = PsdDocument(w, h, depth, resources=_resolution_resource())
    acc = np.zeros((h, w, 3), np.float32)
    for k in range(nlayers):
        kind, name = kinds[k % len(kinds)], names[k % len(names)]
        if k >= len(names):
            name = f"{name} {k // len(names) + 1}"
        if k < 2:  # background and first paint layer cover the canvas
            top, left, lh, lw = 0, 0, h, w
        else:  # others are bounded, as Photoshop trims layers to their content
            lh = max(8, int(h * rng.uniform(0.3, 0.8)))
            lw = max(8, int(w * rng.uniform(0.3, 0.8)))
            top, left = int(rng.integers(0, h - lh + 1)), int(rng.integers(0, w - lw + 1))
        rgba = _paint_layer(rng, lh, lw, kind)
        _over(acc[top : top + lh, left : left + lw], rgba)
        doc.layers.append(_layer_from_pixels(name, rgba, top, left, depth, compression))
        del rgba
    merged = np.clip(acc + 0.5, 0, 255).astype(np.uint8)
    del acc
    for c in range(3):
        plane = merged[..., c]
        if depth == 16:
            plane = plane.astype(np.uint16) * 257
        doc.composite.append(_encode_channel(c, plane, compression))
    write_psd(path, doc)


def _repaint_psd(path: Path, rng: np.random.Generator) -> str:
    """Brush a soft patch into one rectangle of one layer; rewrite the file."""
    doc = read_psd(path)
    li = int(rng.integers(1, len(doc.layers))) if len(doc.layers) > 1 else 0
    layer = doc.layers[li]
    rh = max(4, int(layer.height * rng.uniform(0.05, 0.15)))
    rw = max(4, int(layer.width * rng.uniform(0.05, 0.15)))
    y0 = layer.top + int(rng.integers(0, layer.height - rh + 1))
    x0 = layer.left + int(rng.integers(0, layer.width - rw + 1))
    old = _layer_rgba(layer, doc.depth, y0, y0 + rh, layer.left, layer.right)
    yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
    d = ((yy - rh / 2) / (rh / 2)) ** 2 + ((xx - rw / 2) / (rw / 2)) ** 2
    a = np.clip((1.0 - d) * 2.5, 0, 1)[..., None] * 0.85
    patch = old[:, x0 - layer.left : x0 - layer.left + rw].astype(np.float32)
    paint = _color(rng)[None, None] + _grain(rng, (rh, rw, 3), 4)
    patch[..., :3] = patch[..., :3] * (1 - a) + paint * a
    patch[..., 3] = np.maximum(patch[..., 3], a[..., 0] * 255)
    old[:, x0 - layer.left : x0 - layer.left + rw] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    order = {-1: 3, 0: 0, 1: 1, 2: 2}
    for n, ch in enumerate(layer.channels):
        rows = old[..., order[ch.id]]
        if doc.depth == 16:
            rows = rows.astype(np.uint16) * 257
        layer.channels[n] = _replace_rows(ch, layer.width, doc.depth, layer.height,
                                          y0 - layer.top, rows)
    _recomposite(doc, y0, y0 + rh, x0, x0 + rw)
    write_psd(path, doc)
    return layer.name


def _add_psd_layer(path: Path, rng: np.random.Generator, i: int) -> None:
    """Add a new bounded layer on top (an artist's fix-up pass)."""
    doc = read_psd(path)
    lh = max(8, int(doc.height * rng.uniform(0.1, 0.3)))
    lw = max(8, int(doc.width * rng.uniform(0.1, 0.3)))
    top = int(rng.integers(0, doc.height - lh + 1))
    left = int(rng.integers(0, doc.width - lw + 1))
    rgba = _paint_layer(rng, lh, lw, "paint")
    compression = doc.layers[0].channels[0].compression if doc.layers else 1
    doc.layers.append(_layer_from_pixels(f"Fix {i:02d}", rgba, top, left, doc.depth, compression))
    _recomposite(doc, top, top + lh, left, left + lw)
    write_psd(path, doc)


# --------------------------------------------------------------------------- other formats


def _png_bytes(arr: np.ndarray, level: int = 6) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def _make_ora(path: Path, rng: np.random.Generator, w: int, h: int, nlayers: int) -> None:
    """OpenRaster: zip with ``mimetype`` first (stored), stack.xml, PNG layers, merged, thumbnail."""
    from PIL import Image

    kinds = ["background", "paint", "shading", "lines", "paint"]
    names = ["Paper", "Flats", "Shade", "Ink", "Details"]
    acc = np.zeros((h, w, 3), np.float32)
    entries: list[tuple[str, bytes]] = []
    stack = []
    for k in range(nlayers):
        rgba = _paint_layer(rng, h, w, kinds[k % len(kinds)])
        _over(acc, rgba)
        src = f"data/layer{k:03d}.png"
        entries.append((src, _png_bytes(rgba)))
        stack.append(f'    <layer name="{names[k % len(names)]}" src="{src}" x="0" y="0" '
                     f'opacity="1.000" visibility="visible" composite-op="svg:src-over"/>')
    merged = np.clip(acc + 0.5, 0, 255).astype(np.uint8)
    xml = ("<?xml version='1.0' encoding='UTF-8'?>\n"
           f'<image version="0.0.3" w="{w}" h="{h}" xres="300" yres="300">\n  <stack>\n'
           + "\n".join(reversed(stack)) + "\n  </stack>\n</image>\n")
    thumb = Image.fromarray(merged)
    thumb.thumbnail((256, 256))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype", _ZIP_DATE), b"image/openraster",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("stack.xml", _ZIP_DATE), xml, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, _ZIP_DATE), data, compress_type=zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("mergedimage.png", _ZIP_DATE), _png_bytes(merged),
                   compress_type=zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("Thumbnails/thumbnail.png", _ZIP_DATE),
                   _png_bytes(np.asarray(thumb)), compress_type=zipfile.ZIP_STORED)


def _texture(rng: np.random.Generator, side: int, kind: str) -> np.ndarray:
    """Tileable-looking material textures: bricks, wood, stone (RGB uint8) or a height map."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    n = _smooth(rng, side, side, 16)
    if kind == "height":
        hmap = n * 0.7 + _smooth(rng, side, side, 64) * 0.3
        return (hmap * 65535).astype(np.uint16)
    if kind == "bricks":
        rows = 8
        off = (np.floor(yy * rows) % 2) * 0.5 / 4
        mortar = (np.minimum((yy * rows) % 1, ((xx + off) * 4) % 1) < 0.06)
        base = _color(rng)[None, None] * (0.75 + 0.5 * n[..., None])
        rgb = np.where(mortar[..., None], 200.0, base)
    elif kind == "wood":
        rings = np.sin((xx * 3 + n * 2.5) * 2 * np.pi * 6) * 0.5 + 0.5
        rgb = np.array([150, 100, 60], np.float32)[None, None] * (0.6 + 0.4 * rings[..., None])
    else:  # stone
        rgb = _color(rng)[None, None] * 0.3 + 160 * n[..., None] * np.ones(3, np.float32)
    rgb = rgb + _grain(rng, (side, side, 3), 6)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _write_texture(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    if arr.dtype == np.uint16:
        Image.fromarray(arr).save(path, format="TIFF")  # 16-bit gray ("I;16"), uncompressed
    else:
        path.write_bytes(_png_bytes(arr))


def _read_texture(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.array(img)


def _mesh_grid(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A displaced terrain grid with n x n vertices (float32 vertices, int faces)."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    z = _smooth(rng, n, n, 6) * 0.3 + _smooth(rng, n, n, 24) * 0.05
    verts = np.stack([x * 10, z * 10, y * 10], axis=-1).reshape(-1, 3)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([b, c, d], -1).reshape(-1, 3)])
    return verts.astype(np.float32), faces


def _mesh_rock(rng: np.random.Generator, subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    v = np.asarray(m.vertices, dtype=np.float32)
    bump = rng.normal(0, 0.04, size=(len(v), 1)).astype(np.float32)
    lumps = 1 + 0.25 * np.sin(v @ rng.normal(0, 3, size=(3, 1)).astype(np.float32))
    return v * (lumps + bump), np.asarray(m.faces)


def _write_obj(path: Path, verts: np.ndarray, faces: np.ndarray, material: str) -> None:
    mtl = path.with_suffix(".mtl")
    mtl.write_text(f"# {material}\nnewmtl {material}\nKa 0.2 0.2 0.2\nKd 0.6 0.55 0.5\n"
                   f"Ks 0.1 0.1 0.1\nNs 10.0\nmap_Kd ../textures/{material}.png\n")
    with open(path, "w") as f:
        f.write(f"# CreativeVault synthetic mesh\nmtllib {mtl.name}\no {path.stem}\n")
        f.write("".join(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in verts.tolist()))
        f.write(f"usemtl {material}\n")
        f.write("".join(f"f {a} {b} {c}\n" for a, b, c in (faces + 1).tolist()))


def _write_trimesh(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    import trimesh

    mesh = trimesh.Trimesh(vertices=verts, faces=faces, process=False)
    path.write_bytes(mesh.export(file_type=path.suffix.lstrip(".")))


def _nudge_obj(path: Path, rng: np.random.Generator) -> None:
    lines = path.read_text().splitlines(keepends=True)
    vidx = [k for k, ln in enumerate(lines) if ln.startswith("v ")]
    start = int(rng.integers(0, max(1, len(vidx) - 8)))
    for k in vidx[start : start + 8]:
        x, y, z = (float(t) for t in lines[k].split()[1:4])
        dx, dy, dz = rng.normal(0, 0.02, 3)
        lines[k] = f"v {x + dx:.6f} {y + dy:.6f} {z + dz:.6f}\n"
    path.write_text("".join(lines))


def _nudge_ply(path: Path, rng: np.random.Generator) -> None:
    """Move a few vertices in a binary little-endian PLY (in place; float32 x y z first)."""
    data = bytearray(path.read_bytes())
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    nvert = next(int(h.split()[2]) for h in header if h.startswith("element vertex"))
    props = []
    in_vertex = False
    for h in header:
        if h.startswith("element"):
            in_vertex = h.startswith("element vertex")
        elif h.startswith("property") and in_vertex:
            props.append(h.split()[1])
    sizes = {"float": 4, "float32": 4, "double": 8, "float64": 8, "uchar": 1, "int": 4}
    stride = sum(sizes.get(p, 4) for p in props)
    if props[:3] != ["float"] * 3 and props[:3] != ["float32"] * 3:
        return
    start = int(rng.integers(0, max(1, nvert - 8)))
    for k in range(start, min(nvert, start + 8)):
        off = end + k * stride
        xyz = np.frombuffer(bytes(data[off : off + 12]), "<f4") + rng.normal(0, 0.02, 3)
        data[off : off + 12] = xyz.astype("<f4").tobytes()
    path.write_bytes(bytes(data))


def _photo_pixels(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A landscape-ish photo: sky gradient, hills, texture, sensor noise (RGB uint8)."""
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.array([120, 170, 230], np.float32) * (1 - t) + np.array([230, 220, 200],
                                                                   np.float32) * t
    hill = (_smooth(rng, 1, w, 8)[0] * 0.4 + 0.45) * h
    ground = (np.arange(h)[:, None] > hill[None, :])[..., None]
    tex = _smooth(rng, h, w, 40)[..., None]
    land = _color(rng)[None, None] * (0.5 + 0.7 * tex)
    rgb = np.where(ground, land, sky) + rng.normal(0, 4, (h, w, 3)).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _exif(rng: np.random.Generator, n: int) -> bytes:
    import piexif

    zeroth = {piexif.ImageIFD.Make: b"Synthetic", piexif.ImageIFD.Model: b"CV-1 Field",
              piexif.ImageIFD.Software: b"creativevault corpus"}
    day, sec = 1 + n // 500, n % 500
    exif = {
        piexif.ExifIFD.DateTimeOriginal: f"2024:03:{day:02d} 09:{sec // 60:02d}:{sec % 60:02d}"
        .encode(),
        piexif.ExifIFD.ExposureTime: (1, int(rng.choice([60, 125, 250, 500, 1000]))),
        piexif.ExifIFD.FNumber: (int(rng.choice([18, 28, 40, 56, 80])), 10),
        piexif.ExifIFD.ISOSpeedRatings: int(rng.choice([100, 200, 400, 800])),
        piexif.ExifIFD.FocalLength: (int(rng.integers(24, 200)), 1),
    }
    gps = {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((64, 1), (8, 1), (n, 1)),
           piexif.GPSIFD.GPSLongitudeRef: b"W",
           piexif.GPSIFD.GPSLongitude: ((21, 1), (56, 1), (n % 60, 1))}
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})


def _write_jpeg(path: Path, rng: np.random.Generator, w: int, h: int, n: int) -> None:
    from PIL import Image

    Image.fromarray(_photo_pixels(rng, w, h)).save(path, format="JPEG", quality=90,
                                                   exif=_exif(rng, n))


def _pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack unsigned samples MSB-first, 12 bits (2 in 3 bytes) or 14 bits (4 in 7 bytes)."""
    v = values.astype(np.uint64).reshape(-1)
    per = 2 if bits == 12 else 4
    v = np.pad(v, (0, -len(v) % per)).reshape(-1, per)
    word = np.zeros(len(v), np.uint64)
    for k in range(per):
        word = (word << np.uint64(bits)) | v[:, k]
    nbytes = per * bits // 8
    shifts = np.arange(nbytes - 1, -1, -1, dtype=np.uint64) * np.uint64(8)
    return ((word[:, None] >> shifts[None, :]) & np.uint64(0xFF)).astype(np.uint8).tobytes()


def _write_raw(path: Path, rng: np.random.Generator, w: int, h: int, bits: int) -> None:
    """A RAW-like file: a little-endian TIFF IFD (CFA, 12/14 bits) + packed Bayer samples."""
    rgb = _photo_pixels(rng, w, h).astype(np.float32) / 255.0
    bayer = np.empty((h, w), np.float32)
    bayer[0::2, 0::2] = rgb[0::2, 0::2, 0]
    bayer[0::2, 1::2] = rgb[0::2, 1::2, 1]
    bayer[1::2, 0::2] = rgb[1::2, 0::2, 1]
    bayer[1::2, 1::2] = rgb[1::2, 1::2, 2]
    top = (1 << bits) - 1
    signal = bayer**2.2 * top * 0.9
    sensor = signal + rng.normal(0, 1, (h, w)).astype(np.float32) * np.sqrt(signal + 16)
    samples = np.clip(sensor, 0, top).astype(np.uint16)
    strip = _pack_bits(samples, bits)
    make, model = b"Synthetic\0", b"CV-1 Field\0"
    entries = [
        (254, 4, 1, 0), (256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, 1),
        (262, 3, 1, 32803), (271, 2, len(make), make), (272, 2, len(model), model),
        (273, 4, 1, None), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, len(strip)),
        (33421, 3, 2, (2, 2)), (33422, 1, 4, bytes([0, 1, 1, 2])),
        (50706, 1, 4, bytes([1, 4, 0, 0])),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    extra = bytearray()
    extra_base = 8 + ifd_size
    strip_off = extra_base + len(make) + len(model)
    ifd = bytearray(struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if value is None:
            value = strip_off
        if isinstance(value, bytes):
            if len(value) <= 4:
                ifd += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
            else:
                ifd += struct.pack("<HHII", tag, typ, count, extra_base + len(extra))
                extra += value
        elif isinstance(value, tuple):
            ifd += struct.pack("<HHIHH", tag, typ, count, *value)
        elif typ == 3:
            ifd += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, count, value)
    ifd += struct.pack("<I", 0)
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<I", 8) + ifd + extra + strip)


# --------------------------------------------------------------------------- the project


@dataclass
class _Plan:
    psd_side: tuple[int, int]
    psd_count: int
    ora_side: tuple[int, int]
    ora_count: int
    tex_side: int
    tex_unique: int
    tex_copies: int
    grid_n: int
    rock_sub: int
    photo_size: tuple[int, int]
    jpeg_count: int
    raw_count: int


def _dims(pixels: float, aspect: float = 16 / 9, minimum: int = 32) -> tuple[int, int]:
    h = max(minimum, int((pixels / aspect) ** 0.5))
    w = max(minimum, int(h * aspect))
    return w, h


def _plan(scale: int) -> _Plan:
    psd_count = int(np.clip(round(scale * 0.45 / (45 << 20)), 2, 10))
    # bytes per canvas pixel: 2 full layers + ~4 bounded (~30% area each) x 4 ch + 3 ch merged
    psd_px = scale * 0.45 / psd_count / ((2 + 4 * 0.3) * 4 + 3) / 0.9
    ora_count = int(np.clip(round(scale * 0.08 / (20 << 20)), 1, 4))
    ora_px = scale * 0.08 / ora_count / (4 * 4 * 0.35 + 1.5)
    tex_budget = scale * 0.2 * 0.6  # unique bytes; copies add the other 40% of files
    tex_side = 2048 if tex_budget > 100e6 else 1024 if tex_budget > 20e6 else (
        512 if tex_budget > 3e6 else 128)
    tex_unique = int(np.clip(round(tex_budget / (tex_side * tex_side * 1.8)), 6, 60))
    tex_copies = round(tex_unique * 0.4 / 0.6)
    mesh_budget = scale * 0.08
    grid_n = int(np.clip((mesh_budget * 0.5 / 90) ** 0.5, 16, 1200))
    rock_sub = int(np.clip(np.log(max(mesh_budget * 0.3 / 40 / 10, 1)) / np.log(4), 1, 7))
    # 3 RAW-like files at 1.5-1.75 bytes/pixel, JPEGs at ~0.15 bytes/pixel fill the rest
    photo_px = float(np.clip(scale * 0.17 / 8, 64 * 48, 4000 * 3000))
    photo_w, photo_h = _dims(photo_px, 4 / 3)
    photo_w -= photo_w % 2
    photo_h -= photo_h % 2
    jpeg_count = int(np.clip(round((scale * 0.17 - 5 * photo_px) / (photo_px * 0.15)), 10, 200))
    return _Plan(_dims(psd_px), psd_count, _dims(ora_px), ora_count, tex_side, tex_unique,
                 tex_copies, grid_n, rock_sub, (photo_w, photo_h), jpeg_count, 3)


def iter_files(root: Path) -> Iterator[Path]:
    """All regular files under ``root`` (sorted, recursive, skipping ``.git``)."""
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".git" not in p.relative_to(root).parts:
            yield p


def tree_bytes(root: Path) -> int:
    """Total size of the files :func:`iter_files` yields."""
    return sum(p.stat().st_size for p in iter_files(root))


def duplicate_fraction(paths: Sequence[Path]) -> float:
    """Fraction of ``paths`` whose bytes equal an earlier path's (0 if empty)."""
    seen: set[bytes] = set()
    dup = 0
    for p in paths:
        h = hashlib.sha256(p.read_bytes()).digest()
        dup += h in seen
        seen.add(h)
    return dup / len(paths) if paths else 0.0


def generate_project(root: Path, scale_bytes: int, seed: int = 0) -> list[Path]:
    """Write the synthetic animation project under ``root``; return the files written."""
    import shutil

    root = Path(root)
    plan = _plan(scale_bytes)
    written: list[Path] = []

    def out(rel: str) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        written.append(p)
        return p

    shots = ["shotA", "shotB"]
    psd_names = ["keyframe_010", "bg_forest", "keyframe_020", "char_turnaround", "bg_village",
                 "keyframe_030", "fx_smoke", "bg_river", "keyframe_040", "prop_sheet"]
    for k in range(plan.psd_count):
        w, h = plan.psd_side
        depth = 16 if (k == 2 and plan.psd_count >= 3) else 8
        if depth == 16:
            w, h = int(w / 1.41), int(h / 1.41)
        compression = 0 if depth == 16 or k % 3 == 1 else 1
        path = out(f"projects/{shots[k % 2]}/paint/{psd_names[k]}.psd")
        _make_psd(path, _rng(seed, 1, k), w, h, 5 + k % 3, depth, compression)
    for k in range(plan.ora_count):
        w, h = plan.ora_side
        _make_ora(out(f"projects/{shots[k % 2]}/paint/storyboard_{k + 1:02d}.ora"),
                  _rng(seed, 2, k), w, h, 4)

    kinds = ["bricks", "wood", "stone", "height"]
    library: list[Path] = []
    own: dict[str, list[Path]] = {s: [] for s in shots}
    for k in range(plan.tex_unique):
        kind = kinds[k % len(kinds)]
        ext = "tif" if kind == "height" else "png"
        where = k % 3  # 1/3 library, 1/3 each shot's own
        rel = (f"library/textures/{kind}_{k:03d}.{ext}" if where == 0
               else f"projects/{shots[where - 1]}/tex/{kind}_{k:03d}.{ext}")
        p = out(rel)
        _write_texture(p, _texture(_rng(seed, 3, k), plan.tex_side, kind))
        (library if where == 0 else own[shots[where - 1]]).append(p)
    sources = library + own["shotA"]
    for k in range(plan.tex_copies):
        src = sources[k % len(sources)]
        dest_shot = "shotB" if src in own["shotA"] or k % 2 else "shotA"
        dest = out(f"projects/{dest_shot}/tex/{src.name}")
        if dest.exists():  # already copied there: put it in the other shot
            written.pop()
            dest = out(f"projects/{'shotA' if dest_shot == 'shotB' else 'shotB'}/tex/"
                       f"lib_{k:03d}_{src.name}")
        shutil.copyfile(src, dest)

    models = root / "library" / "models"
    v, f = _mesh_grid(_rng(seed, 4, 0), plan.grid_n)
    _write_obj(out("library/models/terrain.obj"), v, f, "terrain")
    written.append(models / "terrain.mtl")
    _write_trimesh(out("library/models/cliff.ply"), *_mesh_grid(_rng(seed, 4, 1), plan.grid_n))
    for k, name in enumerate(["rock_a", "rock_b"]):
        v, f = _mesh_rock(_rng(seed, 4, 10 + k), plan.rock_sub)
        _write_trimesh(out(f"library/models/{name}.{'glb' if k == 0 else 'ply'}"), v, f)
    v, f = _mesh_rock(_rng(seed, 4, 20), max(1, plan.rock_sub - 1))
    _write_obj(out("library/models/boulder.obj"), v, f, "stone")
    written.append(models / "boulder.mtl")

    pw, ph = plan.photo_size
    for k in range(plan.jpeg_count):
        _write_jpeg(out(f"reference/photos/DSC_{k + 1:04d}.jpg"), _rng(seed, 5, k), pw, ph, k)
    for k in range(plan.raw_count):
        _write_raw(out(f"reference/photos/DSC_{900 + k:04d}.dng"), _rng(seed, 6, k), pw, ph,
                   12 if k % 2 == 0 else 14)
    return sorted(written)


def edit_iteration(root: Path, i: int, seed: int = 0,
                   notes: list[str] | None = None) -> list[Path]:
    """Apply iteration ``i``'s local edits under ``root``; return the changed/added files.

    A one-line description of each edit is appended to ``notes`` when given.
    """
    root = Path(root)
    rng = _rng(seed, 0xED17, i)
    files = list(iter_files(root))
    changed: list[Path] = []
    said = notes if notes is not None else []
    psds = [p for p in files if p.suffix == ".psd"]
    if psds:
        target = psds[int(rng.integers(len(psds)))]
        said.append(f"repaint '{_repaint_psd(target, rng)}' in {target.name}")
        changed.append(target)
        if i % 4 == 3:
            other = psds[(psds.index(target) + 1) % len(psds)]
            _add_psd_layer(other, rng, i)
            said.append(f"add layer 'Fix {i:02d}' to {other.name}")
            if other not in changed:
                changed.append(other)
    textures = [p for p in files if "textures" in p.parts or "tex" in p.parts]
    if textures:
        target = textures[int(rng.integers(len(textures)))]
        arr = _read_texture(target)
        side = arr.shape[0]
        s = max(4, side // 10)
        y, x = (int(v) for v in rng.integers(0, side - s, 2))
        spot = arr[y : y + s, x : x + s].astype(np.float32)
        arr[y : y + s, x : x + s] = np.clip(spot * rng.uniform(0.8, 1.2), 0,
                                            np.iinfo(arr.dtype).max).astype(arr.dtype)
        _write_texture(target, arr)
        said.append(f"touch up {target.parent.parent.name}/{target.parent.name}/{target.name}")
        changed.append(target)
    meshes = [p for p in files if p.suffix in (".obj", ".ply")]
    if meshes:
        target = meshes[int(rng.integers(len(meshes)))]
        (_nudge_obj if target.suffix == ".obj" else _nudge_ply)(target, rng)
        said.append(f"move vertices of {target.name}")
        changed.append(target)
    photos = [p for p in files if p.suffix == ".jpg"]
    if photos:
        from PIL import Image

        with Image.open(photos[0]) as img:
            w, h = img.size
        for k in range(2):
            p = root / "reference" / "photos" / f"DSC_{2000 + 10 * i + k:04d}.jpg"
            _write_jpeg(p, rng, w, h, 100 + 10 * i + k)
            changed.append(p)
        said.append("2 new reference photos")
    return changed


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import time

    ap = argparse.ArgumentParser(description="Generate the synthetic creative corpus.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--scale", default="small", help=f"{'/'.join(SCALES)} or a byte count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=0)
    args = ap.parse_args(argv)
    scale = SCALES.get(args.scale) or int(args.scale)
    t0 = time.perf_counter()
    files = generate_project(args.out, scale, args.seed)
    t1 = time.perf_counter()
    print(f"{len(files)} files, {tree_bytes(args.out) / 1e6:.1f} MB in {t1 - t0:.1f} s")
    for i in range(args.iterations):
        t = time.perf_counter()
        changed = edit_iteration(args.out, i, args.seed)
        print(f"iteration {i}: {len(changed)} files changed in {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
