from __future__ import annotations

import os

import pytest

from creativevault.errors import CorruptObjectError
from creativevault.store.compression import (
    Compressor,
    compress_delta,
    decompress,
    decompress_delta,
    is_precompressed,
)


@pytest.mark.parametrize("head", [
    b"\xff\xd8\xff\xe0\x00\x10JFIF",
    b"\x89PNG\r\n\x1a\n\x00\x00",
    b"PK\x03\x04\x14\x00",  # KRA / ORA / docx
    b"\x1f\x8b\x08\x00",
    b"\x28\xb5\x2f\xfd\x00",
    b"7z\xbc\xaf\x27\x1c\x00",
    b"Rar!\x1a\x07\x01\x00",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x00\x18ftypcrx \x00\x00",  # Canon CR3
    b"\x00\x00\x00\x20ftypqt  ",  # MOV
    b"FUJIFILMCCD-RAW 0201",
    b"IIU\x00\x18\x00\x00\x00",  # Panasonic RW2
    b"IIRO\x08\x00\x00\x00",  # Olympus ORF
    b"II*\x00\x10\x00\x00\x00CR\x02\x00",  # Canon CR2
])
def test_precompressed_containers_are_recognised(head: bytes) -> None:
    assert is_precompressed(head)


@pytest.mark.parametrize("head", [b"8BPS\x00\x01", b"II*\x00\x08\x00\x00\x00", b"", b"RIFFxxxxWAVE"])
def test_raw_formats_are_not_precompressed(head: bytes) -> None:
    assert not is_precompressed(head)


def test_compressible_data_is_compressed_and_round_trips() -> None:
    data = bytes(range(256)) * 400
    stored, compressed = Compressor().compress(data)
    assert compressed and len(stored) < len(data)
    assert decompress(stored, len(data)) == data


def test_incompressible_and_tiny_data_stay_raw() -> None:
    comp = Compressor()
    data = os.urandom(100_000)
    assert comp.compress(data) == (data, False)
    assert comp.compress(b"abc") == (b"abc", False)


def test_damaged_frame_is_corrupt_object() -> None:
    data = bytes(range(256)) * 400
    stored, _ = Compressor().compress(data)
    with pytest.raises(CorruptObjectError):
        decompress(stored[:-5] + b"\x00" * 5, len(data))
    with pytest.raises(CorruptObjectError):
        decompress(b"not zstd at all", 10)
    with pytest.raises(CorruptObjectError, match="wrong length"):
        decompress(stored, len(data) + 1)


def test_a_delta_needs_its_base_and_round_trips_with_it() -> None:
    base = os.urandom(200_000)  # incompressible on its own ...
    data = base[:90_000] + b"repainted" * 50 + base[90_450:]
    frame = compress_delta(data, base)
    assert len(frame) < 2_000  # ... but nearly free against its base
    assert decompress_delta(frame, base, len(data)) == data
    with pytest.raises(CorruptObjectError, match="wrong length"):
        decompress_delta(frame, base, len(data) + 1)
    with pytest.raises(CorruptObjectError, match="cannot decode"):
        decompress_delta(b"garbage" * 10, base, len(data))
    other = os.urandom(200_000)
    try:
        wrong = decompress_delta(frame, other, len(data))
    except CorruptObjectError:
        return
    assert wrong != data  # another base gives other bytes: the BLAKE3 check catches it
