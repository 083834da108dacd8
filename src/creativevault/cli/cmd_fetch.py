"""``cvault fetch [REMOTE] [BRANCH...]``: bring a remote's commits and content."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch", help="bring a remote's branches and their content")
    p.add_argument("remote", nargs="?", help="remote name or address (default: origin)")
    p.add_argument("branches", nargs="*", metavar="BRANCH")
    p.add_argument("--no-content", dest="content", action="store_false",
                   help="commits only; content stays on the remote")
    p.add_argument("--dry-run", action="store_true", help="say what would move")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.sync.engine import fetch
    from creativevault.features.sync.remotes import resolve_remote
    from creativevault.features.sync.workflows import connect

    with open_vault() as vault:
        remote = resolve_remote(vault.git, args.remote)
        content = args.content and vault.git.config_get("cvault", "partial") != "true"
        with connect(remote, peer_options(vault)) as peer:
            report = fetch(vault, peer, remote_name=remote.name,
                           branches=args.branches or None, content=content,
                           dry_run=args.dry_run, progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
    else:
        print_transfer(out, report)
    return 0
