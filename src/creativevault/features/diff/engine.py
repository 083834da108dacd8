"""The diff engine: which differ compares a file, and which files differ in a vault.

:func:`diff_files` compares two plain files: it picks a differ from the registry by name
and first bytes, turns any failure of that differ (a corrupt, truncated or unexpected
file; a missing library) into the byte-level summary with a note ``could not compare as
<kind>: <reason>``, and adds a metadata part for photos. It never raises for bad input.

:func:`diff_vault` follows ``git diff``'s shapes (working tree vs index, ``--cached``,
one revision, two revisions), finds the paths whose *content* differs (a pointer whose
modification time alone changed is the same content) and compares each, streaming the
stored versions to temporary files inside ``.git/cvault`` that are deleted after each
file. :func:`diff_git_pair` is what git's external diff calls with the two files git
wrote, which may be pointer files whose content the vault holds.

Pictures for path ``dir/name.ext`` go to ``<out_dir>/dir__name.ext/`` (one folder per
file; the differ names the pictures inside it), see :func:`picture_dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from creativevault.errors import (
    NotAPointerError,
    PointerError,
    RevisionNotFoundError,
    UsageError,
    VaultError,
)
from creativevault.features.diff import registry
from creativevault.features.diff.bytes import BytesDiffer, compare_bytes
from creativevault.features.diff.metadata import MetadataDiffer
from creativevault.features.diff.report import Differ, DiffOptions, FileDiff
from creativevault.formats.metadata import is_photo, is_sidecar
from creativevault.formats.sniff import HEAD_BYTES
from creativevault.repo.paths import to_repo_path
from creativevault.repo.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer

if TYPE_CHECKING:
    from creativevault.repo.vault import Vault

__all__ = [
    "DiffTarget",
    "describe_file",
    "diff_files",
    "diff_folders",
    "diff_git_pair",
    "diff_target",
    "diff_vault",
    "picture_dir",
    "split_revs_and_paths",
    "targets",
]

_HASH_BLOCK = 1 << 20


def picture_dir(out_dir: Path, path: str) -> Path:
    """The folder receiving the pictures of ``path``: ``/`` becomes ``__``."""
    flat = path.replace("\\", "/").strip("/").replace("/", "__") or "file"
    return Path(out_dir) / flat


def _reason(exc: BaseException) -> str:
    """One line saying why a differ failed."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if isinstance(exc, VaultError) or not text:
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _head(*paths: Path | None) -> bytes:
    for path in paths:
        if path is None:
            continue
        try:
            with open(path, "rb") as f:
                return f.read(HEAD_BYTES)
        except OSError:
            continue
    return b""


def _pick(name: str, head: bytes) -> tuple[Differ, list[str]]:
    """The differ for a file, and notes when the registry itself failed."""
    notes: list[str] = []
    differ: Differ | None = None
    try:
        differ = registry.differ_for(name, head)
    except Exception as exc:  # a built-in failed to import (a missing library)
        notes.append(f"format-aware differs unavailable: {_reason(exc)}")
    if differ is None and is_sidecar(name):
        differ = MetadataDiffer()
    return (differ or BytesDiffer()), notes


def _byte_summary(a: Path | None, b: Path | None, name: str, notes: list[str]) -> FileDiff:
    try:
        result = compare_bytes(a, b, name)
    except Exception as exc:
        return FileDiff(name, "bytes", "error", notes=[*notes, f"cannot read: {_reason(exc)}"])
    result.notes[:0] = notes
    return result


def diff_files(a: Path | None, b: Path | None, name: str,
               options: DiffOptions | None = None) -> FileDiff:
    """Compare two versions of a file called ``name`` (``None``: that side is absent).

    Pictures, if ``options.out_dir`` is set, go to :func:`picture_dir` of ``name``.
    Never raises for unknown, corrupt or truncated content.
    """
    options = options or DiffOptions()
    head = _head(b, a)
    differ, notes = _pick(name, head)
    file_options = options
    pictures: Path | None = None
    if options.out_dir is not None and differ.kind not in ("bytes", "metadata"):
        pictures = picture_dir(options.out_dir, name)
        with contextlib.suppress(OSError):
            pictures.mkdir(parents=True, exist_ok=True)
        file_options = replace(options, out_dir=pictures)
    if differ.kind == "bytes":
        result = _byte_summary(a, b, name, notes)
    else:
        try:
            result = differ.diff(a, b, name, file_options)
        except Exception as exc:
            result = _byte_summary(a, b, name, [
                *notes, f"could not compare as {differ.kind}: {_reason(exc)}"])
        else:
            result.notes[:0] = notes
    if pictures is not None:
        with contextlib.suppress(OSError):
            pictures.rmdir()  # only when the differ wrote nothing there
    result.path = name
    if a is None and result.status != "error":
        result.status = "added"
    elif b is None and result.status != "error":
        result.status = "deleted"
    if differ.kind != "metadata" and is_photo(name, head):
        _add_metadata(result, a, b, name, options)
    return result


