from __future__ import annotations

import importlib.machinery
import io
import sys

import pytest

from creativevault.errors import StoreFormatError
from creativevault.store import chunker
from creativevault.store.chunker import DEFAULT_PARAMS, ChunkerParams, iter_chunks

from .conftest import mixed_bytes


def test_compiled_fastcdc_is_the_one_in_use() -> None:
    cls = chunker.FastCDC
    assert cls.__module__.startswith("pyfastcdc.cy")
    module_file = sys.modules[cls.__module__].__file__
    assert module_file is not None
    assert module_file.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert isinstance(DEFAULT_PARAMS.make(), cls)


def test_params_round_trip_through_json() -> None:
    params = ChunkerParams.for_average(128 * 1024)
    assert params.min_size == 32 * 1024 and params.max_size == 512 * 1024
    assert ChunkerParams.from_json(params.to_json()) == params


@pytest.mark.parametrize("bad", [
    {},
    {"algorithm": "rabin", "avg_size": 1024, "min_size": 256, "max_size": 4096,
     "normalized_chunking": 1},
    {"algorithm": "fastcdc2020", "avg_size": 10, "min_size": 256, "max_size": 4096,
     "normalized_chunking": 1},
    {"algorithm": "fastcdc2020", "avg_size": "x", "min_size": 256, "max_size": 4096,
     "normalized_chunking": 1},
])
def test_bad_params_are_a_format_error(bad: dict[str, object]) -> None:
    with pytest.raises(StoreFormatError):
        ChunkerParams.from_json(bad)


def test_chunks_respect_bounds_and_cover_the_stream() -> None:
    params = ChunkerParams.for_average(4096)
    data = mixed_bytes(300_000, seed=3)
    pieces = [bytes(v) for v in iter_chunks(io.BytesIO(data), params)]
    assert b"".join(pieces) == data
    assert all(len(p) <= params.max_size for p in pieces)
    assert all(len(p) >= params.min_size for p in pieces[:-1])


def test_empty_stream_has_no_chunks() -> None:
    assert list(iter_chunks(io.BytesIO(b""), DEFAULT_PARAMS)) == []
