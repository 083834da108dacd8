"""Micro-benchmark of attribute and ignore matching (µs per path).

    python -m benchmarks.bench_attributes [--paths 100000] [--seed 1]

Generates a deterministic list of repo paths shaped like a creative project (shots,
layers, textures, renders, camera raws, sidecars, some application temp files; up to
six directories deep, 1,000 directories), writes the default blocks
(``ensure_default_blocks``) plus a nested ``.gitattributes`` and ``.gitignore`` into a
throwaway git worktree, then times, for every path:

- ``filter_value``: ``AttributeRules.filter_value`` (what ``is_managed`` costs);
- ``excludes``: ``IgnoreRules.excludes`` as ``walk_worktree`` calls it (each directory
  once with a trailing ``/``, then each file).

Each measurement uses fresh rules (cold caches), as one ``Vault.add`` or ``status`` does.
The paths are not created on disk. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from creativevault.repo.attributes import AttributeRules, IgnoreRules, ensure_default_blocks

__all__ = ["generate_paths", "main"]

_EXTENSIONS = (
    "psd", "PSD", "kra", "png", "exr", "tif", "jpg", "CR3", "dng", "xmp", "blend", "blend1",
    "usda", "usdc", "ma", "mb", "obj", "mtl", "nk", "json", "txt", "abc", "wav", "mov",
    "tmp", "kra~", "bin", "usd",
)
_WORDS = ("shot", "seq", "layer", "tex", "render", "cache", "ref", "photo", "rig", "final")


def generate_paths(count: int, seed: int) -> list[str]:
    """``count`` distinct repo paths, sorted (as a walk yields them), a pure function of
    ``seed``."""
    rng = random.Random(seed)
    dirs = [""]
    while len(dirs) < 1000:
        parent = rng.choice(dirs)
        if parent.count("/") >= 6:
            continue
        dirs.append(f"{parent}{rng.choice(_WORDS)}{rng.randrange(100):02d}/")
    paths: set[str] = set()
    while len(paths) < count:
        directory = rng.choice(dirs)
        stem = f"{rng.choice(_WORDS)}_{rng.randrange(100000):05d}"
        if rng.random() < 0.01:
            stem = "._" + stem
        paths.add(f"{directory}{stem}.{rng.choice(_EXTENSIONS)}")
    return sorted(paths)


def _worktree(root: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    ensure_default_blocks(root)
    with (root / ".gitattributes").open("a") as f:
        f.write("*.usd -filter\nrender*/** filter=cvault\n")
    with (root / ".gitignore").open("a") as f:
        f.write("cache*/\n*.tmp\n!keep.tmp\n")
    (root / "shot01").mkdir()
    (root / "shot01" / ".gitattributes").write_text("*.png -filter\n")
    (root / "shot01" / ".gitignore").write_text("*.bin\n")
    return root


def _time(label: str, count: int, run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    per_path = elapsed / count * 1e6
    print(f"{label:<14} {count:>7} paths  {elapsed:8.3f} s  {per_path:8.2f} µs/path")
    return per_path


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    paths = generate_paths(args.paths, args.seed)
    walk: list[str] = []
    seen: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i]) + "/"
            if directory not in seen:
                seen.add(directory)
                walk.append(directory)
        walk.append(path)
    with tempfile.TemporaryDirectory() as tmp:
        root = _worktree(Path(tmp) / "project")

        def attributes() -> None:
            rules = AttributeRules.load(root)
            for path in paths:
                rules.filter_value(path)

        def ignores() -> None:
            rules = IgnoreRules.load(root)
            for path in walk:
                rules.excludes(path)

        _time("filter_value", len(paths), attributes)
        _time("excludes", len(walk), ignores)


if __name__ == "__main__":
    main()
