"""``cvault init [PATH]``: make a folder (or an existing git repository) a vault."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from creativevault.cli.output import print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create a vault, or adopt an existing git repository")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("-b", "--initial-branch", default="main")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.repo.vault import Vault

    target = Path(args.path)
    existed = (target / ".git").is_dir()
    with Vault.init(target, branch=args.initial_branch) as vault:
        if args.json:
            print_json(out, {"root": str(vault.root), "store": str(vault.cvault_dir),
                             "adopted_existing_git": existed})
        else:
            what = "existing git repository (history kept)" if existed else "new vault"
            out.write(f"Initialized CreativeVault in {vault.cvault_dir} ({what})\n")
    return 0
