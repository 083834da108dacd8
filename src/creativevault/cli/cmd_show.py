"""``cvault show [REV] [--json]``: one commit and the files it changed."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.cmd_log import format_date
from creativevault.cli.output import human_size, open_vault, print_json

__all__ = ["register", "run"]

_CODE = {"added": "A", "modified": "M", "deleted": "D"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="show a commit")
    p.add_argument("rev", nargs="?", default="HEAD")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        info, changes = vault.show(args.rev)
    if args.json:
        data = info.to_json()
        data["changes"] = [c.to_json() for c in changes]
        print_json(out, data)
        return 0
    out.write(f"commit {info.id}\nAuthor: {info.author}\nDate:   "
              f"{format_date(info.time, info.tz)}\n\n")
    for line in info.message.rstrip("\n").splitlines():
        out.write(f"    {line}\n")
    out.write("\n")
    for c in changes:
        sizes = f"{human_size(c.old_size)} -> {human_size(c.new_size)}"
        kind = "vault" if c.managed else "git"
        out.write(f"{_CODE[c.kind]}\t{c.path}\t({kind}, {sizes})\n")
    return 0
