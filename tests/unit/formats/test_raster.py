"""load_raster: native precision for every format, clear errors for bad files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from creativevault.errors import InputFileError
from creativevault.formats.raster import find_jpeg_previews, load_raster


def _gradient(h: int = 48, w: int = 64, c: int = 3, dtype: type = np.uint8) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / (w - 1), yy / (h - 1), (xx + yy) / (w + h - 2), 1 - xx / (w - 1)],
                    axis=-1)[:, :, :c]
    if np.dtype(dtype).kind == "f":
        return base.astype(dtype)
    return (base * np.iinfo(dtype).max).round().astype(dtype)


#: the ICC header's creation date (year, month, day, hour, minute, second), bytes 24-35
_ICC_DATE = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)


def _srgb_icc() -> bytes:
    """An sRGB profile, the same bytes at every call: LittleCMS dates a new profile to the
    second, so a profile written and one made again to compare with differed whenever a
    second boundary fell between the two calls (as it did under load)."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return icc[:24] + _ICC_DATE + icc[36:]


def test_reference_profile_does_not_depend_on_the_clock() -> None:
    import io
    import time

    from PIL import ImageCms

    first = _srgb_icc()
    time.sleep(1.01 - time.time() % 1)  # the next second has begun
    assert _srgb_icc() == first
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(first)))


def test_png_8bit_rgba_with_icc(tmp_path: Path) -> None:
    from PIL import Image

    arr = _gradient(c=4)
    path = tmp_path / "a.png"
    Image.fromarray(arr, "RGBA").save(path, icc_profile=_srgb_icc())
    r = load_raster(path)
    assert r.pixels.dtype == np.uint8 and r.mode == "RGBA" and r.bit_depth == 8
    assert r.format == "PNG" and r.size == (64, 48) and r.channels == 4
    assert r.icc_profile == _srgb_icc()
    assert np.array_equal(r.pixels, arr)
    assert r.describe() == "64x48 RGBA 8-bit"


def test_png_16bit_keeps_every_bit(tmp_path: Path) -> None:
    import imagecodecs

    arr = _gradient(dtype=np.uint16)
    arr[0, 0] = [1, 2, 3]  # values no 8-bit reduction keeps
    path = tmp_path / "a16.png"
    path.write_bytes(imagecodecs.png_encode(arr))
    r = load_raster(path)
    assert r.pixels.dtype == np.uint16 and r.bit_depth == 16 and r.mode == "RGB"
    assert np.array_equal(r.pixels, arr)


def test_png_palette_and_grey(tmp_path: Path) -> None:
    from PIL import Image

    pal = Image.fromarray(_gradient()).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.save(tmp_path / "p.png")
    assert load_raster(tmp_path / "p.png").mode == "RGB"
    Image.fromarray(_gradient(c=1)[:, :, 0]).save(tmp_path / "g.png")
    r = load_raster(tmp_path / "g.png")
    assert r.mode == "L" and r.pixels.shape == (48, 64, 1)
    Image.fromarray(_gradient(c=1)[:, :, 0] > 100).save(tmp_path / "bits.png")
    assert set(np.unique(load_raster(tmp_path / "bits.png").pixels)) <= {0, 255}


@pytest.mark.parametrize(("dtype", "depth"), [(np.uint8, 8), (np.uint16, 16),
                                              (np.float32, 32), (np.float16, 16)])
def test_tiff_depths(tmp_path: Path, dtype: type, depth: int) -> None:
    import tifffile

    arr = _gradient(dtype=dtype)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, arr, photometric="rgb", iccprofile=_srgb_icc())
    r = load_raster(path)
    assert r.pixels.dtype == arr.dtype and r.bit_depth == depth
    assert r.is_float == (np.dtype(dtype).kind == "f")
    assert r.mode == "RGB" and r.icc_profile == _srgb_icc()
    assert np.array_equal(r.pixels, arr)


def test_tiff_planar_multipage_and_grey(tmp_path: Path) -> None:
    import tifffile

    arr = _gradient(dtype=np.uint16)
    path = tmp_path / "planar.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.moveaxis(arr, -1, 0), photometric="rgb", planarconfig="separate")
        tw.write(arr, photometric="rgb")
    r = load_raster(path)
    assert np.array_equal(r.pixels, arr) and r.note == "first of 2 pages"
    tifffile.imwrite(tmp_path / "g.tif", arr[:, :, 0], photometric="minisblack")
    g = load_raster(tmp_path / "g.tif")
    assert g.mode == "L" and g.pixels.shape == (48, 64, 1)


