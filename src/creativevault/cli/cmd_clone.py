"""``cvault clone SRC DST [--name NAME] [--no-content]``: a new vault on the field branch."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import BarProgress, print_json
from creativevault.cli.sync_common import peer_options, print_transfer

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clone", help="copy a vault (drive path or SSH) and check out "
                                     "field/NAME from its main")
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DST")
    p.add_argument("--name", help="the field branch is field/NAME (default: DST's folder name)")
    p.add_argument("--no-content", dest="content", action="store_false",
                   help="history only: files stay pointers until 'cvault get'")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from creativevault.features.sync.workflows import clone

    report = clone(args.source, Path(args.dest), name=args.name, content=args.content,
                   options=peer_options(), progress=BarProgress())
    if args.json:
        print_json(out, report.to_json())
        return 0
    out.write(f"Cloned {args.source} into {report.path}\n")
    print_transfer(out, report.fetch)
    if report.start:
        out.write(f"On branch {report.branch} (from origin/{report.start})\n")
    else:
        out.write(f"On branch {report.branch} (the source has no commits yet)\n")
    if report.missing:
        sys.stderr.write(f"cvault: {len(report.missing)} files are pointers without their "
                         "content here; 'cvault get PATH' fetches them\n")
    return 0
