#!/usr/bin/env python3
"""Demo: a field expedition synced with a studio vault, as a photographer types it.

Builds, in ``--out``, a studio vault and a field laptop cloned from it on a path (an
external drive or a NAS mount would do the same), then runs the ``cvault`` commands of a
trip and prints each one with its output:

1. the field laptop clones the studio (``field/ridge`` from the studio's ``main``);
2. day 1: a shoot of JPEG frames (Pillow), RAW-like 12-bit DNGs and XMP sidecars, rated
   in a culling pass; ``cvault sync`` commits, pulls and pushes it;
3. the studio merges ``field/ridge`` into ``main``;
4. the studio grades one select while the field re-exports it: the next sync keeps both
   versions (the studio's under a marked name) and says so in the merge commit;
5. the laptop drops the selects (the studio's copies are verified first) to free space,
   then gets one RAW back, byte-exact.

    python examples/field_expedition.py --out build/field-expedition [--frames 6]

A previous demo in ``--out`` is removed first, but only if it carries the marker file this
script writes; any other non-empty folder is left alone (exit status 2).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the frame generator lives in benchmarks/
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.expedition import write_frames  # noqa: E402

__all__ = ["MARKER", "ExpeditionReport", "main", "run_demo"]

#: The file that marks a folder as a demo this script made.
MARKER = "README-cvault-field-demo.txt"
_MARKER_TEXT = ("This folder was made by examples/field_expedition.py (CreativeVault demo).\n"
                "Running the demo again deletes and rebuilds it.\n")
#: pixels of a frame relative to a 10 MB photo: ~75 KB JPEG + ~110 KB RAW-like
SCALE = 0.015
#: the culling pass: star ratings by frame, repeated; 4 stars or more is a select
RATINGS = (2, 5, 1, 4, 3, 5)
#: who commits where (the demo never depends on the user's git identity)
PEOPLE = {"studio": ("Studio Editor", "editor@studio.example"),
          "ridge": ("Field Photographer", "field@studio.example")}


@dataclass
class ExpeditionReport:
    """What the demo did, for the summary (and for tests)."""

    out: str
    frames: int = 0
    shoot_bytes: int = 0
    selects: list[str] = field(default_factory=list)
    kept_both: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    stored_before_drop: int = 0
    stored_after_drop: int = 0
    got_back: str = ""
    got_back_ok: bool = False
    studio_fsck_ok: bool = False
    seconds: float = 0.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise SystemExit(f"error: {out} is not empty and is not a previous demo "
                             f"(no {MARKER}); choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(_MARKER_TEXT)


def _xmp(name: str, rating: int) -> str:
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
            f'   xmp:Rating="{rating}" xmp:Label="{"Green" if rating >= 4 else ""}"\n'
            f'   xmp:RawFileName="{name}"/>\n'
            ' </rdf:RDF>\n</x:xmpmeta>\n')


def _regrade(path: Path, *, brightness: float, crop: int) -> None:
    """Re-export a JPEG the way an editor would: a crop and a tone change."""
    from PIL import Image, ImageEnhance

    with Image.open(path) as img:
        w, h = img.size
        edited = img.crop((crop, crop, w - crop, h - crop)).resize((w, h))
        edited = ImageEnhance.Brightness(edited).enhance(brightness)
        buf = io.BytesIO()
        edited.save(buf, format="JPEG", quality=92)
    path.write_bytes(buf.getvalue())


class Terminal:
    """Runs ``cvault`` as a separate process, as a user would, and echoes the session."""

    def __init__(self, out: Path, echo: bool) -> None:
        self.out = out
        self.echo = echo

    def say(self, text: str = "") -> None:
        if self.echo:
            print(text, flush=True)

    def cvault(self, where: Path, *args: str, who: str, expect: int = 0) -> str:
        name, email = PEOPLE[who]
        env = dict(os.environ, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
                   GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        proc = subprocess.run([sys.executable, "-m", "creativevault", *args], cwd=where,
                              env=env, capture_output=True, text=True)
        self.say(f"{where.relative_to(self.out.parent)}$ cvault {shlex.join(args)}")
        for line in (proc.stdout + proc.stderr).splitlines():
            self.say(f"    {line}")
        if proc.returncode != expect:
            raise RuntimeError(f"cvault {shlex.join(args)} exited {proc.returncode} "
                               f"(expected {expect}): {proc.stderr.strip()}")
        return proc.stdout


def _stored(vault: Path) -> int:
    import creativevault as cv

    with cv.Vault.open(vault) as v:
        return v.store.stats().pack_bytes


def run_demo(out: Path, frames: int = 6, seed: int = 0, echo: bool = True
             ) -> ExpeditionReport:
    """Build the studio and the field laptop in ``out`` and run the trip."""
    t0 = time.perf_counter()
    out = Path(out).resolve()
    _prepare(out)
    report = ExpeditionReport(out=str(out))
    term = Terminal(out, echo)
    studio, ridge = out / "studio", out / "ridge"

    term.say("== The studio vault, with the brief ==")
    term.cvault(out, "init", "studio", who="studio")
    (studio / "brief").mkdir()
    (studio / "brief" / "shot-list.txt").write_text("ridge at dawn\nglacier at noon\n")
    term.cvault(studio, "add", ".", who="studio")
    term.cvault(studio, "commit", "-m", "Expedition brief", who="studio")

    term.say("\n== The field laptop clones it (a path: a drive or a NAS mount works the same) ==")
    term.cvault(out, "clone", str(studio), "ridge", who="ridge")

    term.say(f"\n== Day 1: {frames} frames (JPEG + RAW-like DNG) and a culling pass (XMP) ==")
    made = write_frames(ridge, 0, frames, SCALE, seed=seed, workers=1)
    for index in range(frames):
        stem = f"day01/DSC_{index + 1:05d}"
        rating = RATINGS[index % len(RATINGS)]
        (ridge / f"{stem}.xmp").write_text(_xmp(f"DSC_{index + 1:05d}.DNG", rating))
        if rating >= 4:
            report.selects += [f"{stem}.JPG", f"{stem}.DNG"]
    report.frames = frames
    report.shoot_bytes = sum(size for rel, (size, _sha) in made.items()
                             if not rel.endswith(".xmp"))
    term.say(f"    shot {frames} frames, {_kb(report.shoot_bytes)}; selects (4 stars and "
             f"up): {', '.join(s for s in report.selects if s.endswith('.JPG'))}")
    term.cvault(ridge, "sync", "-m", "Day 1 on the ridge", who="ridge")

    term.say("\n== The studio merges the field branch ==")
    term.cvault(studio, "merge", "field/ridge", who="studio")

    select = report.selects[0]
    term.say(f"\n== Both sides edit {select}: the studio grades it, the field re-exports it ==")
    _regrade(studio / select, brightness=1.2, crop=4)
    term.cvault(studio, "commit", "-a", "-m", f"Grade {Path(select).name}", who="studio")
    _regrade(ridge / select, brightness=0.9, crop=10)
    synced = term.cvault(ridge, "sync", "-m", "Re-export a select", who="ridge")
    report.kept_both = re.findall(r'^kept both: .* \(theirs as "(.*)"\)$', synced, re.M)
    term.cvault(studio, "merge", "field/ridge", who="studio")

    term.say("\n== The laptop drops the selects to free space (the studio's copies are "
             "verified first) ==")
    report.stored_before_drop = _stored(ridge)
    dropped = term.cvault(ridge, "drop", *report.selects, who="ridge")
    report.dropped = re.findall(r"^drop\t(.*)$", dropped, re.M)
    report.stored_after_drop = _stored(ridge)
    term.say(f"    the laptop's store: {_kb(report.stored_before_drop)} -> "
             f"{_kb(report.stored_after_drop)}")

    raw = next(s for s in report.selects if s.endswith(".DNG"))
    term.say(f"\n== An editor needs {raw} back ==")
    term.cvault(ridge, "get", raw, who="ridge")
    report.got_back = raw
    report.got_back_ok = _sha256(ridge / raw) == made[raw][1]

    term.say("\n== The studio checks everything it holds ==")
    term.cvault(studio, "log", "--oneline", who="studio")
    report.studio_fsck_ok = term.cvault(studio, "fsck", who="studio").endswith(": ok\n")
    report.seconds = time.perf_counter() - t0
    term.say(format_report(report))
    return report


def format_report(r: ExpeditionReport) -> str:
    """The summary printed at the end."""
    return "\n".join([
        "",
        "CreativeVault demo: field expedition",
        f"  frames shot            {r.frames} ({_kb(r.shoot_bytes)} of JPEG and RAW)",
        f"  selects                {len(r.selects) // 2}",
        "  kept both ways         " + (", ".join(r.kept_both) or "none"),
        f"  dropped on the laptop  {len(r.dropped)} files, store {_kb(r.stored_before_drop)}"
        f" -> {_kb(r.stored_after_drop)}",
        f"  got back               {r.got_back}: "
        + ("sha256 matches" if r.got_back_ok else "SHA256 MISMATCH"),
        f"  studio fsck            {'ok' if r.studio_fsck_ok else 'FAILED'}",
        f"  time                   {r.seconds:.1f} s",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to (re)build the demo in")
    ap.add_argument("--frames", type=int, default=6, help="frames shot on day 1 (at least 2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.frames < 2:
        ap.error("--frames must be at least 2 (one of them a select)")
    report = run_demo(args.out, args.frames, args.seed)
    ok = (report.got_back_ok and report.studio_fsck_ok and len(report.kept_both) == 1
          and report.stored_after_drop < report.stored_before_drop)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