def _add_metadata(result: FileDiff, a: Path | None, b: Path | None, name: str,
                  options: DiffOptions) -> None:
    try:
        part = MetadataDiffer().diff(a, b, name, options)
    except Exception as exc:
        result.notes.append(f"could not compare metadata: {_reason(exc)}")
        return
    fields = part.figures.get("fields", {})
    sides = [fields] if "exif" in fields else list(fields.values())
    if any(sum(side.values()) for side in sides) or part.notes:
        result.parts.append(part)


def describe_file(path: Path, name: str) -> list[str]:
    """Lines describing one version (the differ's view of it alone, and its metadata).

    Used by git's textconv. The byte-level differ adds nothing (format, size and SHA-256
    are printed by the summary already), so it gives no lines; nor does a failing differ.
    """
    diff = diff_files(None, path, name)
    lines = [] if diff.kind == "bytes" else list(diff.summary)
    for part in diff.parts:
        if part.kind == "metadata":
            values = part.figures.get("values", {})
            lines += [f"{key}: {value}" for key, value in values.items()]
        else:
            lines += part.summary
    return lines


# ------------------------------------------------------------------ vault shapes
@dataclass(frozen=True)
class DiffTarget:
    """One path to compare: where each side comes from (``None``: absent).

    A side is ``"disk"`` (the working file), ``":"`` (the staged version) or a commit id.
    """

    path: str
    a: str | None
    b: str | None


