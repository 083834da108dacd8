"""Named remotes, kept in git's own config so ``git remote -v`` lists them too.

``[remote "origin"] url = …, fetch = +refs/heads/*:refs/remotes/origin/*`` as git writes
it, plus ``cvault = <command>``: the cvault to run on an SSH host (like git's
``remote.<name>.uploadpack``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from creativevault.errors import UsageError
from creativevault.features.sync.urls import RemoteUrl, parse_url
from creativevault.repo.gitrepo import GitRepo

__all__ = ["Remote", "add_remote", "find_remote", "list_remotes", "remove_remote",
           "resolve_remote"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Remote:
    """A configured remote (``name`` is None for an address given on the command line)."""

    name: str | None
    url: RemoteUrl
    cvault: str | None = None

    @property
    def label(self) -> str:
        return self.name or str(self.url)

    def to_json(self) -> dict:
        return {"name": self.name, "url": str(self.url), "kind": self.url.kind,
                "cvault": self.cvault}


def list_remotes(git: GitRepo) -> list[Remote]:
    """Every remote with a url, in config order."""
    out = []
    for name, values in git.config_subsections("remote").items():
        if "url" in values:
            out.append(Remote(name, parse_url(values["url"], base=git.worktree),
                              values.get("cvault")))
    return out


def find_remote(git: GitRepo, name: str) -> Remote | None:
    return next((r for r in list_remotes(git) if r.name == name), None)


def add_remote(git: GitRepo, name: str, url: str, *, cvault: str | None = None) -> Remote:
    """Add a remote; the address is checked (not contacted) and local paths made absolute."""
    if not _NAME.match(name) or name in (".", ".."):
        raise UsageError(f"invalid remote name {name!r} (letters, digits, '.', '_', '-')")
    if find_remote(git, name) is not None:
        raise UsageError(f"remote {name} already exists")
    parsed = parse_url(url, base=Path.cwd())
    stored = parsed.text if parsed.kind == "ssh" else parsed.path
    git.config_set_sub("remote", name, {
        "url": stored, "fetch": f"+refs/heads/*:refs/remotes/{name}/*",
        **({"cvault": cvault} if cvault else {})})
    return Remote(name, parse_url(stored), cvault)


def remove_remote(git: GitRepo, name: str) -> None:
    """Forget a remote and its tracking refs (the content it sent stays)."""
    if not git.config_remove_sub("remote", name):
        raise UsageError(f"no such remote: {name}")
    prefix = f"refs/remotes/{name}/"
    for ref in list(git.all_ref_targets()):
        if ref.startswith(prefix):
            git.delete_ref(ref)


def resolve_remote(git: GitRepo, spec: str | None) -> Remote:
    """A remote by name, or an address used as is; ``None`` means ``origin``."""
    name = spec or "origin"
    remote = find_remote(git, name)
    if remote is not None:
        return remote
    if spec is None:
        raise UsageError("no remote named origin; give a remote or an address "
                         "('cvault remote add origin PATH' sets one)")
    if _NAME.match(spec) and not Path(spec).exists():
        raise UsageError(f"no remote named {spec} and no vault at that path")
    return Remote(None, parse_url(spec, base=Path.cwd()))
