"""The far end of a transfer: answers a peer's requests on one vault.

Used in-process for a vault on a drive path and by ``cvault serve PATH`` at the other end
of an SSH connection. Every entry that arrives is verified before it is written; a ref
moves only after this vault holds all the content the new commits refer to (except what
the sender declared it does not have itself), and never the branch checked out here.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from typing import Any

from creativevault.errors import (
    CorruptObjectError,
    ObjectMissingError,
    PushRejectedError,
    RemoteError,
    RevisionNotFoundError,
    StoreError,
    UsageError,
    VaultError,
)
from creativevault.features.sync.content import check_branch_move, content_introduced
from creativevault.features.sync.wire import (
    PROTOCOL,
    Channel,
    ConnectionLost,
    decode_entries,
    encode_entries,
    error_reply,
)
from creativevault.repo.gitsync import is_branch_ref, move_branch, read_pack, write_pack
from creativevault.repo.vault import Vault
from creativevault.store.transfer import Entry, Ingest, missing_keys, read_entries

__all__ = ["RefUpdate", "VaultServer", "serve"]

RefUpdate = tuple[str, "str | None", str]  # (ref, expected old value, new value)


class VaultServer:
    """Answers requests on ``vault``; one per connection."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._ingest: Ingest | None = None

    # -- queries ----------------------------------------------------------------------
    def hello(self, client_protocol: int = PROTOCOL) -> dict[str, Any]:
        """What the client needs to plan: refs, checked-out branch, chunker, free space."""
        if int(client_protocol) != PROTOCOL:
            raise RemoteError(f"protocol {client_protocol} is not spoken here "
                              f"(this cvault speaks {PROTOCOL}); upgrade cvault on both sides")
        git = self.vault.git
        refs = {f"refs/heads/{b}": c for b, c in git.branches().items()}
        return {
            "protocol": PROTOCOL,
            "refs": refs,
            "head": git.head_branch(),
            # every worktree's branch (git worktree add): none of them may be moved
            "checked_out": sorted(git.checked_out_branches()),
            "chunker": self.vault.store.chunker.to_json(),
            "free": shutil.disk_usage(self.vault.store.root).free,
            "partial": self.vault.git.config_get("cvault", "partial") == "true",
            "path": str(self.vault.root),
            "deltas": True,  # takes and sends delta entries (pack version 2)
        }

    def missing(self, etype: int, keys: list[bytes]) -> list[bytes]:
        """Which of ``keys`` this vault's store lacks."""
        return missing_keys(self.vault.store, int(etype), [bytes(k) for k in keys])

    def get(self, etype: int, keys: list[bytes], deltas: bool = False) -> list[Entry]:
        """Stored entries for ``keys`` (all must be present); deltas are expanded unless
        the client takes them."""
        return list(read_entries(self.vault.store, int(etype), [bytes(k) for k in keys],
                                 deltas=deltas is True))

    def get_pack(self, wants: list[str], haves: list[str]) -> bytes:
        """A git pack with what a client holding ``haves`` needs for ``wants``."""
        import io

        buf = io.BytesIO()
        write_pack(self.vault.git, wants, haves, buf)
        return buf.getvalue()

    def verify_files(self, file_ids: list[str]) -> dict[str, str | None]:
        """Re-read and re-hash each file: id -> None when intact, else what is wrong."""
        out: dict[str, str | None] = {}
        store = self.vault.store
        for file_id in file_ids:
            if not store.has_file(file_id):
                out[file_id] = "not here"
                continue
            try:
                store.write_file_to(file_id, _NullSink())
                out[file_id] = None
            except (CorruptObjectError, ObjectMissingError, StoreError) as exc:
                out[file_id] = exc.message
        return out

    # -- writes -----------------------------------------------------------------------
    def put(self, entries: list[Entry]) -> dict[str, int]:
        """Verify and store a batch of entries; what has arrived so far."""
        if self._ingest is None:
            ingest = Ingest(self.vault.store)
            ingest.__enter__()
            self._ingest = ingest
        for entry in entries:
            self._ingest.add(entry)
        return self._ingest.report.to_json()

    def put_done(self) -> dict[str, int]:
        """Publish everything received; the report of the whole batch series."""
        ingest, self._ingest = self._ingest, None
        if ingest is None:
            return {"chunks": 0, "files": 0, "bytes": 0, "skipped": 0, "packs": 0}
        ingest.__exit__(None, None, None)
        return ingest.report.to_json()

    def put_pack(self, data: bytes) -> None:
        """Add a git pack (checked by dulwich)."""
        import io

        if data:
            read_pack(self.vault.git, io.BytesIO(data).read, source="the sender")

    def update_refs(self, updates: list[RefUpdate], force: bool = False,
                    unavailable: list[str] | None = None, who: str = "a remote") -> list[str]:
        """Move refs, each only from its expected old value; returns the refs moved."""
        git = self.vault.git
        checked_out = set(git.checked_out_branches())
        unavailable_set = set(unavailable or [])
        current = {f"refs/heads/{b}": c for b, c in git.branches().items()}
        plans: list[tuple[str, str | None, str]] = []
        for ref, old, new in updates:
            if not is_branch_ref(ref):
                raise UsageError(f"cannot push to {ref}: only branches (refs/heads/NAME, "
                                 "a name git accepts)")
            have = current.get(ref)
            if have != (old or None):
                raise PushRejectedError(f"{ref} moved on the remote since this push began; "
                                        "run it again")
            if not git.has_object(new):
                raise PushRejectedError(f"{ref}: commit {new[:12]} has not arrived")
            try:
                git.commit(new)
            except RevisionNotFoundError as exc:  # a tree or a blob: a branch names commits
                raise PushRejectedError(f"{ref}: {new[:12]} is not a commit") from exc
            check_branch_move(git, ref, have, new, checked_out=checked_out, force=force,
                              where=str(self.vault.root))
            _commits, content = content_introduced(git, [new], current.values())
            lacking = [c for fid, c in content.items()
                       if fid not in unavailable_set and not self.vault.store.has_file(fid)]
            if lacking:
                raise ObjectMissingError(
                    f"{ref}: {len(lacking)} files' content has not arrived (first: "
                    f"{lacking[0].path}); the ref was not moved, run the push again")
            plans.append((ref, have, new))
        for ref, have, new in plans:
            if not move_branch(git, ref, new, have, f"push: from {who}"):
                raise PushRejectedError(f"{ref} moved on the remote while this push was "
                                        "moving it; run it again")
        return [ref for ref, _have, _new in plans]

    def close(self) -> None:
        """End the session: publish what arrived, release the vault."""
        try:
            if self._ingest is not None:
                self.put_done()
        finally:
            self.vault.close()


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


