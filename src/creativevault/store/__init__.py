"""The sidecar object store: content-defined chunks, packs, index, manifests, locking.

Files are cut into content-defined chunks (FastCDC), addressed by BLAKE3, compressed
with zstd unless already compressed, appended to pack files and indexed in SQLite; a
msgpack manifest keyed by the file's SHA-256 lists its chunks. Writes are crash-safe:
pack data first (temp file, fsync, rename), index rows after.

This layer is a leaf: it imports only the standard library, msgpack, zstandard,
pyfastcdc, blake3 and :mod:`creativevault.errors` / :mod:`creativevault.types`. It knows
nothing of git, never prints, never reads the environment and never exits.
"""

from creativevault.store.chunker import ChunkerParams
from creativevault.store.reports import FsckProblem, FsckReport, GcReport, StoreStats
from creativevault.store.store import Store
from creativevault.store.writer import StoreWriter

__all__ = [
    "ChunkerParams",
    "FsckProblem",
    "FsckReport",
    "GcReport",
    "Store",
    "StoreStats",
    "StoreWriter",
]
