"""``cvault import-lfs [--dry-run] [--json]``: make a git-lfs repository a vault.

git-lfs objects become vault content (verified against their SHA-256 names), the
repository is adopted as a vault, and ``.gitattributes`` is switched from git-lfs to
cvault for future commits. History is not rewritten. See docs/import-lfs.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, human_size, print_json

__all__ = ["EXIT_BAD_OBJECTS", "register", "run"]

#: some objects did not match their names (or were unreadable) and were not imported
EXIT_BAD_OBJECTS = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-lfs",
                       help="import a git-lfs repository's objects (history is kept)")
    p.add_argument("--dry-run", action="store_true",
                   help="verify and report what would be imported; change nothing")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.repo.lfs import import_lfs

    report = import_lfs(".", dry_run=args.dry_run, progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
        return 0 if report.ok else EXIT_BAD_OBJECTS
    would = "would " if report.dry_run else ""
    for bad in report.bad_objects:
        sys.stderr.write(f"cvault: bad object: {bad.describe()}; {would}not imported\n")
    for m in report.missing:
        sys.stderr.write(f"cvault: missing: {m.describe()} (oid {m.oid[:12]}, "
                         f"{human_size(m.size)}): content is neither in .git/lfs/objects "
                         "nor in the vault (fetch it with 'git lfs fetch --all' and run "
                         "import-lfs again)\n")
    if report.adopted:
        out.write(f"{'Would adopt' if report.dry_run else 'Adopted'} this git repository "
                  "as a vault (history kept, git-lfs hooks chained)\n")
    stored = "would store" if report.dry_run else "stored"
    out.write(f"LFS objects: {report.objects_found} found, {report.objects_stored} {stored} "
              f"({human_size(report.bytes_stored)}"
              + ("" if report.dry_run else f", {human_size(report.added_bytes)} new in the store")
              + f"), {report.already_present} already in the vault"
              + (f", {len(report.bad_objects)} refused" if report.bad_objects else "") + "\n")
    out.write(f"LFS pointers in history: {report.pointers_in_history} content(s)"
              + (f", {len(report.missing)} missing" if report.missing else ", none missing")
              + "\n")
    if report.attributes_rewritten:
        verb = "would switch" if report.dry_run else "switched"
        out.write(f"{', '.join(report.attributes_rewritten)}: {verb} "
                  f"{report.attribute_lines} line(s) from git-lfs to cvault\n")
    if not report.dry_run and report.attributes_rewritten:
        out.write("Commit the new attributes so future versions go through cvault:\n"
                  "  git add .gitattributes .gitignore && git commit -m 'Use CreativeVault'\n")
    return 0 if report.ok else EXIT_BAD_OBJECTS
