"""Which stored files a range of history refers to: pointer blobs -> file ids."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from creativevault.errors import GitError, NotAPointerError, PointerError, PushRejectedError
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.repo.gitsync import introduced_entries, new_commits
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer

__all__ = ["ContentRef", "check_branch_move", "content_introduced", "content_of",
           "paths_by_content"]


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


def check_branch_move(git: GitRepo, ref: str, old: str | None, new: str, *,
                      checked_out: Collection[str], force: bool, where: str,
                      tail: str = "") -> None:
    """The rules every branch move between vaults obeys, checked by the sender before it
    sends anything and by the receiver before it moves the ref: never a branch checked
    out at ``where`` (``checked_out``: in any of its worktrees), and a fast-forward unless
    ``force`` (an ``old`` commit this vault lacks cannot be an ancestor). ``tail`` ends
    the messages."""
    branch = ref.removeprefix("refs/heads/")
    if branch != ref and branch in checked_out:
        raise PushRejectedError(
            f"refusing to update '{branch}', the branch checked out in {where} (its working "
            f"files would no longer match); push to another branch (e.g. field/NAME) and "
            f"merge it there{tail}")
    if old is not None and not force and (not git.has_object(old)
                                          or old not in git.ancestors(new)):
        raise PushRejectedError(
            f"{ref.removeprefix('refs/heads/')} on {where} has commits this push lacks (not "
            f"a fast-forward); pull and merge first, or push --force{tail}")
