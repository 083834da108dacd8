"""Remotes and sync between places: a vault on a drive path or over SSH.

Push and fetch move only what the other side lacks (stored chunks as they are, then
git objects, then refs), verified on arrival and resumable at any byte; clone, pull,
merge-based reconciliation, ``sync``, and partial content (``get`` / ``drop`` with a
minimum number of verified copies elsewhere) are built on them. May import repo and
store; never the CLI or another feature.
"""

from __future__ import annotations

__all__: list[str] = []
