"""``cvault commit -m MSG [-a]``: record the staged state."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("commit", help="record staged changes")
    p.add_argument("-m", "--message", action="append", required=True)
    p.add_argument("-a", "--all", action="store_true",
                   help="stage modified and deleted tracked files first")
    p.add_argument("--author", help="'Name <email>'")
    p.add_argument("--allow-empty", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    message = "\n\n".join(args.message)
    with open_vault() as vault:
        info = vault.commit(message, all=args.all, author=args.author,
                            allow_empty=args.allow_empty, progress=BarProgress())
        _, changes = vault.show(info.id)
        branch = vault.git.head_branch() or "detached HEAD"
    if args.json:
        data = info.to_json()
        data["changes"] = [c.to_json() for c in changes]
        print_json(out, data)
    else:
        root = " (root-commit)" if not info.parents else ""
        out.write(f"[{branch}{root} {info.id[:7]}] {info.subject}\n")
        out.write(f" {len(changes)} file(s) changed\n")
    return 0
