"""Measure file timelines against the issue's targets.

    python -m benchmarks.bench_timeline [--quick] [--out benchmarks/out] [--keep]

Every measurement runs in a fresh child interpreter (:func:`benchmarks.run.run_child`),
which reports its import time (``creativevault.features.timeline`` plus numpy and Pillow)
apart from its work time. The vaults are made by a child too: ``art.png`` is edited and
committed once per version (a 40 x 40 square repainted at a moving spot, so every version
differs locally), with an unrelated commit of another file every 50 versions; commit times
are one minute apart.

- ``cached``: 500 versions of a 64 x 48 PNG; the timeline is built once to fill the
  catalog, then timed with thumbnails and change figures all cached:
  :func:`file_timeline` (API; the first call in a fresh process and the best of the
  following ones) and ``cvault timeline art.png --json`` (CLI subprocess, wall time
  including interpreter start). Target < 1 s for both.
- ``cold``: 100 versions of a 1024 x 768 PNG; the catalog (``.git/cvault/catalog.sqlite``)
  is deleted, then one :func:`file_timeline` call renders every thumbnail and change
  figure. Best of three (one with ``--quick``), the catalog deleted before each. Target
  < 15 s.
- ``walk``: the history walk alone (:func:`creativevault.repo.history.file_history` from
  HEAD's branch, best of five) on vaults of exactly 125, 250 and 500 commits (9 in 10
  edit ``art.png``, 1 in 10 another file); time, tree diffs and time per tree diff. A
  linear walk keeps the time per tree diff flat while the commits double.

Results are printed as a table and written to ``<out>/timeline.json``; the work folder
``<out>/work-timeline`` is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.run import (
    add_child_arguments,
    bench_env,
    code_version,
    machine_info,
    run_child,
    serve_child,
    settle,
)

__all__ = ["TARGETS", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE = "benchmarks.bench_timeline"
PATH = "art.png"
WALK_COMMITS = (125, 250, 500)

TARGETS = {
    "cached_api_s": ("<", 1.0),
    "cached_cli_s": ("<", 1.0),
    "cold_s": ("<", 15.0),
}


# --------------------------------------------------------------------------- child tasks


def _png(img: Any) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _task_make(root: str, versions: int, w: int, h: int, other_every: int,
               seed: int = 0) -> dict[str, Any]:
    """A vault where ``art.png`` has ``versions`` versions and a side commit (another
    file) after every 50; or, with ``other_every``, a vault of exactly ``versions``
    commits, every ``other_every``-th of which changes another file instead."""
    import numpy as np

    import creativevault as cv
    from creativevault.repo.gitrepo import GitRepo

    base = Path(root)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    os.chdir(base)
    ticks = itertools.count(1_780_000_000, 60)
    orig = GitRepo.create_commit

    def create_commit(self: GitRepo, tree_id: str, parents: list[str], message: str, *,
                      author: str | None = None, when: int | None = None) -> str:
        return orig(self, tree_id, parents, message, author=author, when=next(ticks))

    GitRepo.create_commit = create_commit  # type: ignore[method-assign]
    rng = np.random.default_rng(seed)
    img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    vault = cv.Vault.init(base)
    t0 = time.perf_counter()
    commits = made = 0
    while (commits if other_every else made) < versions:
        if other_every and commits % other_every == other_every - 1:
            (base / f"other{commits}.txt").write_text(str(commits))
            vault.add([f"other{commits}.txt"])
            vault.commit(f"other {commits}")
            commits += 1
            continue
        y, x = (made * 7) % (h - 40), (made * 13) % (w - 40)
        img[y:y + 40, x:x + 40] = (made * 5) % 256
        (base / PATH).write_bytes(_png(img))
        vault.add([PATH])
        vault.commit(f"edit {made}")
        commits += 1
        made += 1
        if not other_every and made % 50 == 1:
            (base / f"other{made}.txt").write_text(str(made))
            vault.add([f"other{made}.txt"])
            vault.commit(f"other {made}")
            commits += 1
    seconds = time.perf_counter() - t0
    vault.close()
    GitRepo.create_commit = orig  # type: ignore[method-assign]
    return {"versions": made, "commits": commits, "seconds": seconds,
            "png_bytes": (base / PATH).stat().st_size}


def _imports() -> float:
    t0 = time.perf_counter()
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401

    import creativevault  # noqa: F401
    import creativevault.features.timeline  # noqa: F401
    return time.perf_counter() - t0


def _task_timeline(root: str, runs: int, cold: bool) -> dict[str, Any]:
    """``runs`` file_timeline calls; with ``cold`` the catalog is deleted before each."""
    import_s = _imports()
    import creativevault as cv
    from creativevault.features.timeline import file_timeline

    os.chdir(root)
    catalog = Path(root) / ".git" / "cvault" / "catalog.sqlite"
    times: list[float] = []
    stats: list[dict[str, int]] = []
    entries = 0
    for _ in range(runs):
        if cold:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(catalog) + suffix).unlink(missing_ok=True)
            settle()
        t0 = time.perf_counter()
        with cv.Vault.open(root) as vault:  # opening the vault is part of the call
            t = file_timeline(vault, PATH)
        times.append(time.perf_counter() - t0)
        stats.append(dict(t.stats))
        entries = len(t.entries)
    return {"import_seconds": import_s, "times": times, "first": times[0],
            "best": min(times), "best_after_first": min(times[1:]) if runs > 1 else None,
            "stats": stats, "entries": entries,
            "catalog_bytes": catalog.stat().st_size if catalog.exists() else 0}


def _task_walk(root: str, runs: int) -> dict[str, Any]:
    import_s = _imports()
    import creativevault as cv
    from creativevault.features.timeline.build import TimelineOptions, choose_tips
    from creativevault.repo.history import file_history

    times: list[float] = []
    with cv.Vault.open(root) as vault:
        branches = vault.git.branches()
        labels = [(b, branches[b]) for b in sorted(branches, key=lambda b: (b != "main", b))]
        tips = choose_tips(vault, TimelineOptions())
        for _ in range(runs):
            t0 = time.perf_counter()
            h = file_history(vault.git, PATH, tips, None, labels)
            times.append(time.perf_counter() - t0)
    return {"import_seconds": import_s, "times": times, "best": min(times),
            "tree_diffs": h.tree_diffs}


_TASKS: dict[str, Callable[..., dict[str, Any]]] = {"make": _task_make, "timeline": _task_timeline, "walk": _task_walk}


# --------------------------------------------------------------------------- parent


def _cli(root: Path, runs: int) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("cvault")
    cmd = [str(exe) if exe.exists() else "cvault", "timeline", PATH, "--json"]
    times: list[float] = []
    out = b""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, env=bench_env(), capture_output=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"cvault timeline failed:\n{proc.stderr.decode()[-4000:]}")
        out = proc.stdout
    doc = json.loads(out)
    return {"times": times, "best": min(times), "json_bytes": len(out),
            "entries": len(doc.get("entries", []))}


def _measure_cached(work: Path, quick: bool, res: dict[str, Any]) -> None:
    root = work / "cached500"
    res["cached_make"] = make = run_child("make", module=MODULE, root=str(root),
                                          versions=500, w=64, h=48, other_every=0)
    print(f"  made {make['versions']} versions / {make['commits']} commits "
          f"in {make['seconds']:.0f} s", flush=True)
    res["cached_fill"] = run_child("timeline", module=MODULE, root=str(root), runs=1,
                                   cold=True)
    settle()
    res["cached_api"] = run_child("timeline", module=MODULE, root=str(root),
                                  runs=3 if quick else 6, cold=False)
    res["cached_cli"] = _cli(root, 3 if quick else 5)


def _measure_cold(work: Path, quick: bool, res: dict[str, Any]) -> None:
    root = work / "cold100"
    res["cold_make"] = make = run_child("make", module=MODULE, root=str(root), versions=100,
                                        w=1024, h=768, other_every=0)
    print(f"  made {make['versions']} versions / {make['commits']} commits "
          f"in {make['seconds']:.0f} s", flush=True)
    settle()
    res["cold"] = run_child("timeline", module=MODULE, root=str(root),
                            runs=1 if quick else 3, cold=True)


def _measure_walk(work: Path, quick: bool, res: dict[str, Any]) -> None:
    rows = []
    for commits in WALK_COMMITS:
        root = work / f"walk{commits}"
        make = run_child("make", module=MODULE, root=str(root), versions=commits, w=64,
                         h=48, other_every=10)
        versions = make["versions"]
        walk = run_child("walk", module=MODULE, root=str(root), runs=5)
        rows.append({"commits": commits, "versions": versions, "seconds": walk["best"],
                     "times": walk["times"], "tree_diffs": walk["tree_diffs"],
                     "us_per_tree_diff": walk["best"] / walk["tree_diffs"] * 1e6,
                     "us_per_commit": walk["best"] / commits * 1e6})
        shutil.rmtree(root, ignore_errors=True)
    res["walk"] = rows


MEASUREMENTS = {"cached": _measure_cached, "cold": _measure_cold, "walk": _measure_walk}


def _summary(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, key: str | None, value: float, fmt: str) -> None:
        if key is None:
            rows.append((name, fmt.format(value), "", ""))
            return
        op, target = TARGETS[key]
        ok = value >= target if op == ">=" else value < target
        res.setdefault("summary", {})[key] = value
        rows.append((name, fmt.format(value), f"{op} {target:g}", "ok" if ok else "MISSED"))

    if "cached_api" in res:
        api = res["cached_api"]
        add("500 versions, cached: API, first call in a fresh process", "cached_api_s",
            api["first"], "{:.3f} s")
        if api["best_after_first"] is not None:
            add("500 versions, cached: API, best later call", None, api["best_after_first"],
                "{:.3f} s")
        add("500 versions, cached: CLI --json (wall, incl. interpreter)", "cached_cli_s",
            res["cached_cli"]["best"], "{:.3f} s")
        add("500 versions: first build of the catalog (64x48 PNG)", None,
            res["cached_fill"]["first"], "{:.2f} s")
    if "cold" in res:
        add("100 versions of 1024x768 PNG, cold cache", "cold_s", res["cold"]["best"],
            "{:.2f} s")
    for w in res.get("walk", []):
        add(f"history walk, {w['commits']} commits ({w['tree_diffs']} tree diffs)", None,
            w["seconds"] * 1000, "{:.1f} ms")
        add(f"  per tree diff, {w['commits']} commits", None, w["us_per_tree_diff"],
            "{:.0f} us")
    return rows


def _print_table(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CreativeVault timeline benchmarks")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out")
    ap.add_argument("--only", nargs="*", choices=sorted(MEASUREMENTS))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    add_child_arguments(ap)
    args = ap.parse_args(argv)

    if args.child:
        return serve_child(_TASKS, args)

    out = args.out.resolve()
    work = out / "work-timeline"
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(f"machine: {info['nproc']} x {info['cpu']}, "
          f"{(info['memory_bytes'] or 0) / 2**30:.0f} GiB RAM, Python {info['python']}, "
          f"{info['os']}")
    res: dict[str, Any] = {"quick": args.quick, "machine": info,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "code": code_version()}
    print(f"code: {res['code']}", flush=True)
    t0 = time.perf_counter()
    for name in args.only or list(MEASUREMENTS):
        t = time.perf_counter()
        MEASUREMENTS[name](work, args.quick, res)
        print(f"  {name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    res["total_seconds"] = time.perf_counter() - t0
    rows = _summary(res)
    print()
    _print_table(rows)
    (out / "timeline.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nresults written to {out / 'timeline.json'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
