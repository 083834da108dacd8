"""``cvault sync [REMOTE]``: commit pending changes, pull main, push the current branch."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="commit pending changes, pull the remote's main, push "
                                    "the current branch")
    p.add_argument("remote", nargs="?", help="remote name or address (default: origin)")
    p.add_argument("-m", "--message", help="message of the automatic commit")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.cli.cmd_pull import merge_subject, print_merge
    from creativevault.features.sync.workflows import sync

    with open_vault() as vault:
        report = sync(vault, args.remote, options=peer_options(vault), message=args.message,
                      progress=BarProgress())
        subject = merge_subject(vault, report.pull.merge if report.pull else None)
    if args.json:
        print_json(out, report.to_json())
        return 0
    if report.committed:
        out.write(f"Committed pending changes as {report.committed[:10]}\n")
    if report.pull is not None:
        print_transfer(out, report.pull.fetch)
        if report.pull.merge is not None:
            print_merge(out, report.pull.merge, subject)
    if report.push is not None:
        print_transfer(out, report.push)
    return 0
