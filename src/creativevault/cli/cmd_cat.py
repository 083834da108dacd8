"""``cvault cat REV:PATH [-o FILE]``: stream one version's exact bytes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from creativevault.cli.output import open_vault

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cat", help="write the bytes of REV:PATH to stdout or a file")
    p.add_argument("spec", metavar="REV:PATH")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        if args.output is not None:
            tmp = args.output.with_name(args.output.name + ".cvault-partial")
            try:
                with tmp.open("wb") as f:
                    vault.cat(args.spec, f)
                tmp.replace(args.output)
            except OSError as exc:
                if exc.filename not in (None, str(tmp)):
                    raise
                # name the file the user asked for, not the temp file next to it
                raise OSError(exc.errno, exc.strerror or str(exc), str(args.output)) from exc
            finally:
                tmp.unlink(missing_ok=True)
        else:
            stream = getattr(out, "buffer", None) or sys.stdout.buffer
            vault.cat(args.spec, stream)
            stream.flush()
    return 0
