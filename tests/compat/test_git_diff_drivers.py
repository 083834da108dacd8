"""Plain ``git diff`` / ``git log -p`` on a vault, through cvault's diff drivers (docs/git.md).

Every command is the real git binary, which starts ``cvault ext-diff`` (the drivers'
``command``) or ``cvault textconv`` itself, so git's argument conventions are exercised
as git applies them: 7 arguments, 9 on a rename, 1 for an unmerged path, ``/dev/null``
for an added or deleted file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_git


def git(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args).stdout.decode()


def set_make(path: Path, make: bytes) -> None:
    import piexif

    exif = piexif.load(str(path))
    exif["0th"][piexif.ImageIFD.Make] = make
    piexif.insert(piexif.dump(exif), str(path))


@pytest.fixture
def repo(tmp_path: Path, fixture_file) -> Path:
    """A vault made by ``cvault init``: photo.jpg (Canon), notes.txt; one commit."""
    root = tmp_path / "proj"
    root.mkdir()
    res = run_cli(root, "init")
    assert res.returncode == 0, res.stderr
    shutil.copyfile(fixture_file("photo/Canon.jpg"), root / "photo.jpg")
    (root / "notes.txt").write_text("notes\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "one")
    return root


def test_install_configures_every_driver_and_attributes_pick_them(repo):
    cmd = f"{sys.executable} -m creativevault"
    for driver in ("cvault", "cvault-image", "cvault-layered", "cvault-mesh"):
        assert git(repo, "config", f"diff.{driver}.textconv") == f"{cmd} textconv\n"
        assert git(repo, "config", f"diff.{driver}.command") == f"{cmd} ext-diff\n"
        assert git(repo, "config", f"diff.{driver}.cachetextconv") == "true\n"
        assert git(repo, "config", f"diff.{driver}.binary") == "true\n"
    names = ["a.psd", "b.KRA", "c.ora", "d.jpg", "e.CR3", "f.tif", "g.glb", "h.stl", "i.zip",
             "j.blend", "k.txt"]
    out = git(repo, "check-attr", "diff", "filter", "--", *names)
    got = {}
    for line in out.splitlines():
        path, attr, value = line.split(": ")
        got[(path, attr)] = value
    assert {n: got[(n, "diff")] for n in names} == {
        "a.psd": "cvault-layered", "b.KRA": "cvault-layered", "c.ora": "cvault-layered",
        "d.jpg": "cvault-image", "e.CR3": "cvault-image", "f.tif": "cvault-image",
        "g.glb": "cvault-mesh", "h.stl": "cvault-mesh", "i.zip": "cvault",
        "j.blend": "cvault", "k.txt": "unspecified"}
    assert all(got[(n, "filter")] == "cvault" for n in names[:-1])


def test_plain_git_diff_runs_the_external_command(repo):
    set_make(repo / "photo.jpg", b"Nikon")
    out = git(repo, "diff")
    lines = out.splitlines()
    assert lines[0] == "diff --cvault a/photo.jpg b/photo.jpg"
    assert "    ~ Exif.Image.Make: Canon -> Nikon" in lines
    assert "creativevault.dev" not in out and "Binary files" not in out
    # --no-ext-diff falls back to textconv: every metadata field is a line of text
    text = git(repo, "diff", "--no-ext-diff")
    assert "-Exif.Image.Make: Canon\n+Exif.Image.Make: Nikon\n" in text
    assert text.startswith("diff --git a/photo.jpg b/photo.jpg\n")
    # from a subfolder too (git runs the command at the top of the working tree)
    (repo / "sub").mkdir()
    assert git(repo / "sub", "diff") == out


def test_log_p_uses_textconv_and_ext_diff_on_request(repo):
    set_make(repo / "photo.jpg", b"Leica")
    run_git(repo, "commit", "-q", "-am", "two")
    log = git(repo, "log", "-p", "--format=%s")
    assert "diff --git a/photo.jpg b/photo.jpg" in log and "diff --cvault" not in log
    assert "-Exif.Image.Make: Canon\n+Exif.Image.Make: Leica\n" in log
    assert "+format: JPEG image\n" in log  # the commit that added it
    ext = git(repo, "log", "-p", "--ext-diff", "--format=%s", "--", "photo.jpg")
    assert ext.count("diff --cvault a/photo.jpg b/photo.jpg") == 2
    assert "    ~ Exif.Image.Make: Canon -> Leica" in ext
    assert "new file mode 100644" in ext  # the first commit: /dev/null on the old side


def test_rename_gives_nine_arguments(repo):
    run_git(repo, "mv", "photo.jpg", "renamed.jpg")
    run_git(repo, "commit", "-q", "-m", "mv")
    out = git(repo, "diff", "-M", "--ext-diff", "HEAD~1", "HEAD")
    assert out.splitlines()[:4] == ["diff --cvault a/photo.jpg b/renamed.jpg",
                                    "similarity index 100%", "rename from photo.jpg",
                                    "rename to renamed.jpg"]
    assert "    metadata: unchanged (42 EXIF, 0 XMP, 0 IPTC fields)" in out.splitlines()


def test_added_and_deleted_files_get_dev_null(repo, fixture_file):
    shutil.copyfile(fixture_file("photo/GPS.jpg"), repo / "gps.jpg")
    run_git(repo, "add", "gps.jpg")
    run_git(repo, "rm", "-q", "photo.jpg")
    out = git(repo, "diff", "--cached")
    chunks = out.split("diff --cvault ")
    added = next(c for c in chunks if c.startswith("a/gps.jpg"))
    deleted = next(c for c in chunks if c.startswith("a/photo.jpg"))
    assert added.splitlines()[1] == "new file mode 100644"
    assert "    Exif.GPSInfo.GPSLatitudeRef" not in added  # one-side: highlights only
    assert "    Exif.Image.Make: FUJIFILM" in added.splitlines()
    assert deleted.splitlines()[1] == "deleted file mode 100644"
    assert "    Exif.Image.Make: Canon" in deleted.splitlines()


def test_unmerged_path_gives_one_argument(repo):
    run_git(repo, "checkout", "-q", "-b", "side")
    set_make(repo / "photo.jpg", b"Side")
    run_git(repo, "commit", "-q", "-am", "side")
    run_git(repo, "checkout", "-q", "main")
    set_make(repo / "photo.jpg", b"Main")
    run_git(repo, "commit", "-q", "-am", "main")
    merge = run_git(repo, "merge", "side", check=False)
    assert merge.returncode != 0
    out = git(repo, "diff", "--cached")
    assert out == "Unmerged path photo.jpg\n"
    run_git(repo, "merge", "--abort")


def test_pictures_folder_from_git_config(repo, fixture_file):
    from creativevault.features.diff import registry

    # pictures need a differ that draws; skip when none handles PSD here
    if registry.differ_for("art.psd", b"8BPS\x00\x01") is None:  # pragma: no cover
        pytest.skip("no layered differ registered")
    shutil.copyfile(fixture_file("psd/group.psd"), repo / "art.psd")
    run_git(repo, "add", "art.psd")
    run_git(repo, "commit", "-q", "-m", "art")
    shutil.copyfile(fixture_file("psd/masks.psd"), repo / "art.psd")
    run_git(repo, "config", "cvault.diffPictures", "diff-pictures")
    out = git(repo, "diff", "--", "art.psd")
    folder = repo / "diff-pictures" / "art.psd"
    pictures = sorted(folder.glob("*.png"))
    assert pictures, out
    assert f"  picture composite: {folder / 'art.composite.png'}" in out.splitlines() or \
        str(folder) in out


def test_ext_diff_never_stops_git_on_a_damaged_file(repo):
    (repo / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 damaged")
    res = subprocess.run(["git", "diff"], cwd=repo, capture_output=True)
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert out.startswith("diff --cvault a/photo.jpg b/photo.jpg\n")
    assert "  size: 2,697 -> 12 bytes (-2,685)" in out
    assert b"Traceback" not in res.stderr
