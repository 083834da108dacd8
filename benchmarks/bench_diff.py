"""Measure visual diffs against the issue's targets, with ImageMagick's ``compare`` alongside.

    python -m benchmarks.bench_diff [--quick] [--out benchmarks/out] [--keep]

Every cvault measurement runs in a fresh child interpreter that reports its import time
(``creativevault.features.diff.engine`` plus one diff of a tiny pair of the same format,
which loads the lazily imported imaging libraries) apart from its work time, and its peak
resident memory (``ru_maxrss``). The work is :func:`diff_files` with pictures
(``DiffOptions(out_dir=...)``: blink pair and A | B | heat map at the default 2048-pixel
preview edge), so decoding both files, every figure and the PNG pictures are inside it.

- ``raster``: a pair of 24-megapixel (6000 x 4000) photo-like images (gradients, soft
  shapes, grain; B has four local edits) in JPEG q90, PNG 8-bit, uncompressed TIFF 8-bit,
  uncompressed TIFF 16-bit, OpenEXR half float (ZIP) and WebP q90. Three runs each, each
  in its own child; the best counts. Targets: < 5 s for every format, < 1.5 s for JPEG and
  uncompressed 8-bit TIFF.
- ``typical``: comparison sets per minute over "typical files": 12-MP JPEG photo pairs
  (4000 x 3000, q90) and 4-MP PNG texture pairs (2048 x 2048 RGBA), all in one child.
  Target >= 60 per minute (requirement >= 5).
- ``psd``: a ~500 MB layered PSD (8 layers, 8-bit, raw channels; written by
  :func:`benchmarks.corpus._make_psd`) against a copy with one layer repainted
  (:func:`benchmarks.corpus._repaint_psd`). Best of three. Target < 10 s.
- ``memory``: a 100-megapixel (12248 x 8165) 16-bit RGB pair, uncompressed TIFF; peak RSS
  of the child that loads, compares and writes the pictures. Target < 2 GB (2,000 MB).

ImageMagick (``/usr/bin/compare``) runs on the same pairs: ``compare -metric AE -fuzz 0
A B diff.png`` and ``compare -metric PSNR A B diff.png``, wall time and peak RSS from
``os.wait4``. It runs under the system's ``policy.xml`` (Debian: 256 MiB memory, 512 MiB
map, 1 GiB disk for the pixel cache) and, for AE, again under a policy with those limits
raised (``MAGICK_CONFIGURE_PATH``), since the default limits make it page its pixel cache
to disk or fail on large images.

Results are printed as a table and written to ``<out>/diff.json``; the work folder
``<out>/work-diff`` (inputs, up to ~2.5 GB at a time) is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.run import add_child_arguments, machine_info, peak_rss_mb, serve_child, settle

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FORMATS", "main", "run_child"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000

#: the 24-MP pair's formats: name -> (extension, target seconds)
FORMATS: dict[str, tuple[str, float]] = {
    "jpeg": ("jpg", 1.5), "png8": ("png", 5.0), "tiff8": ("tif", 1.5),
    "tiff16": ("tif", 5.0), "exr": ("exr", 5.0), "webp": ("webp", 5.0),
}
BIG = (6000, 4000)
HUGE = (12248, 8165)
PSD_BYTES = 500 * MB
TARGET_SETS_PER_MIN = 60.0
REQUIRED_SETS_PER_MIN = 5.0
TARGET_PSD_S = 10.0
TARGET_MEMORY_MB = 2000.0
IM_TIMEOUT_S = 600

_RAISED_POLICY = """<policymap>
  <policy domain="resource" name="memory" value="16GiB"/>
  <policy domain="resource" name="map" value="16GiB"/>
  <policy domain="resource" name="disk" value="16GiB"/>
  <policy domain="resource" name="area" value="2GP"/>
