"""Git objects between vaults: which commits are new, what they introduce, packs of them.

The git half of push and fetch (the store half is :mod:`creativevault.store.transfer`).
Packs are ordinary git pack files (no deltas against objects the receiver may lack), made
and read by dulwich, which checks the trailing checksum and every object id on arrival.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from typing import BinaryIO

from dulwich.errors import ApplyDeltaError, ChecksumMismatch, ObjectFormatException
from dulwich.objects import ObjectID
from dulwich.pack import write_pack_data
from dulwich.refs import Ref, check_ref_format

from creativevault.errors import CorruptObjectError, DiskFullError, GitError, ObjectMissingError
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.store.durable import is_disk_full

__all__ = ["introduced_entries", "is_branch_ref", "move_branch", "new_commits", "read_pack",
           "write_pack"]


def _is_object_id(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def _oids(ids: Iterable[str]) -> list[ObjectID]:
    return [ObjectID(i.encode()) for i in ids]


def new_commits(git: GitRepo, tips: Iterable[str], known: Iterable[str]) -> list[str]:
    """Commits reachable from ``tips`` but not from ``known`` (ids git lacks are ignored)."""
    include = [t for t in tips if git.has_object(t)]
    if not include:
        return []
    exclude = [k for k in known if git.has_object(k)]
    walker = git._repo.get_walker(include=_oids(include), exclude=_oids(exclude))
    return [entry.commit.id.decode() for entry in walker]


def introduced_entries(git: GitRepo, commits: Iterable[str]) -> list[tuple[str, FlatEntry]]:
    """Every tree entry (path, entry), one per blob, that ``commits`` add or change
    relative to their parents; a root commit introduces its whole tree. A path changed by
    several of the commits appears once per version (each version is content to move)."""
    out: list[tuple[str, FlatEntry]] = []
    seen_blobs: set[str] = set()
    for cid in commits:
        data = git.commit(cid)
        parents = data.parents or [None]
        for parent in parents:
            old_tree = git.commit(parent).tree if parent else None
            for path, (_old, new) in git.changed_entries(old_tree, data.tree).items():
                if new is not None and new.blob_id not in seen_blobs:
                    seen_blobs.add(new.blob_id)
                    out.append((path, new))
    return out


def write_pack(git: GitRepo, wants: Iterable[str], haves: Iterable[str], out: BinaryIO) -> int:
    """Write a pack of the objects needed for ``wants`` given the receiver has ``haves``;
    return the number of objects (0 writes nothing)."""
    wants = list(wants)
    for want in wants:
        if not (_is_object_id(want) and git.has_object(want)):
            raise ObjectMissingError(f"commit {want} is not in this repository",
                                     path=git.git_dir)
    store = git._repo.object_store
    count, records = store.generate_pack_data(
        _oids(h for h in haves if _is_object_id(h) and git.has_object(h)), _oids(wants),
        ofs_delta=False)
    if count == 0:
        return 0
    write_pack_data(out.write, records, git._repo.object_format, num_records=count)
    return count


def read_pack(git: GitRepo, read_all: Callable[[int], bytes], *, source: str) -> None:
    """Add a pack read from a stream to the repository (checked by dulwich on arrival)."""
    try:
        git._repo.object_store.add_thin_pack(read_all, None)
    except (ChecksumMismatch, ApplyDeltaError, ObjectFormatException, AssertionError,
            ValueError, zlib.error, struct.error, TypeError) as exc:
        # a truncated or garbled pack fails inside dulwich's parser as zlib.error (cut
        # in an object), struct.error (cut in the header) or TypeError (cut after it)
        raise CorruptObjectError(f"git objects from {source} arrived damaged: {exc}") from exc
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while storing git objects from {source} in "
                                f"{git.git_dir}; the content that arrived is kept; free "
                                "some space and run it again", path=git.git_dir) from exc
        raise GitError(f"cannot store git objects from {source}: {exc.strerror or exc}"
                       ) from exc


def move_branch(git: GitRepo, ref: str, new: str, old: str | None, message: str) -> bool:
    """Point ``ref`` at ``new`` only if it still points at ``old`` (``None``: only if it
    does not exist yet), in one atomic step; False when another writer got there first.

    ``GitRepo.update_ref`` treats ``old=None`` as "set unconditionally", so two pushes
    creating the same branch at once would both succeed, the second silently replacing
    the first.
    """
    refs = git._repo.refs
    committer = git.identity("COMMITTER").encode()
    if old is None:
        return refs.add_if_new(Ref(ref.encode()), ObjectID(new.encode()),
                               committer=committer, message=message.encode())
    return refs.set_if_equals(Ref(ref.encode()), ObjectID(old.encode()),
                              ObjectID(new.encode()), committer=committer,
                              message=message.encode())


def is_branch_ref(ref: str) -> bool:
    """True for ``refs/heads/<name>`` with a name git accepts (``git check-ref-format``:
    no spaces, ``:``, ``~``, ``..``, ``//``, trailing ``/`` or ``.lock``, ...)."""
    return (ref.startswith("refs/heads/") and len(ref) > len("refs/heads/")
            and check_ref_format(Ref(ref.encode())))
