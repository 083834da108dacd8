"""Which paths the vault manages (``.gitattributes``) and which it ignores (``.gitignore``).

Specified in ``docs/formats/attributes.md``. Matching uses dulwich's gitattributes and
gitignore implementations (:mod:`dulwich.attrs`, :mod:`dulwich.ignore`), which follow
git's semantics (last matching line wins, deeper files override shallower ones,
``$GIT_DIR/info/attributes`` last, wildmatch patterns with ``**`` and bracket classes);
this module adds cvault's defaults, the size rule and the file editing.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

from dulwich.attrs import (
    AttributeValue,
    GitAttributes,
    Pattern,
    compile_gitattributes_patterns,
    parse_git_attributes,
    parse_gitattributes_file,
)
from dulwich.errors import NotGitRepository
from dulwich.file import open_nofollow_read
from dulwich.ignore import IgnoreFilterManager
from dulwich.repo import Repo

from creativevault.errors import DiskFullError, UsageError
from creativevault.store.durable import is_disk_full, write_atomic

__all__ = [
    "BLOCK_BEGIN",
    "BLOCK_END",
    "DEFAULT_SIZE_THRESHOLD",
    "IGNORE_PATTERNS",
    "MANAGED_ATTRIBUTES",
    "MANAGED_EXTENSIONS",
    "TRACKED_SECTION",
    "AttributeRules",
    "IgnoreRules",
    "add_tracked_path",
    "default_attributes_block",
    "default_ignore_block",
    "ensure_default_blocks",
    "extension_pattern",
    "track_line",
]

#: Files at least this large with no ``filter`` attribute are vault-managed.
DEFAULT_SIZE_THRESHOLD = 8 * 1024 * 1024

#: The attributes a vault-managed path carries.
MANAGED_ATTRIBUTES = "filter=cvault diff=cvault merge=binary -text"

BLOCK_BEGIN = "# >>> cvault defaults"
BLOCK_END = "# <<< cvault defaults"
#: Header of the ``.gitattributes`` section holding single files tracked for their size.
TRACKED_SECTION = "# cvault: tracked by size"

#: Binary creative formats managed by default, grouped for the generated comments.
#: Text formats (USDA, Maya ASCII ``.ma``, OBJ, MTL, Nuke ``.nk``, XMP, JSON, glTF
#: ``.gltf``, SVG) stay ordinary git blobs so git can diff and merge them. ``.usd`` may
#: be text or crate, so it is left to the size rule.
MANAGED_EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "layered and raster images": (
        "psd", "psb", "psdt", "kra", "ora", "xcf", "clip", "afphoto", "afdesign", "ai",
        "tif", "tiff", "png", "exr", "hdr", "jpg", "jpeg", "webp", "heic", "heif", "avif",
        "jxl", "gif", "bmp", "tga", "dds", "ktx2", "pdf",
    ),
    "camera raw": (
        "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf",
        "pef", "srw", "3fr", "iiq", "x3f", "erf",
    ),
    "3d scenes, meshes and materials": (
        "blend", "fbx", "glb", "abc", "usdc", "usdz", "vdb", "sbsar", "spp", "zpr", "ztl",
        "mb", "max", "c4d", "3ds", "hip", "hiplc", "hipnc",
    ),
    "video and audio": ("mp4", "mov", "mkv", "avi", "wav", "aif", "aiff", "flac", "mp3"),
    "archives": ("zip", "7z", "rar", "gz", "tar"),
}

#: Application temp, autosave, preview and OS files ignored by default.
IGNORE_PATTERNS: Mapping[str, tuple[str, ...]] = {
    "Blender backups and save temp files": ("*.blend1", "*.blend2", "*.blend@"),
    "Photoshop temp and autosave": ("~*.tmp", "*.psd.tmp", "PSAutoRecover/"),
    "Krita autosaves and backups": ("*.kra~", "*.kra-autosave.kra", ".*.kra-autosave.kra"),
    "Maya swatch caches": (".mayaSwatches/", "*.swatches"),
    "Nuke autosaves": ("*.nk.autosave",),
    "Adobe video autosaves": ("Adobe Premiere Pro Auto-Save/", "Adobe After Effects Auto-Save/"),
    "Lightroom previews and locks, Capture One caches": (
        "*.lrdata/", "*.lrcat.lock", "CaptureOne/Cache/",
    ),
    "editor backups and office locks": ("*~", ".~lock.*#"),
    "operating system files": (
        ".DS_Store", "._*", ".Spotlight-V100/", ".Trashes/", ".fseventsd/",
        "Thumbs.db", "ehthumbs.db", "desktop.ini", "$RECYCLE.BIN/",
    ),
}

_BLOCK_NOTE = "# Written by cvault init; edit outside this block (your lines below win)."


def extension_pattern(ext: str) -> str:
    """A case-insensitive gitattributes pattern for an extension: ``psd`` -> ``*.[pP][sS][dD]``."""
    return "*." + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in ext)


def default_attributes_block() -> str:
    """The text of the default ``.gitattributes`` block, markers included (LF endings)."""
    lines = [BLOCK_BEGIN, _BLOCK_NOTE]
    for group, extensions in MANAGED_EXTENSIONS.items():
        lines.append(f"# {group}")
        lines.extend(f"{extension_pattern(ext)} {MANAGED_ATTRIBUTES}" for ext in extensions)
    lines.append(BLOCK_END)
    return "\n".join(lines) + "\n"


def default_ignore_block() -> str:
    """The text of the default ``.gitignore`` block, markers included (LF endings)."""
    lines = [BLOCK_BEGIN, _BLOCK_NOTE]
    for group, patterns in IGNORE_PATTERNS.items():
        lines.append(f"# {group}")
        lines.extend(patterns)
    lines.append(BLOCK_END)
    return "\n".join(lines) + "\n"


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""


def _write_text(path: Path, text: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8", errors="surrogateescape"))
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while writing {path.name}", path=str(path)) from exc
        raise


def _with_block(text: str, block: str, begin: str, end: str) -> str:
    """``text`` with the marked block replaced by ``block``, or ``block`` put first."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip().startswith(begin)]
    ends = [i for i, line in enumerate(lines) if line.strip().startswith(end)]
    if starts and ends and ends[-1] > starts[0]:
        return "".join(lines[: starts[0]]) + block + "".join(lines[ends[-1] + 1:])
    # No complete block: drop stray markers, keep every user line, put the block first so
    # the user's own lines (after it) take precedence.
    kept = "".join(line for i, line in enumerate(lines) if i not in starts and i not in ends)
    if not kept:
        return block
    if not kept.endswith(("\n", "\r")):
        kept += "\n"
    return block + "\n" + kept


