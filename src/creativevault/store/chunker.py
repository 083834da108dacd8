"""Content-defined chunking with the compiled FastCDC (pyfastcdc's Cython extension).

The chunker parameters are recorded in ``store.json`` when a store is created and never
change for that store: a different average size would cut the same bytes differently
and defeat deduplication against everything already stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pyfastcdc.cy import FastCDC

from creativevault.errors import StoreFormatError

if TYPE_CHECKING:
    from pyfastcdc import BinaryStreamReader

__all__ = ["DEFAULT_PARAMS", "ChunkerParams", "FastCDC", "iter_chunks"]


@dataclass(frozen=True)
class ChunkerParams:
    """FastCDC settings; ``avg_size`` is pyfastcdc's target (mean chunks come out larger)."""

    algorithm: str = "fastcdc2020"
    avg_size: int = 256 * 1024
    min_size: int = 64 * 1024
    max_size: int = 1024 * 1024
    normalized_chunking: int = 1
    seed: int = 0

    @classmethod
    def for_average(cls, avg_size: int) -> ChunkerParams:
        """Parameters for a target average, with min = avg/4 and max = avg*4."""
        return cls(avg_size=avg_size, min_size=avg_size // 4, max_size=avg_size * 4)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored under ``"chunker"`` in ``store.json``."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChunkerParams:
        """Parse ``store.json``'s ``"chunker"`` object; :class:`StoreFormatError` if unusable."""
        try:
            params = cls(
                algorithm=str(data["algorithm"]),
                avg_size=int(data["avg_size"]),
                min_size=int(data["min_size"]),
                max_size=int(data["max_size"]),
                normalized_chunking=int(data["normalized_chunking"]),
                seed=int(data.get("seed", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreFormatError(f"bad chunker settings in store.json: {exc}") from exc
        if params.algorithm != "fastcdc2020":
            raise StoreFormatError(
                "unknown chunking algorithm", field="chunker.algorithm",
                expected="fastcdc2020", actual=params.algorithm,
            )
        try:
            params.make()
        except ValueError as exc:
            raise StoreFormatError(f"bad chunker settings in store.json: {exc}") from exc
        return params

    def make(self) -> FastCDC:
        """A compiled FastCDC instance with these settings (not thread-safe; one per use)."""
        return FastCDC(
            self.avg_size,
            min_size=self.min_size,
            max_size=self.max_size,
            normalized_chunking=self.normalized_chunking,
            seed=self.seed,
        )


#: settings chosen by benchmarks/bench_chunk_size.py (see docs/chunk-size.md)
DEFAULT_PARAMS = ChunkerParams()


def iter_chunks(stream: BinaryStreamReader, params: ChunkerParams) -> Iterator[memoryview]:
    """Yield the chunks of ``stream`` (anything with ``readinto`` or ``read``) in order.

    Each memoryview is valid only until the next one is requested: copy it to keep it.
    Memory stays at about two maximum-size chunks whatever the stream length.
    """
    for chunk in params.make().cut_stream(stream):
        yield chunk.data
