"""File and project timelines: entries, caching, branches, missing content, JSON, formats."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from creativevault.features.timeline import (
    SCHEMA,
    TimelineOptions,
    file_timeline,
    open_catalog,
    project_timeline,
)
from creativevault.features.timeline import build as build_mod
from creativevault.features.timeline.entries import Change, FileFacts
from creativevault.features.timeline.thumbnails import change_between, decode_content
from tests.unit.timeline.kit import T0, build_story, fake_clock, png_bytes, png_version
from tests.vaulttools import commit_all, write

ENTRY_KEYS = {"commit", "parents", "author", "time", "date", "message", "branch", "path",
              "kind", "old_path", "content_id", "size", "present", "facts", "change",
              "thumbnail"}
FACT_KEYS = {"format", "width", "height", "layers", "vertices", "faces", "note"}
CHANGE_KEYS = {"kind", "changed_fraction", "layers_added", "layers_removed",
               "layers_changed", "vertices_delta", "faces_delta", "size_delta", "note"}


@pytest.fixture
def story(vault, monkeypatch):
    fake_clock(monkeypatch)
    return build_story(vault, edits=6)


def test_file_timeline_entries(vault, story) -> None:
    t = file_timeline(vault, "hero.png")
    kinds = [e.kind for e in t.entries]
    assert kinds == ["added"] + ["modified"] * 5 + ["renamed", "deleted", "added",
                                                    "modified", "modified"]
    first, second = t.entries[0], t.entries[1]
    assert first.facts == FileFacts("PNG", 128, 96)
    assert first.change is None and first.thumbnail == first.content_id + ".png"
    assert second.change.kind == "pixels"
    assert second.change.changed_fraction == pytest.approx(30 * 3 / (128 * 96))
    renamed = t.entries[6]
    assert renamed.change.kind == "none" and renamed.old_path == "art.png"
    deleted = t.entries[7]
    assert deleted.content_id is None and not deleted.present and deleted.change is None
    missing = t.entries[-1]
    assert missing.content_id == story.missing_id and not missing.present
    assert missing.facts is None and missing.thumbnail is None and missing.change is None
    assert [e.branch for e in t.entries[-2:]] == ["field", "field"]
    assert t.entries[-2].change.kind == "pixels"  # 64x64 re-created vs field edit
    assert t.entries[0].time == T0 and t.entries[0].date.startswith("2026-")
    assert t.stats["thumbs_made"] == 8 and t.stats["cache_hits"] == 0
    with open_catalog(vault) as cat:
        assert cat.count("thumb:256") == 8  # the rename reuses a content


def test_second_run_computes_nothing(vault, story, monkeypatch) -> None:
    file_timeline(vault, "hero.png")
    calls = {"decode": 0, "compare": 0}
    real = build_mod.decode_content

    def counting(*a, **kw):
        calls["decode"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(build_mod, "decode_content", counting)
    t = file_timeline(vault, "hero.png")
    assert calls["decode"] == 0
    assert t.stats["thumbs_made"] == t.stats["facts_made"] == t.stats["changes_made"] == 0
    assert t.stats["cache_hits"] > 0
    assert t.entries[1].change.changed_fraction > 0
    # a thumbnail survives the branch switch: the same contents are cached by content id
    vault.checkout("field")
    t2 = file_timeline(vault, "hero.png")
    assert t2.stats["thumbs_made"] == 0 and calls["decode"] == 0


def test_catalog_copied_to_a_clone_is_used(vault, story, tmp_path) -> None:
    file_timeline(vault, "hero.png")
    clone = tmp_path / "clone"
    shutil.copytree(vault.root, clone)
    import creativevault as cv

    with cv.Vault.open(clone) as other:
        t = file_timeline(other, "hero.png")
    assert t.stats["thumbs_made"] == 0 and t.stats["changes_made"] == 0


def test_branch_all_and_since(vault, story) -> None:
    main = file_timeline(vault, "hero.png", TimelineOptions(branch="main"))
    everything = file_timeline(vault, "hero.png", TimelineOptions(all=True))
    assert everything.branches == ["main", "field"]
    assert len(everything.entries) == len(main.entries)
    field = file_timeline(vault, "hero.png", TimelineOptions(branch="field"))
    assert field.branches == ["field"]
    by_rev = file_timeline(vault, "hero.png", TimelineOptions(branch=story.field_edit[:10]))
    assert by_rev.entries[-1].commit == story.field_edit
    cut = main.entries[8].time
    recent = file_timeline(vault, "hero.png", TimelineOptions(since=cut, thumbnails=False,
                                                              changes=False))
    assert [e.time >= cut for e in recent.entries] == [True] * len(recent.entries)
    assert len(recent.entries) == 3


def test_json_follows_the_schema(vault, story) -> None:
    doc = json.loads(json.dumps(file_timeline(vault, "hero.png").to_json()))
    assert doc["schema"] == SCHEMA and doc["kind"] == "file" and doc["path"] == "hero.png"
    for e in doc["entries"]:
        assert set(e) == ENTRY_KEYS
        if e["facts"] is not None:
            assert set(e["facts"]) == FACT_KEYS
        if e["change"] is not None:
            assert set(e["change"]) == CHANGE_KEYS
    proj = json.loads(json.dumps(project_timeline(vault).to_json()))
    assert proj["schema"] == SCHEMA and proj["kind"] == "project"
    assert set(proj["commits"][0]) == {"commit", "parents", "author", "time", "date",
                                       "message", "branch", "changes"}
    assert set(proj["commits"][0]["changes"][0]) == {"path", "kind", "old_path",
                                                     "content_id", "size"}


def test_project_timeline(vault, story) -> None:
    p = project_timeline(vault)
    subjects = [c.subject for c in p.commits]
    assert subjects[0] == "paint 0" and subjects[-1] == "Merge branch 'field'"
    assert p.commits[6].changes[0]["kind"] == "renamed"
    only = project_timeline(vault, paths=[str(vault.root / "notes.txt")])
    assert len(only.commits) == 2


def test_empty_and_bad_input(vault) -> None:
    assert file_timeline(vault, "nothing.png").entries == []
    assert project_timeline(vault).commits == []
    from creativevault.errors import UsageError

    with pytest.raises(UsageError):
        file_timeline(vault, ".")


def test_thumbnails_of_each_family(vault, fixture_file, monkeypatch) -> None:
    fake_clock(monkeypatch)
    root = vault.root
    shutil.copy(fixture_file("psd/group.psd"), root / "paint.psd")
    shutil.copy(fixture_file("mesh/teapot.stl"), root / "pot.stl")
    shutil.copy(fixture_file("photo/FujiFilm.raf"), root / "shot.raf")
    write(root / "scene.blend", b"BLENDER-v300" + bytes(5000))
    commit_all(vault, "one of each")
    for name, fmt in (("paint.psd", "PSD"), ("pot.stl", "STL"), ("shot.raf", "RAF (embedded preview)"),
                      ("scene.blend", "Blender scene")):
        t = file_timeline(vault, name)
        e = t.entries[0]
        assert e.present and e.thumbnail, name
        if fmt:
            assert e.facts.format == fmt, name
    psd = file_timeline(vault, "paint.psd").entries[0].facts
    assert psd.layers and psd.width
    stl = file_timeline(vault, "pot.stl").entries[0].facts
    assert stl.vertices and stl.faces
    raf = file_timeline(vault, "shot.raf").entries[0].facts
    assert (raf.width, raf.height) == (160, 120)


def test_decode_never_raises(tmp_path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    d = decode_content(bad, "broken.png")
    assert d.facts.note and d.thumb.shape[2] == 3 and d.analysis is None


def test_change_between_families() -> None:
    a = FileFacts("PSD", 10, 10, layers=2, layer_signatures={"x": "1", "y": "2"})
    b = FileFacts("PSD", 10, 10, layers=2, layer_signatures={"x": "1", "z": "3"})
    ch = change_between(a, b, None, None, 10, 12)
    assert (ch.kind, ch.layers_added, ch.layers_removed, ch.layers_changed) == \
        ("layers", 1, 1, 0)
    assert "layers" in ch.describe()
    m = change_between(FileFacts("STL", vertices=8, faces=12),
                       FileFacts("STL", vertices=10, faces=16), None, None, 1, 2)
    assert (m.kind, m.vertices_delta, m.faces_delta) == ("mesh", 2, 4)
    assert "vertices" in m.describe()
    r = change_between(FileFacts("PNG", 4, 4), FileFacts("PNG", 8, 8), np.zeros((4, 4, 3)),
                       np.zeros((8, 8, 3)), 5, 9)
    assert r.kind == "resized" and r.describe() == "resized" and "4x4" in r.note
    assert change_between(None, None, None, None, 5, 9).describe() == "+4 bytes"
    assert Change("none").describe() == "same content"
    assert Change("bytes").describe() == "bytes"


def test_png_kit_versions_differ() -> None:
    assert png_bytes(png_version(1)) != png_bytes(png_version(2))


def test_plain_git_blob_versions(vault, monkeypatch) -> None:
    fake_clock(monkeypatch)
    for k in range(2):
        write(vault.root / "model.obj", f"v 0 0 0\nv 1 0 0\nv 0 1 {k}\nf 1 2 3\n")
        commit_all(vault, f"obj {k}")
    t = file_timeline(vault, "model.obj")
    assert t.entries[0].content_id.startswith("git:")
    assert t.entries[1].change.kind == "mesh" and t.entries[1].change.vertices_delta == 0


def test_changed_fraction_matches_the_full_comparison() -> None:
    from creativevault.features.timeline.thumbnails import changed_fraction
    from creativevault.imaging.compare import compare_arrays

    rng = np.random.default_rng(1)
    a = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    b = a.copy()
    b[10:20, 30:45, 1] += 1
    b[50, 5] = 0
    full = compare_arrays(a, b).changed_fraction
    assert changed_fraction(a, b) == pytest.approx(full)
    assert changed_fraction(a, a.copy()) == 0.0
    grey = a[:, :, 0].astype(np.float32)
    assert changed_fraction(grey, grey + 1) == 1.0


def test_same_bytes_under_another_extension_decode_again(vault, fixture_file,
                                                         monkeypatch) -> None:
    fake_clock(monkeypatch)
    shutil.copy(fixture_file("mesh/teapot.stl"), vault.root / "pot.dat")
    commit_all(vault, "unknown name")
    vault.mv("pot.dat", "pot.stl")
    commit_all(vault, "named")
    t = file_timeline(vault, "pot.stl")
    first, second = t.entries
    assert second.kind == "renamed" and first.size == second.size  # git blob -> vault
    assert first.thumbnail != second.thumbnail and second.facts.vertices
    assert second.change.kind == "bytes" and "format changed" in second.change.note