def ensure_default_blocks(worktree: Path) -> list[Path]:
    """Create or update the default blocks of ``.gitattributes`` and ``.gitignore``.

    Lines outside the marked blocks are kept as they are. Idempotent: returns the files
    actually changed (an empty list when both were already current).
    """
    changed: list[Path] = []
    for name, block, begin, end in (
        (".gitattributes", default_attributes_block(), BLOCK_BEGIN, BLOCK_END),
        (".gitignore", default_ignore_block(), BLOCK_BEGIN, BLOCK_END),
    ):
        path = Path(worktree) / name
        old = _read_text(path)
        new = _with_block(old, block, begin, end)
        if new != old or not path.exists():
            _write_text(path, new)
            changed.append(path)
    return changed


# Characters wildmatch would interpret; escaped with a backslash.
_GLOB_SPECIALS = frozenset("\\*?[")


def track_line(relpath: str) -> str:
    """A ``.gitattributes`` line managing exactly ``relpath`` (a repo path).

    The pattern is anchored (``/`` first), glob characters are backslash-escaped and
    whitespace, which would end the pattern, becomes ``[[:space:]]`` (as git-lfs does).
    """
    if not relpath or relpath.startswith("/") or "\n" in relpath or "\x00" in relpath:
        raise UsageError("cannot write a .gitattributes line for this path", path=relpath,
                         expected="a repo path without newline or NUL", actual=repr(relpath))
    out = []
    for ch in relpath:
        if ch in _GLOB_SPECIALS:
            out.append("\\" + ch)
        elif ch.isspace():
            out.append("[[:space:]]")
        else:
            out.append(ch)
    return "/" + "".join(out) + " " + MANAGED_ATTRIBUTES


def add_tracked_path(worktree: Path, relpath: str) -> bool:
    """Add :func:`track_line` for ``relpath`` to the root ``.gitattributes``.

    The line goes at the end of the ``# cvault: tracked by size`` section (created at
    the end of the file when missing). Returns ``False`` when the line was already there.
    """
    line = track_line(relpath)
    path = Path(worktree) / ".gitattributes"
    text = _read_text(path)
    lines = text.splitlines(keepends=True)
    if any(existing.rstrip("\r\n") == line for existing in lines):
        return False
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    header = next((i for i, existing in enumerate(lines) if existing.strip() == TRACKED_SECTION),
                  None)
    if header is None:
        if lines:
            lines.append("\n")
        lines += [TRACKED_SECTION + "\n", line + "\n"]
    else:
        at = header + 1
        while at < len(lines) and lines[at].strip():
            at += 1
        lines.insert(at, line + "\n")
    _write_text(path, "".join(lines))
    return True


def _git_dir(worktree: Path) -> Path:
    """The git directory of ``worktree`` (following a ``.git`` file of linked worktrees)."""
    dotgit = worktree / ".git"
    if dotgit.is_file():
        for raw in _read_text(dotgit).splitlines():
            if raw.startswith("gitdir:"):
                target = Path(raw[len("gitdir:"):].strip())
                return target if target.is_absolute() else worktree / target
    return dotgit


