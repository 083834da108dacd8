"""Image analysis shared by features: full-precision comparison and diff pictures.

Below the features (several of them compare images) and above the formats: may import
:mod:`creativevault.formats`, :mod:`creativevault.errors` and :mod:`creativevault.types`;
never repo, store or features. Heavy imaging libraries are imported inside functions.
"""

__all__: list[str] = []
