"""Krita's tiled paint-device data: the ``layers/layerN`` files inside a ``.kra`` zip.

A layer file is a small text header followed by tiles::

    VERSION 2\\n TILEWIDTH 64\\n TILEHEIGHT 64\\n PIXELSIZE 4\\n DATA <count>\\n
    then per tile: "<x>,<y>,LZF,<size>\\n" and <size> bytes: a flag byte
    (1: LZF-compressed, 0: stored) and the tile's bytes.

A compressed tile holds its pixels *byte-planar* (every pixel's byte 0, then every
pixel's byte 1, ...; Krita's ``linearizeColors``); a stored tile holds them interleaved.
Tile coordinates are the tile's top-left pixel in the layer's own coordinates (which may be
negative). 8- and 16-bit integer RGBA are stored B, G, R, A; float RGBA as R, G, B, A.

LZF is liblzf's raw format (no header). imagecodecs' C decoder is used when it is
installed; :func:`lzf_decompress` is the pure-Python fallback (and the reference for tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["KraTile", "KraTiles", "TileFormatError", "decode_tiles", "lzf_decompress", "parse_tiles",
           "pixel_format"]


class TileFormatError(ValueError):
    """The tile data does not follow Krita's format (the caller names the file)."""


@dataclass(frozen=True)
class KraTile:
    """One tile: its top-left pixel, whether LZF-compressed, and where its bytes are."""

    x: int
    y: int
    compressed: bool
    start: int
    end: int


@dataclass(frozen=True)
class KraTiles:
    """A parsed layer file: tile geometry and the tiles (bytes not yet decompressed)."""

    tile_width: int
    tile_height: int
    pixel_size: int
    tiles: tuple[KraTile, ...]

    def bbox(self) -> tuple[int, int, int, int]:
        """Union of the tiles' rectangles (x0, y0, x1, y1), in layer coordinates."""
        if not self.tiles:
            return (0, 0, 0, 0)
        return (min(t.x for t in self.tiles), min(t.y for t in self.tiles),
                max(t.x for t in self.tiles) + self.tile_width,
                max(t.y for t in self.tiles) + self.tile_height)


def lzf_decompress(data: bytes | memoryview, size: int) -> bytes:
    """Decompress raw liblzf data expected to expand to exactly ``size`` bytes."""
    out = bytearray()
    src = bytes(data)
    i, n = 0, len(src)
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            run = ctrl + 1
            if i + run > n:
                raise TileFormatError("LZF literal runs past the end of the data")
            out += src[i:i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise TileFormatError("LZF back-reference cut short")
            length += src[i]
            i += 1
        if i >= n:
            raise TileFormatError("LZF back-reference cut short")
        ref = len(out) - ((ctrl & 0x1F) << 8) - src[i] - 1
        i += 1
        length += 2
        if ref < 0:
            raise TileFormatError("LZF back-reference before the start of the data")
        dist = len(out) - ref
        if dist >= length:  # no overlap: one slice
            out += out[ref:ref + length]
        else:  # overlapping copy repeats the last ``dist`` bytes
            pattern = out[ref:]
            reps, rest = divmod(length, dist)
            out += pattern * reps + pattern[:rest]
    if len(out) != size:
        raise TileFormatError(f"LZF data expanded to {len(out)} bytes, expected {size}")
    return bytes(out)


def _lzf(data: bytes | memoryview, size: int) -> bytes:
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - imagecodecs is a dependency
        return lzf_decompress(data, size)
    try:
        out = imagecodecs.lzf_decode(bytes(data), out=size)
    except Exception as exc:  # imagecodecs raises its own LzfError
        raise TileFormatError(f"LZF data does not decompress ({exc})") from None
    if len(out) != size:
        raise TileFormatError(f"LZF data expanded to {len(out)} bytes, expected {size}")
    return bytes(out)


def parse_tiles(data: bytes) -> KraTiles:
    """Read a layer file's header and tile table (no decompression)."""
    header: dict[str, int] = {}
    pos = 0
    try:
        for key in ("VERSION", "TILEWIDTH", "TILEHEIGHT", "PIXELSIZE", "DATA"):
            end = data.index(b"\n", pos)
            word, _, value = data[pos:end].decode("ascii").partition(" ")
            if word != key:
                raise TileFormatError(f"expected {key} in the tile header, found {word!r}")
            header[key] = int(value)
            pos = end + 1
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, TileFormatError):
            raise
        raise TileFormatError("not a Krita tile header") from None
    if header["VERSION"] != 2:
        raise TileFormatError(f"unsupported tile data version {header['VERSION']}")
    tw, th, ps = header["TILEWIDTH"], header["TILEHEIGHT"], header["PIXELSIZE"]
    if not (0 < tw <= 4096 and 0 < th <= 4096 and 0 < ps <= 64):
        raise TileFormatError(f"implausible tile geometry {tw}x{th}x{ps}")
    tiles = []
    for _ in range(header["DATA"]):
        end = data.find(b"\n", pos)
        if end < 0:
            raise TileFormatError("tile table cut short")
        try:
            xs, ys, method, sizes = data[pos:end].decode("ascii").split(",")
            x, y, size = int(xs), int(ys), int(sizes)
        except ValueError:
            raise TileFormatError(f"bad tile header at byte {pos}") from None
        if method != "LZF":
            raise TileFormatError(f"unsupported tile compression {method!r}")
        start = end + 1
        if size < 1 or start + size > len(data):
            raise TileFormatError(f"tile at {x},{y} runs past the end of the data")
        tiles.append(KraTile(x, y, data[start] == 1, start + 1, start + size))
        pos = start + size
    return KraTiles(tw, th, ps, tuple(tiles))


