from __future__ import annotations

import errno
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from creativevault.errors import DiskFullError
from creativevault.store.durable import (
    FREE_SPACE_MARGIN,
    check_free_space,
    is_disk_full,
    remove_quietly,
    to_disk_full,
    write_atomic,
)

Usage = namedtuple("Usage", "total used free")


def test_free_space_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 0, FREE_SPACE_MARGIN + 100))
    check_free_space(tmp_path, 99, name="a.psd")
    with pytest.raises(DiskFullError, match="a.psd") as info:
        check_free_space(tmp_path, 100, name="a.psd")
    assert info.value.retriable


def test_disk_full_detection_and_message(tmp_path: Path) -> None:
    exc = OSError(errno.ENOSPC, "No space left on device")
    assert is_disk_full(exc) and not is_disk_full(OSError(errno.EIO, "io"))
    assert not is_disk_full(ValueError())
    err = to_disk_full(exc, store=tmp_path, name="big.exr")
    assert "big.exr" in str(err) and str(tmp_path) in str(err)


def test_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path, b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
    remove_quietly(tmp_path / "nothing")
