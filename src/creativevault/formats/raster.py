"""Raster images decoded to numpy arrays at their native precision.

:func:`load_raster` reads PNG (8/16-bit), JPEG, TIFF (8/16/32-bit integer and float), OpenEXR
(half/float), WebP, GIF, BMP and TGA, and camera raws through their largest embedded JPEG
preview. Pixels keep their stored dtype: Pillow reduces 16-bit RGB PNG/TIFF to 8 bits and
cannot open float RGB TIFF, so PNG pixels come from imagecodecs (libpng, which also
releases the GIL so two files decode in parallel), TIFF from tifffile and EXR from OpenEXR;
Pillow reads the headers (ICC profile) and the remaining formats.

Third-party decoder exceptions are converted here, at this one boundary, into
:class:`~creativevault.errors.InputFileError` naming the file.
"""

from __future__ import annotations

import io
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creativevault.errors import InputFileError, VaultError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RAW_EXTENSIONS", "Raster", "find_jpeg_previews", "load_raster"]

#: camera raw extensions, read through their embedded JPEG preview
RAW_EXTENSIONS = frozenset({"cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "dng",
                            "raf", "rw2", "orf", "pef", "srw", "x3f", "3fr", "iiq", "erf",
                            "mrw", "kdc", "dcr"})

_RAW_MAGIC = (b"FUJIFILMCCD-RAW", b"IIU\x00", b"IIRO", b"IIRS", b"MMOR")
_PNG = b"\x89PNG\r\n\x1a\n"
_EXR = b"v/1\x01"
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@dataclass
class Raster:
    """A decoded image: pixels as H x W x C in their native dtype, plus what describes them."""

    pixels: np.ndarray
    mode: str  # "L", "LA", "RGB", "RGBA", "CMYK", or EXR channel names joined by "+"
    bit_depth: int  # bits per sample of ``pixels``: 8, 16, 32 (64 for float64 TIFF)
    is_float: bool
    icc_profile: bytes | None
    format: str  # "PNG", "JPEG", "TIFF", "OpenEXR", "WEBP", ..., "RW2 (embedded preview)"
    note: str | None = None
    #: scene-linear values (EXR): display them through the sRGB curve
    linear: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])

    def describe(self) -> str:
        """``1920x1080 RGB 8-bit`` (``float`` added for float samples)."""
        w, h = self.size
        kind = f"{self.bit_depth}-bit float" if self.is_float else f"{self.bit_depth}-bit"
        return f"{w}x{h} {self.mode} {kind}"


def load_raster(path: Path) -> Raster:
    """Decode the image at ``path``; unknown, corrupt or truncated files raise InputFileError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise InputFileError(f"cannot read image: {exc.strerror or exc}", path=path) from exc
    if not head:
        raise InputFileError("empty file, not an image", path=path)
    ext = path.suffix.lower().lstrip(".")
    try:
        if ext in RAW_EXTENSIONS or head.startswith(_RAW_MAGIC) or head[8:11] == b"CR\x02":
            return _load_raw_preview(path, ext)
        if head.startswith(_PNG):
            return _load_png(path)
        if head.startswith(_TIFF):
            return _load_tiff(path)
        if head.startswith(_EXR):
            return _load_exr(path)
        return _load_pillow(path, head)
    except VaultError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise anything: one boundary turns it into ours
        raise InputFileError(f"cannot decode image ({type(exc).__name__}: {exc})",
                             path=path) from exc


def _finish(pixels: Any, mode: str, fmt: str, icc: bytes | None, note: str | None = None,
            linear: bool = False) -> Raster:
    import numpy as np

    arr = np.asarray(pixels)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"unexpected pixel array shape {arr.shape}")
    return Raster(pixels=arr, mode=mode, bit_depth=arr.dtype.itemsize * 8,
                  is_float=arr.dtype.kind == "f", icc_profile=icc or None, format=fmt,
                  note=note, linear=linear)


def _open_header(path: Path) -> Any:
    """Pillow's lazy open (reads headers, decodes nothing)."""
    from PIL import Image

    return Image.open(path)


def _load_png(path: Path) -> Raster:
    import imagecodecs

    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise InputFileError("truncated PNG header", path=path)
    depth, color = data[24], data[25]
    with _open_header(path) as im:
        icc = im.info.get("icc_profile")
        if color == 3 or depth < 8:  # palette or packed bits: Pillow expands them exactly
            return _from_pillow(im, "PNG", icc)
    pixels = imagecodecs.png_decode(data)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    return _finish(pixels, _MODES.get(channels, f"{channels}ch"), "PNG", icc)


def _load_tiff(path: Path) -> Raster:
    import numpy as np
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        pixels = page.asarray()
        axes = page.axes
        if "S" in axes and axes.index("S") < axes.index("X"):  # planar: samples first
            pixels = np.moveaxis(pixels, axes.index("S"), -1)
        icc_tag = page.tags.get(34675)
        icc = bytes(icc_tag.value) if icc_tag is not None else None
        photometric = int(page.photometric)
        extra = len(page.extrasamples) if page.extrasamples else 0
        colormap = page.colormap
        frames = len(tif.pages)
    pixels = np.squeeze(pixels) if pixels.ndim > 3 else pixels
    if pixels.ndim > 3:
        raise ValueError(f"unsupported TIFF layout {page.axes}")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if photometric == 3 and colormap is not None:  # palette: expand to RGB, 16-bit entries
        pixels = np.moveaxis(colormap, 0, -1)[pixels if pixels.ndim == 2 else pixels[..., 0]]
        mode = "RGB"
    elif photometric == 5:
        mode = "CMYK" if channels - extra == 4 else f"{channels}ch"
        if extra:
            mode += "A"
    else:
        mode = _MODES.get(channels, f"{channels}ch")
    note = f"first of {frames} pages" if frames > 1 else None
    return _finish(pixels, mode, "TIFF", icc, note)


