"""The layered-document differ: layer matching, per-layer changes, composite, pictures."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from creativevault.errors import InputFileError
from creativevault.features.diff.layered import LayeredDiffer, match_layers, moved_layers
from creativevault.features.diff.report import DiffOptions
from creativevault.formats.layered import LayeredDoc, LayerInfo

KRA = "krita/example_RGBA.kra"


# --------------------------------------------------------------------------- helpers


def _solid(h: int, w: int, rgb: tuple[int, int, int]) -> np.ndarray:
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3], out[..., 3] = rgb, 255
    return out


def base_layers() -> list[dict]:
    return [
        {"name": "Background", "rgba": _solid(40, 60, (200, 200, 200)), "top": 0, "left": 0},
        {"name": "Sky", "rgba": _solid(10, 60, (80, 120, 250)), "top": 0, "left": 0},
        {"name": "Tree", "rgba": _solid(20, 10, (30, 140, 40)), "top": 15, "left": 20},
        {"name": "Sun", "rgba": _solid(6, 6, (250, 220, 40)), "top": 2, "left": 45},
    ]


def write_psd(path: Path, layers: list[dict]) -> Path:
    """A small 8-bit RLE PSD (no layer ids) made with the benchmark corpus writer."""
    from benchmarks import corpus

    doc = corpus.PsdDocument(60, 40, 8)
    acc = np.zeros((40, 60, 3), np.float32)
    for spec in layers:
        layer = corpus._layer_from_pixels(spec["name"], spec["rgba"], spec["top"],
                                          spec["left"], 8, 1)
        layer.opacity = spec.get("opacity", 255)
        layer.visible = spec.get("visible", True)
        doc.layers.append(layer)
        if layer.visible:
            h, w = spec["rgba"].shape[:2]
            corpus._over(acc[spec["top"]:spec["top"] + h, spec["left"]:spec["left"] + w],
                         spec["rgba"], layer.opacity / 255)
    merged = np.clip(acc + 0.5, 0, 255).astype(np.uint8)
    doc.composite = [corpus._encode_channel(c, merged[..., c], 1) for c in range(3)]
    corpus.write_psd(path, doc)
    return path


@pytest.fixture
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every LayeredDoc.decode_layer call, by layer name."""
    calls: list[str] = []
    real = LayeredDoc.decode_layer

    def counting(self: LayeredDoc, layer_id: str):
        calls.append(self.layer(layer_id).name)
        return real(self, layer_id)

    monkeypatch.setattr(LayeredDoc, "decode_layer", counting)
    return calls


def diff(a: Path | None, b: Path | None, out: Path | None = None, name: str = "art/scene.psd"):
    return LayeredDiffer().diff(a, b, name, DiffOptions(out_dir=out))


def part(result, name: str):
    return next(p for p in result.parts if p.kind == "layer" and
                (p.figures["b"] or p.figures["a"])["name"] == name)


