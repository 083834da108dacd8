"""The store's write lock: one lock file per write operation (docs/formats/lock.md).

Held only for the life of one write operation (a :class:`StoreWriter` session or a gc),
never for a process's life. The file is created with ``O_CREAT | O_EXCL`` and holds
``{"pid", "host", "created"}``. A lock whose owner is gone (same host, process not
alive) or that has not been refreshed for :data:`STALE_AFTER` seconds is broken.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from types import TracebackType

from creativevault.errors import LockedError

__all__ = ["DEFAULT_TIMEOUT", "STALE_AFTER", "StoreLock", "pid_alive"]

DEFAULT_TIMEOUT = 30.0
#: a lock not refreshed (mtime) for this long is considered abandoned
STALE_AFTER = 6 * 3600.0
_POLL = 0.05


def _hostname() -> str:
    import socket  # only lock takers need it; opening a store for reading does not

    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Best-effort check that a process with this id exists on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


class StoreLock:
    """Context manager for the store lock file at ``path``."""

    def __init__(self, path: Path, *, timeout: float = DEFAULT_TIMEOUT,
                 stale_after: float = STALE_AFTER) -> None:
        self.path = path
        self.timeout = timeout
        self.stale_after = stale_after
        self._held = False
        self._content = b""

    @property
    def held(self) -> bool:
        """True while this object owns the lock file."""
        return self._held

    def acquire(self) -> None:
        """Take the lock, breaking a stale one; :class:`LockedError` after ``timeout``."""
        deadline = time.monotonic() + self.timeout
        self._content = json.dumps({
            "pid": os.getpid(), "host": _hostname(), "created": time.time(),
            "token": secrets.token_hex(8),
        }).encode()
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._break_if_stale():
                    continue
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"the store is locked by another cvault process ({self.describe_owner()});"
                        " retry when it has finished", path=self.path) from None
                time.sleep(_POLL)
                continue
            try:
                os.write(fd, self._content)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._held = True
            return

    def refresh(self) -> None:
        """Mark the lock as still in use (long operations call this now and then)."""
        if self._held:
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Remove the lock file if this object still owns it."""
        if not self._held:
            return
        self._held = False
        try:
            if self.path.read_bytes() == self._content:
                self.path.unlink()
        except OSError:
            pass

    def _read_owner(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def describe_owner(self) -> str:
        """Human-readable owner of the current lock file."""
        owner = self._read_owner()
        if not owner:
            return "owner unknown"
        return f"pid {owner.get('pid')} on {owner.get('host')}"

    def is_stale(self) -> bool:
        """True when the existing lock file's owner is gone or it has expired."""
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > self.stale_after:
            return True
        owner = self._read_owner()
        if owner is None:
            # Being written right now, or garbage: only age can tell.
            return age > 5.0
        pid = owner.get("pid")
        if owner.get("host") == _hostname() and isinstance(pid, int):
            return not pid_alive(pid)
        return False

    def _break_if_stale(self) -> bool:
        try:
            before = self.path.read_bytes()
        except FileNotFoundError:
            return True
        if not self.is_stale():
            return False
        # Move the stale file aside atomically, then check we moved the one we judged:
        # another process may have broken it and taken a fresh lock meanwhile.
        aside = self.path.with_name(f"{self.path.name}.stale-{secrets.token_hex(6)}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return True
        try:
            if aside.read_bytes() != before:
                try:
                    os.link(aside, self.path)  # put the live lock back unless retaken
                except OSError:
                    pass
        finally:
            aside.unlink(missing_ok=True)
        return True

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
