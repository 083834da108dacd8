"""File-format knowledge: recognising and (later) decoding creative file formats.

A leaf layer: knows no repository and no store; imports only the standard library (heavy
imaging libraries lazily, inside functions) and :mod:`creativevault.errors`/``types``.
"""

__all__: list[str] = []
