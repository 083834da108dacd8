#!/usr/bin/env python3
"""Demo: an animation project versioned with CreativeVault (``make demo``).

Builds a vault in ``--out`` holding a generated animation project (layered PSD and
OpenRaster paintings, a texture library shared by two shots with duplicate files,
meshes, reference photos), commits it, then commits several rounds of the local edits
an artist makes (repaint part of a layer, add a layer, touch up a texture, move some
vertices, add photos). It prints what every version would cost as plain copies next to
what the vault stores, then restores an old version of a PSD and checks its SHA-256.

    python examples/animation_project.py --out build/demo [--scale small] [--iterations 6]

A previous demo in ``--out`` is removed first, but only if it carries the marker file
this script writes; any other non-empty folder is left alone (exit status 2).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the corpus generator lives in benchmarks/
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.corpus import SCALES, edit_iteration, generate_project, tree_bytes  # noqa: E402

__all__ = ["MARKER", "DemoReport", "main", "run_demo"]

#: The file that marks a folder as a demo this script made (committed in the vault too).
MARKER = "README-cvault-demo.txt"
_MARKER_TEXT = ("This folder was made by examples/animation_project.py (CreativeVault demo).\n"
                "Running the demo again deletes and rebuilds it.\n")


@dataclass
class DemoReport:
    """The figures the demo prints."""

    out: str
    commits: int
    files: int
    versions: int
    logical_bytes: int  # every commit's tree as a plain copy
    unique_bytes: int  # every distinct file version once (the vault's logical size)
    stored_bytes: int
    ratio: float
    git_dir_bytes: int
    restored_path: str
    restored_from: str
    expected_sha256: str
    restored_sha256: str
    restored_ok: bool
    seconds: float
    log: list[str] = field(default_factory=list)
    #: the visual diff of that PSD, first version against the latest
    diff_lines: list[str] = field(default_factory=list)
    diff_pictures: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise SystemExit(f"error: {out} is not empty and is not a previous demo "
                             f"(no {MARKER}); choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(_MARKER_TEXT)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def run_demo(out: Path, scale_bytes: int, iterations: int = 6, seed: int = 0,
             echo: bool = True) -> DemoReport:
    """Build the demo vault in ``out`` and return its figures (printing progress if ``echo``)."""
    import creativevault as cv

    def say(msg: str) -> None:
        if echo:
            print(msg, flush=True)

    t0 = time.perf_counter()
    out = Path(out).resolve()
    _prepare(out)
    say(f"Generating an animation project (~{_mb(scale_bytes)}) in {out} ...")
    files = generate_project(out, scale_bytes, seed)
    vault = cv.Vault.init(out)
    vault.add([out])  # the project, the marker, and the .gitattributes/.gitignore init wrote
    first = vault.commit("Import animation project: paintings, texture library, models, photos")
    logical = tree_bytes(out)
    snapshots = [logical]
    say(f"  [{first.id[:10]}] initial import: {len(files) + 1} files, {_mb(logical)}")

    # The SHA-256 of every PSD as committed first, to check a restore against later.
    committed = {p.relative_to(out).as_posix(): _sha256(p) for p in files if p.suffix == ".psd"}
    edited_psds: list[str] = []
    log: list[str] = []
    for i in range(iterations):
        notes: list[str] = []
        changed = edit_iteration(out, i, seed, notes=notes)
        edited_psds += [rel for p in changed if (rel := p.relative_to(out).as_posix()) in committed]
        vault.add(changed)
        message = f"Iteration {i + 1}: " + "; ".join(notes)
        info = vault.commit(message)
        snapshots.append(tree_bytes(out))
        log.append(f"[{info.id[:10]}] {message}")
        say(f"  {log[-1]}")

    stats = vault.stats()
    git_bytes = _dir_bytes(out / ".git")

    # Restore the first committed version of a PSD edited since, check it, then go back.
    rel = edited_psds[0] if edited_psds else sorted(committed)[0]
    vault.restore([out / rel], source=first.id)
    restored = _sha256(out / rel)
    expected = committed[rel]
    vault.restore([out / rel], source="HEAD")

    # What changed in that painting since the first version, as an artist would look at it.
    from creativevault.features.diff import DiffOptions
    from creativevault.features.diff.engine import diff_vault

    pictures_dir = out.parent / f"{out.name}-diffs"
    shutil.rmtree(pictures_dir, ignore_errors=True)
    diffs = diff_vault(vault, first.id, "HEAD", [out / rel],
                       options=DiffOptions(out_dir=pictures_dir))
    diff_lines = [line for d in diffs for line in d.lines()]
    diff_pictures = sorted({str(p.path) for d in diffs for part in [d, *d.parts]
                            for p in part.pictures})
    vault.close()

    report = DemoReport(
        out=str(out), commits=stats.commits, files=stats.files, versions=stats.versions,
        logical_bytes=sum(snapshots), unique_bytes=stats.logical_bytes,
        stored_bytes=stats.stored_bytes,
        ratio=sum(snapshots) / max(1, stats.stored_bytes), git_dir_bytes=git_bytes,
        restored_path=rel, restored_from=first.id, expected_sha256=expected,
        restored_sha256=restored, restored_ok=restored == expected,
        seconds=time.perf_counter() - t0, log=log, diff_lines=diff_lines,
        diff_pictures=diff_pictures,
    )
    if echo:
        print(format_report(report))
    return report


def format_report(r: DemoReport) -> str:
    """The human-readable summary printed at the end of the demo."""
    lines = [
        "",
        "CreativeVault demo: animation project",
        f"  versions (commits)     {r.commits}",
        f"  files (latest)         {r.files}",
        f"  file versions stored   {r.versions}",
        f"  logical size           {_mb(r.logical_bytes):>12}   (a plain copy of every version)",
        f"  distinct versions      {_mb(r.unique_bytes):>12}   (each file version once)",
        f"  stored size            {_mb(r.stored_bytes):>12}   (chunk store packs)",
        f"  .git folder on disk    {_mb(r.git_dir_bytes):>12}",
        f"  ratio                  {r.ratio:>10.1f}x  (logical / stored)",
        f"  restore check          {r.restored_path} @ {r.restored_from[:10]}: "
        + ("sha256 matches" if r.restored_ok else "SHA256 MISMATCH"),
        f"                         {r.restored_sha256}",
        f"  time                   {r.seconds:.1f} s",
    ]
    if r.diff_lines:
        lines += ["", f"What changed in {r.restored_path} since the first version:"]
        lines += [f"  {line}" for line in r.diff_lines]
        lines += [f"  picture: {path}" for path in r.diff_pictures]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to (re)build the demo in")
    ap.add_argument("--scale", default="small", help=f"{'/'.join(SCALES)} or a byte count")
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print the report as JSON")
    args = ap.parse_args(argv)
    scale = SCALES[args.scale] if args.scale in SCALES else int(args.scale)
    report = run_demo(args.out, scale, args.iterations, args.seed)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    return 0 if report.restored_ok and report.stored_bytes < report.logical_bytes else 1


if __name__ == "__main__":
    raise SystemExit(main())
