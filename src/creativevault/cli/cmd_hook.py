"""``cvault hook NAME``: entry point of the git hooks cvault installs."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import open_vault

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hook", help="run a git hook's cvault part (called by git)")
    p.add_argument("name", choices=["pre-commit"])
    p.add_argument("hook_args", nargs="*")


def run(args: argparse.Namespace, out: TextIO) -> int:
    with open_vault() as vault:
        bad = vault.check_staged()
    for path in bad:
        sys.stderr.write(f"cvault: {path}: vault-managed file staged as a plain git blob; "
                         f"unstage it (git rm --cached) and run 'cvault add {path}'\n")
    return 1 if bad else 0
