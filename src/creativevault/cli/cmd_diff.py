"""``cvault diff [--cached] [REV [REV]] [-- PATH…] [--out DIR] [--json] [--full-res]``
and ``cvault diff --no-index A B``: what changed, per file, with pictures on request."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from creativevault.cli.output import absolute, open_vault, print_json

if TYPE_CHECKING:
    from creativevault.features.diff.report import DiffOptions, FileDiff

__all__ = ["PATHS_AFTER_DASHDASH", "render", "register", "run"]

#: main() passes everything after ``--`` as PATHs (``cvault diff HEAD -- art/``)
PATHS_AFTER_DASHDASH = True


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diff", help="show what changed in images, layered files, models and metadata",
        description="Compare the working tree with the index (no REV), the index with "
                    "HEAD or REV (--cached), the working tree with REV, or two revisions; "
                    "with --no-index, two plain files anywhere.")
    p.add_argument("args", nargs="*", metavar="REV",
                   help="zero, one or two revisions (A..B works too); with --no-index "
                        "the two files A B")
    p.add_argument("--cached", "--staged", dest="cached", action="store_true",
                   help="compare the index with HEAD (or REV)")
    p.add_argument("--no-index", dest="no_index", action="store_true",
                   help="compare two plain files A B (no vault needed)")
    p.add_argument("--name", metavar="NAME",
                   help="with --no-index: the file name that says which format to expect "
                        "(default: B's name)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write pictures (side by side, heat maps, renders) under DIR")
    p.add_argument("--full-res", dest="full_res", action="store_true",
                   help="pictures at full resolution instead of a 2048-pixel preview")
    p.add_argument("--json", action="store_true", help="every figure, as JSON")
    p.set_defaults(paths=[])


def render(diff: FileDiff, out: TextIO, *, header: bool = True) -> None:
    """The human form of one file's diff: a header, the summary lines, the pictures."""
    if header:
        out.write(f"diff {diff.path} ({diff.kind})\n")
    for line in diff.lines():
        out.write(f"  {line}\n")
    for picture in _pictures(diff):
        out.write(f"  picture {picture.role}: {picture.path}\n")


def _pictures(diff: FileDiff) -> list:
    """Every picture of the diff and its parts, each once (a part may share its parent's)."""
    found = {p.path: p for p in diff.pictures}
    for part in diff.parts:
        for picture in _pictures(part):
            found.setdefault(picture.path, picture)
    return list(found.values())


def _no_index(a: Path, b: Path, name: str | None, options: DiffOptions) -> list[FileDiff]:
    """Two plain files (``/dev/null`` for an absent side), or two folders."""
    from creativevault.errors import InputFileError
    from creativevault.features.diff.engine import diff_files, diff_folders

    if a.is_dir() and b.is_dir():
        return diff_folders(a, b, options)
    null = Path("/dev/null")
    for side in (a, b):
        if side != null and not side.is_file():
            raise InputFileError("not a file (or both sides folders)", path=side)
    shown = b if b != null else a
    diff = diff_files(None if a == null else a, None if b == null else b,
                      name or shown.name, options)
    diff.path = str(shown)
    return [diff]


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.errors import UsageError
    from creativevault.features.diff.engine import diff_vault, split_revs_and_paths
    from creativevault.features.diff.report import DiffOptions

    options = DiffOptions(out_dir=args.out.absolute() if args.out else None,
                          full_resolution=args.full_res)
    if args.no_index:
        if len(args.args) != 2 or args.paths or args.cached:
            raise UsageError("--no-index takes exactly two files: cvault diff --no-index A B")
        diffs = _no_index(Path(args.args[0]), Path(args.args[1]), args.name, options)
    else:
        with open_vault() as vault:
            revs, paths = split_revs_and_paths(vault, args.args)
            rev_a = revs[0] if revs else None
            rev_b = revs[1] if len(revs) > 1 else None
            diffs = diff_vault(vault, rev_a, rev_b, absolute([*paths, *args.paths]) or None,
                               cached=args.cached, options=options)
    if args.json:
        print_json(out, [d.to_json() for d in diffs])
        return 0
    for diff in diffs:
        render(diff, out)
    return 0
