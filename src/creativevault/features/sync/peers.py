"""Peers: the other vault of a transfer, reached on a drive path or over SSH.

A plug-in point in four parts: the :class:`Peer` protocol, the :data:`PEER_KINDS`
registry (by address kind), :class:`LocalPeer` (in-process, also what tests use as the
in-memory implementation) and :class:`StreamPeer` (the wire protocol, which
:class:`SshPeer` runs over ``ssh HOST cvault serve PATH``); one conformance suite in
``tests/unit/sync/test_peer_conformance.py`` runs against every kind.

Over SSH the far side runs cvault itself rather than SFTP: it checks every entry on
arrival, answers "which of these do you lack" from its own index in one round trip per
batch, and writes packs crash-safely as the owner of its store (docs/sync.md).
"""

from __future__ import annotations

import io
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from creativevault.errors import NotAVaultError, RemoteError, VaultError
from creativevault.features.sync.server import RefUpdate, VaultServer, serve
from creativevault.features.sync.urls import RemoteUrl
from creativevault.features.sync.wire import (
    PROTOCOL,
    Channel,
    ConnectionLost,
    decode_entries,
    encode_entries,
    raise_error,
)
from creativevault.repo.vault import Vault
from creativevault.store.transfer import Entry

__all__ = ["PEER_KINDS", "LocalPeer", "Peer", "PeerOptions", "SshPeer", "StreamPeer",
           "open_peer"]


@dataclass
class PeerOptions:
    """How to reach peers: the ssh command (like GIT_SSH_COMMAND) and the cvault command
    to run on the far side (like ``remote.<name>.uploadpack``)."""

    ssh_command: str = "ssh"
    remote_cvault: str = "cvault"
    #: called to build Vault objects for local peers (tests inject failing openers)
    open_vault: Callable[[Path], Vault] = field(default=lambda p: Vault.open(p))


class Peer(Protocol):
    """The other vault of a transfer."""

    name: str

    def hello(self) -> dict[str, Any]: ...
    def missing(self, etype: int, keys: list[bytes]) -> list[bytes]: ...
    def get(self, etype: int, keys: list[bytes], deltas: bool = False) -> list[Entry]: ...
    def put(self, entries: list[Entry]) -> dict[str, int]: ...
    def put_done(self) -> dict[str, int]: ...
    def get_pack(self, wants: list[str], haves: list[str]) -> bytes: ...
    def put_pack(self, data: bytes) -> None: ...
    def update_refs(self, updates: list[RefUpdate], force: bool, unavailable: list[str],
                    who: str) -> list[str]: ...
    def verify_files(self, file_ids: list[str]) -> dict[str, str | None]: ...
    def close(self) -> None: ...


class LocalPeer:
    """A vault on a path this machine can open (an external drive, a NAS mount)."""

    def __init__(self, url: RemoteUrl, options: PeerOptions) -> None:
        self.name = str(url)
        path = url.local_path
        if not path.exists():
            raise RemoteError("the remote vault is not reachable (drive not mounted?)",
                              path=path)
        try:
            vault = options.open_vault(path)
        except NotAVaultError as exc:
            raise RemoteError(f"not a vault: {exc.message}", path=path) from exc
        if vault.root.resolve() != path.resolve():
            vault.close()
            raise RemoteError("not the top of a vault", path=path)
        self.server = VaultServer(vault)

    def hello(self) -> dict[str, Any]:
        return self.server.hello(PROTOCOL)

    def missing(self, etype: int, keys: list[bytes]) -> list[bytes]:
        return self.server.missing(etype, keys)

    def get(self, etype: int, keys: list[bytes], deltas: bool = False) -> list[Entry]:
        return self.server.get(etype, keys, deltas)

    def put(self, entries: list[Entry]) -> dict[str, int]:
        return self.server.put(entries)

    def put_done(self) -> dict[str, int]:
        return self.server.put_done()

    def get_pack(self, wants: list[str], haves: list[str]) -> bytes:
        return self.server.get_pack(wants, haves)

    def put_pack(self, data: bytes) -> None:
        self.server.put_pack(data)

    def update_refs(self, updates: list[RefUpdate], force: bool, unavailable: list[str],
                    who: str) -> list[str]:
        return self.server.update_refs(updates, force, unavailable, who)

    def verify_files(self, file_ids: list[str]) -> dict[str, str | None]:
        return self.server.verify_files(file_ids)

    def close(self) -> None:
        self.server.close()


