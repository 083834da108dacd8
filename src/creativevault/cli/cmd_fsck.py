"""``cvault fsck [--json]``: verify every chunk, manifest and committed pointer."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, open_vault, print_json

__all__ = ["register", "run"]

EXIT_DAMAGED = 5
EXIT_MISSING = 6


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fsck", help="verify the vault's data")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        result = vault.fsck(progress=BarProgress())
    if args.json:
        print_json(out, result.to_json())
    else:
        for problem in result.problems:
            sys.stderr.write(f"damaged: {problem}\n")
        for note in result.notes:
            sys.stderr.write(f"note: {note}\n")
        for missing in result.missing_content:
            sys.stderr.write(f"missing content: {missing}\n")
        state = "ok" if result.ok else "DAMAGED" if result.problems else (
            f"intact, but {len(result.missing_content)} committed files' content is not "
            "in this vault ('cvault get PATH' fetches it from a remote)")
        out.write(f"checked {result.checked_chunks} chunks, {result.checked_files} files: "
                  f"{state}\n")
    if result.ok:
        return 0
    return EXIT_DAMAGED if result.problems else EXIT_MISSING
