"""``cvault timeline [PATH] [--branch B | --all] [--since DATE] [--json] [--sheet OUT.png]``:
every version of a file along the commit graph, or what each commit changed."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TextIO

from creativevault.cli.output import BarProgress, human_size, open_vault, print_json
from creativevault.errors import UsageError

__all__ = ["parse_since", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timeline", help="show every version of a file (or what each commit changed)",
        description="List the versions of PATH oldest first, following renames, with "
                    "size, dimensions or mesh counts and the change against the previous "
                    "version; without PATH, the files each commit changed.")
    p.add_argument("path", nargs="?", metavar="PATH")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--branch", "-b", metavar="B", help="walk from branch B (default: HEAD)")
    which.add_argument("--all", action="store_true",
                       help="walk every branch (field and studio); versions interleave by time")
    p.add_argument("--since", metavar="DATE",
                   help="only versions from DATE on (2026-05-01, or ISO date and time)")
    p.add_argument("--json", action="store_true", help="print JSON (schema in docs/timeline.md)")
    p.add_argument("--sheet", type=Path, metavar="OUT.png",
                   help="also write a contact sheet of the thumbnails")
    p.add_argument("--page", type=int, metavar="N",
                   help="with --sheet: show page N of the versions instead of a sample")
    p.add_argument("--columns", type=int, default=6, help="contact sheet columns (6)")
    p.add_argument("--max-tiles", dest="max_tiles", type=int, default=48,
                   help="thumbnails per sheet before sampling or paging (48)")
    p.add_argument("--no-thumbnails", dest="thumbnails", action="store_false",
                   help="do not render missing thumbnails (faster; no --sheet)")


def parse_since(text: str) -> int:
    """A POSIX time from ``YYYY-MM-DD`` or an ISO date and time (local time if no zone)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"cannot read --since date '{text}' (use YYYY-MM-DD)") from None
    return int(when.timestamp())


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.features.timeline import (
        SheetLayout,
        TimelineOptions,
        contact_sheet,
        file_timeline,
        open_catalog,
        project_timeline,
    )

    since = parse_since(args.since) if args.since else None
    options = TimelineOptions(branch=args.branch, all=args.all, since=since,
                              thumbnails=args.thumbnails or bool(args.sheet))
    with open_vault() as vault:
        if args.path is None:
            if args.sheet:
                raise UsageError("--sheet needs a PATH (a contact sheet shows one file)")
            project = project_timeline(vault, options)
            if args.json:
                print_json(out, project.to_json())
                return 0
            for c in project.commits:
                date = dt.datetime.fromtimestamp(c.time, dt.timezone(
                    dt.timedelta(seconds=c.tz))).strftime("%Y-%m-%d %H:%M")
                out.write(f"{c.commit[:7]} {date} [{c.branch}] {c.subject}\n")
                for ch in c.changes:
                    mark = {"added": "A", "modified": "M", "deleted": "D",
                            "renamed": "R"}[ch["kind"]]
                    name = f"{ch['old_path']} -> {ch['path']}" if ch["old_path"] else ch["path"]
                    out.write(f"    {mark} {name}\n")
            return 0
        path = str(Path(args.path).absolute())
        timeline = file_timeline(vault, path, options, progress=BarProgress())
        if args.sheet:
            with open_catalog(vault) as catalog:
                contact_sheet(timeline, args.sheet, catalog,
                              layout=SheetLayout(args.columns, max_tiles=args.max_tiles),
                              page=args.page)
    if args.json:
        print_json(out, timeline.to_json())
        return 0
    if not timeline.entries:
        out.write(f"no versions of {timeline.path}\n")
    for e in timeline.entries:
        date = e.date[:16].replace("T", " ")
        facts = ""
        if e.facts is not None:
            if e.facts.width:
                facts = f"{e.facts.width}x{e.facts.height}"
            elif e.facts.vertices is not None:
                facts = f"{e.facts.vertices}v/{e.facts.faces}f"
            if e.facts.layers is not None:
                facts += f" {e.facts.layers} layers"
        if not e.present and e.content_id:
            facts = "(content not in this vault)"
        change = e.change.describe() if e.change else ""
        size = human_size(e.size) if e.size is not None else "-"
        moved = f" (from {e.old_path})" if e.old_path else ""
        out.write(f"{e.commit[:7]} {date} [{e.branch}] {e.kind:<8} {size:>9} "
                  f"{facts:<12} {change:<18} {e.subject}{moved}\n")
    if args.sheet:
        out.write(f"contact sheet: {args.sheet}\n")
    return 0