def _load_exr(path: Path) -> Raster:
    import numpy as np
    import OpenEXR

    try:
        exr = OpenEXR.File(str(path))
        channels = exr.channels()
    except RuntimeError as exc:
        raise InputFileError(f"cannot decode OpenEXR image ({exc})", path=path) from exc
    note = None
    for name in ("RGBA", "RGB", "YA", "Y"):
        if name in channels:
            pixels = channels[name].pixels
            mode = {"RGBA": "RGBA", "RGB": "RGB", "YA": "LA", "Y": "L"}[name]
            break
    else:
        names = sorted(channels)
        if not names:
            raise InputFileError("OpenEXR image has no channels", path=path)
        planes = [np.asarray(channels[n].pixels) for n in names]
        kind = np.result_type(*[p.dtype for p in planes])
        pixels = np.stack([p.astype(kind, copy=False) for p in planes], axis=-1)
        mode = "+".join(names)
    if len(exr.parts) > 1:
        note = f"first of {len(exr.parts)} parts"
    return _finish(pixels, mode, "OpenEXR", None, note, linear=True)


def _from_pillow(im: Any, fmt: str, icc: bytes | None, note: str | None = None) -> Raster:
    import numpy as np

    im.load()
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    pixels = np.asarray(im)
    if im.mode.startswith("I;16"):
        pixels = pixels.astype(np.uint16, copy=False)
        out_mode = "L"
    elif im.mode in ("I", "F"):
        out_mode = "L"
    else:
        out_mode = im.mode
    return _finish(pixels, out_mode, fmt, icc, note)


def _load_pillow(path: Path, head: bytes) -> Raster:
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(path)
    except UnidentifiedImageError as exc:
        raise InputFileError("not an image this cvault can decode (unknown format)",
                             path=path) from exc
    with im:
        fmt = im.format or "image"
        icc = im.info.get("icc_profile")
        frames = getattr(im, "n_frames", 1)
        note = f"first of {frames} frames" if frames > 1 else None
        if fmt == "JPEG" and im.mode in ("L", "RGB"):
            import imagecodecs

            # libjpeg-turbo through imagecodecs releases the GIL (Pillow's loop does not),
            # but pads a truncated stream with grey: check for the end marker first
            data = path.read_bytes()
            frame = _jpeg_frame(data, 0)
            if frame is not None and frame[0] == len(data) and data[-2:] != b"\xff\xd9":
                raise InputFileError("truncated JPEG (no end-of-image marker)", path=path)
            pixels = imagecodecs.jpeg8_decode(data)
            if pixels.shape[:2] == (im.size[1], im.size[0]):
                return _finish(pixels, im.mode, fmt, icc, note)
        return _from_pillow(im, fmt, icc, note)


def find_jpeg_previews(data: bytes | mmap.mmap) -> list[tuple[int, int, int, int]]:
    """JPEG streams embedded in ``data``: (offset, end, width, height), largest first.

    Only baseline/extended/progressive streams (SOF0/1/2) are listed, so lossless raw
    sensor data (SOF3) is skipped; ``end`` is just past the stream's EOI marker (or the
    end of ``data`` when none is found).
    """
    found = []
    pos = data.find(b"\xff\xd8\xff")
    while pos >= 0:
        info = _jpeg_frame(data, pos)
        if info is not None:
            found.append((pos, *info))
        pos = data.find(b"\xff\xd8\xff", pos + 2)
    found.sort(key=lambda t: (-t[2] * t[3], t[0]))
    return found


def _jpeg_frame(data: bytes | mmap.mmap, start: int) -> tuple[int, int, int] | None:
    """(end, width, height) of a JPEG stream at ``start``, or None if it is not a usable one."""
    i = start + 2
    size = len(data)
    width = height = 0
    while i + 4 <= size:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2:
            return None
        if marker in (0xC0, 0xC1, 0xC2):
            if i + 9 > size:
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
        elif 0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return None  # lossless / arithmetic: raw sensor data, not a preview
        elif marker == 0xDA:
            if not width or not height:
                return None
            end = data.find(b"\xff\xd9", i + 2 + length)
            return (size if end < 0 else end + 2), width, height
        i += 2 + length
    return None


def _load_raw_preview(path: Path, ext: str) -> Raster:
    from PIL import Image

    label = (ext or "raw").upper()
    with open(path, "rb") as fh:
        try:
            data: bytes | mmap.mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file cannot be mapped
            data = b""
        try:
            previews = find_jpeg_previews(data)
            errors = []
            for start, end, width, height in previews:
                try:
                    with Image.open(io.BytesIO(data[start:end])) as im:
                        icc = im.info.get("icc_profile")
                        raster = _from_pillow(im, f"{label} (embedded preview)", icc)
                except Exception as exc:  # a damaged preview: try the next one
                    errors.append(f"{width}x{height} at byte {start}: {exc}")
                    continue
                raster.note = (f"embedded preview {width}x{height} compared "
                               "(the camera raw sensor data is not decoded)")
                return raster
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
    detail = f" ({'; '.join(errors)})" if previews else ""
    raise InputFileError(f"camera raw without a decodable embedded JPEG preview{detail}",
                         path=path)
