"""``cvault checkout REV|BRANCH`` and ``cvault checkout -b NEW``."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json

__all__ = ["print_rescue", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkout", help="switch to a branch or commit")
    p.add_argument("rev", metavar="REV|BRANCH")
    p.add_argument("-b", dest="create", action="store_true", help="create branch REV first")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.add_argument("--json", action="store_true")


def print_rescue(report) -> None:
    if report.rescued is not None:
        sys.stderr.write(f"cvault: saved {len(report.rescued.paths)} modified file(s) as "
                         f"{report.rescued.name} before overwriting them "
                         "(cvault rescue list / cvault rescue restore)\n")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        report = vault.checkout(args.rev, create=args.create, dry_run=args.dry_run,
                                progress=BarProgress())
        branch = vault.git.head_branch()
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_rescue(report)
    if args.dry_run:
        for p in report.written:
            out.write(f"would write\t{p}\n")
        for p in report.deleted:
            out.write(f"would delete\t{p}\n")
        return 0
    if branch:
        verb = "a new branch" if args.create else "branch"
        out.write(f"Switched to {verb} '{branch}' ({len(report.written)} written, "
                  f"{len(report.deleted)} removed)\n")
    else:
        out.write(f"HEAD is now at {args.rev} (detached; {len(report.written)} written, "
                  f"{len(report.deleted)} removed)\n")
    return 0
