"""``cvault timeline``: text, --json, --sheet, --all, --branch, --since, project view."""

from __future__ import annotations

import json

import pytest

from creativevault.cli.cmd_timeline import parse_since
from creativevault.errors import UsageError
from tests.conftest import run_cli
from tests.unit.timeline.kit import build_story, fake_clock


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A project whose history build_story made (the CLI conftest's ``vault`` is a path)."""
    import creativevault as cv

    root = tmp_path / "story"
    root.mkdir()
    monkeypatch.chdir(root)
    fake_clock(monkeypatch)
    with cv.Vault.init(root) as v:
        build_story(v, edits=4)
    return root


def test_text_lists_versions_oldest_first(cli, proj) -> None:
    r = cli(proj, "timeline", "hero.png")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 9
    assert "added" in lines[0] and "paint 0" in lines[0] and "128x96" in lines[0]
    assert "% pixels" in lines[1]
    assert "(from art.png)" in lines[4]
    assert "[field]" in lines[-1] and "content not in this vault" in lines[-1]


def test_json_and_sheet(cli, proj, tmp_path) -> None:
    sheet = tmp_path / "sheet.png"
    r = cli(proj, "timeline", "hero.png", "--json", "--sheet", str(sheet))
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "cvault.timeline/1" and len(doc["entries"]) == 9
    assert sheet.stat().st_size > 1000
    r = cli(proj, "timeline", "hero.png", "--sheet", str(tmp_path / "p.png"), "--page", "1",
            "--max-tiles", "3", "--columns", "3")
    assert r.code == 0 and "contact sheet:" in r.out


def test_all_branch_since(cli, proj) -> None:
    r = cli(proj, "timeline", "hero.png", "--all", "--json")
    assert json.loads(r.out)["branches"] == ["main", "field"]
    r = cli(proj, "timeline", "hero.png", "--branch", "field", "--json")
    assert json.loads(r.out)["branches"] == ["field"]
    r = cli(proj, "timeline", "hero.png", "--since", "2099-01-01")
    assert r.code == 0 and r.out.startswith("no versions of hero.png")
    r = cli(proj, "timeline", "hero.png", "--since", "yesterday")
    assert r.code == 2 and "--since" in r.err
    r = cli(proj, "timeline", "hero.png", "--all", "--branch", "main")
    assert r.code == 2


def test_project_timeline(cli, proj) -> None:
    r = cli(proj, "timeline")
    assert r.code == 0, r.err
    assert "    R art.png -> hero.png" in r.out and "    D hero.png" in r.out
    assert "[field] field edit" in r.out
    r = cli(proj, "timeline", "--json")
    assert json.loads(r.out)["kind"] == "project"
    r = cli(proj, "timeline", "--sheet", "x.png")
    assert r.code == 2


def test_parse_since() -> None:
    assert parse_since("2026-01-01T00:00:00+00:00") == 1767225600
    with pytest.raises(UsageError):
        parse_since("soon")


def test_as_a_subprocess(proj) -> None:
    r = run_cli(proj, "timeline", "hero.png", "--no-thumbnails")
    assert r.returncode == 0 and "paint 3" in r.stdout
