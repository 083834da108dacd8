"""Shared by the remote verbs: how to reach peers (from the environment) and report lines."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from creativevault.cli.output import human_size

if TYPE_CHECKING:
    from creativevault.features.sync.engine import TransferReport
    from creativevault.features.sync.peers import PeerOptions
    from creativevault.repo.vault import Vault

__all__ = ["peer_options", "print_transfer"]


def peer_options(vault: Vault | None = None) -> PeerOptions:
    """The ssh command (``CVAULT_SSH_COMMAND``, ``GIT_SSH_COMMAND``, then git config
    ``cvault.sshCommand`` / ``core.sshCommand``, else ``ssh``) and the cvault to run on
    the far side (``CVAULT_REMOTE_CVAULT``, then ``cvault.remoteCvault``, else ``cvault``;
    ``remote.<name>.cvault`` wins for that remote)."""
    from creativevault.features.sync.peers import PeerOptions

    def config(section: str, name: str) -> str | None:
        return vault.git.config_get(section, name) if vault is not None else None

    ssh = (os.environ.get("CVAULT_SSH_COMMAND") or os.environ.get("GIT_SSH_COMMAND")
           or config("cvault", "sshCommand") or config("core", "sshCommand") or "ssh")
    remote_cvault = (os.environ.get("CVAULT_REMOTE_CVAULT") or config("cvault", "remoteCvault")
                     or "cvault")
    return PeerOptions(ssh_command=ssh, remote_cvault=remote_cvault)


def print_transfer(out: TextIO, report: TransferReport) -> None:
    """Git-like lines for a push or fetch."""
    verb = {"push": "sent", "fetch": "received", "get": "received"}.get(report.direction,
                                                                       "moved")
    if report.direction == "push":
        out.write(f"To {report.remote}\n")
    elif report.refs:
        out.write(f"From {report.remote}\n")
    for change in report.refs:
        old = change.old[:10] if change.old else "(new)"
        name = change.ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
        out.write(f"   {old}..{change.new[:10]}  {name}\n")
    prefix = "would be " if report.dry_run else ""
    if report.files or report.skipped_files:
        out.write(f"{report.files} files, {human_size(report.bytes)} {prefix}{verb} "
                  f"({report.chunks} chunks)")
        if report.skipped_files:
            out.write(f"; {report.skipped_files} files already there")
        out.write("\n")
    if report.up_to_date:
        out.write("Everything up-to-date\n")
    if report.unavailable:
        sys.stderr.write(f"cvault: warning: content of {len(report.unavailable)} files is "
                         f"in neither vault (first: {report.unavailable[0]}); "
                         "'cvault get' fetches it from a vault that has it\n")
