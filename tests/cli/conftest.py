"""Fixtures for the CLI tests: an in-process runner and a small committed vault.

``cli(cwd, *args)`` calls :func:`creativevault.cli.main.main` in this process (fast, and
monkeypatching reaches the library) and returns a :class:`CliResult`; stdout is the
``out`` stream plus anything argparse printed, stderr comes from ``capsys``.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from creativevault.cli.main import main

#: A line git prints for a commit: ``[main (root-commit) abc1234] subject``.
COMMIT_LINE = r"^\[(?P<branch>[^\] ]+)(?P<root> \(root-commit\))? (?P<id>[0-9a-f]{7})\] (?P<subject>.*)$"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes (a stand-in for a layered image)."""
    return random.Random(seed).randbytes(size)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    def run(cwd: Path, *args: str) -> CliResult:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        buf = io.StringIO()
        code = main(list(args), out=buf)
        captured = capsys.readouterr()
        return CliResult(code, buf.getvalue() + captured.out, captured.err)

    return run


@pytest.fixture
def ok(cli):
    """Like ``cli`` but asserts exit 0 and an empty stderr; returns stdout."""

    def run(cwd: Path, *args: str) -> str:
        res = cli(cwd, *args)
        assert res.code == 0, (args, res)
        assert res.err == "", (args, res)
        return res.out

    return run


BIG = payload(300_000, seed=1)
BIG_V2 = payload(310_000, seed=2)


@pytest.fixture
def vault(tmp_path: Path, ok) -> Path:
    """A vault with one commit on main: big.psd (vault-managed) and notes.txt (git blob)."""
    root = tmp_path / "proj"
    root.mkdir()
    ok(root, "init")
    (root / "big.psd").write_bytes(BIG)
    (root / "notes.txt").write_text("first notes\n")
    ok(root, "add", ".")
    ok(root, "commit", "-m", "first")
    return root
