"""Properties of the store's chunking: determinism, byte-exact round trips, edit locality."""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creativevault.store import ChunkerParams, Store
from creativevault.store.chunker import iter_chunks

PARAMS = ChunkerParams.for_average(8 * 1024)
PROFILE = settings(derandomize=True, max_examples=25, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def generated(seed: int, size: int) -> bytes:
    """Random runs mixed with repetitive runs, reproducible from ``seed``."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        n = rng.randint(500, 30_000)
        out += rng.randbytes(n) if rng.random() < 0.6 else bytes([rng.randint(0, 255)]) * n
    return bytes(out[:size])


class Trickle(io.RawIOBase):
    """A stream returning short reads of varying size."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._step, len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


def cuts(data: bytes, stream: io.RawIOBase | None = None) -> list[bytes]:
    return [bytes(v) for v in iter_chunks(stream or io.BytesIO(data), PARAMS)]  # type: ignore[arg-type]


@PROFILE
@given(seed=st.integers(0, 2**32), size=st.integers(0, 400_000), step=st.integers(1, 70_000))
def test_chunking_is_deterministic_whatever_the_read_sizes(seed: int, size: int,
                                                           step: int) -> None:
    data = generated(seed, size)
    first = cuts(data)
    assert b"".join(first) == data
    assert cuts(data) == first
    assert cuts(data, Trickle(data, step)) == first


@PROFILE
@given(seed=st.integers(0, 2**32), size=st.integers(0, 300_000))
def test_store_round_trip_is_byte_exact(seed: int, size: int) -> None:
    data = generated(seed, size)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.init(Path(tmp) / "cvault", chunker=PARAMS)
        with store.writer() as w:
            stored = w.put_bytes(data)
        assert stored.file_id == hashlib.sha256(data).hexdigest()
        out = io.BytesIO()
        assert store.write_file_to(stored.file_id, out) == size
        assert out.getvalue() == data
        store.close()


@PROFILE
@given(seed=st.integers(0, 2**32), where=st.floats(0.2, 0.8), edit=st.binary(min_size=1, max_size=64),
       insert=st.booleans())
def test_a_local_edit_changes_only_nearby_chunks(seed: int, where: float, edit: bytes,
                                                 insert: bool) -> None:
    data = generated(seed, 2_000_000)
    pos = int(len(data) * where)
    changed = (data[:pos] + edit + data[pos:]) if insert else (
        data[:pos] + edit + data[pos + len(edit):])
    before, after = cuts(data), cuts(changed)
    new = set(after) - set(before)
    assert len(before) > 100
    assert len(new) <= 4, f"{len(new)} of {len(after)} chunks changed"
