"""The differ for raster image files (PNG, JPEG, TIFF, EXR, WebP, camera raws).

Figures come from :func:`creativevault.imaging.compare.compare_arrays` at full precision;
see that module for the documented downsamples (SSIM, region clustering).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creativevault.features.diff.report import DiffOptions, FileDiff, Picture
from creativevault.formats.raster import RAW_EXTENSIONS, Raster, load_raster
from creativevault.imaging.compare import (
    RasterFigures,
    compare_arrays,
    full_scale,
    phash_distance,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "RAW_EXTENSIONS",
    "RASTER_EXTENSIONS",
    "RasterDiffer",
    "RasterFigures",
    "compare_arrays",
    "full_scale",
    "phash_distance",
]

#: extensions this differ takes (camera raws through their embedded preview)
RASTER_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "jfif", "tif", "tiff", "exr",
                               "webp", "bmp", "gif", "tga"}) | RAW_EXTENSIONS


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
            from creativevault.imaging import pictures as pic

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
    from creativevault.imaging.pictures import fit_edge, fit_factor

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

    from creativevault.imaging import pictures as pic

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
    heat = pic.draw_regions(heat, fig.regions, scale, width=2)
    panel_b = pic.draw_regions(panel_b, fig.regions, scale, width=1)
    labels = [f"A  {ra.describe()}", f"B  {rb.describe()}",
              f"difference  {fig.changed_fraction * 100:.2f}% changed"]
    sbs = pic.side_by_side([panel_a, panel_b, heat], labels)
    jobs = [("side-by-side", sbs), ("blink-a", blink[0]), ("blink-b", blink[1])]
    with ThreadPoolExecutor(len(jobs)) as pool:  # libpng releases the GIL
        paths = list(pool.map(lambda job: pic.save_png(job[1], out_dir /
                                                       f"{stem}.{job[0]}.png"), jobs))
    return [Picture(role, path) for (role, _), path in zip(jobs, paths, strict=True)]
