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


def test_get_many_looks_up_in_batches(tmp_path: Path) -> None:
    idx = Index(tmp_path / "i.sqlite")
    idx.add([_row(i) for i in range(1200)])
    idx.add([_row(5000, etype=2)])
    keys = [_row(i).key for i in range(0, 1300, 1)] + [_row(7).key]  # 100 absent, 1 twice
    found = idx.get_many(1, keys)
    assert found == {_row(i).key: _row(i) for i in range(1200)}
    assert idx.get_many(1, [_row(5000).key]) == {}  # another type
    assert idx.get_many(2, iter([_row(5000).key])) == {_row(5000).key: _row(5000, etype=2)}
    assert idx.get_many(1, []) == {}
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


_SCHEMA_1 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (type INTEGER NOT NULL, key BLOB NOT NULL, pack TEXT NOT NULL,
    offset INTEGER NOT NULL, stored_len INTEGER NOT NULL, plain_len INTEGER NOT NULL,
    flags INTEGER NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (type, key)) WITHOUT ROWID;
CREATE INDEX entries_by_pack ON entries (pack);
INSERT INTO meta VALUES ('schema', '1');
"""


def test_a_schema_1_index_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_1)
    db.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?)", _row(1).as_tuple()[:8])
    db.commit()
    db.close()
    idx = Index(path)
    assert idx.get(1, _row(1).key) == _row(1)  # base NULL: schema 1 stores hold no deltas
    delta = IndexRow(1, b"d" * 32, "p1", 99, 10, 20, 2, 20, _row(1).key)
    idx.add([delta])
    assert idx.get(1, b"d" * 32) == delta
    assert list(idx.delta_bases()) == [(b"d" * 32, _row(1).key)]
    idx.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE name='schema'").fetchone() == ("2",)
    db.close()
    Index(path).close()  # a second open finds schema 2 and changes nothing


def test_delta_bases_are_listed_in_pages(tmp_path: Path) -> None:
    idx = Index(tmp_path / "i.sqlite")
    rows = [IndexRow(1, i.to_bytes(32, "big"), "p", i, 1, 1, 2, 1, b"b" * 32)
            for i in range(5000)]
    idx.add([*rows, _row(9_999)])
    assert len(list(idx.delta_bases())) == 5000
    idx.close()
