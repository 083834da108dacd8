"""Raster diffs: compare_arrays figures, the RasterDiffer report, and its pictures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from creativevault.errors import InputFileError
from creativevault.features.diff.raster import (
    RasterDiffer,
    compare_arrays,
    full_scale,
    phash_distance,
)
from creativevault.features.diff.report import DiffOptions, Region
from creativevault.imaging import pictures as pic


def _image(h: int = 120, w: int = 160, c: int = 3, dtype: type = np.uint8) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / (w - 1), yy / (h - 1), 0.5 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 7.0),
                     np.ones_like(xx, dtype=float)], axis=-1)[:, :, :c]
    if np.dtype(dtype).kind == "f":
        return base.astype(dtype)
    return (base * np.iinfo(dtype).max).round().astype(dtype)


# ---- compare_arrays -------------------------------------------------------------------


def test_identical_arrays() -> None:
    a = _image()
    f = compare_arrays(a, a.copy())
    assert f.changed_pixels == 0 and f.changed_fraction == 0 and f.regions == []
    assert f.psnr == math.inf and f.ssim == 1.0 and f.mean_diff == 0 and f.max_diff == 0
    assert f.to_json()["psnr"] is None and not f.mask_preview.any()


def test_two_edits_give_two_clustered_regions() -> None:
    a = _image(400, 600)
    b = a.copy()
    b[50:80, 100:140] = 0  # a block
    b[300:330:3, 400:500:3] = 255  # a dotted patch: one region, not one per pixel
    f = compare_arrays(a, b)
    boxes = sorted((r.x0, r.y0, r.x1, r.y1) for r in f.regions)
    assert boxes == [(100, 50, 140, 80), (400, 300, 500, 328)]
    assert f.region_count == 2
    assert sum(r.pixels for r in f.regions) == f.changed_pixels
    assert f.changed_pixels == int(np.any(a != b, axis=2).sum())
    assert f.changed_fraction == pytest.approx(f.changed_pixels / (400 * 600))
    assert 0 < f.ssim < 1 and 0 < f.psnr < math.inf
    assert f.max_diff == pytest.approx(np.abs(a.astype(int) - b).max() / 255)
    exact = np.abs(a.astype(float) - b).mean() / 255
    assert f.mean_diff == pytest.approx(exact)
    mse = ((a.astype(float) - b) ** 2).mean() / 255 ** 2
    assert f.psnr == pytest.approx(10 * math.log10(1 / mse))
    assert f.to_json()["regions"][0].keys() == {"x0", "y0", "x1", "y1", "pixels"}


def test_sub_8bit_change_in_uint16_is_detected() -> None:
    a = _image(dtype=np.uint16)
    b = a.copy()
    b[10:12, 20:23, 1] += 3  # less than one 8-bit step (257)
    f = compare_arrays(a, b)
    assert f.changed_pixels == 6
    assert [(r.x0, r.y0, r.x1, r.y1) for r in f.regions] == [(20, 10, 23, 12)]
    assert f.max_diff == pytest.approx(3 / 65535)
    assert (a >> 8 == b >> 8).all()  # an 8-bit reduction would have seen nothing


def test_float_arrays_nan_inf_and_hdr() -> None:
    a = _image(dtype=np.float32) * 4
    b = a.copy()
    b[5, 5, 0] += 1e-6 * 4
    a[0, 0, 0] = b[0, 0, 0] = np.nan  # both NaN: equal
    a[1, 1, 1] = b[1, 1, 1] = np.inf  # both inf: equal
    b[2, 2, 2] = np.nan  # one NaN: changed (full scale)
    f = compare_arrays(a, b)
    assert f.changed_pixels == 2 and f.max_diff == pytest.approx(1.0)
    g = compare_arrays(a.astype(np.float16), (a + 2).astype(np.float16))
    assert g.max_diff > 1  # HDR difference beyond full scale is reported as such


def test_threshold_mixed_dtypes_and_grey() -> None:
    a = _image(c=1)[:, :, 0]
    b = a.copy()
    b[0:10, 0:10] = np.clip(b[0:10, 0:10].astype(int) + 2, 0, 255)
    b[50:60, 50:60] = 255 - b[50:60, 50:60]
    f = compare_arrays(a, b, threshold=0.05)
    assert f.channels == 1 and [(r.x0, r.y0) for r in f.regions] == [(50, 50)]
    # uint8 against uint16 of the same picture: equal on the 0..1 scale
    g = compare_arrays(a, a.astype(np.uint16) * 257)
    assert g.changed_pixels == 0 and g.max_diff == pytest.approx(0, abs=1e-6)
    h = compare_arrays(a > 100, a > 120)
    assert h.changed_pixels == int(((a > 100) != (a > 120)).sum())
    with pytest.raises(ValueError, match="equal shapes"):
        compare_arrays(a, a[:10])
    assert full_scale(np.int16) == 32767 and full_scale(bool) == 1.0


def test_large_image_regions_use_pooled_mask() -> None:
    a = np.zeros((1100, 1500, 3), np.uint8)
    b = a.copy()
    b[100:103, 100:103] = 9
    b[100:103, 110:113] = 9  # close to the first: merged into one region
    b[900:1000, 1200:1400] = 50
    f = compare_arrays(a, b)
    assert f.mask_scale == 3 and f.ssim_factor == 2
    assert sorted((r.x0, r.y0, r.x1, r.y1) for r in f.regions) == [
        (100, 100, 113, 103), (1200, 900, 1400, 1000)]
    assert f.mask_preview.shape == (367, 500)


def test_many_regions_are_capped() -> None:
    a = np.zeros((400, 400), np.uint8)
    b = a.copy()
    b[::20, ::20] = 1  # 400 isolated dots
    f = compare_arrays(a, b)
    assert f.region_count == 400 and len(f.regions) == 100


def test_phash_distance() -> None:
    a = _image(dtype=np.uint16)
    assert phash_distance(a, a) == 0
    assert phash_distance(a, a[::-1].copy()) > 10


# ---- pictures ---------------------------------------------------------------------------


def test_picture_helpers(tmp_path: Path) -> None:
    from PIL import Image

    assert pic.fit_factor(6000, 4000, 2048) == 3
    a16 = _image(7, 10, 2, np.uint16)
    small = pic.fit_edge(a16, 4)
    assert small.shape == (3, 4, 2) and small.dtype == np.float32
    assert pic.fit_edge(a16, 100) is a16
    grey = pic.fit_edge(_image(9, 9, 1)[:, :, 0], 3)
    assert grey.shape == (3, 3)
    for arr, mode in [(_image(c=1), None), (_image(c=2), None), (_image(c=4), None),
                      (_image(c=4), "CMYK"), (_image(dtype=np.float32) * 2, None)]:
        out = pic.to_display_rgb8(arr, mode=mode, linear=mode is None and arr.dtype.kind == "f")
        assert out.shape == (120, 160, 3) and out.dtype == np.uint8
    heat = pic.heatmap(np.array([[0.0, 0.5], [1.0, 0.0]]))
    assert heat[1, 0].tolist() == [255, 255, 255] and heat[0, 0].tolist() == [0, 0, 0]
    assert pic.heatmap(np.zeros((2, 2), bool)).max() == 0
    img = np.zeros((50, 50, 3), np.uint8)
    pic.draw_regions(img, [Region(10, 10, 20, 20, 100)], 1.0, width=1)
    assert img[9, 9].tolist() == [0, 255, 255] and img[15, 15].tolist() == [0, 0, 0]
    sbs = pic.side_by_side([img, np.zeros((30, 20, 3), np.uint8)], ["a", "b"])
    assert sbs.shape == (50 + 18, 50 + 8 + 20, 3)
    out = pic.save_png(sbs, tmp_path / "sub" / "x.png")
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im), sbs)
    assert not list((tmp_path / "sub").glob(".*tmp"))


# ---- the differ -----------------------------------------------------------------------


@pytest.fixture
def differ() -> RasterDiffer:
    return RasterDiffer()


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _save(path: Path, arr: np.ndarray, **kw) -> Path:
    from PIL import Image

    Image.fromarray(arr).save(path, **kw)
    return path


def test_accepts_by_extension_and_magic(differ: RasterDiffer) -> None:
    assert differ.kind == "raster"
    for name in ["a.PNG", "b.jpeg", "c.tif", "d.exr", "e.webp", "f.cr2", "g.rw2", "h.raf"]:
        assert differ.accepts(name, b"")
    assert differ.accepts("noext", b"\x89PNG\r\n\x1a\n....")
    assert differ.accepts("x.bin", b"RIFF\0\0\0\0WEBPVP8 ")
    assert not differ.accepts("layers.psd", b"8BPS\x00\x01")
    assert not differ.accepts("doc.kra", b"II*\x00")
    assert not differ.accepts("notes.txt", b"hello")


@pytest.mark.parametrize(("ext", "kw"), [("png", {}), ("jpg", {"quality": 95}),
                                         ("webp", {"lossless": True})])
def test_modified_8bit(tmp_path: Path, differ: RasterDiffer, ext: str, kw: dict) -> None:
    a = _image(240, 320)
    b = a.copy()
    b[20:60, 30:90] = [255, 0, 0]
    b[150:200, 200:300] = [0, 0, 255]
    pa, pb = _save(tmp_path / f"a.{ext}", a, **kw), _save(tmp_path / f"b.{ext}", b, **kw)
    d = differ.diff(pa, pb, f"img.{ext}", DiffOptions())
    assert d.status == "modified" and d.kind == "raster"
    assert d.summary[0] == "raster: 320x240 RGB 8-bit -> 320x240 RGB 8-bit"
    assert d.summary[1].startswith("changed: ")
    assert "PSNR" in d.summary[2] and "SSIM" in d.summary[2] and "phash distance" in d.summary[2]
    big = [r for r in d.figures["regions"] if r["pixels"] > 500]
    if ext != "jpg":
        assert d.summary[1].endswith("of pixels in 2 regions")
        assert sorted((r["x0"], r["y0"], r["x1"], r["y1"]) for r in big) == [
            (30, 20, 90, 60), (200, 150, 300, 200)]
    else:  # JPEG blocks bleed around each edit
        assert len(big) >= 2
    for key in ("changed_fraction", "mean_diff", "max_diff", "psnr", "ssim",
                "phash_distance", "a", "b", "compared_size"):
        assert key in d.figures


def test_16bit_png_and_tiff_sub_step_change(tmp_path: Path, differ: RasterDiffer) -> None:
    import imagecodecs
    import tifffile

    a = _image(dtype=np.uint16)
    b = a.copy()
    b[40:44, 50:55, 0] += 3
    for ext in ("png", "tif"):
        pa, pb = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        if ext == "png":
            pa.write_bytes(imagecodecs.png_encode(a))
            pb.write_bytes(imagecodecs.png_encode(b))
        else:
            tifffile.imwrite(pa, a, photometric="rgb")
            tifffile.imwrite(pb, b, photometric="rgb")
        d = differ.diff(pa, pb, f"x.{ext}", DiffOptions())
        assert d.figures["changed_pixels"] == 20, ext
        assert d.figures["regions"] == [{"x0": 50, "y0": 40, "x1": 55, "y1": 44, "pixels": 20}]
        assert d.summary[0].endswith("RGB 16-bit")


def test_float_tiff_and_exr(tmp_path: Path, differ: RasterDiffer) -> None:
    import OpenEXR
    import tifffile

    a = _image(dtype=np.float32) * 3
    b = a.copy()
    b[10:20, 10:20] += 0.001
    tifffile.imwrite(tmp_path / "a.tif", a, photometric="rgb")
    tifffile.imwrite(tmp_path / "b.tif", b, photometric="rgb")
    d = differ.diff(tmp_path / "a.tif", tmp_path / "b.tif", "f.tif", DiffOptions())
    assert d.figures["changed_pixels"] == 100
    assert d.summary[0].endswith("RGB 32-bit float")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": a}).write(str(tmp_path / "a.exr"))
    OpenEXR.File(header, {"RGB": b}).write(str(tmp_path / "b.exr"))
    d = differ.diff(tmp_path / "a.exr", tmp_path / "b.exr", "f.exr",
                    DiffOptions(out_dir=tmp_path / "out"))
    assert d.figures["changed_pixels"] == 100
    assert d.figures["max_diff"] == pytest.approx(0.001, rel=1e-2)
    assert len(d.pictures) == 3


def test_identical_images(tmp_path: Path, differ: RasterDiffer) -> None:
    a = _image()
    pa, pb = _save(tmp_path / "a.png", a), _save(tmp_path / "b.png", a)
    d = differ.diff(pa, pb, "same.png", DiffOptions(out_dir=tmp_path / "out"))
    assert d.status == "unchanged"
    assert d.summary[1] == "changed: none (pixels identical)"
    assert "PSNR inf dB, SSIM 1, phash distance 0" in d.summary[2]
    assert d.figures["psnr"] is None and d.figures["ssim"] == 1.0


def test_different_sizes_compare_the_overlap(tmp_path: Path, differ: RasterDiffer) -> None:
    a = _image(120, 160)
    b = np.zeros((100, 200, 3), np.uint8)
    b[:, :160] = a[:100]
    b[10:20, 10:20] = 0
    pa, pb = _save(tmp_path / "a.png", a), _save(tmp_path / "b.png", b)
    out = tmp_path / "out"
    d = differ.diff(pa, pb, "s.png", DiffOptions(out_dir=out))
    assert "size: 160x120 -> 200x100" in d.summary
    assert any("160x100 overlap" in n for n in d.notes)
    assert d.figures["compared_size"] == [160, 100]
    assert d.figures["regions"] == [{"x0": 10, "y0": 10, "x1": 20, "y1": 20, "pixels": 100}]

    assert _size(out / "s.blink-a.png") == _size(out / "s.blink-b.png") == (200, 120)


def test_mode_depth_and_icc_changes(tmp_path: Path, differ: RasterDiffer) -> None:
    import imagecodecs
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    a = _image()
    pa = _save(tmp_path / "a.png", a, icc_profile=srgb)
    pb = _save(tmp_path / "b.png", a, icc_profile=lab)
    d = differ.diff(pa, pb, "icc.png", DiffOptions())
    assert d.status == "modified" and d.figures["changed_pixels"] == 0
    assert any(line.startswith("ICC profile: changed (sRGB") for line in d.summary)
    pc = _save(tmp_path / "c.png", a)
    assert "ICC profile: removed" in " ".join(differ.diff(pa, pc, "x", DiffOptions()).summary)
    assert "ICC profile: added" in " ".join(differ.diff(pc, pa, "x", DiffOptions()).summary)
    # 8-bit RGB -> 16-bit RGBA of the same picture: no pixel changed, depth/mode reported
    rgba16 = np.concatenate([a.astype(np.uint16) * 257,
                             np.full(a.shape[:2] + (1,), 65535, np.uint16)], axis=2)
    pd = tmp_path / "d.png"
    pd.write_bytes(imagecodecs.png_encode(rgba16))
    d = differ.diff(pc, pd, "x.png", DiffOptions())
    assert "mode: RGB -> RGBA" in d.summary and "bit depth: 8 -> 16" in d.summary
    assert d.figures["changed_pixels"] == 0
    assert any("compared as RGBA" in n for n in d.notes)
    # grey against colour, format change
    pg = _save(tmp_path / "g.tif", a[:, :, 0])
    d = differ.diff(pg, pc, "x", DiffOptions())
    assert "format: TIFF -> PNG" in d.summary and d.figures["channels"] == 3


def test_cmyk_against_rgb_compares_common_channels(tmp_path: Path,
                                                   differ: RasterDiffer) -> None:
    from PIL import Image

    a = _image(c=4)
    Image.fromarray(a, "CMYK").save(tmp_path / "c.jpg")
    pb = _save(tmp_path / "r.jpg", _image())
    d = differ.diff(tmp_path / "c.jpg", pb, "x.jpg", DiffOptions(out_dir=tmp_path))
    assert any("first 3 channels" in n for n in d.notes)


def test_added_and_deleted(tmp_path: Path, differ: RasterDiffer) -> None:
    pa = _save(tmp_path / "a.png", _image())
    out = tmp_path / "out"
    added = differ.diff(None, pa, "new.png", DiffOptions(out_dir=out))
    assert added.status == "added" and added.summary == ["raster: added 160x120 RGB 8-bit (PNG)"]
    assert added.figures["b"]["width"] == 160 and added.pictures[0].role == "blink-b"
    deleted = differ.diff(pa, None, "old.png", DiffOptions())
    assert deleted.status == "deleted" and "a" in deleted.figures and not deleted.pictures
    assert differ.diff(None, None, "x", DiffOptions()).status == "unchanged"


def test_corrupt_side_raises_input_file_error(tmp_path: Path, differ: RasterDiffer) -> None:
    pa = _save(tmp_path / "a.png", _image())
    bad = tmp_path / "bad.png"
    bad.write_bytes(pa.read_bytes()[:300])
    with pytest.raises(InputFileError) as info:
        differ.diff(pa, bad, "x.png", DiffOptions())
    assert "bad.png" in str(info.value)


def test_raw_fixtures(fixture_file, tmp_path: Path, differ: RasterDiffer) -> None:
    raf = fixture_file("photo/FujiFilm.raf")
    d = differ.diff(raf, raf, "FujiFilm.raf", DiffOptions())
    assert d.status == "unchanged" and d.summary[0].startswith("raster: 160x120 RGB 8-bit")
    assert any("embedded preview" in n for n in d.notes)
    rw2 = fixture_file("photo/Panasonic.rw2")
    added = differ.diff(None, rw2, "Panasonic.rw2", DiffOptions())
    assert added.status == "added" and any("embedded preview" in n for n in added.notes)
    with pytest.raises(InputFileError, match="CanonRaw.cr2"):
        differ.diff(raf, fixture_file("photo/CanonRaw.cr2"), "x.cr2", DiffOptions())


def test_pictures_written_and_outlined(tmp_path: Path, differ: RasterDiffer) -> None:
    from PIL import Image

    a = _image(600, 900)
    b = a.copy()
    b[100:180, 150:300] = [255, 255, 0]
    b[400:402, 700:703, 2] ^= 1  # a one-step change must still show in the heat map
    pa, pb = _save(tmp_path / "a.png", a), _save(tmp_path / "b.png", b)
    out = tmp_path / "out"
    d = differ.diff(pa, pb, "dir/shot.png", DiffOptions(out_dir=out, preview_edge=600))
    roles = {p.role: p.path for p in d.pictures}
    assert set(roles) == {"side-by-side", "blink-a", "blink-b"}
    assert roles["side-by-side"] == out / "shot.side-by-side.png"
    assert _size(roles["blink-a"]) == (450, 300)  # long edge within the preview edge
    with Image.open(roles["side-by-side"]) as im:
        sbs = np.asarray(im)
    assert sbs.shape[1] <= 600 + 16
    panel = (sbs.shape[1] - 16) // 3
    heat = sbs[18:, 2 * (panel + 8):]
    assert (heat == [0, 255, 255]).all(axis=2).any()  # region outline colour
    # the tiny change lights the heat map although invisible at 8-bit preview scale
    scale = 900 // panel
    y, x = 400 // scale, 700 // scale
    assert heat[y - 1:y + 2, x - 1:x + 2].max() > 0
    full = differ.diff(pa, pb, "full.png", DiffOptions(out_dir=out, full_resolution=True))
    assert _size({p.role: p.path for p in full.pictures}["blink-b"]) == (900, 600)


def test_small_pillow_decoded_images_get_pictures(tmp_path):
    """A WebP no larger than the preview edge is drawn on directly (was read-only)."""
    from PIL import Image

    a = _image(64, 80)
    b = a.copy()
    b[10:20, 10:30] = 0
    Image.fromarray(a).save(tmp_path / "a.webp", lossless=True)
    Image.fromarray(b).save(tmp_path / "b.webp", lossless=True)
    out = tmp_path / "pics"
    diff = RasterDiffer().diff(tmp_path / "a.webp", tmp_path / "b.webp", "b.webp",
                               DiffOptions(out_dir=out))
    assert diff.kind == "raster" and diff.figures["changed_pixels"] == 200
    assert {p.role for p in diff.pictures} >= {"side-by-side", "blink-a", "blink-b"}
    assert all(p.path.exists() for p in diff.pictures)
