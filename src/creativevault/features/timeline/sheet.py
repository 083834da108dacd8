"""Contact sheets: thumbnails in time order with date and short message, in rows.

A long history is sampled evenly (first and last versions always shown) and the tile after
every gap carries a visible banner ("… 9 versions skipped …"), or it is shown one page at
a time with marker tiles for the pages before and after.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from creativevault.features.timeline.build import THUMB_KIND
from creativevault.features.timeline.entries import Timeline, TimelineEntry
from creativevault.features.timeline.thumbnails import placeholder_tile
from creativevault.store.catalog import Catalog

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SheetLayout", "contact_sheet", "sample"]

_BG = (28, 29, 33)
_TEXT = (230, 230, 230)
_DIM = (160, 160, 170)
_BAND = 44
_GAP = 8
_HEADER = 26


class SheetLayout:
    """Grid geometry: ``columns`` cells of ``cell`` pixels, ``max_tiles`` per sheet."""

    def __init__(self, columns: int = 6, cell: int = 192, max_tiles: int = 48) -> None:
        self.columns = max(1, columns)
        self.cell = max(64, cell)
        self.max_tiles = max(3, max_tiles)


def sample(count: int, limit: int) -> list[int]:
    """Up to ``limit`` indices spread evenly over ``range(count)``, first and last kept."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def _tile(entry: TimelineEntry, thumbs: dict[str, bytes], cell: int) -> np.ndarray:
    import io

    import numpy as np
    from PIL import Image

    if entry.content_id is None:
        return placeholder_tile("deleted", entry.path, edge=cell, color=(70, 40, 40))
    if not entry.present:
        return placeholder_tile("missing", "content not in this vault", edge=cell,
                                color=(80, 62, 30))
    data = thumbs.get(entry.thumbnail or "")
    if data is None:
        fmt = entry.facts.format if entry.facts else "unknown format"
        return placeholder_tile("no thumbnail", fmt, edge=cell)
    im = Image.open(io.BytesIO(data)).convert("RGB")
    im.thumbnail((cell, cell))
    out = np.full((cell, cell, 3), _BG, dtype=np.uint8)
    w, h = im.size
    out[(cell - h) // 2:(cell - h) // 2 + h, (cell - w) // 2:(cell - w) // 2 + w] = \
        np.asarray(im)
    return out


def _clip(draw: object, text: str, width: int) -> str:
    measure = draw.textlength  # type: ignore[attr-defined]
    if measure(text) <= width:
        return text
    while text and measure(text + "…") > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(timeline: Timeline, out: str | Path, catalog: Catalog, *,
                  layout: SheetLayout | None = None, page: int | None = None) -> Path:
    """Draw ``timeline`` as a contact sheet PNG at ``out``; returns the path written.

    With ``page`` (1-based) the versions are shown ``max_tiles`` at a time, with markers
    for the pages before and after; otherwise a long history is sampled with a marker in
    every gap.
    """
    from PIL import Image, ImageDraw

    from creativevault.imaging.pictures import save_png

    layout = layout or SheetLayout()
    entries = timeline.entries
    n = len(entries)
    cells: list[tuple[str, object]] = []  # ("entry", TimelineEntry) | ("skip", count)
    skipped_before: dict[int, int] = {}  # cell index -> versions skipped before it
    if page is not None:
        size = layout.max_tiles
        start = max(0, (page - 1) * size)
        chosen = list(range(start, min(n, start + size)))
        if start:
            cells.append(("skip", start))
        cells.extend(("entry", entries[i]) for i in chosen)
        if chosen and chosen[-1] < n - 1:
            cells.append(("skip", n - 1 - chosen[-1]))
    else:
        chosen = sample(n, layout.max_tiles)
        prev = -1
        for i in chosen:
            # a gap is marked by a banner across the next tile (a whole marker tile per
            # gap would fill half the sheet when sampling evenly)
            skipped_before[len(cells)] = i - prev - 1
            cells.append(("entry", entries[i]))
            prev = i
    wanted = [e.thumbnail for _, e in cells
              if isinstance(e, TimelineEntry) and e.thumbnail]
    thumbs = catalog.get_many(THUMB_KIND, wanted)
    cell, cols = layout.cell, layout.columns
    rows = max(1, -(-len(cells) // cols))
    width = cols * cell + (cols + 1) * _GAP
    height = _HEADER + rows * (cell + _BAND) + (rows + 1) * _GAP
    canvas = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(canvas)
    title = f"{timeline.path}: {n} version{'s' if n != 1 else ''}"
    if len(chosen) < n and page is None:
        title += f" ({len(chosen)} shown, evenly sampled; banners mark skipped versions)"
    elif page is not None:
        title += f" (page {page} of {max(1, -(-n // layout.max_tiles))})"
    draw.text((_GAP, 8), title, fill=_TEXT)
    for k, (kind, item) in enumerate(cells):
        x = _GAP + (k % cols) * (cell + _GAP)
        y = _HEADER + _GAP + (k // cols) * (cell + _BAND + _GAP)
        if kind == "skip":
            tile = placeholder_tile("…", f"{item} versions skipped …", edge=cell,
                                    color=(45, 45, 70))
            canvas.paste(Image.fromarray(tile), (x, y))
            continue
        entry: TimelineEntry = item  # type: ignore[assignment]
        canvas.paste(Image.fromarray(_tile(entry, thumbs, cell)), (x, y))
        gap = skipped_before.get(k, 0)
        if gap:
            draw.rectangle([x, y, x + cell - 1, y + 15], fill=(70, 60, 130))
            text = _clip(draw, f"… {gap} version{'s' if gap != 1 else ''} skipped …",
                         cell - 4)
            draw.text((x + (cell - draw.textlength(text)) / 2, y + 2), text, fill=_TEXT)
        date = entry.date[:16].replace("T", " ")
        draw.text((x + 2, y + cell + 3), _clip(draw, f"{date} {entry.branch}", cell - 4),
                  fill=_DIM)
        draw.text((x + 2, y + cell + 16), _clip(draw, entry.subject, cell - 4), fill=_TEXT)
        extra = entry.change.describe() if entry.change else entry.kind
        draw.text((x + 2, y + cell + 29), _clip(draw, extra, cell - 4), fill=_DIM)
    import numpy as np

    return save_png(np.asarray(canvas), Path(out))
