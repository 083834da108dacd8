"""The one exception tree of CreativeVault.

Every error the library raises on purpose derives from :class:`VaultError`. Errors say
*where* (``path``, ``offset``, ``field``), what was *expected* versus what was *found*, and
how a caller should react: ``corrupt`` (data on disk is damaged; do not retry, run
``cvault fsck``) and ``retriable`` (a transient condition; the same call may succeed later).

::

    VaultError
    ├── NotAVaultError              directory is not (inside) a vault
    ├── UsageError                  bad arguments: unknown revision, path outside the vault …
    │   ├── RevisionNotFoundError
    │   └── PathNotFoundError
    ├── InputFileError              a user's file could not be read as asked
    │   ├── FileVanishedError       removed/unreadable between listing and reading
    │   └── FileChangedError        modified while being read (retriable)
    ├── NotAPointerError            "not ours": content is not a pointer (normal case)
    ├── PointerError                "broken": looks like a pointer but is malformed (corrupt)
    ├── StoreError
    │   ├── ObjectMissingError      content not present in this vault
    │   ├── CorruptObjectError      a chunk or manifest failed verification (corrupt)
    │   ├── DiskFullError           not enough space, before or during a write (retriable)
    │   ├── LockedError             another cvault process holds the lock (retriable)
    │   └── StoreFormatError        unknown store version or layout (corrupt)
    ├── WorktreeError               working files conflict with the operation
    │   └── CaseCollisionError      two paths differ only by case / Unicode form
    ├── GitError                    the git repository itself refused an operation
    └── RemoteError                 another vault could not be reached or failed (retriable)
        ├── PushRejectedError       the remote refused a ref update (fetch and merge first)
        └── NotEnoughCopiesError    a drop would leave fewer verified copies than required

Third-party exceptions are converted at one boundary per dependency: OSError in
:mod:`creativevault.store.durable` and the repository layer, dulwich errors in
:mod:`creativevault.repo.gitrepo`, zstandard errors in
:mod:`creativevault.store.compression`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CaseCollisionError",
    "CorruptObjectError",
    "DiskFullError",
    "FileChangedError",
    "FileVanishedError",
    "GitError",
    "InputFileError",
    "LockedError",
    "NotAPointerError",
    "NotAVaultError",
    "ObjectMissingError",
    "PathNotFoundError",
    "NotEnoughCopiesError",
    "PointerError",
    "PushRejectedError",
    "RemoteError",
    "RevisionNotFoundError",
    "StoreError",
    "StoreFormatError",
    "UsageError",
    "VaultError",
    "WorktreeError",
]


class VaultError(Exception):
    """Root of every error CreativeVault raises on purpose."""

    corrupt: bool = False
    retriable: bool = False

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        offset: int | None = None,
        field: str | None = None,
        expected: object = None,
        actual: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.offset = offset
        self.field = field
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}: ")
        parts.append(self.message)
        if self.offset is not None:
            parts.append(f" (at byte {self.offset})")
        if self.expected is not None or self.actual is not None:
            parts.append(f" (expected {self.expected}, found {self.actual})")
        return "".join(parts)


class NotAVaultError(VaultError):
    """The directory is not inside a CreativeVault repository."""


class UsageError(VaultError):
    """The caller asked for something that cannot be done as asked."""


class RevisionNotFoundError(UsageError):
    """A revision, branch or rescue entry name does not resolve."""


class PathNotFoundError(UsageError):
    """A path is not in the working tree, the index or the given revision."""


class InputFileError(VaultError):
    """A user's file could not be read."""


class FileVanishedError(InputFileError):
    """The file disappeared or became unreadable while cvault was working on it."""


class FileChangedError(InputFileError):
    """The file was modified while it was being read; nothing torn was stored."""

    retriable = True


class NotAPointerError(VaultError):
    """The content is not a pointer file (ordinary content, not an error in itself)."""


class PointerError(VaultError):
    """The content looks like a pointer file but is malformed."""

    corrupt = True


class StoreError(VaultError):
    """The sidecar object store failed."""


class ObjectMissingError(StoreError):
    """The content is not present in this vault (it may exist in another copy)."""


class CorruptObjectError(StoreError):
    """A chunk, manifest or pack failed verification."""

    corrupt = True


class DiskFullError(StoreError):
    """Not enough free space for a write; nothing half-written is referenced."""

    retriable = True


class LockedError(StoreError):
    """Another cvault process holds the store lock."""

    retriable = True


class StoreFormatError(StoreError):
    """The store's layout or version is not one this cvault understands."""

    corrupt = True


class WorktreeError(VaultError):
    """Working files conflict with the requested operation."""


class CaseCollisionError(WorktreeError):
    """Two paths differ only by letter case or Unicode normal form."""


class GitError(VaultError):
    """The git repository refused an operation."""


class RemoteError(VaultError):
    """Another vault (a drive path or an SSH host) could not be reached, or failed."""

    retriable = True


class PushRejectedError(RemoteError):
    """The remote refused to move a ref (not a fast-forward, or its checked-out branch)."""

    retriable = False


class NotEnoughCopiesError(RemoteError):
    """Dropping content would leave fewer verified copies elsewhere than required."""

    retriable = False
