"""The synthetic benchmark corpus: deterministic, real formats, local edits."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import corpus  # noqa: E402

TINY = corpus.SCALES["tiny"]


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in corpus.iter_files(root)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, corpus.generate_project(root, TINY, seed=7)


def test_same_seed_same_bytes(project: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = project
    again = tmp_path / "again"
    corpus.generate_project(again, TINY, seed=7)
    assert digests(again) == digests(root)


def test_other_seed_other_bytes(project: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = project
    other = tmp_path / "other"
    corpus.generate_project(other, TINY, seed=8)
    a, b = digests(root), digests(other)
    psds = [k for k in a if k.endswith(".psd")]
    assert psds and all(a[k] != b.get(k) for k in psds)


def test_returns_every_file_and_covers_formats(project: tuple[Path, list[Path]]) -> None:
    root, files = project
    assert sorted(files) == list(corpus.iter_files(root))
    suffixes = {p.suffix for p in files}
    assert {".psd", ".ora", ".png", ".tif", ".obj", ".mtl", ".ply", ".glb", ".jpg",
            ".dng"} <= suffixes
    assert 0.5 * TINY < corpus.tree_bytes(root) < 1.5 * TINY


def test_psd_tools_reads_layers(project: tuple[Path, list[Path]]) -> None:
    from psd_tools import PSDImage

    root, files = project
    psds = [p for p in files if p.suffix == ".psd"]
    assert len(psds) >= 2
    for path in psds:
        ours = corpus.read_psd(path)
        psd = PSDImage.open(path)
        layers = list(psd)
        assert (psd.width, psd.height) == (ours.width, ours.height)
        assert [la.name for la in layers] == [la.name for la in ours.layers]
        assert len(layers) >= 5 and layers[0].name == "Background"
        for theirs, mine in zip(layers, ours.layers, strict=True):
            assert theirs.bbox == (mine.left, mine.top, mine.right, mine.bottom)
        pixels = layers[2].numpy()
        assert pixels.shape == (ours.layers[2].height, ours.layers[2].width, 4)
        assert 0 < pixels[..., 3].mean() < 1  # partly transparent, painted layer
        assert psd.numpy().shape == (ours.height, ours.width, 3)


@pytest.mark.parametrize(("depth", "compression"), [(8, 0), (8, 1), (16, 0)])
def test_psd_pixels_round_trip_through_psd_tools(tmp_path: Path, depth: int,
                                                 compression: int) -> None:
    from psd_tools import PSDImage

    path = tmp_path / "doc.psd"
    corpus._make_psd(path, corpus._rng(1, 2), 203, 131, 6, depth, compression)
    corpus._add_psd_layer(path, corpus._rng(1, 3), 5)
    psd = PSDImage.open(path)
    assert psd.depth == depth
    doc = corpus.read_psd(path)
    assert [la.name for la in psd][-1] == "Fix 05"
    for theirs, mine in zip(psd, doc.layers, strict=True):
        ours = corpus._layer_rgba(mine, depth, mine.top, mine.bottom, mine.left, mine.right)
        assert np.array_equal(np.round(theirs.numpy() * 255).astype(np.uint8), ours)


def test_packbits_rows_decode() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(5, 300), dtype=np.uint8)
    a[1] = 9
    a[2, :200] = 0
    data, counts = corpus._packbits_rows(a)
    assert len(data) == int(counts.sum())
    off = np.concatenate([[0], np.cumsum(counts.astype(np.int64))])
    for y in range(5):
        row = corpus._unpackbits(data[off[y] : off[y + 1]], 300)
        assert row == a[y].tobytes()
    assert counts[1] == 3 * 2  # three uniform blocks, 2 bytes each


def test_openraster_layout(project: tuple[Path, list[Path]]) -> None:
    ora = next(p for p in project[1] if p.suffix == ".ora")
    with zipfile.ZipFile(ora) as z:
        infos = z.infolist()
        assert infos[0].filename == "mimetype"
        assert infos[0].compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        names = z.namelist()
        assert {"stack.xml", "mergedimage.png", "Thumbnails/thumbnail.png"} <= set(names)
        assert "data/layer000.png" in z.read("stack.xml").decode()


def test_texture_library_has_forty_percent_duplicates(project: tuple[Path, list[Path]]) -> None:
    textures = [p for p in project[1] if p.suffix in (".png", ".tif")]
    frac = corpus.duplicate_fraction(textures)
    assert 0.3 <= frac <= 0.5
    assert any(p.parts[-3:-1] == ("shotA", "tex") for p in textures)
    assert any(p.parts[-3:-1] == ("textures",) or "library" in p.parts for p in textures)


def test_sixteen_bit_texture_and_raw(project: tuple[Path, list[Path]]) -> None:
    from PIL import Image

    tif = next(p for p in project[1] if p.suffix == ".tif")
    with Image.open(tif) as img:
        assert img.mode.startswith("I;16")
    dng = next(p for p in project[1] if p.suffix == ".dng")
    head = dng.read_bytes()[:8]
    assert head[:4] == b"II*\0"
    jpg = next(p for p in project[1] if p.suffix == ".jpg")
    with Image.open(jpg) as img:
        assert img.getexif().get(0x010F) == "Synthetic"  # Make


def test_pack_bits_12_and_14() -> None:
    v = np.array([0xABC, 0x123], np.uint16)
    assert corpus._pack_bits(v, 12) == bytes([0xAB, 0xC1, 0x23])
    v14 = np.array([0x3FFF, 0, 0x3FFF, 0], np.uint16)
    word = (0x3FFF << 42) | (0x3FFF << 14)
    assert corpus._pack_bits(v14, 14) == word.to_bytes(7, "big")


def test_edit_iteration_is_local(tmp_path: Path) -> None:
    root = tmp_path / "p"
    corpus.generate_project(root, TINY, seed=3)
    before = digests(root)
    changed = corpus.edit_iteration(root, 3, seed=3)  # i % 4 == 3 also adds a layer
    after = digests(root)
    rel = {p.relative_to(root).as_posix() for p in changed}
    assert 4 <= len(rel) <= 8
    assert {k for k in after if before.get(k) != after[k]} == rel
    assert sum(1 for k in rel if k.endswith(".jpg") and k not in before) == 2
    unchanged = [k for k in before if k not in rel]
    assert len(unchanged) >= 0.8 * len(before)


def test_psd_repaint_changes_only_that_layer(tmp_path: Path) -> None:
    path = tmp_path / "doc.psd"
    corpus._make_psd(path, corpus._rng(5, 1), 256, 160, 5, 8, 1)
    before = corpus.read_psd(path)
    corpus._repaint_psd(path, corpus._rng(5, 2))
    after = corpus.read_psd(path)
    changed = [k for k, (a, b) in enumerate(zip(before.layers, after.layers, strict=True))
               if [c.data for c in a.channels] != [c.data for c in b.channels]]
    assert len(changed) == 1
    assert [c.data for c in before.composite] != [c.data for c in after.composite]
    raw = path.read_bytes()
    assert len(raw) > 0.5 * sum(len(c.data) for la in after.layers for c in la.channels)
