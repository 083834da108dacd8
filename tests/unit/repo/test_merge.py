"""The three-way tree merge (``repo/merge.py``) and ``Vault.merge`` through the API.

Trees are built from generated data: PSD/PNG-like binaries committed through the vault
(pointer blobs, content in the store) and small text files (plain git blobs). The policy
table is checked on flat trees made directly from blobs, so each case states B, O and T.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.errors import GitError, ObjectMissingError, UsageError, WorktreeError
from creativevault.repo.gitrepo import MODE_EXEC, MODE_FILE, FlatEntry
from creativevault.repo.merge import (
    KeptBoth,
    KeptChange,
    branch_label,
    conflicted_copy_name,
    merge_base,
    merge_text,
    merge_trees,
)
from creativevault.repo.pointer import Pointer, parse_pointer
from tests.vaulttools import assert_git_clean, commit_all, creative_bytes, git, sha, write

LINK = 0o120000
BASE_TEXT = b"".join(b"line %d\n" % i for i in range(1, 11))


def _edit(text: bytes, line: int, new: bytes) -> bytes:
    lines = text.splitlines(True)
    lines[line - 1] = new
    return b"".join(lines)


# ------------------------------------------------------------------------ text merge
def test_merge_text_takes_changes_that_do_not_overlap() -> None:
    ours = _edit(BASE_TEXT, 2, b"ours two\n")
    theirs = _edit(BASE_TEXT, 9, b"theirs nine\n")
    merged = merge_text(BASE_TEXT, ours, theirs)
    assert merged == _edit(ours, 9, b"theirs nine\n")


def test_merge_text_overlapping_changes_are_a_conflict() -> None:
    assert merge_text(BASE_TEXT, _edit(BASE_TEXT, 5, b"a\n"), _edit(BASE_TEXT, 5, b"b\n")) \
        is None
    # adjacent lines with no unchanged line between them conflict, as in git
    assert merge_text(BASE_TEXT, _edit(BASE_TEXT, 5, b"a\n"), _edit(BASE_TEXT, 6, b"b\n")) \
        is None
    # both inserting at the same place
    assert merge_text(b"x\n", b"x\nmine\n", b"x\nyours\n") is None


def test_merge_text_same_change_deletions_and_one_sided_edits() -> None:
    same = _edit(BASE_TEXT, 3, b"both\n")
    assert merge_text(BASE_TEXT, same, same) == same
    assert merge_text(BASE_TEXT, BASE_TEXT, same) == same
    assert merge_text(BASE_TEXT, same, BASE_TEXT) == same
    dropped = b"".join(BASE_TEXT.splitlines(True)[2:])  # ours deletes lines 1-2
    appended = BASE_TEXT + b"line 11\n"
    assert merge_text(BASE_TEXT, dropped, appended) == dropped + b"line 11\n"
    assert merge_text(b"", b"", b"") == b""
    assert merge_text(b"a\nb\n", b"a\n", b"a\n") == b"a\n"  # the same deletion on both


# ------------------------------------------------------------------------ naming
def test_branch_label_is_safe_in_file_names() -> None:
    assert branch_label("field/laptop") == "field-laptop"
    assert branch_label('cam:1*?"<>|\\x') == "cam-1-------x"
    assert branch_label("..") == "theirs"
    assert branch_label("HEAD~2") == "HEAD~2"
    assert len(branch_label("x" * 500)) == 60


def test_conflicted_copy_name_goes_before_the_extension() -> None:
    taken: set[str] = set()
    label = "field-laptop"
    assert conflicted_copy_name("art/hero.psd", label, taken) == \
        "art/hero (conflicted copy from field-laptop).psd"
    # taken now: the next one is numbered, compared case-insensitively like FAT/Windows
    taken.add("hero (conflicted copy from field-laptop).psd".upper().casefold())
    assert conflicted_copy_name("HERO.psd", label, taken) == \
        "HERO (conflicted copy from field-laptop 2).psd"
    assert conflicted_copy_name("HERO.psd", label, taken) == \
        "HERO (conflicted copy from field-laptop 3).psd"
    assert conflicted_copy_name(".gitignore", label, taken) == \
        ".gitignore (conflicted copy from field-laptop)"
    assert conflicted_copy_name("README", label, taken) == \
        "README (conflicted copy from field-laptop)"
    assert conflicted_copy_name("shots.v2", label, taken, folder=True) == \
        "shots.v2 (conflicted copy from field-laptop)"
    long = "é" * 200 + ".tif"
    name = conflicted_copy_name(long, label, taken)
    assert len(name.encode()) <= 255 and name.endswith(" (conflicted copy from field-laptop).tif")
    for bad in '<>:"\\|?*':
        assert bad not in conflicted_copy_name("a.psd", branch_label(f"x{bad}y"), set())


# ------------------------------------------------------------------------ policy table
@pytest.fixture
def blobs(vault: cv.Vault):
    """``blobs(x)``: a FlatEntry for text (``str``/``bytes``) or, for ``("ptr", n)``, a
    pointer to generated content ``n`` (``mtime`` varies the pointer, not the content)."""

    def make(spec, mode: int = MODE_FILE, mtime: int | None = None) -> FlatEntry:
        if isinstance(spec, tuple):
            data = creative_bytes("x.psd", 4096, seed=spec[1])
            extra = {"mtime": str(mtime)} if mtime is not None else {}
            ptr = Pointer(oid=hashlib.sha256(data).hexdigest(), size=len(data), extra=extra)
            return FlatEntry(mode, vault.git.add_blob(ptr.encode()))
        return FlatEntry(mode, vault.git.add_blob(spec.encode() if isinstance(spec, str)
                                                  else spec))

    return make


def _merge(vault: cv.Vault, b: dict, o: dict, t: dict):
    return merge_trees(vault.git, b, o, t, label="field-laptop")


def test_one_sided_changes_and_identical_changes_merge_cleanly(vault: cv.Vault, blobs) -> None:
    base = {"a.psd": blobs(("ptr", 1)), "b.psd": blobs(("ptr", 2)), "gone.txt": blobs("x\n"),
            "both-gone.txt": blobs("y\n"), "same.psd": blobs(("ptr", 3))}
    ours = {"a.psd": blobs(("ptr", 10)), "b.psd": base["b.psd"], "gone.txt": base["gone.txt"],
            "same.psd": blobs(("ptr", 30)), "new-ours.txt": blobs("o\n")}
    theirs = {"a.psd": base["a.psd"], "b.psd": blobs(("ptr", 20)),
              "same.psd": blobs(("ptr", 30)), "new-theirs.txt": blobs("t\n")}
    result = _merge(vault, base, ours, theirs)
    assert result.tree == {"a.psd": ours["a.psd"], "b.psd": theirs["b.psd"],
                           "same.psd": ours["same.psd"], "new-ours.txt": ours["new-ours.txt"],
                           "new-theirs.txt": theirs["new-theirs.txt"]}
    assert result.conflicts == [] and result.kept == [] and result.text_merged == []


def test_pointers_to_the_same_content_are_the_same_version(vault: cv.Vault, blobs) -> None:
    base = {"edited.nef": blobs(("ptr", 1), mtime=1)}
    # theirs re-imported the same frame (only the pointer's mtime differs): unchanged
    ours = {"edited.nef": blobs(("ptr", 2)), "card.nef": blobs(("ptr", 5), mtime=100)}
    theirs = {"edited.nef": blobs(("ptr", 1), mtime=2), "card.nef": blobs(("ptr", 5), mtime=200)}
    assert theirs["card.nef"] != ours["card.nef"]
    result = _merge(vault, base, ours, theirs)
    assert result.tree == ours and result.conflicts == []


def test_deleted_on_one_side_changed_on_the_other_keeps_the_change(vault: cv.Vault,
                                                                   blobs) -> None:
    base = {"x.psd": blobs(("ptr", 1)), "y.txt": blobs("old\n")}
    ours = {"y.txt": blobs("ours\n")}
    theirs = {"x.psd": blobs(("ptr", 2))}
    result = _merge(vault, base, ours, theirs)
    assert result.tree == {"x.psd": theirs["x.psd"], "y.txt": ours["y.txt"]}
    assert result.kept == [KeptChange("x.psd", "ours"), KeptChange("y.txt", "theirs")]
    assert result.conflicts == []
    assert result.kept[0].describe("main", "field/laptop") == \
        "kept changed: x.psd (deleted in main, changed in field/laptop)"
    assert result.kept[1].describe("main", "field/laptop") == \
        "kept changed: y.txt (deleted in field/laptop, changed in main)"
    assert result.kept[0].to_json() == {"path": "x.psd", "deleted_by": "ours",
                                        "kind": "modify/delete"}


def test_binary_changed_on_both_sides_keeps_both(vault: cv.Vault, blobs) -> None:
    base = {"art/hero.psd": blobs(("ptr", 1)), "plate.png": blobs(b"\x89PNG\0old")}
    ours = {"art/hero.psd": blobs(("ptr", 2)), "plate.png": blobs(b"\x89PNG\0ours"),
            "new.tif": blobs(("ptr", 7))}
    theirs = {"art/hero.psd": blobs(("ptr", 3)), "plate.png": blobs(b"\x89PNG\0theirs"),
              "new.tif": blobs(("ptr", 8))}
    result = _merge(vault, base, ours, theirs)
    copy = "art/hero (conflicted copy from field-laptop).psd"
    assert result.tree == {
        "art/hero.psd": ours["art/hero.psd"], copy: theirs["art/hero.psd"],
        "plate.png": ours["plate.png"],
        "plate (conflicted copy from field-laptop).png": theirs["plate.png"],
        "new.tif": ours["new.tif"],
        "new (conflicted copy from field-laptop).tif": theirs["new.tif"]}
    assert result.conflicts == [
        KeptBoth("art/hero.psd", copy, "both-modified"),
        KeptBoth("new.tif", "new (conflicted copy from field-laptop).tif", "both-added"),
        KeptBoth("plate.png", "plate (conflicted copy from field-laptop).png",
                 "both-modified")]
    assert result.conflicts[0].describe() == \
        f'kept both: art/hero.psd (theirs as "{copy}")'


def test_copy_name_already_in_the_tree_gets_a_number(vault: cv.Vault, blobs) -> None:
    first = "hero (conflicted copy from field-laptop).psd"
    base = {"hero.psd": blobs(("ptr", 1)), first: blobs(("ptr", 9))}
    ours = {"hero.psd": blobs(("ptr", 2)), first: base[first]}
    theirs = {"hero.psd": blobs(("ptr", 3)), first: base[first]}
    result = _merge(vault, base, ours, theirs)
    second = "hero (conflicted copy from field-laptop 2).psd"
    assert result.tree[first] == base[first] and result.tree[second] == theirs["hero.psd"]


def test_text_merges_cleanly_or_is_kept_both_ways(vault: cv.Vault, blobs) -> None:
    base = {"notes.txt": blobs(BASE_TEXT), "shot.usda": blobs(BASE_TEXT)}
    ours = {"notes.txt": blobs(_edit(BASE_TEXT, 1, b"ours\n")),
            "shot.usda": blobs(_edit(BASE_TEXT, 4, b"ours\n"))}
    theirs = {"notes.txt": blobs(_edit(BASE_TEXT, 10, b"theirs\n")),
              "shot.usda": blobs(_edit(BASE_TEXT, 4, b"theirs\n"))}
    result = _merge(vault, base, ours, theirs)
    merged = vault.git.read_blob(result.tree["notes.txt"].blob_id)
    assert merged == _edit(_edit(BASE_TEXT, 1, b"ours\n"), 10, b"theirs\n")
    assert result.text_merged == ["notes.txt"]
    copy = "shot (conflicted copy from field-laptop).usda"
    assert result.tree["shot.usda"] == ours["shot.usda"] and result.tree[copy] == \
        theirs["shot.usda"]
    assert result.conflicts == [KeptBoth("shot.usda", copy, "text-conflict")]
    for entry in result.tree.values():
        assert b"<<<<<<<" not in vault.git.read_blob(entry.blob_id)


def test_text_with_a_nul_byte_or_a_pointer_side_is_not_merged_by_lines(vault: cv.Vault,
                                                                       blobs) -> None:
    base = {"a.dat": blobs(BASE_TEXT), "b.txt": blobs(BASE_TEXT)}
    ours = {"a.dat": blobs(_edit(BASE_TEXT, 1, b"\0ours\n")), "b.txt": blobs(("ptr", 4))}
    theirs = {"a.dat": blobs(_edit(BASE_TEXT, 10, b"theirs\n")),
              "b.txt": blobs(_edit(BASE_TEXT, 10, b"theirs\n"))}
    result = _merge(vault, base, ours, theirs)
    assert [c.kind for c in result.conflicts] == ["both-modified", "both-modified"]
    assert result.text_merged == []


def test_mode_changes_merge_with_content_changes(vault: cv.Vault, blobs) -> None:
    script = blobs("#!/bin/sh\necho hi\n")
    base = {"run.sh": script, "tool.sh": script, "link": blobs("target", mode=LINK),
            "same.sh": script}
    ours = {"run.sh": FlatEntry(MODE_EXEC, script.blob_id),  # chmod +x only
            "tool.sh": blobs("#!/bin/sh\necho changed\n"),
            "link": FlatEntry(MODE_EXEC, blobs("other").blob_id),
            "same.sh": FlatEntry(MODE_EXEC, script.blob_id)}
    theirs = {"run.sh": blobs("#!/bin/sh\necho theirs\n"),
              "tool.sh": FlatEntry(MODE_EXEC, script.blob_id),
              "link": blobs("elsewhere", mode=LINK),
              "same.sh": blobs("#!/bin/sh\necho theirs\n")}
    result = _merge(vault, base, ours, theirs)
    assert result.tree["run.sh"] == FlatEntry(MODE_EXEC, theirs["run.sh"].blob_id)
    assert result.tree["tool.sh"] == FlatEntry(MODE_EXEC, ours["tool.sh"].blob_id)
    # a symlink turned into a file on one side and retargeted on the other: both kept
    assert result.tree["link"] == ours["link"]
    assert result.tree["link (conflicted copy from field-laptop)"] == theirs["link"]
    assert result.tree["same.sh"] == FlatEntry(MODE_EXEC, theirs["same.sh"].blob_id)
    # both changed only the mode, the same way; and both made the same content change
    base2 = {"x": script}
    both = {"x": FlatEntry(MODE_EXEC, blobs("new\n").blob_id)}
    assert _merge(vault, base2, both, {"x": FlatEntry(MODE_EXEC, both["x"].blob_id)}
                  ).tree == both
    same_content = _merge(vault, base2, {"x": FlatEntry(MODE_EXEC, script.blob_id)},
                          {"x": FlatEntry(MODE_FILE, blobs("new\n").blob_id)})
    assert same_content.tree == {"x": FlatEntry(MODE_EXEC, blobs("new\n").blob_id)}
    mode_vs_text = _merge(vault, {"x": blobs("a\n")}, {"x": blobs(("ptr", 1))},
                          {"x": FlatEntry(MODE_EXEC, blobs(("ptr", 1)).blob_id)})
    assert mode_vs_text.tree == {"x": FlatEntry(MODE_EXEC, blobs(("ptr", 1)).blob_id)}
    # an executable on one side, a symlink on the other: no mode to agree on
    split = _merge(vault, {"x": script}, {"x": FlatEntry(MODE_EXEC, script.blob_id)},
                   {"x": FlatEntry(LINK, script.blob_id)})
    assert split.conflicts == [KeptBoth("x", "x (conflicted copy from field-laptop)",
                                        "both-modified")]


def test_a_file_where_the_other_side_made_a_folder(vault: cv.Vault, blobs) -> None:
    base = {"keep.txt": blobs("k\n")}
    ours = {**base, "shots": blobs(("ptr", 1)), "plates/a.png": blobs(("ptr", 2))}
    theirs = {**base, "shots/001.png": blobs(("ptr", 3)), "shots/002.png": blobs(("ptr", 4)),
              "plates": blobs(("ptr", 5))}
    result = _merge(vault, base, ours, theirs)
    assert result.tree == {
        "keep.txt": base["keep.txt"], "shots": ours["shots"],
        "shots (conflicted copy from field-laptop)/001.png": theirs["shots/001.png"],
        "shots (conflicted copy from field-laptop)/002.png": theirs["shots/002.png"],
        "plates/a.png": ours["plates/a.png"],
        "plates (conflicted copy from field-laptop)": theirs["plates"]}
    assert {c.kind for c in result.conflicts} == {"file-folder"}
    assert "file and folder" in result.conflicts[0].describe()
    vault.git.write_tree(result.tree)  # a valid tree


# ------------------------------------------------------------------------ merge base
def test_merge_base_of_diverged_and_unrelated_histories(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    base = commit_all(vault, "base").id
    vault.branch("side")
    write(proj / "a.txt", "main\n")
    ours = commit_all(vault, "main").id
    vault.checkout("side")
    write(proj / "b.txt", "side\n")
    theirs = commit_all(vault, "side").id
    assert merge_base(vault.git, ours, theirs) == base
    assert merge_base(vault.git, ours, base) == base
    lonely = vault.git.create_commit(vault.git.write_tree({}), [], "unrelated")
    assert merge_base(vault.git, ours, lonely) is None
    orphan = vault.git.create_commit(vault.git.write_tree({}), ["0" * 39 + "1"], "orphan")
    with pytest.raises(GitError, match="merge base"):
        merge_base(vault.git, ours, orphan)


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, so commit ids depend on nothing but what the test writes."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_merge_base_is_not_an_ancestor_of_another_common_ancestor(vault: cv.Vault,
                                                                   utc: None) -> None:
    """main: B-S1-S; field: B-F1-M-D with M merging S. The base of S and D is S alone (a
    fast-forward), however the commits are dated. Made in one second, dulwich's search
    orders them by id and, for some ids, returns B as well; the newest of the two by
    (time, id) was then B about half the time (the merge test that failed under load).
    In UTC, 6 of these 100 histories did that."""
    git = vault.git
    tree = git.write_tree({})
    for i in range(100):
        def commit(name: str, *parents: str, i: int = i) -> str:
            return git.create_commit(tree, list(parents), f"{name} {i}", when=1_700_000_000)

        base = commit("base")
        shot = commit("shot", commit("studio", base))
        drop = commit("drop", commit("merge", commit("field", base), shot))
        assert merge_base(git, shot, drop) == shot, i
        assert merge_base(git, drop, shot) == shot, i


# ------------------------------------------------------------------------ Vault.merge
def _diverged(vault: cv.Vault, proj: Path) -> dict[str, bytes]:
    """main and field/laptop both changed hero.psd; returns the three versions."""
    versions = {n: creative_bytes("hero.psd", 300_000, seed=s)
                for n, s in (("base", 1), ("ours", 2), ("theirs", 3))}
    write(proj / "hero.psd", versions["base"])
    write(proj / "notes.txt", BASE_TEXT)
    commit_all(vault, "base")
    vault.branch("field/laptop")
    write(proj / "hero.psd", versions["ours"])
    write(proj / "notes.txt", _edit(BASE_TEXT, 1, b"studio\n"))
    commit_all(vault, "studio")
    vault.checkout("field/laptop")
    write(proj / "hero.psd", versions["theirs"])
    write(proj / "notes.txt", _edit(BASE_TEXT, 10, b"field\n"))
    commit_all(vault, "field")
    vault.checkout("main")
    return versions


def test_vault_merge_writes_a_merge_commit_and_both_versions(vault: cv.Vault,
                                                             proj: Path) -> None:
    versions = _diverged(vault, proj)
    old = vault.git.head_commit()
    theirs = vault.resolve("field/laptop")
    report = vault.merge("field/laptop")
    assert report.kind == "merge" and report.commit == vault.git.head_commit()
    assert vault.git.commit(report.commit).parents == (old, theirs)
    copy = proj / "hero (conflicted copy from field-laptop).psd"
    assert (proj / "hero.psd").read_bytes() == versions["ours"]
    assert copy.read_bytes() == versions["theirs"]
    assert (proj / "notes.txt").read_bytes() == \
        _edit(_edit(BASE_TEXT, 1, b"studio\n"), 10, b"field\n")
    assert vault.git.commit(report.commit).message == (
        "Merge field/laptop into main\n\n"
        'kept both: hero.psd (theirs as "hero (conflicted copy from field-laptop).psd")\n')
    assert report.text_merged == ["notes.txt"] and report.missing == []
    assert vault.status().clean
    assert_git_clean(proj)
    reflog = vault.git.reflog("refs/heads/main")[0]
    assert reflog[3].startswith("merge field/laptop: Merge made by cvault (1 kept both)")
    data = report.to_json()
    assert data["conflicts"][0]["kind"] == "both-modified" and data["kind"] == "merge"
    # merging again: nothing to do
    again = vault.merge("field/laptop")
    assert again.kind == "up-to-date" and again.head == report.commit


def test_vault_merge_message_option_keeps_the_kept_both_lines(vault: cv.Vault,
                                                              proj: Path) -> None:
    _diverged(vault, proj)
    report = vault.merge("field/laptop", message="Field week 12\n")
    message = vault.git.commit(report.commit).message
    assert message.startswith("Field week 12\n\nkept both: hero.psd")


def test_vault_merge_refuses_over_uncommitted_changes(vault: cv.Vault, proj: Path) -> None:
    _diverged(vault, proj)
    head = vault.git.head_commit()
    write(proj / "notes.txt", "unsaved notes\n")  # the merge would rewrite notes.txt
    with pytest.raises(WorktreeError, match="cvault commit") as info:
        vault.merge("field/laptop")
    assert info.value.path == "notes.txt"
    assert (proj / "notes.txt").read_text() == "unsaved notes\n"
    assert vault.git.head_commit() == head
    assert not (proj / "hero (conflicted copy from field-laptop).psd").exists()
    # staged changes and deletions count as well
    vault.add(["notes.txt"])
    with pytest.raises(WorktreeError):
        vault.merge("field/laptop")
    vault.restore(["notes.txt"], staged=True)
    vault.restore(["notes.txt"])
    (proj / "notes.txt").unlink()
    with pytest.raises(WorktreeError) as info:
        vault.merge("field/laptop")
    assert info.value.path == "notes.txt"
    vault.restore(["notes.txt"])
    assert vault.merge("field/laptop").kind == "merge"


def test_vault_merge_allows_a_local_deletion_the_merge_also_makes(vault: cv.Vault,
                                                                   proj: Path) -> None:
    _diverged(vault, proj)
    write(proj / "shot.txt", "s\n")
    commit_all(vault, "shot on main")
    vault.checkout("field/laptop")
    vault.merge("main")  # field has shot.txt too now, then deletes it
    vault.rm(["shot.txt"])
    vault.commit("field drops the shot")
    vault.checkout("main")
    (proj / "shot.txt").unlink()  # deleted here too, not committed
    report = vault.merge("field/laptop")
    assert report.kind == "fast-forward" and "shot.txt" in report.deleted
    assert vault.status().clean


def test_vault_merge_carries_changes_to_files_it_does_not_change(vault: cv.Vault,
                                                                  proj: Path) -> None:
    _diverged(vault, proj)
    write(proj / "hero.psd", b"8BPS unsaved work")  # ours stays at hero.psd: not touched
    write(proj / "other.txt", "untracked\n")
    report = vault.merge("field/laptop")
    assert report.kind == "merge" and report.rescued is None
    assert (proj / "hero.psd").read_bytes() == b"8BPS unsaved work"
    assert (proj / "other.txt").read_text() == "untracked\n"
    assert [c.path for c in vault.status().unstaged] == ["hero.psd"]


def test_vault_merge_copy_name_avoids_an_untracked_file(vault: cv.Vault, proj: Path) -> None:
    versions = _diverged(vault, proj)
    write(proj / "hero (conflicted copy from field-laptop).psd", b"someone's own file")
    report = vault.merge("field/laptop")
    assert report.conflicts[0].kept_as == "hero (conflicted copy from field-laptop 2).psd"
    assert (proj / "hero (conflicted copy from field-laptop).psd").read_bytes() == \
        b"someone's own file"
    assert (proj / report.conflicts[0].kept_as).read_bytes() == versions["theirs"]
    assert report.rescued is None


def test_vault_merge_rescues_an_untracked_file_in_the_way(vault: cv.Vault, proj: Path) -> None:
    _diverged(vault, proj)
    vault.checkout("field/laptop")
    write(proj / "plate.png", creative_bytes("plate.png", 50_000, seed=7))
    commit_all(vault, "plate")
    vault.checkout("main")
    write(proj / "plate.png", b"my own plate")
    report = vault.merge("field/laptop")
    assert report.rescued is not None and report.rescued.paths == ["plate.png"]
    assert "before merge field/laptop" in report.rescued.reason
    assert (proj / "plate.png").read_bytes() == creative_bytes("plate.png", 50_000, seed=7)


def test_vault_merge_fast_forward_and_up_to_date(vault: cv.Vault, proj: Path) -> None:
    write(proj / "plate.png", creative_bytes("plate.png", 200_000, seed=1))
    first = commit_all(vault, "first").id
    vault.checkout("field/cam", create=True)
    write(proj / "plate.png", creative_bytes("plate.png", 200_000, seed=2))
    write(proj / "new.tif", creative_bytes("new.tif", 100_000, seed=3))
    tip = commit_all(vault, "field").id
    vault.checkout("main")
    assert vault.merge("main").kind == "up-to-date"
    report = vault.merge("field/cam")
    assert report.kind == "fast-forward" and report.commit is None
    assert vault.git.head_commit() == tip and vault.git.head_branch() == "main"
    assert report.old_head == first and sorted(report.written) == ["new.tif", "plate.png"]
    assert sha(proj / "plate.png") == hashlib.sha256(
        creative_bytes("plate.png", 200_000, seed=2)).hexdigest()
    assert vault.git.reflog("refs/heads/main")[0][3] == "merge field/cam: Fast-forward"
    assert vault.status().clean
    assert vault.merge(first).kind == "up-to-date"


def test_vault_merge_into_an_unborn_branch_fast_forwards(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    tip = commit_all(vault, "first").id
    vault.git.set_ref("refs/heads/field", tip, "test")
    vault.git.delete_ref("refs/heads/main")
    (proj / "a.txt").unlink()
    vault.git.write_index({})
    report = vault.merge("field")
    assert report.kind == "fast-forward" and vault.git.head_commit() == tip
    assert (proj / "a.txt").read_text() == "a\n"


def test_vault_merge_detached_and_unrelated_are_refused(vault: cv.Vault, proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    first = commit_all(vault, "first").id
    lonely = vault.git.create_commit(vault.git.write_tree(
        {"b.txt": FlatEntry(MODE_FILE, vault.git.add_blob(b"b\n"))}), [], "unrelated")
    vault.git.set_ref("refs/heads/lonely", lonely, "test")
    with pytest.raises(UsageError, match="unrelated histories"):
        vault.merge("lonely")
    report = vault.merge("lonely", allow_unrelated=True)
    assert report.kind == "merge" and report.base is None
    assert (proj / "b.txt").read_text() == "b\n" and (proj / "a.txt").read_text() == "a\n"
    vault.checkout(first)
    with pytest.raises(UsageError, match="detached"):
        vault.merge("lonely")


# ------------------------------------------------------------------------ missing content
def _commit_without_content(vault: cv.Vault, proj: Path, branch: str) -> tuple[str, bytes]:
    """A commit on ``branch`` (from HEAD) adding far.psd whose content is not in the store,
    as a fetch of refs without content leaves it. Returns the pointer text."""
    data = creative_bytes("far.psd", 50_000, seed=42)
    ptr = Pointer(oid=hashlib.sha256(data).hexdigest(), size=len(data),
                  extra={"mtime": "1700000000000000000"}).encode()
    tree = dict(vault.git.commit_tree_flat(vault.git.head_commit()))
    tree["far.psd"] = FlatEntry(MODE_FILE, vault.git.add_blob(ptr))
    commit = vault.git.create_commit(vault.git.write_tree(tree),
                                     [vault.git.head_commit() or ""], "far away")
    vault.git.set_ref(f"refs/heads/{branch}", commit, "test")
    return commit, ptr


def test_checkout_missing_content_errors_or_writes_the_pointer(vault: cv.Vault,
                                                                proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    commit_all(vault, "first")
    _, ptr = _commit_without_content(vault, proj, "far")
    with pytest.raises(ObjectMissingError, match="nothing was changed"):
        vault.checkout("far")
    assert vault.git.head_branch() == "main" and not (proj / "far.psd").exists()
    with pytest.raises(UsageError):
        vault.checkout("far", missing="maybe")
    report = vault.checkout("far", missing="pointer")
    assert report.missing == ["far.psd"] and report.to_json()["missing"] == ["far.psd"]
    assert (proj / "far.psd").read_bytes() == ptr
    assert vault.status().clean
    # the pointer file, even touched, is staged as that content, never as its own bytes
    now = os.stat(proj / "far.psd").st_mtime_ns + 5_000_000_000
    os.utime(proj / "far.psd", ns=(now, now))
    assert vault.status().clean
    vault.add(["far.psd"])
    staged = vault.git.read_index()["far.psd"].sha.decode()
    assert parse_pointer(vault.git.read_blob(staged)).oid == parse_pointer(ptr).oid
    with pytest.raises(UsageError, match="nothing to commit"):
        vault.commit("no change")
    vault.checkout("main")
    assert not (proj / "far.psd").exists()


def test_merge_writes_pointers_for_missing_content_and_warns(vault: cv.Vault,
                                                            proj: Path) -> None:
    write(proj / "a.txt", "a\n")
    commit_all(vault, "first")
    _commit_without_content(vault, proj, "far")
    write(proj / "b.txt", "b\n")
    commit_all(vault, "second")  # diverge: a real merge

    class Warnings(cv.types.Progress):
        def __init__(self) -> None:
            self.messages: list[str] = []

        def warn(self, message: str) -> None:
            self.messages.append(message)

    progress = Warnings()
    report = vault.merge("far", progress=progress)
    assert report.kind == "merge" and report.missing == ["far.psd"]
    assert parse_pointer((proj / "far.psd").read_bytes()).size == 50_000
    assert len(progress.messages) == 1 and "cvault get PATH" in progress.messages[0]
    assert vault.status().clean
    assert git(proj, "status", "--porcelain") == ""