def test_tiff_palette_and_cmyk(tmp_path: Path) -> None:
    import tifffile

    idx = (np.arange(48 * 64) % 4).reshape(48, 64).astype(np.uint8)
    cmap = np.zeros((3, 256), np.uint16)
    cmap[0, 1] = 65535
    tifffile.imwrite(tmp_path / "pal.tif", idx, photometric="palette", colormap=cmap)
    r = load_raster(tmp_path / "pal.tif")
    assert r.mode == "RGB" and r.pixels.dtype == np.uint16 and r.pixels[0, 1, 0] == 65535
    cmyk = _gradient(c=4)
    tifffile.imwrite(tmp_path / "cmyk.tif", cmyk, photometric="separated")
    assert load_raster(tmp_path / "cmyk.tif").mode == "CMYK"


def _write_exr(path: Path, arr: np.ndarray, name: str = "RGB") -> None:
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {name: arr}).write(str(path))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_exr(tmp_path: Path, dtype: type) -> None:
    arr = _gradient(c=4, dtype=dtype) * 4  # HDR values above 1 survive
    path = tmp_path / "a.exr"
    _write_exr(path, arr, "RGBA")
    r = load_raster(path)
    assert r.format == "OpenEXR" and r.mode == "RGBA" and r.linear and r.is_float
    assert r.pixels.dtype == arr.dtype and np.array_equal(r.pixels, arr)


def test_exr_other_channels(tmp_path: Path) -> None:
    import OpenEXR

    y = _gradient(c=1, dtype=np.float32)[:, :, 0]
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"Z": y, "depth.V": y * 2}).write(str(tmp_path / "z.exr"))
    r = load_raster(tmp_path / "z.exr")
    assert r.mode == "Z+depth.V" and r.pixels.shape == (48, 64, 2)
    OpenEXR.File(header, {"Y": y}).write(str(tmp_path / "y.exr"))
    assert load_raster(tmp_path / "y.exr").mode == "L"


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif"),
                                          ("BMP", "bmp"), ("TGA", "tga")])
def test_pillow_formats(tmp_path: Path, fmt: str, ext: str) -> None:
    from PIL import Image

    path = tmp_path / f"a.{ext}"
    Image.fromarray(_gradient()).save(path, format=fmt)
    r = load_raster(path)
    assert r.format == fmt and r.size == (64, 48) and r.pixels.dtype == np.uint8
    assert r.mode == "RGB"


