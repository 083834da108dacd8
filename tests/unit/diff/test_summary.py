"""The textconv summary (features/diff/summary.py) and format sniffing (formats/sniff.py)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from creativevault.cli.main import main
from creativevault.features.diff.summary import Summary, summarize_file
from creativevault.formats.sniff import HEAD_BYTES, sniff
from creativevault.repo.pointer import LFS_VERSION_URL, VERSION_URL, Pointer
from tests.vaulttools import MB, creative_bytes, write

PSD = "Adobe Photoshop document (PSD)"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(vault, data: bytes) -> bytes:
    """Put ``data`` in the vault's store; return the pointer to it."""
    with vault.store.writer() as w:
        w.put_bytes(data)
    return Pointer(oid=sha(data), size=len(data), extra={"mtime": "12"}).encode()


# ------------------------------------------------------------------ summarize_file
def test_real_content_is_summarised_from_its_bytes(tmp_path, fixture_file):
    psd = fixture_file("psd/masks.psd")
    data = psd.read_bytes()
    summary = summarize_file(None, psd)
    assert summary == Summary(PSD, len(data), sha(data), present=True, pointer=False)
    assert summary.lines() == [f"format: {PSD}", f"size: {len(data):,} bytes",
                               f"sha256: {sha(data)}"]


def test_large_generated_file_is_hashed_completely(tmp_path):
    data = creative_bytes("x.psd", 3 * MB + 7, 3)
    summary = summarize_file(None, write(tmp_path / "x.psd", data))
    assert (summary.kind, summary.size, summary.sha256) == (PSD, len(data), sha(data))
    assert summary.lines()[1] == f"size: {len(data):,} bytes" == "size: 3,145,735 bytes"


def test_pointer_with_present_content_is_summarised_from_the_content(vault, proj):
    data = creative_bytes("x.exr", 2 * MB, 4)
    path = write(proj / "tmp_x.exr", stored(vault, data))
    summary = summarize_file(vault, path)
    assert summary == Summary("OpenEXR image", len(data), sha(data), present=True, pointer=True)
    assert summary.lines()[0] == "format: OpenEXR image"


def test_git_lfs_pointer_is_summarised_like_ours(vault, proj):
    data = b"\x89PNG\r\n\x1a\n" + bytes(5000)
    stored(vault, data)
    lfs = f"version {LFS_VERSION_URL}\noid sha256:{sha(data)}\nsize {len(data)}\n"
    summary = summarize_file(vault, write(proj / "lfs.png", lfs))
    assert (summary.kind, summary.size, summary.sha256, summary.pointer) == (
        "PNG image", len(data), sha(data), True)


@pytest.mark.parametrize("with_vault", [True, False])
def test_pointer_with_missing_content_says_so(vault, proj, with_vault):
    data = b"never stored"
    ptr = Pointer(oid=sha(data), size=123_456_789).encode()
    summary = summarize_file(vault if with_vault else None, write(proj / "a.psd", ptr))
    assert summary == Summary("vault file", 123_456_789, sha(data), present=False, pointer=True)
    assert summary.lines() == ["format: vault file (content not in this vault)",
                               "size: 123,456,789 bytes", f"sha256: {sha(data)}"]


def test_empty_stored_file(vault, proj):
    summary = summarize_file(vault, write(proj / "e.psd", stored(vault, b"")))
    assert (summary.kind, summary.size, summary.present) == ("empty file", 0, True)


def test_broken_pointer_and_small_files_are_summarised_as_content(proj):
    broken = f"version {VERSION_URL}\noid sha256:nothex\nsize 1\n".encode()
    for name, data, kind in (("broken.psd", broken, "text"),
                             ("empty.psd", b"", "empty file"),
                             ("notes.txt", "café\n".encode(), "text"),
                             ("tiny.bin", b"\x00\x01\xfe", "binary data")):
        summary = summarize_file(None, write(proj / name, data))
        assert (summary.kind, summary.size, summary.sha256, summary.pointer) == (
            kind, len(data), sha(data), False), name


def test_textconv_command_prints_the_summary(vault, proj, monkeypatch):
    data = b"8BPS\x00\x01" + bytes(10_000)
    path = write(proj / "t.psd", stored(vault, data))
    out = io.StringIO()
    assert main(["textconv", str(path)], out=out) == 0
    assert out.getvalue() == f"format: {PSD}\nsize: 10,006 bytes\nsha256: {sha(data)}\n"
    # outside any vault, git's temp file is still summarised
    monkeypatch.chdir(proj.parent)
    out = io.StringIO()
    assert main(["textconv", str(path)], out=out) == 0
    assert out.getvalue().startswith("format: vault file (content not in this vault)\n")


