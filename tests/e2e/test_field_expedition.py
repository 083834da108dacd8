"""A field expedition end to end: a studio, two field laptops, weeks of shooting, one drive.

Everything goes through the ``cvault`` command line (in-process), with photo-like files:
JPEG frames made by Pillow, RAW-like 12-bit DNG files and XMP sidecars
(``benchmarks.expedition``). At the end every version of every frame that was ever
committed, anywhere, can be read byte-exact from the studio, by walking ``cvault log``
and ``cvault cat``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from benchmarks.expedition import write_frames

import creativevault as cv
from creativevault.cli.main import main
from tests.vaulttools import assert_git_clean, creative_bytes, git, write

#: frames of about 60 KB (JPEG) + 90 KB (RAW-like)
SCALE = 0.015
FRAME_SUFFIXES = (".JPG", ".DNG", ".xmp")
POINTER_START = b"version https://creativevault.dev/spec/v1\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cvault(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run ``cvault ARGS`` in ``cwd`` in-process; assert the exit code; return stdout."""

    def run(cwd: Path, *args: str, code: int = 0) -> str:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        buf = io.StringIO()
        got = main(list(args), out=buf)
        err = capsys.readouterr().err
        assert got == code, (cwd.name, args, got, buf.getvalue(), err)
        return buf.getvalue()

    return run


class Versions:
    """Every version of every file committed anywhere: path -> SHA-256s."""

    def __init__(self) -> None:
        self.by_path: dict[str, set[str]] = {}

    def add(self, path: str, data: bytes) -> None:
        self.by_path.setdefault(path, set()).add(sha(data))

    def shoot(self, vault: Path, folder: str, first: int, count: int, seed: int) -> list[str]:
        """Frames ``first..first+count-1`` of a camera into ``vault/folder``."""
        made = write_frames(vault / folder, first, count, SCALE, seed=seed, workers=1)
        for rel in made:
            self.add(f"{folder}/{rel}", (vault / folder / rel).read_bytes())
        return sorted(f"{folder}/{rel}" for rel in made)

    def edit(self, vault: Path, path: str, data: bytes) -> None:
        write(vault / path, data)
        self.add(path, data)


def stored(vault: Path) -> int:
    with cv.Vault.open(vault) as v:
        return v.store.stats().pack_bytes


