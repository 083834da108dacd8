"""``cvault get PATH...``: fetch the content of committed files from remotes."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, absolute, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("get", help="fetch the content of files (a vault cloned with "
                                   "--no-content, or after drop)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--from", dest="remotes", action="append", metavar="REMOTE",
                   help="ask this remote (repeatable; default: origin, then the others)")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.cli.sync_common import peer_options
    from creativevault.features.sync.workflows import get

    with open_vault() as vault:
        report = get(vault, absolute(args.paths), remotes=args.remotes,
                     options=peer_options(vault), progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
    else:
        for path in report.fetched:
            out.write(f"get\t{path}\n")
        if not report.fetched and not report.unavailable:
            out.write("nothing to get: the content is here\n")
    if report.unavailable:
        sys.stderr.write(f"cvault: error: no reachable remote has the content of "
                         f"{len(report.unavailable)} files (first: {report.unavailable[0]})\n")
        return 6
    return 0
