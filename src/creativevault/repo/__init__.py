"""The repository layer: the only user of dulwich.

Pointers, attributes, the stat cache, refs, hooks and the :class:`Vault` verbs. May import
:mod:`creativevault.store`, :mod:`creativevault.errors` and :mod:`creativevault.types`;
never the features, formats or the CLI.
"""

__all__: list[str] = []
