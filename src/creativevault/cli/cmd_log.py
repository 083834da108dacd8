"""``cvault log [REV] [-n N] [--oneline] [--json] [-- PATH…]``."""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from creativevault.cli.output import absolute, open_vault, print_json

__all__ = ["PATHS_AFTER_DASHDASH", "format_date", "register", "run"]

#: main() passes everything after ``--`` as PATHs (``cvault log -- big.psd``)
PATHS_AFTER_DASHDASH = True


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("log", help="show commit history")
    p.add_argument("rev", nargs="?", default="HEAD")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("-n", "--max-count", type=int)
    p.add_argument("--oneline", action="store_true")
    p.add_argument("--json", action="store_true")


def format_date(ts: int, tz: int) -> str:
    sign = "+" if tz >= 0 else "-"
    tz_abs = abs(tz)
    local = time.gmtime(ts + tz)
    return time.strftime("%a %b %d %H:%M:%S %Y", local) + \
        f" {sign}{tz_abs // 3600:02d}{(tz_abs % 3600) // 60:02d}"


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        # like git, a negative -n means no limit
        limit = args.max_count if args.max_count is None or args.max_count >= 0 else None
        commits = vault.log(args.rev, max_count=limit, paths=absolute(args.paths) or None)
    if args.json:
        print_json(out, [c.to_json() for c in commits])
        return 0
    for i, c in enumerate(commits):
        if args.oneline:
            out.write(f"{c.id[:7]} {c.subject}\n")
            continue
        if i:
            out.write("\n")
        out.write(f"commit {c.id}\n")
        if len(c.parents) > 1:
            out.write("Merge: " + " ".join(p[:7] for p in c.parents) + "\n")
        out.write(f"Author: {c.author}\nDate:   {format_date(c.time, c.tz)}\n\n")
        for line in c.message.rstrip("\n").splitlines():
            out.write(f"    {line}\n")
    return 0
