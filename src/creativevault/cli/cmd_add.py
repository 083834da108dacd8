"""``cvault add PATH…``: stage files; large ones go to the store as pointers."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, absolute, human_size, open_vault, print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add", help="stage files")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        report = vault.add(absolute(args.paths), progress=BarProgress())
    for warning in report.warnings:
        sys.stderr.write(f"cvault: warning: {warning}\n")
    if args.json:
        print_json(out, report.to_json())
    elif report.paths or report.removed:
        out.write(f"staged {len(report.paths)} file(s), {human_size(report.logical_bytes)}"
                  f" ({human_size(report.added_bytes)} new in the store)"
                  + (f", {len(report.removed)} removal(s)" if report.removed else "") + "\n")
    return 0