def test_jpeg_grey_and_cmyk(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(_gradient(c=1)[:, :, 0]).save(tmp_path / "g.jpg")
    assert load_raster(tmp_path / "g.jpg").mode == "L"
    Image.fromarray(_gradient(c=4), "CMYK").save(tmp_path / "c.jpg")
    assert load_raster(tmp_path / "c.jpg").mode == "CMYK"


def test_pillow_modes_are_normalised(tmp_path: Path) -> None:
    from PIL import Image

    from creativevault.formats.raster import _from_pillow

    for mode, want, dtype in [("PA", "RGBA", np.uint8), ("La", "LA", np.uint8),
                              ("RGBa", "RGBA", np.uint8), ("YCbCr", "RGB", np.uint8),
                              ("I;16", "L", np.uint16), ("I", "L", np.int32)]:
        r = _from_pillow(Image.new(mode, (4, 3)), "X", None)
        assert (r.mode, r.pixels.dtype, r.size) == (want, dtype, (4, 3)), mode
    frames = [Image.fromarray(_gradient()).convert("P"), Image.new("P", (64, 48))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    gif = load_raster(tmp_path / "anim.gif")
    assert gif.note == "first of 2 frames" and gif.mode == "RGB"
    Image.new("1", (8, 8), 1).save(tmp_path / "one.bmp")
    assert load_raster(tmp_path / "one.bmp").pixels.max() == 255
    Image.new("F", (8, 8), 0.5).save(tmp_path / "f.tif")
    f = load_raster(tmp_path / "f.tif")
    assert f.is_float and f.mode == "L"


def test_fixture_files_load(fixture_file) -> None:
    for name, fmt in [("photo/PNG.png", "PNG"), ("photo/RIFF.webp", "WEBP"),
                      ("photo/Canon.jpg", "JPEG"), ("photo/ExifTool.tif", "TIFF"),
                      ("psd/linked-layer.png", "PNG"), ("mesh/fuze uv.jpg", "JPEG")]:
        r = load_raster(fixture_file(name))
        assert r.format == fmt and r.pixels.size > 0


@pytest.mark.parametrize(("name", "size"), [("Panasonic.rw2", (8, 8)),
                                            ("FujiFilm.raf", (160, 120))])
def test_raw_embedded_preview(fixture_file, name: str, size: tuple[int, int]) -> None:
    r = load_raster(fixture_file(f"photo/{name}"))
    assert r.size == size and r.mode == "RGB" and r.format.endswith("(embedded preview)")
    assert "embedded preview" in (r.note or "")


@pytest.mark.parametrize("name", ["CanonRaw.cr2", "CanonRaw.cr3", "Nikon.nef", "DNG.dng"])
def test_raw_stub_preview_is_a_clear_error(fixture_file, name: str) -> None:
    path = fixture_file(f"photo/{name}")
    with pytest.raises(InputFileError, match="embedded JPEG preview") as info:
        load_raster(path)
    assert name in str(info.value)


def test_raw_preview_found_among_other_data(tmp_path: Path) -> None:
    import io

    from PIL import Image

    def jpeg(w: int, h: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(_gradient(h, w)).save(buf, format="JPEG")
        return buf.getvalue()

    # a lossless (SOF3) stream like raw sensor data, a thumbnail, a larger preview
    sof3 = b"\xff\xd8\xff\xc3\x00\x0b\x08\x10\x00\x10\x00\x01\x01\x11\x00"
    blob = b"II*\x00" + b"\0" * 100 + sof3 + jpeg(16, 12) + b"\xff\xd8\xff\x00" + jpeg(64, 48)
    (tmp_path / "x.nef").write_bytes(blob)
    found = find_jpeg_previews(blob)
    assert [(w, h) for _, _, w, h in found] == [(64, 48), (16, 12)]
    r = load_raster(tmp_path / "x.nef")
    assert r.size == (64, 48) and r.format == "NEF (embedded preview)"
    # a damaged largest preview falls back to the next one
    broken = bytearray(blob)
    start = found[0][0]
    broken[start + 600:found[0][1] - 2] = b"\x00" * (found[0][1] - 2 - start - 600)
    (tmp_path / "y.nef").write_bytes(bytes(broken[: start + 700]))
    r2 = load_raster(tmp_path / "y.nef")
    assert r2.size in ((16, 12), (64, 48))


def test_empty_missing_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        load_raster(tmp_path / "e.png")
    with pytest.raises(InputFileError, match="cannot read"):
        load_raster(tmp_path / "missing.png")
    (tmp_path / "n.txt").write_text("hello, not an image")
    with pytest.raises(InputFileError, match="unknown format") as info:
        load_raster(tmp_path / "n.txt")
    assert "n.txt" in str(info.value)
    (tmp_path / "empty.cr2").write_bytes(b"")
    with pytest.raises(InputFileError):
        load_raster(tmp_path / "empty.cr2")


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "webp", "exr", "png16"])
def test_truncated_and_corrupt_files_name_the_file(tmp_path: Path, ext: str) -> None:
    import imagecodecs
    import tifffile
    from PIL import Image

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / f"good.{ext.rstrip('16')}"
    if ext == "tif":
        tifffile.imwrite(path, arr, compression="zlib")
    elif ext == "exr":
        _write_exr(path, arr.astype(np.float32))
    elif ext == "png16":
        path.write_bytes(imagecodecs.png_encode(arr.astype(np.uint16) * 257))
    else:
        Image.fromarray(arr).save(path)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{path.suffix[1:]}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError) as info:
        load_raster(cut)
    assert "cut." in str(info.value)


def test_png_with_broken_header(tmp_path: Path) -> None:
    path = tmp_path / "h.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR")
    with pytest.raises(InputFileError, match="truncated PNG header"):
        load_raster(path)
    bad = tmp_path / "crc.png"
    ihdr = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
                    + struct.pack(">I", zlib.crc32(chunk)) + b"\0\0\0\4IDATjunk")
    with pytest.raises(InputFileError, match="crc.png"):
        load_raster(bad)
