"""``cvault branch [NAME [START]]``, ``-d``/``-D NAME``."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("branch", help="list, create or delete branches")
    p.add_argument("name", nargs="?")
    p.add_argument("start", nargs="?", default="HEAD")
    p.add_argument("-d", "--delete", action="store_true")
    p.add_argument("-D", dest="force_delete", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        delete = args.delete or args.force_delete
        branches = vault.branch(args.name, start=args.start, delete=delete,
                                force=args.force_delete)
        current = vault.git.head_branch()
    if args.json:
        print_json(out, {"current": current, "branches": branches})
        return 0
    if args.name is None:
        for name in sorted(branches):
            mark = "*" if name == current else " "
            out.write(f"{mark} {name}\n")
    elif delete:
        out.write(f"Deleted branch {args.name}\n")
    return 0
