"""Remote addresses as git spells them: paths (drive, NAS mount) and SSH."""

from __future__ import annotations

from pathlib import Path

import pytest

from creativevault.errors import UsageError
from creativevault.features.sync.urls import RemoteUrl, parse_url

BASE = Path("/home/artist/projects/shoot")


@pytest.mark.parametrize("text, path", [
    ("/media/field-ssd/shoot", "/media/field-ssd/shoot"),
    ("/Volumes/NAS share/vault", "/Volumes/NAS share/vault"),
    ("file:///media/drive/vault", "/media/drive/vault"),
    ("file:///media/my%20drive/vault", "/media/my drive/vault"),
    ("file://localhost/srv/vault", "/srv/vault"),
    ("/mnt/a:b/vault", "/mnt/a:b/vault"),  # a slash before the colon: a path
])
def test_absolute_local_paths(text: str, path: str) -> None:
    url = parse_url(text, base=BASE)
    assert (url.kind, url.path, url.host, url.user, url.port) == ("local", path, None, None,
                                                                  None)
    assert url.local_path == Path(path)
    assert str(url) == text


@pytest.mark.parametrize("text, resolved", [
    ("../studio", "/home/artist/projects/studio"),
    ("backup", "/home/artist/projects/shoot/backup"),
    ("./cam:a", "/home/artist/projects/shoot/cam:a"),
    ("sub/dir:x", "/home/artist/projects/shoot/sub/dir:x"),
])
def test_relative_paths_are_made_absolute_against_the_base(text: str, resolved: str) -> None:
    url = parse_url(text, base=BASE)
    assert url.kind == "local" and Path(url.path).is_absolute()
    assert Path(url.path).resolve() == Path(resolved)


def test_relative_paths_default_to_the_current_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Path(parse_url("drive/vault").path) == tmp_path / "drive" / "vault"


def test_home_is_expanded_for_local_paths(clean_env: Path) -> None:
    assert parse_url("~/vault").path == str(clean_env / "vault")


@pytest.mark.parametrize("text", ["C:\\vault", "D:\\shoot\\day 1", "C:/vault", "c:relative"])
def test_a_windows_drive_letter_is_a_path_on_every_os(text: str) -> None:
    url = parse_url(text, base=BASE)
    assert url.kind == "local" and url.host is None
    assert url.path.endswith(text)


@pytest.mark.parametrize("text, user, host, port, path", [
    ("ssh://user@host:2222/p", "user", "host", 2222, "/p"),
    ("ssh://studio.example.com/srv/vaults/shoot", None, "studio.example.com", None,
     "/srv/vaults/shoot"),
    ("ssh://host/~/p", None, "host", None, "~/p"),
    ("ssh://anna@host/~/vaults/shoot", "anna", "host", None, "~/vaults/shoot"),
    ("ssh://host/path%20with%20space", None, "host", None, "/path with space"),
    ("ssh://[::1]:22/vault", None, "::1", 22, "/vault"),
    ("ssh+git://host/vault", None, "host", None, "/vault"),
    ("user@host:p", "user", "host", None, "p"),
    ("user@host:/abs/vault", "user", "host", None, "/abs/vault"),
    ("host:p", None, "host", None, "p"),
    ("host:~/vault", None, "host", None, "~/vault"),
    ("studio-nas.local:shoots/2024", None, "studio-nas.local", None, "shoots/2024"),
    ("host:p:with:colons", None, "host", None, "p:with:colons"),
    ("[fe80::1]:vault", None, "fe80::1", None, "vault"),
    ("me@[::1]:vault", "me", "::1", None, "vault"),
])
def test_ssh_addresses(text: str, user: str | None, host: str, port: int | None,
                       path: str) -> None:
    url = parse_url(text, base=BASE)
    assert (url.kind, url.user, url.host, url.port, url.path) == ("ssh", user, host, port,
                                                                  path)
    assert url.ssh_target == (f"{user}@{host}" if user else host)
    assert str(url) == text


@pytest.mark.parametrize("text, says", [
    ("", "empty"),
    ("   ", "empty"),
    ("ssh://host", "host and a path"),
    ("ssh://host/", "host and a path"),
    ("ssh:///vault", "host and a path"),
    ("ssh://host:port/vault", "port"),
    ("ssh://host:99999/vault", "port"),
    ("host:", "path after the colon"),
    ("user@host:", "path after the colon"),
    ("http://example.com/vault", "unsupported"),
    ("s3://bucket/vault", "unsupported"),
    ("rsync://host/vault", "unsupported"),
    ("file://media/drive/vault", "file:///"),  # two slashes: 'media' would be a host
])
def test_bad_addresses_are_usage_errors(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_url(text, base=BASE)


def test_remote_url_is_a_value() -> None:
    one = parse_url("user@host:vault")
    assert one == RemoteUrl("ssh", "vault", host="host", user="user", text="user@host:vault")
    assert hash(one) == hash(parse_url("user@host:vault"))
    assert str(RemoteUrl("local", "/x")) == "/x"  # no text: the path
