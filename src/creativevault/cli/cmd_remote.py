"""``cvault remote [list] | add NAME URL | remove NAME``: named places to push and pull."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("remote", help="list, add or remove remotes (drive paths, SSH)")
    p.add_argument("-v", "--verbose", action="store_true", help="show addresses")
    p.add_argument("--json", action="store_true")
    verbs = p.add_subparsers(dest="remote_verb", metavar="VERB")
    add = verbs.add_parser("add", help="add a remote: a path or ssh://host/path, host:path")
    add.add_argument("name")
    add.add_argument("url")
    add.add_argument("--cvault", metavar="CMD",
                     help="the cvault command on an SSH host (default: cvault on its PATH)")
    rm = verbs.add_parser("remove", aliases=["rm"], help="forget a remote")
    rm.add_argument("name")
    verbs.add_parser("list", help="list remotes (the default)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.sync.remotes import add_remote, list_remotes, remove_remote

    with open_vault() as vault:
        verb = args.remote_verb or "list"
        if verb == "add":
            remote = add_remote(vault.git, args.name, args.url, cvault=args.cvault)
            if getattr(args, "json", False):
                print_json(out, remote.to_json())
            return 0
        if verb in ("remove", "rm"):
            remove_remote(vault.git, args.name)
            return 0
        remotes = list_remotes(vault.git)
    if args.json:
        print_json(out, [r.to_json() for r in remotes])
        return 0
    for remote in remotes:
        out.write(f"{remote.name}\t{remote.url}\n" if args.verbose else f"{remote.name}\n")
    return 0
