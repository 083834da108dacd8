"""What users run: clone, pull, sync, get and drop, built on push/fetch (docs/sync.md).

Branch model: a clone checks out ``field/<name>`` starting at the source's ``main``;
``push`` sends the current branch to the same name on ``origin`` (never the branch checked
out there); ``pull`` fetches ``origin``'s ``main`` and merges it into the current branch,
keeping both versions of a file changed on both sides; ``sync`` commits pending changes,
pulls, then pushes.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from creativevault.errors import (
    NotEnoughCopiesError,
    PathNotFoundError,
    RemoteError,
    UsageError,
    WorktreeError,
)
from creativevault.features.sync.content import content_of, paths_by_content
from creativevault.features.sync.engine import TransferReport, fetch, fetch_content, push
from creativevault.features.sync.peers import Peer, PeerOptions, open_peer
from creativevault.features.sync.remotes import (
    Remote,
    add_remote,
    list_remotes,
    resolve_remote,
)
from creativevault.features.sync.urls import parse_url
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.repo.vault import Vault
from creativevault.repo.worktree_temp import temp_prefix
from creativevault.store import ChunkerParams
from creativevault.store.durable import write_atomic
from creativevault.types import Progress

__all__ = ["CloneReport", "DropReport", "GetReport", "PullReport", "SyncReport", "clone",
           "connect", "drop", "get", "pull", "push_branch", "sync"]

DEFAULT_NUMCOPIES = 1


def _who() -> str:
    return socket.gethostname() or "a vault"


@contextlib.contextmanager
def connect(remote: Remote, options: PeerOptions) -> Iterator[Peer]:
    """An open peer for ``remote`` (closed on exit)."""
    if remote.cvault:
        options = PeerOptions(ssh_command=options.ssh_command, remote_cvault=remote.cvault,
                              open_vault=options.open_vault)
    peer = open_peer(remote.url, options)
    try:
        yield peer
    finally:
        peer.close()


# -- push / pull / sync ------------------------------------------------------------------

def _push_refs(vault: Vault, branch: str | None) -> tuple[str, str]:
    if branch is None:
        current = vault.git.head_branch()
        if current is None:
            raise UsageError("HEAD is detached; name the branch to push")
        return current, current
    src, _, dst = branch.partition(":")
    return src, dst or src


def push_branch(vault: Vault, remote_spec: str | None, branch: str | None, *,
                options: PeerOptions, force: bool = False, dry_run: bool = False,
                progress: Progress | None = None, peer: Peer | None = None
                ) -> TransferReport:
    """Push ``branch`` (default: the current one; ``SRC:DST`` renames) to the remote."""
    remote = resolve_remote(vault.git, remote_spec)
    src, dst = _push_refs(vault, branch)
    if vault.git.head_commit() is None:
        raise UsageError("nothing to push: no commit yet")
    with _maybe_connect(remote, options, peer) as open_peer_:
        return push(vault, open_peer_, [(src, dst)], remote_name=remote.name, force=force,
                    dry_run=dry_run, who=f"{_who()}:{vault.root}", progress=progress)


@contextlib.contextmanager
def _maybe_connect(remote: Remote, options: PeerOptions, peer: Peer | None
                   ) -> Iterator[Peer]:
    if peer is not None:
        yield peer
    else:
        with connect(remote, options) as fresh:
            yield fresh


@dataclass
class PullReport:
    fetch: TransferReport
    merge: object | None = None  # repo.vault.MergeReport

    def to_json(self) -> dict:
        merge = self.merge.to_json() if self.merge is not None else None  # type: ignore[attr-defined]
        return {"fetch": self.fetch.to_json(), "merge": merge}


def _partial(vault: Vault) -> bool:
    return vault.git.config_get("cvault", "partial") == "true"


def pull(vault: Vault, remote_spec: str | None, branch: str | None = None, *,
         options: PeerOptions, progress: Progress | None = None,
         peer: Peer | None = None) -> PullReport:
    """Fetch the remote's ``branch`` (default ``main``) and merge it into the current branch."""
    remote = resolve_remote(vault.git, remote_spec)
    branch = branch or "main"
    if vault.git.head_branch() is None:
        raise UsageError("HEAD is detached; check out a branch to pull into")
    with _maybe_connect(remote, options, peer) as open_peer_:
        report = fetch(vault, open_peer_, remote_name=remote.name, branches=[branch],
                       content=not _partial(vault), progress=progress)
    if remote.name:
        tracking, name, message = f"{remote.name}/{branch}", None, None
    else:  # an address: the commit names the branch and where it came from, not our ref
        tracking, name = f"refs/cvault/fetched/{branch}", branch
        message = f"Merge {branch} from {remote.url} into {vault.git.head_branch()}"
    merged = vault.merge(tracking, message=message, name=name, progress=progress)
    return PullReport(report, merged)