class _Contents:
    """Content identities of blobs and working files, so that a pointer whose
    modification time alone changed compares equal to the old one."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._blobs: dict[str, str] = {}

    def of_blob(self, blob_id: str) -> str:
        known = self._blobs.get(blob_id)
        if known is None:
            known = f"blob:{blob_id}"
            try:
                data = self.vault.git.read_blob(blob_id)
            except VaultError:
                data = b""
            if data and len(data) <= MAX_POINTER_SIZE:
                with contextlib.suppress(NotAPointerError, PointerError):
                    known = f"sha256:{parse_pointer(data).oid}"
            self._blobs[blob_id] = known
        return known

    def disk_matches(self, relpath: str, blob_id: str) -> bool:
        """Whether the working file holds the same content as ``blob_id``."""
        want = self.of_blob(blob_id)
        disk = self.vault.root.joinpath(*relpath.split("/"))
        try:
            size = disk.stat().st_size
            if want.startswith("sha256:"):
                if size <= MAX_POINTER_SIZE:
                    with contextlib.suppress(NotAPointerError, PointerError):
                        return f"sha256:{parse_pointer(disk.read_bytes()).oid}" == want
                digest = hashlib.sha256()
            else:
                digest = hashlib.sha1(f"blob {size}\0".encode())
            with disk.open("rb") as f:
                while block := f.read(_HASH_BLOCK):
                    digest.update(block)
        except OSError:
            return False
        prefix = "sha256:" if want.startswith("sha256:") else "blob:"
        return f"{prefix}{digest.hexdigest()}" == want


def _matcher(vault: Vault, paths: Sequence[str | Path] | None) -> Callable[[str], bool]:
    if not paths:
        return lambda _p: True
    wanted = [to_repo_path(vault.root, p) for p in paths]
    if "" in wanted:
        return lambda _p: True
    return lambda p: any(p == w or p.startswith(w + "/") for w in wanted)


def _index_blobs(vault: Vault) -> dict[str, str]:
    return {path: entry.sha.decode() for path, entry in vault.git.read_index().items()}


def _tree_blobs(vault: Vault, commit: str | None) -> dict[str, str]:
    return {path: e.blob_id for path, e in vault.git.commit_tree_flat(commit).items()}


def _compare_maps(old: dict[str, str], new: dict[str, str], contents: _Contents,
                  wanted: Callable[[str], bool]) -> list[tuple[str, bool, bool]]:
    """(path, in old, in new) for every wanted path whose content differs."""
    out = []
    for path in sorted(set(old) | set(new)):
        if not wanted(path):
            continue
        o, n = old.get(path), new.get(path)
        if o == n:
            continue
        if o is not None and n is not None and contents.of_blob(o) == contents.of_blob(n):
            continue
        out.append((path, o is not None, n is not None))
    return out


def targets(vault: Vault, rev_a: str | None = None, rev_b: str | None = None,
            paths: Sequence[str | Path] | None = None, *, cached: bool = False
            ) -> list[DiffTarget]:
    """The paths that differ in one of ``git diff``'s shapes, and where each side is."""
    wanted = _matcher(vault, paths)
    contents = _Contents(vault)
    if rev_b is not None and rev_a is None:
        raise UsageError("a second revision needs a first")
    if rev_b is not None:
        if cached:
            raise UsageError("--cached takes at most one revision")
        ca, cb = vault.resolve(rev_a), vault.resolve(rev_b)  # type: ignore[arg-type]
        pairs = _compare_maps(_tree_blobs(vault, ca), _tree_blobs(vault, cb), contents, wanted)
        return [DiffTarget(p, ca if x else None, cb if y else None) for p, x, y in pairs]
    if cached:
        base = vault.resolve(rev_a) if rev_a else vault.git.head_commit()
        pairs = _compare_maps(_tree_blobs(vault, base), _index_blobs(vault), contents, wanted)
        assert base is not None or not any(x for _, x, _ in pairs)
        return [DiffTarget(p, base if x else None, ":" if y else None) for p, x, y in pairs]
    status = vault.status()
    unstaged = {c.path: c.kind for c in status.unstaged if wanted(c.path)}
    if rev_a is None:  # working tree against the index
        return [DiffTarget(p, ":", None if kind == "deleted" else "disk")
                for p, kind in sorted(unstaged.items())]
    # working tree against a commit: paths the index changed, then those the worktree did
    commit = vault.resolve(rev_a)
    tree = _tree_blobs(vault, commit)
    index = _index_blobs(vault)
    out: dict[str, DiffTarget] = {}
    for path, in_tree, in_index in _compare_maps(tree, index, contents, wanted):
        if path in unstaged:
            continue  # decided below from the working file itself
        out[path] = DiffTarget(path, commit if in_tree else None, "disk" if in_index else None)
    for path, kind in unstaged.items():
        blob = tree.get(path)
        if kind == "deleted":
            if blob is not None:
                out[path] = DiffTarget(path, commit, None)
        elif blob is None:
            out[path] = DiffTarget(path, None, "disk")
        elif not contents.disk_matches(path, blob):
            out[path] = DiffTarget(path, commit, "disk")
    return [out[p] for p in sorted(out)]


@contextlib.contextmanager
def _scratch(vault: Vault) -> Iterator[Path]:
    base = vault.cvault_dir / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="diff-", dir=base) as tmp:
        yield Path(tmp)


def _materialise(vault: Vault, target: DiffTarget, side: str | None, where: Path
                 ) -> Path | None:
    """The file holding one side of ``target`` (streamed from the vault if stored)."""
    if side is None:
        return None
    if side == "disk":
        return vault.root.joinpath(*target.path.split("/"))
    where.mkdir(parents=True, exist_ok=True)
    out = where / target.path.rsplit("/", 1)[-1]
    spec = f":{target.path}" if side == ":" else f"{side}:{target.path}"
    with out.open("wb") as f:
        vault.cat(spec, f)
    return out


def _label(side: str) -> str:
    return "the working tree" if side == "disk" else "the index" if side == ":" \
        else side[:10]


def diff_target(vault: Vault, target: DiffTarget, options: DiffOptions | None = None
                ) -> FileDiff:
    """Compare the two sides of one :class:`DiffTarget` (temporary files removed after)."""
    with _scratch(vault) as tmp:
        sides: list[Path | None] = []
        for name, side in (("a", target.a), ("b", target.b)):
            try:
                sides.append(_materialise(vault, target, side, tmp / name))
            except VaultError as exc:
                assert side is not None
                return FileDiff(target.path, "bytes", "error", notes=[
                    f"cannot read the version in {_label(side)}: {_reason(exc)}"])
        return diff_files(sides[0], sides[1], target.path, options)


