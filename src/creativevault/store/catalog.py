"""The derived-data catalog: (kind, key) -> bytes, computed once per content.

Thumbnails, change figures, image facts and other data derived from stored content live
in one SQLite file (``.git/cvault/catalog.sqlite``, docs/formats/catalog.md). The catalog
is never a source of truth: a missing, damaged or newer-versioned file is simply set
aside and rebuilt empty, and every row can be recomputed from the content it describes.
Kinds name what a value is and carry their own version (``thumb:256``, ``change:v1``);
keys are content ids (``<file id>``, ``<id A>:<id B>``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CATALOG_SCHEMA_VERSION", "Catalog"]

#: the ``PRAGMA user_version`` a catalog file carries
CATALOG_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS derived (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""
#: SQLite binds at most 999 variables per statement in old builds
_BATCH = 500


class Catalog:
    """A thread-safe derived-data cache in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # -- opening -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:
                # damaged or from a newer cvault: derived data is rebuildable, so set it
                # aside rather than fail the command that wanted a thumbnail
                self._discard()
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, CATALOG_SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"catalog schema {version}")
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={CATALOG_SCHEMA_VERSION}")
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(str(self.path) + suffix).unlink()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------
    def get(self, kind: str, key: str) -> bytes | None:
        """The value stored for ``(kind, key)``, or ``None``."""
        with self._lock:
            row = self._connect().execute(
                "SELECT value FROM derived WHERE kind=? AND key=?", (kind, key)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The values present for ``keys`` of one kind (absent keys are left out)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, bytes] = {}
        with self._lock:
            db = self._connect()
            for i in range(0, len(wanted), _BATCH):
                part = wanted[i:i + _BATCH]
                marks = ",".join("?" * len(part))
                for key, value in db.execute(
                        f"SELECT key, value FROM derived WHERE kind=? AND key IN ({marks})",
                        (kind, *part)):
                    out[key] = bytes(value)
        return out

    def has_many(self, kind: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` have a value of ``kind`` (values are not read)."""
        wanted = list(dict.fromkeys(keys))
        out: set[str] = set()
        with self._lock:
            db = self._connect()
            for i in range(0, len(wanted), _BATCH):
                part = wanted[i:i + _BATCH]
                marks = ",".join("?" * len(part))
                out.update(k for (k,) in db.execute(
                    f"SELECT key FROM derived WHERE kind=? AND key IN ({marks})",
                    (kind, *part)))
        return out

    def count(self, kind: str | None = None) -> int:
        """How many rows (of one kind, or all)."""
        with self._lock:
            db = self._connect()
            if kind is None:
                return int(db.execute("SELECT COUNT(*) FROM derived").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM derived WHERE kind=?",
                                  (kind,)).fetchone()[0])

    # -- writing -----------------------------------------------------------------------
    def put(self, kind: str, key: str, value: bytes) -> None:
        """Store (or replace) the value for ``(kind, key)``."""
        with self._lock:
            db = self._connect()
            db.execute("INSERT OR REPLACE INTO derived (kind, key, value, created) "
                       "VALUES (?,?,?,?)", (kind, key, sqlite3.Binary(value), time.time()))
            db.commit()

    def delete(self, kind: str, key: str | None = None) -> int:
        """Remove one row, or every row of ``kind``; returns how many went."""
        with self._lock:
            db = self._connect()
            if key is None:
                cur = db.execute("DELETE FROM derived WHERE kind=?", (kind,))
            else:
                cur = db.execute("DELETE FROM derived WHERE kind=? AND key=?", (kind, key))
            db.commit()
            return cur.rowcount

    def clear(self) -> None:
        """Forget everything (the catalog is rebuilt as values are asked for again)."""
        with self._lock:
            db = self._connect()
            db.execute("DELETE FROM derived")
            db.commit()