def test_field_expedition(tmp_path: Path, cvault) -> None:
    versions = Versions()
    studio = tmp_path / "studio"
    cvault(tmp_path, "init", "studio")
    write(studio / "brief" / "shot-list.txt", "ridge at dawn\nvalley at noon\n")
    versions.edit(studio, "brief/moodboard.jpg", creative_bytes("mood.jpg", 150_000, seed=1))
    cvault(studio, "add", ".")
    cvault(studio, "commit", "-m", "expedition brief")

    # two laptops leave with the brief; the branch is named after the folder
    for name in ("ridge", "valley"):
        out = cvault(tmp_path, "clone", str(studio), name)
        assert out.endswith(f"On branch field/{name} (from origin/main)\n")
    ridge, valley = tmp_path / "ridge", tmp_path / "valley"

    # day 1: each shoots and syncs (commit, pull main, push field/NAME)
    ridge_day1 = versions.shoot(ridge, "ridge", 0, 4, seed=11)
    valley_day1 = versions.shoot(valley, "valley", 0, 4, seed=22)
    for laptop in (ridge, valley):
        out = cvault(laptop, "sync")
        assert out.startswith("Committed pending changes as ")
        assert f"field/{laptop.name}" in out
    assert {"refs/heads/field/ridge", "refs/heads/field/valley"} <= set(
        git(studio, "for-each-ref", "--format=%(refname)").split())

    # the studio brings both field branches into main
    assert "Fast-forward" in cvault(studio, "merge", "field/ridge")
    out = cvault(studio, "merge", "field/valley")
    assert "Merge made by cvault: [main " in out
    for rel in ridge_day1 + valley_day1:
        assert (studio / rel).is_file() and not (studio / rel).read_bytes().startswith(
            POINTER_START), rel
    assert_git_clean(studio)

    # day 2, the ridge: two re-exports of one JPEG committed between syncs, new frames
    redo = ridge_day1[0] if ridge_day1[0].endswith(".JPG") else ridge_day1[1]
    versions.edit(ridge, redo, creative_bytes("redo.jpg", 90_000, seed=31))
    cvault(ridge, "commit", "-a", "-m", "re-export, first try")
    versions.edit(ridge, redo, creative_bytes("redo.jpg", 90_000, seed=32))
    cvault(ridge, "commit", "-a", "-m", "re-export, better")
    ridge_day2 = versions.shoot(ridge, "ridge", 4, 2, seed=11)
    # meanwhile the studio retouches a ridge frame that the ridge also edits: both kept
    both = next(p for p in ridge_day1 if p.endswith(".JPG") and p != redo)
    studio_cut = creative_bytes("studio.jpg", 95_000, seed=33)
    versions.edit(studio, both, studio_cut)
    cvault(studio, "commit", "-a", "-m", "studio retouch")
    field_cut = creative_bytes("field.jpg", 95_000, seed=34)
    versions.edit(ridge, both, field_cut)
    out = cvault(ridge, "sync", "-m", "day 2 on the ridge")
    stem, ext = both.rsplit(".", 1)
    kept_as = f"{stem} (conflicted copy from origin-main).{ext}"
    assert f'kept both: {both} (theirs as "{kept_as}")' in out
    assert (ridge / both).read_bytes() == field_cut
    assert (ridge / kept_as).read_bytes() == studio_cut
    assert not (ridge / ".git" / "MERGE_HEAD").exists()
    assert_git_clean(ridge)
    assert "Fast-forward" in cvault(studio, "merge", "field/ridge")
    assert (studio / both).read_bytes() == field_cut
    assert (studio / kept_as).read_bytes() == studio_cut
    merge_message = git(studio, "log", "-1", "--format=%B", "HEAD")
    assert f'kept both: {both} (theirs as "{kept_as}")' in merge_message

    # the valley's disk fills up: it drops its own pushed frames (verified on the studio)
    cvault(valley, "pull")
    assert all((valley / p).is_file() for p in ridge_day2)  # ridge's work arrived
    before = stored(valley)
    dropped = json.loads(cvault(valley, "drop", "valley", "--json"))
    media = [p for p in valley_day1 if not p.endswith(".xmp")]  # sidecars are git text
    assert dropped["dropped"] == media
    assert all(holders == ["origin"] for holders in dropped["copies"].values())
    assert dropped["freed_bytes"] > 0 and stored(valley) <= before - dropped["freed_bytes"]
    for rel in media:
        assert (valley / rel).read_bytes().startswith(POINTER_START), rel
    assert_git_clean(valley)
    # an editor needs one RAW back
    raw = next(p for p in valley_day1 if p.endswith(".DNG"))
    assert cvault(valley, "get", raw) == f"get\t{raw}\n"
    assert sha((valley / raw).read_bytes()) in versions.by_path[raw]
    # the last copies are safe: the studio has no remote to count on
    cvault(studio, "drop", raw, code=13)

    # back home: every version of every frame is in the studio, byte-exact
    log = json.loads(cvault(studio, "log", "--json"))
    found: dict[str, set[str]] = {}
    seen: set[tuple[str, str]] = set()
    out_file = tmp_path / "cat.out"
    for entry in log:
        tree = git(studio, "ls-tree", "-r", entry["id"]).splitlines()
        for line in tree:
            meta, path = line.split("\t", 1)
            blob = meta.split()[2]
            if not path.endswith((*FRAME_SUFFIXES, ".jpg")) or (path, blob) in seen:
                continue
            seen.add((path, blob))
            cvault(studio, "cat", f"{entry['id']}:{path}", "-o", str(out_file))
            found.setdefault(path, set()).add(sha(out_file.read_bytes()))
    for path, shas in versions.by_path.items():
        assert shas <= found.get(path, set()), path
    assert len(versions.by_path[redo]) == 3 and len(versions.by_path[both]) == 3
    assert cvault(studio, "fsck").endswith(": ok\n")
    assert_git_clean(studio)
    assert re.match(r"^On branch main\n", cvault(studio, "status"))


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "field_expedition.py"


def test_the_field_expedition_example_runs(tmp_path: Path, capsys, monkeypatch) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("field_expedition_demo", EXAMPLE)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, demo)  # dataclasses look their module up
    spec.loader.exec_module(demo)
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--frames", "3"]) == 0
    text = capsys.readouterr().out
    assert 'kept both: day01/DSC_00002.JPG (theirs as "day01/DSC_00002 (conflicted copy ' \
           'from origin-main).JPG")' in text
    assert "got back               day01/DSC_00002.DNG: sha256 matches" in text
    assert (out / demo.MARKER).is_file()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "keep.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(SystemExit, match="not a previous demo"):
        demo.main(["--out", str(foreign)])
    assert (foreign / "keep.jpg").read_bytes() == b"\xff\xd8"
