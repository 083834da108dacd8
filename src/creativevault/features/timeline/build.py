"""Build file and project timelines from the history walk and the derived-data catalog."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from creativevault.errors import UsageError, VaultError
from creativevault.features.timeline.entries import (
    Change,
    CommitEntry,
    FileFacts,
    ProjectTimeline,
    Timeline,
    TimelineEntry,
)
from creativevault.features.timeline.thumbnails import (
    THUMB_EDGE,
    Decoded,
    change_between,
    decode_content,
    encode_png,
)
from creativevault.repo.history import BlobContent, file_history, project_history
from creativevault.repo.paths import to_repo_path
from creativevault.store.catalog import Catalog
from creativevault.types import Progress

if TYPE_CHECKING:
    from creativevault.repo.vault import Vault

__all__ = ["CHANGE_KIND", "FACTS_KIND", "THUMB_KIND", "TimelineOptions", "choose_tips",
           "derived_key",
           "file_timeline", "open_catalog", "project_timeline"]

THUMB_KIND = f"thumb:{THUMB_EDGE}"
FACTS_KIND = "facts:v1"
CHANGE_KIND = "change:v1"
#: analysis arrays kept in memory while walking (the previous version is usually last)
_KEEP = 4


@dataclass
class TimelineOptions:
    """What to compute: ``branch`` (default: HEAD's), ``all`` branches, ``since`` (POSIX
    time), ``thumbnails`` (render missing ones) and ``changes`` (change figures)."""

    branch: str | None = None
    all: bool = False
    since: int | None = None
    thumbnails: bool = True
    changes: bool = True


def open_catalog(vault: Vault) -> Catalog:
    """The vault's derived-data catalog (``.git/cvault/catalog.sqlite``)."""
    return Catalog(vault.cvault_dir / "catalog.sqlite")


def choose_tips(vault: Vault, options: TimelineOptions) -> list[tuple[str, str]]:
    """(branch, commit) pairs to walk from, most important first."""
    git = vault.git
    branches = git.branches()
    if options.branch is not None:
        name = options.branch
        if name in branches:
            return [(name, branches[name])]
        return [(name, vault.resolve(name))]
    head = git.head_commit()
    current = git.head_branch()
    tips: list[tuple[str, str]] = []
    if head is not None:
        tips.append((current or "HEAD", head))
    if options.all:
        rest = sorted(branches, key=lambda b: (b != "main", b))
        tips.extend((b, branches[b]) for b in rest if b != current)
    return tips


def derived_key(content: BlobContent, name: str) -> str:
    """The catalog key of a content's facts and thumbnail: its content id plus the file's
    lower-case extension, since decoders choose by extension too (``<id>.png``)."""
    return content.content_id + PurePosixPath(name).suffix.lower()


def _pair_key(v: Any) -> str:
    """The catalog key of a change figure: ``<older key>:<newer key>``."""
    return f"{derived_key(v.previous, v.old_path or v.path)}:{derived_key(v.content, v.path)}"


def _labels(vault: Vault) -> list[tuple[str, str]]:
    """Every branch, main first: names for commits merged in from other branches."""
    branches = vault.git.branches()
    return [(b, branches[b]) for b in sorted(branches, key=lambda b: (b != "main", b))]


class _Work:
    """Materialises contents into a scratch folder and decodes them, remembering a few."""

    def __init__(self, vault: Vault, scratch: Path, stats: dict[str, int]) -> None:
        self.vault = vault
        self.scratch = scratch
        self.stats = stats
        self._decoded: OrderedDict[str, Decoded] = OrderedDict()

    def present(self, content: BlobContent) -> bool:
        if content.file_id:
            return self.vault.store.has_file(content.file_id)
        return self.vault.git.has_object(content.blob_id)

    def decode(self, content: BlobContent, name: str) -> Decoded | None:
        key = derived_key(content, name)
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key]
        if not self.present(content):
            return None
        out = self.scratch / f"{len(self._decoded)}-{PurePosixPath(name).name}"
        try:
            with out.open("wb") as fh:
                if content.file_id:
                    self.vault.store.write_file_to(content.file_id, fh)
                else:
                    fh.write(self.vault.git.read_blob(content.blob_id))
            decoded = decode_content(out, name)
        except VaultError:
            return None
        finally:
            with contextlib.suppress(OSError):
                out.unlink()
        self.stats["decodes"] += 1
        self._decoded[key] = decoded
        while len(self._decoded) > _KEEP:
            self._decoded.popitem(last=False)
        return decoded


@contextlib.contextmanager
def _scratch(vault: Vault) -> Iterator[Path]:
    base = vault.cvault_dir / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timeline-", dir=base) as tmp:
        yield Path(tmp)


