"""Chunk compression with zstd, skipping content that is already compressed.

Two decisions keep incompressible data cheap: a sniff of a file's first bytes recognises
containers that are already compressed (JPEG, PNG, zip family, camera RAW …) and stores
their chunks raw without trying; any other chunk is compressed and kept raw when zstd
saves less than :data:`MIN_SAVING`. This module is the one place zstandard errors
become :class:`~creativevault.errors.CorruptObjectError`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from creativevault.errors import CorruptObjectError

if TYPE_CHECKING:
    import zstandard

__all__ = [
    "DEFAULT_LEVEL",
    "DELTA_LEVEL",
    "DELTA_MAX_RATIO",
    "MIN_SAVING",
    "Compressor",
    "compress_delta",
    "decompress",
    "decompress_delta",
    "is_precompressed",
]

#: zstd level 1, chosen by measurement (docs/chunk-size.md, "Compression level"): on the
#: shared real fixtures (PSD, BLEND, KRA) in 256 KiB chunks, level 1 compresses at ~660-770
#: MB/s per core against ~400-420 at level 3, for a 3-6 % larger store. Compression is the
#: pipeline's slowest stage, so level 1 is what lets an initial commit approach 300 MB/s.
#: Decompression does not depend on the level: stores mix levels freely.
DEFAULT_LEVEL = 1
#: compressed output must be at least this fraction smaller than the input to be kept
MIN_SAVING = 0.03

# (offset, magic) pairs of formats whose payload is already entropy-coded.
_MAGICS: tuple[tuple[int, bytes], ...] = (
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),  # PNG
    (0, b"PK\x03\x04"),  # zip: KRA, ORA, docx, 3MF, USDZ …
    (0, b"PK\x05\x06"),  # empty zip
    (0, b"\x1f\x8b"),  # gzip
    (0, b"\x28\xb5\x2f\xfd"),  # zstd
    (0, b"7z\xbc\xaf\x27\x1c"),  # 7z
    (0, b"Rar!\x1a\x07"),  # RAR 4/5
    (0, b"BZh"),  # bzip2
    (0, b"\xfd7zXZ\x00"),  # xz
    (0, b"FUJIFILMCCD-RAW"),  # Fuji RAF
    (0, b"IIU\x00"),  # Panasonic RW2
    (0, b"IIRO"),  # Olympus ORF
    (0, b"IIRS"),  # Olympus ORF (older)
    (0, b"MMOR"),  # Olympus ORF (big endian)
    (0, b"\x00\x00\x00\x0cjP  "),  # JPEG 2000
    (0, b"\xff\x4f\xff\x51"),  # JPEG 2000 codestream
    (0, b"\xff\x0a"),  # JPEG XL codestream
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n"),  # JPEG XL container
    (0, b"OggS"),  # Ogg audio/video
    (0, b"fLaC"),  # FLAC
    (0, b"ID3"),  # MP3
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (8, b"CR"),  # Canon CR2 (TIFF header then "CR")
)
# RIFF containers whose payload is compressed (WebP; AVI/WAV are left to the trial).
_RIFF_COMPRESSED = (b"WEBP",)
# ISO BMFF brands (MP4, MOV, HEIF/AVIF, Canon CR3 'crx ') are all compressed payloads.
_FTYP = b"ftyp"

#: bytes of a file's start that :func:`is_precompressed` looks at
SNIFF_BYTES = 16


def is_precompressed(head: bytes | memoryview) -> bool:
    """True when the first bytes of a file name an already-compressed container."""
    head = bytes(head[:SNIFF_BYTES])
    for offset, magic in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return True
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_COMPRESSED:
        return True
    return head[4:8] == _FTYP


class Compressor:
    """Compresses chunks; one instance per thread (zstd contexts are not thread-safe)."""

    def __init__(self, level: int = DEFAULT_LEVEL) -> None:
        self.level = level
        self._local = threading.local()

    def _ctx(self) -> zstandard.ZstdCompressor:
        ctx = getattr(self._local, "ctx", None)
        if ctx is None:
            import zstandard  # imported by the first (de)compression, not by every command

            ctx = zstandard.ZstdCompressor(level=self.level)
            self._local.ctx = ctx
        return ctx

    def compress(self, data: bytes) -> tuple[bytes, bool]:
        """Return ``(stored_bytes, compressed)``: zstd output if it saves enough, else ``data``."""
        if len(data) < 64:
            return data, False
        out = self._ctx().compress(data)
        if len(out) <= len(data) * (1.0 - MIN_SAVING):
            return out, True
        return data, False


_dctx_local = threading.local()


def decompress(data: bytes, plain_len: int, *, where: str = "") -> bytes:
    """Decompress one stored zstd frame of known plain length.

    Raises :class:`CorruptObjectError` if the frame is damaged or its length is wrong.
    """
    import zstandard

    dctx = getattr(_dctx_local, "ctx", None)
    if dctx is None:
        dctx = zstandard.ZstdDecompressor()
        _dctx_local.ctx = dctx
    try:
        out = dctx.decompress(data, max_output_size=plain_len)
    except zstandard.ZstdError as exc:
        raise CorruptObjectError(f"cannot decompress {where or 'entry'}: {exc}") from exc
    if len(out) != plain_len:
        raise CorruptObjectError(
            f"decompressed {where or 'entry'} has the wrong length",
            expected=plain_len,
            actual=len(out),
        )
    return out


# -- deltas (docs/formats/pack.md, "Delta entries") ---------------------------------------

#: Deltas are compressed at level 3: on issue #3's corpus (20 edit iterations), the
#: changed chunks shrink 9 % against their previous versions at level 1, whose small match
#: tables see little of a 256 KiB dictionary, 35 % at level 3, and no more at level 6.
DELTA_LEVEL = 3
#: a delta is kept only when (with its base key) it is below this fraction of the entry
#: stored in full: a delta costs a second read and decompression on restore
DELTA_MAX_RATIO = 0.75


def _raw_dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    import zstandard

    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def compress_delta(data: bytes, base: bytes, level: int = DELTA_LEVEL) -> bytes:
    """One zstd frame of ``data`` that needs ``base``'s bytes (a raw-content dictionary)."""
    import zstandard

    return zstandard.ZstdCompressor(level=level, dict_data=_raw_dictionary(base)).compress(data)


def decompress_delta(frame: bytes, base: bytes, plain_len: int, *, where: str = "") -> bytes:
    """Decode a frame made by :func:`compress_delta` with the same ``base``.

    Raises :class:`CorruptObjectError` if the frame is damaged or its length is wrong.
    """
    import zstandard

    try:
        dctx = zstandard.ZstdDecompressor(dict_data=_raw_dictionary(base))
        out = dctx.decompress(frame, max_output_size=plain_len)
    except zstandard.ZstdError as exc:
        raise CorruptObjectError(f"cannot decode the delta {where or 'entry'}: {exc}") from exc
    if len(out) != plain_len:
        raise CorruptObjectError(f"decoded delta {where or 'entry'} has the wrong length",
                                 expected=plain_len, actual=len(out))
    return out
