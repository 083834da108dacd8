"""``cvault pull [REMOTE|PATH] [BRANCH]``: fetch a branch (default main) and merge it."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["print_merge", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="fetch a remote's branch (default main) and merge it "
                                    "into the current branch")
    p.add_argument("remote", nargs="?", help="remote name or address (default: origin)")
    p.add_argument("branch", nargs="?", help="the remote branch (default: main)")
    p.add_argument("--json", action="store_true")


def print_merge(out: TextIO, merge) -> None:
    from creativevault.cli.cmd_merge import print_report

    print_report(out, merge)  # the subject defaults to "Merge REV into BRANCH"


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.sync.workflows import pull

    with open_vault() as vault:
        report = pull(vault, args.remote, args.branch, options=peer_options(vault),
                      progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_transfer(out, report.fetch)
    if report.merge is not None:
        print_merge(out, report.merge)
    return 0
