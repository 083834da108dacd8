"""The on-disk index: (entry type, key) -> where the entry lives (docs/formats/index.md).

SQLite in WAL mode, so lookups never hold every chunk id in memory, readers never block
the writer, and a crash mid-update rolls back cleanly. Rows are only ever added after the
pack they point into is durable; the index can always be rebuilt from the packs. Each
delta chunk's row names its base, so gc and drop keep bases without reading packs.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from creativevault.errors import DiskFullError, StoreFormatError

__all__ = ["INDEX_SCHEMA_VERSION", "Index", "IndexRow", "Lookup"]

INDEX_SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    type INTEGER NOT NULL,
    key BLOB NOT NULL,
    pack TEXT NOT NULL,
    offset INTEGER NOT NULL,
    stored_len INTEGER NOT NULL,
    plain_len INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    size INTEGER NOT NULL,
    base BLOB,
    PRIMARY KEY (type, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_pack ON entries (pack);
CREATE INDEX IF NOT EXISTS entries_by_base ON entries (base) WHERE base IS NOT NULL;
"""
#: schema 1 -> 2: the base column; schema 1 stores hold no deltas, so NULL is right
_MIGRATE_1_TO_2 = (
    "ALTER TABLE entries ADD COLUMN base BLOB",
    "CREATE INDEX IF NOT EXISTS entries_by_base ON entries (base) WHERE base IS NOT NULL",
    "UPDATE meta SET value='2' WHERE name='schema'",
)


def _volume_full(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent).free < 1024 * 1024
    except OSError:
        return False


@dataclass(frozen=True)
class IndexRow:
    """Where one entry lives. ``size`` is the file size for manifests, else ``plain_len``;
    ``base`` is the key of a delta chunk's base (None for every other entry)."""

    type: int
    key: bytes
    pack: str
    offset: int
    stored_len: int
    plain_len: int
    flags: int
    size: int
    base: bytes | None = None

    def as_tuple(self) -> tuple[int, bytes, str, int, int, int, int, int, bytes | None]:
        """The row in column order."""
        return (self.type, self.key, self.pack, self.offset, self.stored_len,
                self.plain_len, self.flags, self.size, self.base)


def _row(values: tuple) -> IndexRow:
    etype, key, pack, offset, stored_len, plain_len, flags, size, base = values
    return IndexRow(etype, bytes(key), pack, offset, stored_len, plain_len, flags, size,
                    bytes(base) if base is not None else None)


#: ``lookup(type, key)``: a row read inside a running transaction
Lookup = Callable[[int, bytes], "IndexRow | None"]

_COLUMNS = "type, key, pack, offset, stored_len, plain_len, flags, size, base"
_INSERT = "{verb} INTO entries (" + _COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?)"


