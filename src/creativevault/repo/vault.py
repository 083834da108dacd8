"""The vault: a git repository whose large files live in the sidecar store.

:class:`Vault` implements the everyday verbs (add, commit, status, log, show, checkout,
restore, rm, mv, branch, cat, rescue, fsck, gc). cvault's own code streams working files
into the store and hands dulwich only pointer blobs; working files are written through a
temp file and a rename, and a file that an operation would overwrite or delete while it
holds changes found nowhere else is first saved as a *rescue* entry.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import time_ns
from typing import TYPE_CHECKING, BinaryIO

from creativevault.errors import (
    FileChangedError,
    FileVanishedError,
    GitError,
    LockedError,
    NotAPointerError,
    NotAVaultError,
    ObjectMissingError,
    PathNotFoundError,
    PointerError,
    RevisionNotFoundError,
    StoreError,
    UsageError,
    VaultError,
    WorktreeError,
)
from creativevault.repo import hooks
from creativevault.repo.attributes import (
    AttributeRules,
    IgnoreRules,
    add_tracked_path,
    ensure_default_blocks,
)
from creativevault.repo.gitrepo import MODE_EXEC, MODE_FILE, FlatEntry, GitRepo
from creativevault.repo.paths import (
    find_collisions,
    from_repo_path,
    linked_git_dir,
    nfc,
    to_repo_path,
    walk_worktree,
)
from creativevault.repo.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from creativevault.repo.statcache import RACY_GRANULARITY_NS, StatCache, StatEntry, fingerprint
from creativevault.repo.statcache import git_mode as mode_for
from creativevault.repo.worktree_temp import clean as clean_temp_files
from creativevault.repo.worktree_temp import ensure_excluded, is_temp_name
from creativevault.repo.worktree_writer import FileWrite, WorktreeWriter, write_verified
from creativevault.store.layout import check_layout
from creativevault.types import Progress

if TYPE_CHECKING:
    # Imported where used: the store's modules (zstd, BLAKE3, FastCDC, SQLite) and the
    # merge machinery cost more than a no-change add or commit needs in all.
    from creativevault.repo.merge import KeptBoth, KeptChange
    from creativevault.store import ChunkerParams, Store
    from creativevault.store.store import Opener

__all__ = [
    "AddReport",
    "Change",
    "CheckoutReport",
    "CommitInfo",
    "FsckResult",
    "MergeReport",
    "RescueEntry",
    "Status",
    "Vault",
    "VaultStats",
]

RESCUE_REF = "refs/cvault/rescue"


_HASH_BLOCK = 1 << 20


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CommitInfo:
    """One commit as users see it."""

    id: str
    message: str
    author: str
    time: int
    tz: int
    parents: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.id[:10]

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    def to_json(self) -> dict:
        return {"id": self.id, "message": self.message, "author": self.author,
                "time": self.time, "tz": self.tz, "parents": list(self.parents)}


@dataclass(frozen=True)
class Change:
    """A path that differs between two states."""

    path: str
    kind: str  # "added" | "modified" | "deleted"
    managed: bool = False
    old_size: int | None = None
    new_size: int | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "managed": self.managed,
                "old_size": self.old_size, "new_size": self.new_size}


@dataclass
class Status:
    """Working tree and staging state, shaped like ``git status``."""

    branch: str | None
    head: str | None
    staged: list[Change] = field(default_factory=list)
    unstaged: list[Change] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    collisions: list[tuple[str, ...]] = field(default_factory=list)
    #: temp files of cvault's working-tree writer (``.cvault-tmp-*``): what a killed
    #: restore or checkout left, or one still running wrote; never untracked files
    temp_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.staged or self.unstaged or self.untracked)

    def to_json(self) -> dict:
        return {"branch": self.branch, "head": self.head,
                "staged": [c.to_json() for c in self.staged],
                "unstaged": [c.to_json() for c in self.unstaged],
                "untracked": self.untracked,
                "collisions": [list(c) for c in self.collisions],
                "temp_files": self.temp_files}


@dataclass
class AddReport:
    """What ``add`` staged."""

    paths: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added_bytes: int = 0
    logical_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"paths": self.paths, "removed": self.removed, "added_bytes": self.added_bytes,
                "logical_bytes": self.logical_bytes, "warnings": self.warnings}


@dataclass
class RescueEntry:
    """Working-file bytes saved before an operation overwrote or removed them."""

    index: int
    id: str
    time: int
    reason: str
    paths: list[str]

    @property
    def name(self) -> str:
        return f"rescue@{{{self.index}}}"

    def to_json(self) -> dict:
        return {"name": self.name, "id": self.id, "time": self.time, "reason": self.reason,
                "paths": self.paths}


@dataclass
class CheckoutReport:
    """What a checkout/restore planned and did."""

    target: str
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    rescued: RescueEntry | None = None
    dry_run: bool = False
    #: paths written as pointer text because their content is not in this vault
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"target": self.target, "written": self.written, "deleted": self.deleted,
                "rescued": self.rescued.to_json() if self.rescued else None,
                "dry_run": self.dry_run, "missing": self.missing}


@dataclass
class MergeReport:
    """What ``merge`` did: ``kind`` is ``"up-to-date"``, ``"fast-forward"`` or ``"merge"``.

    ``conflicts`` are the paths both sides changed (ours kept at the path, theirs beside
    it), ``kept`` the paths deleted on one side and changed on the other (the change kept),
    ``missing`` the files written as pointer text because their content is not here.
    """

    rev: str
    kind: str
    branch: str
    old_head: str | None
    head: str | None
    base: str | None = None
    commit: str | None = None
    conflicts: list[KeptBoth] = field(default_factory=list)
    kept: list[KeptChange] = field(default_factory=list)
    text_merged: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rescued: RescueEntry | None = None

    def to_json(self) -> dict:
        return {"rev": self.rev, "kind": self.kind, "branch": self.branch,
                "old_head": self.old_head, "head": self.head, "base": self.base,
                "commit": self.commit, "conflicts": [c.to_json() for c in self.conflicts],
                "kept": [k.to_json() for k in self.kept], "text_merged": self.text_merged,
                "written": self.written, "deleted": self.deleted, "missing": self.missing,
                "rescued": self.rescued.to_json() if self.rescued else None}


@dataclass
class VaultStats:
    """Size figures over the whole history."""

    commits: int
    files: int
    versions: int
    logical_bytes: int
    stored_bytes: int

    @property
    def ratio(self) -> float:
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 0.0

    def to_json(self) -> dict:
        return {"commits": self.commits, "files": self.files, "versions": self.versions,
                "logical_bytes": self.logical_bytes, "stored_bytes": self.stored_bytes,
                "ratio": round(self.ratio, 3)}


@dataclass
class FsckResult:
    """Store verification plus the check that every committed pointer has content."""

    ok: bool
    problems: list[str]
    checked_chunks: int
    checked_files: int
    missing_content: list[str]
    notes: list[str] = field(default_factory=list)
    #: temp files an interrupted restore or checkout left in the working tree, removed
    removed_temp_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ok": self.ok, "problems": self.problems, "checked_chunks": self.checked_chunks,
                "checked_files": self.checked_files, "missing_content": self.missing_content,
                "notes": self.notes, "removed_temp_files": self.removed_temp_files}


# ------------------------------------------------------------------------ working state
@dataclass(frozen=True)
class _Content:
    """What a blob or working file holds: its blob id and, for vault files, its file id."""

    blob_id: str
    file_id: str | None
    size: int | None = None

    def same(self, other: _Content | None) -> bool:
        if other is None:
            return False
        if self.file_id is not None or other.file_id is not None:
            return self.file_id == other.file_id
        return self.blob_id == other.blob_id


# hashlib is imported by the first hash: loading OpenSSL costs a no-change add ~4 ms.
def _git_blob_id_of_file(path: Path, size: int) -> str:
    import hashlib

    h = hashlib.sha1(f"blob {size}\0".encode())
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _sha256_of_file(path: Path) -> str:
    import hashlib

    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _entry(st: os.stat_result, mode: int, blob_id: str, file_id: str | None) -> StatEntry:
    """A stat-cache entry for a file just staged or written (``mode`` is the git mode)."""
    return StatEntry(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, mode, blob_id,
                     file_id)


class Vault:
    """A CreativeVault repository: ``Vault.init(path)`` or ``Vault.open(path)``."""

    def __init__(self, git: GitRepo, store: Store | None = None, *,
                 opener: Opener | None = None) -> None:
        """``store``: the opened store, or ``None`` to open it (with ``opener``) on first
        use; :meth:`open` has then checked its ``store.json``."""
        self.git = git
        self._store = store
        self._opener = opener
        self.root = git.worktree
        #: the store, shared by every worktree of the repository (``git worktree add``)
        self.cvault_dir = git.common_dir / "cvault"
        #: the stat cache belongs to this worktree (its files, its git index): for the
        #: main worktree it sits in the store's folder, for a linked one in its own
        self._statcache_path = git.git_dir / "cvault" / "statcache.msgpack"
        self._headcache: tuple[str | None, dict[str, FlatEntry]] | None = None
        #: names in one folder that are equal after NFC, seen by the last walk
        self._unicode_collisions: list[tuple[str, ...]] = []
        #: the writer's temp files the last walk passed over
        self._temp_files_seen: list[str] = []
        #: info/exclude was checked for the writer's temp-file line (once per instance)
        self._temp_files_excluded = False

    # ------------------------------------------------------------------ open / init
    @classmethod
    def init(cls, path: str | Path, *, branch: str = "main",
             chunker: ChunkerParams | None = None) -> Vault:
        """Make ``path`` a vault: a new folder, or an existing git repository (history kept).

        ``chunker`` sets a new store's chunking (a clone takes its source's, so the same
        content cuts into the same chunks on both sides)."""
        from creativevault.repo.install import install
        from creativevault.store import Store

        worktree = Path(path).absolute()
        if (worktree / ".git").is_dir() or linked_git_dir(worktree) is not None:
            # a linked worktree (git worktree add) makes its whole repository a vault:
            # the store, hooks and settings are shared by all its worktrees
            git = GitRepo.discover(worktree)
            if git.worktree.resolve() != worktree.resolve():
                raise UsageError("is inside another repository; run init at its top",
                                 path=worktree)
        elif (worktree / ".git").exists():
            raise UsageError(".git is a file naming a git directory of its own (a "
                             "submodule, or --separate-git-dir); not supported",
                             path=worktree)
        else:
            git = GitRepo.init(worktree, branch=branch)
        store = Store.init(git.common_dir / "cvault", chunker=chunker)
        ensure_default_blocks(git.worktree)
        install(git)
        return cls(git, store)

    @classmethod
    def attach(cls, path: str | Path = ".") -> Vault:
        """Open the vault of the repository at ``path``, creating an empty store if it has
        none (a plain ``git clone`` of a vault, reached through git's filter process)."""
        from creativevault.store import Store

        git = GitRepo.discover(Path(path))
        return cls(git, Store.init(git.common_dir / "cvault"))

    @classmethod
    def open(cls, path: str | Path = ".", *, opener: Opener | None = None) -> Vault:
        """Open the vault containing ``path``.

        ``opener(path)`` opens new pack files for writing (tests inject write failures).
        ``store.json`` is checked now (format, version, layout); the rest of the store
        (chunker settings, index) when it is first used.
        """
        git = GitRepo.discover(Path(path))
        cvault_dir = git.common_dir / "cvault"
        if not (cvault_dir / "store.json").exists():
            git.close()
            raise NotAVaultError("a git repository but not a vault (run 'cvault init')",
                                 path=git.worktree)
        try:
            check_layout(cvault_dir)
        except BaseException:
            git.close()  # nothing stays open on a drive that is about to be unplugged
            raise
        return cls(git, opener=opener)

    @property
    def store(self) -> Store:
        """The sidecar store, opened on first use: a no-change add or commit, and status,
        never need it, and opening it loads zstd, BLAKE3, FastCDC and SQLite (~13 ms)."""
        store = self._store
        if store is None:
            from creativevault.store import Store

            store = self._store = Store.open(self.cvault_dir, opener=self._opener)
        return store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self.git.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _repo_path(self, path: str | Path) -> str:
        """A user path (absolute, or relative to the vault root) as a repo path."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        return to_repo_path(self.root, p)

    def _disk(self, relpath: str) -> Path:
        return from_repo_path(self.root, relpath)

    def _rules(self) -> AttributeRules:
        threshold = self.git.config_get("cvault", "largefilethreshold")
        if threshold:
            return AttributeRules.load(self.root, threshold=int(threshold))
        return AttributeRules.load(self.root)

    def _load_statcache(self) -> StatCache:
        """The stat cache, re-synced from the git index if plain git changed it."""
        cache = StatCache.load(self._statcache_path)
        sig = self.git.index_signature()
        if cache.index_sig == sig and (sig is not None or not len(cache)):
            return cache
        fresh = StatCache()
        for path, entry in self.git.read_index().items():
            file_id = self._file_id_of_blob(entry.sha.decode())
            mtime = entry.mtime
            ctime = entry.ctime
            mtime_ns = mtime[0] * 1_000_000_000 + mtime[1] if isinstance(mtime, tuple) else 0
            ctime_ns = ctime[0] * 1_000_000_000 + ctime[1] if isinstance(ctime, tuple) else 0
            fresh.set(nfc(path), StatEntry(entry.size, mtime_ns, entry.ino, ctime_ns,
                                           entry.mode, entry.sha.decode(), file_id))
        fresh.head = None  # unknown whether the index still equals HEAD
        fresh.index_sig = sig
        return fresh

    def _save_statcache(self, cache: StatCache) -> None:
        cache.index_sig = self.git.index_signature()
        cache.save(self._statcache_path)

    def _write_index(self, cache: StatCache, *, matches_head: str | None = None) -> None:
        """Write the git index from the stat cache (stat data included), then the cache.

        ``matches_head`` is the commit whose tree the new index equals, if known: status
        then skips comparing the index with HEAD (``cache.head`` records it).
        """
        cache.head = matches_head
        entries = {}
        root = os.fspath(self.root)
        for path, e in cache.items():
            st = None
            if e.mtime_ns:
                try:  # plain string joins: pathlib costs seconds over 100,000 files
                    st = os.stat(os.path.join(root, *path.split("/")))
                except FileNotFoundError:  # stored on disk in another Unicode form?
                    with contextlib.suppress(OSError):
                        st = self._disk(path).stat()
                except OSError:
                    st = None
            if st is not None and self._same_stat(e, st):
                entries[path] = GitRepo.index_entry(st, e.blob_id, e.mode)
            else:
                entries[path] = GitRepo.index_entry_unstat(e.blob_id, e.mode)
        try:
            self.git.write_index(entries)
        except OSError as exc:
            raise LockedError(f"cannot write the git index ({exc}); if no other git process "
                              "is running, remove .git/index.lock", path=self.git.index_path
                              ) from exc
        self._save_statcache(cache)

    def _file_id_of_blob(self, blob_id: str) -> str | None:
        try:
            data = self.git.read_blob(blob_id)
        except GitError:
            return None
        if len(data) > 1024:
            return None
        try:
            return parse_pointer(data).oid
        except (NotAPointerError, PointerError):
            return None

    def _content_of_blob(self, blob_id: str, path: str | None = None) -> _Content:
        """What a blob holds; :class:`PointerError` naming ``path`` for a broken pointer."""
        size = self.git.loose_blob_size(blob_id)
        if size is not None and size > MAX_POINTER_SIZE:
            # too large to be a pointer: not inflated (a 2.8 MB mesh took 35 ms to read)
            return _Content(blob_id, None, size)
        data = self.git.read_blob(blob_id)
        try:
            ptr = parse_pointer(data, path=path)
        except NotAPointerError:
            return _Content(blob_id, None, len(data))
        return _Content(blob_id, ptr.oid, ptr.size)

    def _head_flat(self) -> dict[str, FlatEntry]:
        head = self.git.head_commit()
        if self._headcache is None or self._headcache[0] != head:
            self._headcache = (head, self.git.commit_tree_flat(head))
        return self._headcache[1]

    def _worktree_content(self, relpath: str, st: os.stat_result, cache: StatCache,
                          rules: AttributeRules | None = None) -> _Content:
        """What the working file holds, using the stat cache when it can be trusted."""
        disk = self._disk(relpath)
        entry = cache.get(relpath)
        if entry is not None and self._cache_trusts(cache, entry, st):
            return _Content(entry.blob_id, entry.file_id, st.st_size)
        managed = entry.file_id is not None if entry is not None else (
            (rules or self._rules()).is_managed(relpath, st.st_size))
        try:
            if managed:
                pointer = self._pointer_file(disk, st.st_size)
                if pointer is not None:  # the content was missing when it was written
                    data, ptr = pointer
                    return _Content(GitRepo.blob_id_for(data), ptr.oid, ptr.size)
                return _Content("", _sha256_of_file(disk), st.st_size)
            return _Content(_git_blob_id_of_file(disk, st.st_size), None, st.st_size)
        except FileNotFoundError as exc:
            raise FileVanishedError("vanished while cvault was reading it", path=disk) from exc
        except OSError as exc:
            raise FileVanishedError(f"cannot read ({exc.strerror})", path=disk) from exc

    @staticmethod
    def _pointer_file(disk: Path, size: int) -> tuple[bytes, Pointer] | None:
        """The pointer text a vault-managed working file holds instead of its content
        (written by a checkout or git's smudge filter when the content was not in this
        vault), or ``None``. Like git's clean filter, cvault takes it as that content."""
        if size > MAX_POINTER_SIZE:
            return None
        try:
            data = disk.read_bytes()
            return data, parse_pointer(data)
        except (OSError, NotAPointerError, PointerError):
            return None

    @staticmethod
    def _same_stat(entry: StatEntry, st: os.stat_result) -> bool:
        """``entry`` was recorded for a file with exactly this stat (git mode included)."""
        return entry.fingerprint == fingerprint(st)

    @classmethod
    def _cache_trusts(cls, cache: StatCache, entry: StatEntry, st: os.stat_result) -> bool:
        """The cached ids still describe the file: same stat, and not racily recent."""
        return (cls._same_stat(entry, st)
                and entry.mtime_ns < cache.written_ns - RACY_GRANULARITY_NS)

    def _scan(self, cache: StatCache) -> dict[str, os.stat_result]:
        """Walk the working tree: tracked files always, untracked ones unless ignored."""
        ignore = IgnoreRules.load(self.root)
        tracked_dirs: set[str] = set()
        for parent in {p.rpartition("/")[0] for p in cache.paths()}:
            while parent and parent not in tracked_dirs:
                tracked_dirs.add(parent)
                parent = parent.rpartition("/")[0]

        def skip(relpath: str) -> bool:
            key = relpath.rstrip("/")
            if key in tracked_dirs or key in cache:
                return False
            if is_temp_name(key.rpartition("/")[2]):
                # the writer's temp files, even without the info/exclude line
                self._temp_files_seen.append(key)
                return True
            return ignore.excludes(relpath)

        self._unicode_collisions = []
        self._temp_files_seen = []
        return dict(walk_worktree(self.root, skip, on_collision=lambda _p, names:
                                  self._unicode_collisions.append(names)))

    # ------------------------------------------------------------------ status
    def status(self) -> Status:
        """Compare HEAD, the staging area and the working tree."""
        cache = self._load_statcache()
        files = self._scan(cache)
        rules: AttributeRules | None = None
        status = Status(branch=self.git.head_branch(), head=self.git.head_commit())
        refreshed = False
        threshold = cache.written_ns - RACY_GRANULARITY_NS
        for path, st in files.items():
            raw = cache.stat_of(path)
            if raw is None:
                status.untracked.append(path)
                continue
            if raw == fingerprint(st) and raw[1] < threshold:
                continue  # the fast path: stat unchanged, nothing to read
            entry = cache.get(path)
            assert entry is not None
            if entry.file_id is None and rules is None:
                rules = self._rules()
            content = self._worktree_content(path, st, cache, rules)
            if content.same(_Content(entry.blob_id, entry.file_id)):
                cache.set(path, _entry(st, entry.mode, entry.blob_id, entry.file_id))
                refreshed = True
            else:
                status.unstaged.append(Change(path, "modified", entry.file_id is not None,
                                              entry.size, st.st_size))
        for path in cache.paths():
            if path not in files:
                entry = cache.get(path)
                assert entry is not None
                status.unstaged.append(Change(path, "deleted", entry.file_id is not None,
                                              entry.size, None))
        if cache.head is None or cache.head != status.head:
            status.staged = self._staged_changes(cache)
        status.untracked.sort()
        status.unstaged.sort(key=lambda c: c.path)
        status.collisions = find_collisions(set(files) | set(cache.paths())) + \
            self._unicode_collisions
        status.temp_files = sorted(self._temp_files_seen)
        if refreshed:
            self._save_statcache(cache)
        return status

    def _staged_changes(self, cache: StatCache) -> list[Change]:
        """Index against HEAD (only needed when the index may differ from HEAD)."""
        head_flat = self._head_flat()
        staged: list[Change] = []
        for path, entry in sorted(cache.items()):
            head = head_flat.get(path)
            if head is None:
                staged.append(Change(path, "added", entry.file_id is not None, None,
                                     entry.size))
            elif head.blob_id != entry.blob_id or head.mode != entry.mode:
                if entry.file_id is not None and head.mode == entry.mode \
                        and self._file_id_of_blob(head.blob_id) == entry.file_id:
                    continue
                staged.append(Change(path, "modified", entry.file_id is not None, None,
                                     entry.size))
        for path in sorted(head_flat):
            if path not in cache:
                managed = self._file_id_of_blob(head_flat[path].blob_id) is not None
                staged.append(Change(path, "deleted", managed))
        staged.sort(key=lambda c: c.path)
        return staged

    # ------------------------------------------------------------------ add
    def _expand(self, paths: Iterable[str | Path], cache: StatCache,
                files: dict[str, os.stat_result] | None = None
                ) -> tuple[list[str], list[str]]:
        """Paths to stage and tracked paths to unstage (deleted from disk)."""
        wanted: list[str] = []
        gone: list[str] = []
        if files is None:
            files = self._scan(cache)
        for raw in paths:
            rel = self._repo_path(raw)
            if rel == "":
                prefix_hits = list(files)
                tracked_gone = [p for p in cache.paths() if p not in files]
            else:
                prefix_hits = [p for p in files if p == rel or p.startswith(rel + "/")]
                tracked_gone = [p for p in cache.paths()
                                if (p == rel or p.startswith(rel + "/")) and p not in files]
            if not prefix_hits and not tracked_gone:
                disk = self._disk(rel)
                if disk.exists() and disk.is_file():
                    prefix_hits = [rel]  # an ignored file named explicitly: add it anyway
                else:
                    raise PathNotFoundError("did not match any file", path=raw)
            wanted.extend(prefix_hits)
            gone.extend(tracked_gone)
        return sorted(set(wanted)), sorted(set(gone))

    def add(self, paths: Iterable[str | Path], *, progress: Progress | None = None) -> AddReport:
        """Stage files (large ones into the store as pointers; small text as git blobs).

        When nothing changed, nothing is written: the stat cache and the git index stay
        as they are (so a no-change run costs one walk and one stat-cache load).
        """
        progress = progress or Progress()
        cache = self._load_statcache()
        files = self._scan(cache)
        wanted, gone = self._expand(paths, cache, files)
        report = AddReport()
        refreshed = self._stage(wanted, cache, report, progress, stats=files)
        for path in gone:
            cache.remove(path)
            report.removed.append(path)
        if report.paths or gone or not cache.written_ns:
            # something was staged, or the cache was rebuilt from an index plain git wrote
            self._write_index(cache)
        elif refreshed:
            self._save_statcache(cache)  # re-verified entries become trusted
        return report

    def _unchanged_since_staged(self, relpath: str, st: os.stat_result,
                                entry: StatEntry) -> bool:
        """Re-read a file whose stat equals its entry's but is too recent to trust it
        (the racy rule of docs/formats/statcache.md): does it still hold what is staged?
        ``st`` was taken before reading, as the rule asks."""
        disk = self._disk(relpath)
        try:
            if entry.file_id is not None:
                return _sha256_of_file(disk) == entry.file_id
            return _git_blob_id_of_file(disk, st.st_size) == entry.blob_id
        except OSError:
            return False  # staged the usual way, which names the file in its error

    def _still_staged(self, racy: dict[str, tuple[os.stat_result, StatEntry]]) -> set[str]:
        """The paths of ``racy`` whose bytes still are what is staged, re-read two at a time
        (hashing releases the GIL: the files just edited are often tens of MB)."""
        if len(racy) < 2:
            return {p for p, (st, e) in racy.items() if self._unchanged_since_staged(p, st, e)}
        import threading

        jobs = iter(sorted(racy.items(), key=lambda item: -item[1][0].st_size))
        unchanged: set[str] = set()

        def work() -> None:
            for path, (st, entry) in jobs:  # a list iterator hands each item out once
                if self._unchanged_since_staged(path, st, entry):
                    unchanged.add(path)

        workers = [threading.Thread(target=work, name="cvault-verify") for _ in range(2)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        return unchanged

    def _stage(self, wanted: list[str], cache: StatCache, report: AddReport,
               progress: Progress, *, stats: dict[str, os.stat_result] | None = None
               ) -> bool:
        """Stage ``wanted`` (``stats``: their ``lstat`` from the walk just made).

        Files whose stat and staged ids the cache trusts are skipped without being read,
        and so are racily recent ones that re-reading shows unchanged. Returns whether
        some of those became trustworthy (saving the cache now would record them).
        """
        rules: AttributeRules | None = None
        todo: list[tuple[str, os.stat_result, bool]] = []
        threshold = cache.written_ns - RACY_GRANULARITY_NS
        trust_after = time_ns() - RACY_GRANULARITY_NS
        refreshed = False
        candidates: list[tuple[str, os.stat_result]] = []
        racy: dict[str, tuple[os.stat_result, StatEntry]] = {}
        for path in wanted:
            raw = cache.stat_of(path)
            st = stats.get(path) if stats is not None else None
            if st is not None and raw is not None and raw[1] < threshold \
                    and raw == fingerprint(st):
                continue  # trusted: nothing to read (the usual case, decided by the walk)
            # Anything to read is stat'ed again, as the file _disk names: the walk took
            # the first of two spellings that differ only by Unicode form.
            disk = self._disk(path)
            try:
                st = disk.stat()
            except FileNotFoundError as exc:
                raise FileVanishedError("vanished before it could be added", path=disk) from exc
            except OSError as exc:
                raise FileVanishedError(f"cannot read ({exc.strerror})", path=disk) from exc
            if raw is not None and raw == fingerprint(st):
                if raw[1] < threshold:
                    continue  # trusted: nothing to read
                entry = cache.get(path)
                assert entry is not None
                racy[path] = (st, entry)
            candidates.append((path, st))
        unchanged = self._still_staged(racy)
        for path, st in candidates:
            if path in unchanged:
                refreshed = refreshed or st.st_mtime_ns < trust_after
                continue
            entry = cache.get(path)
            managed = entry is not None and entry.file_id is not None
            if not managed:
                rules = rules or self._rules()
                managed = rules.is_managed(path, st.st_size)
            todo.append((path, st, managed))
        if todo:
            rules = rules or self._rules()
            self._store_files(todo, cache, report, progress, rules)
        for group in find_collisions(cache.paths()) + self._unicode_collisions:
            report.warnings.append("paths differ only by case or Unicode form and cannot "
                                   "both exist on macOS/Windows: " + ", ".join(group))
        return refreshed

    def _store_files(self, todo: list[tuple[str, os.stat_result, bool]], cache: StatCache,
                     report: AddReport, progress: Progress, rules: AttributeRules) -> None:
        """Store or hash each ``(path, stat, managed)`` and record it in ``cache``."""
        total = sum(st.st_size for _, st, _ in todo)
        progress.start("adding", total)
        tracked_by_size: list[str] = []
        with self.store.writer(progress=progress) as writer:
            for path, st, managed in todo:
                progress.item(path)
                disk = self._disk(path)
                entry = cache.get(path)
                mode = mode_for(st)
                pointer = self._pointer_file(disk, st.st_size) if managed else None
                if pointer is not None:
                    # pointer text where the content was missing: staged as that content
                    data, ptr = pointer
                    cache.set(path, _entry(st, mode, self.git.add_blob(data), ptr.oid))
                    progress.advance(st.st_size)
                elif managed:
                    # the version staged before is the likeliest delta base for new chunks
                    stored = writer.put_file(disk, similar_to=entry.file_id if entry else None)
                    st = self._stat_after(disk)
                    if entry is not None and entry.file_id == stored.file_id:
                        blob_id = entry.blob_id  # same content: keep the committed pointer
                    else:
                        ptr = Pointer(oid=stored.file_id, size=stored.size,
                                      extra={"mtime": str(st.st_mtime_ns)})
                        blob_id = self.git.add_blob(ptr.encode())
                    cache.set(path, _entry(st, mode, blob_id, stored.file_id))
                    report.added_bytes += stored.added_bytes
                    if rules.filter_value(path) != "cvault":
                        tracked_by_size.append(path)
                else:
                    try:
                        data = disk.read_bytes()
                    except OSError as exc:
                        raise FileVanishedError(f"cannot read ({exc.strerror})",
                                                path=disk) from exc
                    st2 = self._stat_after(disk)
                    if st2.st_size != len(data) or st2.st_mtime_ns != st.st_mtime_ns:
                        raise FileChangedError("changed while cvault was reading it; try again",
                                               path=disk)
                    blob_id = self.git.add_blob(data)
                    report.added_bytes += len(data)
                    cache.set(path, _entry(st, mode, blob_id, None))
                    progress.advance(st.st_size)  # the store reports managed files' bytes
                report.logical_bytes += st.st_size
                report.paths.append(path)
        progress.finish()
        for path in tracked_by_size:
            add_tracked_path(self.root, path)
            report.warnings.append(f"{path}: larger than the size threshold; tracked by size "
                                   "in .gitattributes")
        if tracked_by_size:
            attrs = self._disk(".gitattributes")
            st = attrs.stat()
            data = attrs.read_bytes()
            cache.set(".gitattributes", _entry(st, MODE_FILE, self.git.add_blob(data), None))
            report.paths.append(".gitattributes")

    @staticmethod
    def _stat_after(disk: Path) -> os.stat_result:
        try:
            return disk.stat()
        except OSError as exc:
            raise FileVanishedError("vanished while cvault was reading it", path=disk) from exc

    # ------------------------------------------------------------------ commit
    def commit(self, message: str, *, all: bool = False, author: str | None = None,
               allow_empty: bool = False, progress: Progress | None = None) -> CommitInfo:
        """Record the staged state as a new commit on the current branch."""
        if not message.strip():
            raise UsageError("empty commit message")
        cache = self._load_statcache()
        if all:
            status = self.status()
            cache = self._load_statcache()
            changed = [c.path for c in status.unstaged if c.kind == "modified"]
            deleted = [c.path for c in status.unstaged if c.kind == "deleted"]
            if changed or deleted:
                report = AddReport()
                self._stage(changed, cache, report, progress or Progress())
                for path in deleted:
                    cache.remove(path)
                self._write_index(cache)
        self._run_user_hook("pre-commit")
        head = self.git.head_commit()
        if head is not None and cache.head == head and not allow_empty:
            # The stat cache, in step with the index, records that the index is HEAD's
            # tree (docs/formats/statcache.md): no tree needs building to know.
            raise UsageError("nothing to commit (use 'cvault add' to stage changes)")
        entries = {p: FlatEntry(e.mode, e.blob_id) for p, e in cache.items()}
        if head is None and not entries and not allow_empty:  # git refuses this too
            raise UsageError("nothing to commit (use 'cvault add' to stage changes)")
        tree = self.git.write_tree(entries)
        if head is not None and not allow_empty and self.git.commit(head).tree == tree:
            if cache.written_ns:
                # Found the long way: record it, so the next no-change commit need not.
                cache.head = head
                with contextlib.suppress(OSError, VaultError):  # derived data
                    self._save_statcache(cache)
            raise UsageError("nothing to commit (use 'cvault add' to stage changes)")
        commit_id = self.git.create_commit(tree, [head] if head else [], message,
                                           author=author)
        first = message.strip().splitlines()[0]
        prefix = "commit" if head else "commit (initial)"
        self.git.update_ref("HEAD", commit_id, head, f"{prefix}: {first}")
        cache.head = commit_id
        self._save_statcache(cache)
        return self._info(commit_id)

    def _run_user_hook(self, name: str) -> None:
        """Run a hook the repository had before cvault (chained by ``hooks.install``)."""
        import subprocess

        for hook in hooks.chained_hooks(hooks.hooks_dir_of(self.git), name):
            try:
                result = subprocess.run([str(hook)], cwd=self.root, capture_output=True,
                                        text=True)
            except OSError as exc:
                raise UsageError(f"cannot run the {name} hook ({exc.strerror})",
                                 path=hook) from exc
            if result.returncode != 0:
                detail = (result.stderr or result.stdout).strip().splitlines()
                raise UsageError(f"{name} hook refused the commit"
                                 + (f": {detail[-1]}" if detail else ""), path=hook)

    def _info(self, commit_id: str) -> CommitInfo:
        c = self.git.commit(commit_id)
        return CommitInfo(c.id, c.message, c.author, c.author_time, c.author_tz, c.parents)

    # ------------------------------------------------------------------ log / show
    def log(self, rev: str = "HEAD", *, max_count: int | None = None,
            paths: Sequence[str | Path] | None = None) -> list[CommitInfo]:
        """Commits reachable from ``rev``, newest first."""
        if rev == "HEAD" and self.git.head_commit() is None:
            return []
        start = self.resolve(rev)
        rel = [self._repo_path(p) for p in paths] if paths else None
        return [CommitInfo(c.id, c.message, c.author, c.author_time, c.author_tz, c.parents)
                for c in self.git.walk([start], max_entries=max_count, paths=rel)]

    def show(self, rev: str = "HEAD") -> tuple[CommitInfo, list[Change]]:
        """A commit and the files it changed against its first parent."""
        commit_id = self.resolve(rev)
        info = self._info(commit_id)
        new_tree = self.git.commit(commit_id).tree
        old_tree = self.git.commit(info.parents[0]).tree if info.parents else None
        return info, self._tree_changes(self.git.changed_entries(old_tree, new_tree))

    def _tree_changes(self, pairs: dict[str, tuple[FlatEntry | None, FlatEntry | None]]
                      ) -> list[Change]:
        changes = []
        for path in sorted(pairs):
            a, b = pairs[path]
            if a is not None and b is not None and a == b:
                continue
            ca = self._content_of_blob(a.blob_id, path) if a else None
            cb = self._content_of_blob(b.blob_id, path) if b else None
            if (a is not None and b is not None and ca is not None and cb is not None
                    and ca.same(cb) and a.mode == b.mode):
                continue
            kind = "added" if a is None else "deleted" if b is None else "modified"
            managed = bool((ca and ca.file_id) or (cb and cb.file_id))
            changes.append(Change(path, kind, managed, ca.size if ca else None,
                                  cb.size if cb else None))
        return changes

    # ------------------------------------------------------------------ cat
    def cat(self, spec: str, out: BinaryIO) -> int:
        """Stream the bytes of ``REV:PATH`` (or ``:PATH`` for the staged version) to ``out``."""
        if ":" not in spec:
            raise UsageError(f"expected REV:PATH, got '{spec}'")
        rev, _, path = spec.partition(":")
        rel = nfc(path.strip("/"))
        if rev == "":
            entry = self._load_statcache().get(rel)
            if entry is None:
                raise PathNotFoundError("is not staged", path=rel)
            blob_id = entry.blob_id
        else:
            found = self.git.entry_at(self.resolve(rev), rel) if rel else None
            if found is None:
                raise PathNotFoundError(f"does not exist in {rev}", path=rel)
            blob_id = found.blob_id
        data = self.git.read_blob(blob_id)
        try:
            ptr = parse_pointer(data, path=rel)
        except NotAPointerError:
            out.write(data)
            return len(data)
        if not self.store.has_file(ptr.oid):
            raise ObjectMissingError(f"content {ptr.oid[:12]} is not in this vault", path=rel)
        return self._write_content(rel, ptr.oid, out)

    def _write_content(self, relpath: str, file_id: str, out: BinaryIO) -> int:
        """Stream verified content to ``out``; a damaged chunk names the user's file."""
        return write_verified(self.store, relpath, file_id, out)

    # ------------------------------------------------------------------ materialize
    def _file_write(self, relpath: str, entry: FlatEntry, content: _Content) -> FileWrite:
        """What writing the committed bytes of ``relpath`` takes (see worktree_writer)."""
        disk = self._disk(relpath)
        executable = entry.mode == MODE_EXEC
        if content.file_id is None:
            return FileWrite(relpath, disk, content.size or 0, executable,
                             blob_id=entry.blob_id)
        ptr = parse_pointer(self.git.read_blob(entry.blob_id), path=relpath)
        return FileWrite(relpath, disk, ptr.size, executable, file_id=ptr.oid,
                         mtime_ns=ptr.mtime_ns)

    def _worktree_writer(self, paths: Iterable[str]) -> WorktreeWriter:
        """The writer for files at ``paths``, once the temp files an interrupted write left
        in their folders are removed (the stale ones only: repo/worktree_temp.py) and git
        is told to ignore such files."""
        if not self._temp_files_excluded:
            self._temp_files_excluded = True
            with contextlib.suppress(OSError):  # plain git shows them; cvault's walk not
                ensure_excluded(self.git.common_dir)
        clean_temp_files(self.root, {p.rpartition("/")[0] for p in paths})
        return WorktreeWriter(self.store, self.git.read_blob)

    # ------------------------------------------------------------------ rescue
    def _save_rescue(self, paths: list[str], reason: str) -> RescueEntry | None:
        """Keep the current bytes of ``paths`` (those that exist) as a rescue entry."""
        existing = [p for p in paths if self._disk(p).is_file()]
        if not existing:
            return None
        rules = self._rules()
        entries: dict[str, FlatEntry] = {}
        try:
            staged = self.git.read_index()
        except VaultError:
            staged = {}
        head = self.git.head_commit()

        def previous(path: str) -> str | None:
            """The staged (else committed) version's file id: a delta hint, nothing more."""
            entry = staged.get(path)
            file_id = self._file_id_of_blob(entry.sha.decode()) if entry is not None else None
            if file_id is None and head is not None:
                try:
                    committed = self.git.entry_at(head, path)
                except (VaultError, KeyError):
                    committed = None
                if committed is not None:
                    file_id = self._file_id_of_blob(committed.blob_id)
            return file_id

        with self.store.writer() as writer:
            for path in existing:
                disk = self._disk(path)
                st = disk.stat()
                if rules.is_managed(path, st.st_size) or st.st_size >= (1 << 20):
                    stored = writer.put_file(disk, similar_to=previous(path))
                    ptr = Pointer(oid=stored.file_id, size=stored.size,
                                  extra={"mtime": str(st.st_mtime_ns)})
                    blob_id = self.git.add_blob(ptr.encode())
                else:
                    blob_id = self.git.add_blob(disk.read_bytes())
                entries[path] = FlatEntry(mode_for(st), blob_id)
        tree = self.git.write_tree(entries)
        parent = self.git.ref(RESCUE_REF)
        message = f"rescue: {reason}\n\n" + "\n".join(existing) + "\n"
        commit_id = self.git.create_commit(tree, [parent] if parent else [], message)
        self.git.set_ref(RESCUE_REF, commit_id, f"rescue: {reason}")
        return RescueEntry(0, commit_id, self.git.commit(commit_id).commit_time, reason,
                           existing)

    def rescue_list(self) -> list[RescueEntry]:
        """Saved working files, newest first (``rescue@{0}`` is the latest)."""
        out = []
        cid = self.git.ref(RESCUE_REF)
        n = 0
        while cid:
            c = self.git.commit(cid)
            head, _, body = c.message.partition("\n\n")
            reason = head.removeprefix("rescue: ").strip()
            out.append(RescueEntry(n, cid, c.commit_time, reason,
                                   [line for line in body.splitlines() if line]))
            cid = c.parents[0] if c.parents else None
            n += 1
        return out

    def resolve(self, rev: str) -> str:
        """A commit id for ``rev``: anything git accepts, or a rescue name (``rescue@{0}``)."""
        if rev.startswith("rescue@{"):
            return self._rescue_entry(rev).id
        return self.git.resolve(rev)

    def _rescue_entry(self, name: str) -> RescueEntry:
        entries = self.rescue_list()
        key = name
        if key.startswith("rescue@{") and key.endswith("}"):
            key = key[len("rescue@{"):-1]
        if key.isdigit() and int(key) < len(entries):
            return entries[int(key)]
        for e in entries:
            if len(key) >= 4 and e.id.startswith(key):
                return e
        raise RevisionNotFoundError(f"no rescue entry '{name}' (see 'cvault rescue list')")

    def rescue_restore(self, name: str = "0", paths: Sequence[str | Path] | None = None
                       ) -> CheckoutReport:
        """Write the files saved in a rescue entry back (saving what they replace first)."""
        entry = self._rescue_entry(name)
        flat = self.git.commit_tree_flat(entry.id)
        wanted = [self._repo_path(p) for p in paths] if paths else sorted(flat)
        for p in wanted:
            if p not in flat:
                raise PathNotFoundError(f"is not in {entry.name}", path=p)
        return self._write_paths({p: flat[p] for p in wanted}, f"rescue restore {entry.name}",
                                 target=entry.name)

    # ------------------------------------------------------------------ checkout / restore
    def _worktree_state(self, path: str, cache: StatCache) -> _Content | None:
        disk = self._disk(path)
        try:
            st = disk.stat()
        except (FileNotFoundError, NotADirectoryError):  # a file where a parent folder goes
            return None
        if not disk.is_file():
            return _Content("<dir>", "<dir>")
        return self._worktree_content(path, st, cache)

    def _write_paths(self, targets: dict[str, FlatEntry], reason: str, *, target: str,
                     keep_safe: Iterable[dict[str, FlatEntry]] = (),
                     dry_run: bool = False) -> CheckoutReport:
        """Write ``targets`` into the working tree (index untouched), rescuing first."""
        cache = self._load_statcache()
        safe_sets = [self._head_flat(), *keep_safe]
        plan_write: list[tuple[str, FlatEntry, _Content]] = []
        rescue: list[str] = []
        for path, fe in sorted(targets.items()):
            want = self._content_of_blob(fe.blob_id, path)
            have = self._worktree_state(path, cache)
            if have is not None and have.same(want):
                continue
            if want.file_id is not None and not self.store.has_file(want.file_id):
                raise ObjectMissingError(f"content {want.file_id[:12]} is not in this vault",
                                         path=path)
            if have is not None and not self._is_safe(path, have, cache, safe_sets):
                rescue.append(path)
            plan_write.append((path, fe, want))
        report = CheckoutReport(target=target, written=[p for p, _, _ in plan_write],
                                dry_run=dry_run)
        if dry_run:
            return report
        report.rescued = self._save_rescue(rescue, reason) if rescue else None

        def written(f: FileWrite, st: os.stat_result) -> None:
            entry = cache.get(f.path)
            if entry is not None and entry.blob_id == targets[f.path].blob_id:
                cache.set(f.path, _entry(st, entry.mode, entry.blob_id, entry.file_id))

        self._worktree_writer(targets).write(
            [self._file_write(path, fe, want) for path, fe, want in plan_write], written)
        # the git index too: its stat data must follow the rewritten files, or plain git
        # (which cannot re-clean a vault file without the filter) sees them as modified
        self._write_index(cache)
        return report

    def _is_safe(self, path: str, have: _Content, cache: StatCache,
                 safe_sets: list[dict[str, FlatEntry]], *, index_kept: bool = True) -> bool:
        """True when the working bytes of ``path`` also exist in a commit or the index.

        ``index_kept=False`` when the operation also replaces or drops the index entry
        (checkout, rm): bytes that were only staged would then be referenced by nothing.
        """
        staged = cache.get(path)
        if staged is not None and have.same(_Content(staged.blob_id, staged.file_id)):
            head = self._head_flat().get(path)
            if head is not None and head.blob_id == staged.blob_id:
                return True
            # staged but never committed: safe while the index keeps it and the store has it
            if index_kept and staged.file_id is not None and self.store.has_file(
                    staged.file_id):
                return True
        for flat in safe_sets:
            fe = flat.get(path)
            if fe is not None and have.same(self._content_of_blob(fe.blob_id, path)):
                return True
        return False

    def restore(self, paths: Iterable[str | Path], *, source: str | None = None,
                staged: bool = False, dry_run: bool = False) -> CheckoutReport:
        """Bring files back from the index (default) or ``source``; see ``git restore``."""
        cache = self._load_statcache()
        if source is not None:
            src_flat = self.git.commit_tree_flat(self.resolve(source))
        elif staged:
            src_flat = self._head_flat()
        else:
            src_flat = {p: FlatEntry(e.mode, e.blob_id) for p, e in cache.items()}
        targets: dict[str, FlatEntry] = {}
        unstage: set[str] = set()  # staged paths the source lacks (a new file): unstaged
        for raw in paths:
            rel = self._repo_path(raw)
            hits = {p: fe for p, fe in src_flat.items()
                    if rel == "" or p == rel or p.startswith(rel + "/")}
            gone = {p for p, _ in cache.items() if (rel == "" or p == rel or p.startswith(
                rel + "/")) and p not in src_flat} if staged else set()
            if not hits and not gone:
                where = source or ("HEAD" if staged else "the index")
                raise PathNotFoundError(f"is not in {where}", path=raw)
            targets.update(hits)
            unstage |= gone
        label = source or ("HEAD" if staged else "index")
        if staged:
            # like git restore --staged: the index takes the source, working files stay
            report = CheckoutReport(target=label, written=sorted(set(targets) | unstage),
                                    dry_run=dry_run)
            if not dry_run:
                for path, fe in targets.items():
                    entry = cache.get(path)
                    if entry is not None and entry.blob_id == fe.blob_id \
                            and entry.mode == fe.mode:
                        continue  # already staged as in the source: keep its stat data
                    content = self._content_of_blob(fe.blob_id, path)
                    cache.set(path, StatEntry(0, 0, 0, 0, fe.mode, fe.blob_id, content.file_id))
                for path in unstage:
                    cache.remove(path)
                self._write_index(cache)
            return report
        return self._write_paths(targets, f"restore from {label}", target=label,
                                 keep_safe=[src_flat], dry_run=dry_run)

    def checkout(self, rev: str, *, create: bool = False, dry_run: bool = False,
                 missing: str = "error", progress: Progress | None = None) -> CheckoutReport:
        """Switch the working tree, index and HEAD to a branch or commit.

        ``missing`` says what to do with a file whose content is not in this vault (a
        vault cloned without content): ``"error"`` refuses before anything changes,
        ``"pointer"`` writes the pointer text in its place (listed in ``report.missing``;
        ``cvault get PATH`` fetches the content later).
        """
        old_head = self.git.head_commit()
        branches = self.git.branches()
        if create:
            if rev in branches:
                raise UsageError(f"branch '{rev}' already exists")
            target_id = old_head
            branch: str | None = rev
        elif rev in branches:
            target_id, branch = branches[rev], rev
            self._refuse_branch_of_another_worktree(rev)
        else:
            target_id, branch = self.resolve(rev), None
        report = self._switch_to(target_id, label=rev, verb="checkout", missing=missing,
                                 dry_run=dry_run, progress=progress)
        if dry_run:
            return report
        old_name = self.git.head_branch() or (old_head or "")[:10]
        message = f"checkout: moving from {old_name} to {rev}"
        if branch is not None:
            if create and target_id is not None:
                self.git.set_ref(f"refs/heads/{branch}", target_id, f"branch: Created from "
                                 f"{old_name}")
            self.git.set_head_branch(branch)
        elif target_id is not None:
            self.git.set_head_detached(target_id, message)
        self._headcache = None
        return report

    def _refuse_branch_of_another_worktree(self, branch: str) -> None:
        """As git does: a branch is checked out in one worktree at a time (a commit in one
        would move the branch under the other's files)."""
        where = self.git.checked_out_branches().get(branch)
        if where is not None and os.path.normcase(os.path.realpath(where)) != \
                os.path.normcase(os.path.realpath(self.root)):
            raise UsageError(f"'{branch}' is already checked out at '{where}' (another "
                             "worktree); check out its commit id, or make a new branch "
                             "there")

    def _switch_to(self, target_id: str | None, *, label: str, verb: str,
                   missing: str = "error", dry_run: bool = False,
                   progress: Progress | None = None) -> CheckoutReport:
        """Move the working tree and the index from HEAD's state to commit ``target_id``.

        Refs are not touched: the caller moves HEAD or the branch afterwards, so a failure
        half-way leaves HEAD and the index naming the old commit. As git does, a path both
        commits agree on keeps its staged and working state; working bytes found in no
        commit and not in the index are saved as a rescue entry before being overwritten.
        ``missing`` is ``"error"`` or ``"pointer"`` (see :meth:`checkout`).
        """
        if missing not in ("error", "pointer"):
            raise UsageError(f"missing must be 'error' or 'pointer', not '{missing}'")
        progress = progress or Progress()
        old_head = self.git.head_commit()
        cache = self._load_statcache()
        target = self.git.commit_tree_flat(target_id)
        current = {p: FlatEntry(e.mode, e.blob_id) for p, e in cache.items()}
        head_flat = self._head_flat()
        # as git does, a path both commits agree on keeps its staged and working state
        # (``checkout -b`` with local edits carries them); only the others are switched
        differs = {p for p in set(head_flat) | set(target) if head_flat.get(p) != target.get(p)}
        writes = {p: fe for p, fe in target.items() if p in differs
                  and (current.get(p) != fe or not self._clean(p, cache))}
        deletes = [p for p in current if p not in target and p in differs]
        # plan: check content presence and what must be rescued before touching anything
        safe = [head_flat, target]
        rescue = []
        contents: dict[str, _Content] = {}
        absent: set[str] = set()  # content not in this vault: the pointer text is written
        unchanged: set[str] = set()  # working bytes already right (racily clean files)
        for path, fe in writes.items():
            want = self._content_of_blob(fe.blob_id, path)
            contents[path] = want
            if want.file_id is not None and not self.store.has_file(want.file_id):
                if missing == "error":
                    raise ObjectMissingError(f"content {want.file_id[:12]} is not in this "
                                             "vault; nothing was changed", path=path)
                absent.add(path)
            have = self._worktree_state(path, cache)
            if have is not None and have.same(want) and self._disk(path).is_file():
                unchanged.add(path)
            elif have is not None and not self._is_safe(path, have, cache, safe,
                                                        index_kept=False):
                rescue.append(path)
        for path in deletes:
            have = self._worktree_state(path, cache)
            if have is not None and not self._is_safe(path, have, cache, safe,
                                                      index_kept=False):
                rescue.append(path)
        self._check_nothing_in_the_way(writes, set(deletes), cache)
        report = CheckoutReport(target=label, written=sorted(set(writes) - unchanged),
                                deleted=sorted(deletes), dry_run=dry_run,
                                missing=sorted(absent - unchanged))
        if dry_run:
            return report
        if rescue:
            report.rescued = self._save_rescue(sorted(rescue), f"before {verb} {label}")
        progress.start(verb, len(writes) + len(deletes), unit="files")
        done = 0
        try:
            for path in deletes:
                disk = self._disk(path)
                with contextlib.suppress(FileNotFoundError):
                    disk.unlink()
                self._prune_empty_dirs(disk.parent)
                cache.remove(path)
                done += 1
                progress.advance(1)
            jobs: list[FileWrite] = []
            for path, fe in sorted(writes.items()):
                if path in unchanged:  # the plan found its working bytes already right
                    progress.item(path)
                    cache.set(path, _entry(self._disk(path).stat(), fe.mode, fe.blob_id,
                                           contents[path].file_id))
                    done += 1
                    progress.advance(1)
                elif path in absent:  # the pointer text itself, as git-lfs does
                    jobs.append(self._file_write(path, fe, _Content(fe.blob_id, None)))
                else:
                    jobs.append(self._file_write(path, fe, contents[path]))

            def written(f: FileWrite, st: os.stat_result) -> None:
                nonlocal done
                progress.item(f.path)
                fe = writes[f.path]
                cache.set(f.path, _entry(st, fe.mode, fe.blob_id, contents[f.path].file_id))
                done += 1
                progress.advance(1)

            self._worktree_writer(differs).write(jobs, written)
        except VaultError as exc:
            # Say what remains: HEAD and the index still name the old commit, so the files
            # already switched show as changes and `checkout` of the old one undoes them.
            back = self.git.head_branch() or (old_head or "")[:10]
            raise type(exc)(f"{exc.message}; {verb} stopped after {done} of "
                            f"{len(writes) + len(deletes)} files (HEAD and the index are "
                            f"unchanged; 'cvault checkout {back}' returns to where you were)",
                            path=exc.path, offset=exc.offset) from exc
        progress.finish()
        carried = any(current.get(p) != target.get(p) for p in set(current) | set(target)
                      if p not in differs)  # staged changes kept: the index is not target
        self._write_index(cache, matches_head=None if carried else target_id)
        return report

    # ------------------------------------------------------------------ merge
    def merge(self, rev: str, *, message: str | None = None, allow_unrelated: bool = False,
              name: str | None = None, progress: Progress | None = None) -> MergeReport:
        """Bring ``rev`` into the current branch, keeping every version (``docs/merge.md``).

        Up to date when ``rev`` is already in HEAD's history; a fast-forward when HEAD is
        in ``rev``'s; otherwise a merge commit with parents [HEAD, rev] whose message lists
        the files kept both ways. Refuses, changing nothing, when files the merge would
        change hold uncommitted changes. Files whose content is not in this vault are
        written as pointer text (``report.missing``). ``name`` is how ``rev`` is called
        in messages and conflicted-copy names (default: ``rev``; a pull from an address
        passes the remote branch's name rather than cvault's internal ref).
        """
        from creativevault.repo.merge import branch_label, merge_base, merge_trees

        progress = progress or Progress()
        branch = self.git.head_branch()
        if branch is None:
            raise UsageError("HEAD is detached; check out the branch to merge into first "
                             "('cvault checkout main')")
        theirs = self.resolve(rev)
        rev = name or rev
        head = self.git.head_commit()
        report = MergeReport(rev=rev, kind="up-to-date", branch=branch, old_head=head,
                             head=head)
        base = merge_base(self.git, head, theirs) if head is not None else None
        report.base = base
        if head is not None and base == theirs:
            return report
        if head is None or base == head:
            report.kind, target = "fast-forward", theirs
            self._refuse_local_changes(self.git.commit_tree_flat(theirs))
            reflog = f"merge {rev}: Fast-forward"
        else:
            if base is None and not allow_unrelated:
                raise UsageError(f"refusing to merge unrelated histories ('{rev}' shares no "
                                 "commit with HEAD); allow it with --allow-unrelated-histories")
            merged = merge_trees(self.git, self.git.commit_tree_flat(base),
                                 self._head_flat(), self.git.commit_tree_flat(theirs),
                                 label=branch_label(rev),
                                 exists=lambda p: os.path.lexists(self._disk(p)))
            self._refuse_local_changes(merged.tree)
            report.kind = "merge"
            report.conflicts, report.kept = merged.conflicts, merged.kept
            report.text_merged = merged.text_merged
            lines = [c.describe() for c in merged.conflicts]
            lines += [k.describe(ours=branch, theirs=rev) for k in merged.kept]
            text = (message or f"Merge {rev} into {branch}").rstrip("\n")
            if lines:
                text += "\n\n" + "\n".join(lines)
            target = self.git.create_commit(self.git.write_tree(merged.tree), [head, theirs],
                                            text + "\n")
            report.commit = target
            reflog = (f"merge {rev}: Merge made by cvault"
                      + (f" ({len(merged.conflicts)} kept both)" if merged.conflicts else ""))
        switched = self._switch_to(target, label=rev, verb="merge", missing="pointer",
                                   progress=progress)
        # refs last: a merge stopped before this line left HEAD where it was
        self.git.update_ref("HEAD", target, head, reflog)
        self._headcache = None
        report.head = target
        report.written, report.deleted = switched.written, switched.deleted
        report.missing, report.rescued = switched.missing, switched.rescued
        if switched.missing:
            progress.warn(f"{len(switched.missing)} file(s) were written as pointer files "
                          "because their content is not in this vault; 'cvault get PATH' "
                          "fetches them")
        return report

    def _refuse_local_changes(self, target: dict[str, FlatEntry]) -> None:
        """Refuse, before anything changes, when a tracked path that differs between HEAD
        and ``target`` has staged or unstaged changes (a merge never overwrites them)."""
        head_flat = self._head_flat()
        cache = self._load_statcache()
        for path in sorted(p for p in set(head_flat) | set(target)
                           if head_flat.get(p) != target.get(p)):
            head, entry = head_flat.get(path), cache.get(path)
            if entry is None and head is None:
                continue  # not tracked: checkout rescues an untracked file in the way
            if path not in target and not self._disk(path).exists():
                continue  # deleted here and by the merge: nothing to lose
            dirty = entry is None or head is None or entry.mode != head.mode
            if not dirty and entry is not None and head is not None:
                staged = _Content(entry.blob_id, entry.file_id)
                dirty = not staged.same(self._content_of_blob(head.blob_id, path))
                have = self._worktree_state(path, cache)
                dirty = dirty or have is None or not have.same(staged)
            if dirty:
                raise WorktreeError("has uncommitted changes the merge would overwrite; "
                                    "commit them first ('cvault commit -a -m ...'), then "
                                    "merge again (nothing was changed)", path=path)

    def _check_nothing_in_the_way(self, writes: Iterable[str], deletes: set[str],
                                  cache: StatCache) -> None:
        """Refuse, before touching anything, when a folder or a file blocks a write.

        A folder where a file goes is fine only if everything in it is tracked and removed
        by the same checkout; a file where a folder goes only if it is such a file too.
        """
        checked: set[str] = set()
        for path in writes:
            disk = self._disk(path)
            if disk.is_dir():
                for sub, _st in walk_worktree(disk):
                    if f"{path}/{sub}" not in deletes:
                        raise WorktreeError("a folder is in the way of a file; nothing was "
                                            "changed", path=disk)
            parent = path.rpartition("/")[0]
            while parent and parent not in checked:
                checked.add(parent)
                pdisk = self._disk(parent)
                if pdisk.exists() and not pdisk.is_dir() and parent not in deletes:
                    raise WorktreeError("a file is in the way of a folder; nothing was "
                                        "changed", path=pdisk)
                parent = parent.rpartition("/")[0]

    def _clean(self, path: str, cache: StatCache) -> bool:
        entry = cache.get(path)
        if entry is None:
            return False
        try:
            st = self._disk(path).stat()
        except FileNotFoundError:
            return False
        return self._cache_trusts(cache, entry, st)

    def _prune_empty_dirs(self, directory: Path) -> None:
        while directory != self.root and directory.is_dir():
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    # ------------------------------------------------------------------ rm / mv
    def rm(self, paths: Iterable[str | Path], *, cached: bool = False,
           force: bool = False) -> list[str]:
        """Stop tracking files and (unless ``cached``) delete them from the working tree."""
        cache = self._load_statcache()
        victims: list[str] = []
        for raw in paths:
            rel = self._repo_path(raw)
            hits = [p for p, _ in cache.items() if p == rel or p.startswith(rel + "/")]
            if not hits:
                raise PathNotFoundError("is not tracked", path=raw)
            victims.extend(hits)
        victims = sorted(set(victims))
        if not cached:
            risky = []
            for path in victims:
                have = self._worktree_state(path, cache)
                if have is not None and not self._is_safe(path, have, cache,
                                                          [self._head_flat()],
                                                          index_kept=False):
                    risky.append(path)
            if risky and not force:
                raise WorktreeError("has changes that were never committed; use --force to "
                                    "remove it anyway (its bytes are kept as a rescue entry)",
                                    path=risky[0])
            if risky:
                self._save_rescue(risky, "before rm --force")
            for path in victims:
                disk = self._disk(path)
                with contextlib.suppress(FileNotFoundError):
                    disk.unlink()
                self._prune_empty_dirs(disk.parent)
        for path in victims:
            cache.remove(path)
        self._write_index(cache)
        return victims

    def mv(self, source: str | Path, dest: str | Path) -> list[tuple[str, str]]:
        """Move or rename a tracked file or folder, in the working tree and the index."""
        cache = self._load_statcache()
        src = self._repo_path(source)
        dst = self._repo_path(dest)
        if self._disk(dst).is_dir():
            dst = f"{dst}/{src.rsplit('/', 1)[-1]}" if dst else src.rsplit("/", 1)[-1]
        moves = [(p, dst + p[len(src):]) for p, _ in cache.items()
                 if p == src or p.startswith(src + "/")]
        if not moves:
            raise PathNotFoundError("is not tracked", path=source)
        src_disk, dst_disk = self._disk(src), self._disk(dst)
        if dst_disk.exists() and nfc(str(dst_disk).casefold()) != nfc(str(src_disk).casefold()):
            raise WorktreeError("destination exists", path=dst_disk)
        dst_disk.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src_disk, dst_disk)
        except OSError as exc:
            raise WorktreeError(f"cannot move ({exc.strerror})", path=src_disk) from exc
        for old, new in moves:
            entry = cache.get(old)
            cache.remove(old)
            assert entry is not None
            try:
                st = self._disk(new).stat()
                cache.set(new, _entry(st, entry.mode, entry.blob_id, entry.file_id))
            except FileNotFoundError:
                cache.set(new, entry)
        self._prune_empty_dirs(src_disk.parent)
        self._write_index(cache)
        return moves

    # ------------------------------------------------------------------ branches
    def branch(self, name: str | None = None, *, start: str = "HEAD", delete: bool = False,
               force: bool = False) -> dict[str, str]:
        """List branches, or create/delete one. Returns the branches afterwards."""
        if name is None:
            return self.git.branches()
        branches = self.git.branches()
        if delete:
            if name not in branches:
                raise RevisionNotFoundError(f"no branch '{name}'")
            if name == self.git.head_branch():
                raise UsageError(f"cannot delete the checked-out branch '{name}'")
            where = self.git.checked_out_branches().get(name)
            if where is not None:
                raise UsageError(f"cannot delete branch '{name}': it is checked out at "
                                 f"'{where}' (another worktree)")
            head = self.git.head_commit()
            if not force and (head is None or branches[name] not in self.git.ancestors(head)):
                raise UsageError(f"branch '{name}' is not merged into HEAD; use -D to delete "
                                 "it anyway")
            self.git.delete_ref(f"refs/heads/{name}")
            return self.git.branches()
        if name in branches:
            raise UsageError(f"branch '{name}' already exists")
        if not name or name.startswith("-") or ".." in name or " " in name:
            raise UsageError(f"'{name}' is not a valid branch name")
        self.git.set_ref(f"refs/heads/{name}", self.resolve(start),
                         f"branch: Created from {start}")
        return self.git.branches()

    # ------------------------------------------------------------------ hooks
    def check_staged(self) -> list[str]:
        """Vault-managed paths staged as plain git blobs (what the pre-commit hook refuses)."""
        rules = self._rules()
        index = self.git.read_index()
        raw = [path for path, entry in index.items()
               if rules.filter_value(path) == "cvault"
               and self._file_id_of_blob(entry.sha.decode()) is None]
        if not raw:
            return []
        # a raw blob HEAD already holds (committed before cvault was installed) is not put
        # into git by this commit: refusing it would block every commit
        head = self._head_flat()
        return sorted(path for path in raw
                      if path not in head or head[path].blob_id != index[path].sha.decode())

    def materialize_pointers(self) -> list[str]:
        """Replace working files that are still pointer text by their content, where this
        vault holds it (what git's post-checkout/post-merge hooks run), a few files at once
        (repo/worktree_writer.py). Returns the paths, in the order they were written."""
        jobs: list[FileWrite] = []
        for path, entry in self.git.read_index().items():
            if entry.size > MAX_POINTER_SIZE or entry.mode not in (MODE_FILE, MODE_EXEC):
                continue
            disk = self._disk(path)
            try:
                if disk.stat().st_size > MAX_POINTER_SIZE:
                    continue
                data = disk.read_bytes()
            except OSError:
                continue
            try:
                ptr = parse_pointer(data, path=path)
            except (NotAPointerError, PointerError):
                continue
            if self.store.has_file(ptr.oid):
                jobs.append(FileWrite(path, disk, ptr.size, entry.mode == MODE_EXEC,
                                      file_id=ptr.oid, mtime_ns=ptr.mtime_ns))
        written: dict[str, os.stat_result] = {}
        try:
            # (no clean-up of old temp files: a hook after git itself wrote the files)
            self._worktree_writer(()).write(jobs, lambda f, st: written.update({f.path: st}))
        finally:
            if written:
                # git's index still records the pointer files' size: give it the new stat
                # data (same blobs), or git would call the files modified without looking
                # at them; also for the files written before a failure
                index = self.git.read_index()
                for path, st in written.items():
                    entry = index[path]
                    index[path] = GitRepo.index_entry(st, entry.sha.decode(), entry.mode)
                self.git.write_index(index)
        return list(written)

    # ------------------------------------------------------------------ fsck / gc / stats
    def _reachable_commits(self) -> set[str]:
        # every worktree's HEAD counts: a linked worktree's detached HEAD is in no ref
        tips = (set(self.git.all_ref_targets().values()) | self.git.worktree_heads()
                | self.git.reflog_commits())
        seen: set[str] = set()
        for tip in tips:
            if tip in seen or not self.git.has_object(tip):
                continue
            try:
                self.git.commit(tip)
            except RevisionNotFoundError:
                continue  # a ref to a non-commit object (a tag of a blob, a notes tree ...)
            seen |= self.git.ancestors(tip)
        return seen

    def _referenced(self, broken: list[str] | None = None) -> dict[str, tuple[str, int]]:
        """Every file id a commit, reflog or the index refers to: id -> (path, size).

        A malformed pointer raises :class:`PointerError` naming its path, unless ``broken``
        is given: then it is described there and skipped (fsck reports, gc refuses).
        """
        out: dict[str, tuple[str, int]] = {}
        seen_blobs: set[str] = set()
        seen_trees: set[str] = set()

        def note(path: str, blob_id: str, where: str) -> None:
            if blob_id in seen_blobs:
                return
            seen_blobs.add(blob_id)
            try:
                c = self._content_of_blob(blob_id, path)
            except PointerError as exc:
                if broken is None:
                    raise
                broken.append(f"broken-pointer {path} in {where} ({exc})")
                return
            if c.file_id is not None:
                out.setdefault(c.file_id, (path, c.size or 0))

        for cid in self._reachable_commits():
            tree = self.git.commit(cid).tree
            if tree in seen_trees:
                continue
            seen_trees.add(tree)
            for path, fe in self.git.flat_tree(tree).items():
                note(path, fe.blob_id, f"commit {cid[:10]}")
        for path, entry in self._load_statcache().items():
            if entry.file_id is not None:
                out.setdefault(entry.file_id, (path, entry.size or 0))
        for git_dir in self.git.other_worktrees():
            # what another worktree (git worktree add) has staged but not committed
            index_path = git_dir / "index"
            if index_path.exists():
                for path, ientry in self.git.read_index(index_path).items():
                    note(path, ientry.sha.decode(),
                         f"the index of the worktree {git_dir.name}")
        return out

    def _adopt_worktree_stores(self) -> list[str]:
        """Copy into the shared store the content of the stores an older cvault (before
        linked worktrees shared the store) made in their git dirs
        (``.git/worktrees/<name>/cvault``, which ``git worktree remove`` deletes); each is
        renamed ``cvault-adopted`` once all its files are in the shared store (kept:
        removing it is the user's call). Returns one note per store adopted."""
        from creativevault.store import Store
        from creativevault.store.transfer import copy_files

        notes = []
        for git_dir in self.git.other_worktrees() + [self.git.git_dir]:
            stray = git_dir / "cvault"
            if git_dir == self.git.common_dir or not (stray / "store.json").is_file():
                continue
            with contextlib.closing(Store.open(stray)) as source:
                copied = copy_files(source, self.store)
            done = git_dir / "cvault-adopted"
            try:
                stray.rename(done)
            except OSError as exc:
                raise StoreError(f"copied into the shared store, but cannot be renamed to "
                                 f"{done.name}: {exc.strerror}", path=stray) from exc
            notes.append(f"adopted {stray}: a store an older cvault made for a linked "
                         f"worktree; {copied.files} file(s) copied into the shared store; "
                         f"the old one is kept as {done}")
        return notes

    def fsck(self, *, progress: Progress | None = None) -> FsckResult:
        """Verify every chunk and manifest, and that committed content is present (first
        adopting what an older cvault stored in a linked worktree's own store)."""
        adopted = self._adopt_worktree_stores()
        report = self.store.fsck(progress=progress)
        broken: list[str] = []
        referenced = self._referenced(broken)
        missing = sorted(f"{path} ({fid[:12]})" for fid, (path, _) in referenced.items()
                         if not self.store.has_file(fid))
        problems = []
        for p in report.problems:
            # name the working paths too: users know their files by name, not by id
            paths = sorted({referenced[f][0] for f in p.affected_files if f in referenced})
            problems.append(p.describe() + (f" (path{'s' if len(paths) > 1 else ''} "
                                            f"{', '.join(paths)})" if paths else ""))
        problems.extend(broken)
        notes = adopted + [n.describe() for n in report.notes]
        removed = []
        for temp in clean_temp_files(self.root):  # what an interrupted restore left
            if temp.removed:
                removed.append(temp.path)
                notes.append(f"removed {temp.path}: a temp file an interrupted restore or "
                             f"checkout left ({temp.reason})")
            else:
                notes.append(f"kept {temp.path}: a cvault temp file ({temp.reason})")
        return FsckResult(report.ok and not missing and not broken, problems,
                          report.checked_chunks, report.checked_files, missing,
                          notes=notes, removed_temp_files=removed)

    def gc(self, *, grace_seconds: float = 14 * 24 * 3600, dry_run: bool = False,
           progress: Progress | None = None):
        """Remove store data no ref, reflog, rescue entry or the index reaches."""
        live = set(self._referenced())
        return self.store.gc(live, grace_seconds=grace_seconds, dry_run=dry_run,
                             progress=progress)

    def stats(self) -> VaultStats:
        """Commits, file versions and logical versus stored size over the whole history."""
        commits = self._reachable_commits() - set(self._rescue_commits())
        versions: dict[tuple[str, str], int] = {}
        files: set[str] = set()
        content_cache: dict[str, _Content] = {}
        for cid in commits:
            for path, fe in self.git.commit_tree_flat(cid).items():
                files.add(path)
                c = content_cache.get(fe.blob_id)
                if c is None:
                    try:
                        c = self._content_of_blob(fe.blob_id, path)
                    except PointerError:  # counted as the blob it is; fsck reports it
                        c = _Content(fe.blob_id, None, 0)
                    content_cache[fe.blob_id] = c
                versions[(path, c.file_id or fe.blob_id)] = c.size or 0
        store_stats = self.store.stats()
        return VaultStats(commits=len(commits), files=len(files), versions=len(versions),
                          logical_bytes=sum(versions.values()),
                          stored_bytes=store_stats.pack_bytes)

    def _rescue_commits(self) -> list[str]:
        return [e.id for e in self.rescue_list()]
