"""The diff engine: dispatch, fallback to the byte differ, pictures, git's diff shapes."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from pathlib import Path

import pytest

from creativevault.errors import CorruptObjectError, RevisionNotFoundError, UsageError
from creativevault.features.diff import registry
from creativevault.features.diff.bytes import BLOCK, GRANULE, MAX_RANGES, compare_bytes
from creativevault.features.diff.engine import (
    describe_file,
    diff_files,
    diff_git_pair,
    diff_vault,
    picture_dir,
    split_revs_and_paths,
    targets,
)
from creativevault.features.diff.report import DiffOptions, FileDiff, Picture
from creativevault.repo.pointer import Pointer


class FakeDiffer:
    """Accepts ``*.fake``; says which files it saw; raises when told to."""

    kind = "fake"

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls: list[tuple[Path | None, Path | None, str]] = []

    def accepts(self, name: str, head: bytes) -> bool:
        return name.endswith(".fake")

    def diff(self, a, b, name, options):
        self.calls.append((a, b, name))
        if self.error is not None:
            raise self.error
        result = FileDiff(name, self.kind, "modified", summary=["fake: compared"])
        if options.out_dir is not None:
            out = Path(options.out_dir) / f"{Path(name).stem}.side-by-side.png"
            out.write_bytes(b"\x89PNG fake")
            result.pictures.append(Picture("side-by-side", out))
        return result


class StrictPngDiffer:
    """Decodes PNGs completely with Pillow (so a truncated one raises)."""

    kind = "strict-png"

    def accepts(self, name: str, head: bytes) -> bool:
        return name.endswith(".png")

    def diff(self, a, b, name, options):
        from PIL import Image

        for side in (a, b):
            if side is not None:
                with Image.open(side) as im:
                    im.load()
        return FileDiff(name, self.kind, "modified", summary=["strict-png: decoded"])


@pytest.fixture
def plugin():
    """Register differs for one test, then remove them."""
    added = []

    def add(differ):
        registry.register(differ)
        added.append(differ)
        return differ

    yield add
    for differ in added:
        registry._registered.remove(differ)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ dispatch and fallback
def test_the_differ_accepting_the_file_compares_it(tmp_path, plugin):
    fake = plugin(FakeDiffer())
    a = write(tmp_path / "a.fake", b"one")
    b = write(tmp_path / "b.fake", b"two")
    result = diff_files(a, b, "dir/x.fake")
    assert (result.kind, result.status, result.path) == ("fake", "modified", "dir/x.fake")
    assert fake.calls == [(a, b, "dir/x.fake")]
    assert diff_files(None, b, "x.fake").status == "added"
    assert diff_files(a, None, "x.fake").status == "deleted"


@pytest.mark.parametrize("error", [ValueError("bad header\nsecond line"),
                                   CorruptObjectError("chunk damaged"),
                                   MemoryError()])
def test_a_failing_differ_gives_the_byte_summary_and_a_note(tmp_path, plugin, error):
    plugin(FakeDiffer(error))
    a = write(tmp_path / "a.fake", b"one")
    b = write(tmp_path / "b.fake", b"two!")
    result = diff_files(a, b, "x.fake")
    assert result.kind == "bytes" and result.status == "modified"
    assert len(result.notes) == 1 and result.notes[0].startswith("could not compare as fake: ")
    assert "\n" not in result.notes[0]
    if isinstance(error, ValueError):
        assert result.notes[0] == "could not compare as fake: ValueError: bad header"
    assert result.figures["size_a"] == 3 and result.figures["size_b"] == 4
    assert "note: could not compare as fake" in "\n".join(result.lines())


def test_a_truncated_png_gives_a_note_not_a_traceback(tmp_path, plugin):
    from PIL import Image

    plugin(StrictPngDiffer())
    pixels = random.Random(1).randbytes(64 * 64 * 3)
    whole = io.BytesIO()
    Image.frombytes("RGB", (64, 64), pixels).save(whole, "PNG")
    a = write(tmp_path / "a.png", whole.getvalue())
    b = write(tmp_path / "b.png", whole.getvalue()[: len(whole.getvalue()) // 2])
    assert diff_files(a, a, "x.png").kind == "strict-png"
    result = diff_files(a, b, "x.png")
    assert result.kind == "bytes"
    assert result.notes and result.notes[0].startswith("could not compare as strict-png: ")
    assert result.figures["size_b"] < result.figures["size_a"]


def test_truncated_files_with_the_builtin_differs_never_raise(tmp_path, fixture_file):
    for rel in ("psd/masks.psd", "photo/Canon.jpg", "mesh/monkey.glb"):
        data = fixture_file(rel).read_bytes()
        name = Path(rel).name
        a = write(tmp_path / "a" / name, data)
        b = write(tmp_path / "b" / name, data[: len(data) // 3])
        result = diff_files(a, b, name)
        assert result.status in ("modified", "error"), rel
        assert result.lines(), rel


def test_an_unknown_file_gets_the_byte_summary_without_a_note(tmp_path):
    a = write(tmp_path / "a.unknownext", b"\x00" * 100)
    b = write(tmp_path / "b.unknownext", b"\x00" * 50 + b"\x01" + b"\x00" * 49)
    result = diff_files(a, b, "x.unknownext")
    assert result.kind == "bytes" and result.notes == []
    assert result.figures["first_difference"] == 50


def test_a_broken_registry_still_gives_a_byte_summary(tmp_path, monkeypatch):
    def broken(name, head):
        raise ImportError("No module named 'psd_tools'")

    monkeypatch.setattr(registry, "differ_for", broken)
    a = write(tmp_path / "a.psd", b"8BPS\x00\x01one")
    b = write(tmp_path / "b.psd", b"8BPS\x00\x01two")
    result = diff_files(a, b, "x.psd")
    assert result.kind == "bytes"
    assert result.notes == ["format-aware differs unavailable: ImportError: No module named "
                            "'psd_tools'"]


def test_an_unreadable_side_is_an_error_result(tmp_path):
    a = write(tmp_path / "a.bin", b"x")
    result = diff_files(a, tmp_path / "missing.bin", "x.bin")
    assert result.status == "error" and result.notes[0].startswith("cannot read: ")


# ------------------------------------------------------------------ pictures
def test_pictures_go_to_one_folder_per_path(tmp_path, plugin):
    plugin(FakeDiffer())
    assert picture_dir(Path("/o"), "art/hero v2.fake") == Path("/o/art__hero v2.fake")
    a = write(tmp_path / "a.fake", b"1")
    b = write(tmp_path / "b.fake", b"2")
    out = tmp_path / "pics"
    result = diff_files(a, b, "art/hero.fake", DiffOptions(out_dir=out))
    assert [p.path for p in result.pictures] == [out / "art__hero.fake" / "hero.side-by-side.png"]
    assert result.pictures[0].path.is_file()
    # no folder is left behind for a file that has no pictures
    diff_files(a, b, "other.bin", DiffOptions(out_dir=out))
    assert sorted(p.name for p in out.iterdir()) == ["art__hero.fake"]


# ------------------------------------------------------------------ the byte differ
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_byte_differ_streams_large_files(tmp_path):
    size = 24 * BLOCK + 123
    rng = random.Random(7)
    base = bytearray(rng.randbytes(size))
    edited = bytearray(base)
    edits = [5 * BLOCK + 17, 5 * BLOCK + 18, 9 * BLOCK + GRANULE * 3, size - 1]
    for at in edits:
        edited[at] ^= 0xFF
    a = write(tmp_path / "a.bin", bytes(base))
    b = write(tmp_path / "b.bin", bytes(edited))
    tracemalloc.start()
    try:
        result = compare_bytes(a, b, "x.bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * BLOCK, peak  # two blocks and change, never the 24 MiB files
    f = result.figures
    assert result.status == "modified"
    assert (f["size_a"], f["size_b"]) == (size, size)
    assert (f["sha256_a"], f["sha256_b"]) == (_sha(bytes(base)), _sha(bytes(edited)))
    assert f["first_difference"] == edits[0]
    granule = [at - at % GRANULE for at in edits]
    assert f["changed_ranges"] == [[granule[0], granule[0] + GRANULE],
                                   [granule[2], granule[2] + GRANULE],
                                   [granule[3], size]]
    assert f["changed_bytes"] == 2 * GRANULE + (size - granule[3])
    assert f"first difference at byte {edits[0]:,} (0x{edits[0]:x})" in result.summary


def test_byte_differ_sizes_tails_identity_and_one_side(tmp_path):
    data = random.Random(3).randbytes(3 * BLOCK)
    a = write(tmp_path / "a.bin", data)
    longer = write(tmp_path / "b.bin", data + b"tail")
    result = compare_bytes(a, longer, "x.bin")
    assert result.figures["first_difference"] == len(data)
    assert result.figures["changed_ranges"] == [[len(data), len(data) + 4]]
    assert "size: 3,145,728 -> 3,145,732 bytes (+4)" in result.summary
    same = compare_bytes(a, write(tmp_path / "c.bin", data), "x.bin")
    assert same.status == "unchanged" and same.figures["first_difference"] is None
    added = compare_bytes(None, a, "x.bin")
    assert added.status == "added"
    assert (added.figures["size_b"], added.figures["sha256_b"]) == (len(data), _sha(data))
    assert added.summary[1:] == [f"size: {len(data):,} bytes", f"sha256: {_sha(data)}"]


def test_byte_differ_caps_the_ranges(tmp_path):
    data = bytearray(GRANULE * (MAX_RANGES * 2 + 4))
    a = write(tmp_path / "a.bin", bytes(data))
    for i in range(0, len(data), 2 * GRANULE):
        data[i] = 1
    result = compare_bytes(a, write(tmp_path / "b.bin", bytes(data)), "x.bin")
    assert len(result.figures["changed_ranges"]) == MAX_RANGES
    assert result.figures["ranges_truncated"] is True
    assert result.figures["changed_bytes"] == (MAX_RANGES + 2) * GRANULE


# ------------------------------------------------------------------ metadata part, textconv
def test_photos_get_a_metadata_part(tmp_path, fixture_file):
    import piexif

    src = fixture_file("photo/Canon.jpg")
    a = write(tmp_path / "a.jpg", src.read_bytes())
    b = write(tmp_path / "b.jpg", src.read_bytes())
    exif = piexif.load(str(b))
    exif["0th"][piexif.ImageIFD.Artist] = b"Field Photographer"
    piexif.insert(piexif.dump(exif), str(b))
    result = diff_files(a, b, "shoot/IMG_1.jpg")
    meta = [p for p in result.parts if p.kind == "metadata"]
    assert len(meta) == 1
    assert "+ Exif.Image.Artist: Field Photographer" in meta[0].summary
    assert meta[0].figures["added"] == {"Exif.Image.Artist": "Field Photographer"}
    # a PNG is not a photo: no metadata part
    png = diff_files(None, fixture_file("photo/PNG.png"), "x.png")
    assert not [p for p in png.parts if p.kind == "metadata"]


def test_describe_file_lists_the_differ_view_and_every_metadata_field(fixture_file):
    lines = describe_file(fixture_file("photo/GPS.jpg"), "GPS.jpg")
    assert "Exif.GPSInfo.GPSLatitudeRef: N" in lines
    assert "Iptc.Application2.Byline: Ian Britton" in lines
    assert describe_file(fixture_file("photo/XMP.xmp"), "x.xmp")[0].startswith("metadata: ")


# ------------------------------------------------------------------ git's external diff
def test_diff_git_pair_reads_pointer_sides_from_the_vault(vault, proj):
    data = random.Random(5).randbytes(5000)
    with vault.store.writer() as w:
        w.put_bytes(data)
    pointer = Pointer(oid=_sha(data), size=len(data)).encode()
    old = write(proj.parent / "old.bin", pointer)
    new = write(proj.parent / "new.bin", data + b"!")
    result = diff_git_pair(vault, old, new, "x.bin")
    assert result.figures["size_a"] == len(data) and result.figures["sha256_a"] == _sha(data)
    gone = Pointer(oid="ab" * 32, size=10).encode()
    missing = diff_git_pair(vault, write(proj.parent / "gone.bin", gone), new, "x.bin")
    assert missing.notes == [f"the old version's content ({'ab' * 6}, 10 bytes) is not in "
                             "this vault"]
    assert not list((vault.cvault_dir / "tmp").iterdir())  # temporary files removed


# ------------------------------------------------------------------ vault shapes
def _head(vault) -> str:
    return vault.git.head_commit()


@pytest.fixture
def history(vault):
    """Two commits: v1 adds a.bin, b.bin, notes.txt; v2 changes a.bin, deletes b.bin,
    adds c.bin."""
    rng = random.Random(11)
    v1 = {"art/a.psd": rng.randbytes(4000), "b.exr": rng.randbytes(3000),
          "notes.txt": b"notes\n"}
    for name, data in v1.items():
        write(vault.root / name, data)
    vault.add(["."])
    vault.commit("v1")
    c1 = _head(vault)
    write(vault.root / "art/a.psd", rng.randbytes(4100))
    (vault.root / "b.exr").unlink()
    write(vault.root / "c.exr", rng.randbytes(2000))
    vault.add(["."])
    vault.commit("v2")
    return vault, c1, _head(vault)


def _shape(diffs) -> list[tuple[str, str]]:
    return [(d.path, d.status) for d in diffs]


def test_shapes_follow_git(history):
    vault, c1, c2 = history
    root = vault.root
    assert diff_vault(vault) == []
    assert _shape(diff_vault(vault, c1, c2)) == [
        ("art/a.psd", "modified"), ("b.exr", "deleted"), ("c.exr", "added")]
    assert _shape(diff_vault(vault, c2, c1)) == [
        ("art/a.psd", "modified"), ("b.exr", "added"), ("c.exr", "deleted")]
    # working tree vs index, then index vs HEAD
    write(root / "c.exr", b"edited")
    (root / "notes.txt").unlink()
    assert _shape(diff_vault(vault)) == [("c.exr", "modified"), ("notes.txt", "deleted")]
    assert diff_vault(vault, cached=True) == []
    vault.add(["c.exr"])
    assert _shape(diff_vault(vault)) == [("notes.txt", "deleted")]
    assert _shape(diff_vault(vault, cached=True)) == [("c.exr", "modified")]
    assert _shape(diff_vault(vault, c1, cached=True)) == [
        ("art/a.psd", "modified"), ("b.exr", "deleted"), ("c.exr", "added")]
    # working tree vs a commit
    assert _shape(diff_vault(vault, c2)) == [("c.exr", "modified"), ("notes.txt", "deleted")]
    assert _shape(diff_vault(vault, c1)) == [
        ("art/a.psd", "modified"), ("b.exr", "deleted"), ("c.exr", "added"),
        ("notes.txt", "deleted")]
    # paths limit every shape
    assert _shape(diff_vault(vault, c1, c2, [root / "art"])) == [("art/a.psd", "modified")]
    assert _shape(diff_vault(vault, c1, paths=["c.exr"])) == [("c.exr", "added")]
    # the compared bytes are the versions' own
    one = diff_vault(vault, c1, c2, ["art/a.psd"])[0]
    assert (one.figures["size_a"], one.figures["size_b"]) == (4000, 4100)
    assert not list((vault.cvault_dir / "tmp").iterdir())


def test_same_content_with_a_new_pointer_is_not_a_difference(history):
    vault, c1, c2 = history
    path = vault.root / "c.exr"
    data = path.read_bytes()
    path.unlink()
    write(path, data)  # new mtime: the staged pointer would differ, the content does not
    assert diff_vault(vault) == []
    assert diff_vault(vault, c2) == []
    assert [t.path for t in targets(vault, c1, c2)] == ["art/a.psd", "b.exr", "c.exr"]


def test_missing_content_is_an_error_result_not_a_raise(history, monkeypatch):
    vault, c1, c2 = history

    def missing(spec, out):
        from creativevault.errors import ObjectMissingError

        raise ObjectMissingError("content 1234 is not in this vault", path="art/a.psd")

    monkeypatch.setattr(vault, "cat", missing)
    result = diff_vault(vault, c1, c2, ["art/a.psd"])[0]
    assert result.status == "error"
    assert result.notes[0].startswith(f"cannot read the version in {c1[:10]}: ")


def test_split_revs_and_paths(history, monkeypatch):
    vault, c1, c2 = history
    monkeypatch.chdir(vault.root)
    assert split_revs_and_paths(vault, [c1[:8], "HEAD"]) == ([c1[:8], "HEAD"], [])
    assert split_revs_and_paths(vault, ["HEAD~1..HEAD"]) == (["HEAD~1", "HEAD"], [])
    assert split_revs_and_paths(vault, ["HEAD", "art"]) == (["HEAD"], ["art"])
    with pytest.raises(RevisionNotFoundError):
        split_revs_and_paths(vault, ["nonsense"])
    with pytest.raises(UsageError):
        split_revs_and_paths(vault, ["HEAD", "HEAD", "HEAD"])
    with pytest.raises(UsageError):
        targets(vault, None, "HEAD")