class StreamPeer:
    """A peer at the other end of a byte stream, speaking docs/formats/remote-protocol.md."""

    def __init__(self, channel: Channel, *, name: str) -> None:
        self.name = name
        self.channel = channel
        self._closed = False
        self._greet()

    def _greet(self) -> None:
        reply = self._reply()
        if reply[0] != "ok":
            raise_error(reply, where=self.name)

    def _reply(self) -> list:
        try:
            reply = self.channel.recv()
        except ConnectionLost as exc:
            raise self._lost(exc) from exc
        if not isinstance(reply, list) or not reply:
            raise RemoteError(f"{self.name}: malformed reply")
        return reply

    def _lost(self, exc: ConnectionLost) -> RemoteError:
        return ConnectionLost(f"{exc.message}; what was verified on arrival is kept: run "
                              "the same command again to resume")

    def call(self, op: str, *args: Any) -> Any:
        try:
            self.channel.send([op, list(args)])
        except ConnectionLost as exc:
            raise self._lost(exc) from exc
        reply = self._reply()
        if reply[0] == "ok":
            return reply[1] if len(reply) > 1 else None
        raise_error(reply, where=self.name)

    def hello(self) -> dict[str, Any]:
        return dict(self.call("hello", PROTOCOL))

    def missing(self, etype: int, keys: list[bytes]) -> list[bytes]:
        return [bytes(k) for k in self.call("missing", etype, keys)]

    def get(self, etype: int, keys: list[bytes], deltas: bool = False) -> list[Entry]:
        # the third argument only when asked for: older servers take two
        # (docs/formats/remote-protocol.md); a client asks only servers that said 'deltas'
        args = (etype, keys, True) if deltas else (etype, keys)
        return decode_entries(self.call("get", *args))

    def put(self, entries: list[Entry]) -> dict[str, int]:
        return dict(self.call("put", encode_entries(entries)))

    def put_done(self) -> dict[str, int]:
        return dict(self.call("put_done"))

    def get_pack(self, wants: list[str], haves: list[str]) -> bytes:
        return bytes(self.call("get_pack", wants, haves))

    def put_pack(self, data: bytes) -> None:
        self.call("put_pack", data)

    def update_refs(self, updates: list[RefUpdate], force: bool, unavailable: list[str],
                    who: str) -> list[str]:
        return list(self.call("update_refs", [list(u) for u in updates], force,
                              unavailable, who))

    def verify_files(self, file_ids: list[str]) -> dict[str, str | None]:
        return dict(self.call("verify_files", file_ids))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.call("bye")
        except VaultError:
            pass
        self.channel.close()


class SshPeer(StreamPeer):
    """``ssh [user@]host [-p port] <remote cvault> serve <path>``, spoken to on its pipes."""

    def __init__(self, url: RemoteUrl, options: PeerOptions) -> None:
        command = shlex.split(options.ssh_command)
        if url.port:
            command += ["-p", str(url.port)]
        remote = f"{options.remote_cvault} serve {shlex.quote(url.path)}"
        command += [url.ssh_target, remote]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise RemoteError(f"cannot run the ssh command {command[0]!r}: "
                              f"{exc.strerror or exc}") from exc
        self._stderr: deque[str] = deque(maxlen=20)
        self._reader = threading.Thread(target=self._drain, name="cvault-ssh-stderr",
                                        daemon=True)
        self._reader.start()
        # with the default bufsize Popen's pipes are buffered files, BinaryIO as Channel
        # wants (typeshed types them only as IO[bytes])
        assert isinstance(self.process.stdout, io.BufferedReader)
        assert isinstance(self.process.stdin, io.BufferedWriter)
        channel = Channel(self.process.stdout, self.process.stdin, name=str(url))
        try:
            super().__init__(channel, name=str(url))
        except BaseException:
            self._stop()
            raise

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _lost(self, exc: ConnectionLost) -> RemoteError:
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(timeout=1)
        said = "; ".join(line for line in self._stderr if line)
        if said:
            return ConnectionLost(f"{self.name}: {said}")
        return super()._lost(exc)

    def _stop(self) -> None:
        self.channel.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        self._stop()


#: address kind -> how to connect
PEER_KINDS: dict[str, Callable[[RemoteUrl, PeerOptions], Peer]] = {
    "local": LocalPeer,
    "ssh": SshPeer,
}


def open_peer(url: RemoteUrl, options: PeerOptions | None = None) -> Peer:
    """Connect to the vault at ``url``."""
    connect = PEER_KINDS.get(url.kind)
    if connect is None:
        raise RemoteError(f"no transport for {url.kind} addresses")
    return connect(url, options or PeerOptions())


def stream_pair_for_tests(vault_path: Path) -> tuple[StreamPeer, threading.Thread]:
    """A :class:`StreamPeer` talking to a server thread over in-memory pipes."""
    import os

    c2s_r, c2s_w = os.pipe()
    s2c_r, s2c_w = os.pipe()
    server_channel = Channel(os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb"), name="client")

    def open_vault() -> Vault:  # as 'cvault serve PATH' opens it
        vault = Vault.open(vault_path)
        if vault.root.resolve() != Path(vault_path).resolve():
            vault.close()
            raise RemoteError("not the top of a vault", path=vault_path)
        return vault

    def run() -> None:
        try:
            serve(open_vault, server_channel)
        finally:
            server_channel.close()  # as the end of a 'cvault serve' process closes its pipes

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = Channel(os.fdopen(s2c_r, "rb"), os.fdopen(c2s_w, "wb"), name=str(vault_path))
    return StreamPeer(client, name=str(vault_path)), thread
