"""Pointer files: what git stores instead of a vault-managed file's bytes.

The format is specified in ``docs/formats/pointer.md``. There is exactly one canonical
encoding (:meth:`Pointer.encode`); reading is a little more lenient (keys in any order,
CRLF, no final LF) and also accepts git-lfs pointers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from creativevault.errors import NotAPointerError, PointerError

__all__ = [
    "LFS_VERSION_URL",
    "MAX_POINTER_SIZE",
    "VERSION_URL",
    "Pointer",
    "looks_like_pointer",
    "parse_pointer",
]

#: Largest pointer file, in bytes; anything bigger is ordinary content.
MAX_POINTER_SIZE = 1024

#: The version URL of the format this module writes.
VERSION_URL = "https://creativevault.dev/spec/v1"
#: The git-lfs pointer version URL, read as a pointer of origin ``"lfs"``.
LFS_VERSION_URL = "https://git-lfs.github.com/spec/v1"

_CVAULT_VERSION_PREFIX = "https://creativevault.dev/spec/"
_VERSION_ORIGINS = {VERSION_URL: "cvault", LFS_VERSION_URL: "lfs"}
_SNIFF_PREFIXES = (
    b"version " + _CVAULT_VERSION_PREFIX.encode(),
    b"version " + LFS_VERSION_URL.encode(),
)
_RESERVED_KEYS = frozenset({"version", "oid", "size"})

_KEY_RE = re.compile(r"[a-z0-9.-]+")
# One or more characters, no control characters, no leading/trailing space.
_VALUE_RE = re.compile(r"[^\x00-\x1f\x7f ](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f ])?")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_UNSIGNED_RE = re.compile(r"0|[1-9][0-9]*")
_SIGNED_RE = re.compile(r"0|-?[1-9][0-9]*")


def _decimal_check(key: str) -> re.Pattern[str] | None:
    """The pattern a known optional key's value must match, if it has one."""
    if key == "chunks":
        return _UNSIGNED_RE
    if key == "mtime":
        return _SIGNED_RE
    return None


def _check_extra(key: str, value: object, path: str | None = None) -> None:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise PointerError("invalid pointer key", path=path, field=str(key),
                           expected="[a-z0-9.-]+", actual=key)
    if key in _RESERVED_KEYS:
        raise PointerError("reserved key in pointer extras", path=path, field=key,
                           expected="a key other than version/oid/size", actual=key)
    if not isinstance(value, str) or not _VALUE_RE.fullmatch(value):
        raise PointerError("invalid pointer value", path=path, field=key,
                           expected="non-empty text without control characters",
                           actual=value)
    check = _decimal_check(key)
    if check is not None and not check.fullmatch(value):
        raise PointerError("invalid pointer value", path=path, field=key,
                           expected="a canonical decimal integer", actual=value)


@dataclass(frozen=True)
class Pointer:
    """A parsed pointer: content id, size and any other keys.

    ``oid`` is the 64-digit lowercase hex SHA-256 of the content (written ``sha256:<oid>``
    in the file). ``extra`` holds every other key (``chunks``, ``mtime``, unknown keys)
    with its value as written. ``origin`` says which format it was read from
    (``"cvault"`` or ``"lfs"``); it does not take part in equality.
    """

    oid: str
    size: int
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)
    origin: str = field(default="cvault", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.oid, str) or not _HEX64_RE.fullmatch(self.oid):
            raise PointerError("invalid pointer oid", field="oid",
                               expected="64 lowercase hex digits", actual=self.oid)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise PointerError("invalid pointer size", field="size",
                               expected="a non-negative integer", actual=self.size)
        if self.origin not in ("cvault", "lfs"):
            raise PointerError("unknown pointer origin", field="origin",
                               expected="'cvault' or 'lfs'", actual=self.origin)
        for key, value in self.extra.items():
            _check_extra(key, value)
        frozen = MappingProxyType(dict(sorted(self.extra.items())))
        object.__setattr__(self, "extra", frozen)
        encoded_size = len(self.encode())
        if encoded_size > MAX_POINTER_SIZE:
            raise PointerError("pointer too large", field="extra",
                               expected=f"at most {MAX_POINTER_SIZE} bytes encoded",
                               actual=f"{encoded_size} bytes")

    @property
    def mtime_ns(self) -> int | None:
        """The committed modification time in nanoseconds, if recorded."""
        value = self.extra.get("mtime")
        return None if value is None else int(value)

    @property
    def chunks(self) -> int | None:
        """The recorded chunk count, if any."""
        value = self.extra.get("chunks")
        return None if value is None else int(value)

    def encode(self) -> bytes:
        """Return the one canonical encoding of this pointer (always the cvault format)."""
        fields = dict(self.extra)
        fields["oid"] = f"sha256:{self.oid}"
        fields["size"] = str(self.size)
        lines = [f"version {VERSION_URL}"]
        lines.extend(f"{key} {fields[key]}" for key in sorted(fields))
        return ("\n".join(lines) + "\n").encode("utf-8")


