from __future__ import annotations

import msgpack
import pytest

from creativevault.errors import CorruptObjectError
from creativevault.store.manifest import Manifest


def test_round_trip_and_layout() -> None:
    m = Manifest(size=30, chunks=((b"a" * 32, 10), (b"b" * 32, 20)))
    raw = m.encode()
    assert msgpack.unpackb(raw) == {"v": 1, "size": 30,
                                    "chunks": [[b"a" * 32, 10], [b"b" * 32, 20]]}
    assert Manifest.decode(raw) == m
    assert Manifest.decode(Manifest(0, ()).encode()) == Manifest(0, ())


@pytest.mark.parametrize("obj", [
    [1, 2],
    {"v": 2, "size": 0, "chunks": []},
    {"v": 1, "size": -1, "chunks": []},
    {"v": 1, "size": 1, "chunks": "x"},
    {"v": 1, "size": 1, "chunks": [[b"short", 1]]},
    {"v": 1, "size": 1, "chunks": [[b"a" * 32, 0]]},
    {"v": 1, "size": 5, "chunks": [[b"a" * 32, 4]]},
])
def test_malformed_manifests_are_corrupt(obj: object) -> None:
    with pytest.raises(CorruptObjectError):
        Manifest.decode(msgpack.packb(obj, use_bin_type=True))


def test_garbage_is_corrupt() -> None:
    with pytest.raises(CorruptObjectError):
        Manifest.decode(b"\xc1\xc1\xc1")