@dataclass
class SyncReport:
    committed: str | None
    pull: PullReport | None
    push: TransferReport | None

    def to_json(self) -> dict:
        return {"committed": self.committed,
                "pull": self.pull.to_json() if self.pull else None,
                "push": self.push.to_json() if self.push else None}


def sync(vault: Vault, remote_spec: str | None = None, *, options: PeerOptions,
         message: str | None = None, progress: Progress | None = None) -> SyncReport:
    """Commit pending changes (new files included), pull the remote's main (when it has
    one), then push the current branch to the same name; one connection for all."""
    committed = None
    status = vault.status()
    if not status.clean:
        vault.add([vault.root], progress=progress)
        if vault.status().staged:
            stamp = time.strftime("%Y-%m-%d %H:%M")
            committed = vault.commit(message or f"cvault sync from {_who()} at {stamp}").id
    remote = resolve_remote(vault.git, remote_spec)
    spec = remote.name or str(remote.url)
    pulled = pushed = None
    with connect(remote, options) as peer:
        if "refs/heads/main" in peer.hello()["refs"] and vault.git.head_branch() is not None:
            pulled = pull(vault, spec, "main", options=options, progress=progress, peer=peer)
        if vault.git.head_branch() is not None and vault.git.head_commit() is not None:
            pushed = push_branch(vault, spec, None, options=options, progress=progress,
                                 peer=peer)
    return SyncReport(committed, pulled, pushed)


# -- clone -------------------------------------------------------------------------------

@dataclass
class CloneReport:
    path: str
    branch: str
    start: str | None
    fetch: TransferReport
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "branch": self.branch, "start": self.start,
                "fetch": self.fetch.to_json(), "missing": self.missing}


def clone(source: str, dest: Path, *, name: str | None = None, content: bool = True,
          options: PeerOptions, progress: Progress | None = None) -> CloneReport:
    """Clone the vault at ``source`` into ``dest``, checked out on ``field/<name>``.

    A clone that was interrupted is resumed by running the same command again.
    """
    dest = Path(dest).absolute()
    url = parse_url(source)
    resuming = False
    if dest.exists() and any(dest.iterdir()):
        try:
            existing = Vault.open(dest)
        except Exception as exc:  # noqa: BLE001 - any reason it is not our half clone
            raise UsageError("destination exists and is not empty", path=dest) from exc
        try:
            resuming = existing.git.config_get("cvault", "cloning") == "true"
        finally:
            existing.close()
        if not resuming:
            raise UsageError("destination exists and is not empty", path=dest)
    name = name or dest.name
    branch = f"field/{name}"
    peer = open_peer(url, options)
    try:
        info = peer.hello()
        chunker = ChunkerParams.from_json(info.get("chunker") or {})
        vault = Vault.open(dest) if resuming else Vault.init(dest, chunker=chunker)
        try:
            git = vault.git
            if not resuming:
                git.config_set("cvault", "cloning", "true")
                add_remote(git, "origin", url.text if url.kind == "ssh" else url.path)
                if not content:
                    git.config_set("cvault", "partial", "true")
            report = fetch(vault, peer, remote_name="origin", content=content,
                           progress=progress)
            refs: dict[str, str] = info["refs"]
            start_branch = "main" if "refs/heads/main" in refs else (
                info.get("head") if f"refs/heads/{info.get('head')}" in refs else
                (sorted(refs)[0][len("refs/heads/"):] if refs else None))
            missing: list[str] = []
            if start_branch is not None:
                start = f"origin/{start_branch}"
                if branch not in git.branches():
                    vault.branch(branch, start=start)
                checkout = vault.checkout(branch, missing="pointer", progress=progress)
                missing = checkout.missing
            else:  # an empty source: start the field branch with the first commit
                git.set_head_branch(branch)
            git.config_set("cvault", "cloning", "false")
            return CloneReport(str(dest), branch, start_branch, report, missing)
        finally:
            vault.close()
    finally:
        peer.close()


