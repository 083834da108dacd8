"""``cvault push [REMOTE] [BRANCH[:DEST]]``: send a branch and its content."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="send a branch and its content (default: the current "
                                    "branch to the same name on origin)")
    p.add_argument("remote", nargs="?", help="remote name or address (default: origin)")
    p.add_argument("branch", nargs="?", metavar="BRANCH[:DEST]")
    p.add_argument("-f", "--force", action="store_true",
                   help="move the remote branch even when it is not a fast-forward")
    p.add_argument("--dry-run", action="store_true", help="say what would move")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.sync.workflows import push_branch

    with open_vault() as vault:
        report = push_branch(vault, args.remote, args.branch, options=peer_options(vault),
                             force=args.force, dry_run=args.dry_run, progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
    else:
        print_transfer(out, report)
    return 0
