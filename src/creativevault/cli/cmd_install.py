"""``cvault install [--global]``: make plain git use cvault's filter, diff driver, hooks."""

from __future__ import annotations

import argparse
from typing import TextIO

from creativevault.cli.output import print_json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install", help="register cvault's git filter, diff driver and hooks")
    p.add_argument("--global", dest="global_scope", action="store_true",
                   help="write ~/.gitconfig instead of this repository's .git/config")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.errors import NotAVaultError
    from creativevault.repo.gitrepo import GitRepo
    from creativevault.repo.install import git_settings, install

    git = None
    try:
        git = GitRepo.discover(__import__("pathlib").Path.cwd())
    except NotAVaultError:
        if not args.global_scope:
            raise
    try:
        path = install(git, global_scope=args.global_scope)
    finally:
        if git is not None:
            git.close()
    settings = {f"{s}.{sub}.{k}": v for (s, sub, k), v in git_settings().items()}
    if args.json:
        print_json(out, {"config": str(path), "settings": settings})
    else:
        out.write(f"cvault installed in {path}\n")
        for key, value in settings.items():
            out.write(f"  {key} = {value}\n")
    return 0