def test_textconv_of_a_missing_file_is_an_input_error(proj, capsys):
    assert main(["textconv", str(proj / "gone.psd")], out=io.StringIO()) != 0
    assert "gone.psd" in capsys.readouterr().err


# ------------------------------------------------------------------ sniff
@pytest.mark.parametrize(("head", "kind"), [
    (b"8BPS\x00\x01\x00\x00", PSD),
    (b"8BPS\x00\x02\x00\x00", "Adobe Photoshop large document (PSB)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
    (b"v/1\x01\x02\x00\x00\x00", "OpenEXR image"),
    (b"BLENDER-v300RENDH", "Blender scene"),
    (b"\x00\x00\x00\x18ftypcrx \x00\x00", "Canon CR3 camera raw"),
    (b"\x00\x00\x00\x18ftypheic", "HEIC image"),
    (b"\x00\x00\x00\x18ftypisom", "MP4/QuickTime movie"),
    (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "Canon CR2 camera raw"),
    (b"II*\x00\x08\x00\x00\x00", "TIFF image (or TIFF-based camera raw: DNG, NEF, ARW)"),
    (b"MM\x00*\x00\x00\x00\x08", "TIFF image (or TIFF-based camera raw: DNG, NEF, ARW)"),
    (b"glTF\x02\x00\x00\x00", "glTF binary model (GLB)"),
    (b"ply\nformat binary_little_endian 1.0\n", "PLY model"),
    (b"solid teapot\n", "STL model (ASCII)"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "RIFF container (WebP, WAV, AVI)"),
    (b"#usda 1.0\n", "USD ASCII scene (USDA)"),
    (b"\x28\xb5\x2f\xfd\x00", "zstd-compressed data"),
    (b"", "empty file"),
    (b"hello, world\n", "text"),
    (b"\x00\x01\x02\x03", "binary data"),
])
def test_sniff_names_formats_by_magic(head, kind):
    assert sniff(head) == kind


@pytest.mark.parametrize(("name", "kind"), [
    ("painting.kra", "Krita document (KRA)"), ("PAINTING.KRA", "Krita document (KRA)"),
    ("layers.ora", "OpenRaster document (ORA)"), ("scene.usdz", "USD zip package (USDZ)"),
    ("archive.zip", "zip container (KRA, ORA, USDZ, ...)"),
    ("", "zip container (KRA, ORA, USDZ, ...)"),
])
def test_sniff_names_zip_containers_by_extension(name, kind):
    assert sniff(b"PK\x03\x04\x14\x00", name) == kind


def test_sniff_text_cut_inside_a_character_is_still_text():
    text = ("a" * (HEAD_BYTES - 1) + "é and more").encode()
    assert sniff(text[:HEAD_BYTES]) == "text"  # 'é' is cut after its first byte


def test_sniff_nul_bytes_are_binary_even_though_valid_utf8():
    assert sniff(bytes(HEAD_BYTES)) == "binary data"
    assert sniff(b"abc\x00def") == "binary data"


@pytest.mark.parametrize(("relative", "kind"), [
    ("psd/masks.psd", PSD),
    ("psd/1layer.psb", "Adobe Photoshop large document (PSB)"),
    ("psd/linked-layer.png", "PNG image"),
    ("krita/example_RGBA.kra", "Krita document (KRA)"),
    ("blend/basic_file.blend", "Blender scene"),
    ("mesh/monkey.glb", "glTF binary model (GLB)"),
])
def test_sniff_real_fixtures(fixture_file, relative, kind):
    path: Path = fixture_file(relative)
    with path.open("rb") as f:
        assert sniff(f.read(HEAD_BYTES), path.name) == kind


def test_damaged_content_is_named_not_raised(vault, proj):
    data = creative_bytes("x.psd", 1 * MB, 9)
    path = write(proj / "tmp_x.psd", stored(vault, data))
    [pack] = list((vault.cvault_dir / "packs").glob("pack-*.pack"))
    raw = bytearray(pack.read_bytes())
    raw[200] ^= 0xFF  # inside the first chunk's data
    pack.write_bytes(bytes(raw))
    summary = summarize_file(vault, path)
    assert "DAMAGED" in summary.kind and summary.sha256 == sha(data)
