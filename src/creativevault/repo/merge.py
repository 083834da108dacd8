"""Three-way merge of two commits' trees that never loses a version.

:func:`merge_trees` works on flat trees (path -> :class:`FlatEntry`) and writes nothing
but blobs (the result of a clean text merge); :class:`~creativevault.repo.vault.Vault`
turns the result into a merge commit and a working tree. The policy, per path, with the
merge base B, ours O and theirs T (``docs/merge.md``):

- unchanged on one side: the other side's version; the same change on both: that one;
- deleted on one side and changed on the other: the changed file is kept
  (:class:`KeptChange`);
- changed differently on both sides: ordinary text blobs (no NUL byte, not a pointer)
  are merged line by line like git; a clean text merge is taken. Anything else (binary,
  vault content, conflicting text) keeps OURS at the path and THEIRS beside it under a
  marked name, ``hero.psd`` -> ``hero (conflicted copy from field-laptop).psd``
  (:class:`KeptBoth`). Nothing is ever left with conflict markers.

Two pointers to the same content are the same version even when their blobs differ (the
``mtime`` key of two imports of one card), so they never make a conflicted copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import count

from dulwich.graph import find_merge_base
from dulwich.objects import ObjectID

from creativevault.errors import GitError, NotAPointerError, PointerError
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.repo.paths import nfc
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer

__all__ = [
    "KeptBoth",
    "KeptChange",
    "TreeMerge",
    "branch_label",
    "conflicted_copy_name",
    "merge_base",
    "merge_text",
    "merge_trees",
]

_MODE_LINK = 0o120000
#: characters FAT/exFAT/NTFS refuse in a name (and '/', which separates folders)
_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
#: longest label put into a conflicted-copy name
_MAX_LABEL = 60
#: longest name component, in UTF-8 bytes (ext4, APFS, NTFS: 255)
_MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class KeptBoth:
    """Both sides changed ``path``: ours stays there, theirs is kept at ``kept_as``.

    ``kind`` is ``"both-modified"``, ``"both-added"``, ``"text-conflict"`` (text whose
    changes overlap) or ``"file-folder"`` (one side has a file where the other has a
    folder; the side that moved is the one at ``kept_as``).
    """

    path: str
    kept_as: str
    kind: str

    def describe(self) -> str:
        if self.kind == "file-folder":
            return f"kept both: {self.path} (file and folder; one kept as \"{self.kept_as}\")"
        return f"kept both: {self.path} (theirs as \"{self.kept_as}\")"

    def to_json(self) -> dict:
        return {"path": self.path, "kept_as": self.kept_as, "kind": self.kind}


@dataclass(frozen=True)
class KeptChange:
    """``path`` was deleted on one side and changed on the other: the change is kept."""

    path: str
    deleted_by: str  # "ours" | "theirs"
    kind: str = "modify/delete"

    def describe(self, ours: str = "ours", theirs: str = "theirs") -> str:
        gone, changed = (ours, theirs) if self.deleted_by == "ours" else (theirs, ours)
        return f"kept changed: {self.path} (deleted in {gone}, changed in {changed})"

    def to_json(self) -> dict:
        return {"path": self.path, "deleted_by": self.deleted_by, "kind": self.kind}


@dataclass
class TreeMerge:
    """The merged flat tree and what the merge kept that a plain merge would not."""

    tree: dict[str, FlatEntry]
    conflicts: list[KeptBoth] = field(default_factory=list)
    kept: list[KeptChange] = field(default_factory=list)
    #: text files both sides changed, merged line by line without conflict
    text_merged: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------ merge base
def merge_base(git: GitRepo, ours: str, theirs: str) -> str | None:
    """The best common ancestor of two commits (``None`` for unrelated histories).

    With several equally good ones (criss-cross merges) the newest is used: any of them
    is an ancestor of both sides, so a change made since it is still seen as a change.
    """
    try:
        found = find_merge_base(git._repo, [ObjectID(ours.encode()),
                                            ObjectID(theirs.encode())])
    except KeyError as exc:
        raise GitError(f"cannot find the merge base: git object {exc} is missing") from exc
    bases = _lowest([b.decode() for b in found], git)
    if not bases:
        return None
    return max(bases, key=lambda c: (git.commit(c).commit_time, c))


def _lowest(bases: list[str], git: GitRepo) -> list[str]:
    """``bases`` without those that are ancestors of another one (git's "remove redundant").

    dulwich's search walks commits newest first by commit time, in whole seconds (ties by
    id), and stops once every commit left to walk lies below a common ancestor found. When
    commits share a second, or a clock was wrong, it can stop before marking an older common
    ancestor as superseded and return it too; the newest of the two was then that older one
    whenever both were made in the same second (a fast-forward became a merge against a
    stale base). This walks the graph only: dates decide nothing here.
    """
    if len(bases) < 2:
        return bases
    redundant: set[str] = set()
    # newest first (dulwich lists them oldest first): the walk from the real base meets the
    # stale one and stops, rather than a walk from the stale one going down to the root
    for start in reversed(bases):
        if start in redundant:
            continue  # below a base whose walk covers what is below it
        others = set(bases) - redundant - {start}
        seen: set[str] = set()
        stack = list(git.commit(start).parents)
        while stack and others:
            cid = stack.pop()
            if cid in seen or not git.has_object(cid):  # beyond a shallow clone's edge
                continue
            seen.add(cid)
            if cid in others:
                others.discard(cid)
                redundant.add(cid)
            stack.extend(git.commit(cid).parents)
    return [b for b in bases if b not in redundant]


# ------------------------------------------------------------------------ text merge
def merge_text(base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """Line three-way merge like git's; ``None`` when the two sides' changes overlap.

    The merge3 algorithm (bzr's, packaged as ``merge3`` and used by dulwich)."""
    from merge3 import Merge3

    out: list[bytes] = []
    merger = Merge3(base.splitlines(True), ours.splitlines(True), theirs.splitlines(True))
    for group in merger.merge_groups():
        if group[0] == "conflict":
            return None
        out.extend(group[1])
    return b"".join(out)


# ------------------------------------------------------------------------ naming
def branch_label(rev: str) -> str:
    """``rev`` as it may appear inside a file name on any file system.

    ``/`` and the characters FAT/exFAT/Windows refuse become ``-``; the label is short.
    """
    label = _ILLEGAL.sub("-", rev).strip(" .")[:_MAX_LABEL].strip(" .")
    return label or "theirs"


def _split_ext(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:  # ".gitignore", "README", "name."
        return name, ""
    return name[:dot], name[dot:]


def _key(path: str) -> str:
    """Paths equal under this key cannot both exist on a case-insensitive file system."""
    return nfc(path).casefold()


def conflicted_copy_name(path: str, label: str, taken: set[str], *,
                         folder: bool = False, exists: Callable[[str], bool] | None = None
                         ) -> str:
    """A free name for theirs' version of ``path``: the marker goes before the extension.

    ``taken`` holds :func:`_key` of every name in use; the result is added to it. A
    name for which ``exists`` says true (an untracked working file) is not free either.
    A folder's name gets the marker at its end. The marker is numbered (`` 2``, `` 3``)
    when the plain one is taken.
    """
    parent, _, name = path.rpartition("/")
    stem, ext = (name, "") if folder else _split_ext(name)
    for n in count(1):
        marker = f" (conflicted copy from {label}{'' if n == 1 else f' {n}'})"
        room = _MAX_NAME_BYTES - len((marker + ext).encode())
        short = stem.encode()[:max(room, 1)].decode("utf-8", "ignore") or "_"
        candidate = f"{parent}/{short}{marker}{ext}" if parent else f"{short}{marker}{ext}"
        if _key(candidate) not in taken and not (exists and exists(candidate)):
            taken.add(_key(candidate))
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------------ the tree merge
class _Blobs:
    """Reads blobs once and tells text, vault content and binary apart."""

    def __init__(self, git: GitRepo) -> None:
        self.git = git
        self._ids: dict[str, str] = {}

    def data(self, blob_id: str) -> bytes:
        return self.git.read_blob(blob_id)

    def content_id(self, entry: FlatEntry) -> str:
        """The version a blob stands for: the file id of a pointer, else the blob id."""
        cid = self._ids.get(entry.blob_id)
        if cid is None:
            cid = entry.blob_id
            data = self.data(entry.blob_id)
            if len(data) <= MAX_POINTER_SIZE:
                try:
                    cid = "sha256:" + parse_pointer(data).oid
                except (NotAPointerError, PointerError):
                    pass
            self._ids[entry.blob_id] = cid
        return cid

    def is_text(self, entry: FlatEntry) -> bool:
        if entry.mode == _MODE_LINK or self.content_id(entry) != entry.blob_id:
            return False
        return b"\0" not in self.data(entry.blob_id)

    def same(self, a: FlatEntry | None, b: FlatEntry | None) -> bool:
        if a is None or b is None:
            return a is b
        return a.mode == b.mode and (a.blob_id == b.blob_id
                                     or self.content_id(a) == self.content_id(b))

    def same_content(self, a: FlatEntry, b: FlatEntry) -> bool:
        return a.blob_id == b.blob_id or self.content_id(a) == self.content_id(b)


def _merge_mode(b: FlatEntry | None, o: FlatEntry, t: FlatEntry) -> int | None:
    if o.mode == t.mode:
        return o.mode
    if b is not None and o.mode == b.mode:
        return t.mode
    if b is not None and t.mode == b.mode:
        return o.mode
    return None  # both changed the mode differently (a link on one side, say)


def merge_trees(git: GitRepo, base: Mapping[str, FlatEntry], ours: Mapping[str, FlatEntry],
                theirs: Mapping[str, FlatEntry], *, label: str,
                exists: Callable[[str], bool] | None = None) -> TreeMerge:
    """Merge three flat trees by the policy in the module docstring.

    ``label`` names theirs in conflicted-copy names (see :func:`branch_label`); a name
    ``exists`` says is used (an untracked file in the working tree) is not chosen. Blobs
    of clean text merges are stored; nothing else is written.
    """
    blobs = _Blobs(git)
    result = TreeMerge(tree={})
    clashes: list[tuple[str, str]] = []  # (path, kind) kept both, named once all are known
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if blobs.same(o, t) or blobs.same(t, b):
            if o is not None:
                result.tree[path] = o
            continue
        if blobs.same(o, b):
            if t is not None:
                result.tree[path] = t
            continue
        if o is None or t is None:  # deleted on one side, changed on the other
            kept = o if o is not None else t
            assert kept is not None
            result.tree[path] = kept
            result.kept.append(KeptChange(path, "ours" if o is None else "theirs"))
            continue
        mode = _merge_mode(b, o, t)
        if mode is not None and blobs.same_content(o, t):
            result.tree[path] = FlatEntry(mode, o.blob_id)
            continue
        if mode is not None and b is not None and blobs.same_content(o, b):
            result.tree[path] = FlatEntry(mode, t.blob_id)
            continue
        if mode is not None and b is not None and blobs.same_content(t, b):
            result.tree[path] = FlatEntry(mode, o.blob_id)
            continue
        result.tree[path] = o
        if b is None:
            clashes.append((path, "both-added"))
            continue
        if mode is not None and all(blobs.is_text(e) for e in (b, o, t)):
            merged = merge_text(blobs.data(b.blob_id), blobs.data(o.blob_id),
                                blobs.data(t.blob_id))
            if merged is not None:
                result.tree[path] = FlatEntry(mode, git.add_blob(merged))
                result.text_merged.append(path)
                continue
            clashes.append((path, "text-conflict"))
            continue
        clashes.append((path, "both-modified"))
    taken = _taken(result.tree)
    for path, kind in clashes:
        entry = theirs[path]
        kept_as = conflicted_copy_name(path, label, taken, exists=exists)
        result.tree[kept_as] = entry
        result.conflicts.append(KeptBoth(path, kept_as, kind))
    _separate_files_and_folders(result, ours, label, taken, exists)
    return result


def _taken(tree: Mapping[str, FlatEntry]) -> set[str]:
    taken = set()
    for path in tree:
        taken.add(_key(path))
        parent = path.rpartition("/")[0]
        while parent and _key(parent) not in taken:
            taken.add(_key(parent))
            parent = parent.rpartition("/")[0]
    return taken


def _separate_files_and_folders(result: TreeMerge, ours: Mapping[str, FlatEntry],
                                label: str, taken: set[str],
                                exists: Callable[[str], bool] | None) -> None:
    """A file at a path where the other side made a folder: move theirs aside.

    Ours stays: if the file is ours, theirs' folder gets the marked name, else the file.
    """
    tree = result.tree
    folders = {p.rpartition("/")[0] for p in tree}
    for parent in list(folders):
        while parent:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    for path in sorted(p for p in list(tree) if p in folders):
        if ours.get(path) == tree[path]:  # ours is the file: theirs' folder moves
            new = conflicted_copy_name(path, label, taken, folder=True, exists=exists)
            prefix = path + "/"
            for sub in [p for p in tree if p.startswith(prefix)]:
                tree[new + "/" + sub[len(prefix):]] = tree.pop(sub)
        else:
            new = conflicted_copy_name(path, label, taken, exists=exists)
            tree[new] = tree.pop(path)
        result.conflicts.append(KeptBoth(path, new, "file-folder"))
