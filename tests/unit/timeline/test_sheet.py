"""Contact sheets: grid, captions, sampling and paging with visible skip markers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from creativevault.features.timeline import (
    SheetLayout,
    contact_sheet,
    file_timeline,
    open_catalog,
)
from creativevault.features.timeline.entries import Timeline
from creativevault.features.timeline.sheet import sample
from tests.unit.timeline.kit import build_story, fake_clock


@pytest.fixture
def timeline(vault, monkeypatch) -> Timeline:
    fake_clock(monkeypatch)
    build_story(vault, edits=6)
    return file_timeline(vault, "hero.png")


def test_sample_keeps_first_and_last() -> None:
    assert sample(5, 10) == [0, 1, 2, 3, 4]
    got = sample(500, 12)
    assert got[0] == 0 and got[-1] == 499 and len(got) == 12


def test_sheet_of_a_whole_history(vault, timeline, tmp_path) -> None:
    with open_catalog(vault) as cat:
        out = contact_sheet(timeline, tmp_path / "sheet.png", cat,
                            layout=SheetLayout(columns=4, cell=128))
    im = np.asarray(Image.open(out))
    rows = -(-len(timeline.entries) // 4)
    assert im.shape[1] == 4 * 128 + 5 * 8
    assert im.shape[0] == 26 + rows * (128 + 44) + (rows + 1) * 8
    assert im.std() > 10  # thumbnails and text were drawn


def test_sampled_sheet_has_skip_markers(vault, timeline, tmp_path) -> None:
    with open_catalog(vault) as cat:
        full = contact_sheet(timeline, tmp_path / "full.png", cat,
                             layout=SheetLayout(columns=4, cell=96, max_tiles=50))
        small = contact_sheet(timeline, tmp_path / "small.png", cat,
                              layout=SheetLayout(columns=4, cell=96, max_tiles=4))
        paged = contact_sheet(timeline, tmp_path / "page2.png", cat,
                              layout=SheetLayout(columns=4, cell=96, max_tiles=4), page=2)
    # 11 versions sampled to 4 (banners over the tiles after gaps) = 1 row; full = 3 rows
    assert Image.open(small).size[1] < Image.open(full).size[1]
    banner = np.asarray(Image.open(small))[26 + 8 + 3, 8 + 96 + 8 + 48]
    assert tuple(banner) != (28, 29, 33)  # the second tile follows a gap: a banner
    # page 2 of 4-per-page: a marker before, 4 versions, a marker after = 6 cells, 2 rows
    assert Image.open(paged).size[1] > Image.open(small).size[1]


def test_missing_and_deleted_tiles(vault, timeline, tmp_path) -> None:
    # without a catalog row, a present version still gets a tile ("no thumbnail")
    with open_catalog(vault) as cat:
        cat.delete("thumb:256")
        out = contact_sheet(timeline, tmp_path / "tiles.png", cat)
    assert out.exists()
