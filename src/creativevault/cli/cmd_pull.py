"""``cvault pull [REMOTE|PATH] [BRANCH]``: fetch a branch (default main) and merge it."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["merge_subject", "print_merge", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="fetch a remote's branch (default main) and merge it "
                                    "into the current branch")
    p.add_argument("remote", nargs="?", help="remote name or address (default: origin)")
    p.add_argument("branch", nargs="?", help="the remote branch (default: main)")
    p.add_argument("--json", action="store_true")


def merge_subject(vault, merge) -> str:
    """The subject line of the merge commit a pull made ("" when it made none)."""
    if merge is None or not merge.commit:
        return ""
    return str(vault.git.commit(merge.commit).message.splitlines()[0])


def print_merge(out: TextIO, merge, subject: str = "") -> None:
    from creativevault.cli.cmd_merge import print_report

    print_report(out, merge, subject)  # no subject: "Merge REV into BRANCH"


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.sync.workflows import pull

    with open_vault() as vault:
        report = pull(vault, args.remote, args.branch, options=peer_options(vault),
                      progress=BarProgress())
        subject = merge_subject(vault, report.merge)
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_transfer(out, report.fetch)
    if report.merge is not None:
        print_merge(out, report.merge, subject)
    return 0