_Patterns = list[tuple[Pattern, Mapping[bytes, AttributeValue]]]


class _WorktreeLoader:
    """Read the ``.gitattributes`` of one worktree directory, as git does for checkin."""

    def __init__(self, worktree: Path) -> None:
        self._worktree = os.fspath(worktree)

    def __call__(self, dirpath: bytes) -> _Patterns:
        path = os.path.join(self._worktree, *os.fsdecode(dirpath).split("/"), ".gitattributes")
        try:
            f = open_nofollow_read(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            # git ignores a .gitattributes that is a symbolic link.
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                return []
            raise
        with f:
            return compile_gitattributes_patterns(parse_git_attributes(f), path, dirpath)


def _decode(value: AttributeValue) -> str | bool | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


class AttributeRules:
    """The gitattributes of a worktree, answering which paths the vault manages.

    A path is managed when its ``filter`` attribute is ``cvault``, or when it has no
    ``filter`` attribute at all (unspecified) and its size is at least ``threshold``.
    ``-filter``, ``filter`` set to another driver, or set without a value: not managed.
    Nested ``.gitattributes`` files are read lazily, when a path below them is asked.
    """

    def __init__(self, attributes: GitAttributes, *,
                 threshold: int = DEFAULT_SIZE_THRESHOLD) -> None:
        self._attributes = attributes
        self.threshold = threshold

    @classmethod
    def load(cls, worktree: Path, *, threshold: int = DEFAULT_SIZE_THRESHOLD) -> AttributeRules:
        """Read the rules from ``worktree``'s ``.gitattributes`` files and ``info/attributes``.

        Only worktree files are read (a ``.gitattributes`` missing from the worktree is not
        looked up in the index). Global and system attribute files are not read.
        """
        worktree = Path(worktree)
        loader = _WorktreeLoader(worktree)
        try:
            info = parse_gitattributes_file(os.fspath(_git_dir(worktree) / "info" / "attributes"))
        except (FileNotFoundError, NotADirectoryError):
            info = []
        return cls(GitAttributes(loader(b""), directory_loader=loader, info_patterns=info),
                   threshold=threshold)

    def attributes(self, relpath: str) -> dict[str, str | bool]:
        """Every attribute git would report as set/unset/valued for ``relpath``."""
        matched = self._attributes.match_path(relpath.encode("utf-8", errors="surrogateescape"))
        result: dict[str, str | bool] = {}
        for name, value in matched.items():
            decoded = _decode(value)
            if decoded is not None:
                result[name.decode("utf-8", errors="surrogateescape")] = decoded
        return result

    def filter_value(self, relpath: str) -> str | bool | None:
        """The ``filter`` attribute of ``relpath``, as ``git check-attr filter`` reports it.

        A driver name, ``True`` (set), ``False`` (unset, ``-filter``) or ``None``
        (unspecified).
        """
        matched = self._attributes.match_path(relpath.encode("utf-8", errors="surrogateescape"))
        return _decode(matched.get(b"filter"))

    def is_managed(self, relpath: str, size: int | None) -> bool:
        """Whether the vault stores ``relpath`` (of ``size`` bytes, if known)."""
        value = self.filter_value(relpath)
        if value == "cvault":
            return True
        if value is None:
            return size is not None and size >= self.threshold
        return False


class IgnoreRules:
    """The gitignore rules of a worktree (``.gitignore`` files, ``info/exclude``,
    ``core.excludesFile``), through dulwich's :class:`~dulwich.ignore.IgnoreFilterManager`.
    """

    def __init__(self, manager: IgnoreFilterManager) -> None:
        self._manager = manager

    @classmethod
    def load(cls, worktree: Path) -> IgnoreRules:
        """Read the ignore rules of ``worktree`` (only its ``.gitignore`` files if it is
        not a git repository)."""
        try:
            repo = Repo(os.fspath(worktree))
        except NotGitRepository:
            return cls(IgnoreFilterManager(os.fspath(worktree), [], False))
        try:
            return cls(IgnoreFilterManager.from_repo(repo))
        finally:
            repo.close()

    def is_ignored(self, relpath: str) -> bool:
        """Whether ``relpath`` is ignored, as ``git check-ignore`` says.

        Write directories with a trailing ``/``. A file inside an ignored directory is
        ignored.
        """
        return self._manager.is_ignored(relpath) is True

    def excludes(self, relpath: str) -> bool:
        """The ``ignore`` callable for :func:`~creativevault.repo.paths.walk_worktree`.

        For a directory (trailing ``/``) it answers whether the walk may skip it: a
        directory matched only by a pattern such as ``dir/*`` must still be entered, since
        a later ``!`` line may re-include something below it.
        """
        if relpath.endswith("/"):
            return self._manager.may_prune_directory(relpath)
        return self.is_ignored(relpath)
