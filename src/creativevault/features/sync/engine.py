"""Push, fetch and content moves between two vaults: planned first, then applied.

Order is the safety argument (docs/sync.md):

* push: content (chunks, then each file's manifest) -> git objects -> the remote ref,
  moved by the remote only once it holds all the content the new commits refer to;
* fetch: git objects -> content -> the remote-tracking refs.

Each side only ever adds verified entries, published every few MiB, so a transfer killed
at any byte leaves both vaults valid, and the same command run again moves only what is
still missing (the plan is recomputed from what the receiver holds).

Delta chunks travel as stored when the receiver takes deltas and holds the base or gets
it in the same transfer (the base then goes first); otherwise they travel expanded,
which costs less than a base the receiver would not need for anything else.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from creativevault.errors import DiskFullError, UsageError
from creativevault.features.sync.content import (
    ContentRef,
    check_branch_move,
    content_introduced,
)
from creativevault.features.sync.peers import Peer
from creativevault.repo.gitsync import is_branch_ref, read_pack, write_pack
from creativevault.repo.vault import Vault
from creativevault.store.durable import FREE_SPACE_MARGIN
from creativevault.store.manifest import Manifest
from creativevault.store.pack import ENTRY_CHUNK, ENTRY_MANIFEST
from creativevault.store.transfer import (
    Entry,
    Ingest,
    delta_bases,
    expand,
    manifest_of,
    missing_keys,
    read_entries,
)
from creativevault.types import Progress

__all__ = ["BATCH_BYTES", "RefChange", "TransferReport", "fetch", "fetch_content", "push",
           "send_content"]

#: plain bytes of content per message (what one round trip carries)
BATCH_BYTES = 8 * 1024 * 1024
_KEYS_PER_QUERY = 4096


@dataclass
class RefChange:
    """One ref moved (or that would move): ``old`` is None for a new ref."""

    ref: str
    old: str | None
    new: str

    def to_json(self) -> dict:
        return {"ref": self.ref, "old": self.old, "new": self.new}


@dataclass
class TransferReport:
    """What a push or fetch moved (or, with ``dry_run``, would move)."""

    direction: str
    remote: str
    refs: list[RefChange] = field(default_factory=list)
    files: int = 0
    chunks: int = 0
    #: plain bytes of content moved
    bytes: int = 0
    #: files the receiver already had
    skipped_files: int = 0
    #: paths whose content neither side has (a vault cloned without content)
    unavailable: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def up_to_date(self) -> bool:
        return not self.refs and not self.files

    def to_json(self) -> dict:
        return {"direction": self.direction, "remote": self.remote,
                "refs": [r.to_json() for r in self.refs], "files": self.files,
                "chunks": self.chunks, "bytes": self.bytes,
                "skipped_files": self.skipped_files, "unavailable": self.unavailable,
                "up_to_date": self.up_to_date, "dry_run": self.dry_run}


@dataclass
class _FilePlan:
    ref: ContentRef
    manifest: Manifest
    #: chunk keys (and plain lengths) the receiver lacks, first use in this transfer
    chunks: list[tuple[bytes, int]]


def _batched(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _check_space(free: int, needed: int, where: str, *, nothing: str = "nothing was sent"
                 ) -> None:
    if needed and free <= needed + FREE_SPACE_MARGIN:
        raise DiskFullError(f"not enough free space on {where} for this transfer; {nothing}",
                            expected=f">{needed + FREE_SPACE_MARGIN} bytes free",
                            actual=f"{free} bytes free")


def _plan_files(refs: Iterable[ContentRef], manifests: dict[str, Manifest],
                lacking_chunks: set[bytes]) -> list[_FilePlan]:
    plans = []
    planned: set[bytes] = set()
    for ref in refs:
        manifest = manifests[ref.file_id]
        todo = []
        for key, length in manifest.chunks:
            if key in lacking_chunks and key not in planned:
                planned.add(key)
                todo.append((key, length))
        plans.append(_FilePlan(ref, manifest, todo))
    return plans


def _plain_bytes(plans: list[_FilePlan]) -> int:
    return sum(length for p in plans for _k, length in p.chunks)


def _begin(report: TransferReport, plans: list[_FilePlan], dry_run: bool,
           progress: Progress) -> bool:
    """Count the plan into the report; start the progress bar when there is work to do."""
    total = _plain_bytes(plans)
    report.files += len(plans)
    report.chunks += sum(len(p.chunks) for p in plans)
    report.bytes += total
    if dry_run or not plans:
        return False
    progress.start(f"{report.direction} {report.remote}", total, "B")
    progress.expect_items(len(plans))
    return True


# -- content: this vault -> peer ---------------------------------------------------------

class _Sending:
    """The chunk entries of a send, in plan order, each delta's base before it: a delta
    goes as stored when the peer takes deltas and holds its base or gets it in this
    transfer, else expanded."""

    def __init__(self, vault: Vault, peer: Peer, plans: list[_FilePlan], deltas: bool) -> None:
        self.store = vault.store
        self.deltas = deltas
        self.planned = {k for p in plans for k, _ in p.chunks}
        self.bases = delta_bases(self.store, self.planned) if deltas else {}
        outside = sorted({b for b in self.bases.values() if b not in self.planned})
        self.lacking: set[bytes] = set()  # bases outside the transfer the peer lacks
        for batch in _batched(outside, _KEYS_PER_QUERY):
            self.lacking.update(peer.missing(ENTRY_CHUNK, batch))
        self.sent: set[bytes] = set()

    def entries(self, plan: _FilePlan) -> Iterator[Entry]:
        for key, _length in plan.chunks:
            if key in self.sent:
                continue  # a base sent early, before its delta
            self.sent.add(key)
            base = self.bases.get(key)
            if base is not None and base in self.lacking:
                yield expand(self.store, key)
                continue
            if base is not None and base in self.planned and base not in self.sent:
                self.sent.add(base)
                yield from read_entries(self.store, ENTRY_CHUNK, [base])
            yield from read_entries(self.store, ENTRY_CHUNK, [key], deltas=self.deltas)


def send_content(vault: Vault, peer: Peer, refs: dict[str, ContentRef], report: TransferReport,
                 *, free: int, deltas: bool = False, dry_run: bool = False,
                 progress: Progress | None = None) -> None:
    """Send the stored files of ``refs`` the peer lacks (chunks before each manifest).

    ``deltas``: the peer takes delta entries (its ``hello`` said so); otherwise every
    delta is sent expanded.
    """
    progress = progress or Progress()
    store = vault.store
    here = [r for fid, r in refs.items() if store.has_file(fid)]
    report.unavailable.extend(sorted(r.path for fid, r in refs.items()
                                     if not store.has_file(fid)))
    lacking: set[str] = set()
    for batch in _batched([r.file_id for r in here], _KEYS_PER_QUERY):
        lacking.update(k.hex() for k in peer.missing(ENTRY_MANIFEST,
                                                     [bytes.fromhex(f) for f in batch]))
    todo = [r for r in here if r.file_id in lacking]
    report.skipped_files += len(here) - len(todo)
    manifests = {r.file_id: store.read_manifest(r.file_id) for r in todo}
    keys = list(dict.fromkeys(k for r in todo for k, _ in manifests[r.file_id].chunks))
    lacking_chunks: set[bytes] = set()
    for batch in _batched(keys, _KEYS_PER_QUERY):
        lacking_chunks.update(peer.missing(ENTRY_CHUNK, batch))
    plans = _plan_files(todo, manifests, lacking_chunks)
    _check_space(free, _plain_bytes(plans), peer.name)
    if not _begin(report, plans, dry_run, progress):
        return
    sending = _Sending(vault, peer, plans, deltas)
    outgoing: list[Entry] = []
    size = 0
    try:
        for plan in plans:
            progress.item(plan.ref.path)
            for entry in sending.entries(plan):
                outgoing.append(entry)
                size += entry.plain_len
                if size >= BATCH_BYTES:
                    peer.put(outgoing)
                    progress.advance(size)
                    outgoing, size = [], 0
            outgoing.extend(read_entries(store, ENTRY_MANIFEST, [bytes.fromhex(plan.ref.file_id)]))
        if outgoing:
            peer.put(outgoing)
            progress.advance(size)
    finally:
        peer.put_done()
    progress.finish()


# -- content: peer -> this vault ---------------------------------------------------------

def _get_chunks(peer: Peer, keys: list[bytes], deltas: bool) -> list[Entry]:
    # the third argument only when deltas are wanted: a peer that never announced them
    # may take two
    return peer.get(ENTRY_CHUNK, keys, True) if deltas else peer.get(ENTRY_CHUNK, keys)


def _receive(ingest: Ingest, peer: Peer, entries: list[Entry], planned: set[bytes],
             deltas: bool) -> int:
    """Verify and add one batch of chunk entries, each delta's base first; return the
    plain bytes of bases fetched ahead of their place in the plan.

    A delta whose base is neither held nor in this batch is preceded by its base when
    the base is planned anyway (fetched now, skipped later), else asked for expanded.
    """
    full = {e.key for e in entries if e.base is None}
    early: list[bytes] = []
    expand_keys: list[bytes] = []
    for entry in entries:
        base = entry.base
        if base is None or base in full or ingest.has_chunk(base):
            continue
        if base in planned:
            early.append(base)
        else:
            expand_keys.append(entry.key)
    ahead = 0
    if early:
        for base_entry in _get_chunks(peer, list(dict.fromkeys(early)), deltas):
            ingest.add(base_entry)
            ahead += base_entry.plain_len
    expanded = ({e.key: e for e in _get_chunks(peer, expand_keys, False)}
                if expand_keys else {})
    for entry in entries:  # full chunks first: a base may follow its delta in the batch
        if entry.base is None:
            ingest.add(entry)
    for entry in entries:
        if entry.base is not None:
            ingest.add(expanded.get(entry.key, entry))
    return ahead


def fetch_content(vault: Vault, peer: Peer, refs: dict[str, ContentRef],
                  report: TransferReport, *, deltas: bool | None = None, dry_run: bool = False,
                  progress: Progress | None = None) -> None:
    """Fetch the stored files of ``refs`` this vault lacks from the peer.

    ``deltas``: the peer sends delta entries (its ``hello`` said so; asked when None).
    """
    progress = progress or Progress()
    store = vault.store
    wanted = [r for fid, r in refs.items() if not store.has_file(fid)]
    report.skipped_files += len(refs) - len(wanted)
    absent: set[str] = set()
    for batch in _batched([r.file_id for r in wanted], _KEYS_PER_QUERY):
        absent.update(k.hex() for k in peer.missing(ENTRY_MANIFEST,
                                                    [bytes.fromhex(f) for f in batch]))
    report.unavailable.extend(sorted(r.path for r in wanted if r.file_id in absent))
    todo = [r for r in wanted if r.file_id not in absent]
    manifest_entries: dict[str, Entry] = {}
    for batch in _batched([bytes.fromhex(r.file_id) for r in todo], 256):
        for entry in peer.get(ENTRY_MANIFEST, batch):
            manifest_entries[entry.key.hex()] = entry
    manifests = {fid: manifest_of(e) for fid, e in manifest_entries.items()}
    keys = list(dict.fromkeys(k for r in todo for k, _ in manifests[r.file_id].chunks))
    plans = _plan_files(todo, manifests, set(missing_keys(store, ENTRY_CHUNK, keys)))
    _check_space(shutil.disk_usage(store.root).free, _plain_bytes(plans), str(vault.root),
                 nothing="no content was received")
    if not _begin(report, plans, dry_run, progress):
        return
    if deltas is None:
        deltas = bool(peer.hello().get("deltas"))
    planned = {k for p in plans for k, _ in p.chunks}
    with Ingest(store, progress=progress) as ingest:
        keys_batch: list[bytes] = []
        size = 0

        def flush() -> None:
            nonlocal size
            if keys_batch:
                ahead = _receive(ingest, peer, _get_chunks(peer, keys_batch, deltas),
                                 planned, deltas)
                progress.advance(size + ahead)
            keys_batch.clear()
            size = 0

        for plan in plans:
            progress.item(plan.ref.path)
            for key, length in plan.chunks:
                if ingest.has_chunk(key):
                    continue  # a base fetched ahead of its place, before its delta
                keys_batch.append(key)
                size += length
                if size >= BATCH_BYTES:
                    flush()
            flush()  # the file's chunks are in before its manifest
            ingest.add(manifest_entries[plan.ref.file_id])
    progress.finish()


# -- push and fetch ----------------------------------------------------------------------

def push(vault: Vault, peer: Peer, updates: list[tuple[str, str]], *, remote_name: str | None,
         force: bool = False, dry_run: bool = False, who: str = "a vault",
         progress: Progress | None = None) -> TransferReport:
    """Send local refs to the peer: ``updates`` is ``[(local rev, remote branch)]``."""
    progress = progress or Progress()
    info = peer.hello()
    label = remote_name or peer.name
    report = TransferReport("push", label, dry_run=dry_run)
    remote_refs: dict[str, str] = info["refs"]
    moves: list[RefChange] = []
    for rev, branch in updates:
        new = vault.resolve(rev)
        ref = f"refs/heads/{branch}"
        if not is_branch_ref(ref):
            raise UsageError(f"'{branch}' is not a valid branch name; nothing was sent")
        old = remote_refs.get(ref)
        if old != new:
            moves.append(RefChange(ref, old, new))
    head = info.get("head")
    # a remote from before worktrees were counted names only its HEAD's branch
    checked_out = set(info.get("checked_out") or ([head] if head else []))
    git = vault.git
    for move in moves:  # what the remote would refuse after receiving everything
        check_branch_move(git, move.ref, move.old, move.new, checked_out=checked_out,
                          force=force, where=label, tail="; nothing was sent")
    report.refs = moves
    if not moves:
        return report
    _commits, refs = content_introduced(git, [m.new for m in moves], remote_refs.values())
    send_content(vault, peer, refs, report, free=int(info.get("free", 0)),
                 deltas=bool(info.get("deltas")), dry_run=dry_run, progress=progress)
    if dry_run:
        return report
    import io

    buf = io.BytesIO()
    write_pack(git, [m.new for m in moves], list(remote_refs.values()), buf)
    peer.put_pack(buf.getvalue())
    unavailable_ids = [fid for fid, r in refs.items() if not vault.store.has_file(fid)]
    peer.update_refs([(m.ref, m.old, m.new) for m in moves], force, unavailable_ids, who)
    if remote_name:
        for move in moves:
            branch = move.ref[len("refs/heads/"):]
            git.set_ref(f"refs/remotes/{remote_name}/{branch}", move.new,
                        f"push: to {remote_name}")
    return report


def fetch(vault: Vault, peer: Peer, *, remote_name: str | None, branches: list[str] | None = None,
          content: bool = True, dry_run: bool = False,
          progress: Progress | None = None) -> TransferReport:
    """Bring the peer's branches (all, or ``branches``): git objects, then content, then
    the tracking refs ``refs/remotes/<remote>/<branch>`` (``refs/cvault/fetched/<branch>``
    for an address with no remote name)."""
    progress = progress or Progress()
    info = peer.hello()
    label = remote_name or peer.name
    report = TransferReport("fetch", label, dry_run=dry_run)
    remote_refs: dict[str, str] = info["refs"]
    if branches is not None:
        wanted_refs = {}
        for branch in branches:
            ref = f"refs/heads/{branch}"
            if ref not in remote_refs:
                raise UsageError(f"{label} has no branch {branch}")
            wanted_refs[ref] = remote_refs[ref]
    else:
        wanted_refs = dict(remote_refs)
    prefix = f"refs/remotes/{remote_name}/" if remote_name else "refs/cvault/fetched/"
    git = vault.git
    moves = []
    for ref, new in sorted(wanted_refs.items()):
        local = prefix + ref[len("refs/heads/"):]
        old = git.ref(local)
        if old != new:
            moves.append(RefChange(local, old, new))
    report.refs = moves
    if not moves:
        return report
    known = list(git.all_ref_targets().values())
    wants = [m.new for m in moves if not git.has_object(m.new)]
    if wants and not dry_run:
        data = peer.get_pack(wants, known)
        if data:
            import io

            read_pack(git, io.BytesIO(data).read, source=label)
    if content:
        if dry_run and wants:
            report.files = -1  # unknown until the commits are here
        else:
            _commits, refs = content_introduced(git, [m.new for m in moves], known)
            fetch_content(vault, peer, refs, report, deltas=bool(info.get("deltas")),
                          dry_run=dry_run, progress=progress)
    if dry_run:
        return report
    for move in moves:
        git.update_ref(move.ref, move.new, move.old, f"fetch: from {label}")
    return report
