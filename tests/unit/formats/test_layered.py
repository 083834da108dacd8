"""Layered documents (PSD/PSB, ORA, KRA): layer trees, hashes, decoding, errors."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from creativevault.errors import InputFileError
from creativevault.formats import kra
from creativevault.formats.layered import LayeredDoc, is_layered, load_layered

PSD_FIXTURES = ["16bit5x5.psd", "1layer.psb", "1layer.psd", "32bit.psd", "32bit5x5.psd",
                "clipping-mask.psd", "group.psd", "hidden-groups.psd", "layer_comps.psd",
                "masks.psd", "placedLayer.psd"]
KRA = "krita/example_RGBA.kra"


# --------------------------------------------------------------------------- helpers


def png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def png16_bytes(arr: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.png_encode(arr))


def write_ora(path: Path, stack_xml: str, files: dict[str, bytes], merged: bool = True,
              w: int = 8, h: int = 6) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", b"image/openraster")
        z.writestr("stack.xml", stack_xml)
        for name, data in files.items():
            z.writestr(name, data)
        if merged:
            z.writestr("mergedimage.png", png_bytes(np.full((h, w, 4), 200, np.uint8)))
    return path


def stored_tiles(tiles: list[tuple[int, int, bytes]], pixel_size: int, tile: int = 4) -> bytes:
    """A Krita tile file with stored (flag 0, interleaved) tiles."""
    out = [f"VERSION 2\nTILEWIDTH {tile}\nTILEHEIGHT {tile}\nPIXELSIZE {pixel_size}\n"
           f"DATA {len(tiles)}\n".encode()]
    for x, y, data in tiles:
        out.append(f"{x},{y},LZF,{len(data) + 1}\n".encode() + b"\0" + data)
    return b"".join(out)


def rewrite_zip(src: Path, dest: Path, changes: dict[str, bytes | None]) -> Path:
    """Copy a zip, replacing (or, with None, dropping) some members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    zout.writestr(info, changes[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
    return dest


# --------------------------------------------------------------------------- PSD


@pytest.mark.parametrize("name", PSD_FIXTURES)
def test_every_fixture_psd_loads_and_decodes(fixture_file, name: str) -> None:
    with load_layered(fixture_file(f"psd/{name}")) as doc:
        assert doc.format in ("psd", "psb")
        assert doc.layers, name
        w, h = doc.size
        comp = doc.composite()
        assert comp.shape[:2] == (h, w)
        for info in doc.layers:
            assert doc.layer(info.id) is info
            pixels = doc.decode_layer(info.id)
            x0, y0, x1, y1 = info.bbox
            if info.kind == "layer" and x1 > x0:
                assert pixels.shape == (y1 - y0, x1 - x0, 4), info
            assert 0.0 <= info.opacity <= 1.0
        assert len({i.id for i in doc.layers}) == len(doc.layers)
        assert [i.index for i in doc.layers] == list(range(len(doc.layers)))


def test_psd_native_precision(fixture_file) -> None:
    with load_layered(fixture_file("psd/16bit5x5.psd")) as doc:
        assert doc.bit_depth == 16
        assert doc.decode_layer(doc.layers[0].id).dtype == np.uint16
        assert doc.composite().dtype == np.uint16
    with load_layered(fixture_file("psd/32bit.psd")) as doc:
        assert doc.bit_depth == 32
        assert doc.decode_layer(doc.layers[0].id).dtype == np.float32
        assert doc.composite().dtype == np.float32


def test_psd_group_tree_ids_and_masks(fixture_file) -> None:
    with load_layered(fixture_file("psd/masks.psd")) as doc:
        email = next(i for i in doc.layers if i.name == "email")
        assert email.path == "Footer/Social/email"
        assert email.id == "psd:590"
        assert email.has_mask and email.mask_hash
        social = doc.layer(email.parent or "")
        assert social.kind == "group" and social.name == "Social"
        assert round(email.opacity, 2) == 0.4
        assert not next(i for i in doc.layers if i.name == "background").visible
    with load_layered(fixture_file("psd/1layer.psd")) as doc:  # no lyid: name identity
        assert doc.layers[0].id == "name:Фон#0"
    with load_layered(fixture_file("psd/hidden-groups.psd")) as doc:
        group = next(i for i in doc.layers if i.name == "Group 1")
        assert group.kind == "group" and not group.visible
        assert group.blend_mode == "pass-through" and group.pixel_hash is None


def test_psd_layer_decode_matches_psd_tools(fixture_file) -> None:
    from psd_tools import PSDImage

    path = fixture_file("psd/group.psd")
    psd = PSDImage.open(path)
    shape = next(layer for layer in psd.descendants() if layer.name == "Shape 1")
    expected = np.asarray(shape.topil(apply_icc=False).convert("RGBA"))
    with load_layered(path) as doc:
        got = doc.decode_layer(next(i.id for i in doc.layers if i.name == "Shape 1"))
    assert np.array_equal(got, expected)


def test_psd_composite_is_the_merged_image(fixture_file) -> None:
    from psd_tools import PSDImage

    path = fixture_file("psd/layer_comps.psd")
    expected = np.asarray(PSDImage.open(path).topil(apply_icc=False).convert("RGB"))
    with load_layered(path) as doc:
        assert np.array_equal(doc.composite(), expected)


def test_psd_from_the_corpus_writer(tmp_path: Path) -> None:
    from benchmarks import corpus

    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    doc = corpus.PsdDocument(16, 12, 8)
    doc.layers.append(corpus._layer_from_pixels("Red", rgba, 1, 2, 8, 1))
    doc.composite = [corpus._encode_channel(c, np.full((12, 16), 9, np.uint8), 1)
                     for c in range(3)]
    corpus.write_psd(tmp_path / "a.psd", doc)
    with load_layered(tmp_path / "a.psd") as got:
        info = got.layers[0]
        assert (info.name, info.bbox, info.id) == ("Red", (2, 1, 14, 11), "name:Red#0")
        assert np.array_equal(got.decode_layer(info.id), rgba)
        assert (got.composite() == 9).all()


# --------------------------------------------------------------------------- errors


def test_truncated_psd_is_an_input_file_error(fixture_file, tmp_path: Path) -> None:
    data = fixture_file("psd/group.psd").read_bytes()
    bad = tmp_path / "cut.psd"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputFileError) as err:
        load_layered(bad)
    assert "cut.psd" in str(err.value)


def test_not_layered_missing_and_foreign_zip(tmp_path: Path) -> None:
    (tmp_path / "x.psd").write_bytes(b"GIF89a....")
    with pytest.raises(InputFileError, match="not a layered document"):
        load_layered(tmp_path / "x.psd")
    with pytest.raises(InputFileError, match="nope.kra"):
        load_layered(tmp_path / "nope.kra")
    with zipfile.ZipFile(tmp_path / "other.ora", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(InputFileError, match="neither OpenRaster nor Krita"):
        load_layered(tmp_path / "other.ora")
    (tmp_path / "broken.kra").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    with pytest.raises(InputFileError, match="broken.kra"):
        load_layered(tmp_path / "broken.kra")


def test_is_layered() -> None:
    assert is_layered("a.psd", b"8BPS\x00\x01")
    assert is_layered("a.PSB", b"")
    assert is_layered("noext", b"8BPS\x00\x02")
    assert is_layered("a.kra", b"PK\x03\x04") and is_layered("a.ora", b"PK\x03\x04")
    assert not is_layered("a.psd", b"\x89PNG")
    assert not is_layered("a.png", b"\x89PNG") and not is_layered("a.zip", b"PK\x03\x04")


# --------------------------------------------------------------------------- Krita


def test_kra_fixture_layer_tree(fixture_file) -> None:
    with load_layered(fixture_file(KRA)) as doc:
        assert (doc.format, doc.size, doc.bit_depth) == ("kra", (256, 128), 8)
        paint = [i for i in doc.layers if i.detail == "paintlayer"]
        groups = [i for i in doc.layers if i.kind == "group"]
        assert len(paint) == 10 and [g.name for g in groups] == ["flower"]
        assert [i.name for i in doc.layers if i.parent == groups[0].id] == [
            "stalk", "petals", "petals_outline", "leaf", "pistil"]
        assert doc.layers[0].name == "Background"  # bottom first
        assert all(i.id.startswith("kra:{") for i in doc.layers)
        sun = next(i for i in doc.layers if i.name == "sun")
        assert sun.bbox == (0, -64, 128, 64)


def test_kra_tiles_decode_to_the_merged_image(fixture_file) -> None:
    """Blending the decoded layers reproduces Krita's own mergedimage.png."""
    with load_layered(fixture_file(KRA)) as doc:
        merged = doc.composite().astype(np.float32) / 255
        assert merged.shape == (128, 256, 4)
        flat = doc.flatten()
        assert np.abs(merged - flat).max() <= 2 / 255
        bg = doc.decode_layer(doc.layers[0].id)
        assert bg.shape == (128, 256, 4) and (bg[..., 3] == 255).all()


def test_lzf_python_matches_c_on_fixture_tiles(fixture_file) -> None:
    with zipfile.ZipFile(fixture_file(KRA)) as z:
        data = z.read("Sample/layers/layer8")
    parsed = kra.parse_tiles(data)
    assert parsed.pixel_size == 4 and len(parsed.tiles) == 28
    size = parsed.tile_width * parsed.tile_height * parsed.pixel_size
    for tile in parsed.tiles:
        assert tile.compressed
        chunk = data[tile.start:tile.end]
        assert kra.lzf_decompress(chunk, size) == kra._lzf(chunk, size)


def test_lzf_errors() -> None:
    assert kra.lzf_decompress(b"\x02abc\x20\x02", 6) == b"abcabc"  # plain copy...
    assert kra.lzf_decompress(b"\x00a\xe0\x01\x00", 11) == b"a" * 11  # overlapping long run
    for bad, size in [(b"\x05ab", 6), (b"\x00a\xe0", 10), (b"\x00a\x20", 3),
                      (b"\x00a\x20\x05", 4), (b"\x01ab", 5)]:
        with pytest.raises(kra.TileFormatError):
            kra.lzf_decompress(bad, size)
    with pytest.raises(kra.TileFormatError):
        kra._lzf(b"\x05ab", 64)
    with pytest.raises(kra.TileFormatError):
        kra._lzf(b"\x01ab", 5)


def test_tile_header_errors() -> None:
    good = stored_tiles([(0, 0, bytes(64))], 4)
    assert kra.parse_tiles(good).bbox() == (0, 0, 4, 4)
    assert kra.parse_tiles(stored_tiles([], 4)).bbox() == (0, 0, 0, 0)
    bad_inputs = [
        b"garbage", b"VERSION 3\nTILEWIDTH 4\nTILEHEIGHT 4\nPIXELSIZE 4\nDATA 0\n",
        b"VERSION 2\nTILEWIDTH 0\nTILEHEIGHT 4\nPIXELSIZE 4\nDATA 0\n",
        b"VERSION 2\nTILEHEIGHT 4\n", good[:-10], good.replace(b"LZF", b"ZIP"),
        good.replace(b"0,0,LZF", b"a,0,LZF"), good.split(b"0,0")[0] + b"0,0,LZF",
        b"VERSION \xff\n",
    ]
    for bad in bad_inputs:
        with pytest.raises(kra.TileFormatError):
            kra.parse_tiles(bad)
    with pytest.raises(kra.TileFormatError, match="colour space"):
        kra.pixel_format("CMYKA")
    with pytest.raises(kra.TileFormatError, match="does not fit"):
        kra.decode_tiles(good, "GRAYA")
    short = stored_tiles([(0, 0, bytes(63))], 4)
    with pytest.raises(kra.TileFormatError, match="stored tile"):
        kra.decode_tiles(short, "RGBA")


def test_tiles_in_other_colour_spaces() -> None:
    px16 = np.arange(16 * 4, dtype="<u2").reshape(4, 4, 4)  # B, G, R, A
    arr, origin = kra.decode_tiles(stored_tiles([(-4, 8, px16.tobytes())], 8), "RGBA16")
    assert origin == (-4, 8) and arr.dtype == np.uint16
    assert np.array_equal(arr, px16[..., [2, 1, 0, 3]])
    gray = np.arange(32, dtype=np.uint8).reshape(4, 4, 2)
    arr, _ = kra.decode_tiles(stored_tiles([(0, 0, gray.tobytes())], 2), "GRAYA",
                              default_pixel=b"\x01\x02")
    assert np.array_equal(arr[..., 0], gray[..., 0]) and np.array_equal(arr[..., 3],
                                                                       gray[..., 1])
    half = np.ones((4, 4, 4), "<f2")
    arr, _ = kra.decode_tiles(stored_tiles([(0, 0, half.tobytes()), (8, 0, half.tobytes())],
                                           8), "RGBAF16", default_pixel=b"\0" * 7 + b"\x3c")
    assert arr.dtype == np.float32 and arr.shape == (4, 12, 4)
    assert arr[0, 5, 3] == 1.0 and arr[0, 5, 0] == 0.0  # default pixel fills the gap


def test_kra_corrupt_tile_data(fixture_file, tmp_path: Path) -> None:
    src = fixture_file(KRA)
    bad = rewrite_zip(src, tmp_path / "bad.kra", {"Sample/layers/layer3": b"nonsense"})
    with pytest.raises(InputFileError, match="bad.kra"):
        load_layered(bad)
    with zipfile.ZipFile(src) as z:
        data = bytearray(z.read("Sample/layers/layer3"))
    data[-40:] = b"\xff" * 40  # tile table intact, LZF stream damaged
    dam = rewrite_zip(src, tmp_path / "damaged.kra", {"Sample/layers/layer3": bytes(data)})
    with load_layered(dam) as doc, pytest.raises(InputFileError, match="pistil"):
        doc.decode_layer(next(i.id for i in doc.layers if i.name == "pistil"))
    gone = rewrite_zip(src, tmp_path / "gone.kra", {"Sample/layers/layer3": None})
    with pytest.raises(InputFileError, match="no tile data"):
        load_layered(gone)


def test_kra_masks_other_nodes_and_no_merged_image(fixture_file, tmp_path: Path) -> None:
    src = fixture_file(KRA)
    with zipfile.ZipFile(src) as z:
        xml = z.read("maindoc.xml").decode()
    xml = xml.replace(
        'filename="layer11" channelflags="" uuid="{0e194a61-37b5-4f3d-a90a-0eed4ed37418}"/>',
        'filename="layer11" channelflags="" uuid="{0e194a61-37b5-4f3d-a90a-0eed4ed37418}">'
        '<masks><mask name="m" nodetype="transparencymask" filename="mask1" x="0" y="0"/>'
        '<mask name="s" nodetype="selectionmask" filename="mask2"/></masks></layer>'
        '<layer name="vector" nodetype="shapelayer" filename="layer13" visible="1" '
        'opacity="255" compositeop="normal" x="0" y="0"/>')
    out = rewrite_zip(src, tmp_path / "m.kra", {
        "maindoc.xml": xml.encode(), "mergedimage.png": None,
        "Sample/layers/mask1": stored_tiles([(0, 0, bytes(16))], 1),
        "Sample/layers/layer13.shapelayer/content.svg": b"<svg/>"})
    with load_layered(out) as doc:
        sun = next(i for i in doc.layers if i.name == "sun")
        assert sun.has_mask and sun.mask_hash
        vector = next(i for i in doc.layers if i.name == "vector")
        assert vector.detail == "shapelayer" and vector.pixel_hash
        assert doc.decode_layer(vector.id).shape == (0, 0, 4)
        comp = doc.composite()  # no mergedimage.png: flattened from the layers
        assert comp.dtype == np.float32 and comp.shape == (128, 256, 4)


# --------------------------------------------------------------------------- OpenRaster


def test_ora_from_the_corpus(tmp_path: Path) -> None:
    from benchmarks import corpus

    path = tmp_path / "board.ora"
    corpus._make_ora(path, corpus._rng(0, 2, 0), 40, 30, 4)
    with load_layered(path) as doc:
        assert (doc.format, doc.size, doc.bit_depth) == ("ora", (40, 30), 8)
        assert [i.name for i in doc.layers] == ["Paper", "Flats", "Shade", "Ink"]
        for info in doc.layers:
            assert doc.decode_layer(info.id).shape == (30, 40, 4)
        assert doc.composite().shape == (30, 40, 4)


def test_ora_nested_stacks_offsets_and_16_bit(tmp_path: Path) -> None:
    deep = np.full((3, 4, 4), 40000, np.uint16)
    grey16 = np.full((2, 2), 30000, np.uint16)
    rgb8 = np.full((2, 3, 3), 90, np.uint8)
    xml = """<?xml version='1.0'?>
<image w="8" h="6"><stack>
  <stack name="Sky group" opacity="0.5" visibility="hidden" x="1" y="1">
    <layer name="Sky" src="data/a.png" x="2" y="1" composite-op="svg:multiply"/>
    <layer name="Grey" src="data/g.png" opacity="bad"/>
  </stack>
  <layer name="Ground" src="data/b.png" uuid="abc"/>
</stack></image>"""
    path = write_ora(tmp_path / "n.ora", xml, {"data/a.png": png16_bytes(deep),
                                               "data/g.png": png16_bytes(grey16),
                                               "data/b.png": png_bytes(rgb8)}, merged=False)
    with load_layered(path) as doc:
        assert doc.bit_depth == 16
        names = [(i.path, i.kind) for i in doc.layers]
        assert names == [("Ground", "layer"), ("Sky group", "group"), ("Sky group/Grey", "layer"),
                         ("Sky group/Sky", "layer")]
        ground, group, grey, sky = doc.layers
        assert ground.id == "ora:abc" and sky.parent == group.id
        assert sky.bbox == (3, 2, 7, 5) and sky.blend_mode == "multiply"
        assert group.opacity == 0.5 and not group.visible and grey.opacity == 1.0
        got = doc.decode_layer(sky.id)
        assert got.dtype == np.uint16 and (got == 40000).all()
        g = doc.decode_layer(grey.id)
        assert g.shape == (2, 2, 4) and (g[..., :3] == 30000).all() and (g[..., 3] == 65535).all()
        assert (doc.decode_layer(ground.id)[..., 3] == 255).all()
        assert doc.decode_layer(group.id).shape == (0, 0, 4)
        flat = doc.composite()  # hidden group left out of the flattening
        assert np.allclose(flat[0, 0], [90 / 255, 90 / 255, 90 / 255, 1.0])


def test_ora_16_bit_grey_alpha_and_rgb(tmp_path: Path) -> None:
    from creativevault.formats.layered import _png_rgba

    ga = np.zeros((2, 2, 2), np.uint16)
    ga[..., 0], ga[..., 1] = 10, 20
    assert _png_rgba(png16_bytes(ga))[0, 0].tolist() == [10, 10, 10, 20]
    rgb = np.full((2, 2, 3), 7, np.uint16)
    assert _png_rgba(png16_bytes(rgb))[0, 0].tolist() == [7, 7, 7, 65535]


def test_ora_errors(tmp_path: Path) -> None:
    ok_layer = {"data/a.png": png_bytes(np.zeros((2, 2, 4), np.uint8))}
    cases = {
        "missing.ora": ('<image w="2" h="2"><stack><layer name="L" src="data/zz.png"/>'
                        '</stack></image>', ok_layer, "missing"),
        "noroot.ora": ("<picture/>", ok_layer, "noroot.ora"),
        "nostack.ora": ('<image w="2" h="2"/>', ok_layer, "nostack.ora"),
        "notpng.ora": ('<image w="2" h="2"><stack><layer name="L" src="data/a.png"/>'
                       '</stack></image>', {"data/a.png": b"JFIF" * 10}, "notpng.ora"),
    }
    for name, (xml, files, match) in cases.items():
        with pytest.raises(InputFileError, match=match):
            load_layered(write_ora(tmp_path / name, xml, files))


def test_decode_errors_are_input_file_errors(tmp_path: Path) -> None:
    xml = '<image w="2" h="2"><stack><layer name="L" src="data/a.png"/></stack></image>'
    png = png_bytes(np.zeros((2, 2, 4), np.uint8))
    broken = png[:40] + b"\0" * 30  # IHDR intact, image data not
    doc = load_layered(write_ora(tmp_path / "b.ora", xml, {"data/a.png": broken}))
    with doc, pytest.raises(InputFileError, match="cannot decode layer 'L'"):
        doc.decode_layer(doc.layers[0].id)
    doc = load_layered(write_ora(tmp_path / "c.ora", xml, {"data/a.png": png}))
    doc._compositor = lambda: (_ for _ in ()).throw(OSError("boom"))
    with doc, pytest.raises(InputFileError, match="composite"):
        doc.composite()
    with pytest.raises(KeyError):
        doc.layer("nope")


def test_doc_without_decoder_gives_empty_layers() -> None:
    from creativevault.formats.layered import LayerInfo

    info = LayerInfo("x", "x", "x", 0, (0, 0, 2, 2), 1.0, "normal", True, False, None, "h",
                     "layer")
    doc = LayeredDoc(Path("x"), "ora", (2, 2), 8, [info])
    assert doc.decode_layer("x").shape == (0, 0, 4)
    assert info.to_json()["bbox"] == [0, 0, 2, 2]
    doc.close()


def test_psd_struct_header_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "h.psd"
    bad.write_bytes(b"8BPS" + struct.pack(">H", 9) + b"\0" * 30)
    with pytest.raises(InputFileError, match="h.psd"):
        load_layered(bad)
