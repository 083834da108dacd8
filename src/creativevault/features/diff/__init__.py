"""Visual and structural diffs of creative files (images, layered files, 3D models, metadata).

Each file family has a :class:`~creativevault.features.diff.report.Differ` registered in
:mod:`creativevault.features.diff.registry`; :func:`diff_files` picks one by content and
name, and never raises for bad input: an unknown, corrupt or truncated file gives a
byte-level summary with a note. May import formats, repo, store, errors, types.
"""

from creativevault.features.diff.report import DiffOptions, FileDiff, Picture, Region

__all__ = ["DiffOptions", "FileDiff", "Picture", "Region"]
