"""``cvault serve PATH``: the far end of a push or pull over SSH (stdin/stdout).

Run by ``ssh HOST cvault serve PATH`` (as git runs git-upload-pack); not for people.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="answer a remote cvault on stdin/stdout (used over SSH)")
    p.add_argument("path")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from creativevault.features.sync.server import serve
    from creativevault.features.sync.wire import Channel
    from creativevault.repo.vault import Vault

    path = Path(args.path).expanduser()
    channel = Channel(sys.stdin.buffer, sys.stdout.buffer, name="client")

    def open_vault() -> Vault:
        from creativevault.errors import RemoteError

        vault = Vault.open(path)
        if vault.root.resolve() != path.resolve():
            vault.close()
            raise RemoteError("not the top of a vault", path=path)
        return vault

    return serve(open_vault, channel)
