"""Choose the store's average chunk size by measurement (results: docs/chunk-size.md).

Generates a creative-like corpus and its edited iterations, stores every iteration into a
fresh store per candidate average chunk size and reports store size, dedup ratio and
throughput::

    PYTHONPATH=src python benchmarks/bench_chunk_size.py --scale-mb 200 --iterations 5

Corpus per iteration (fractions of --scale-mb):

* 45 % layered raster (PSD-like: header + uncompressed 8-bit RGBA layers, smooth content
  with noise); each iteration paints a rectangle into one layer (touches many rows), and
  every other iteration inserts a small layer near the front (shifts all later bytes);
* 25 % 16-bit RGB image data (TIFF-like); each iteration applies a local adjustment;
* 30 % JPEG-like already-compressed frames (FFD8FF + random); each iteration adds a few
  new frames and keeps the old ones.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from creativevault.store import ChunkerParams, Store

__all__ = ["main"]

SIZES = [64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024]


def _smooth(rng: np.random.Generator, h: int, w: int, c: int, dtype: type, top: int) -> np.ndarray:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    phase = rng.random(c, dtype=np.float32)[None, None, :]
    base = (np.sin((x * 3 + y * 2 + phase) * np.pi) * 0.4 + 0.5) * top
    noise = rng.normal(0, top * 0.01, size=(h, w, c)).astype(np.float32)
    return np.clip(base + noise, 0, top).astype(dtype)


class Corpus:
    """A set of files that evolves one iteration at a time."""

    def __init__(self, scale_mb: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        total = scale_mb * 1024 * 1024
        side = int((total * 0.45 / 6 / 4) ** 0.5)  # 6 RGBA layers
        self.layers = [_smooth(self.rng, side, side, 4, np.uint8, 255) for _ in range(6)]
        side16 = int((total * 0.25 / 6) ** 0.5)
        self.image16 = _smooth(self.rng, side16, side16, 3, np.uint16, 65535)
        self.jpegs = [self._jpeg() for _ in range(int(total * 0.30) // (6 * 1024 * 1024))]
        self.iteration = 0

    def _jpeg(self) -> bytes:
        return b"\xff\xd8\xff\xe1" + os.urandom(6 * 1024 * 1024 - 4)

    def edit(self) -> None:
        """Apply one iteration of local edits."""
        self.iteration += 1
        rng = self.rng
        layer = self.layers[int(rng.integers(len(self.layers)))]
        h, w, _ = layer.shape
        y, x = int(rng.integers(0, h - h // 8)), int(rng.integers(0, w - w // 6))
        layer[y:y + h // 8, x:x + w // 6] = rng.integers(0, 255, 4, dtype=np.uint8)
        if self.iteration % 2 == 0:
            small = _smooth(rng, h // 8, w // 8, 4, np.uint8, 255)
            self.layers.insert(1, small)
        h16, w16, _ = self.image16.shape
        y, x = int(rng.integers(0, h16 // 2)), int(rng.integers(0, w16 // 2))
        region = self.image16[y:y + h16 // 10, x:x + w16 // 10]
        region[...] = np.clip(region.astype(np.int32) * 11 // 10, 0, 65535).astype(np.uint16)
        self.jpegs.extend(self._jpeg() for _ in range(2))

    def write(self, directory: Path) -> list[Path]:
        """Write the current iteration's files; return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        psd = directory / "scene.psd"
        with open(psd, "wb") as fh:
            fh.write(b"8BPS" + len(self.layers).to_bytes(4, "big"))
            for layer in self.layers:
                fh.write(layer.shape[0].to_bytes(4, "big") + layer.shape[1].to_bytes(4, "big"))
                fh.write(layer.tobytes())
        paths.append(psd)
        tif = directory / "plate.tif"
        tif.write_bytes(b"II*\x00" + self.image16.tobytes())
        paths.append(tif)
        for i, data in enumerate(self.jpegs):
            path = directory / f"frame{i:04d}.jpg"
            if not path.exists():
                path.write_bytes(data)
            paths.append(path)
        return paths


def run(scale_mb: int, iterations: int, sizes: list[int], work: Path) -> list[dict[str, float]]:
    """Store ``iterations`` versions of the corpus once per chunk size."""
    corpus = Corpus(scale_mb)
    versions: list[list[Path]] = []
    for i in range(iterations):
        if i:
            corpus.edit()
        versions.append(corpus.write(work / "corpus" / f"v{i}"))
    results = []
    for avg in sizes:
        root = work / f"store-{avg}"
        store = Store.init(root, chunker=ChunkerParams.for_average(avg))
        logical = 0
        first_time = total_time = 0.0
        first_bytes = 0
        for i, paths in enumerate(versions):
            t0 = time.perf_counter()
            with store.writer() as w:
                for p in paths:
                    logical += w.put_file(p).size
            dt = time.perf_counter() - t0
            total_time += dt
            if i == 0:
                first_time, first_bytes = dt, logical
        st = store.stats()
        results.append({
            "avg": avg, "logical": logical, "stored": st.pack_bytes, "chunks": st.chunks,
            "mean_chunk": st.logical_bytes and (sum(
                row.plain_len for row in store.index.rows(etype=1)) / max(st.chunks, 1)),
            "dedup": logical / st.pack_bytes, "first_mbs": first_bytes / first_time / 1e6,
            "all_mbs": logical / total_time / 1e6,
        })
        store.close()
        shutil.rmtree(root)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-mb", type=int, default=200, help="size of one iteration")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(str(s // 1024) for s in SIZES),
                        help="comma-separated average sizes in KiB")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) * 1024 for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = run(args.scale_mb, args.iterations, sizes, Path(tmp))
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"# scale {args.scale_mb} MB x {args.iterations} iterations")
    print("| avg target | mean chunk | chunks | logical MB | store MB | dedup x "
          "| initial MB/s | all MB/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {int(r['avg']) // 1024} KiB | {r['mean_chunk'] / 1024:.0f} KiB "
              f"| {int(r['chunks'])} | {r['logical'] / 1e6:.0f} | {r['stored'] / 1e6:.1f} "
              f"| {r['dedup']:.2f} | {r['first_mbs']:.0f} | {r['all_mbs']:.0f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak RSS {peak:.0f} MB (includes the generated corpus in memory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
