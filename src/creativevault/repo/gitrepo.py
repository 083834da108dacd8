"""The one place that talks to dulwich: objects, refs, reflogs, the git index, trees.

Everything dulwich raises is converted here into :class:`~creativevault.errors.GitError`
or a more precise :class:`~creativevault.errors.VaultError`.

dulwich is imported, and its ``Repo`` opened, only when a method needs it: importing and
opening it costs ~30 ms, more than a no-change ``add`` or ``commit`` needs in all. What
those need (where the git directory is, the index file's stat, the commit HEAD names in
a plain layout) is read directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat as statmod
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from creativevault.errors import GitError, NotAVaultError, RevisionNotFoundError
from creativevault.repo.statcache import MODE_EXEC, MODE_FILE

if TYPE_CHECKING:
    from dulwich.index import IndexEntry
    from dulwich.objects import Commit, ObjectID
    from dulwich.refs import Ref
    from dulwich.repo import Repo

__all__ = [
    "CommitData",
    "FlatEntry",
    "GitRepo",
    "MODE_EXEC",
    "MODE_FILE",
]

_REV_SUFFIX = re.compile(r"^(.*?)((?:[~^][0-9]*)*)$")
_REV_STEP = re.compile(r"([~^])([0-9]*)")
_MODE_LINK = 0o120000
_MODE_GITLINK = 0o160000


@dataclass(frozen=True)
class FlatEntry:
    """One file of a flattened tree or index: mode and 40-hex blob id."""

    mode: int
    blob_id: str


@dataclass(frozen=True)
class CommitData:
    """A commit, decoded."""

    id: str
    tree: str
    parents: tuple[str, ...]
    author: str
    committer: str
    author_time: int
    author_tz: int
    commit_time: int
    message: str


#: dulwich's ``HEADREF`` (its ``Ref`` and ``ObjectID`` are NewTypes of bytes)
_HEADREF = cast("Ref", b"HEAD")


def _oid(hex_id: str) -> ObjectID:
    """A 40-hex id as dulwich's ``ObjectID`` (a NewType of bytes, so no check is made)."""
    return cast("ObjectID", hex_id.encode())


def _ref(name: str) -> Ref:
    return cast("Ref", name.encode())


def _branch_ref(branch: str) -> Ref:
    return cast("Ref", b"refs/heads/" + branch.encode())


_HEX_ID = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_PLAIN_BRANCH = re.compile(rb"refs/heads(?:/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)+")
_CONFIG_SETTINGS = re.compile(rb"^\s*repositoryformatversion\s*=\s*(\S*)", re.MULTILINE)


def _plain_layout(dotgit: Path) -> bool:
    """Whether ``dotgit`` is a git directory dulwich would open with no surprise.

    A ``.git`` folder with ``objects/``, no ``commondir`` (a linked worktree), and a
    config naming no worktree, extension or include, in format version 0 or 1: the
    worktree is then its parent and nothing is refused, so opening dulwich's ``Repo`` can
    wait until something needs it. Anything else is opened at once, as before.
    """
    if not (dotgit / "objects").is_dir() or os.path.lexists(dotgit / "commondir"):
        return False
    try:
        config = (dotgit / "config").read_bytes().lower()
    except FileNotFoundError:
        config = b""
    except OSError:
        return False
    if b"worktree" in config or b"extensions" in config or b"include" in config:
        return False
    return all(v in (b"0", b"1") for v in _CONFIG_SETTINGS.findall(config))


def _commit_data(c: Commit) -> CommitData:
    return CommitData(
        id=c.id.decode(),
        tree=c.tree.decode(),
        parents=tuple(p.decode() for p in c.parents),
        author=c.author.decode("utf-8", "replace"),
        committer=c.committer.decode("utf-8", "replace"),
        author_time=c.author_time,
        author_tz=c.author_timezone,
        commit_time=c.commit_time,
        message=c.message.decode("utf-8", "replace"),
    )