def diff_vault(vault: Vault, rev_a: str | None = None, rev_b: str | None = None,
               paths: Sequence[str | Path] | None = None, *, cached: bool = False,
               options: DiffOptions | None = None) -> list[FileDiff]:
    """Compare files in ``git diff``'s shapes; only paths whose content differs.

    - no revision: the working tree against the index (staged versions);
    - ``cached``: the index against ``rev_a`` (default ``HEAD``);
    - ``rev_a``: the working tree against that commit;
    - ``rev_a`` and ``rev_b``: one commit against another.

    ``paths`` (absolute, or relative to the vault root) limit the comparison to those
    files and folders. Untracked files are not compared, as in git.
    """
    return [diff_target(vault, t, options)
            for t in targets(vault, rev_a, rev_b, paths, cached=cached)]


def split_revs_and_paths(vault: Vault, args: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split ``cvault diff`` arguments given before ``--`` into revisions and paths, as
    git does: ``A..B`` is two revisions; an argument naming an existing file or folder
    and no revision is a path; one that is both is ambiguous."""
    revs: list[str] = []
    found_paths: list[str] = []
    for arg in args:
        if ".." in arg and not os.path.exists(arg):
            left, _, right = arg.partition("..")
            revs += [left or "HEAD", right or "HEAD"]
            continue
        if found_paths:
            found_paths.append(arg)
            continue
        try:
            vault.resolve(arg)
            is_rev = True
        except RevisionNotFoundError:
            is_rev = False
        exists = os.path.lexists(arg)
        if is_rev and exists:
            raise UsageError(f"'{arg}' is both a revision and a file; use "
                             "'cvault diff REV -- PATH'")
        if is_rev:
            revs.append(arg)
        elif exists:
            found_paths.append(arg)
        else:
            raise RevisionNotFoundError(f"unknown revision or path not in the working "
                                        f"tree: '{arg}'")
    if len(revs) > 2:
        raise UsageError("at most two revisions")
    return revs, found_paths


def _files_under(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            out[full.relative_to(root).as_posix()] = full
    return out


def _same_file(a: Path, b: Path) -> bool:
    import filecmp

    try:
        return filecmp.cmp(a, b, shallow=False)  # streams; stops at the first difference
    except OSError:
        return False


def diff_folders(a: Path, b: Path, options: DiffOptions | None = None) -> list[FileDiff]:
    """Compare two plain folders file by file (relative paths pair the files); only
    files that differ, added or deleted. What tools that hand over two snapshots (such
    as Mercurial's extdiff when several files changed) need."""
    left, right = _files_under(Path(a)), _files_under(Path(b))
    out = []
    for rel in sorted(set(left) | set(right)):
        x, y = left.get(rel), right.get(rel)
        if x is not None and y is not None and _same_file(x, y):
            continue
        out.append(diff_files(x, y, rel, options))
    return out


# ------------------------------------------------------------------ git's external diff
def _pointer_of(path: Path) -> Pointer | None:
    try:
        if path.stat().st_size > MAX_POINTER_SIZE:
            return None
        return parse_pointer(path.read_bytes(), path=str(path))
    except (OSError, NotAPointerError, PointerError):
        return None


def diff_git_pair(vault: Vault | None, old: Path | None, new: Path | None, name: str,
                  options: DiffOptions | None = None) -> FileDiff:
    """Compare the two files git hands an external diff for ``name``.

    git smudges both sides, so they normally hold real content; a side that is still a
    pointer file (content not fetched into this checkout) is streamed from ``vault``
    when it holds the content, otherwise the result says which version is missing.
    """
    with contextlib.ExitStack() as stack:
        sides: list[Path | None] = []
        missing: list[str] = []
        for label, path in (("old", old), ("new", new)):
            pointer = _pointer_of(path) if path is not None else None
            if pointer is None:
                sides.append(path)
                continue
            if vault is not None and vault.store.has_file(pointer.oid):
                tmp = Path(stack.enter_context(_scratch(vault)))
                out = tmp / name.rsplit("/", 1)[-1]
                try:
                    with out.open("wb") as f:
                        vault.store.write_file_to(pointer.oid, f)
                except VaultError as exc:
                    missing.append(f"the {label} version cannot be read: {_reason(exc)}")
                    sides.append(path)
                    continue
                sides.append(out)
            else:
                missing.append(f"the {label} version's content ({pointer.oid[:12]}, "
                               f"{pointer.size:,} bytes) is not in this vault")
                sides.append(path)
        if missing:
            result = _byte_summary(sides[0], sides[1], name, missing)
            result.path = name
            return result
        return diff_files(sides[0], sides[1], name, options)
