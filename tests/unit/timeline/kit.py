"""Generated histories for the timeline tests: edits, a rename, a deletion and
re-creation, a field branch merged back, and a version whose content is not here."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import creativevault as cv
from creativevault.repo.gitrepo import FlatEntry, GitRepo
from creativevault.repo.pointer import Pointer
from tests.vaulttools import commit_all, write

__all__ = ["Story", "build_story", "fake_clock", "png_bytes", "png_version"]

T0 = 1_780_000_000


def fake_clock(monkeypatch: pytest.MonkeyPatch, start: int = T0, step: int = 60) -> None:
    """Commits get distinct, increasing times (a minute apart) so order is deterministic."""
    ticks = itertools.count(start, step)
    original = GitRepo.create_commit

    def create_commit(self, tree_id, parents, message, *, author=None, when=None):
        return original(self, tree_id, parents, message, author=author,
                        when=when if when is not None else next(ticks))

    monkeypatch.setattr(GitRepo, "create_commit", create_commit)


def png_version(k: int, size: tuple[int, int] = (128, 96)) -> np.ndarray:
    """Version ``k`` of a painting: a bar that grows by three rows per version."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :] = (40, 80, 120)
    img[8:8 + 3 * k + 2, 10:40] = (250, 200, 0)
    return img


def png_bytes(img: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@dataclass
class Story:
    edits: int
    field_edit: str
    field_missing: str
    merge: str
    missing_id: str


def _set_path(git: GitRepo, commit: str, path: str, blob: str) -> str:
    flat = dict(git.commit_tree_flat(commit))
    flat[path] = FlatEntry(0o100644, blob)
    return git.write_tree(flat)


def build_story(vault: cv.Vault, edits: int = 5) -> Story:
    """main: art.png edited ``edits`` times, renamed to hero.png, deleted, re-created;
    field: one edit, then a version whose content stayed on the drive; merged into main."""
    root = vault.root
    write(root / "notes.txt", "studio notes\n")
    for k in range(edits):
        write(root / "art.png", png_bytes(png_version(k)))
        commit_all(vault, f"paint {k}")
    vault.mv("art.png", "hero.png")
    commit_all(vault, "rename art to hero")
    vault.rm(["hero.png"])
    vault.commit("delete hero")
    write(root / "hero.png", png_bytes(png_version(1, (64, 64))))
    commit_all(vault, "re-create hero")
    vault.checkout("field", create=True)
    write(root / "hero.png", png_bytes(png_version(3, (64, 64))))
    field_edit = commit_all(vault, "field edit").id
    vault.checkout("main")
    write(root / "notes.txt", "studio notes, day 2\n")
    commit_all(vault, "studio notes")
    git = vault.git
    missing_id = random.Random(7).randbytes(32).hex()
    blob = git.add_blob(Pointer(missing_id, 12345).encode())
    field_missing = git.create_commit(_set_path(git, field_edit, "hero.png", blob),
                                      [field_edit], "field: content left on the drive")
    git.update_ref("refs/heads/field", field_missing, field_edit, "test")
    main_head = git.branches()["main"]
    merge = git.create_commit(_set_path(git, main_head, "hero.png", blob),
                              [main_head, field_missing], "Merge branch 'field'")
    git.update_ref("refs/heads/main", merge, main_head, "test")
    return Story(edits, field_edit, field_missing, merge, missing_id)


def story_paths(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())