class Index:
    """One connection to the index database; thread-safe through an internal lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection = None  # type: ignore[assignment]
        try:
            self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._lock:
                version = self._create_or_migrate()
        except sqlite3.DatabaseError as exc:
            if self._db is not None:
                self._db.close()  # never keep a file open on a volume being unmounted
            if isinstance(exc, sqlite3.OperationalError) and _volume_full(path):
                # SQLite must create its -wal/-shm files: on a full volume that is an
                # "I/O error", which is no damage
                raise DiskFullError("the volume holding the store is full; cannot open "
                                    "its index (free some space)", path=path) from exc
            raise StoreFormatError(f"cannot open the store index: {exc}", path=path) from exc
        if version != str(INDEX_SCHEMA_VERSION):
            self._db.close()
            raise StoreFormatError("unknown index schema version", path=path,
                                   expected=INDEX_SCHEMA_VERSION, actual=version)

    def _create_or_migrate(self) -> str:
        """Create the tables of a new index or bring a schema 1 index to schema 2, in
        one transaction; return the schema version found (or made)."""
        db = self._db
        current = self._schema()
        if current == str(INDEX_SCHEMA_VERSION):
            return current  # the usual case: no write lock taken
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta "
                       "(name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            found = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if found is None:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(INDEX_SCHEMA_VERSION),))
                version = str(INDEX_SCHEMA_VERSION)
            elif found[0] == "1":
                for statement in _MIGRATE_1_TO_2:
                    db.execute(statement)
                version = "2"
            else:
                version = str(found[0])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return version

    def _schema(self) -> str | None:
        try:
            found = self._db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        except sqlite3.OperationalError:  # no meta table yet: a new index
            return None
        return None if found is None else str(found[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def get(self, etype: int, key: bytes) -> IndexRow | None:
        """The row for one entry, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE type=? AND key=?", (etype, key)
            ).fetchone()
        return _row(row) if row else None

    def contains(self, etype: int, key: bytes) -> bool:
        """True when the entry is indexed."""
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM entries WHERE type=? AND key=?", (etype, key)
            ).fetchone() is not None

    def get_many(self, etype: int, keys: Iterable[bytes]) -> dict[bytes, IndexRow]:
        """The rows of those of ``keys`` that are indexed, by key (one query per 500 keys:
        a restore looks up a file's chunks at once, not one query per chunk)."""
        found: dict[bytes, IndexRow] = {}
        todo = list(dict.fromkeys(keys))
        for start in range(0, len(todo), 500):
            batch = todo[start:start + 500]
            marks = ",".join("?" * len(batch))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM entries WHERE type=? AND key IN ({marks})",
                    (etype, *batch)).fetchall()
            for values in rows:
                row = _row(values)
                found[row.key] = row
        return found

    def present(self, etype: int, keys: list[bytes]) -> set[bytes]:
        """Which of ``keys`` are indexed."""
        return set(self.get_many(etype, keys))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (rolled back on any exception), serialised by the lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(self, rows: Iterable[IndexRow]) -> None:
        """Insert rows in one transaction; rows already present are kept (INSERT OR IGNORE)."""
        with self._transaction() as db:
            db.executemany(_INSERT.format(verb="INSERT OR IGNORE"),
                           (r.as_tuple() for r in rows))

    def remove(self, etype: int, keys: Iterable[bytes]) -> None:
        """Delete the rows of ``keys`` (one transaction); their bytes stay in the packs."""
        with self._transaction() as db:
            db.executemany("DELETE FROM entries WHERE type=? AND key=?",
                           ((etype, k) for k in keys))

    def replace_pack(self, old_pack: str, moved: Iterable[IndexRow]) -> None:
        """Atomically point ``moved`` rows at their new pack and drop the rest of ``old_pack``."""
        with self._transaction() as db:
            db.executemany(_INSERT.format(verb="INSERT OR REPLACE"),
                           (r.as_tuple() for r in moved))
            db.execute("DELETE FROM entries WHERE pack=?", (old_pack,))

    def rows(self, pack: str | None = None, etype: int | None = None) -> Iterator[IndexRow]:
        """Every row (of one pack and/or type), materialised in pages to bound memory."""
        where: list[str] = []
        args: list[str | int] = []
        if pack is not None:
            where.append("pack=?")
            args.append(pack)
        if etype is not None:
            where.append("type=?")
            args.append(etype)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        last: tuple[int, bytes] = (-1, b"")
        while True:
            page_where = clause + (" AND " if clause else " WHERE ") + "(type, key) > (?, ?)"
            with self._lock:
                page = self._db.execute(
                    f"SELECT {_COLUMNS} FROM entries{page_where} ORDER BY type, key LIMIT 4096",
                    (*args, *last)).fetchall()
            if not page:
                return
            for row in page:
                yield _row(row)
            last = (page[-1][0], page[-1][1])

    def delta_bases(self) -> Iterator[tuple[bytes, bytes]]:
        """``(delta key, base key)`` of every delta chunk, materialised in pages."""
        last = b""
        while True:
            with self._lock:
                page = self._db.execute(
                    "SELECT key, base FROM entries WHERE type=1 AND base IS NOT NULL "
                    "AND key > ? ORDER BY key LIMIT 4096", (last,)).fetchall()
            if not page:
                return
            for key, base in page:
                yield bytes(key), bytes(base)
            last = page[-1][0]

    def packs(self) -> dict[str, int]:
        """Pack name -> number of rows pointing into it."""
        with self._lock:
            return dict(self._db.execute(
                "SELECT pack, COUNT(*) FROM entries GROUP BY pack").fetchall())

    def counts(self) -> tuple[int, int, int]:
        """``(chunks, manifests, logical bytes of all manifests)``."""
        with self._lock:
            chunks = self._db.execute("SELECT COUNT(*) FROM entries WHERE type=1").fetchone()[0]
            files, logical = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM entries WHERE type=2").fetchone()
        return chunks, files, logical

    def replace_all(self, rows: Iterable[IndexRow],
                    then: Callable[[Lookup], Iterable[IndexRow]] | None = None) -> None:
        """Replace the whole index with ``rows`` in one transaction (index rebuild).

        ``then(lookup)``, when given, yields more rows inside the same transaction after
        ``rows`` are in, and may look rows up (``lookup(type, key)``) meanwhile: delta
        entries are checked against bases that may sit in any pack.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM entries")
            db.executemany(_INSERT.format(verb="INSERT OR IGNORE"),
                           (r.as_tuple() for r in rows))
            if then is not None:
                def lookup(etype: int, key: bytes) -> IndexRow | None:
                    row = db.execute(f"SELECT {_COLUMNS} FROM entries WHERE type=? AND key=?",
                                     (etype, key)).fetchone()
                    return _row(row) if row else None

                db.executemany(_INSERT.format(verb="INSERT OR IGNORE"),
                               [r.as_tuple() for r in then(lookup)])
