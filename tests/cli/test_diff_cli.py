"""``cvault diff`` (git's argument shapes, --out, --json, --no-index) and ``cvault ext-diff``
(git's GIT_EXTERNAL_DIFF argument conventions), run in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from creativevault.features.diff import registry
from creativevault.features.diff.report import FileDiff, Picture
from tests.cli.conftest import BIG, BIG_V2, payload
from tests.conftest import run_cli

JSON_KEYS = {"path", "kind", "status", "summary", "figures", "parts", "pictures", "notes"}


class PictureDiffer:
    """Accepts ``*.pic``; writes one picture where the engine says."""

    kind = "pic"

    def accepts(self, name: str, head: bytes) -> bool:
        return name.endswith(".pic")

    def diff(self, a, b, name, options):
        result = FileDiff(name, self.kind, "modified", summary=["pic: compared"],
                          figures={"answer": 42})
        if options.out_dir is not None:
            out = Path(options.out_dir) / "side-by-side.png"
            out.write_bytes(b"\x89PNG")
            result.pictures.append(Picture("side-by-side", out))
        return result


@pytest.fixture
def pic_differ():
    differ = PictureDiffer()
    registry.register(differ)
    yield differ
    registry._registered.remove(differ)


def headers(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("diff ")]


def test_shapes(vault, ok):
    assert ok(vault, "diff") == ""
    (vault / "big.psd").write_bytes(BIG_V2)
    (vault / "notes.txt").write_text("second notes\n")
    out = ok(vault, "diff")
    assert headers(out) == ["diff big.psd (bytes)", "diff notes.txt (bytes)"]
    assert f"  size: {len(BIG):,} -> {len(BIG_V2):,} bytes (+10,000)" in out
    assert ok(vault, "diff", "--cached") == ""
    ok(vault, "add", "big.psd")
    assert headers(ok(vault, "diff")) == ["diff notes.txt (bytes)"]
    assert headers(ok(vault, "diff", "--cached")) == ["diff big.psd (bytes)"]
    assert headers(ok(vault, "diff", "--staged", "HEAD")) == ["diff big.psd (bytes)"]
    assert headers(ok(vault, "diff", "HEAD")) == ["diff big.psd (bytes)",
                                                   "diff notes.txt (bytes)"]
    assert headers(ok(vault, "diff", "HEAD", "--", "notes.txt")) == ["diff notes.txt (bytes)"]
    assert headers(ok(vault, "diff", "HEAD", "notes.txt")) == ["diff notes.txt (bytes)"]
    ok(vault, "commit", "-a", "-m", "second")
    assert ok(vault, "diff", "HEAD") == ""
    assert headers(ok(vault, "diff", "HEAD~1", "HEAD")) == ["diff big.psd (bytes)",
                                                             "diff notes.txt (bytes)"]
    assert ok(vault, "diff", "HEAD~1..HEAD") == ok(vault, "diff", "HEAD~1", "HEAD")
    assert headers(ok(vault, "diff", "HEAD~1", "HEAD", "--", "big.psd")) == [
        "diff big.psd (bytes)"]
    # from a subfolder, paths are relative to it
    (vault / "sub").mkdir()
    (vault / "sub" / "x.bin").write_bytes(payload(100, 9))
    ok(vault, "add", "sub")
    assert headers(ok(vault / "sub", "diff", "--cached", "--", ".")) == ["diff sub/x.bin (bytes)"]


def test_added_and_deleted_files(vault, ok):
    (vault / "notes.txt").unlink()
    (vault / "new.exr").write_bytes(payload(5000, 3))
    ok(vault, "add", ".")
    out = ok(vault, "diff", "--cached", "--json")
    data = {d["path"]: d for d in json.loads(out)}
    assert data["new.exr"]["status"] == "added"
    assert data["new.exr"]["figures"]["size_b"] == 5000
    assert data["notes.txt"]["status"] == "deleted"
    assert data["notes.txt"]["figures"]["size_a"] == len("first notes\n")


def test_json_keys(vault, ok):
    (vault / "big.psd").write_bytes(BIG_V2)
    data = json.loads(ok(vault, "diff", "--json"))
    assert len(data) == 1 and set(data[0]) == JSON_KEYS
    figures = data[0]["figures"]
    assert {"size_a", "size_b", "sha256_a", "sha256_b", "first_difference", "changed_bytes",
            "changed_ranges", "ranges_truncated", "granularity"} <= set(figures)

    # a file in the layered format's shape that no differ can read: a note, not a failure
    (vault / "big.psd").write_bytes(b"8BPS\x00\x01" + BIG_V2)
    data = json.loads(ok(vault, "diff", "--json"))
    assert data[0]["kind"] == "bytes"
    assert data[0]["notes"][0].startswith("could not compare as layered: ")


def test_out_writes_pictures(vault, ok, pic_differ, tmp_path):
    (vault / "art").mkdir()
    (vault / "art" / "hero.pic").write_bytes(b"one")
    ok(vault, "add", "art")
    ok(vault, "commit", "-m", "pic")
    (vault / "art" / "hero.pic").write_bytes(b"two")
    out = ok(vault, "diff", "--out", "pics")
    picture = vault / "pics" / "art__hero.pic" / "side-by-side.png"
    assert picture.is_file()
    assert f"  picture side-by-side: {picture}" in out.splitlines()
    data = json.loads(ok(vault, "diff", "--json", "--out", str(tmp_path / "elsewhere")))
    assert data[0]["pictures"] == [{"role": "side-by-side", "path": str(
        tmp_path / "elsewhere" / "art__hero.pic" / "side-by-side.png")}]
    assert data[0]["figures"] == {"answer": 42}


def test_no_index_compares_plain_files_anywhere(tmp_path, ok, cli, fixture_file):
    a = tmp_path / "a.jpg"
    b = tmp_path / "b.jpg"
    shutil.copyfile(fixture_file("photo/Canon.jpg"), a)
    shutil.copyfile(fixture_file("photo/Nikon.jpg"), b)
    out = ok(tmp_path, "diff", "--no-index", "a.jpg", "b.jpg")
    assert out.splitlines()[0].startswith("diff b.jpg (")
    assert "~ Exif.Image.Make: Canon -> NIKON" in out
    data = json.loads(ok(tmp_path, "diff", "--no-index", "a.jpg", "/dev/null", "--json"))
    assert data[0]["status"] == "deleted" and data[0]["path"] == "a.jpg"
    # temp files without an extension (svn, p4): --name says which format to expect
    shutil.copyfile(a, tmp_path / "left.tmp")
    shutil.copyfile(b, tmp_path / "right.tmp")
    named = ok(tmp_path, "diff", "--no-index", "--name", "IMG_1.jpg", "left.tmp", "right.tmp")
    assert "~ Exif.Image.Make: Canon -> NIKON" in named
    # two folders: files paired by relative path
    for side, src in (("x", a), ("y", b)):
        (tmp_path / side / "sub").mkdir(parents=True)
        shutil.copyfile(src, tmp_path / side / "sub" / "p.jpg")
        (tmp_path / side / "same.txt").write_text("same\n")
    (tmp_path / "y" / "new.txt").write_text("new\n")
    assert headers(ok(tmp_path, "diff", "--no-index", "x", "y")) == [
        "diff new.txt (bytes)", "diff sub/p.jpg (" + named.split("(")[1].split(")")[0] + ")"]
    res = cli(tmp_path, "diff", "--no-index", "a.jpg")
    assert res.code == 2 and "exactly two files" in res.err
    res = cli(tmp_path, "diff", "--no-index", "a.jpg", "missing.jpg")
    assert res.code == 4 and "missing.jpg" in res.err


def test_bad_revisions_are_usage_errors(vault, cli):
    res = cli(vault, "diff", "nonsense")
    assert res.code == 2 and "nonsense" in res.err
    res = cli(vault, "diff", "HEAD", "HEAD", "HEAD")
    assert res.code == 2


# ------------------------------------------------------------------ ext-diff conventions
def test_ext_diff_seven_arguments(vault, ok):
    old = vault.parent / "old.psd"
    old.write_bytes(BIG)
    (vault / "big.psd").write_bytes(BIG_V2)
    out = ok(vault, "ext-diff", "big.psd", str(old), "1" * 40, "100644", "big.psd",
             "0" * 40, "100644")
    lines = out.splitlines()
    assert lines[0] == "diff --cvault a/big.psd b/big.psd"
    assert f"  size: {len(BIG):,} -> {len(BIG_V2):,} bytes (+10,000)" in lines


def test_ext_diff_added_deleted_renamed_unmerged(vault, ok):
    added = ok(vault, "ext-diff", "notes.txt", "/dev/null", ".", ".", "notes.txt",
               "2" * 40, "100644")
    assert added.splitlines()[:2] == ["diff --cvault a/notes.txt b/notes.txt",
                                      "new file mode 100644"]
    assert "  size: 12 bytes" in added.splitlines()
    deleted = ok(vault, "ext-diff", "notes.txt", "notes.txt", "2" * 40, "100644",
                 "/dev/null", ".", ".")
    assert deleted.splitlines()[1] == "deleted file mode 100644"
    info = "similarity index 100%\nrename from notes.txt\nrename to moved.txt\n"
    renamed = ok(vault, "ext-diff", "notes.txt", "notes.txt", "2" * 40, "100644",
                 "notes.txt", "2" * 40, "100755", "moved.txt", info)
    assert renamed.splitlines()[:6] == [
        "diff --cvault a/notes.txt b/moved.txt", "old mode 100644", "new mode 100755",
        "similarity index 100%", "rename from notes.txt", "rename to moved.txt"]
    assert "  bytes: identical (12 bytes)" in renamed
    assert ok(vault, "ext-diff", "big.psd") == "Unmerged path big.psd\n"


def test_ext_diff_wrong_argument_count(vault, cli):
    res = cli(vault, "ext-diff", "a", "b")
    assert res.code == 2 and "7 or 9" in res.err


def test_ext_diff_outside_a_vault_and_pictures_from_the_environment(tmp_path, ok, pic_differ,
                                                                   monkeypatch):
    (tmp_path / "a.pic").write_bytes(b"1")
    (tmp_path / "b.pic").write_bytes(b"2")
    monkeypatch.setenv("CVAULT_DIFF_PICTURES", str(tmp_path / "pics"))
    out = ok(tmp_path, "ext-diff", "x/y.pic", "a.pic", "1" * 40, "100644", "b.pic",
             "2" * 40, "100644")
    assert "  pic: compared" in out
    assert (tmp_path / "pics" / "x__y.pic" / "side-by-side.png").is_file()


def test_ext_diff_as_a_subprocess_exits_zero_on_garbage(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really either")
    res = run_cli(tmp_path, "ext-diff", "a.png", "a.png", "1" * 40, "100644", "b.png",
                  "2" * 40, "100644")
    assert res.returncode == 0, res.stderr
    assert res.stderr == "" and "Traceback" not in res.stdout
    assert "  size: 18 -> 25 bytes (+7)" in res.stdout
