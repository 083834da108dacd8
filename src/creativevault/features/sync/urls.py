"""Remote addresses: a local path (external drive, NAS mount) or SSH, as git spells them.

``/media/drive/vault``, ``D:\\vault``, ``file:///media/drive/vault``, ``../studio``,
``ssh://[user@]host[:port]/path`` and scp-like ``[user@]host:path`` are accepted. As in
git, the scp-like form applies only when no slash comes before the first colon, and a
single letter before the colon is a Windows drive, not a host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from creativevault.errors import UsageError

__all__ = ["RemoteUrl", "parse_url"]

_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^@/:\[\]]+):(?P<path>.*)$")


@dataclass(frozen=True)
class RemoteUrl:
    """A parsed remote address. ``kind`` is ``"local"`` or ``"ssh"``."""

    kind: str
    path: str
    host: str | None = None
    user: str | None = None
    port: int | None = None
    #: the address as the user wrote it
    text: str = ""

    @property
    def local_path(self) -> Path:
        """The folder of a local remote."""
        return Path(self.path)

    @property
    def ssh_target(self) -> str:
        """``user@host`` (or ``host``) for the ssh command line."""
        assert self.host is not None
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        return self.text or self.path


def parse_url(text: str, *, base: Path | None = None) -> RemoteUrl:
    """Parse a remote address; relative local paths are made absolute against ``base``."""
    if not text or not text.strip():
        raise UsageError("empty remote address")
    if text.startswith("ssh://") or text.startswith("ssh+git://"):
        parts = urlsplit(text)
        if not parts.hostname or not parts.path or parts.path == "/":
            raise UsageError(f"an ssh address needs a host and a path: {text}")
        try:
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"bad port in {text}") from exc
        path = unquote(parts.path)
        if path.startswith("/~"):  # ssh://host/~/vault means a path under the home folder
            path = path[1:]
        return RemoteUrl("ssh", path, host=parts.hostname, user=parts.username, port=port,
                         text=text)
    if text.startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            # file://media/drive would silently mean /drive: 'media' parses as a host
            raise UsageError(f"a file address names no host; write file:///"
                             f"{parts.netloc}{parts.path} (three slashes): {text}")
        return RemoteUrl("local", str(Path(unquote(parts.path))), text=text)
    if "://" in text:
        raise UsageError(f"unsupported remote address (use a path or ssh://): {text}")
    match = _SCP.match(text)
    if match and len(match.group("host")) > 1 and "/" not in text.split(":", 1)[0]:
        if not match.group("path"):
            raise UsageError(f"an ssh address needs a path after the colon: {text}")
        host = match.group("host").strip("[]")
        return RemoteUrl("ssh", match.group("path"), host=host, user=match.group("user"),
                         text=text)
    folder = Path(text).expanduser()
    if not folder.is_absolute():
        folder = (base or Path.cwd()) / folder
    return RemoteUrl("local", str(folder.absolute()), text=text)
