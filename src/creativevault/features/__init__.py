"""Capabilities built on the repository, one module or package per capability.

May import repo, store, formats, errors and types; never the CLI, never a sibling feature
(what two share moves below them).
"""

__all__: list[str] = []
