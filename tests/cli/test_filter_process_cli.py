"""The filter-process command as git starts it: a subprocess speaking pkt-line on stdio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def pkt(text: str) -> bytes:
    data = (text + "\n").encode()
    return b"%04x" % (len(data) + 4) + data


HANDSHAKE = (pkt("git-filter-client") + pkt("version=2") + b"0000"
             + pkt("capability=clean") + pkt("capability=smudge") + b"0000")


def run_filter(root: Path, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "creativevault", "filter-process"], cwd=root,
                          input=stdin, capture_output=True, timeout=60)


def test_git_going_away_mid_request_is_one_line(vault: Path) -> None:
    # a clean request whose content never ends: git was killed
    req = pkt("command=clean") + pkt("pathname=a.psd") + b"0000" + b"0010partial-cont"
    res = run_filter(vault, HANDSHAKE + req)
    assert res.returncode == 1
    assert res.stderr.decode().strip().splitlines() == [
        "cvault: filter-process: git closed the pipe mid-request"]
    assert b"git-filter-server" in res.stdout


def test_git_closing_between_requests_is_a_clean_exit(vault: Path) -> None:
    res = run_filter(vault, HANDSHAKE)
    assert res.returncode == 0 and res.stderr == b""
