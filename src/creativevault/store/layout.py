"""A cheap look at a store folder: is it a cvault store this version can use?

:meth:`Store.open <creativevault.store.store.Store.open>` makes the full check (chunker
settings, the SQLite index) and needs zstd, BLAKE3, FastCDC and SQLite loaded; a vault
whose command may never touch the store (a no-change ``add`` or ``commit``, ``status``)
makes this check when it opens and the full one when the store is first used. Both raise
the same :class:`StoreFormatError` for the same ``store.json``. Imports only the standard
library.
"""

from __future__ import annotations

import json
from pathlib import Path

from creativevault.errors import StoreFormatError

__all__ = ["STORE_FORMAT", "STORE_VERSION", "check_layout"]

#: the ``format`` and ``version`` of ``store.json`` (also exported by ``store.store``)
STORE_FORMAT = "cvault-store"
STORE_VERSION = 1


def check_layout(root: Path) -> dict[str, object]:
    """Return the parsed ``store.json`` of the store at ``root``; raise
    :class:`StoreFormatError` when it is missing or unreadable, of another format or
    version, or when there is no ``packs/`` folder. :meth:`Store.open` checks through this."""
    root = Path(root)
    config = root / "store.json"
    try:
        body = json.loads(config.read_bytes())
    except FileNotFoundError as exc:
        raise StoreFormatError("not a cvault store (store.json missing)", path=root) from exc
    except (OSError, ValueError) as exc:
        raise StoreFormatError(f"unreadable store.json: {exc}", path=config) from exc
    if not isinstance(body, dict) or body.get("format") != STORE_FORMAT:
        raise StoreFormatError("not a cvault store", path=config, field="format",
                               expected=STORE_FORMAT,
                               actual=body.get("format") if isinstance(body, dict) else None)
    if body.get("version") != STORE_VERSION:
        raise StoreFormatError("unsupported store version; upgrade cvault", path=config,
                               field="version", expected=STORE_VERSION,
                               actual=body.get("version"))
    if not (root / "packs").is_dir():
        raise StoreFormatError("store layout is incomplete (packs/ missing)", path=root)
    return body
