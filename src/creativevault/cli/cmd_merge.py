"""``cvault merge REV``: bring another branch's work in, keeping every version."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.cmd_checkout import print_rescue
from creativevault.cli.output import BarProgress, open_vault, print_json

__all__ = ["print_report", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="merge a branch into the current one (both versions "
                                     "of a file changed on both sides are kept)")
    p.add_argument("rev", metavar="REV|BRANCH")
    p.add_argument("-m", "--message", help="subject of the merge commit (the files kept "
                                           "both ways are always listed below it)")
    p.add_argument("--allow-unrelated-histories", action="store_true",
                   help="merge a branch that shares no commit with HEAD")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        report = vault.merge(args.rev, message=args.message,
                             allow_unrelated=args.allow_unrelated_histories,
                             progress=BarProgress())
        subject = vault.git.commit(report.commit).message.splitlines()[0] \
            if report.commit else ""
    if args.json:
        print_json(out, report.to_json())
        return 0
    print_report(out, report, subject)
    return 0


def print_report(out: TextIO, report, subject: str = "") -> None:
    """Git-like lines for a merge report (also printed by ``pull`` and ``sync``)."""
    print_rescue(report)
    if report.kind == "up-to-date":
        out.write("Already up to date.\n")
        return
    old = report.old_head[:7] if report.old_head else "(none)"
    assert report.head is not None
    out.write(f"Updating {old}..{report.head[:7]}\n")
    if report.kind == "fast-forward":
        out.write("Fast-forward\n")
    else:
        subject = subject or f"Merge {report.rev} into {report.branch}"
        out.write(f"Merge made by cvault: [{report.branch} {report.head[:7]}] {subject}\n")
        for c in report.conflicts:
            out.write(c.describe() + "\n")
        for k in report.kept:
            out.write(k.describe(ours=report.branch, theirs=report.rev) + "\n")
        for path in report.text_merged:
            out.write(f"merged text: {path}\n")
    out.write(f" {len(report.written)} file(s) written, {len(report.deleted)} removed")
    out.write(f", {len(report.missing)} without content\n" if report.missing else "\n")