</policymap>
"""


# --------------------------------------------------------------------------- test images


def _bilinear(grid: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample a small (gh, gw, c) grid at fractional rows ``ys`` and columns ``xs``."""
    import numpy as np

    gh, gw = grid.shape[:2]
    y0 = np.minimum(ys.astype(np.int64), gh - 2)
    x0 = np.minimum(xs.astype(np.int64), gw - 2)
    fy = (ys - y0).astype(np.float32)[:, None, None]
    fx = (xs - x0).astype(np.float32)[None, :, None]
    rows = grid[y0] * (1 - fy) + grid[y0 + 1] * fy
    return rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx


def _soft_disc(h: int, w: int, softness: float = 0.15) -> np.ndarray:
    """An (h, w, 1) float32 alpha: an ellipse filling the box with a soft edge."""
    import numpy as np

    yy = (np.arange(h, dtype=np.float32)[:, None] - h / 2) / (h / 2)
    xx = (np.arange(w, dtype=np.float32)[None, :] - w / 2) / (w / 2)
    d = np.sqrt(yy * yy + xx * xx)
    return np.clip((1.0 - d) / softness, 0, 1)[..., None]


def _blend(img: np.ndarray, y: int, x: int, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Paint ``colour`` (float 0..1, per channel or per pixel) into uint16 ``img`` at y, x."""
    import numpy as np

    h, w = alpha.shape[:2]
    region = img[y:y + h, x:x + w].astype(np.float32) / 65535
    region = region * (1 - alpha) + colour * alpha
    img[y:y + h, x:x + w] = np.clip(region * 65535 + 0.5, 0, 65535).astype(np.uint16)


def _photo(w: int, h: int, seed: int) -> np.ndarray:
    """A photo-like 16-bit RGB image: sky/ground gradients, a smooth random field, soft
    shapes and sensor grain; made in bands of rows so a 100-MP image stays cheap."""
    import numpy as np

    rng = np.random.default_rng([seed, 7])
    img = np.empty((h, w, 3), np.uint16)
    field = rng.uniform(-0.12, 0.12, (14, 20, 3)).astype(np.float32)
    top, bottom = rng.uniform(0.45, 0.9, 3), rng.uniform(0.1, 0.45, 3)
    band = max(1, (1 << 22) // (w * 3))
    xs = np.linspace(0, 19 - 1e-6, w)
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        t = (np.arange(y0, y1, dtype=np.float32) / h)[:, None, None]
        px = (top * (1 - t) + bottom * t).astype(np.float32)
        px = px + _bilinear(field, np.linspace(y0, y1 - 1, y1 - y0) / h * (13 - 1e-6), xs)
        px += rng.standard_normal(px.shape, dtype=np.float32) * np.float32(0.02)
        img[y0:y1] = np.clip(px * 65535 + 0.5, 0, 65535).astype(np.uint16)
    scale = min(w, h)
    for _ in range(60):  # objects: soft discs and boxes, with their own grain
        sh = int(scale * rng.uniform(0.03, 0.3))
        sw = int(scale * rng.uniform(0.03, 0.3))
        y, x = int(rng.integers(0, h - sh)), int(rng.integers(0, w - sw))
        colour = rng.uniform(0, 1, 3).astype(np.float32)
        if rng.random() < 0.5:
            alpha = _soft_disc(sh, sw) * np.float32(rng.uniform(0.5, 1.0))
        else:
            alpha = np.full((sh, sw, 1), rng.uniform(0.4, 0.9), np.float32)
        paint = colour + rng.standard_normal((sh, sw, 3), dtype=np.float32) * np.float32(0.02)
        _blend(img, y, x, paint, alpha)
    return img


def _edit(img: np.ndarray, seed: int) -> list[list[int]]:
    """Four local edits, in place: a recoloured brush blob, a cloned patch, a local
    exposure change and a thin stroke. Returns their boxes [x0, y0, x1, y1]."""
    import numpy as np

    rng = np.random.default_rng([seed, 11])
    h, w = img.shape[:2]
    s = min(w, h)
    boxes = []
    # brush blob
    bh, bw = int(s * 0.08), int(s * 0.1)
    y, x = int(h * 0.2), int(w * 0.6)
    _blend(img, y, x, np.array([0.9, 0.3, 0.2], np.float32), _soft_disc(bh, bw, 0.5) * 0.8)
    boxes.append([x, y, x + bw, y + bh])
    # clone a patch from elsewhere (an object moved)
    ph, pw = int(s * 0.06), int(s * 0.09)
    sy, sx, y, x = int(h * 0.7), int(w * 0.1), int(h * 0.55), int(w * 0.35)
    img[y:y + ph, x:x + pw] = img[sy:sy + ph, sx:sx + pw]
    boxes.append([x, y, x + pw, y + ph])
    # exposure +4 % in a rectangle
    eh, ew = int(s * 0.12), int(s * 0.15)
    y, x = int(h * 0.1), int(w * 0.1)
    region = img[y:y + eh, x:x + ew].astype(np.float32) * np.float32(1.04)
    img[y:y + eh, x:x + ew] = np.clip(region, 0, 65535).astype(np.uint16)
    boxes.append([x, y, x + ew, y + eh])
    # a thin stroke: 3-pixel line across a fifth of the width
    y, x, lw = int(h * 0.85), int(w * 0.5), int(w * 0.2)
    img[y:y + 3, x:x + lw] = (rng.uniform(0, 1, 3) * 65535).astype(np.uint16)
    boxes.append([x, y, x + lw, y + 3])
    return boxes


def _write(path: Path, img16: np.ndarray, fmt: str, alpha: np.ndarray | None = None) -> None:
    """Write a 16-bit master image in one of :data:`FORMATS` (8-bit ones take the top byte)."""
    import numpy as np

    u8 = (img16 >> 8).astype(np.uint8)
    if alpha is not None:
        u8 = np.concatenate([u8, alpha[..., None]], axis=2)
    if fmt in ("jpeg", "png8", "webp"):
        from PIL import Image

        im = Image.fromarray(u8)
        if fmt == "jpeg":
            im.save(path, quality=90)
        elif fmt == "png8":
            im.save(path, compress_level=6)
        else:
            im.save(path, quality=90, method=4)
    elif fmt in ("tiff8", "tiff16"):
        import tifffile

        tifffile.imwrite(path, u8 if fmt == "tiff8" else img16, photometric="rgb",
                         compression=None)
    elif fmt == "exr":
        import OpenEXR

        band = max(1, (1 << 20) // img16.shape[1])
        half = np.empty(img16.shape, np.float16)
        for y0 in range(0, img16.shape[0], band):  # display values to linear light
            part = img16[y0:y0 + band].astype(np.float32) / np.float32(65535)
            half[y0:y0 + band] = np.power(part, np.float32(2.2))
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, {"RGB": half}).write(str(path))
    else:
        raise ValueError(f"unknown format {fmt}")


# --------------------------------------------------------------------------- child tasks


def _task_gen_pair(folder: str, fmts: list[str], w: int, h: int, seed: int,
                   tiny: bool = True) -> dict[str, Any]:
    """A.<ext> / B.<ext> (and a tiny warm-up pair) for every format in ``fmts``."""
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    a = _photo(w, h, seed)
    b = a.copy()
    boxes = _edit(b, seed)
    small_a = _photo(64, 48, seed + 1)
    small_b = small_a.copy()
    _edit(small_b, seed + 1)
    files: dict[str, Any] = {}
    for fmt in fmts:
        ext = FORMATS[fmt][0]
        pa, pb = base / f"{fmt}-a.{ext}", base / f"{fmt}-b.{ext}"
        _write(pa, a, fmt)
        _write(pb, b, fmt)
        files[fmt] = {"a": str(pa), "b": str(pb), "a_bytes": pa.stat().st_size,
                      "b_bytes": pb.stat().st_size}
        if tiny:
            wa, wb = base / f"warm-{fmt}-a.{ext}", base / f"warm-{fmt}-b.{ext}"
            _write(wa, small_a, fmt)
            _write(wb, small_b, fmt)
            files[fmt].update({"warm_a": str(wa), "warm_b": str(wb)})
    return {"width": w, "height": h, "files": files, "edit_boxes": boxes,
            "seconds": time.perf_counter() - t0}


def _task_gen_typical(folder: str, jpegs: int, pngs: int, seed: int) -> dict[str, Any]:
    """12-MP JPEG photo pairs and 4-MP RGBA PNG texture pairs, each B locally edited."""
    import numpy as np

    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    pairs = []
    for k in range(jpegs):
        a = _photo(4000, 3000, seed + 100 + k)
        b = a.copy()
        _edit(b, seed + 100 + k)
        pa, pb = base / f"photo{k:02d}-a.jpg", base / f"photo{k:02d}-b.jpg"
        _write(pa, a, "jpeg")
        _write(pb, b, "jpeg")
        pairs.append([str(pa), str(pb), pa.name.replace("-a", "")])
    yy, xx = np.mgrid[0:2048, 0:2048]
    alpha = np.clip(255 - np.hypot(yy - 1024, xx - 1024) / 6, 0, 255).astype(np.uint8)
    for k in range(pngs):
        a = _photo(2048, 2048, seed + 200 + k)
        b = a.copy()
        _edit(b, seed + 200 + k)
        pa, pb = base / f"tex{k:02d}-a.png", base / f"tex{k:02d}-b.png"
        _write(pa, a, "png8", alpha)
        _write(pb, b, "png8", alpha)
        pairs.append([str(pa), str(pb), pa.name.replace("-a", "")])
    # warm-up pairs, one per kind
    small = _photo(64, 48, seed)
    warm = []
    for fmt, ext, al in (("jpeg", "jpg", None), ("png8", "png", alpha[:48, :64])):
        wa, wb = base / f"warm-a.{ext}", base / f"warm-b.{ext}"
        _write(wa, small, fmt, al)
        edited = small.copy()
        _edit(edited, seed)
        _write(wb, edited, fmt, al)
        warm.append([str(wa), str(wb), f"warm.{ext}"])
    return {"pairs": pairs, "warm": warm,
            "bytes": sum(Path(p).stat().st_size for pair in pairs for p in pair[:2])}


def _task_gen_psd(folder: str, size: int, seed: int) -> dict[str, Any]:
    """A layered PSD of about ``size`` bytes and a copy with one layer repainted."""
    import numpy as np

    from benchmarks import corpus

    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    a, b = base / "layout-a.psd", base / "layout-b.psd"
    t0 = time.perf_counter()
    # 8 layers (2 full-canvas, 6 bounded) + merged image, raw 8-bit: ~16 bytes per pixel;
    # one correction pass brings the file to within a few percent of ``size``
    per_px = 16.0
    for _ in range(2):
        w = int((size / per_px * 16 / 9) ** 0.5)
        h = int(w * 9 / 16)
        corpus._make_psd(a, np.random.default_rng([seed, 500]), w, h, 8, 8, 0)
        per_px *= a.stat().st_size / size
        if abs(a.stat().st_size / size - 1) < 0.03:
            break
    shutil.copyfile(a, b)
    layer = corpus._repaint_psd(b, np.random.default_rng([seed, 501]))
    # a tiny layered pair for the warm-up
    wa, wb = base / "warm-a.psd", base / "warm-b.psd"
    corpus._make_psd(wa, np.random.default_rng([seed, 502]), 96, 64, 4, 8, 0)
    shutil.copyfile(wa, wb)
    corpus._repaint_psd(wb, np.random.default_rng([seed, 503]))
    return {"a": str(a), "b": str(b), "a_bytes": a.stat().st_size,
            "b_bytes": b.stat().st_size, "width": w, "height": h, "layers": 8,
            "repainted_layer": layer, "warm_a": str(wa), "warm_b": str(wb),
            "seconds": time.perf_counter() - t0}


def _diff_entry() -> Any:
    """``diff_files`` (the engine) when present, else the differs directly."""
    try:
        from creativevault.features.diff.engine import diff_files
    except ImportError:  # the engine not landed yet: the raster/layered differs directly
        from creativevault.features.diff.layered import LayeredDiffer
        from creativevault.features.diff.raster import RasterDiffer

        def diff_files(a: Path, b: Path, name: str, options: Any) -> Any:
            differ = LayeredDiffer() if name.endswith(".psd") else RasterDiffer()
            return differ.diff(a, b, name, options)
        return diff_files, "differs"
    return diff_files, "diff_files"


def _outcome(result: Any) -> dict[str, Any]:
    figs = result.figures
    return {"kind": result.kind, "status": result.status, "summary": result.summary,
            "notes": result.notes, "pictures": len(result.pictures) + sum(
                len(p.pictures) for p in result.parts),
            "changed_fraction": figs.get("changed_fraction"),
            "region_count": figs.get("region_count"), "psnr": figs.get("psnr")}


def _task_diff(a: str, b: str, name: str, out_dir: str, warm_a: str, warm_b: str,
               warm_name: str) -> dict[str, Any]:
    """Import, warm up on a tiny pair, then diff ``a`` and ``b`` with pictures (timed)."""
    t0 = time.perf_counter()
    diff_files, entry = _diff_entry()
    from creativevault.features.diff.report import DiffOptions

    t1 = time.perf_counter()
    warm = diff_files(Path(warm_a), Path(warm_b), warm_name,
                      DiffOptions(out_dir=Path(out_dir) / "warm"))
    t2 = time.perf_counter()
    rss_before = peak_rss_mb()
    result = diff_files(Path(a), Path(b), name, DiffOptions(out_dir=Path(out_dir) / "work"))
    t3 = time.perf_counter()
    return {"entry": entry, "import_seconds": t1 - t0, "warmup_seconds": t2 - t1,
            "warm_status": warm.status, "seconds": t3 - t2,
            "peak_rss_before_work_mb": rss_before, **_outcome(result)}


def _task_diff_many(pairs: list[list[str]], warm: list[list[str]], out_dir: str
                    ) -> dict[str, Any]:
    """Diff every pair with pictures, one after the other, in this one process."""
    t0 = time.perf_counter()
    diff_files, entry = _diff_entry()
    from creativevault.features.diff.report import DiffOptions

    t1 = time.perf_counter()
    for wa, wb, name in warm:
        diff_files(Path(wa), Path(wb), name, DiffOptions(out_dir=Path(out_dir) / "warm"))
    t2 = time.perf_counter()
    each = []
    for a, b, name in pairs:
        t = time.perf_counter()
        result = diff_files(Path(a), Path(b), name, DiffOptions(out_dir=Path(out_dir) / "work"))
        each.append({"name": name, "seconds": time.perf_counter() - t, **_outcome(result)})
    return {"entry": entry, "import_seconds": t1 - t0, "warmup_seconds": t2 - t1,
            "seconds": time.perf_counter() - t2, "pairs": each}


_TASKS = {"gen_pair": _task_gen_pair, "gen_typical": _task_gen_typical,
          "gen_psd": _task_gen_psd, "diff": _task_diff, "diff_many": _task_diff_many}


# --------------------------------------------------------------------------- processes


def run_child(task: str, **params: Any) -> dict[str, Any]:
    """Run one of this module's child tasks in a fresh interpreter (benchmarks.run's way)."""
    from benchmarks.run import run_child as run_module_child

    return run_module_child(task, module="benchmarks.bench_diff", **params)


def _magick(args: list[str], policy_dir: Path | None, out: Path) -> dict[str, Any]:
    """Run ImageMagick's ``compare`` once: wall time, peak RSS (os.wait4), its metric."""
    if shutil.which("compare") is None:
        return {"seconds": math.nan, "peak_rss_mb": math.nan, "rc": None, "ok": False,
                "metric": "compare not installed", "timed_out": False}
    env = dict(os.environ)
    if policy_dir is not None:
        env["MAGICK_CONFIGURE_PATH"] = str(policy_dir)
    err_path = out.with_suffix(".stderr")
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["compare", *args, str(out)], stdout=subprocess.DEVNULL,
                                stderr=err, env=env)
        deadline = t0 + IM_TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = err_path.read_text(errors="replace").strip()
    err_path.unlink()
    wrote = out.exists() and out.stat().st_size > 0
    out.unlink(missing_ok=True)
    # compare exits 0 (similar), 1 (dissimilar) or 2 (trouble); the metric goes to stderr
    ok = proc.returncode in (0, 1) and wrote
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss * 1024 / MB,
            "rc": proc.returncode, "ok": ok, "metric": text[-300:],
            "timed_out": seconds > IM_TIMEOUT_S}


