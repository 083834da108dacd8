"""Fixtures for the store tests: a fresh store and generated creative-like data."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from creativevault.store import ChunkerParams, Store

#: small chunks keep the tests fast while still giving many chunks per file
SMALL_CHUNKS = ChunkerParams.for_average(16 * 1024)


def mixed_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic data mixing random runs with repetitive (compressible) runs."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        n = rng.randint(1_000, 40_000)
        if rng.random() < 0.5:
            out += rng.randbytes(n)
        else:
            out += bytes([rng.randint(0, 255)]) * (n // 2) + bytes(range(256)) * (n // 512)
    return bytes(out[:size])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.init(tmp_path / "cvault", chunker=SMALL_CHUNKS)
    yield s
    s.close()
