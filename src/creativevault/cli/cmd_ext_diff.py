"""``cvault ext-diff ARGS…``: git's external diff command (``diff.<driver>.command``).

git calls it as ``GIT_EXTERNAL_DIFF`` documents (git(1), "git Diffs"):

- 7 arguments ``path old-file old-hex old-mode new-file new-hex new-mode``;
- 9 on a rename or copy: those, then ``new-path`` and git's extended header text
  (``similarity index 92%\\nrename from a\\nrename to b\\n``);
- 1 argument, ``path``, for an unmerged path;
- ``/dev/null`` as the file (and ``.`` as hex and mode) for the absent side of an added
  or deleted file.

It prints ``diff --cvault a/<path> b/<path>``, git's extended header lines, then the same
summary as ``cvault diff``. Pictures go to the folder named by ``CVAULT_DIFF_PICTURES`` or
git config ``cvault.diffPictures`` (relative to the top of the working tree), if set.
It exits 0 whatever the files hold: git stops the whole diff on a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ext-diff", help="git's external diff for vault files (git runs it)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG",
                   help="the 7, 9 or 1 arguments of git's GIT_EXTERNAL_DIFF convention")


def _side(file: str) -> Path | None:
    return None if file == "/dev/null" else Path(file)


def _header(args: list[str]) -> list[str]:
    path, _old_file, _old_hex, old_mode, _new_file, _new_hex, new_mode = args[:7]
    new_path = args[7] if len(args) >= 9 else path
    lines = [f"diff --cvault a/{path} b/{new_path}"]
    if old_mode == ".":
        lines.append(f"new file mode {new_mode}")
    elif new_mode == ".":
        lines.append(f"deleted file mode {old_mode}")
    elif old_mode != new_mode:
        lines += [f"old mode {old_mode}", f"new mode {new_mode}"]
    if len(args) >= 9:
        lines += [line for line in args[8].splitlines() if line.strip()]
    return lines


def run(args: argparse.Namespace, out: TextIO) -> int:
    from creativevault.errors import UsageError

    argv: list[str] = list(args.args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if len(argv) == 1:
        out.write(f"Unmerged path {argv[0]}\n")
        return 0
    if len(argv) not in (7, 9):
        raise UsageError(f"expected git's 7 or 9 external diff arguments (or 1 for an "
                         f"unmerged path), got {len(argv)}")
    from creativevault.cli.cmd_diff import render
    from creativevault.errors import NotAVaultError, VaultError
    from creativevault.features.diff.engine import diff_git_pair
    from creativevault.features.diff.report import DiffOptions
    from creativevault.repo.vault import Vault

    for line in _header(argv):
        out.write(line + "\n")
    out.flush()
    vault = None
    try:
        vault = Vault.open(".")
    except (NotAVaultError, VaultError):
        vault = None  # still compare what git handed us
    try:
        folder = os.environ.get("CVAULT_DIFF_PICTURES") or (
            vault.git.config_get("cvault", "diffpictures") if vault is not None else None)
        root = vault.root if vault is not None else Path(".")
        options = DiffOptions(out_dir=(root / folder).absolute() if folder else None)
        name = argv[7] if len(argv) == 9 else argv[0]
        diff = diff_git_pair(vault, _side(argv[1]), _side(argv[4]), name, options)
    finally:
        if vault is not None:
            vault.close()
    render(diff, out, header=False)  # the git-style header above names the file
    return 0
