"""``cvault hook NAME``: entry point of the git hooks cvault installs."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from creativevault.cli.output import open_vault
from creativevault.errors import NotAVaultError

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hook", help="run a git hook's cvault part (called by git)")
    p.add_argument("name", choices=["pre-commit", "post-checkout", "post-merge"])
    p.add_argument("hook_args", nargs="*")


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        vault = open_vault()
    except NotAVaultError:
        # hooks installed in a core.hooksPath folder that other repositories share run
        # in those too: there is nothing of cvault's to do, and git must go on
        return 0
    if args.name in ("post-checkout", "post-merge"):
        # never fail git's checkout or merge: materialise what we can and report the rest
        with vault:
            written = vault.materialize_pointers()
        if written:
            sys.stderr.write(f"cvault: restored the content of {len(written)} file(s) "
                             "that git had left as pointers\n")
        return 0
    with vault:
        bad = vault.check_staged()
    for path in bad:
        sys.stderr.write(f"cvault: {path}: vault-managed file staged as a plain git blob; "
                         f"unstage it (git reset -- {path}) and add it again "
                         f"(cvault add {path}, or git add {path} with cvault installed)\n")
    return 1 if bad else 0
