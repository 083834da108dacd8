"""``cvault hook NAME``: entry point of the git hooks cvault installs."""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from typing import TextIO

from creativevault.cli.output import open_vault

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hook", help="run a git hook's cvault part (called by git)")
    p.add_argument("name", choices=["pre-commit", "post-checkout", "post-merge"])
    p.add_argument("hook_args", nargs="*")


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.name in ("post-checkout", "post-merge"):
        # never fail git's checkout or merge: materialise what we can and report the rest
        with open_vault() as vault:
            written = vault.materialize_pointers()
            root = vault.root
        if written:
            # git's index still has the pointer files' size, so git would call them
            # modified without looking; re-adding them (the clean filter hands back the
            # staged pointer unchanged) gives git their new stat data
            with contextlib.suppress(OSError):
                subprocess.run(["git", "update-index", "-q", "-z", "--stdin"], cwd=root,
                               input="".join(f"{p}\0" for p in written).encode(
                                   "utf-8", "surrogateescape"),
                               capture_output=True, check=False)
            sys.stderr.write(f"cvault: restored the content of {len(written)} file(s) "
                             "that git had left as pointers\n")
        return 0
    with open_vault() as vault:
        bad = vault.check_staged()
        if bad:
            # a raw blob HEAD already holds (committed before cvault was installed) is not
            # put into git by this commit: refusing it would block every commit
            head = vault.git.commit_tree_flat(vault.git.head_commit())
            index = vault.git.read_index()
            bad = [path for path in bad
                   if path not in head or head[path].blob_id != index[path].sha.decode()]
    for path in bad:
        sys.stderr.write(f"cvault: {path}: vault-managed file staged as a plain git blob; "
                         f"unstage it (git reset -- {path}) and add it again "
                         f"(cvault add {path}, or git add {path} with cvault installed)\n")
    return 1 if bad else 0
