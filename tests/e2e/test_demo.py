"""End to end: the animation-project demo (``make demo``) at a tiny scale."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "examples" / "animation_project.py"
TINY = str(2 * 1024 * 1024)


def load_demo():
    spec = importlib.util.spec_from_file_location("animation_project_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def figure(text: str, label: str) -> float:
    m = re.search(rf"^\s*{label}\s+([\d,.]+)", text, re.MULTILINE)
    assert m, f"no '{label}' line in:\n{text}"
    return float(m.group(1).replace(",", ""))


def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = load_demo()
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--scale", TINY, "--iterations", "3"]) == 0
    text = capsys.readouterr().out
    assert figure(text, r"versions \(commits\)") == 4
    logical, stored = figure(text, "logical size"), figure(text, "stored size")
    assert 0 < stored < logical
    assert "sha256 matches" in text
    # the visual diff of the edited painting: a layered report and its pictures on disk
    assert "since the first version:" in text and "layered:" in text
    pictures = [Path(line.split("picture: ", 1)[1]) for line in text.splitlines()
                if line.strip().startswith("picture: ")]
    assert pictures and all(p.is_file() and p.suffix == ".png" for p in pictures)
    assert (out / demo.MARKER).is_file() and (out / ".git" / "cvault").is_dir()
    # the restore check put the latest version back: the working tree is clean
    import creativevault as cv

    with cv.Vault.open(out) as vault:
        assert vault.status().clean
        assert len(vault.log()) == 4


def test_demo_subprocess_rebuilds_its_own_folder_only(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [sys.executable, str(DEMO), "--out", str(out), "--scale", TINY, "--iterations", "2",
           "--json"]
    for _ in range(2):  # the second run replaces the first demo (it carries the marker)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout[proc.stdout.index("\n{") + 1 :])
    assert report["commits"] == 3
    assert report["restored_ok"] and report["restored_sha256"] == report["expected_sha256"]
    assert 0 < report["stored_bytes"] < report["logical_bytes"]
    assert report["unique_bytes"] <= report["logical_bytes"]

    other = tmp_path / "not-a-demo"
    other.mkdir()
    (other / "precious.psd").write_bytes(b"8BPS")
    proc = subprocess.run([*cmd[:2], "--out", str(other), "--scale", TINY], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert "not a previous demo" in proc.stderr
    assert (other / "precious.psd").read_bytes() == b"8BPS"