def rewrite_zip(src: Path, dest: Path, changes: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    zout.writestr(info, changes[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
    return dest


# --------------------------------------------------------------------------- PSD


def test_only_changed_layers_are_decoded(tmp_path: Path, count_decodes: list[str]) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    layers = base_layers()
    layers[2]["rgba"][5:9, 2:6, :3] = (200, 0, 0)  # paint on the tree
    layers[1]["opacity"] = 204  # sky to 80%
    layers[3]["visible"] = False  # hide the sun
    b = write_psd(tmp_path / "b.psd", layers)
    result = diff(a, b)
    assert sorted(count_decodes) == ["Tree", "Tree"]
    assert result.status == "modified"
    assert result.summary == ["layered: 4 layers -> 4 layers; 3 modified"]
    tree = part(result, "Tree")
    assert tree.summary == ["layer 'Tree' (Tree): pixels changed 8.0% in 1 region "
                            "[22,20,26,24]"]
    assert tree.figures["pixels"]["changed_pixels"] == 16
    assert tree.figures["pixels"]["regions"] == [
        {"x0": 22, "y0": 20, "x1": 26, "y1": 24, "pixels": 16}]
    assert part(result, "Sky").summary == ["layer 'Sky' (Sky): opacity 100%->80%"]
    assert part(result, "Sun").summary == ["layer 'Sun' (Sun): visible->hidden"]
    composite = result.parts[-1]
    assert composite.kind == "composite" and composite.status == "modified"
    assert result.figures["decoded_layers"] == 1
    assert result.to_json()["parts"][-1]["figures"]["changed_pixels"] > 0


def test_identical_documents(tmp_path: Path, count_decodes: list[str]) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    result = diff(a, a)
    assert result.status == "unchanged" and count_decodes == []
    assert result.summary == ["layered: 4 layers -> 4 layers; no layer changed"]
    assert result.parts[-1].summary == ["composite: unchanged"]


def test_rename_and_move_without_layer_ids(tmp_path: Path, count_decodes: list[str]) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    layers = base_layers()
    layers[2]["name"] = "Oak"  # rename: matched by identical pixels
    layers[1], layers[3] = layers[3], layers[1]  # swap Sky and Sun in the stack
    b = write_psd(tmp_path / "b.psd", layers)
    result = diff(a, b)
    assert count_decodes == []
    assert part(result, "Oak").status == "renamed"
    assert part(result, "Oak").summary == ["layer 'Oak' (Oak): renamed 'Tree'->'Oak'"]
    moved = sorted(p.summary[0] for p in result.parts if p.status == "moved")
    assert moved == ["layer 'Sky' (Sky): moved 1->3", "layer 'Sun' (Sun): moved 3->1"]
    assert result.summary[0].endswith("1 renamed, 2 moved")


def test_added_and_removed_layers_with_pictures(tmp_path: Path,
                                                count_decodes: list[str]) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    layers = base_layers()
    del layers[3]  # Sun removed
    layers.append({"name": "Bird", "rgba": _solid(3, 5, (0, 0, 0)), "top": 5, "left": 5})
    b = write_psd(tmp_path / "b.psd", layers)
    out = tmp_path / "pics"
    result = diff(a, b, out)
    assert part(result, "Bird").status == "added"
    assert part(result, "Bird").summary == ["layer 'Bird' (Bird): added at 3, 5x3 px [5,5,10,8]"]
    assert part(result, "Sun").status == "removed"
    assert result.summary[0] == "layered: 4 layers -> 4 layers; 1 added, 1 removed"
    names = sorted(p.path.name for p in result.pictures)
    assert names == ["scene.composite.png", "scene.layer-01-Bird.png",
                     "scene.layer-02-Sun.png"]
    assert all(p.path.is_file() for p in result.pictures)
    assert sorted(count_decodes) == ["Bird", "Sun"]


def test_layer_pictures_show_a_b_and_heat(tmp_path: Path) -> None:
    from PIL import Image

    a = write_psd(tmp_path / "a.psd", base_layers())
    layers = base_layers()
    layers[0]["rgba"][30:35, 40:50, :3] = 0
    b = write_psd(tmp_path / "b.psd", layers)
    result = diff(a, b, tmp_path / "out")
    pic = next(p for p in result.pictures if p.role == "layer:Background").path
    assert pic.name == "scene.layer-01-Background.png"
    with Image.open(pic) as img:
        assert img.size[0] >= 3 * 60 and img.size[1] >= 40
    heat = np.asarray(Image.open(pic))[18:, 2 * (60 + 8):]  # third panel, below the labels
    assert heat[32, 45].max() > 200 and heat[5, 5].max() == 0


def test_real_psd_edited_with_psd_tools(fixture_file, tmp_path: Path,
                                        count_decodes: list[str]) -> None:
    """Layer ids (lyid) keep the identity through a rename and a move."""
    from psd_tools import PSDImage
    from psd_tools.constants import BlendMode

    src = fixture_file("psd/layer_comps.psd")
    psd = PSDImage.open(src)
    layers = {layer.name: layer for layer in psd.descendants()}
    layers["Фигура 1"].name = "Face"
    layers["Фигура 1"].blend_mode = BlendMode.MULTIPLY
    layers["Фигура 6"].visible = True
    layers["Eye Left"].move_up()
    psd.save(tmp_path / "b.psd")
    result = diff(src, tmp_path / "b.psd", name="comps.psd")
    face = part(result, "Face")
    assert face.status == "modified"
    assert face.summary == ["layer 'Face' (Face): blend normal->multiply; renamed "
                            "'Фигура 1'->'Face'"]
    assert part(result, "Фигура 6").summary[0].endswith("hidden->visible")
    assert any(p.status == "moved" for p in result.parts)
    assert not any(p.status in ("added", "removed") for p in result.parts)
    assert count_decodes == []


def test_real_psd_mask_removed(fixture_file, tmp_path: Path) -> None:
    from psd_tools import PSDImage

    src = fixture_file("psd/masks.psd")
    psd = PSDImage.open(src)
    next(la for la in psd.descendants() if la.name == "email").remove_mask()
    psd.save(tmp_path / "b.psd")
    result = diff(src, tmp_path / "b.psd")
    assert part(result, "email").summary == [
        "layer 'email' (Footer/Social/email): mask removed"]


def test_one_side_absent(tmp_path: Path) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    added = diff(None, a, tmp_path / "out")
    assert added.status == "added"
    assert added.summary == ["layered: new PSD document, 60x40, 8-bit, 4 layers"]
    assert [p.path.name for p in added.pictures] == ["scene.composite.png"]
    deleted = diff(a, None)
    assert deleted.status == "deleted" and len(deleted.figures["layers"]) == 4
    assert diff(None, None).summary == ["layered: both versions absent"]


def test_corrupt_side_raises_naming_the_file(tmp_path: Path) -> None:
    a = write_psd(tmp_path / "a.psd", base_layers())
    bad = tmp_path / "bad.psd"
    bad.write_bytes(a.read_bytes()[:300])
    with pytest.raises(InputFileError, match="bad.psd"):
        diff(a, bad)


def test_accepts() -> None:
    d = LayeredDiffer()
    assert d.kind == "layered"
    assert d.accepts("x.psd", b"8BPS\x00\x01") and d.accepts("x.kra", b"PK\x03\x04")
    assert not d.accepts("x.png", b"\x89PNG\r\n\x1a\n")


def test_registry_puts_layered_before_raster() -> None:
    from creativevault.features.diff import registry

    specs = list(registry.BUILTIN)
    mine = "creativevault.features.diff.layered:LayeredDiffer"
    assert mine in specs
    raster = [s for s in specs if "raster" in s]
    if raster:
        assert specs.index(mine) < specs.index(raster[0])


# --------------------------------------------------------------------------- Krita, ORA


def test_kra_edits(fixture_file, tmp_path: Path, count_decodes: list[str]) -> None:
    src = fixture_file(KRA)
    with zipfile.ZipFile(src) as z:
        xml = z.read("maindoc.xml").decode()
        sun_tiles = z.read("Sample/layers/layer11")
    ground = next(line for line in xml.splitlines() if 'name="ground"' in line)
    clouds = next(line for line in xml.splitlines() if 'name="clouds"' in line)
    xml = xml.replace(ground, "@G@").replace(clouds, ground).replace("@G@", clouds)
    xml = xml.replace('name="leaf"', 'name="leaf 2"')
    sun_line = next(line for line in xml.splitlines() if 'name="sun"' in line)
    xml = xml.replace(sun_line, sun_line.replace('opacity="255"', 'opacity="128"')
                      .replace('compositeop="normal"', 'compositeop="multiply"'))
    b = rewrite_zip(src, tmp_path / "b.kra", {"maindoc.xml": xml.encode(),
                                              "Sample/layers/layer3": sun_tiles})
    result = diff(src, b, tmp_path / "out", name="flower.kra")
    assert result.summary[0] == "layered: 11 layers -> 11 layers; 2 modified, 1 renamed, 1 moved"
    assert part(result, "sun").summary == ["layer 'sun' (sun): opacity 100%->50%; "
                                           "blend normal->multiply"]
    pistil = part(result, "pistil")
    assert pistil.status == "modified" and "pixels changed" in pistil.summary[0]
    assert part(result, "leaf 2").summary == [
        "layer 'leaf 2' (flower/leaf 2): renamed 'leaf'->'leaf 2'"]
    assert sorted(count_decodes) == ["pistil", "pistil"]
    assert (tmp_path / "out" / "flower.layer-04-pistil.png").is_file()
    assert result.parts[-1].summary == ["composite: unchanged"]  # mergedimage.png kept


def test_ora_edits(tmp_path: Path, count_decodes: list[str]) -> None:
    from benchmarks import corpus

    a = tmp_path / "a.ora"
    corpus._make_ora(a, corpus._rng(0, 2, 0), 40, 30, 4)
    with zipfile.ZipFile(a) as z:
        xml = z.read("stack.xml").decode()
        ink = z.read("data/layer003.png")
    xml = xml.replace('name="Shade" src="data/layer002.png" x="0" y="0" opacity="1.000" '
                      'visibility="visible"',
                      'name="Shade" src="data/layer002.png" x="0" y="0" opacity="0.500" '
                      'visibility="hidden"')
    b = rewrite_zip(a, tmp_path / "b.ora", {"stack.xml": xml.encode(),
                                            "data/layer001.png": ink})
    result = diff(a, b, name="board.ora")
    assert part(result, "Shade").summary == ["layer 'Shade' (Shade): opacity 100%->50%; "
                                             "visible->hidden"]
    assert "pixels changed" in part(result, "Flats").summary[0]
    assert sorted(count_decodes) == ["Flats", "Flats"]


def test_canvas_change_and_reencoded_pixels(tmp_path: Path) -> None:
    """Same pixels stored differently: decoded, found identical, not reported."""
    from benchmarks import corpus

    a = tmp_path / "a.ora"
    corpus._make_ora(a, corpus._rng(0, 2, 0), 40, 30, 2)
    with zipfile.ZipFile(a) as z:
        xml = z.read("stack.xml").decode()
        png = z.read("data/layer000.png")
    import io

    from PIL import Image

    arr = np.asarray(Image.open(io.BytesIO(png)))
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=0)
    xml = xml.replace('w="40" h="30"', 'w="44" h="30"')
    b = rewrite_zip(a, tmp_path / "b.ora", {"stack.xml": xml.encode(),
                                            "data/layer000.png": buf.getvalue()})
    result = diff(a, b, name="x.ora")
    assert result.summary[0].endswith("no layer changed; canvas 40x30 -> 44x30")
    assert result.status == "modified"


def test_matching_and_moves_helpers() -> None:
    def info(i: str, index: int, h: str | None = "h", kind: str = "layer") -> LayerInfo:
        return LayerInfo(i, i, i, index, (0, 0, 1, 1), 1.0, "normal", True, False, None,
                         h and f"{h}{i}", kind)

    a = [info("a", 0), info("b", 1), info("c", 2), info("d", 3)]
    b = [info("b", 0), info("c", 1), info("d", 2), info("a", 3)]
    pairs, left, right = match_layers(a, b)
    assert len(pairs) == 4 and not left and not right
    assert moved_layers(pairs) == {"a"}
    assert moved_layers([]) == set()
    from creativevault.features.diff.layered import _moved_fast

    assert _moved_fast(sorted(pairs, key=lambda p: p[0].index)) == {"a"}
    same_pixels = [LayerInfo("x1", "x", "x", 0, (0, 0, 1, 1), 1.0, "normal", True, False,
                             None, "P", "layer")]
    twin = [LayerInfo("y1", "y", "y", 0, (0, 0, 1, 1), 1.0, "normal", True, False, None,
                      "P", "layer")] * 2
    pairs, left, right = match_layers(same_pixels, twin)  # ambiguous: not paired
    assert not pairs and len(left) == 1 and len(right) == 2
