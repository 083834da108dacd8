"""``cvault rescue list`` and ``cvault rescue restore [NAME] [PATH…]``."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.cmd_checkout import print_rescue
from creativevault.cli.cmd_log import format_date
from creativevault.cli.output import absolute, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rescue", help="files saved before an operation overwrote them")
    rs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lp = rs.add_parser("list", help="list rescue entries, newest first")
    lp.add_argument("--json", action="store_true")
    rp = rs.add_parser("restore", help="write a rescue entry's files back")
    rp.add_argument("name", nargs="?", default="0", help="rescue@{N}, N, or an id prefix")
    rp.add_argument("paths", nargs="*", metavar="PATH")
    rp.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        if args.action == "list":
            entries = vault.rescue_list()
            if args.json:
                print_json(out, [e.to_json() for e in entries])
                return 0
            for e in entries:
                out.write(f"{e.name}\t{e.id[:10]}\t{format_date(e.time, 0)}\t{e.reason}\n")
                for p in e.paths:
                    out.write(f"\t\t{p}\n")
            return 0
        report = vault.rescue_restore(args.name, absolute(args.paths) or None)
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_rescue(report)
    for p in report.written:
        out.write(f"restored\t{p}\n")
    return 0