def _use_gits_loose_compression(repo: Repo) -> None:
    """Write loose objects at git's zlib level: ``core.looseCompression``, else
    ``core.compression``, else 1 (best speed).

    dulwich falls back to zlib's default (6) and reads only the repository's config; at
    6 a 2.8 MB OBJ mesh staged as a plain blob takes 0.30 s instead of 0.05 s, for 12 %
    less. Objects git packs later are recompressed at its pack level anyway.
    """
    store = repo.object_store
    if not hasattr(store, "loose_compression_level"):
        return
    config = repo.get_config_stack()
    level = 1
    for name in (b"looseCompression", b"compression"):
        try:
            level = int(config.get((b"core",), name))
        except (KeyError, ValueError):
            continue
        break
    store.loose_compression_level = level if -1 <= level <= 9 else 1


class GitRepo:
    """A git repository on disk, seen through dulwich.

    Made from an open dulwich ``Repo``, or (by :meth:`discover`) from the paths of a
    plain layout, in which case the ``Repo`` is opened on first use.
    """

    def __init__(self, repo: Repo | None = None, *, worktree: Path | None = None,
                 git_dir: Path | None = None) -> None:
        self._opened = repo
        if repo is not None:
            _use_gits_loose_compression(repo)
            self.worktree = Path(repo.path)
            self.git_dir = Path(repo.controldir())
            #: where objects, refs, config, hooks and ``info/`` live: the main worktree's
            #: git directory, shared by every linked worktree (``git worktree add``);
            #: ``git_dir`` itself when this is the main worktree
            self.common_dir = Path(os.path.normpath(repo.commondir()))
        elif worktree is not None and git_dir is not None:
            self.worktree = worktree
            self.git_dir = git_dir
            self.common_dir = git_dir  # a plain layout has no commondir file
        else:
            raise TypeError("GitRepo needs a dulwich Repo, or worktree and git_dir")

    @property
    def _repo(self) -> Repo:
        """dulwich's view of the repository, opened on first use."""
        repo = self._opened
        if repo is None:
            repo = self._opened = self._open_dulwich(self.worktree)
            _use_gits_loose_compression(repo)
        return repo

    @staticmethod
    def _open_dulwich(worktree: Path) -> Repo:
        from dulwich.errors import NotGitRepository
        from dulwich.repo import Repo

        try:
            return Repo(str(worktree))
        except NotGitRepository as exc:
            raise NotAVaultError("not a git repository", path=worktree) from exc

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def init(cls, worktree: Path, *, branch: str = "main") -> GitRepo:
        """Create a new repository in ``worktree`` (which may hold files already)."""
        from dulwich.repo import Repo

        worktree.mkdir(parents=True, exist_ok=True)
        try:
            repo = Repo.init(str(worktree))
        except OSError as exc:
            raise GitError(f"cannot create a git repository: {exc.strerror}", path=worktree) from exc
        repo.refs.set_symbolic_ref(_HEADREF, _branch_ref(branch))
        return cls(repo)

    @classmethod
    def discover(cls, start: Path) -> GitRepo:
        """Open the repository containing ``start`` (searching upwards)."""
        start = start.resolve()
        for candidate in (start, *start.parents):
            dotgit = candidate / ".git"
            if dotgit.exists():
                if dotgit.is_dir() and _plain_layout(dotgit):
                    return cls(worktree=candidate, git_dir=dotgit)
                return cls(cls._open_dulwich(candidate))
        raise NotAVaultError("not a vault (no .git found here or in any parent folder)",
                             path=start)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()

    # -- objects -----------------------------------------------------------------------
    def add_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob; return its id."""
        from dulwich.objects import Blob

        blob = Blob.from_string(data)
        self._repo.object_store.add_object(blob)
        return blob.id.decode()

    def add_blob_from_file(self, path: Path) -> str:
        """Store a small working file as a blob."""
        return self.add_blob(path.read_bytes())

    @staticmethod
    def blob_id_for(data: bytes) -> str:
        """The id ``data`` would have as a blob, without storing it."""
        from dulwich.objects import Blob

        return Blob.from_string(data).id.decode()

    def read_blob(self, blob_id: str) -> bytes:
        from dulwich.objects import Blob

        try:
            obj = self._repo.object_store[_oid(blob_id)]
        except KeyError as exc:
            raise GitError(f"git object {blob_id} is missing") from exc
        if not isinstance(obj, Blob):
            raise GitError(f"git object {blob_id} is not a blob")
        return obj.as_raw_string()

    def loose_blob_size(self, blob_id: str) -> int | None:
        """The size of a loose blob, read from its header alone (nothing else is inflated);
        ``None`` when it is not a loose object of this repository (packed, in an alternate)
        or its header is not a blob's: :meth:`read_blob` then says what it is."""
        import zlib

        path = self.common_dir / "objects" / blob_id[:2] / blob_id[2:]
        try:
            with open(path, "rb") as f:
                head = zlib.decompressobj().decompress(f.read(256), 32)
        except (OSError, ValueError, zlib.error):
            return None
        kind, _, rest = head.partition(b" ")
        size, nul, _ = rest.partition(b"\0")
        if kind != b"blob" or not nul or not size.isdigit():
            return None
        return int(size)

    def has_object(self, object_id: str) -> bool:
        return _oid(object_id) in self._repo.object_store

    # -- revisions ---------------------------------------------------------------------
    def resolve(self, rev: str) -> str:
        """Resolve a revision (``HEAD``, ``main``, ``HEAD~2``, ``main^2``, a hex prefix)."""
        match = _REV_SUFFIX.match(rev)
        if not match or not match.group(1):
            raise RevisionNotFoundError(f"unknown revision '{rev}'")
        base, suffix = match.group(1), match.group(2)
        from dulwich.objectspec import parse_commit

        try:
            commit = parse_commit(self._repo, base.encode())
        except (KeyError, ValueError, IndexError) as exc:
            raise RevisionNotFoundError(f"unknown revision '{rev}'") from exc
        cid = commit.id.decode()
        for op, num in _REV_STEP.findall(suffix):
            n = int(num) if num else 1
            if op == "~":
                for _ in range(n):
                    cid = self._parent(cid, 1, rev)
            elif n:
                cid = self._parent(cid, n, rev)
        return cid

    def _parent(self, cid: str, n: int, rev: str) -> str:
        parents = self.commit(cid).parents
        if len(parents) < n:
            raise RevisionNotFoundError(f"unknown revision '{rev}' (history is shorter)")
        return parents[n - 1]

    def head_commit(self) -> str | None:
        """The commit HEAD points to, or ``None`` on an unborn branch."""
        if self._opened is None:
            plain = self._plain_head()
            if plain is not None:
                return plain[1]
        try:
            return self._repo.refs[_HEADREF].decode()
        except KeyError:
            return None

    def head_branch(self) -> str | None:
        """The branch HEAD is attached to (``main``), or ``None`` when detached."""
        if self._opened is None:
            plain = self._plain_head()
            if plain is not None:
                return plain[0]
        names, _ = self._repo.refs.follow(_HEADREF)
        target = names[-1]
        if target.startswith(b"refs/heads/"):
            return target[len(b"refs/heads/"):].decode()
        return None

    def _plain_head(self) -> tuple[str | None, str | None] | None:
        """``(branch, commit)`` read straight from ``HEAD`` and a loose branch file, when
        that is all there is to it (HEAD detached, or on a branch that is a loose file or
        unborn with no ``packed-refs``); ``None`` for anything else, which dulwich reads.
        """
        try:
            head = (self.git_dir / "HEAD").read_bytes().rstrip(b"\n")
        except OSError:
            return None
        if _HEX_ID.fullmatch(head):
            return None, head.decode()
        target = head.removeprefix(b"ref: ")
        if target == head or not _PLAIN_BRANCH.fullmatch(target) or b".." in target \
                or target.endswith((b".lock", b".")):
            return None
        branch = target[len(b"refs/heads/"):].decode()
        try:
            value = (self.git_dir / target.decode()).read_bytes().rstrip(b"\n")
        except FileNotFoundError:
            if os.path.lexists(self.git_dir / "packed-refs"):
                return None
            return branch, None
        except OSError:
            return None
        return (branch, value.decode()) if _HEX_ID.fullmatch(value) else None

    def commit(self, commit_id: str) -> CommitData:
        from dulwich.objects import Commit

        try:
            obj = self._repo.object_store[_oid(commit_id)]
        except KeyError as exc:
            raise RevisionNotFoundError(f"commit {commit_id} is missing") from exc
        if not isinstance(obj, Commit):
            raise RevisionNotFoundError(f"{commit_id} is not a commit")
        return _commit_data(obj)

    def walk(self, include: Iterable[str], *, max_entries: int | None = None,
             paths: list[str] | None = None) -> Iterator[CommitData]:
        """Commits reachable from ``include``, newest first (git log order)."""
        walker = self._repo.get_walker(
            include=[_oid(c) for c in include], max_entries=max_entries,
            paths=[p.encode() for p in paths] if paths else None)
        for entry in walker:
            yield _commit_data(entry.commit)

    # -- trees -------------------------------------------------------------------------
    def flat_tree(self, tree_id: str | None) -> dict[str, FlatEntry]:
        """All files of a tree, by '/'-separated path."""
        if tree_id is None:
            return {}
        out: dict[str, FlatEntry] = {}
        for entry in self._repo.object_store.iter_tree_contents(_oid(tree_id)):
            if entry.mode in (_MODE_GITLINK,):
                continue
            out[entry.path.decode("utf-8", "surrogateescape")] = FlatEntry(
                entry.mode, entry.sha.decode())
        return out

    def entry_at(self, commit_id: str, path: str) -> FlatEntry | None:
        """The tree entry of one file of a commit (no walk of the whole tree), or None."""
        from dulwich.errors import NotTreeError
        from dulwich.object_store import tree_lookup_path

        tree = self._repo.object_store[_oid(self.commit(commit_id).tree)]
        try:
            mode, sha = tree_lookup_path(self._repo.object_store.__getitem__, tree.id,
                                         path.encode("utf-8", "surrogateescape"))
        except (KeyError, NotTreeError):
            return None
        if statmod.S_ISDIR(mode) or mode == _MODE_GITLINK:
            return None
        return FlatEntry(mode, sha.decode())

    def commit_tree_flat(self, commit_id: str | None) -> dict[str, FlatEntry]:
        if commit_id is None:
            return {}
        return self.flat_tree(self.commit(commit_id).tree)

    def changed_entries(self, old_tree: str | None, new_tree: str | None
                        ) -> dict[str, tuple[FlatEntry | None, FlatEntry | None]]:
        """Paths whose entry differs between two trees (identical subtrees are skipped)."""
        from dulwich.diff_tree import tree_changes

        out: dict[str, tuple[FlatEntry | None, FlatEntry | None]] = {}
        for change in tree_changes(self._repo.object_store,
                                   _oid(old_tree) if old_tree else None,
                                   _oid(new_tree) if new_tree else None):
            for side, entry in ((0, change.old), (1, change.new)):
                if entry is None or entry.path is None or entry.mode == _MODE_GITLINK:
                    continue
                path = entry.path.decode("utf-8", "surrogateescape")
                pair = list(out.get(path, (None, None)))
                pair[side] = FlatEntry(entry.mode, entry.sha.decode())
                out[path] = (pair[0], pair[1])
        return out

    def write_tree(self, entries: Mapping[str, FlatEntry]) -> str:
        """Build and store the tree objects for a flat path -> entry map."""
        from dulwich.objects import Tree

        root: dict = {}
        for path, entry in entries.items():
            node = root
            parts = path.split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = entry
        store = self._repo.object_store

        def build(node: dict) -> ObjectID:
            tree = Tree()
            for name, child in node.items():
                if isinstance(child, dict):
                    tree.add(name.encode("utf-8", "surrogateescape"), statmod.S_IFDIR,
                             build(child))
                else:
                    tree.add(name.encode("utf-8", "surrogateescape"), child.mode,
                             _oid(child.blob_id))
            store.add_object(tree)
            return tree.id

        return build(root).decode()

    # -- commits and refs --------------------------------------------------------------
    def identity(self, kind: str = "AUTHOR") -> str:
        from dulwich.repo import get_user_identity

        return get_user_identity(self._repo.get_config_stack(), kind=kind).decode(
            "utf-8", "replace")

    def create_commit(self, tree_id: str, parents: list[str], message: str, *,
                      author: str | None = None, when: int | None = None) -> str:
        """Store a commit object; refs are not touched."""
        from dulwich.objects import Commit

        c = Commit()
        c.tree = tree_id.encode()
        c.parents = [_oid(p) for p in parents]
        now = int(time.time()) if when is None else when
        tz = -time.timezone if not time.localtime(now).tm_isdst else -time.altzone
        c.author = (author or self.identity("AUTHOR")).encode()
        c.committer = self.identity("COMMITTER").encode()
        c.author_time = c.commit_time = now
        c.author_timezone = c.commit_timezone = tz
        c.encoding = b"UTF-8"
        c.message = message.encode() if message.endswith("\n") else (message + "\n").encode()
        self._repo.object_store.add_object(c)
        return c.id.decode()

    def update_ref(self, name: str, new: str, old: str | None, reflog_message: str) -> None:
        """Move ``name`` (following symbolic refs, e.g. HEAD) from ``old`` to ``new``."""
        ok = self._repo.refs.set_if_equals(
            _ref(name), _oid(old) if old else None, _oid(new),
            committer=self.identity("COMMITTER").encode(), message=reflog_message.encode())
        if not ok:
            raise GitError(f"{name} moved while cvault was updating it; try again")

    def set_head_branch(self, branch: str) -> None:
        self._repo.refs.set_symbolic_ref(_HEADREF, _branch_ref(branch))

    def set_head_detached(self, commit_id: str, reflog_message: str) -> None:
        self._repo.refs.remove_if_equals(_HEADREF, None)
        self._repo.refs.set_if_equals(_HEADREF, None, _oid(commit_id),
                                      committer=self.identity("COMMITTER").encode(),
                                      message=reflog_message.encode())

    def ref(self, name: str) -> str | None:
        try:
            return self._repo.refs[_ref(name)].decode()
        except KeyError:
            return None

    def set_ref(self, name: str, value: str, reflog_message: str) -> None:
        self._repo.refs.set_if_equals(_ref(name), None, _oid(value),
                                      committer=self.identity("COMMITTER").encode(),
                                      message=reflog_message.encode())

    def delete_ref(self, name: str) -> None:
        self._repo.refs.remove_if_equals(_ref(name), None)

    def branches(self) -> dict[str, str]:
        refs = self._repo.refs.as_dict(_ref("refs/heads"))
        return {k.decode(): v.decode() for k, v in refs.items()}

    def all_ref_targets(self) -> dict[str, str]:
        """Every ref (branches, tags, notes, cvault's own) and its object id."""
        out: dict[str, str] = {}
        for name in self._repo.refs.allkeys():
            if name == b"HEAD":
                continue
            try:
                out[name.decode()] = self._repo.refs[name].decode()
            except KeyError:
                continue
        head = self.head_commit()
        if head:
            out["HEAD"] = head
        return out

    def worktree_git_dirs(self) -> list[Path]:
        """The git directory of every worktree of this repository: the main one first,
        then each linked worktree's (``<common>/worktrees/<name>``), this one included."""
        dirs = [self.common_dir]
        try:
            linked = sorted((self.common_dir / "worktrees").iterdir())
        except OSError:  # none were ever added (or the folder is unreadable)
            linked = []
        dirs += [d for d in linked if (d / "HEAD").is_file()]
        return dirs

    def other_worktrees(self) -> list[Path]:
        """The git directories of the *other* worktrees (see :meth:`worktree_git_dirs`)."""
        here = os.path.normcase(os.path.normpath(self.git_dir))
        return [d for d in self.worktree_git_dirs()
                if os.path.normcase(os.path.normpath(d)) != here]

    def _worktree_head_files(self) -> Iterator[tuple[Path, bytes]]:
        """``(git dir, what its HEAD file says)`` for every worktree with a readable HEAD."""
        for git_dir in self.worktree_git_dirs():
            try:
                yield git_dir, (git_dir / "HEAD").read_bytes().strip()
            except OSError:
                continue

    def worktree_heads(self) -> set[str]:
        """The commit every worktree's HEAD names (a detached HEAD is in no ref)."""
        ids: set[str] = set()
        for _git_dir, head in self._worktree_head_files():
            if _HEX_ID.fullmatch(head):
                ids.add(head.decode())
            elif head.startswith(b"ref: "):
                target = self.ref(head[len(b"ref: "):].decode())
                if target is not None:
                    ids.add(target)
        return ids

    def checked_out_branches(self) -> dict[str, Path]:
        """branch -> the worktree it is checked out in, over every worktree (git lets a
        branch be checked out in one worktree only)."""
        out: dict[str, Path] = {}
        for git_dir, head in self._worktree_head_files():
            if head.startswith(b"ref: refs/heads/"):
                branch = head[len(b"ref: refs/heads/"):].decode("utf-8", "surrogateescape")
                out.setdefault(branch, self._worktree_of(git_dir))
        return out

    def _worktree_of(self, git_dir: Path) -> Path:
        """The working tree whose git directory is ``git_dir``: for a linked worktree, the
        folder holding the ``.git`` file its ``gitdir`` file names."""
        if os.path.normpath(git_dir) == os.path.normpath(self.common_dir):
            return self.worktree if self.git_dir == self.common_dir else self.common_dir.parent
        try:
            dotgit = (git_dir / "gitdir").read_bytes().decode("utf-8", "surrogateescape")
        except OSError:
            return git_dir
        return Path(dotgit.strip()).parent

    def reflog_commits(self) -> set[str]:
        """Every commit id any reflog of any worktree mentions (old and new side)."""
        ids: set[str] = set()
        for git_dir in self.worktree_git_dirs():
            logs = git_dir / "logs"
            if not logs.is_dir():
                continue
            for path in logs.rglob("*"):
                if not path.is_file():
                    continue
                try:
                    for line in path.read_bytes().splitlines():
                        parts = line.split(b" ", 2)
                        for part in parts[:2]:
                            if len(part) == 40 and part != b"0" * 40:
                                ids.add(part.decode())
                except OSError:
                    continue
        return ids

    def reflog(self, ref: str) -> list[tuple[str, str, int, str]]:
        """Entries of one reflog, newest first: (old, new, timestamp, message)."""
        out = []
        for e in self._repo.read_reflog(ref.encode()):
            out.append((e.old_sha.decode(), e.new_sha.decode(), e.timestamp,
                        e.message.decode("utf-8", "replace")))
        out.reverse()
        return out

    def ancestors(self, commit_id: str) -> set[str]:
        """Commit ids reachable from ``commit_id`` (inclusive)."""
        seen: set[str] = set()
        stack = [commit_id]
        while stack:
            cid = stack.pop()
            if cid in seen or not self.has_object(cid):
                continue
            seen.add(cid)
            stack.extend(self.commit(cid).parents)
        return seen

    # -- the git index -----------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self.git_dir / "index"

    def read_index(self, path: Path | None = None) -> dict[str, IndexEntry]:
        """The git index (this worktree's, or the one at ``path``) as path -> dulwich
        IndexEntry (stage 0 only)."""
        from dulwich.index import Index, IndexEntry, UnsupportedIndexFormat

        index_file = path or self.index_path
        try:
            index = Index(str(index_file))
        except OSError as exc:
            raise GitError(f"cannot read the git index: {exc}", path=index_file) from exc
        except (AssertionError, ValueError, struct.error, UnsupportedIndexFormat) as exc:
            # dulwich asserts on a damaged header; git itself would say "bad signature"
            raise GitError("the git index is damaged; 'git reset' rebuilds it from HEAD "
                           "(staged changes are lost, working files are kept)",
                           path=index_file) from exc
        out: dict[str, IndexEntry] = {}
        for name, entry in index.items():
            if isinstance(entry, IndexEntry):
                out[name.decode("utf-8", "surrogateescape")] = entry
        return out

    def write_index(self, entries: Mapping[str, IndexEntry]) -> None:
        """Replace the git index with ``entries`` (written atomically by dulwich)."""
        from dulwich.index import Index

        index = Index(str(self.index_path), read=False)
        for path in sorted(entries, key=lambda p: p.encode("utf-8", "surrogateescape")):
            index[path.encode("utf-8", "surrogateescape")] = entries[path]
        index.write()

    @staticmethod
    def index_entry(st, blob_id: str, mode: int) -> IndexEntry:
        """An index entry carrying the working file's stat (so plain ``git status`` agrees)."""
        from dulwich.index import IndexEntry

        return IndexEntry(
            ctime=(int(st.st_ctime_ns // 1_000_000_000), int(st.st_ctime_ns % 1_000_000_000)),
            mtime=(int(st.st_mtime_ns // 1_000_000_000), int(st.st_mtime_ns % 1_000_000_000)),
            dev=st.st_dev & 0xFFFFFFFF, ino=st.st_ino & 0xFFFFFFFF, mode=mode,
            uid=getattr(st, "st_uid", 0) & 0xFFFFFFFF, gid=getattr(st, "st_gid", 0) & 0xFFFFFFFF,
            size=st.st_size & 0xFFFFFFFF, sha=_oid(blob_id))

    @staticmethod
    def index_entry_unstat(blob_id: str, mode: int) -> IndexEntry:
        """An index entry with no stat data (git will re-check the file)."""
        from dulwich.index import IndexEntry

        return IndexEntry(ctime=(0, 0), mtime=(0, 0), dev=0, ino=0, mode=mode, uid=0, gid=0,
                          size=0, sha=_oid(blob_id))

    def index_signature(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the index file, to notice changes made by plain git."""
        try:
            st = self.index_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns)

    # -- config ------------------------------------------------------------------------
    def config_get(self, section: str, name: str) -> str | None:
        try:
            value = self._repo.get_config_stack().get((section.encode(),), name.encode())
        except KeyError:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    @property
    def hooks_dir(self) -> Path:
        """Where git looks for this repository's hooks: ``core.hooksPath`` (from any
        config level; a relative one is relative to the worktree top, where git runs
        hooks), else ``hooks/`` of the common dir (shared by all worktrees). Reads git's
        whole config stack (``hooks.hooks_dir_of`` avoids that in the common case)."""
        configured = self.config_get("core", "hookspath")
        if not configured:
            return self.common_dir / "hooks"
        path = Path(configured).expanduser()
        return path if path.is_absolute() else self.worktree / path

    def config_set(self, section: str, name: str, value: str) -> None:
        config = self._repo.get_config()
        config.set((section.encode(),), name.encode(), value.encode())
        config.write_to_path()

    def config_subsections(self, section: str) -> dict[str, dict[str, str]]:
        """``[section "sub"]`` blocks of the repository config: sub -> name -> value."""
        out: dict[str, dict[str, str]] = {}
        config = self._repo.get_config()
        for key in config.sections():
            if len(key) == 2 and key[0].decode().lower() == section.lower():
                values = {k.decode().lower(): v.decode() for k, v in config.items(key)}
                out[key[1].decode()] = values
        return out

    def config_set_sub(self, section: str, sub: str, values: Mapping[str, str | None]) -> None:
        """Set (or with ``None`` remove) names of ``[section "sub"]`` in the repository
        config; an empty mapping for a missing block creates it."""
        config = self._repo.get_config()
        key = (section.encode(), sub.encode())
        for name, value in values.items():
            if value is None:
                with contextlib.suppress(KeyError):
                    del config[key][name.encode()]
            else:
                config.set(key, name.encode(), value.encode())
        config.write_to_path()

    def config_remove_sub(self, section: str, sub: str) -> bool:
        """Remove the whole ``[section "sub"]`` block; False when there was none."""
        config = self._repo.get_config()
        key = (section.encode(), sub.encode())
        if not config.has_section(key):
            return False
        del config[key]
        config.write_to_path()
        return True

