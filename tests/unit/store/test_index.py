from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from creativevault.errors import StoreFormatError
from creativevault.store.index import Index, IndexRow


def _row(i: int, pack: str = "p1", etype: int = 1) -> IndexRow:
    return IndexRow(etype, i.to_bytes(32, "big"), pack, 16 + i, 10, 20, 0, 20)


def test_add_get_and_insert_or_ignore(tmp_path: Path) -> None:
    idx = Index(tmp_path / "i.sqlite")
    idx.add([_row(1), _row(2)])
    idx.add([_row(1, pack="other")])  # a concurrent duplicate keeps the first row
    assert idx.get(1, _row(1).key) == _row(1)
    assert idx.get(2, _row(1).key) is None
    assert idx.contains(1, _row(2).key) and not idx.contains(1, _row(3).key)
    assert idx.packs() == {"p1": 2}
    assert idx.counts() == (2, 0, 0)
    idx.close()


def test_rows_are_paged_and_filtered(tmp_path: Path) -> None:
    idx = Index(tmp_path / "i.sqlite")
    idx.add([_row(i, pack=f"p{i % 2}") for i in range(5000)])
    idx.add([_row(1, etype=2)])
    assert len(list(idx.rows())) == 5001
    assert len(list(idx.rows(pack="p0"))) == 2500
    assert [r.type for r in idx.rows(etype=2)] == [2]
    assert idx.counts() == (5000, 1, 20)
    idx.close()


def test_replace_pack_and_replace_all(tmp_path: Path) -> None:
    idx = Index(tmp_path / "i.sqlite")
    idx.add([_row(1), _row(2)])
    moved = IndexRow(1, _row(1).key, "p2", 16, 10, 20, 0, 20)
    idx.replace_pack("p1", [moved])
    assert list(idx.rows()) == [moved]
    idx.replace_all([_row(9)])
    assert list(idx.rows()) == [_row(9)]
    with pytest.raises(AttributeError):
        idx.add([object()])  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        idx.replace_pack("p1", [object()])  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        idx.replace_all([object()])  # type: ignore[list-item]
    assert list(idx.rows()) == [_row(9)]
    idx.close()


def test_unknown_schema_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    Index(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99'")
    db.commit()
    db.close()
    with pytest.raises(StoreFormatError, match="schema"):
        Index(path)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreFormatError):
        Index(bad)
