"""Properties of delta chunks: whatever the edits, every version reads back byte-exact,
no delta's base is a delta, and the store passes fsck."""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creativevault.store import ChunkerParams, Store
from creativevault.store.pack import ENTRY_CHUNK, FLAG_DELTA

from .test_store_chunking import generated

PARAMS = ChunkerParams.for_average(8 * 1024)
PROFILE = settings(derandomize=True, max_examples=20, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

#: (kind, position as a fraction of the file, length)
EDIT = st.tuples(st.sampled_from(["paint", "insert", "delete"]),
                 st.floats(0.0, 1.0), st.integers(1, 20_000))


def apply(data: bytes, edit: tuple[str, float, int], seed: int) -> bytes:
    kind, where, length = edit
    at = int(where * len(data))
    patch = random.Random(seed).randbytes(length)
    if kind == "paint":
        return data[:at] + patch + data[at + length:]
    if kind == "insert":
        return data[:at] + patch + data[at:]
    return data[:at] + data[at + length:]


@PROFILE
@given(seed=st.integers(0, 2**32), size=st.integers(0, 300_000),
       versions=st.lists(st.lists(EDIT, min_size=1, max_size=4), min_size=1, max_size=4))
def test_every_version_reads_back_and_bases_are_never_deltas(
        seed: int, size: int, versions: list[list[tuple[str, float, int]]]) -> None:
    datas = [generated(seed, size)]
    for n, edits in enumerate(versions):
        data = datas[-1]
        for m, edit in enumerate(edits):
            data = apply(data, edit, seed + 7 * n + m)
        datas.append(data)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.init(Path(tmp) / "s", chunker=PARAMS)
        ids: list[str] = []
        for data in datas:
            with store.writer() as writer:
                ids.append(writer.put_bytes(data, similar_to=ids[-1] if ids else None).file_id)
        for fid, data in zip(ids, datas, strict=True):
            out = io.BytesIO()
            store.write_file_to(fid, out)
            assert out.getvalue() == data
        rows = list(store.index.rows(etype=ENTRY_CHUNK))
        full = {r.key for r in rows if not r.flags & FLAG_DELTA}
        assert all(r.base in full for r in rows if r.flags & FLAG_DELTA)
        assert store.fsck().ok
        store.close()
