"""``cvault gc [--grace DAYS] [--dry-run] [--json]``."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TextIO

from creativevault.cli.output import BarProgress, human_size, open_vault, print_json

__all__ = ["register", "run"]


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: '{text}'") from None
    if not days >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be zero or more days, not '{text}'")
    return days


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gc", help="remove data no ref, reflog or rescue entry reaches")
    p.add_argument("--grace", type=_days, default=14.0, metavar="DAYS",
                   help="keep anything written in the last DAYS days (default 14)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        report = vault.gc(grace_seconds=args.grace * 86400, dry_run=args.dry_run,
                          progress=BarProgress())
    if args.json:
        print_json(out, dataclasses.asdict(report))
        return 0
    verb = "would free" if args.dry_run else "freed"
    out.write(f"{verb} {human_size(report.freed_bytes)}: {report.removed_chunks} chunk(s), "
              f"{report.removed_packs} pack(s) removed, {report.rewritten_packs} rewritten\n")
    return 0
