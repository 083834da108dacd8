"""Photo metadata (formats/metadata.py) and its field-by-field diff (features/diff/metadata.py)
on the shared camera files and on edited copies of them."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from creativevault.features.diff.engine import diff_files
from creativevault.features.diff.metadata import MAX_LINES, MetadataDiffer, compare_metadata
from creativevault.features.diff.report import DiffOptions
from creativevault.formats.metadata import (
    PhotoMetadata,
    is_photo,
    is_sidecar,
    parse_xmp,
    read_metadata,
)


def copy(fixture_file, rel: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture_file(rel), dest)
    dest.chmod(0o644)
    return dest


# ------------------------------------------------------------------ reading
def test_exif_of_camera_jpegs(fixture_file):
    canon = read_metadata(fixture_file("photo/Canon.jpg"))
    assert canon.exif["Exif.Image.Make"] == "Canon"
    assert canon.exif["Exif.Image.Model"] == "Canon EOS DIGITAL REBEL"
    assert canon.exif["Exif.Photo.DateTimeOriginal"] == "2003:12:04 06:46:52"
    assert canon.exif["Exif.Photo.FocalPlaneXResolution"] == "3072000/892 (3443.95)"
    assert canon.exif["Exif.Photo.MakerNote"].startswith("<1,432 bytes, sha256 ")
    assert not any("StripOffsets" in k or k.endswith("ExifTag") for k in canon.exif)
    assert canon.notes == []


def test_gps_and_iptc(fixture_file):
    gps = read_metadata(fixture_file("photo/GPS.jpg"))
    assert gps.exif["Exif.GPSInfo.GPSLatitudeRef"] == "N"
    assert gps.exif["Exif.GPSInfo.GPSLatitude"] == "54, 5938/100 (59.38), 0"
    assert gps.exif["Exif.GPSInfo.GPSMapDatum"] == "WGS84"
    iptc = read_metadata(fixture_file("photo/IPTC.jpg")).iptc
    assert iptc["Iptc.Application2.Caption"] == "A witty caption"
    assert iptc["Iptc.Application2.Keywords"] == "ExifTool; Test; IPTC"  # repeated dataset
    assert iptc["Iptc.Application2.RecordVersion"] == "2"


def test_xmp_in_a_jpeg_encoded_as_utf16(fixture_file):
    xmp = read_metadata(fixture_file("photo/XMP.jpg")).xmp
    assert xmp["Xmp.dc.description"] == "UTF-16 (big-endian) encoded XMP"
    assert xmp["Xmp.dc.subject"] == "ExifTool; Test; XMP"


def test_xmp_sidecar(fixture_file):
    meta = read_metadata(fixture_file("photo/XMP.xmp"))
    assert meta.exif == {} and meta.iptc == {}
    # the file writes the xap: prefix; keys use the namespace's usual prefix
    assert meta.xmp["Xmp.xmp.Rating"] == "1"
    assert meta.xmp["Xmp.dc.rights"] == "© Copyright Phil Harvey"
    assert meta.xmp["Xmp.dc.rights[fr]"].startswith("© Droit d'auteur")
    assert meta.xmp["Xmp.exif.Flash/exif:Mode"] == "2"
    assert meta.xmp["Xmp.exif.FNumber"] == "28/10"


@pytest.mark.parametrize("rel", ["photo/CanonRaw.cr2", "photo/CanonRaw.cr3", "photo/Nikon.nef",
                                 "photo/DNG.dng", "photo/Panasonic.rw2", "photo/FujiFilm.raf",
                                 "photo/ExifTool.tif", "photo/Sony.jpg"])
def test_camera_raws_and_tiffs_have_exif(fixture_file, rel):
    meta = read_metadata(fixture_file(rel))
    assert len(meta.exif) > 10, meta
    assert meta.notes == []
    assert any(k.startswith("Exif.Image.") for k in meta.exif)


def test_photo_and_sidecar_names():
    assert is_photo("a/IMG_1.CR3") and is_photo("x.jpeg") and is_photo("x.dng")
    assert not is_photo("x.png") and not is_photo("x.psd")
    assert is_photo("noext", b"\xff\xd8\xff\xe1") and not is_photo("noext", b"PK\x03\x04")
    assert is_sidecar("IMG_1.xmp") and not is_sidecar("IMG_1.jpg")


def test_damaged_xmp_leaves_a_note_and_keeps_the_rest(tmp_path, fixture_file):
    data = bytearray(fixture_file("photo/XMP.jpg").read_bytes())
    at = data.find("rdf:Description".encode("utf-16-be"))
    data[at:at + 4] = "<<".encode("utf-16-be")
    damaged = tmp_path / "x.jpg"
    damaged.write_bytes(bytes(data))
    meta = read_metadata(damaged)
    assert meta.exif["Exif.Image.Make"]  # EXIF still read
    assert meta.xmp == {} and meta.notes[0].startswith("XMP unreadable: not well-formed XML")


def test_xmp_with_a_doctype_is_refused():
    packet = (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
              b"</x:xmpmeta>")
    with pytest.raises(ValueError, match="DOCTYPE"):
        parse_xmp(packet)


def test_garbage_and_truncated_photos_do_not_raise(tmp_path, fixture_file):
    data = fixture_file("photo/GPS.jpg").read_bytes()
    for i, blob in enumerate((data[:300], b"\xff\xd8\xff" + b"\x00" * 100, b"II*\x00junk")):
        path = tmp_path / f"bad{i}.jpg"
        path.write_bytes(blob)
        assert isinstance(read_metadata(path), PhotoMetadata)


# ------------------------------------------------------------------ diffs of edited copies
def test_an_edited_exif_tag_is_reported_field_by_field(tmp_path, fixture_file):
    import piexif

    a = copy(fixture_file, "photo/GPS.jpg", tmp_path / "a.jpg")
    b = copy(fixture_file, "photo/GPS.jpg", tmp_path / "b.jpg")
    exif = piexif.load(str(b))
    exif["0th"][piexif.ImageIFD.Make] = b"Leica"
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = b"2024:05:01 10:00:00"
    exif["GPS"][piexif.GPSIFD.GPSLatitudeRef] = b"S"
    exif["thumbnail"] = None  # the fixture's is a stub piexif cannot re-write
    exif["1st"] = {}
    piexif.insert(piexif.dump(exif), str(b))
    diff = MetadataDiffer().diff(a, b, "a.jpg", DiffOptions())
    assert diff.status == "modified"
    changed = diff.figures["changed"]
    assert changed["Exif.Image.Make"] == {"a": "FUJIFILM", "b": "Leica"}
    assert changed["Exif.GPSInfo.GPSLatitudeRef"] == {"a": "N", "b": "S"}
    assert "~ Exif.Photo.DateTimeOriginal: 2002:07:13 15:58:28 -> 2024:05:01 10:00:00" in \
        diff.summary
    assert diff.figures["changed"].keys() >= {"Exif.Image.Make", "Exif.Photo.DateTimeOriginal"}
    # IPTC untouched by the EXIF edit
    assert not [k for k in (*changed, *diff.figures["added"], *diff.figures["removed"])
                if k.startswith("Iptc.")]


def test_an_edited_iptc_caption(tmp_path, fixture_file):
    a = copy(fixture_file, "photo/IPTC.jpg", tmp_path / "a.jpg")
    data = a.read_bytes()
    b = tmp_path / "b.jpg"
    b.write_bytes(data.replace(b"A witty caption", b"A dreary captio"))
    diff = MetadataDiffer().diff(a, b, "x.jpg", DiffOptions())
    assert diff.figures["changed"] == {
        "Iptc.Application2.Caption": {"a": "A witty caption", "b": "A dreary captio"}}
    assert diff.summary[0].startswith("metadata: 1 changed, 0 added, 0 removed "
                                      "(EXIF 0, XMP 0, IPTC 1)")


def test_an_xmp_rating_in_a_sidecar(tmp_path, fixture_file):
    a = copy(fixture_file, "photo/XMP.xmp", tmp_path / "a" / "IMG.xmp")
    b = copy(fixture_file, "photo/XMP.xmp", tmp_path / "b" / "IMG.xmp")
    b.write_text(b.read_text(encoding="utf-8").replace('xap:Rating="1"', 'xap:Rating="5"'),
                 encoding="utf-8")
    result = diff_files(a, b, "shoot/IMG.xmp")  # the engine uses the metadata differ
    assert result.kind == "metadata"
    assert result.figures["changed"] == {"Xmp.xmp.Rating": {"a": "1", "b": "5"}}
    assert "~ Xmp.xmp.Rating: 1 -> 5" in result.lines()


def _jpeg_with_xmp(path: Path, rating: int, label: str | None) -> Path:
    from PIL import Image

    props = f'xmp:Rating="{rating}"' + (f' xmp:Label="{label}"' if label else "")
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
              f'{props}/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG", xmp=packet.encode("utf-8"))
    path.write_bytes(buf.getvalue())
    return path


def test_an_xmp_rating_and_label_in_a_jpeg(tmp_path):
    a = _jpeg_with_xmp(tmp_path / "a.jpg", 2, None)
    b = _jpeg_with_xmp(tmp_path / "b.jpg", 5, "Red")
    result = diff_files(a, b, "IMG_2.jpg")
    meta = next(p for p in result.parts if p.kind == "metadata")
    assert meta.figures["changed"] == {"Xmp.xmp.Rating": {"a": "2", "b": "5"}}
    assert meta.figures["added"] == {"Xmp.xmp.Label": "Red"}
    assert "+ Xmp.xmp.Label: Red" in result.lines(indent="")[-1:] + meta.summary


def test_one_side_and_unchanged(fixture_file):
    meta = read_metadata(fixture_file("photo/Canon.jpg"))
    added = compare_metadata(None, meta, "x.jpg")
    assert added.status == "added"
    assert added.summary[:3] == ["metadata: 42 EXIF, 0 XMP, 0 IPTC fields",
                                 "Exif.Image.Make: Canon",
                                 "Exif.Image.Model: Canon EOS DIGITAL REBEL"]
    assert added.figures["values"]["Exif.Image.Make"] == "Canon"
    assert compare_metadata(meta, None, "x.jpg").status == "deleted"
    same = compare_metadata(meta, meta, "x.jpg")
    assert same.status == "unchanged"
    assert same.summary == ["metadata: unchanged (42 EXIF, 0 XMP, 0 IPTC fields)"]


def test_long_lists_are_cut_in_text_but_complete_in_json(fixture_file):
    a = read_metadata(fixture_file("photo/Canon.jpg"))
    b = read_metadata(fixture_file("photo/XMP.xmp"))
    diff = compare_metadata(a, b, "x")
    total = len(diff.figures["changed"]) + len(diff.figures["added"]) + \
        len(diff.figures["removed"])
    assert total > MAX_LINES
    assert len(diff.summary) == 1 + MAX_LINES + 1
    assert diff.summary[-1] == (f"... and {total - MAX_LINES} more (--json lists every "
                                "field)")