def pixel_format(colorspace: str) -> tuple[Any, int, tuple[int, ...]]:
    """(numpy dtype, channel count, channel order to RGBA/GA) for a Krita colour space id."""
    import numpy as np

    formats: dict[str, tuple[Any, int, tuple[int, ...]]] = {
        "RGBA": (np.dtype(np.uint8), 4, (2, 1, 0, 3)),
        "RGBA16": (np.dtype("<u2"), 4, (2, 1, 0, 3)),
        "RGBAF16": (np.dtype("<f2"), 4, (0, 1, 2, 3)),
        "RGBAF32": (np.dtype("<f4"), 4, (0, 1, 2, 3)),
        "GRAYA": (np.dtype(np.uint8), 2, (0, 1)),
        "GRAYAU16": (np.dtype("<u2"), 2, (0, 1)),
        "GRAYA16": (np.dtype("<u2"), 2, (0, 1)),
        "GRAYAF16": (np.dtype("<f2"), 2, (0, 1)),
        "GRAYAF32": (np.dtype("<f4"), 2, (0, 1)),
    }
    if colorspace not in formats:
        raise TileFormatError(f"unsupported Krita colour space {colorspace!r}")
    return formats[colorspace]


def decode_tiles(data: bytes, colorspace: str, default_pixel: bytes | None = None,
                 ) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode a layer file to an RGBA array over its tiles' extent, and that extent's origin.

    Gray colour spaces come back as RGBA too (gray replicated). The dtype is the colour
    space's own (uint8, uint16, float16 widened to float32, float32).
    """
    import numpy as np

    parsed = parse_tiles(data)
    dtype, nch, order = pixel_format(colorspace)
    if parsed.pixel_size != dtype.itemsize * nch:
        raise TileFormatError(f"pixel size {parsed.pixel_size} does not fit colour space "
                              f"{colorspace!r}")
    tw, th, ps = parsed.tile_width, parsed.tile_height, parsed.pixel_size
    x0, y0, x1, y1 = parsed.bbox()
    canvas = np.zeros((y1 - y0, x1 - x0, ps), np.uint8)
    if default_pixel and len(default_pixel) == ps and any(default_pixel):
        canvas[:] = np.frombuffer(default_pixel, np.uint8)
    view = memoryview(data)
    tile_bytes = tw * th * ps
    for t in parsed.tiles:
        if t.compressed:
            raw = _lzf(view[t.start:t.end], tile_bytes)
            pix = np.frombuffer(raw, np.uint8).reshape(ps, th, tw).transpose(1, 2, 0)
        else:
            if t.end - t.start != tile_bytes:
                raise TileFormatError(f"stored tile at {t.x},{t.y} has {t.end - t.start} "
                                      f"bytes, expected {tile_bytes}")
            pix = np.frombuffer(view[t.start:t.end], np.uint8).reshape(th, tw, ps)
        canvas[t.y - y0:t.y - y0 + th, t.x - x0:t.x - x0 + tw] = pix
    chans = canvas.view(dtype).reshape(y1 - y0, x1 - x0, nch)[..., list(order)]
    if nch == 2:
        chans = chans[..., [0, 0, 0, 1]]
    if chans.dtype == np.float16:
        chans = chans.astype(np.float32)
    return np.ascontiguousarray(chans), (x0, y0)