def _parse_request(message: Any) -> tuple[str, list]:
    """``[op, args]`` from a received message; :class:`RemoteError` for any other shape
    (a client of another version or a garbled stream must not end the server)."""
    if (not isinstance(message, list) or not message or not isinstance(message[0], str)
            or (len(message) > 1 and not isinstance(message[1], list))):
        raise RemoteError(f"malformed request {str(message)[:80]!r}")
    return message[0], message[1] if len(message) > 1 else []


def serve(open_vault: Callable[[], Vault], channel: Channel) -> int:
    """Answer requests on ``channel`` until the client closes it; 0 on a clean end."""
    try:
        server = VaultServer(open_vault())
    except VaultError as exc:
        channel.send(error_reply(exc))
        return 1
    channel.send(["ok", {"protocol": PROTOCOL}])
    handlers: dict[str, Callable[..., Any]] = {
        "hello": server.hello, "missing": server.missing, "get": server.get,
        "get_pack": server.get_pack, "verify_files": server.verify_files,
        "put": server.put, "put_done": server.put_done, "put_pack": server.put_pack,
        "update_refs": server.update_refs,
    }
    try:
        while True:
            try:
                message = channel.recv()
            except ConnectionLost:
                return 0
            try:
                op, args = _parse_request(message)
            except RemoteError as exc:
                channel.send(error_reply(exc))
                continue
            if op == "bye":
                channel.send(["ok", None])
                return 0
            handler = handlers.get(op)
            try:
                if handler is None:
                    raise RemoteError(f"unknown request {op!r}")
                try:
                    inspect.signature(handler).bind(*args)
                    if op == "put":
                        args = [decode_entries(args[0])]
                    result = handler(*args)
                except (TypeError, ValueError) as exc:  # wrong arity or argument types
                    raise RemoteError(f"malformed {op} request: {exc}") from exc
                if op == "get":
                    result = encode_entries(result)
                channel.send(["ok", result])
            except VaultError as exc:
                channel.send(error_reply(exc))
    except ConnectionLost:
        return 0
    finally:
        server.close()
