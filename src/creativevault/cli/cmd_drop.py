"""``cvault drop PATH...``: free local space once enough verified copies exist elsewhere."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, absolute, human_size, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drop", help="remove local content that enough remotes hold "
                                    "(verified); never the last copy")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--numcopies", type=int, metavar="N",
                   help="verified copies required elsewhere (default: cvault.numcopies, 1)")
    p.add_argument("--from", dest="remotes", action="append", metavar="REMOTE",
                   help="count copies on this remote only (repeatable; default: all)")
    p.add_argument("--keep-file", action="store_true",
                   help="leave the working file as it is (only the stored copy goes)")
    p.add_argument("--dry-run", action="store_true", help="verify copies, drop nothing")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.cli.sync_common import peer_options
    from creativevault.features.sync.workflows import drop

    with open_vault() as vault:
        report = drop(vault, absolute(args.paths), options=peer_options(vault),
                      remotes=args.remotes, copies_needed=args.numcopies,
                      keep_file=args.keep_file, dry_run=args.dry_run,
                      progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
        return 0
    verb = "would drop" if args.dry_run else "drop"
    for path in report.dropped:
        out.write(f"{verb}\t{path}\n")
    if not args.dry_run:
        out.write(f"freed {human_size(report.freed_bytes)}\n")
    return 0
