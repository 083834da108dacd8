"""``check_layout``: the cheap check of ``store.json`` a vault makes when it opens.

It must refuse exactly what :meth:`Store.open` refuses about ``store.json`` and
``packs/``, with the same error, and stay in step with the store's format and version.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from creativevault.errors import StoreFormatError
from creativevault.store import layout, store
from creativevault.store.layout import check_layout
from creativevault.store.store import Store
from tests.vaulttools import env_without_coverage


def test_format_and_version_are_the_stores() -> None:
    assert (layout.STORE_FORMAT, layout.STORE_VERSION) == (store.STORE_FORMAT,
                                                          store.STORE_VERSION)


@pytest.mark.parametrize("content", [
    None,
    b"{not json",
    b"[]",
    json.dumps({"format": "other", "version": 1}).encode(),
    json.dumps({"format": "cvault-store", "version": 2}).encode(),
    json.dumps({"format": "cvault-store"}).encode(),
])
def test_refuses_what_open_refuses_with_the_same_error(tmp_path: Path,
                                                       content: bytes | None) -> None:
    tmp_path.joinpath("packs").mkdir()
    if content is not None:
        tmp_path.joinpath("store.json").write_bytes(content)
    with pytest.raises(StoreFormatError) as cheap:
        check_layout(tmp_path)
    with pytest.raises(StoreFormatError) as full:
        Store.open(tmp_path)
    assert str(cheap.value) == str(full.value)
    assert (cheap.value.field, cheap.value.expected, cheap.value.actual) == (
        full.value.field, full.value.expected, full.value.actual)


def test_a_missing_packs_folder_and_a_good_store(tmp_path: Path) -> None:
    Store.init(tmp_path / "s").close()
    check_layout(tmp_path / "s")
    (tmp_path / "s" / "packs").rmdir()
    with pytest.raises(StoreFormatError, match="packs") as cheap:
        check_layout(tmp_path / "s")
    with pytest.raises(StoreFormatError) as full:
        Store.open(tmp_path / "s")
    assert str(cheap.value) == str(full.value)


def test_checking_imports_no_store_machinery() -> None:
    code = ("import sys; from creativevault.store.layout import check_layout; "
            "print(sorted(m for m in ('creativevault.store.store', 'sqlite3', 'blake3', "
            "'pyfastcdc', 'zstandard') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env_without_coverage())
    assert out.stdout.strip() == "[]"