# -- partial content: get / drop ---------------------------------------------------------

def _head_entries(vault: Vault, paths: Sequence[str | Path]) -> dict[str, FlatEntry]:
    tree = vault.git.commit_tree_flat(vault.git.head_commit())
    out: dict[str, FlatEntry] = {}
    for raw in paths:
        rel = vault._repo_path(raw)
        if rel in ("", "."):
            hits = dict(tree)
        else:
            hits = {p: e for p, e in tree.items() if p == rel or p.startswith(rel + "/")}
        if not hits:
            raise PathNotFoundError("not a committed file or folder", path=str(raw))
        out.update(hits)
    return out


@dataclass
class GetReport:
    fetched: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    transfers: list[TransferReport] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"fetched": self.fetched, "already": self.already,
                "unavailable": self.unavailable,
                "transfers": [t.to_json() for t in self.transfers]}


def _remotes_for(vault: Vault, names: Sequence[str] | None) -> list[Remote]:
    if names:
        return [resolve_remote(vault.git, n) for n in names]
    remotes = list_remotes(vault.git)
    remotes.sort(key=lambda r: r.name != "origin")
    if not remotes:
        raise UsageError("no remotes configured; 'cvault remote add NAME PATH' adds one")
    return remotes


def get(vault: Vault, paths: Sequence[str | Path], *, remotes: Sequence[str] | None = None,
        options: PeerOptions, progress: Progress | None = None) -> GetReport:
    """Fetch the content of committed files from remotes and write the working files."""
    entries = _head_entries(vault, paths)
    refs = content_of(vault.git, entries)
    report = GetReport()
    by_id = paths_by_content(vault.git, entries)
    wanted = {fid: r for fid, r in refs.items() if not vault.store.has_file(fid)}
    asked = set(wanted)
    report.already = sorted(p for fid, ps in by_id.items() if fid not in wanted for p in ps)
    errors: list[str] = []
    for remote in _remotes_for(vault, remotes) if wanted else []:
        try:
            with connect(remote, options) as peer:
                transfer = TransferReport("get", remote.label)
                fetch_content(vault, peer, wanted, transfer, progress=progress)
                report.transfers.append(transfer)
        except RemoteError as exc:
            errors.append(f"{remote.label}: {exc.message}")
            continue
        wanted = {fid: r for fid, r in wanted.items() if not vault.store.has_file(fid)}
        if not wanted:
            break
    written = set(vault.materialize_pointers())
    # fetched: content that arrived (a working file kept by 'drop --keep-file' needs no
    # rewrite) and pointer files written from content that was already here
    report.fetched = sorted(p for fid, ps in by_id.items() for p in ps
                            if fid in refs and fid not in wanted
                            and (fid in asked or p in written))
    report.unavailable = sorted(p for fid in wanted for p in by_id.get(fid, []))
    if report.unavailable and errors:
        progress = progress or Progress()
        for line in errors:
            progress.warn(line)
    return report


