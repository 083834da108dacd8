"""``cvault textconv FILE``: git's textconv for vault files (a readable summary)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("textconv", help="print a summary of a vault file (git diff driver)")
    p.add_argument("file", type=Path)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.errors import NotAVaultError
    from creativevault.features.diff.summary import summarize_file
    from creativevault.repo.vault import Vault

    try:
        vault = Vault.open(".")
    except NotAVaultError:
        vault = None  # still summarise what git handed us
    try:
        summary = summarize_file(vault, args.file, describe=True)
    except OSError as exc:
        from creativevault.errors import InputFileError

        raise InputFileError(f"cannot read ({exc.strerror})", path=args.file) from exc
    finally:
        if vault is not None:
            vault.close()
    for line in summary.lines():
        out.write(line + "\n")
    return 0