def _magick_pair(a: str, b: str, work: Path, runs: int, *, psnr: bool = True,
                 raised: Path | None = None, frame: str = "") -> dict[str, Any]:
    """AE (``runs`` times), PSNR once, and AE once more with raised limits."""
    out = work / "im-diff.png"
    ae = [_magick(["-metric", "AE", "-fuzz", "0", a + frame, b + frame], None, out)
          for _ in range(runs)]
    res: dict[str, Any] = {"ae": ae}
    if psnr:
        res["psnr"] = _magick(["-metric", "PSNR", a + frame, b + frame], None, out)
    if raised is not None:
        res["ae_raised"] = _magick(["-metric", "AE", "-fuzz", "0", a + frame, b + frame],
                                   raised, out)
    return res


def _magick_version() -> str | None:
    try:
        text = subprocess.run(["compare", "-version"], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return text.splitlines()[0] if text else None


# --------------------------------------------------------------------------- measurements


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _measure_raster(work: Path, runs: int, res: dict[str, Any], raised: Path | None) -> None:
    gen = run_child("gen_pair", folder=str(work / "big"), fmts=list(FORMATS), w=BIG[0],
                    h=BIG[1], seed=1)
    settle()
    res["raster_inputs"] = gen
    res["raster"] = {}
    for fmt, info in gen["files"].items():
        ext = FORMATS[fmt][0]
        runs_out = [run_child("diff", a=info["a"], b=info["b"], name=f"photo.{ext}",
                              out_dir=str(_fresh(work / "pics")), warm_a=info["warm_a"],
                              warm_b=info["warm_b"], warm_name=f"warm.{ext}")
                    for _ in range(runs)]
        im = _magick_pair(info["a"], info["b"], work, runs, raised=raised)
        res["raster"][fmt] = {"cvault": runs_out, "magick": im}
        print(f"    {fmt}: cvault " + ", ".join(f"{r['seconds']:.2f}" for r in runs_out)
              + " s; compare AE " + ", ".join(f"{r['seconds']:.2f}" for r in im["ae"]) + " s",
              flush=True)


def _measure_typical(work: Path, quick: bool, res: dict[str, Any]) -> None:
    n = 2 if quick else 6
    gen = run_child("gen_typical", folder=str(work / "typical"), jpegs=n, pngs=n, seed=3)
    settle()
    run = run_child("diff_many", pairs=gen["pairs"], warm=gen["warm"],
                    out_dir=str(_fresh(work / "pics")))
    im = [_magick(["-metric", "AE", "-fuzz", "0", a, b], None, work / "im-diff.png")
          for a, b, _ in gen["pairs"]]
    res["typical"] = {"inputs": {"pairs": len(gen["pairs"]), "bytes": gen["bytes"]},
                      "cvault": run, "magick": im}


def _measure_psd(work: Path, runs: int, res: dict[str, Any]) -> None:
    gen = run_child("gen_psd", folder=str(work / "psd"), size=PSD_BYTES, seed=5)
    settle()
    out = [run_child("diff", a=gen["a"], b=gen["b"], name="layout.psd",
                     out_dir=str(_fresh(work / "pics")), warm_a=gen["warm_a"],
                     warm_b=gen["warm_b"], warm_name="warm.psd") for _ in range(runs)]
    # ImageMagick: the merged image (frame 0) of each PSD
    im = _magick_pair(gen["a"], gen["b"], work, 1, psnr=False, frame="[0]")
    res["psd"] = {"inputs": gen, "cvault": out, "magick": im}
    shutil.rmtree(work / "psd", ignore_errors=True)


def _measure_memory(work: Path, res: dict[str, Any], raised: Path | None) -> None:
    gen = run_child("gen_pair", folder=str(work / "huge"), fmts=["tiff16"], w=HUGE[0],
                    h=HUGE[1], seed=9)
    settle()
    info = gen["files"]["tiff16"]
    out = run_child("diff", a=info["a"], b=info["b"], name="plate.tif",
                    out_dir=str(_fresh(work / "pics")), warm_a=info["warm_a"],
                    warm_b=info["warm_b"], warm_name="warm.tif")
    im = _magick_pair(info["a"], info["b"], work, 1, psnr=False, raised=raised)
    res["memory"] = {"inputs": gen, "cvault": out, "magick": im}
    shutil.rmtree(work / "huge", ignore_errors=True)


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _im_cell(runs: list[dict[str, Any]]) -> str:
    good = [r for r in runs if r["ok"]]
    if not good:
        return "failed (" + (runs[0]["metric"].splitlines() or ["?"])[-1][:60] + ")"
    best = min(r["seconds"] for r in good)
    return f"{best:.2f} s, {max(r['peak_rss_mb'] for r in good):,.0f} MB"


def _summary(res: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, cvault, ImageMagick, target, verdict) rows; ``res['summary']`` filled."""
    rows: list[tuple[str, str, str, str, str]] = []
    summ: dict[str, Any] = res.setdefault("summary", {})
    for fmt, r in res.get("raster", {}).items():
        target = FORMATS[fmt][1]
        times = [c["seconds"] for c in r["cvault"]]
        best = min(times)
        imp = min(c["import_seconds"] + c["warmup_seconds"] for c in r["cvault"])
        rss = max(c["peak_rss_mb"] for c in r["cvault"])
        summ[f"raster_{fmt}_s"] = best
        ok = best < target
        im = r["magick"]
        cell = _im_cell(im["ae"])
        if "ae_raised" in im:
            cell += f"; raised limits {_im_cell([im['ae_raised']])}"
        rows.append((f"24 MP {fmt}: summary + pictures (best of {len(times)}: "
                     + ", ".join(f"{t:.2f}" for t in times) + " s)",
                     f"{best:.2f} s (+{imp:.2f} s import), {rss:,.0f} MB", cell,
                     f"< {target:g} s", _verdict(ok)))
    if "typical" in res:
        t = res["typical"]
        c = t["cvault"]
        n = len(c["pairs"])
        per_min = n / c["seconds"] * 60
        with_import = n / (c["seconds"] + c["import_seconds"] + c["warmup_seconds"]) * 60
        summ["typical_sets_per_min"] = per_min
        im_ok = [m for m in t["magick"] if m["ok"]]
        im_cell = (f"{len(im_ok) / sum(m['seconds'] for m in im_ok) * 60:.0f} /min (AE only)"
                   if im_ok else "failed")
        rows.append((f"typical sets per minute ({n} pairs: 12-MP JPEG + 4-MP RGBA PNG)",
                     f"{per_min:.0f} /min ({with_import:.0f} with import), "
                     f"{c['peak_rss_mb']:,.0f} MB", im_cell,
                     f">= {TARGET_SETS_PER_MIN:g} (req. >= {REQUIRED_SETS_PER_MIN:g})",
                     _verdict(per_min >= TARGET_SETS_PER_MIN)
                     + ("" if per_min >= TARGET_SETS_PER_MIN else
                        f" (requirement {_verdict(per_min >= REQUIRED_SETS_PER_MIN)})")))
    if "psd" in res:
        p = res["psd"]
        times = [c["seconds"] for c in p["cvault"]]
        best = min(times)
        imp = min(c["import_seconds"] + c["warmup_seconds"] for c in p["cvault"])
        rss = max(c["peak_rss_mb"] for c in p["cvault"])
        summ["psd_s"] = best
        size = p["inputs"]["a_bytes"] / MB
        rows.append((f"{size:,.0f} MB layered PSD, one layer changed (best of {len(times)}: "
                     + ", ".join(f"{t:.2f}" for t in times) + " s)",
                     f"{best:.2f} s (+{imp:.2f} s import), {rss:,.0f} MB",
                     _im_cell(p["magick"]["ae"]) + " (merged image only)",
                     f"< {TARGET_PSD_S:g} s", _verdict(best < TARGET_PSD_S)))
    if "memory" in res:
        m = res["memory"]
        c = m["cvault"]
        summ["memory_100mp_mb"] = c["peak_rss_mb"]
        summ["memory_100mp_s"] = c["seconds"]
        im = m["magick"]
        cell = _im_cell(im["ae"])
        if "ae_raised" in im:
            cell += f"; raised limits {_im_cell([im['ae_raised']])}"
        rows.append(("100 MP 16-bit TIFF pair: peak RSS (load + compare + pictures)",
                     f"{c['peak_rss_mb']:,.0f} MB ({c['seconds']:.1f} s)", cell,
                     f"< {TARGET_MEMORY_MB:,.0f} MB",
                     _verdict(c["peak_rss_mb"] < TARGET_MEMORY_MB)))
    return rows


def _print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    head = ("measure", "cvault", "ImageMagick compare", "target", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if row is head:
            print("-" * (sum(widths) + 8))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CreativeVault visual-diff benchmarks")
    ap.add_argument("--quick", action="store_true",
                    help="one run per measurement, fewer typical pairs (~15 min with ImageMagick)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out")
    ap.add_argument("--only", nargs="*", choices=["raster", "typical", "psd", "memory"])
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    add_child_arguments(ap)
    args = ap.parse_args(argv)

    if args.child:
        return serve_child(_TASKS, args)

    out = args.out.resolve()
    work = out / "work-diff"
    work.mkdir(parents=True, exist_ok=True)
    runs = 1 if args.quick else 3
    raised: Path | None = None
    version = _magick_version() if shutil.which("compare") else None
    if version:
        raised = work / "im-policy"
        raised.mkdir(exist_ok=True)
        (raised / "policy.xml").write_text(_RAISED_POLICY)
    info = machine_info()
    print(f"machine: {info['nproc']} x {info['cpu']}, "
          f"{(info['memory_bytes'] or 0) / 2**30:.0f} GiB RAM, Python {info['python']}")
    print(f"ImageMagick: {version or 'not found (cvault only)'}", flush=True)
    from benchmarks.run import code_version

    results: dict[str, Any] = {"quick": args.quick, "runs": runs, "machine": info,
                               "imagemagick": version, "code": code_version(),
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "load_before": os.getloadavg()}
    print(f"code: {results['code']}, load {results['load_before']}", flush=True)
    steps = {"raster": lambda: _measure_raster(work, runs, results, raised),
             "typical": lambda: _measure_typical(work, args.quick, results),
             "psd": lambda: _measure_psd(work, runs, results),
             "memory": lambda: _measure_memory(work, results, raised)}
    t0 = time.perf_counter()
    for name in args.only or list(steps):
        t = time.perf_counter()
        steps[name]()
        print(f"  {name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    results["total_seconds"] = time.perf_counter() - t0
    results["load_after"] = os.getloadavg()
    rows = _summary(results)
    print()
    _print_table(rows)
    (out / "diff.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {out / 'diff.json'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
