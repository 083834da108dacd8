"""One pass over the commit graph: the versions of one file, or what each commit changed.

:func:`walk_graph` reads every commit reachable from the chosen tips once and orders them
oldest first, parents before children, ties broken by commit time (so the versions made
on merged field and studio branches interleave by time). Each commit is then diffed
against its first parent, and a merge against each parent, with dulwich's
``tree_changes`` (identical subtrees are skipped), so the cost is O(commits x changed
entries), never O(commits²). Renames are looked for only where the tracked file appears:
a path added in a commit takes its history from a path deleted in the same diff that
holds the same content (same file id for vault files, same blob otherwise, the SHA-256
of the blob when one side is a git blob and the other vault content), or, failing
that, from the only deleted path with the same file name (a move that also edited it).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from creativevault.errors import NotAPointerError, PointerError, VaultError
from creativevault.repo.gitrepo import CommitData, FlatEntry, GitRepo
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer

__all__ = [
    "BlobContent",
    "CommitChanges",
    "Graph",
    "History",
    "PathChange",
    "PathVersion",
    "file_history",
    "project_history",
    "walk_graph",
]

_Pairs = dict[str, tuple[FlatEntry | None, FlatEntry | None]]


@dataclass(frozen=True)
class BlobContent:
    """What a committed blob holds: the vault file id (pointers) or ``None``, and a size."""

    blob_id: str
    file_id: str | None
    size: int

    @property
    def content_id(self) -> str:
        """The identity derived data is cached under: the file id, or ``git:<blob>``."""
        return self.file_id if self.file_id else f"git:{self.blob_id}"


@dataclass
class Graph:
    """Commits reachable from some tips, oldest first, each with the branch it is on."""

    order: list[str]
    commits: dict[str, CommitData]
    branch_of: dict[str, str]


@dataclass(frozen=True)
class PathVersion:
    """One event in a file's history: a commit where its content appeared or changed.

    ``kind`` is ``added``, ``modified``, ``renamed`` (moved, possibly edited), ``deleted``
    or ``merged`` (a merge whose result differs from every parent). ``previous`` is the
    content in the commit's (first) parent under ``old_path``, the base for change figures.
    """

    commit: CommitData
    branch: str
    path: str
    kind: str
    content: BlobContent | None
    old_path: str | None = None
    previous: BlobContent | None = None


@dataclass(frozen=True)
class PathChange:
    """One path a commit changed against its first parent."""

    path: str
    kind: str  # added | modified | deleted | renamed
    old_path: str | None = None
    content: BlobContent | None = None


@dataclass
class CommitChanges:
    """A commit and the files it changed."""

    commit: CommitData
    branch: str
    changes: list[PathChange] = field(default_factory=list)


@dataclass
class History:
    """The result of a walk: the graph and how many tree diffs it took (for tests)."""

    graph: Graph
    versions: list[PathVersion]
    tree_diffs: int


class _Blobs:
    """Blob id -> content, read once per walk."""

    def __init__(self, git: GitRepo) -> None:
        self.git = git
        self._known: dict[str, BlobContent] = {}

    def get(self, entry: FlatEntry | None) -> BlobContent | None:
        if entry is None:
            return None
        known = self._known.get(entry.blob_id)
        if known is None:
            try:
                data = self.git.read_blob(entry.blob_id)
            except VaultError:
                data = b""
            file_id, size = None, len(data)
            if 0 < len(data) <= MAX_POINTER_SIZE:
                try:
                    ptr = parse_pointer(data)
                    file_id, size = ptr.oid, ptr.size
                except (NotAPointerError, PointerError):
                    pass
            known = BlobContent(entry.blob_id, file_id, size)
            self._known[entry.blob_id] = known
        return known

    def same(self, a: FlatEntry | None, b: FlatEntry | None) -> bool:
        if a is None or b is None:
            return a is b
        if a.blob_id == b.blob_id:
            return True
        ca, cb = self.get(a), self.get(b)
        if ca is None or cb is None:
            return False
        if (ca.file_id is None) != (cb.file_id is None) and ca.size == cb.size:
            # the same bytes as a git blob on one side and vault content on the other
            # (a rename across .gitattributes rules): hash the blob to compare
            blob, pointer = (ca, cb) if ca.file_id is None else (cb, ca)
            try:
                data = self.git.read_blob(blob.blob_id)
            except VaultError:
                return False
            return hashlib.sha256(data).hexdigest() == pointer.file_id
        return ca.content_id == cb.content_id


def walk_graph(git: GitRepo, tips: Sequence[tuple[str, str]],
               since: int | None = None,
               labels: Sequence[tuple[str, str]] = ()) -> Graph:
    """Commits reachable from ``tips`` ((branch, commit) pairs, most important first).

    Each commit is read once. A commit is labelled with the first branch (in ``tips``
    order) whose first-parent chain reaches it. ``since`` (a POSIX time) stops the walk
    at commits older than it (their descendants are still ordered correctly).
    """
    commits: dict[str, CommitData] = {}
    stack = [cid for _, cid in tips]
    while stack:
        cid = stack.pop()
        if cid in commits or not git.has_object(cid):
            continue
        c = git.commit(cid)
        commits[cid] = c
        if since is not None and c.commit_time < since:
            continue
        stack.extend(p for p in c.parents if p not in commits)
    # Kahn's algorithm: a commit becomes ready once all its parents in the set are out
    waiting = {cid: sum(1 for p in set(c.parents) if p in commits) for cid, c in commits.items()}
    children: dict[str, list[str]] = {}
    for cid, c in commits.items():
        for p in set(c.parents):
            if p in commits:
                children.setdefault(p, []).append(cid)
    ready = [(c.commit_time, cid) for cid, c in commits.items() if waiting[cid] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, cid = heapq.heappop(ready)
        order.append(cid)
        for child in children.get(cid, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (commits[child].commit_time, child))
    branch_of: dict[str, str] = {}
    for name, tip in (*tips, *labels):
        step: str | None = tip
        while step is not None and step in commits and step not in branch_of:
            branch_of[step] = name
            parents = commits[step].parents
            step = parents[0] if parents else None
    for cid in order:  # reachable only through a second parent of a labelled tip
        branch_of.setdefault(cid, tips[0][0] if tips else "")
    return Graph(order, commits, branch_of)


def _rename_source(blobs: _Blobs, pairs: _Pairs, path: str) -> str | None:
    """The path deleted in ``pairs`` that ``path`` (added there) was moved from."""
    new = pairs[path][1]
    deleted = [p for p, (old, nw) in pairs.items() if old is not None and nw is None]
    for src in deleted:
        if blobs.same(pairs[src][0], new):
            return src
    name = path.rsplit("/", 1)[-1]
    same_name = [p for p in deleted if p.rsplit("/", 1)[-1] == name]
    return same_name[0] if len(same_name) == 1 else None


def file_history(git: GitRepo, path: str, tips: Sequence[tuple[str, str]],
                 since: int | None = None,
                 labels: Sequence[tuple[str, str]] = ()) -> History:
    """Every version of ``path`` reachable from ``tips``, oldest first (see module doc).

    The path is followed backwards through renames and moves, deletions and
    re-creations; the versions come out in graph order.
    """
    graph = walk_graph(git, tips, since, labels)
    blobs = _Blobs(git)
    tracked: dict[str, set[str]] = {cid: {path} for _, cid in tips if cid in graph.commits}
    found: list[tuple[int, PathVersion]] = []
    diffs = 0
    position = {cid: i for i, cid in enumerate(graph.order)}
    for cid in reversed(graph.order):
        names = tracked.pop(cid, None)
        if not names:
            continue
        c = graph.commits[cid]
        if since is not None and c.commit_time < since:
            continue
        parents: list[str | None] = [p for p in c.parents if p in graph.commits] or [None]
        per_parent: list[_Pairs] = []
        for p in parents:
            old_tree = graph.commits[p].tree if p else None
            per_parent.append(git.changed_entries(old_tree, c.tree))
            diffs += 1
        branch = graph.branch_of.get(cid, "")
        for name in sorted(names):
            sources: list[str] = []
            for pairs in per_parent:
                src = name
                if name in pairs and pairs[name][0] is None and pairs[name][1] is not None:
                    src = _rename_source(blobs, pairs, name) or name
                sources.append(src)
            for p, src in zip(parents, sources, strict=True):
                if p is not None:
                    tracked.setdefault(p, set()).add(src)
            event = _event(blobs, c, branch, name, per_parent, sources)
            if event is not None:
                found.append((position[cid], event))
    found.sort(key=lambda item: item[0])
    return History(graph, [v for _, v in found], diffs)


def _event(blobs: _Blobs, c: CommitData, branch: str, name: str,
           per_parent: list[_Pairs], sources: list[str]) -> PathVersion | None:
    """What happened to ``name`` in commit ``c`` (None: nothing new)."""
    changed = [name in pairs and not blobs.same(*pairs[name]) for pairs in per_parent]
    if len(per_parent) > 1:
        # a merge shows a version only when its result matches no parent's
        if not all(changed):
            return None
        old, new = per_parent[0][name]
        if new is None:
            return PathVersion(c, branch, name, "deleted", None, None, blobs.get(old))
        return PathVersion(c, branch, name, "merged", blobs.get(new),
                           previous=blobs.get(old))
    pairs = per_parent[0]
    if name not in pairs:
        return None
    old, new = pairs[name]
    src = sources[0]
    if old is None and new is not None:
        if src != name:
            return PathVersion(c, branch, name, "renamed", blobs.get(new), src,
                               blobs.get(pairs[src][0]))
        return PathVersion(c, branch, name, "added", blobs.get(new))
    if new is None:
        return PathVersion(c, branch, name, "deleted", None, None, blobs.get(old))
    if not changed[0]:
        return None
    return PathVersion(c, branch, name, "modified", blobs.get(new), previous=blobs.get(old))


def project_history(git: GitRepo, tips: Sequence[tuple[str, str]],
                    since: int | None = None,
                    paths: Iterable[str] | None = None,
                    labels: Sequence[tuple[str, str]] = ()) -> list[CommitChanges]:
    """Every commit reachable from ``tips``, oldest first, with the files it changed
    against its first parent (renames paired by content); ``paths`` limits to prefixes."""
    graph = walk_graph(git, tips, since, labels)
    blobs = _Blobs(git)
    prefixes = [p.rstrip("/") for p in paths] if paths else None
    out: list[CommitChanges] = []
    for cid in graph.order:
        c = graph.commits[cid]
        if since is not None and c.commit_time < since:
            continue
        parent = c.parents[0] if c.parents and c.parents[0] in graph.commits else None
        pairs = git.changed_entries(graph.commits[parent].tree if parent else None, c.tree)
        if parent is None and c.parents and git.has_object(c.parents[0]):
            pairs = git.changed_entries(git.commit(c.parents[0]).tree, c.tree)
        entry = CommitChanges(c, graph.branch_of.get(cid, ""))
        moved: set[str] = set()
        renamed_to: set[str] = set()
        for path in sorted(pairs):
            old, new = pairs[path]
            if old is None and new is not None:
                src = _rename_source(blobs, pairs, path)
                if src is not None and src not in moved:
                    moved.add(src)
                    renamed_to.add(path)
                    entry.changes.append(PathChange(path, "renamed", src, blobs.get(new)))
                    continue
        for path in sorted(pairs):
            old, new = pairs[path]
            if path in moved or path in renamed_to:
                continue
            if old is None and new is not None:
                entry.changes.append(PathChange(path, "added", None, blobs.get(new)))
            elif new is None:
                entry.changes.append(PathChange(path, "deleted"))
            elif not blobs.same(old, new):
                entry.changes.append(PathChange(path, "modified", None, blobs.get(new)))
        if prefixes is not None:
            entry.changes = [ch for ch in entry.changes if any(
                ch.path == p or ch.path.startswith(p + "/") for p in prefixes)]
            if not entry.changes:
                continue
        entry.changes.sort(key=lambda ch: ch.path)
        out.append(entry)
    return out
