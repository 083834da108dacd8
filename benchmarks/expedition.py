"""A deterministic photo expedition: camera frames as JPEG + RAW-like file (+ XMP sidecar).

    python -m benchmarks.expedition --out DIR [--photos 5000] [--new 200] [--scale 0.02]

Full scale is the issue's expedition: 5,000 photos in ~50 GB, i.e. 10 MB a photo, about
a 4.8 MP camera writing both a JPEG (~3 MB) and a 12-bit RAW (~7 MB). ``scale``
multiplies every frame's pixel count, so sizes shrink and the file count stays (sync cost
depends on the number of files as much as on bytes): ``scale=0.02`` is 5,000 photos in
~1 GB. Each frame is

- ``dayNN/DSC_NNNNN.JPG``: baseline JPEG, quality 95, 4:2:2 chroma (a camera's "fine"),
  with EXIF; real image content (sky gradient, hills, textured land) with sensor noise,
  so it does not compress away (~0.5 byte a pixel);
- ``dayNN/DSC_NNNNN.DNG``: RAW-like: a little-endian TIFF IFD (CFA, 12 bits) and the
  Bayer samples packed 2 in 3 bytes, with shot noise (1.5 bytes a pixel, ~3x the JPEG,
  nearly incompressible: the low bits are noise);
- ``dayNN/DSC_NNNNN.xmp`` for one frame in three: a small XMP sidecar (rating, label,
  keywords), as a culling pass leaves.

Frames come in bursts of 1-8 near-identical shots: one scene per burst, each frame a
slightly shifted crop of it with its own exposure and sensor noise (so, as with a real
camera, no two files share bytes). Every frame is a pure function of ``(seed, index)``;
the burst plan depends only on the seed, so the first N frames of a longer expedition are
the N frames of a shorter one. 500 photos a day: the 200 frames shot after the first sync
(``new``) land in the next day's folder.

``expedition(cache, photos, new, scale, seed)`` generates the frames once (numpy and
Pillow, one process per core) into a cache folder named by its parameters, with a
``manifest.json`` of every file's size and SHA-256 written last; later runs reuse it.
Nothing generated is committed (the default cache is under ``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import struct
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FULL_BYTES", "FULL_PHOTOS", "PHOTOS_PER_DAY", "Expedition", "expedition",
           "frame_dims", "frame_files", "iter_tree", "write_frames"]

#: The issue's expedition: 5,000 photos, ~50 GB.
FULL_PHOTOS = 5_000
FULL_BYTES = 50_000_000_000
PHOTOS_PER_DAY = 500
#: Bump when the bytes of a frame change: the cache folder's name carries it.
GENERATOR_VERSION = 1
#: Bytes a pixel, measured on generated frames: JPEG ~0.52, packed 12-bit RAW 1.5.
_BYTES_PER_PIXEL = 2.02
_XMP_EVERY = 3
_REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = _REPO_ROOT / "benchmarks" / "out" / "cache"


def frame_dims(scale: float) -> tuple[int, int]:
    """Width and height (3:2, even) of a frame at ``scale`` of the 10 MB full-size photo."""
    pixels = FULL_BYTES / FULL_PHOTOS * scale / _BYTES_PER_PIXEL
    h = max(32, int((pixels / 1.5) ** 0.5)) // 2 * 2
    return int(h * 1.5) // 2 * 2, h


def frame_files(index: int) -> list[str]:
    """Relative paths of frame ``index``'s files (0-based; cameras count from 1)."""
    stem = f"day{index // PHOTOS_PER_DAY + 1:02d}/DSC_{index + 1:05d}"
    files = [f"{stem}.JPG", f"{stem}.DNG"]
    if index % _XMP_EVERY == 0:
        files.append(f"{stem}.xmp")
    return files


# --------------------------------------------------------------------------- one frame


def _burst_starts(seed: int, count: int) -> np.ndarray:
    """Index of the first frame of the burst each of frames ``0..count-1`` belongs to."""
    rng = np.random.default_rng([seed, 7001])
    lengths: list[int] = []
    total = 0
    while total < count:  # drawn one after the other: a prefix never depends on count
        n = int(rng.choice([1, 1, 1, 2, 3, 4, 5, 8]))
        lengths.append(n)
        total += n
    starts = np.repeat(np.cumsum([0] + lengths[:-1]), lengths)
    return starts[:count]