def looks_like_pointer(data: bytes) -> bool:
    """Cheaply tell whether ``data`` starts like a pointer (cvault or git-lfs).

    A ``True`` answer does not mean :func:`parse_pointer` will succeed: a broken
    pointer also looks like one.
    """
    return len(data) <= MAX_POINTER_SIZE and data.startswith(_SNIFF_PREFIXES)


def parse_pointer(data: bytes, *, path: str | Path | None = None) -> Pointer:
    """Parse pointer file content.

    Raises :class:`NotAPointerError` when ``data`` is simply not a pointer (too large,
    not UTF-8, no known version line) and :class:`PointerError` when it starts with a
    known version line but is malformed. ``path`` is only used in error messages.
    """
    where = str(path) if path is not None else None
    if len(data) > MAX_POINTER_SIZE:
        raise NotAPointerError("content is larger than a pointer", path=where,
                               expected=f"at most {MAX_POINTER_SIZE} bytes",
                               actual=f"{len(data)} bytes")
    if not data.startswith(b"version "):
        raise NotAPointerError("content has no pointer version line", path=where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotAPointerError("content is not UTF-8 text", path=where,
                               offset=exc.start) from None

    first, sep, _ = text.partition("\n")
    version = first[len("version "):].rstrip("\r")
    origin = _VERSION_ORIGINS.get(version)
    if origin is None:
        if version.startswith(_CVAULT_VERSION_PREFIX):
            raise PointerError("unsupported pointer version", path=where, field="version",
                               expected=VERSION_URL, actual=version)
        raise NotAPointerError("content has no known pointer version line", path=where)

    body = text[len(first) + len(sep):]
    if body.endswith("\n"):
        body = body[:-1]
    if not sep or not body:
        raise PointerError("pointer has no fields", path=where, field="oid",
                           expected="oid and size lines", actual="nothing")

    fields: dict[str, str] = {}
    offset = len(first.encode()) + 1
    for line in body.split("\n"):
        raw_len = len(line.encode()) + 1
        if line.endswith("\r"):
            line = line[:-1]
        key, space, value = line.partition(" ")
        if not line:
            raise PointerError("blank line in pointer", path=where, offset=offset)
        if not space or not _KEY_RE.fullmatch(key) or not _VALUE_RE.fullmatch(value):
            raise PointerError("malformed pointer line", path=where, offset=offset,
                               field=key or None, expected="'<key> <value>'", actual=line)
        if key in fields or key == "version":
            raise PointerError("duplicate key in pointer", path=where, offset=offset,
                               field=key, expected="each key once", actual=line)
        fields[key] = value
        offset += raw_len

    oid_value = fields.pop("oid", None)
    if oid_value is None:
        raise PointerError("pointer has no oid", path=where, field="oid",
                           expected="oid sha256:<64 hex>", actual=None)
    algo, colon, digest = oid_value.partition(":")
    if algo != "sha256" or not colon or not _HEX64_RE.fullmatch(digest):
        raise PointerError("malformed pointer oid", path=where, field="oid",
                           expected="sha256:<64 lowercase hex>", actual=oid_value)
    size_value = fields.pop("size", None)
    if size_value is None:
        raise PointerError("pointer has no size", path=where, field="size",
                           expected="size <decimal>", actual=None)
    if not _UNSIGNED_RE.fullmatch(size_value):
        raise PointerError("malformed pointer size", path=where, field="size",
                           expected="a canonical decimal integer", actual=size_value)
    for key, value in fields.items():
        _check_extra(key, value, where)
    try:
        return Pointer(oid=digest, size=int(size_value), extra=fields, origin=origin)
    except PointerError as exc:
        # Only reachable through the encoded size cap (a CRLF pointer can shrink).
        exc.path = where
        raise
