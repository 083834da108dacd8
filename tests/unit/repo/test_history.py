"""The one-pass history walk: order, renames, deletions, merges, branches, cost."""

from __future__ import annotations

import pytest

from creativevault.repo.gitrepo import FlatEntry
from creativevault.repo.history import file_history, project_history, walk_graph
from tests.unit.timeline.kit import build_story, fake_clock
from tests.vaulttools import commit_all, write


@pytest.fixture
def story(vault, monkeypatch):
    fake_clock(monkeypatch)
    return build_story(vault, edits=3)


def _tips(vault, *names):
    branches = vault.git.branches()
    return [(n, branches[n]) for n in names]


def test_versions_follow_renames_deletions_and_merges(vault, story) -> None:
    h = file_history(vault.git, "hero.png", _tips(vault, "main"),
                     labels=_tips(vault, "main", "field"))
    got = [(v.kind, v.path, v.branch, v.commit.message.strip()) for v in h.versions]
    assert got == [
        ("added", "art.png", "main", "paint 0"),
        ("modified", "art.png", "main", "paint 1"),
        ("modified", "art.png", "main", "paint 2"),
        ("renamed", "hero.png", "main", "rename art to hero"),
        ("deleted", "hero.png", "main", "delete hero"),
        ("added", "hero.png", "main", "re-create hero"),
        ("modified", "hero.png", "field", "field edit"),
        ("modified", "hero.png", "field", "field: content left on the drive"),
    ]  # the merge took field's version unchanged: no entry of its own
    renamed = h.versions[3]
    assert renamed.old_path == "art.png"
    assert renamed.previous is not None
    assert renamed.previous.content_id == renamed.content.content_id
    assert h.versions[4].content is None and h.versions[4].previous is not None
    assert h.versions[-1].content.file_id == story.missing_id
    times = [v.commit.commit_time for v in h.versions]
    assert times == sorted(times)


def test_branch_walk_and_labels(vault, story) -> None:
    field_only = file_history(vault.git, "hero.png", _tips(vault, "field"))
    assert [v.branch for v in field_only.versions][-2:] == ["field", "field"]
    # without labels, commits reached through a merge's second parent take the tip's name
    plain = file_history(vault.git, "hero.png", _tips(vault, "main"))
    assert {v.branch for v in plain.versions} == {"main"}


def test_cost_is_one_diff_per_parent(vault, story) -> None:
    h = file_history(vault.git, "hero.png", _tips(vault, "main"))
    commits = len(h.graph.order)
    merges = sum(1 for c in h.graph.commits.values() if len(c.parents) > 1)
    assert h.tree_diffs <= commits + merges


def test_graph_order_puts_parents_first(vault, story) -> None:
    g = walk_graph(vault.git, _tips(vault, "main", "field"))
    pos = {c: i for i, c in enumerate(g.order)}
    for cid, c in g.commits.items():
        assert all(pos[p] < pos[cid] for p in c.parents)
    assert g.branch_of[story.field_edit] == "field"
    assert g.branch_of[story.merge] == "main"


def test_since_cuts_older_versions(vault, story) -> None:
    g = walk_graph(vault.git, _tips(vault, "main"))
    cut = g.commits[g.order[4]].commit_time
    h = file_history(vault.git, "hero.png", _tips(vault, "main"), since=cut)
    assert h.versions and all(v.commit.commit_time >= cut for v in h.versions)
    assert len(h.versions) < 8


def test_project_history_lists_changed_files(vault, story) -> None:
    commits = project_history(vault.git, _tips(vault, "main"),
                              labels=_tips(vault, "main", "field"))
    by_msg = {c.commit.message.strip(): c for c in commits}
    first = by_msg["paint 0"]
    assert {ch.path for ch in first.changes} >= {"art.png", "notes.txt"}
    ren = by_msg["rename art to hero"].changes
    assert [(c.kind, c.path, c.old_path) for c in ren] == [("renamed", "hero.png", "art.png")]
    assert [c.kind for c in by_msg["delete hero"].changes] == ["deleted"]
    assert by_msg["field edit"].branch == "field"
    merge = by_msg["Merge branch 'field'"]
    assert [c.path for c in merge.changes] == ["hero.png"]  # against its first parent
    only = project_history(vault.git, _tips(vault, "main"), paths=["notes.txt"])
    assert all(ch.path == "notes.txt" for c in only for ch in c.changes)
    assert len(only) == 2


def test_a_move_that_also_edits_is_followed_by_name(vault, monkeypatch) -> None:
    fake_clock(monkeypatch)
    write(vault.root / "a" / "shot.txt", "v1\n")
    write(vault.root / "b" / "other.txt", "x\n")
    commit_all(vault, "one")
    vault.mv("a/shot.txt", "b/shot.txt")
    write(vault.root / "b" / "shot.txt", "v2, moved and edited\n")
    commit_all(vault, "move and edit")
    h = file_history(vault.git, "b/shot.txt", _tips(vault, "main"))
    assert [(v.kind, v.old_path) for v in h.versions] == [("added", None),
                                                          ("renamed", "a/shot.txt")]


def test_a_merge_with_its_own_result_is_a_version(vault, monkeypatch) -> None:
    fake_clock(monkeypatch)
    write(vault.root / "f.txt", "base\n")
    base = commit_all(vault, "base").id
    vault.checkout("side", create=True)
    write(vault.root / "f.txt", "side\n")
    side = commit_all(vault, "side").id
    vault.checkout("main")
    write(vault.root / "f.txt", "main\n")
    main = commit_all(vault, "main").id
    git = vault.git
    flat = dict(git.commit_tree_flat(main))
    flat["f.txt"] = FlatEntry(0o100644, git.add_blob(b"resolved\n"))
    merge = git.create_commit(git.write_tree(flat), [main, side], "merge")
    h = file_history(git, "f.txt", [("main", merge)])
    assert [v.kind for v in h.versions] == ["added", "modified", "modified", "merged"]
    assert h.versions[-1].previous.blob_id == flat_blob(git, main)
    assert base in h.graph.commits


def flat_blob(git, commit: str) -> str:
    return git.commit_tree_flat(commit)["f.txt"].blob_id


def test_a_walk_from_nothing_is_empty(vault) -> None:
    assert walk_graph(vault.git, []).order == []
    h = file_history(vault.git, "x.png", [])
    assert h.versions == []
