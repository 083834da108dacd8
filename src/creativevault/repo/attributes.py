"""Which paths the vault manages (``.gitattributes``) and which it ignores (``.gitignore``).

Specified in ``docs/formats/attributes.md``. Matching follows git's semantics (last
matching line wins, deeper files override shallower ones, ``$GIT_DIR/info/attributes``
last, macros, wildmatch patterns with ``**`` and bracket classes) and is checked against
the git binary by the tests. Patterns are translated to regexes by dulwich
(:mod:`dulwich.wildmatch`, :mod:`dulwich.ignore`); this module parses the files as git
does, compiles each stack of rule files into a few regex alternations (one regex call
per path instead of one per line: 100,000 paths take well under a second), and adds
cvault's defaults, the size rule and the file editing.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

# dulwich.wildmatch is small (under 1 ms); the rest of dulwich is imported where used.
from dulwich.wildmatch import MalformedPattern, translate_bracket_expression
from dulwich.wildmatch import translate as translate_wildmatch

from creativevault.errors import DiskFullError, UsageError
from creativevault.repo.paths import common_git_dir
from creativevault.repo.worktree_temp import temp_prefix
from creativevault.store.durable import is_disk_full, write_atomic

if TYPE_CHECKING:
    from dulwich.attrs import AttributeValue
    from dulwich.ignore import Pattern as IgnorePattern

__all__ = [
    "BLOCK_BEGIN",
    "BLOCK_END",
    "DEFAULT_SIZE_THRESHOLD",
    "DIFF_DRIVER_BY_EXTENSION",
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

#: The attributes a vault-managed path carries (``diff=`` names the generic driver; the
#: default block then gives each family its own, see :data:`DIFF_DRIVER_BY_EXTENSION`).
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
        "mb", "max", "c4d", "3ds", "hip", "hiplc", "hipnc", "ply", "stl",
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

#: The diff driver of a managed extension when it is not the generic ``cvault``, written
#: as a second line after the managed ones (``*.[pP][sS][dD] diff=cvault-layered``). The
#: drivers run the same ``cvault`` commands; the name lets users point one family at
#: another tool in their git config (``diff.cvault-image.command``).
DIFF_DRIVER_BY_EXTENSION: Mapping[str, str] = {
    **dict.fromkeys(("psd", "psb", "psdt", "kra", "ora"), "cvault-layered"),
    **dict.fromkeys(("tif", "tiff", "png", "exr", "hdr", "jpg", "jpeg", "webp", "heic",
                     "heif", "avif", "jxl", "gif", "bmp", "tga", "dds"), "cvault-image"),
    **dict.fromkeys(MANAGED_EXTENSIONS["camera raw"], "cvault-image"),
    **dict.fromkeys(("glb", "ply", "stl", "fbx", "abc", "usdc", "usdz", "3ds"),
                    "cvault-mesh"),
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
    # Later lines win attribute by attribute: these give each family its diff driver.
    lines.append("# diff driver per family (images and camera raws, layered files, 3D models)")
    lines.extend(f"{extension_pattern(ext)} diff={driver}"
                 for ext, driver in DIFF_DRIVER_BY_EXTENSION.items())
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
        write_atomic(path, text.encode("utf-8", errors="surrogateescape"),
                     temp_prefix=temp_prefix())
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


# ------------------------------------------------------------------ attributes
#
# git resolves an attribute by walking the matching lines from the highest-priority one
# down (info/attributes, then the deepest .gitattributes up to the root; within a file
# the last line first) and keeping the first state it meets. So for one attribute, the
# first matching line that mentions it decides. Each stack of files therefore compiles
# its ``filter`` lines into one alternation ordered by priority: a single regex call
# finds the deciding line, instead of one Python-level match per line.

_BLANK = b" \t\r\n"
_BLANKS = re.compile(rb"[ \t\r\n]+")
_BOM = b"\xef\xbb\xbf"
_MACRO_PREFIX = b"[attr]"
_FILTER = b"filter"
#: git refuses longer .gitattributes lines (attr.c, ATTR_MAX_LINE_LENGTH).
_MAX_LINE = 2048
_ATTR_NAME = re.compile(rb"[A-Za-z0-9_.][-A-Za-z0-9_.]*")
#: git's built-in macro.
_BUILTIN_MACROS: dict[bytes, tuple[tuple[bytes, AttributeValue], ...]] = {
    b"binary": ((b"diff", False), (b"merge", False), (b"text", False)),
}
_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13,
              ord("t"): 9, ord("v"): 11, ord("\\"): 0x5C, ord('"'): 0x22}

_State = tuple[bytes, "AttributeValue"]
_NO_STATE = object()


def _encode(path: str) -> bytes:
    return path.encode("utf-8", errors="surrogateescape")


def _unquote_c(text: bytes) -> tuple[bytes, bytes] | None:
    """git's ``unquote_c_style`` on ``text`` (which starts with ``"``): the unquoted
    string and what follows the closing quote, or ``None`` when malformed."""
    out = bytearray()
    i, n = 1, len(text)
    while i < n:
        c = text[i]
        i += 1
        if c == 0x22:
            return bytes(out), text[i:]
        if c != 0x5C:
            out.append(c)
            continue
        if i >= n:
            return None
        c = text[i]
        i += 1
        if c in _C_ESCAPES:
            out.append(_C_ESCAPES[c])
        elif 0x30 <= c <= 0x33 and i + 2 <= n and all(0x30 <= d <= 0x37 for d in text[i:i + 2]):
            out.append(int(text[i - 1:i + 2], 8))
            i += 2
        else:
            return None
    return None


def _parse_state(token: bytes) -> _State | None:
    """One ``attr``, ``-attr``, ``!attr`` or ``attr=value``; ``None`` if the name is bad."""
    name, equals, value = token.partition(b"=")
    state: AttributeValue
    if name[:1] in (b"-", b"!"):
        state = False if name[:1] == b"-" else None
        name = name[1:]
    else:
        state = value if equals else True
    if _ATTR_NAME.fullmatch(name) is None:
        return None
    return name, state


@functools.lru_cache(maxsize=1024)
def _translated(pattern: bytes) -> tuple[bytes, tuple[bytes, bytes | None]]:
    """The regex and :func:`_pattern_shape` of a wildmatch pattern, made once: the
    default block names each managed extension twice (filter line, diff-driver line)."""
    return translate_wildmatch(pattern), _pattern_shape(pattern)


class _AttrLine:
    """One pattern line: the regex source matching a basename or a repo path, and the
    attribute states in line order."""

    __slots__ = ("_compiled", "on_basename", "regex", "shape", "states")

    def __init__(self, on_basename: bool, pattern: bytes, base: bytes,
                 states: tuple[_State, ...]) -> None:
        self.on_basename = on_basename
        self.states = states
        regex, (last, directory) = _translated(pattern)
        self.shape: tuple[bytes, bytes | None]
        if on_basename:
            self.regex = regex
            self.shape = (last, None)
        else:
            self.regex = (re.escape(base + b"/") if base else b"") + regex
            if directory is not None and base:
                base = base.translate(_WHITESPACE_AS_SPACE)
                directory = base + b"/" + directory if directory else base
            self.shape = (last, directory)
        self._compiled: re.Pattern[bytes] | None = None

    def matches(self, path: bytes, basename: bytes) -> bool:
        if self._compiled is None:
            self._compiled = re.compile(self.regex, re.DOTALL)
        return self._compiled.fullmatch(basename if self.on_basename else path) is not None


class _AttrFile:
    """The usable lines and macro definitions of one attributes file, in file order."""

    __slots__ = ("lines", "macros")

    def __init__(self, data: bytes, base: bytes, *, macro_ok: bool) -> None:
        self.lines: list[_AttrLine] = []
        self.macros: list[tuple[bytes, tuple[_State, ...]]] = []
        if data.startswith(_BOM):
            data = data[len(_BOM):]
        for raw in data.split(b"\n"):
            self._parse(raw, base, macro_ok)

    def _parse(self, raw: bytes, base: bytes, macro_ok: bool) -> None:
        # Mirrors git's parse_attr_line: a line git rejects is dropped whole.
        text = raw.lstrip(_BLANK)
        if not text or text.startswith(b"#") or len(raw) >= _MAX_LINE:
            return
        unquoted = _unquote_c(text) if text.startswith(b'"') else None
        if unquoted is not None:
            pattern, rest = unquoted
        else:
            end = _blank_at(text)
            pattern, rest = text[:end], text[end:]
        states: list[_State] = []
        for token in _BLANKS.split(rest.strip(_BLANK)):
            if not token:
                continue
            state = _parse_state(token)
            if state is None:
                return
            states.append(state)
        if len(pattern) > len(_MACRO_PREFIX) and pattern.startswith(_MACRO_PREFIX):
            name = pattern[len(_MACRO_PREFIX):]
            if macro_ok and _ATTR_NAME.fullmatch(name):
                self.macros.append((name, tuple(states)))
            return
        if pattern.startswith(b"!"):  # negative patterns are ignored in gitattributes
            return
        if pattern.endswith(b"/"):  # directory-only: never matches a file
            return
        try:
            if b"/" not in pattern:
                line = _AttrLine(True, pattern, base, tuple(states))
            else:
                body = pattern[1:] if pattern.startswith(b"/") else pattern
                line = _AttrLine(False, body, base, tuple(states))
        except MalformedPattern:  # git's wildmatch matches nothing with it
            return
        self.lines.append(line)


def _blank_at(text: bytes) -> int:
    """Index of the first blank in ``text`` (its length if none)."""
    for i, c in enumerate(text):
        if c in _BLANK:
            return i
    return len(text)


_ONE_LETTER = re.compile(rb"\[([A-Za-z])([A-Za-z])?\]")


def _pattern_shape(pattern: bytes) -> tuple[bytes, bytes | None]:
    """What every match of wildmatch ``pattern`` must look like, for dispatch.

    Returns the lower-cased last byte of every match (``b""`` when not fixed: a wildcard
    or a wider bracket class ends it) and, when the part before the last ``/`` is
    literal and the last component cannot span a ``/``, that directory (``b""`` without a
    ``/``) with whitespace and ``[[:space:]]`` written as one space (else ``None``).
    """
    tokens: list[tuple[str, bytes]] = []  # (kind, value): lit, space, wild, class
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i:i + 1]
        if c == b"\\" and i + 1 < n:
            tokens.append(("lit", pattern[i + 1:i + 2]))
            i += 2
        elif c == b"[":
            i, fragment = translate_bracket_expression(pattern, i + 1)
            m = _ONE_LETTER.fullmatch(fragment)
            if m is not None and (m[2] is None or m[1].lower() == m[2].lower()):
                tokens.append(("lit", m[1]))
            elif fragment == _SPACE_CLASS:
                tokens.append(("space", b" "))
            else:
                tokens.append(("class", b""))
        else:
            tokens.append(("wild" if c in (b"*", b"?") else "lit", c))
            i += 1
    last = tokens[-1][1].lower() if tokens and tokens[-1][0] == "lit" else b""
    slash = max((k for k, token in enumerate(tokens) if token == ("lit", b"/")), default=-1)
    head, tail = tokens[:max(slash, 0)], tokens[slash + 1:]
    if any(kind not in ("lit", "space") for kind, _ in head) or any(
            tail[k] == tail[k + 1] == ("wild", b"*") for k in range(len(tail) - 1)):
        return last, None
    return last, b"".join(value for _, value in head).translate(_WHITESPACE_AS_SPACE)


#: How dulwich renders ``[[:space:]]`` (what :func:`track_line` writes for whitespace).
_SPACE_CLASS = translate_bracket_expression(b"[[:space:]]", 1)[1]
_WHITESPACE_AS_SPACE = bytes.maketrans(b"\t\n\r", b"   ")


#: (index, regex, _pattern_shape of its pattern).
_Alternative = tuple[int, bytes, tuple[bytes, bytes | None]]


class _Alternation:
    """Regexes tried in order; :meth:`first` tells which matches first.

    Only the alternatives that can match are put in the regex actually run: those that
    can end with the text's last character and, for path patterns with a literal
    directory, those of the text's directory. One regex per such key, compiled on first
    use.
    """

    __slots__ = ("_alternatives", "_by_key", "_dirs", "_flags")

    def __init__(self, alternatives: list[_Alternative],
                 flags: int = 0) -> None:
        # (index, regex, _pattern_shape of its pattern) in the order to try them.
        self._alternatives = alternatives
        self._flags = flags | re.DOTALL
        self._dirs = {shape[1] for _, _, shape in alternatives if shape[1] is not None}
        self._by_key: dict[tuple[bytes | None, bytes], re.Pattern[bytes] | None] = {}

    def _compile(self, key: tuple[bytes | None, bytes]) -> re.Pattern[bytes] | None:
        directory, last = key
        body = b"|".join(
            b"(?P<g%d>%s)" % (index, regex) for index, regex, (end, where) in self._alternatives
            if (not end or end == last) and (where is None or where == directory))
        compiled = re.compile(b"(?:" + body + b")", self._flags) if body else None
        self._by_key[key] = compiled
        return compiled

    def first(self, text: bytes) -> int | None:
        """The index of the first alternative matching all of ``text``, if any."""
        directory = None
        if self._dirs:
            directory = text.rpartition(b"/")[0].translate(_WHITESPACE_AS_SPACE)
            if self._flags & re.IGNORECASE:
                directory = directory.lower()
            if directory not in self._dirs:
                directory = None
        key = (directory, text[-1:].lower())
        try:
            regex = self._by_key[key]
        except KeyError:
            regex = self._compile(key)
        if regex is None:
            return None
        m = regex.fullmatch(text)
        return None if m is None else int(m.lastgroup[1:])  # type: ignore[index]


class _AttrStack:
    """The lines applying to the files of one directory, highest priority first, with
    the ``filter`` lines compiled for the fast lookup."""

    __slots__ = ("_filter_values", "_on_basename", "_on_path", "lines")

    def __init__(self, files: tuple[_AttrFile, ...]) -> None:
        self.lines = [line for f in files for line in reversed(f.lines)]
        self._filter_values: list[AttributeValue] = []
        on_basename: list[_Alternative] = []
        on_path: list[_Alternative] = []
        for line in self.lines:
            # Within a line git reads the states from the end: the last ``filter`` counts.
            value = next((v for n, v in reversed(line.states) if n == _FILTER), _NO_STATE)
            if value is _NO_STATE:
                continue
            index = len(self._filter_values)
            self._filter_values.append(value)  # type: ignore[arg-type]
            (on_basename if line.on_basename else on_path).append(
                (index, line.regex, line.shape))
        self._on_basename = _Alternation(on_basename)
        self._on_path = _Alternation(on_path)

    def filter_value(self, path: bytes, basename: bytes) -> AttributeValue:
        """The ``filter`` state of the first matching line (``None``: none matches)."""
        first = self._on_basename.first(basename)
        on_path = self._on_path.first(path)
        if on_path is not None and (first is None or on_path < first):
            first = on_path
        return None if first is None else self._filter_values[first]



def _read_nofollow(path: str) -> bytes:
    """The bytes of ``path``; empty when missing or a symbolic link (git ignores those)."""
    from dulwich.file import open_nofollow_read

    try:
        f = open_nofollow_read(path)
    except (FileNotFoundError, NotADirectoryError):
        return b""
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            return b""
        raise
    with f:
        return f.read()


def _decode(value: AttributeValue) -> str | bool | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


class AttributeRules:
    """The gitattributes of a worktree, answering which paths the vault manages.

    A path is managed when its ``filter`` attribute is ``cvault``, or when it has no
    ``filter`` attribute at all (unspecified) and its size is at least ``threshold``.
    ``-filter``, ``filter`` set to another driver, or set without a value: not managed.
    Nested ``.gitattributes`` files are read lazily, once, when a path below them is asked.
    """

    def __init__(self, worktree: Path, root: bytes, info: bytes, *,
                 threshold: int = DEFAULT_SIZE_THRESHOLD) -> None:
        self._worktree = os.fspath(worktree)
        self.threshold = threshold
        self._info = _AttrFile(info, b"", macro_ok=True)
        root_file = _AttrFile(root, b"", macro_ok=True)
        # Macros: the last definition in the highest-priority file wins, builtins last.
        self._macros = dict(_BUILTIN_MACROS)
        for f in (root_file, self._info):
            self._macros.update(f.macros)
        # Macros that (through others) decide ``filter`` defeat the one-line shortcut.
        reach = {_FILTER}
        grown = True
        while grown:
            grown = False
            for name, states in self._macros.items():
                if name not in reach and any(n in reach for n, _ in states):
                    reach.add(name)
                    grown = True
        self._filter_by_macro = len(reach) > 1
        self._files: dict[bytes, tuple[_AttrFile, ...]] = {
            b"": (self._info, root_file) if root_file.lines else (self._info,)}
        self._stacks: dict[tuple[_AttrFile, ...], _AttrStack] = {}
        self._dir_stacks: dict[bytes, _AttrStack] = {}

    @classmethod
    def load(cls, worktree: Path, *, threshold: int = DEFAULT_SIZE_THRESHOLD) -> AttributeRules:
        """Read the rules from ``worktree``'s ``.gitattributes`` files and ``info/attributes``.

        Only worktree files are read (a ``.gitattributes`` missing from the worktree is not
        looked up in the index). Global and system attribute files are not read.
        """
        worktree = Path(worktree)
        try:
            info = (common_git_dir(worktree) / "info" / "attributes").read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            info = b""
        root = _read_nofollow(os.path.join(worktree, ".gitattributes"))
        return cls(worktree, root, info, threshold=threshold)

    def _files_for(self, directory: bytes) -> tuple[_AttrFile, ...]:
        """The files applying in ``directory``, highest priority first."""
        try:
            return self._files[directory]
        except KeyError:
            pass
        parent = self._files_for(directory.rpartition(b"/")[0])
        data = _read_nofollow(os.path.join(self._worktree, os.fsdecode(directory),
                                           ".gitattributes"))
        own = _AttrFile(data, directory, macro_ok=False) if data else None
        files = parent if own is None or not own.lines else (parent[0], own, *parent[1:])
        self._files[directory] = files
        return files

    def _stack(self, directory: bytes) -> _AttrStack:
        try:
            return self._dir_stacks[directory]
        except KeyError:
            pass
        files = self._files_for(directory)
        stack = self._stacks.get(files)
        if stack is None:
            stack = self._stacks[files] = _AttrStack(files)
        self._dir_stacks[directory] = stack
        return stack

    def _resolve(self, path: bytes, wanted: frozenset[bytes] | None) -> dict[bytes, AttributeValue]:
        """git's full resolution (macros included): every decided attribute of ``path``,
        or only those in ``wanted``. ``None`` values mean unspecified."""
        directory, _, basename = path.rpartition(b"/")
        decided: dict[bytes, AttributeValue] = {}
        macros = self._macros

        def fill(states: tuple[_State, ...]) -> None:
            for name, value in reversed(states):
                if name not in decided:
                    decided[name] = value
                    if value is True and name in macros:
                        fill(macros[name])

        for line in self._stack(directory).lines:
            if line.matches(path, basename):
                fill(line.states)
                if wanted is not None and wanted <= decided.keys():
                    break
        return decided

    def attributes(self, relpath: str) -> dict[str, str | bool]:
        """Every attribute git would report as set/unset/valued for ``relpath``."""
        result: dict[str, str | bool] = {}
        for name, value in self._resolve(_encode(relpath), None).items():
            decoded = _decode(value)
            if decoded is not None:
                result[name.decode("utf-8", errors="surrogateescape")] = decoded
        return result

    def filter_value(self, relpath: str) -> str | bool | None:
        """The ``filter`` attribute of ``relpath``, as ``git check-attr filter`` reports it.

        A driver name, ``True`` (set), ``False`` (unset, ``-filter``) or ``None``
        (unspecified).
        """
        path = _encode(relpath)
        if self._filter_by_macro:
            return _decode(self._resolve(path, frozenset((_FILTER,))).get(_FILTER))
        directory, _, basename = path.rpartition(b"/")
        return _decode(self._stack(directory).filter_value(path, basename))

    def is_managed(self, relpath: str, size: int | None) -> bool:
        """Whether the vault stores ``relpath`` (of ``size`` bytes, if known)."""
        value = self.filter_value(relpath)
        if value == "cvault":
            return True
        if value is None:
            return size is not None and size >= self.threshold
        return False


# ------------------------------------------------------------------ ignore rules
#
# git decides an entry with the .gitignore files of its directory and above (deepest
# first), then info/exclude, then core.excludesFile; within a file the last matching
# line wins; and an entry below an excluded directory is excluded, whatever its own
# lines say. Each file compiles its lines into one alternation, last line first, and
# whether a directory is excluded is remembered, so each path costs about one regex
# call per rule file.


class _IgnoreFile:
    """The patterns of one ignore file, compiled for a last-match-wins lookup.

    Patterns without a slash are matched against the entry's basename (as git does),
    the others against its path relative to the file's directory; each kind is one
    :class:`_Alternation`, last pattern first, with and without directory-only patterns.
    """

    __slots__ = ("_basename", "_basename_files", "_path", "_path_files", "patterns")

    def __init__(self, lines: Iterable[bytes], ignorecase: bool) -> None:
        from dulwich.ignore import Pattern as IgnorePattern
        from dulwich.ignore import translate as translate_ignore

        self.patterns: list[IgnorePattern] = []
        basename: list[_Alternative] = []
        path: list[_Alternative] = []
        for line in lines:
            try:
                pattern = IgnorePattern(line, ignorecase)
            except MalformedPattern:  # git's wildmatch matches nothing with it
                continue
            index = len(self.patterns)
            self.patterns.append(pattern)
            if pattern.is_empty:
                continue
            # What IgnorePattern matches an entry name against (see its ``matches``).
            body = line[1:] if line.startswith((b"!", b"\\!", b"\\#")) else line
            body = body.rstrip(b"/")
            if b"/" in body:
                regex = translate_ignore(body).removeprefix(b"(?ms)")
                last, directory = _pattern_shape(body.removeprefix(b"/"))
                if directory is not None and ignorecase:
                    directory = directory.lower()
                path.append((index, regex, (last, directory)))
            else:
                basename.append((index, translate_wildmatch(body), (_pattern_shape(body)[0], None)))
        flags = re.MULTILINE | (re.IGNORECASE if ignorecase else 0)
        basename.reverse()
        path.reverse()
        self._basename = _Alternation(basename, flags)
        self._path = _Alternation(path, flags)
        self._basename_files = _Alternation(self._files_only(basename), flags)
        self._path_files = _Alternation(self._files_only(path), flags)

    def _files_only(self, alternatives: list[_Alternative]
                    ) -> list[_Alternative]:
        return [alt for alt in alternatives if not self.patterns[alt[0]].is_directory_only]

    def match(self, name: bytes, is_dir: bool | None) -> IgnorePattern | None:
        """The last pattern deciding entry ``name`` (relative to the file's directory).

        With ``is_dir=None`` directory-only patterns are tried too: the caller checks
        the answer's ``is_directory_only`` and asks again once it knows.
        """
        basename = name.rpartition(b"/")[2]
        if is_dir is False:
            first = self._basename_files.first(basename)
            on_path = self._path_files.first(name)
        else:
            first = self._basename.first(basename)
            on_path = self._path.first(name)
        if on_path is not None and (first is None or on_path > first):
            first = on_path
        return None if first is None else self.patterns[first]

    @classmethod
    def read(cls, data: bytes, ignorecase: bool) -> _IgnoreFile | None:
        """The compiled file, or ``None`` when it has no pattern."""
        if data.startswith(_BOM):
            data = data[len(_BOM):]
        from dulwich.ignore import read_ignore_patterns

        compiled = cls(read_ignore_patterns(io.BytesIO(data)), ignorecase)
        return compiled if compiled.patterns else None


_IgnoreStack = tuple[tuple[int, _IgnoreFile], ...]


class IgnoreRules:
    """The gitignore rules of a worktree: ``.gitignore`` files, ``info/exclude`` and
    ``core.excludesFile``, with git's precedence (patterns are dulwich's,
    :class:`dulwich.ignore.Pattern`).
    """

    def __init__(self, worktree: Path, global_files: list[_IgnoreFile], *,
                 ignorecase: bool = False) -> None:
        self._worktree = os.fspath(worktree)
        self._ignorecase = ignorecase
        self._globals: _IgnoreStack = tuple((0, f) for f in global_files)
        self._stacks: dict[bytes, _IgnoreStack] = {}
        self._excluded: dict[bytes, bool] = {}
        #: the repository whose config and exclude files are still to be read
        self._unread_config: Path | None = None

    @classmethod
    def load(cls, worktree: Path) -> IgnoreRules:
        """The ignore rules of ``worktree`` (only its ``.gitignore`` files if it is not a
        git repository).

        Nothing is read until the first question: a walk that only meets tracked paths
        never asks one, and opening the repository's config costs more than that walk.
        """
        rules = cls(Path(worktree), [])
        rules._unread_config = Path(worktree)
        return rules

    def _read_config(self, worktree: Path) -> None:
        """Take ``core.ignorecase``, ``info/exclude`` and ``core.excludesFile``."""
        from dulwich.errors import NotGitRepository
        from dulwich.ignore import default_user_ignore_filter_path
        from dulwich.repo import Repo

        try:
            repo = Repo(os.fspath(worktree))
        except NotGitRepository:
            return
        try:
            config = repo.get_config_stack()
            ignorecase = config.get_boolean((b"core",), b"ignorecase", False)
            files = []
            # info/exclude takes precedence over core.excludesFile.
            for name in (os.path.join(repo.commondir(), "info", "exclude"),
                         default_user_ignore_filter_path(config)):
                try:
                    data = Path(os.path.expanduser(name)).read_bytes()
                except OSError:
                    continue
                compiled = _IgnoreFile.read(data, ignorecase)
                if compiled is not None:
                    files.append(compiled)
        finally:
            repo.close()
        self._ignorecase = ignorecase
        self._globals = tuple((0, f) for f in files)

    def _stack(self, directory: bytes) -> _IgnoreStack:
        """The files deciding the entries of ``directory``, deepest first."""
        try:
            return self._stacks[directory]
        except KeyError:
            pass
        if self._unread_config is not None:
            worktree, self._unread_config = self._unread_config, None
            self._read_config(worktree)
        parent = self._stack(directory.rpartition(b"/")[0]) if directory else self._globals
        data = _read_nofollow(os.path.join(self._worktree, os.fsdecode(directory), ".gitignore"))
        own = _IgnoreFile.read(data, self._ignorecase) if data else None
        offset = len(directory) + 1 if directory else 0
        stack = parent if own is None else ((offset, own), *parent)
        self._stacks[directory] = stack
        return stack

    def _is_dir(self, name: bytes) -> bool:
        try:
            st = os.lstat(os.path.join(self._worktree, os.fsdecode(name)))
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode)

    def _decide(self, stack: _IgnoreStack, name: bytes, is_dir: bool | None) -> IgnorePattern | None:
        """The pattern deciding entry ``name``; ``is_dir=None``: stat it only if needed."""
        for offset, rules in stack:
            rel = name[offset:]
            if is_dir is None:
                pattern = rules.match(rel, None)
                if pattern is None:
                    continue
                if not pattern.is_directory_only:
                    return pattern
                is_dir = self._is_dir(name)
            pattern = rules.match(rel, is_dir)
            if pattern is not None:
                return pattern
        return None

    def _dir_excluded(self, directory: bytes) -> bool:
        """Whether ``directory`` or a directory above it is excluded (git stops there)."""
        try:
            return self._excluded[directory]
        except KeyError:
            pass
        parent = directory.rpartition(b"/")[0]
        if parent and self._dir_excluded(parent):
            excluded = True
        else:
            # A directory is decided before its own .gitignore is read.
            pattern = self._decide(self._stack(parent), directory, True)
            excluded = pattern is not None and pattern.is_exclude
        self._excluded[directory] = excluded
        return excluded

    def is_ignored(self, relpath: str) -> bool:
        """Whether ``relpath`` is ignored, as ``git check-ignore`` says.

        Write directories with a trailing ``/``. A file inside an ignored directory is
        ignored.
        """
        is_dir = relpath.endswith("/")
        name = _encode(relpath.rstrip("/"))
        parent = name.rpartition(b"/")[0]
        if parent and self._dir_excluded(parent):
            return True
        # Asked about ``dir/``, check-ignore also consults the directory's own file.
        stack = self._stack(name if is_dir else parent)
        pattern = self._decide(stack, name, True if is_dir else None)
        if pattern is not None and pattern.is_exclude:
            return True
        return is_dir and self._excluded_inside(stack, name)

    @staticmethod
    def _excluded_inside(stack: _IgnoreStack, name: bytes) -> bool:
        """Whether the last pattern describing the contents of ``name`` (``dir/*``)
        excludes: ``check-ignore dir/`` reports such a directory as ignored."""
        for offset, rules in stack:
            for pattern in reversed(rules.patterns):
                if pattern.reaches_inside(name[offset:]):
                    return pattern.is_exclude
        return False

    def excludes(self, relpath: str) -> bool:
        """The ``ignore`` callable for :func:`~creativevault.repo.paths.walk_worktree`.

        For a directory (trailing ``/``) it answers whether the walk may skip it: a
        directory matched only by a pattern such as ``dir/*`` must still be entered, since
        a later ``!`` line may re-include something below it.
        """
        if relpath.endswith("/"):
            return self._dir_excluded(_encode(relpath.rstrip("/")))
        return self.is_ignored(relpath)