@dataclass
class DropReport:
    dropped: list[str] = field(default_factory=list)
    #: file id -> remotes holding a verified copy
    copies: dict[str, list[str]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_files: bool = False
    dry_run: bool = False

    def to_json(self) -> dict:
        return {"dropped": self.dropped, "copies": self.copies,
                "unreachable": self.unreachable, "freed_bytes": self.freed_bytes,
                "kept_files": self.kept_files, "dry_run": self.dry_run}


def numcopies(vault: Vault) -> int:
    """The configured minimum of verified copies elsewhere (``cvault.numcopies``)."""
    value = vault.git.config_get("cvault", "numcopies")
    try:
        return max(1, int(value)) if value is not None else DEFAULT_NUMCOPIES
    except ValueError as exc:
        raise UsageError(f"cvault.numcopies must be a whole number, not {value!r}") from exc


def drop(vault: Vault, paths: Sequence[str | Path], *, options: PeerOptions,
         remotes: Sequence[str] | None = None, copies_needed: int | None = None,
         keep_file: bool = False, dry_run: bool = False,
         progress: Progress | None = None) -> DropReport:
    """Remove local content of committed files once enough verified copies exist elsewhere.

    Every remote is asked to re-read and re-hash each file; content is dropped only when
    at least ``copies_needed`` (default ``cvault.numcopies``, 1) remotes hold it intact.
    The working files become pointer text unless ``keep_file``; the space is reclaimed by a
    crash-safe repack of the affected packs.
    """
    progress = progress or Progress()
    need = copies_needed if copies_needed is not None else numcopies(vault)
    if need < 1:
        raise UsageError("drop needs at least one copy elsewhere; the last copy is never "
                         "dropped")
    entries = _head_entries(vault, paths)
    refs = content_of(vault.git, entries)
    # the same content under other committed paths goes with it (they become pointers too)
    tree = vault.git.commit_tree_flat(vault.git.head_commit())
    users = {fid: ps for fid, ps in paths_by_content(vault.git, tree).items() if fid in refs}
    status = vault.status()
    modified = {c.path for c in [*status.staged, *status.unstaged]}
    if not keep_file:
        for fid in refs:
            busy = [p for p in users.get(fid, []) if p in modified]
            if busy:
                raise WorktreeError("has uncommitted changes; commit them before dropping "
                                    "its content (nothing was dropped)", path=busy[0])
    report = DropReport(kept_files=keep_file, dry_run=dry_run)
    present = {fid: r for fid, r in refs.items() if vault.store.has_file(fid)}
    if present and not remotes and not list_remotes(vault.git):
        raise NotEnoughCopiesError(
            f"no remotes configured, so no copy elsewhere of {len(present)} files (first: "
            f"{next(iter(present.values())).path}); nothing was dropped")
    report.copies = {fid: [] for fid in present}
    for remote in _remotes_for(vault, remotes) if present else []:
        try:
            with connect(remote, options) as peer:
                verdict = peer.verify_files(sorted(present))
        except RemoteError as exc:
            report.unreachable.append(f"{remote.label} ({exc.message})")
            continue
        for fid, problem in verdict.items():
            if problem is None and fid in report.copies:
                report.copies[fid].append(remote.label)
    short = [fid for fid, holders in report.copies.items() if len(holders) < need]
    if short:
        first = present[short[0]].path
        where = f"; unreachable: {', '.join(report.unreachable)}" if report.unreachable else ""
        raise NotEnoughCopiesError(
            f"{len(short)} files have fewer than {need} verified copies elsewhere (first: "
            f"{first}, {len(report.copies[short[0]])} found){where}; nothing was dropped")
    report.dropped = sorted(p for fid in refs for p in users.get(fid, [refs[fid].path]))
    if dry_run:
        return report
    if not keep_file:
        written = []
        for fid in refs:
            for path in users.get(fid, [refs[fid].path]):
                _write_pointer(vault, path, tree[path])
                written.append(path)
        _restat_index(vault, written)
    result = vault.store.drop_files(sorted(present), progress=progress)
    report.freed_bytes = result.freed_bytes
    return report


def _restat_index(vault: Vault, paths: Sequence[str]) -> None:
    """Give git's index the stat data of files now holding their pointer text (same
    blobs): with the content's size still recorded, git calls them modified without
    looking, and 'cvault get' takes them for content rather than pointers."""
    if not paths:
        return
    index = vault.git.read_index()
    for path in paths:
        entry = index.get(path)
        if entry is not None:
            index[path] = GitRepo.index_entry((vault.root / path).stat(), entry.sha.decode(),
                                              entry.mode)
    vault.git.write_index(index)


def _write_pointer(vault: Vault, path: str, entry: FlatEntry) -> None:
    """Replace a working file by its committed pointer text (atomically)."""
    disk = vault.root / path
    data = vault.git.read_blob(entry.blob_id)
    if disk.exists():
        st = disk.stat()
        write_atomic(disk, data, temp_prefix=temp_prefix())
        import os

        os.utime(disk, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:
        disk.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(disk, data, temp_prefix=temp_prefix())
