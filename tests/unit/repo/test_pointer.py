"""Pointer files: the canonical encoding, git-lfs pointers, and every way to break one."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creativevault.errors import NotAPointerError, PointerError
from creativevault.repo.pointer import (
    LFS_VERSION_URL,
    MAX_POINTER_SIZE,
    VERSION_URL,
    Pointer,
    looks_like_pointer,
    parse_pointer,
)

HELLO = hashlib.sha256(b"hello").hexdigest()
OID = f"oid sha256:{HELLO}"

CANONICAL_HELLO = (
    b"version https://creativevault.dev/spec/v1\n"
    b"chunks 1\n"
    b"mtime 1700000000123456789\n"
    b"oid sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n"
    b"size 5\n"
    b"x-studio render-farm-7\n"
)


def test_canonical_bytes_are_pinned() -> None:
    pointer = Pointer(HELLO, 5, {"x-studio": "render-farm-7", "mtime": "1700000000123456789",
                                 "chunks": "1"})
    assert pointer.encode() == CANONICAL_HELLO
    assert Pointer(HELLO, 5).encode() == (
        f"version {VERSION_URL}\n{OID}\nsize 5\n".encode()
    )


def test_round_trip() -> None:
    pointer = parse_pointer(CANONICAL_HELLO)
    assert pointer.oid == HELLO
    assert pointer.size == 5
    assert pointer.mtime_ns == 1700000000123456789
    assert pointer.chunks == 1
    assert pointer.origin == "cvault"
    assert dict(pointer.extra) == {"chunks": "1", "mtime": "1700000000123456789",
                                   "x-studio": "render-farm-7"}
    assert pointer.encode() == CANONICAL_HELLO
    assert parse_pointer(pointer.encode()) == pointer


def test_optional_properties_absent() -> None:
    pointer = Pointer(HELLO, 0)
    assert pointer.mtime_ns is None
    assert pointer.chunks is None
    assert Pointer(HELLO, 1, {"mtime": "-5"}).mtime_ns == -5


def test_pointer_is_immutable_and_hashable() -> None:
    extra = {"mtime": "1"}
    pointer = Pointer(HELLO, 5, extra)
    extra["mtime"] = "2"
    assert pointer.mtime_ns == 1
    with pytest.raises(TypeError):
        pointer.extra["mtime"] = "3"  # type: ignore[index]
    assert hash(pointer) == hash(Pointer(HELLO, 5, {"mtime": "1"}))


def test_unknown_keys_survive() -> None:
    data = (f"version {VERSION_URL}\na.b-c 42 is the answer\n{OID}\nsize 5\nzz 1\n").encode()
    pointer = parse_pointer(data)
    assert dict(pointer.extra) == {"a.b-c": "42 is the answer", "zz": "1"}
    assert pointer.encode() == data


def test_lfs_pointer_is_read_and_reencoded_as_ours() -> None:
    lfs = f"version {LFS_VERSION_URL}\n{OID}\nsize 5\n".encode()
    assert looks_like_pointer(lfs)
    pointer = parse_pointer(lfs)
    assert pointer.origin == "lfs"
    assert pointer == Pointer(HELLO, 5)
    assert pointer.encode() == f"version {VERSION_URL}\n{OID}\nsize 5\n".encode()


def test_lfs_extension_keys_survive() -> None:
    lfs = (f"version {LFS_VERSION_URL}\next-0-foo sha256:{'a' * 64}\n{OID}\nsize 5\n").encode()
    assert parse_pointer(lfs).extra["ext-0-foo"] == f"sha256:{'a' * 64}"


def test_lenient_reading_of_hand_edits() -> None:
    out_of_order = f"version {VERSION_URL}\nsize 5\n{OID}\nmtime 7\n".encode()
    crlf = f"version {VERSION_URL}\r\n{OID}\r\nsize 5\r\n".encode()
    no_final_lf = f"version {VERSION_URL}\n{OID}\nsize 5".encode()
    assert parse_pointer(out_of_order) == Pointer(HELLO, 5, {"mtime": "7"})
    assert parse_pointer(out_of_order).encode() == (
        f"version {VERSION_URL}\nmtime 7\n{OID}\nsize 5\n".encode()
    )
    assert parse_pointer(crlf) == Pointer(HELLO, 5)
    assert parse_pointer(no_final_lf) == Pointer(HELLO, 5)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)),
        b"version https://example.com/other/v1\noid sha256:00\nsize 1\n",
        b"Version https://creativevault.dev/spec/v1\n",
        b"version https://creativevault.dev/spec/v1\n\xff\xfe\n",
        b"version https://git-lfs.github.com/spec/v1\n" + b"x" * MAX_POINTER_SIZE,
        f"{OID}\nversion {VERSION_URL}\nsize 5\n".encode(),
    ],
    ids=["empty", "text", "png", "binary", "other-version", "capital-v", "not-utf8",
         "too-big", "version-not-first"],
)
def test_not_a_pointer(data: bytes) -> None:
    with pytest.raises(NotAPointerError) as info:
        parse_pointer(data, path="art/x.psd")
    assert not isinstance(info.value, PointerError)
    assert info.value.path == "art/x.psd"


def test_looks_like_pointer() -> None:
    assert looks_like_pointer(CANONICAL_HELLO)
    assert looks_like_pointer(f"version {VERSION_URL}\njunk".encode())
    assert not looks_like_pointer(b"\x89PNG\r\n")
    assert not looks_like_pointer(CANONICAL_HELLO + b"x" * MAX_POINTER_SIZE)


V = f"version {VERSION_URL}\n"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (V, "oid"),
        (f"version {VERSION_URL}", "oid"),
        (V + "size 5\n", "oid"),
        (V + OID + "\n", "size"),
        (V + "oid sha256:" + HELLO.upper() + "\nsize 5\n", "oid"),
        (V + "oid sha256:" + HELLO[:-1] + "\nsize 5\n", "oid"),
        (V + "oid sha1:" + "a" * 40 + "\nsize 5\n", "oid"),
        (V + "oid " + HELLO + "\nsize 5\n", "oid"),
        (V + OID + "\nsize -5\n", "size"),
        (V + OID + "\nsize 05\n", "size"),
        (V + OID + "\nsize five\n", "size"),
        (V + OID + "\nsize +5\n", "size"),
        (V + OID + "\nsize 5\nsize 5\n", "size"),
        (V + OID + "\n" + OID + "\nsize 5\n", "oid"),
        (V + OID + "\nsize 5\nversion " + VERSION_URL + "\n", "version"),
        (V + OID + "\nsize 5\nchunks x\n", "chunks"),
        (V + OID + "\nsize 5\nmtime 1.5\n", "mtime"),
        (V + OID + "\nsize 5\nmtime 007\n", "mtime"),
        (V + OID + "\nsize 5\nKey value\n", "Key"),
        (V + OID + "\nsize  5\n", "size"),
        (V + OID + "\nsize 5 \n", "size"),
        (V + OID + "\nsize\n", "size"),
        (V + OID + "\nnote a\tb\n", "note"),
        ("version https://creativevault.dev/spec/v2\n" + OID + "\nsize 5\n", "version"),
    ],
)
def test_malformed_pointer(data: str, field: str) -> None:
    with pytest.raises(PointerError) as info:
        parse_pointer(data.encode(), path="art/hero.psd")
    err = info.value
    assert err.corrupt
    assert err.path == "art/hero.psd"
    assert err.field == field
    assert "art/hero.psd" in str(err)


@pytest.mark.parametrize(
    "data",
    [V + OID + "\n\nsize 5\n", V + OID + "\nsize 5\n\n", V + "\n\n" + OID + "\nsize 5\n"],
)
def test_blank_lines_are_malformed(data: str) -> None:
    with pytest.raises(PointerError) as info:
        parse_pointer(data.encode(), path="p")
    assert info.value.offset is not None


def test_hand_edited_into_garbage_names_the_path() -> None:
    data = (V + "I opened this in Notepad and typed over it!!\n").encode()
    assert looks_like_pointer(data)
    with pytest.raises(PointerError) as info:
        parse_pointer(data, path="shots/010/plate.exr")
    assert info.value.path == "shots/010/plate.exr"
    assert info.value.offset == len(V)
    assert str(info.value).startswith("shots/010/plate.exr: ")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"oid": "xyz", "size": 1}, "oid"),
        ({"oid": HELLO, "size": -1}, "size"),
        ({"oid": HELLO, "size": True}, "size"),
        ({"oid": HELLO, "size": 1, "extra": {"oid": "x"}}, "oid"),
        ({"oid": HELLO, "size": 1, "extra": {"Bad": "x"}}, "Bad"),
        ({"oid": HELLO, "size": 1, "extra": {"k": ""}}, "k"),
        ({"oid": HELLO, "size": 1, "extra": {"k": "a\nb"}}, "k"),
        ({"oid": HELLO, "size": 1, "extra": {"k": " a"}}, "k"),
        ({"oid": HELLO, "size": 1, "extra": {"k": "x" * MAX_POINTER_SIZE}}, "extra"),
        ({"oid": HELLO, "size": 1, "origin": "svn"}, "origin"),
    ],
)
def test_invalid_pointer_cannot_be_built(kwargs: dict, field: str) -> None:
    with pytest.raises(PointerError) as info:
        Pointer(**kwargs)
    assert info.value.field == field


def test_pointer_at_the_size_cap() -> None:
    base = (V + OID + "\nsize 5\nz ").encode()
    data = base + b"v" * (MAX_POINTER_SIZE - len(base) - 1) + b"\n"
    assert len(data) == MAX_POINTER_SIZE
    assert parse_pointer(data).encode() == data
    # Without its final LF the same content would encode one byte over the cap.
    longer = base + b"v" * (MAX_POINTER_SIZE - len(base))
    with pytest.raises(PointerError) as info:
        parse_pointer(longer, path="p.psd")
    assert info.value.path == "p.psd"


_keys = st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True).filter(
    lambda k: k not in {"version", "oid", "size", "chunks", "mtime"}
)
_values = st.from_regex(r"[!-~](?:[ -~]{0,20}[!-~])?", fullmatch=True)


@settings(derandomize=True, max_examples=200)
@given(
    oid=st.binary(min_size=1, max_size=64).map(lambda b: hashlib.sha256(b).hexdigest()),
    size=st.integers(min_value=0, max_value=2**63),
    mtime=st.none() | st.integers(min_value=-(2**63), max_value=2**63),
    extra=st.dictionaries(_keys, _values, max_size=5),
)
def test_round_trip_property(oid: str, size: int, mtime: int | None,
                             extra: dict[str, str]) -> None:
    if mtime is not None:
        extra = {**extra, "mtime": str(mtime)}
    pointer = Pointer(oid, size, extra)
    data = pointer.encode()
    assert len(data) <= MAX_POINTER_SIZE
    again = parse_pointer(data)
    assert again == pointer
    assert again.mtime_ns == mtime
    assert again.encode() == data
    # Any order of the key lines reads back to the same pointer.
    head, *lines = data.decode().splitlines()
    shuffled = "\n".join([head, *reversed(lines)]) + "\n"
    assert parse_pointer(shuffled.encode()) == pointer
