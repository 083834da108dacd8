"""Import a git-lfs repository: its objects become vault content, its history stays as is.

git-lfs names an object by the SHA-256 of its exact bytes, the same id cvault gives a
file (``docs/formats/pointer.md``), so importing is a copy, not a conversion:

1. **Plan** (read only, also the ``--dry-run`` answer): list every object under
   ``.git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`` and whether the vault already holds
   it; walk every commit reachable from branches, tags, remote-tracking branches and
   ``HEAD`` and collect the git-lfs pointers in their trees; name the pointers whose
   object is neither in ``.git/lfs/objects`` nor in the vault; find the
   ``.gitattributes`` lines that send paths through git-lfs.
2. **Apply**: stream each object into the store, verifying on the way that its SHA-256
   equals its name (a mismatching or unreadable object is skipped, reported and never
   stored), each version of a path with the previous version of that path as its delta
   hint, so an edit is stored as deltas (older versions go first, in an earlier write
   session: a hint counts only once its file is visible); adopt the repository as a vault (``Vault.init``: filter,
   diff driver and hooks installed, git-lfs's hooks chained); rewrite the working
   ``.gitattributes`` so future commits go through cvault.

History is never rewritten: old commits keep their git-lfs pointers, which cvault reads
(``cvault cat``, ``cvault checkout``) because the ids are the same. See
``docs/import-lfs.md``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from creativevault.errors import (
    GitError,
    NotAPointerError,
    PointerError,
    RevisionNotFoundError,
    StoreError,
)
from creativevault.repo.gitrepo import MODE_EXEC, MODE_FILE, GitRepo
from creativevault.repo.pointer import MAX_POINTER_SIZE, parse_pointer
from creativevault.repo.worktree_temp import temp_prefix
from creativevault.store import Store
from creativevault.store.durable import check_free_space, write_atomic
from creativevault.types import Progress

__all__ = [
    "BadObject",
    "ImportPlan",
    "ImportReport",
    "LfsObject",
    "LfsPointer",
    "apply_import",
    "import_lfs",
    "lfs_objects_dir",
    "plan_import",
    "rewrite_lfs_attributes",
    "scan_lfs_objects",
    "scan_lfs_pointers",
]

#: ref namespaces whose commits are searched for pointers (notes and cvault's own refs
#: hold no user files)
HISTORY_REF_PREFIXES = ("refs/heads/", "refs/tags/", "refs/remotes/")

_OID_RE = re.compile(r"[0-9a-f]{64}")
_LFS_TOKENS = {"filter=lfs": "filter=cvault", "diff=lfs": "diff=cvault",
               "merge=lfs": "merge=binary"}
_LFS_TOKEN_RE = re.compile(r"(?<=\s)(filter=lfs|diff=lfs|merge=lfs)(?=\s|$)")
_READ_BLOCK = 1 << 20
#: content per store write session (objects become visible as each one ends)
SESSION_BYTES = 1 << 30


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LfsObject:
    """One file under ``.git/lfs/objects``, named by the SHA-256 it claims."""

    oid: str
    path: Path
    size: int


@dataclass(frozen=True)
class LfsPointer:
    """A git-lfs pointer found in history: the file ``path`` in ``commit``."""

    path: str
    commit: str
    oid: str
    size: int
    #: the oid ``path`` held in the commit's first parent (its previous version), when
    #: that was a git-lfs pointer to other content
    previous: str | None = None

    def describe(self) -> str:
        return f"{self.path}@{self.commit[:10]}"

    def to_json(self) -> dict:
        return {"path": self.path, "commit": self.commit, "oid": self.oid, "size": self.size}


@dataclass(frozen=True)
class BadObject:
    """An object that was not stored: its bytes do not hash to its name, or unreadable."""

    oid: str
    path: str
    reason: str

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"

    def to_json(self) -> dict:
        return {"oid": self.oid, "path": self.path, "reason": self.reason}


@dataclass
class ImportPlan:
    """What an import would do; built without changing anything."""

    root: Path
    git_dir: Path
    objects_dir: Path
    #: every object found under the objects folder
    objects: list[LfsObject] = field(default_factory=list)
    #: objects the vault lacks, to be verified and stored
    to_store: list[LfsObject] = field(default_factory=list)
    #: oids of objects the vault already holds
    already_present: list[str] = field(default_factory=list)
    #: one entry per (path, oid) pair found in history, the first commit seen naming it
    pointers: list[LfsPointer] = field(default_factory=list)
    #: pointers whose object is neither in the objects folder nor in the vault
    missing: list[LfsPointer] = field(default_factory=list)
    #: oid -> the oid of a previous version of a path holding it (its delta hint)
    previous: dict[str, str] = field(default_factory=dict)
    #: attribute file -> number of lines that would change from git-lfs to cvault
    attribute_edits: dict[Path, int] = field(default_factory=dict)
    #: the repository is not a vault yet (apply adopts it)
    adopt: bool = False


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    objects_found: int = 0
    objects_stored: int = 0
    #: content bytes of the objects stored (before deduplication and compression)
    bytes_stored: int = 0
    #: bytes the store grew by (new chunks after deduplication and compression)
    added_bytes: int = 0
    already_present: int = 0
    bad_objects: list[BadObject] = field(default_factory=list)
    #: distinct contents referenced by git-lfs pointers in history
    pointers_in_history: int = 0
    missing: list[LfsPointer] = field(default_factory=list)
    #: attribute files rewritten (relative to the worktree, ``.git/info/attributes`` too)
    attributes_rewritten: list[str] = field(default_factory=list)
    attribute_lines: int = 0
    adopted: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """No object was refused (missing objects are reported, not failures)."""
        return not self.bad_objects

    def to_json(self) -> dict:
        return {"objects_found": self.objects_found, "objects_stored": self.objects_stored,
                "bytes_stored": self.bytes_stored, "added_bytes": self.added_bytes,
                "already_present": self.already_present,
                "bad_objects": [b.to_json() for b in self.bad_objects],
                "pointers_in_history": self.pointers_in_history,
                "missing": [m.to_json() for m in self.missing],
                "attributes_rewritten": self.attributes_rewritten,
                "attribute_lines": self.attribute_lines, "adopted": self.adopted,
                "dry_run": self.dry_run, "ok": self.ok}


# ----------------------------------------------------------------------------- objects
def lfs_objects_dir(git: GitRepo) -> Path:
    """The git-lfs object folder: ``lfs.storage`` (relative to the git dir) or ``lfs/objects``."""
    storage = git.config_get("lfs", "storage")
    if storage:
        base = Path(storage).expanduser()
        if not base.is_absolute():
            base = git.common_dir / base
        return base / "objects"
    return git.common_dir / "lfs" / "objects"


def scan_lfs_objects(objects_dir: Path) -> list[LfsObject]:
    """Every ``<oid[0:2]>/<oid[2:4]>/<oid>`` file under ``objects_dir``, sorted by oid.

    Files with other names (git-lfs's temp files, anything else) are not objects.
    """
    found: list[LfsObject] = []
    try:
        level1 = list(os.scandir(objects_dir))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for d1 in level1:
        if len(d1.name) != 2 or not d1.is_dir(follow_symlinks=False):
            continue
        for d2 in os.scandir(d1.path):
            if len(d2.name) != 2 or not d2.is_dir(follow_symlinks=False):
                continue
            for f in os.scandir(d2.path):
                name = f.name
                if (_OID_RE.fullmatch(name) and name[0:2] == d1.name and name[2:4] == d2.name
                        and f.is_file()):
                    found.append(LfsObject(name, Path(f.path), f.stat().st_size))
    found.sort(key=lambda o: o.oid)
    return found


# ----------------------------------------------------------------------------- history
def _history_tips(git: GitRepo) -> list[str]:
    tips: set[str] = set()
    for name in git.all_ref_targets():
        if name != "HEAD" and not name.startswith(HISTORY_REF_PREFIXES):
            continue
        try:
            tips.add(git.resolve(name))  # peels annotated tags
        except RevisionNotFoundError:
            continue  # a tag of a tree or blob
    return sorted(tips)


def scan_lfs_pointers(git: GitRepo) -> list[LfsPointer]:
    """The git-lfs pointers in every commit reachable from branches, tags and ``HEAD``.

    Each commit is compared with its first parent, so a file is read once per version
    (identical subtrees are skipped); each distinct (path, oid) is listed once, with a
    commit that holds it and the path's version in that commit's first parent.
    """
    tips = _history_tips(git)
    if not tips:
        return []
    out: dict[tuple[str, str], LfsPointer] = {}
    blob_oids: dict[str, tuple[str, int] | None] = {}
    for commit in git.walk(tips):
        parent_tree = None
        if commit.parents:
            try:
                parent_tree = git.commit(commit.parents[0]).tree
            except RevisionNotFoundError:  # a shallow clone's boundary
                parent_tree = None
        for path, (old, new) in git.changed_entries(parent_tree, commit.tree).items():
            if new is None or new.mode not in (MODE_FILE, MODE_EXEC):
                continue
            if new.blob_id not in blob_oids:
                blob_oids[new.blob_id] = _lfs_oid_of_blob(git, new.blob_id, path)
            hit = blob_oids[new.blob_id]
            if hit is None or (path, hit[0]) in out:
                continue
            previous = None
            if old is not None and old.mode in (MODE_FILE, MODE_EXEC):
                if old.blob_id not in blob_oids:
                    blob_oids[old.blob_id] = _lfs_oid_of_blob(git, old.blob_id, path)
                before = blob_oids[old.blob_id]
                if before is not None and before[0] != hit[0]:
                    previous = before[0]
            out[(path, hit[0])] = LfsPointer(path, commit.id, hit[0], hit[1], previous)
    return sorted(out.values(), key=lambda p: (p.path, p.oid))


def _lfs_oid_of_blob(git: GitRepo, blob_id: str, path: str) -> tuple[str, int] | None:
    try:
        data = git.read_blob(blob_id)
    except GitError:
        return None
    if len(data) > MAX_POINTER_SIZE:
        return None
    try:
        ptr = parse_pointer(data, path=path)
    except (NotAPointerError, PointerError):
        return None
    return (ptr.oid, ptr.size) if ptr.origin == "lfs" else None


# ----------------------------------------------------------------------------- attributes
def _split_pattern(line: str) -> tuple[str, str]:
    """``line`` cut after its pattern (C-quoted patterns may hold spaces)."""
    stripped = line.lstrip()
    lead = len(line) - len(stripped)
    if stripped.startswith('"'):
        i = 1
        while i < len(stripped):
            if stripped[i] == "\\":
                i += 2
                continue
            if stripped[i] == '"':
                end = lead + i + 1
                return line[:end], line[end:]
            i += 1
        return line, ""
    m = re.search(r"\s", stripped)
    if m is None:
        return line, ""
    end = lead + m.start()
    return line[:end], line[end:]


def rewrite_lfs_attributes(text: str) -> tuple[str, int]:
    """``text`` with git-lfs's attributes swapped for cvault's, and the lines changed.

    On every attribute line, ``filter=lfs`` becomes ``filter=cvault``, ``diff=lfs``
    ``diff=cvault`` and ``merge=lfs`` ``merge=binary``; patterns, other attributes and
    comments are kept. Line endings become LF.
    """
    out: list[str] = []
    changed = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith("#") or not line.strip():
            out.append(line)
            continue
        pattern, rest = _split_pattern(line)
        new_rest = _LFS_TOKEN_RE.sub(lambda m: _LFS_TOKENS[m.group(1)], rest)
        if new_rest != rest:
            changed += 1
        out.append(pattern + new_rest)
    return "\n".join(out), changed


def _attribute_files(git: GitRepo) -> list[Path]:
    """The root ``.gitattributes``, tracked ones in subfolders, and ``info/attributes``."""
    files = {git.worktree / ".gitattributes"}
    for path in git.read_index():
        if path == ".gitattributes" or path.endswith("/.gitattributes"):
            files.add(git.worktree.joinpath(*path.split("/")))
    files.add(git.common_dir / "info" / "attributes")
    return sorted(files)


def _attribute_edits(git: GitRepo) -> dict[Path, int]:
    edits: dict[Path, int] = {}
    for path in _attribute_files(git):
        try:
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        _, changed = rewrite_lfs_attributes(text)
        if changed:
            edits[path] = changed
    return edits


def _rewrite_attribute_file(path: Path) -> int:
    try:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return 0
    new, changed = rewrite_lfs_attributes(text)
    if changed:  # a file without git-lfs lines is left byte for byte
        write_atomic(path, new.encode("utf-8", errors="surrogateescape"),
                     temp_prefix=temp_prefix())
    return changed


# ----------------------------------------------------------------------------- plan
def plan_import(git: GitRepo, has_file: Callable[[str], bool], *,
                adopt: bool = False) -> ImportPlan:
    """What importing the git-lfs content of ``git`` would do; changes nothing.

    ``has_file(oid)`` says whether the vault already holds a content (``lambda _: False``
    for a repository that is not a vault yet).
    """
    objects_dir = lfs_objects_dir(git)
    plan = ImportPlan(root=git.worktree, git_dir=git.common_dir, objects_dir=objects_dir,
                      adopt=adopt)
    plan.objects = scan_lfs_objects(objects_dir)
    for obj in plan.objects:
        if has_file(obj.oid):
            plan.already_present.append(obj.oid)
        else:
            plan.to_store.append(obj)
    plan.pointers = scan_lfs_pointers(git)
    for ptr in plan.pointers:  # sorted by path: the first path with a previous version wins
        if ptr.previous is not None:
            plan.previous.setdefault(ptr.oid, ptr.previous)
    local = {o.oid for o in plan.objects}
    plan.missing = [p for p in plan.pointers if p.oid not in local and not has_file(p.oid)]
    plan.attribute_edits = _attribute_edits(git)
    return plan


# ----------------------------------------------------------------------------- apply
class _VerifyingReader:
    """Reads an object file and, at its end, refuses it unless it hashes to its name.

    The store's chunker reads to end of file before it hands over the last chunk, so a
    refusal here comes before the file's manifest is written: a bad object never becomes
    visible, under its claimed id or any other.
    """

    def __init__(self, fh, oid: str, label: str) -> None:
        self._fh = fh
        self._oid = oid
        self._label = label
        self._sha = hashlib.sha256()
        self.size = 0
        self.refused: str | None = None

    def readinto(self, buffer) -> int:
        try:
            n = self._fh.readinto(buffer)
        except OSError as exc:
            self.refused = f"unreadable ({exc.strerror or exc})"
            raise
        if n:
            self._sha.update(memoryview(buffer)[:n])
            self.size += n
            return n
        digest = self._sha.hexdigest()
        if digest != self._oid:
            self.refused = (f"content does not match its name: SHA-256 is {digest}, "
                            f"expected {self._oid} ({self.size} bytes read)")
            raise OSError(errno.EIO, self.refused, self._label)
        return 0


def _verify_only(obj: LfsObject, label: str, progress: Progress) -> str | None:
    """Why ``obj`` would be refused (hashing it), or ``None`` when it is sound."""
    try:
        fh = obj.path.open("rb", buffering=0)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    with fh:
        reader = _VerifyingReader(fh, obj.oid, label)
        buf = bytearray(_READ_BLOCK)
        try:
            while n := reader.readinto(buf):
                progress.advance(n)
        except OSError as exc:
            return reader.refused or f"unreadable ({exc.strerror or exc})"
    return None


def _batches(objects: list[LfsObject]) -> list[list[LfsObject]]:
    """Objects grouped into write sessions of about :data:`SESSION_BYTES` each."""
    out: list[list[LfsObject]] = [[]]
    size = 0
    for obj in objects:
        if out[-1] and size + obj.size > SESSION_BYTES:
            out.append([])
            size = 0
        out[-1].append(obj)
        size += obj.size
    return [batch for batch in out if batch]


def _generations(objects: list[LfsObject], previous: dict[str, str]
                 ) -> list[list[LfsObject]]:
    """``objects`` grouped so each one's previous version (its delta hint) is stored in
    an earlier group, when it is stored at all: a hint counts only once its file is
    visible, that is once the write session storing it has ended.

    A cycle of previous versions (a path reverted to content another path had before)
    is cut: the object where the walk closes it is stored first, without a usable hint.
    """
    pending = {o.oid for o in objects}
    depth: dict[str, int] = {}
    for obj in objects:
        chain: list[str] = []
        seen: set[str] = set()
        oid: str | None = obj.oid
        while oid in pending and oid not in depth and oid not in seen:
            seen.add(oid)
            chain.append(oid)
            oid = previous.get(oid)
        d = depth[oid] if oid is not None and oid in depth else -1
        for link in reversed(chain):
            d += 1
            depth[link] = d
    groups: list[list[LfsObject]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for obj in objects:
        groups[depth[obj.oid]].append(obj)
    return groups


def _store_objects(store: Store, plan: ImportPlan, report: ImportReport,
                   progress: Progress) -> None:
    # A file becomes visible when its write session ends: one session per batch keeps
    # what was stored when a long import is interrupted (a re-run skips it). Versions
    # come oldest first, a session per generation, so each can name its previous version.
    for generation in _generations(plan.to_store, plan.previous):
        for batch in _batches(generation):
            _store_batch(store, plan, batch, report, progress)


def _store_batch(store: Store, plan: ImportPlan, batch: list[LfsObject],
                 report: ImportReport, progress: Progress) -> None:
    with store.writer(progress=progress) as writer:
        for obj in batch:
            label = _label(obj.path, plan.git_dir)
            try:
                fh = obj.path.open("rb", buffering=0)
            except OSError as exc:
                report.bad_objects.append(BadObject(obj.oid, label, f"unreadable "
                                                    f"({exc.strerror or exc})"))
                progress.warn(f"{label}: unreadable; not imported")
                continue
            with fh:
                check_free_space(store.root, obj.size, name=label)
                reader = _VerifyingReader(fh, obj.oid, label)
                try:
                    stored = writer.put_stream(reader, name=label,
                                               similar_to=plan.previous.get(obj.oid))
                except StoreError:
                    if reader.refused is None:
                        raise
                    report.bad_objects.append(BadObject(obj.oid, label, reader.refused))
                    progress.warn(f"{label}: {reader.refused}; not imported")
                    continue
            if stored.file_id != obj.oid:  # belt and braces: the reader checked already
                report.bad_objects.append(BadObject(obj.oid, label, "content does not match "
                                                    f"its name: SHA-256 is {stored.file_id}"))
                continue
            report.objects_stored += 1
            report.bytes_stored += stored.size
            report.added_bytes += stored.added_bytes


def _label(path: Path, git_dir: Path) -> str:
    """An object path as users see it: ``.git/lfs/objects/…`` when inside the git dir."""
    try:
        return (Path(".git") / path.relative_to(git_dir)).as_posix()
    except ValueError:
        return str(path)


def apply_import(plan: ImportPlan, *, dry_run: bool = False,
                 progress: Progress | None = None) -> ImportReport:
    """Carry out ``plan``: store the objects, adopt the repository, rewrite attributes.

    Order: content first (the sidecar store), then the vault settings and hooks
    (``Vault.init``), then ``.gitattributes``; an interruption leaves git-lfs working.
    With ``dry_run`` nothing is written: objects are only verified.
    """
    from creativevault.repo.vault import Vault  # vault imports nothing from here

    progress = progress or Progress()
    report = ImportReport(objects_found=len(plan.objects),
                          already_present=len(plan.already_present),
                          pointers_in_history=len({p.oid for p in plan.pointers}),
                          adopted=plan.adopt, dry_run=dry_run)
    total = sum(o.size for o in plan.to_store)
    if dry_run:
        progress.start("verifying LFS objects", total=total)
        for obj in plan.to_store:
            label = _label(obj.path, plan.git_dir)
            progress.item(label)
            reason = _verify_only(obj, label, progress)
            if reason is None:
                report.objects_stored += 1
                report.bytes_stored += obj.size
            else:
                report.bad_objects.append(BadObject(obj.oid, label, reason))
                progress.warn(f"{label}: {reason}; would not be imported")
        progress.finish()
        report.attributes_rewritten = [_rel(plan.root, p) for p in plan.attribute_edits]
        report.attribute_lines = sum(plan.attribute_edits.values())
    else:
        git = GitRepo.discover(plan.root)
        try:
            store = Store.init(git.common_dir / "cvault")
        finally:
            git.close()
        try:
            progress.start("importing LFS objects", total=total)
            _store_objects(store, plan, report, progress)
            progress.finish()
        finally:
            store.close()
        with Vault.init(plan.root) as vault:
            for path in _attribute_files(vault.git):
                lines = _rewrite_attribute_file(path)
                if lines:
                    report.attributes_rewritten.append(_rel(plan.root, path))
                    report.attribute_lines += lines
    # a refused object's pointers have no content either: they are missing too
    bad = {b.oid for b in report.bad_objects}
    report.missing = sorted([*plan.missing, *(p for p in plan.pointers if p.oid in bad)],
                            key=lambda p: (p.path, p.oid))
    return report


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def import_lfs(path: str | Path = ".", *, dry_run: bool = False,
               progress: Progress | None = None) -> ImportReport:
    """Import the git-lfs repository containing ``path`` into a vault (see module doc).

    Plans first (read only), then applies unless ``dry_run``. Raises
    :class:`NotAVaultError` outside a git repository.
    """
    git = GitRepo.discover(Path(path))
    try:
        cvault_dir = git.common_dir / "cvault"
        is_vault = (cvault_dir / "store.json").exists()
        store = Store.open(cvault_dir) if is_vault else None
        try:
            plan = plan_import(git, store.has_file if store else (lambda _oid: False),
                               adopt=not is_vault)
        finally:
            if store is not None:
                store.close()
    finally:
        git.close()
    return apply_import(plan, dry_run=dry_run, progress=progress)
