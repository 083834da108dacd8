"""Benchmarks and the synthetic creative corpus they run on (not part of the package).

``benchmarks.corpus`` generates a deterministic animation project (layered PSD and
OpenRaster files, a texture library with duplicates, meshes, photos) and applies
artist-like local edits to it; ``benchmarks.run`` measures the vault against the
issue's targets. Nothing generated here is committed: output goes to ``build/`` or
``benchmarks/out/``.
"""

__all__: list[str] = []
