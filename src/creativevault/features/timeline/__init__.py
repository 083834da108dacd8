"""The timeline of a file or a project: every version along the commit graph.

:func:`file_timeline` lists a file's versions (following renames, across branches) with
their facts, thumbnails and the change against the previous version; :func:`project_timeline`
lists what each commit changed; :func:`contact_sheet` draws thumbnails in time order.
Derived data (thumbnails, facts, change figures) is cached by content id in the store's
catalog, so each content is decoded once ever. May import repo, store, imaging, formats.
"""

from creativevault.features.timeline.build import (
    TimelineOptions,
    file_timeline,
    open_catalog,
    project_timeline,
)
from creativevault.features.timeline.entries import (
    SCHEMA,
    Change,
    CommitEntry,
    FileFacts,
    ProjectTimeline,
    Timeline,
    TimelineEntry,
)
from creativevault.features.timeline.sheet import SheetLayout, contact_sheet

__all__ = [
    "SCHEMA",
    "Change",
    "CommitEntry",
    "FileFacts",
    "ProjectTimeline",
    "SheetLayout",
    "Timeline",
    "TimelineEntry",
    "TimelineOptions",
    "contact_sheet",
    "file_timeline",
    "open_catalog",
    "project_timeline",
]
