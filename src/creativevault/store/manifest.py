"""File manifests: a whole file's size and its ordered list of chunks (msgpack).

Layout (docs/formats/manifest.md)::

    {"v": 1, "size": <int>, "chunks": [[<32-byte blake3 id>, <plain length>], ...]}
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from creativevault.errors import CorruptObjectError

__all__ = ["MANIFEST_VERSION", "Manifest"]

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """The chunks that make up one file, in order."""

    size: int
    chunks: tuple[tuple[bytes, int], ...]

    def encode(self) -> bytes:
        """Canonical msgpack encoding (fixed key order, binary ids)."""
        return msgpack.packb(
            {"v": MANIFEST_VERSION, "size": self.size,
             "chunks": [[key, length] for key, length in self.chunks]},
            use_bin_type=True,
        )

    @classmethod
    def decode(cls, data: bytes, *, where: str = "manifest") -> Manifest:
        """Parse and validate an encoded manifest; :class:`CorruptObjectError` if malformed."""
        try:
            obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated types
            raise CorruptObjectError(f"{where} is not valid msgpack: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("v") != MANIFEST_VERSION:
            raise CorruptObjectError(
                f"{where} has an unknown layout", field="v",
                expected=MANIFEST_VERSION, actual=obj.get("v") if isinstance(obj, dict) else None,
            )
        size = obj.get("size")
        raw_chunks = obj.get("chunks")
        if not isinstance(size, int) or size < 0 or not isinstance(raw_chunks, list):
            raise CorruptObjectError(f"{where} lacks a valid size or chunk list")
        chunks: list[tuple[bytes, int]] = []
        total = 0
        for item in raw_chunks:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], bytes)
                    or len(item[0]) != 32 or not isinstance(item[1], int) or item[1] <= 0):
                raise CorruptObjectError(f"{where} has a malformed chunk reference")
            chunks.append((item[0], item[1]))
            total += item[1]
        if total != size:
            raise CorruptObjectError(
                f"{where} chunk lengths do not add up to its size", field="size",
                expected=size, actual=total,
            )
        return cls(size=size, chunks=tuple(chunks))