def file_timeline(vault: Vault, path: str | Path, options: TimelineOptions | None = None,
                  *, catalog: Catalog | None = None,
                  progress: Progress | None = None) -> Timeline:
    """Every version of ``path`` (a vault-relative or absolute path), oldest first.

    Versions whose content is not in this vault are listed with ``present=False``.
    Thumbnails, facts and change figures come from the catalog when they are there and
    are computed and stored otherwise (``stats`` says how many were made).
    """
    options = options or TimelineOptions()
    progress = progress or Progress()
    rel = to_repo_path(vault.root, path) if Path(path).is_absolute() else \
        str(PurePosixPath(str(path))).strip("/")
    if not rel or rel == ".":
        raise UsageError("a timeline needs a file path", path=str(path))
    tips = choose_tips(vault, options)
    stats = {"thumbs_made": 0, "facts_made": 0, "changes_made": 0, "decodes": 0,
             "cache_hits": 0, "tree_diffs": 0}
    if not tips:
        return Timeline(rel, [], [], stats)
    history = file_history(vault.git, rel, tips, options.since, _labels(vault))
    stats["tree_diffs"] = history.tree_diffs
    own = catalog is None
    cat = catalog or open_catalog(vault)
    try:
        entries = _entries(vault, history.versions, cat, options, stats, progress)
    finally:
        if own:
            cat.close()
    return Timeline(rel, entries, [name for name, _ in tips], stats)


def _entries(vault: Vault, versions: list, cat: Catalog, options: TimelineOptions,
             stats: dict[str, int], progress: Progress) -> list[TimelineEntry]:
    ids = [derived_key(v.content, v.path) for v in versions if v.content is not None]
    pairs = [_pair_key(v) for v in versions
             if v.content is not None and v.previous is not None]
    facts = {k: FileFacts.from_cache(json.loads(val))
             for k, val in cat.get_many(FACTS_KIND, ids).items()}
    thumbs = cat.has_many(THUMB_KIND, ids)
    changes = {k: Change(**json.loads(val))
               for k, val in cat.get_many(CHANGE_KIND, pairs).items()}
    stats["cache_hits"] = len(facts) + len(thumbs) + len(changes)
    entries: list[TimelineEntry] = []
    progress.start("timeline", len(versions), unit="versions")
    with _scratch(vault) as scratch:
        work = _Work(vault, scratch, stats)
        for v in versions:
            c = v.commit
            content: BlobContent | None = v.content
            entry = TimelineEntry(
                commit=c.id, author=c.author, time=c.author_time, tz=c.author_tz,
                message=c.message, branch=v.branch, path=v.path, kind=v.kind,
                old_path=v.old_path, content_id=content.content_id if content else None,
                size=content.size if content else None,
                present=work.present(content) if content else False, parents=c.parents)
            if content is not None and entry.present:
                cid = derived_key(content, v.path)
                need_thumb = options.thumbnails and cid not in thumbs
                if cid not in facts or need_thumb:
                    decoded = work.decode(content, v.path)
                    if decoded is not None:
                        if cid not in facts:
                            facts[cid] = decoded.facts
                            cat.put(FACTS_KIND, cid,
                                    json.dumps(decoded.facts.to_cache()).encode())
                            stats["facts_made"] += 1
                        if cid not in thumbs:
                            cat.put(THUMB_KIND, cid, encode_png(decoded.thumb))
                            thumbs.add(cid)
                            stats["thumbs_made"] += 1
                entry.facts = facts.get(cid)
                entry.thumbnail = cid if cid in thumbs else None
            if options.changes and content is not None and v.previous is not None:
                entry.change = _change(work, cat, v, facts, changes, stats)
            entries.append(entry)
            progress.advance(1)
    progress.finish()
    return entries


def _change(work: _Work, cat: Catalog, v: Any, facts: dict[str, FileFacts],
            changes: dict[str, Change], stats: dict[str, int]) -> Change | None:
    prev, cur = v.previous, v.content
    key = _pair_key(v)
    if key in changes:
        return changes[key]
    name_a = v.old_path or v.path
    if derived_key(prev, name_a) == derived_key(cur, v.path):
        return Change("none", 0.0, size_delta=0)
    if not (work.present(prev) and work.present(cur)):
        return None  # not cached: a missing side cannot be measured now
    da, db = work.decode(prev, name_a), work.decode(cur, v.path)
    result = change_between(da.facts if da else facts.get(derived_key(prev, name_a)),
                            db.facts if db else facts.get(derived_key(cur, v.path)),
                            da.analysis if da else None, db.analysis if db else None,
                            prev.size, cur.size)
    cat.put(CHANGE_KIND, key, json.dumps(result.to_json()).encode())
    changes[key] = result
    stats["changes_made"] += 1
    return result


def project_timeline(vault: Vault, options: TimelineOptions | None = None,
                     paths: list[str] | None = None) -> ProjectTimeline:
    """Every commit, oldest first, with the files it changed (``paths`` limits them)."""
    options = options or TimelineOptions()
    tips = choose_tips(vault, options)
    if not tips:
        return ProjectTimeline([], [])
    rels = [to_repo_path(vault.root, p) if Path(p).is_absolute() else p for p in paths] \
        if paths else None
    commits = []
    for cc in project_history(vault.git, tips, options.since, rels, _labels(vault)):
        c = cc.commit
        changes = [{"path": ch.path, "kind": ch.kind, "old_path": ch.old_path,
                    "content_id": ch.content.content_id if ch.content else None,
                    "size": ch.content.size if ch.content else None}
                   for ch in cc.changes]
        commits.append(CommitEntry(c.id, c.author, c.author_time, c.author_tz, c.message,
                                   cc.branch, c.parents, changes))
    return ProjectTimeline(commits, [name for name, _ in tips])

