"""``cvault filter-process``: git's long-running clean/smudge filter (started by git)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("filter-process", help="git's clean/smudge filter (git starts it)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.repo.filterproc import FilterProcess
    from creativevault.repo.vault import Vault

    def warn(message: str) -> None:
        sys.stderr.write(f"cvault: warning: {message}\n")
        sys.stderr.flush()

    with Vault.attach(".") as vault:
        try:
            FilterProcess(vault, sys.stdin.buffer, sys.stdout.buffer, warn).run()
        except (EOFError, BrokenPipeError):
            # git went away in the middle of a request (killed, interrupted): nothing
            # half-done is referenced; the store keeps only what it finished
            sys.stderr.write("cvault: filter-process: git closed the pipe mid-request\n")
            return 1
    return 0
