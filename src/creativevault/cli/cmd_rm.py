"""``cvault rm [--cached] [-f] PATH…``."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import absolute, open_vault

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rm", help="remove files from the vault and the working tree")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--cached", action="store_true", help="keep the working files")
    p.add_argument("-f", "--force", action="store_true",
                   help="remove files with uncommitted changes (kept as a rescue entry)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        removed = vault.rm(absolute(args.paths), cached=args.cached, force=args.force)
    for path in removed:
        out.write(f"rm '{path}'\n")
    return 0
