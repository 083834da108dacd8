"""User scenarios end to end through the public API, checked with the real git binary."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest

import creativevault as cv
from creativevault.repo.pointer import parse_pointer
from tests.conftest import run_git
from tests.vaulttools import (
    MB,
    age_all,
    assert_git_clean,
    commit_all,
    creative_bytes,
    git,
    sha,
    write,
)


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "short_film"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def cat_bytes(vault: cv.Vault, spec: str) -> bytes:
    buf = io.BytesIO()
    vault.cat(spec, buf)
    return buf.getvalue()


def test_animation_artist_iterates_and_recovers_an_old_version(proj: Path,
                                                               fixture_file) -> None:
    """Iterate a character sheet, share textures between shots, branch a look, recover."""
    real_psd = fixture_file("psd/group.psd")
    real_kra = fixture_file("krita/example_RGBA.kra")
    with cv.Vault.init(proj) as vault:
        sheet = bytearray(creative_bytes("hero_sheet.psd", 10 * MB, 1))
        tex = creative_bytes("skin.png", 3 * MB, 2)
        write(proj / "characters" / "hero_sheet.psd", bytes(sheet))
        write(proj / "shots" / "sh010" / "tex" / "skin.png", tex)
        write(proj / "shots" / "sh020" / "tex" / "skin.png", tex)
        write(proj / "shots" / "sh010" / "layout.usda", '#usda 1.0\ndef Xform "hero" {}\n')
        shutil.copy(real_psd, proj / "characters" / "group.psd")
        shutil.copy(real_kra, proj / "characters" / "paintover.kra")
        versions = [bytes(sheet)]
        commit_all(vault, "blocking")
        stored_after_first = vault.store.stats().pack_bytes
        for i in range(1, 4):  # three small paint passes on the sheet
            at = i * 2 * MB
            sheet[at:at + 4096] = os.urandom(4096)
            versions.append(bytes(sheet))
            write(proj / "characters" / "hero_sheet.psd", bytes(sheet))
            commit_all(vault, f"paint pass {i}")
        growth = vault.store.stats().pack_bytes - stored_after_first
        assert growth < 3 * 2.5 * MB  # never a whole new copy per pass
        log = vault.log(paths=["characters/hero_sheet.psd"])
        assert [c.subject for c in log] == ["paint pass 3", "paint pass 2", "paint pass 1",
                                            "blocking"]
        assert git(proj, "log", "--format=%s").split("\n")[:4] == [
            "paint pass 3", "paint pass 2", "paint pass 1", "blocking"]
        for n, commit in enumerate(reversed(log)):
            assert cat_bytes(vault, f"{commit.id}:characters/hero_sheet.psd") == versions[n]

        # an alternative look on a branch, then back to main
        vault.checkout("look/red", create=True)
        red = creative_bytes("skin.png", 3 * MB, 3)
        write(proj / "shots" / "sh010" / "tex" / "skin.png", red)
        commit_all(vault, "red skin for sh010")
        vault.checkout("main")
        assert (proj / "shots" / "sh010" / "tex" / "skin.png").read_bytes() == tex

        # today's unsaved work, then pull the blocking version back: nothing is lost
        today = bytearray(versions[-1])
        today[5 * MB:5 * MB + 100] = b"\x00" * 100
        write(proj / "characters" / "hero_sheet.psd", bytes(today))
        report = vault.restore(["characters/hero_sheet.psd"], source=log[-1].id)
        assert report.rescued is not None
        assert (proj / "characters" / "hero_sheet.psd").read_bytes() == versions[0]
        vault.rescue_restore()
        assert (proj / "characters" / "hero_sheet.psd").read_bytes() == bytes(today)
        commit_all(vault, "today's pass")

        stats = vault.stats()
        assert stats.commits == 6 and stats.ratio > 3
        for rel, src in (("characters/group.psd", real_psd),
                         ("characters/paintover.kra", real_kra)):
            assert cat_bytes(vault, f"HEAD:{rel}") == src.read_bytes()
            assert parse_pointer(run_git(proj, "cat-file", "-p", f"HEAD:{rel}").stdout).oid \
                == sha(src)
        assert vault.fsck().ok
        assert vault.status().clean
    assert_git_clean(proj)
    assert git(proj, "cat-file", "-p", "HEAD:shots/sh010/layout.usda").startswith("#usda")


def test_field_photographer_dumps_cards_and_culls(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  fixture_file) -> None:
    """RAW+JPEG bursts and XMP sidecars on a field branch; rejects removed and collected."""
    root = tmp_path / "expedition"
    root.mkdir()
    monkeypatch.chdir(root)
    photos = fixture_file("photo")
    with cv.Vault.init(root) as vault:
        write(root / "README.txt", "Svalbard, day 1\n")
        commit_all(vault, "start")
        vault.checkout("field/cam1", create=True)
        base = creative_bytes("frame.nef", 4 * MB, 10)
        expected: dict[str, str] = {}
        for n in range(6):  # a burst: near-identical frames
            frame = bytearray(base)
            frame[3 * MB + n * 1000: 3 * MB + n * 1000 + 500] = os.urandom(500)
            raw = write(root / "2024-06-01" / f"DSC_{n:04d}.NEF", bytes(frame))
            jpg = write(root / "2024-06-01" / f"DSC_{n:04d}.JPG",
                        creative_bytes("x.jpg", MB // 2, 100 + n))
            xmp = write(root / "2024-06-01" / f"DSC_{n:04d}.xmp",
                        f'<x:xmpmeta><xmp:Rating>{n % 5}</xmp:Rating></x:xmpmeta>\n')
            for p in (raw, jpg, xmp):
                expected[p.relative_to(root).as_posix()] = sha(p)
        for name in ("Nikon.nef", "Nikon.jpg", "CanonRaw.cr2", "DNG.dng", "XMP.xmp"):
            if (photos / name).exists():
                dst = root / "2024-06-02" / name
                dst.parent.mkdir(exist_ok=True)
                shutil.copy(photos / name, dst)
                expected[dst.relative_to(root).as_posix()] = sha(dst)
        age_all(root)
        report = vault.add(["2024-06-01", "2024-06-02"])
        # six RAW frames of 4 MB sharing nearly all chunks: far below 24 MB stored
        assert report.added_bytes < 4 * MB + 6 * 1.2 * MB + 4 * MB
        card1 = vault.commit("card 1")
        assert "<xmp:Rating>" in git(root, "cat-file", "-p", "HEAD:2024-06-01/DSC_0000.xmp")
        assert "oid sha256:" in git(root, "cat-file", "-p", "HEAD:2024-06-01/DSC_0000.NEF")

        # cull: rejects go, a rating changes in a sidecar
        rejects = [f"2024-06-01/DSC_{n:04d}.{ext}" for n in (4, 5) for ext in ("NEF", "JPG")]
        assert vault.rm(rejects) == sorted(rejects)
        write(root / "2024-06-01" / "DSC_0000.xmp",
              "<x:xmpmeta><xmp:Rating>5</xmp:Rating></x:xmpmeta>\n")
        cull = vault.commit("cull", all=True)
        _, changes = vault.show(cull.id)
        assert sorted(c.path for c in changes if c.kind == "deleted") == sorted(rejects)
        assert [c.path for c in changes if c.kind == "modified"] == ["2024-06-01/DSC_0000.xmp"]

        # back at the studio: main takes the field branch, the card is still complete
        vault.checkout("main")
        assert not (root / "2024-06-01").exists()
        vault.checkout(card1.id)
        for rel, digest in expected.items():
            assert sha(root / rel) == digest, rel
        vault.checkout("field/cam1")
        assert not (root / "2024-06-01" / "DSC_0005.NEF").exists()
        assert vault.status().clean
        assert vault.fsck().ok
        gc = vault.gc(grace_seconds=0)  # history still holds the rejects: nothing goes
        assert gc.removed_manifests == 0
        digest = hashlib.sha256(cat_bytes(vault, f"{card1.id}:2024-06-01/DSC_0005.NEF"))
        assert digest.hexdigest() == expected["2024-06-01/DSC_0005.NEF"]
    assert_git_clean(root)
    assert git(root, "branch", "--format=%(refname:short)").split() == ["field/cam1", "main"]
