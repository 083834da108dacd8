"""The derived-data catalog: (kind, key) -> bytes, thread-safe, rebuilt when damaged."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from creativevault.store.catalog import CATALOG_SCHEMA_VERSION, Catalog


def test_put_get_and_replace(tmp_path: Path) -> None:
    with Catalog(tmp_path / "cvault" / "catalog.sqlite") as cat:
        assert cat.get("thumb:256", "a") is None
        cat.put("thumb:256", "a", b"\x89PNG one")
        cat.put("thumb:256", "a", b"\x89PNG two")
        cat.put("change:v1", "a:b", b"{}")
        assert cat.get("thumb:256", "a") == b"\x89PNG two"
        assert cat.get("change:v1", "a") is None  # kinds are separate
        assert cat.count() == 2 and cat.count("thumb:256") == 1
    # reopened: values persist, and the schema version is recorded
    with Catalog(tmp_path / "cvault" / "catalog.sqlite") as cat:
        assert cat.get("change:v1", "a:b") == b"{}"
    db = sqlite3.connect(tmp_path / "cvault" / "catalog.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == CATALOG_SCHEMA_VERSION
    db.close()


def test_many_keys_in_batches(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        for i in range(0, 1200, 2):
            cat.put("facts:v1", f"k{i}", str(i).encode())
        keys = [f"k{i}" for i in range(1200)]
        got = cat.get_many("facts:v1", keys + ["k0"])
        assert len(got) == 600 and got["k10"] == b"10"
        assert cat.has_many("facts:v1", keys) == set(got)
        assert cat.get_many("facts:v1", []) == {}


def test_delete_and_clear(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        for k in "abc":
            cat.put("thumb:256", k, b"x")
        cat.put("facts:v1", "a", b"y")
        assert cat.delete("thumb:256", "a") == 1
        assert cat.delete("thumb:256") == 2
        assert cat.count() == 1
        cat.clear()
        assert cat.count() == 0


def test_a_damaged_catalog_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with Catalog(path) as cat:
        assert cat.get("thumb:256", "a") is None
        cat.put("thumb:256", "a", b"v")
        assert cat.get("thumb:256", "a") == b"v"


def test_a_newer_schema_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        cat.put("thumb:256", "a", b"v")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={CATALOG_SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with Catalog(path) as cat:
        assert cat.get("thumb:256", "a") is None  # rebuilt empty, never misread


def test_threads_share_one_catalog(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cat.put("thumb:256", f"{n}-{i}", b"x" * i)
                assert cat.get("thumb:256", f"{n}-{i}") == b"x" * i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cat.count("thumb:256") == 200
    cat.close()
    cat.close()  # closing twice is fine