def _scene(seed: int, burst: int, w: int, h: int) -> np.ndarray:
    """A landscape for one burst, float32 RGB in 0..255, a margin wider than a frame."""
    from benchmarks.corpus import _color, _smooth

    rng = np.random.default_rng([seed, 7002, burst])
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top = np.array([110, 160, 225], np.float32) * float(rng.uniform(0.8, 1.1))
    sky = top * (1 - t) + np.array([230, 220, 200], np.float32) * t
    sky = sky + (_smooth(rng, h, w, 6)[..., None] - 0.5) * 30  # clouds
    hill = (_smooth(rng, 1, w, 8)[0] * 0.4 + float(rng.uniform(0.3, 0.6))) * h
    ground = (np.arange(h)[:, None] > hill[None, :])[..., None]
    tex = _smooth(rng, h, w, max(8, w // 10))[..., None]
    fine = _smooth(rng, h, w, max(8, w // 3))[..., None]
    land = _color(rng)[None, None] * (0.4 + 0.5 * tex + 0.5 * fine)
    return np.where(ground, land, sky).astype(np.float32)


def _xmp(index: int, rng: np.random.Generator) -> bytes:
    rating = int(rng.integers(0, 6))
    label = ["", "Red", "Yellow", "Green", "Blue"][int(rng.integers(0, 5))]
    words = ["glacier", "camp", "ridge", "team", "aurora", "river", "moss", "basalt", "fog"]
    keywords = "".join(f"<rdf:li>{w}</rdf:li>" for w in rng.choice(words, 3, replace=False))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="CreativeVault bench">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"\n'
        f'   xmp:Rating="{rating}" xmp:Label="{label}"\n'
        f'   crs:Exposure2012="{rng.uniform(-1, 1):+.2f}" crs:Temperature="'
        f'{int(rng.integers(4500, 6500))}" crs:RawFileName="DSC_{index + 1:05d}.DNG">\n'
        f'   <dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>\n'
        '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n'
    ).encode()


def _raw_bytes(samples: np.ndarray, bits: int = 12) -> bytes:
    """A little-endian TIFF with one CFA strip of packed samples (RAW-like)."""
    from benchmarks.corpus import _pack_bits

    h, w = samples.shape
    strip = _pack_bits(samples, bits)
    make = b"Synthetic\0"
    entries = [(254, 4, 0), (256, 4, w), (257, 4, h), (258, 3, bits), (259, 3, 1),
               (262, 3, 32803), (271, 2, None), (273, 4, None), (277, 3, 1), (278, 4, h),
               (279, 4, len(strip)), (33421, 3, 0x00020002), (33422, 1, 0x02010100)]
    ifd_end = 8 + 2 + 12 * len(entries) + 4
    ifd = bytearray(struct.pack("<H", len(entries)))
    for tag, typ, value in entries:
        if tag == 271:
            ifd += struct.pack("<HHII", tag, typ, len(make), ifd_end)
        elif tag == 273:
            ifd += struct.pack("<HHII", tag, typ, 1, ifd_end + len(make))
        elif tag == 33421:
            ifd += struct.pack("<HHII", tag, typ, 2, value)
        elif tag == 33422:
            ifd += struct.pack("<HHII", tag, typ, 4, value)
        elif typ == 3:
            ifd += struct.pack("<HHIHH", tag, typ, 1, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, 1, value)
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + bytes(ifd) + make + strip


def _frame(seed: int, index: int, scene: np.ndarray, margin: int, w: int, h: int
           ) -> dict[str, bytes]:
    """The bytes of frame ``index`` (a crop of its burst's ``scene``) by relative path."""
    from PIL import Image

    from benchmarks.corpus import _exif

    rng = np.random.default_rng([seed, 7003, index])
    dx, dy = (int(v) for v in rng.integers(0, margin + 1, 2))  # hand shake in the burst
    linear = scene[dy:dy + h, dx:dx + w] * float(rng.uniform(0.94, 1.06))  # exposure
    rgb = np.clip(linear + rng.normal(0, 5, (h, w, 3)).astype(np.float32), 0, 255)
    jpeg = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(jpeg, format="JPEG", quality=95,
                                               subsampling=1, exif=_exif(rng, index))
    # the sensor's view of the same frame: RGGB mosaic, linear light, shot + read noise
    signal = (linear / 255.0) ** 2.2
    bayer = np.empty((h, w), np.float32)
    bayer[0::2, 0::2] = signal[0::2, 0::2, 0]
    bayer[0::2, 1::2] = signal[0::2, 1::2, 1]
    bayer[1::2, 0::2] = signal[1::2, 0::2, 1]
    bayer[1::2, 1::2] = signal[1::2, 1::2, 2]
    top = 4095
    electrons = np.clip(bayer, 0, 1) * top * 0.9
    sensor = electrons + rng.normal(0, 1, (h, w)).astype(np.float32) * np.sqrt(electrons + 16)
    raw = _raw_bytes(np.clip(sensor, 0, top).astype(np.uint16))
    names = frame_files(index)
    out = {names[0]: jpeg.getvalue(), names[1]: raw}
    if len(names) == 3:
        out[names[2]] = _xmp(index, rng)
    return out


def _write_batch(root: str, seed: int, scale: float, indices: list[int],
                 bursts: list[int]) -> dict[str, tuple[int, str]]:
    w, h = frame_dims(scale)
    margin = max(4, w // 40)
    done: dict[str, tuple[int, str]] = {}
    scene: tuple[int, np.ndarray] | None = None
    for index, burst in zip(indices, bursts, strict=True):
        if scene is None or scene[0] != burst:  # a batch is consecutive frames: reuse
            scene = (burst, _scene(seed, burst, w + margin, h + margin))
        for rel, data in _frame(seed, index, scene[1], margin, w, h).items():
            path = Path(root) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            done[rel] = (len(data), hashlib.sha256(data).hexdigest())
    return done


def write_frames(root: Path, first: int, count: int, scale: float, seed: int = 0,
                 workers: int | None = None) -> dict[str, tuple[int, str]]:
    """Write frames ``first .. first+count-1`` under ``root``; return {path: (size, sha256)}."""
    starts = _burst_starts(seed, first + count)
    indices = list(range(first, first + count))
    workers = workers or os.cpu_count() or 1
    size = max(1, min(50, -(-count // (workers * 4))))
    batches = [indices[k:k + size] for k in range(0, len(indices), size)]
    out: dict[str, tuple[int, str]] = {}
    if workers == 1:
        for b in batches:
            out.update(_write_batch(str(root), seed, scale, b, [int(starts[i]) for i in b]))
        return out
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(_write_batch, str(root), seed, scale, b,
                               [int(starts[i]) for i in b]) for b in batches]
        for f in futures:
            out.update(f.result())
    return out


# --------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Expedition:
    """A generated expedition: ``base`` (the first ``photos`` frames) and ``new`` (the
    ``new_photos`` frames shot after the first sync), with every file's size and SHA-256."""

    root: Path
    photos: int
    new_photos: int
    scale: float
    seed: int
    width: int
    height: int
    base_files: dict[str, tuple[int, str]]
    new_files: dict[str, tuple[int, str]]
    generate_seconds: float

    @property
    def base(self) -> Path:
        return self.root / "base"

    @property
    def new(self) -> Path:
        return self.root / "new"

    @property
    def base_bytes(self) -> int:
        return sum(s for s, _ in self.base_files.values())

    @property
    def new_bytes(self) -> int:
        return sum(s for s, _ in self.new_files.values())

    def all_files(self) -> dict[str, tuple[int, str]]:
        return {**self.base_files, **self.new_files}

    def describe(self) -> str:
        return (f"{self.photos:,} photos + {self.new_photos} new at scale {self.scale:g} "
                f"({self.width} x {self.height}): {len(self.base_files):,} files, "
                f"{self.base_bytes / 1e6:,.0f} MB + {len(self.new_files)} files, "
                f"{self.new_bytes / 1e6:,.1f} MB")


def _cache_name(photos: int, new: int, scale: float, seed: int) -> str:
    return f"expedition-v{GENERATOR_VERSION}-p{photos}-n{new}-s{scale:g}-seed{seed}"


def expedition(cache: Path = DEFAULT_CACHE, photos: int = FULL_PHOTOS, new: int = 200,
               scale: float = 0.02, seed: int = 0, workers: int | None = None) -> Expedition:
    """The expedition with these parameters, generated into ``cache`` unless already there."""
    root = Path(cache) / _cache_name(photos, new, scale, seed)
    manifest = root / "manifest.json"
    if not manifest.exists():
        partial = root.with_name(root.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        t0 = time.perf_counter()
        base = write_frames(partial / "base", 0, photos, scale, seed, workers)
        added = write_frames(partial / "new", photos, new, scale, seed, workers)
        w, h = frame_dims(scale)
        data = {"photos": photos, "new_photos": new, "scale": scale, "seed": seed,
                "width": w, "height": h, "generator_version": GENERATOR_VERSION,
                "generate_seconds": time.perf_counter() - t0,
                "base": dict(sorted(base.items())), "new": dict(sorted(added.items()))}
        (partial / "manifest.json").write_text(json.dumps(data, indent=0) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    data = json.loads(manifest.read_text())
    return Expedition(root=root, photos=data["photos"], new_photos=data["new_photos"],
                      scale=data["scale"], seed=data["seed"], width=data["width"],
                      height=data["height"],
                      base_files={k: (v[0], v[1]) for k, v in data["base"].items()},
                      new_files={k: (v[0], v[1]) for k, v in data["new"].items()},
                      generate_seconds=data["generate_seconds"])


def iter_tree(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (os.scandir walk)."""
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=False):
                    yield Path(e.path)


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="generate (or find cached) a photo expedition")
    ap.add_argument("--out", type=Path, default=DEFAULT_CACHE, help="cache folder")
    ap.add_argument("--photos", type=int, default=FULL_PHOTOS)
    ap.add_argument("--new", type=int, default=200)
    ap.add_argument("--scale", type=float, default=0.02,
                    help="fraction of the 10 MB full-size photo (default 0.02 = 1/50)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    exp = expedition(args.out, args.photos, args.new, args.scale, args.seed)
    print(f"{exp.root}: {exp.describe()} ({time.perf_counter() - t0:.1f} s; generated in "
          f"{exp.generate_seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
