"""Which stored files a range of history refers to: pointer blobs -> file ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from creativevault.errors import GitError, NotAPointerError, PointerError
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.repo.gitsync import introduced_entries, new_commits
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer

__all__ = ["ContentRef", "content_introduced", "content_of", "paths_by_content"]


@dataclass(frozen=True)
class ContentRef:
    """A stored file some path of some commit refers to."""

    file_id: str
    size: int
    path: str


def content_of(git: GitRepo, entries: Mapping[str, FlatEntry]) -> dict[str, ContentRef]:
    """file id -> where it is used, for the pointer blobs among ``entries``."""
    out: dict[str, ContentRef] = {}
    for path, entry in entries.items():
        try:
            data = git.read_blob(entry.blob_id)
        except GitError:
            continue  # not here (a shallow history); nothing to move for it
        if len(data) > MAX_POINTER_SIZE:
            continue
        try:
            ptr = parse_pointer(data, path=path)
        except (NotAPointerError, PointerError):
            continue
        out.setdefault(ptr.oid, ContentRef(ptr.oid, ptr.size, path))
    return out


def paths_by_content(git: GitRepo, entries: Mapping[str, FlatEntry]) -> dict[str, list[str]]:
    """file id -> every path among ``entries`` whose pointer names it."""
    out: dict[str, list[str]] = {}
    for path, entry in entries.items():
        for fid in content_of(git, {path: entry}):
            out.setdefault(fid, []).append(path)
    return out


def content_introduced(git: GitRepo, tips: Iterable[str], known: Iterable[str]
                       ) -> tuple[list[str], dict[str, ContentRef]]:
    """The commits reachable from ``tips`` and not from ``known``, and the stored files
    they introduce (in path order, so transfers proceed folder by folder)."""
    commits = new_commits(git, tips, known)
    refs: dict[str, ContentRef] = {}
    for path, entry in introduced_entries(git, commits):  # every version of every path
        for fid, ref in content_of(git, {path: entry}).items():
            refs.setdefault(fid, ref)
    ordered = dict(sorted(refs.items(), key=lambda kv: kv[1].path))
    return commits, ordered
