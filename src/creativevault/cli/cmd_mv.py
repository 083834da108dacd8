"""``cvault mv SRC DST``."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import absolute, open_vault

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mv", help="move or rename a tracked file or folder")
    p.add_argument("source")
    p.add_argument("dest")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        moves = vault.mv(*absolute([args.source, args.dest]))
    for old, new in moves:
        out.write(f"renamed '{old}' -> '{new}'\n")
    return 0
