"""``cvault restore [--source REV] [--staged] PATH…``."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.cmd_checkout import print_rescue
from creativevault.cli.output import absolute, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="restore working files from the index or a commit")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-s", "--source", metavar="REV")
    p.add_argument("-S", "--staged", action="store_true", help="restore the index instead")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        report = vault.restore(absolute(args.paths), source=args.source, staged=args.staged,
                               dry_run=args.dry_run)
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_rescue(report)
    verb = "would restore" if args.dry_run else "restored"
    for p in report.written:
        out.write(f"{verb}\t{p}\n")
    return 0
