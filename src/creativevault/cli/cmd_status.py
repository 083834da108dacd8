"""``cvault status [-s] [--json]``: staged, unstaged and untracked files."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import open_vault, print_json

__all__ = ["register", "run"]

_CODE = {"added": "A", "modified": "M", "deleted": "D"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show the working tree status")
    p.add_argument("-s", "--short", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        st = vault.status()
    if args.json:
        print_json(out, st.to_json())
        return 0
    if args.short:
        codes: dict[str, list[str]] = {}
        for c in st.staged:
            codes.setdefault(c.path, [" ", " "])[0] = _CODE[c.kind]
        for c in st.unstaged:
            codes.setdefault(c.path, [" ", " "])[1] = _CODE[c.kind]
        for path in sorted(codes):
            out.write(f"{''.join(codes[path])} {path}\n")
        for path in st.untracked:
            out.write(f"?? {path}\n")
        return 0
    where = f"On branch {st.branch}" if st.branch else f"HEAD detached at {(st.head or '')[:7]}"
    out.write(where + "\n")
    if st.head is None:
        out.write("\nNo commits yet\n")
    if st.staged:
        out.write("\nChanges to be committed:\n")
        for c in st.staged:
            out.write(f"\t{c.kind + ':':<12}{c.path}\n")
    if st.unstaged:
        out.write("\nChanges not staged for commit:\n  (use \"cvault add\" to stage, "
                  "\"cvault restore PATH\" to discard; discarded bytes are kept as rescue)\n")
        for c in st.unstaged:
            out.write(f"\t{c.kind + ':':<12}{c.path}\n")
    if st.untracked:
        out.write("\nUntracked files:\n")
        for path in st.untracked:
            out.write(f"\t{path}\n")
    for group in st.collisions:
        out.write("\nwarning: these paths differ only by case or Unicode form and cannot both "
                  "exist on macOS/Windows: " + ", ".join(group) + "\n")
    if st.temp_files:
        out.write(f"\nnote: {len(st.temp_files)} temp file(s) of an interrupted (or running) "
                  f"restore or checkout, e.g. {st.temp_files[0]}; the next restore in that "
                  "folder or 'cvault fsck' removes them\n")
    if st.clean:
        out.write("nothing to commit, working tree clean\n")
    return 0
