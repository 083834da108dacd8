"""Attributes and ignore rules, checked against the real git binary."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from creativevault.errors import UsageError
from creativevault.repo.attributes import (
    BLOCK_BEGIN,
    BLOCK_END,
    DEFAULT_SIZE_THRESHOLD,
    MANAGED_ATTRIBUTES,
    TRACKED_SECTION,
    AttributeRules,
    IgnoreRules,
    add_tracked_path,
    default_attributes_block,
    default_ignore_block,
    ensure_default_blocks,
    extension_pattern,
    track_line,
)
from creativevault.repo.paths import walk_worktree
from tests.conftest import run_git

MIB = 1024 * 1024


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    wt = tmp_path / "project"
    wt.mkdir()
    run_git(wt, "init", "-q")
    return wt


def git_filter(wt: Path, paths: list[str]) -> dict[str, str]:
    """``git check-attr filter`` for each path: driver name, set, unset or unspecified."""
    out = run_git(wt, "check-attr", "-z", "--stdin", "filter",
                  input="\0".join(paths).encode() + b"\0").stdout.decode()
    fields = out.split("\0")
    return {fields[i]: fields[i + 2] for i in range(0, len(fields) - 2, 3)}


def git_ignored(wt: Path, paths: list[str]) -> set[str]:
    proc = run_git(wt, "check-ignore", "-z", "--stdin", check=False,
                   input="\0".join(paths).encode() + b"\0")
    assert proc.returncode in (0, 1), proc.stderr
    return {p for p in proc.stdout.decode().split("\0") if p}


def as_git(value: str | bool | None) -> str:
    return {True: "set", False: "unset", None: "unspecified"}.get(value, value)  # type: ignore[arg-type]


def test_extension_pattern() -> None:
    assert extension_pattern("psd") == "*.[pP][sS][dD]"
    assert extension_pattern("7z") == "*.7[zZ]"
    assert extension_pattern("ktx2") == "*.[kK][tT][xX]2"


def test_default_block_contents() -> None:
    attrs = default_attributes_block()
    assert attrs.startswith(BLOCK_BEGIN + "\n") and attrs.endswith(BLOCK_END + "\n")
    assert f"*.[pP][sS][dD] {MANAGED_ATTRIBUTES}\n" in attrs
    assert "\r" not in attrs
    for text_ext in ("usda", "ma", "obj", "mtl", "nk", "xmp", "json", "gltf", "usd"):
        assert f"{extension_pattern(text_ext)} " not in attrs
    ignore = default_ignore_block()
    for pattern in ("*.blend1", ".DS_Store", "Thumbs.db", "*.kra~", "PSAutoRecover/",
                    "*.lrdata/", "CaptureOne/Cache/", ".~lock.*#"):
        assert f"\n{pattern}\n" in ignore


def test_ensure_default_blocks_is_idempotent_and_keeps_user_lines(repo: Path) -> None:
    (repo / ".gitattributes").write_bytes(b"*.png -filter\r\nnotes/*.txt text\r\n")
    changed = ensure_default_blocks(repo)
    assert changed == [repo / ".gitattributes", repo / ".gitignore"]
    text = (repo / ".gitattributes").read_bytes().decode()
    assert text.startswith(default_attributes_block())
    assert text.endswith("\n*.png -filter\r\nnotes/*.txt text\r\n")
    assert (repo / ".gitignore").read_text() == default_ignore_block()
    assert ensure_default_blocks(repo) == []

    # An outdated block is replaced in place; user lines around it stay.
    stale = ("# mine first\n" + BLOCK_BEGIN + "\n*.old filter=cvault\n" + BLOCK_END + "\n"
             "# mine after\n")
    (repo / ".gitignore").write_text(stale)
    assert ensure_default_blocks(repo) == [repo / ".gitignore"]
    assert (repo / ".gitignore").read_text() == (
        "# mine first\n" + default_ignore_block() + "# mine after\n")
    assert (repo / ".gitignore").read_text().count(BLOCK_BEGIN) == 1


def test_ensure_default_blocks_repairs_a_stray_marker(repo: Path) -> None:
    (repo / ".gitignore").write_text("build/\n" + BLOCK_BEGIN + "\nkeep-me")
    ensure_default_blocks(repo)
    assert (repo / ".gitignore").read_text() == default_ignore_block() + "\nbuild/\nkeep-me\n"


def test_user_lines_after_the_block_win(repo: Path) -> None:
    ensure_default_blocks(repo)
    with (repo / ".gitattributes").open("a") as f:
        f.write("refs/*.png -filter\n")
    rules = AttributeRules.load(repo)
    assert rules.is_managed("art/a.png", 10)
    assert not rules.is_managed("refs/a.png", 10 * DEFAULT_SIZE_THRESHOLD)


@pytest.mark.parametrize(
    ("relpath", "quoted"),
    [
        ("art/hero.psd", "/art/hero.psd"),
        ("with space/big file.bin", "/with[[:space:]]space/big[[:space:]]file.bin"),
        ("odd/[v1]*final?.bin", "/odd/\\[v1]\\*final\\?.bin"),
        ("back\\slash.bin", "/back\\\\slash.bin"),
        ("#hash!bang.bin", "/#hash!bang.bin"),
        ("caf\u00e9/\u00e9t\u00e9.bin", "/caf\u00e9/\u00e9t\u00e9.bin"),
    ],
)
def test_track_line(relpath: str, quoted: str) -> None:
    assert track_line(relpath) == f"{quoted} {MANAGED_ATTRIBUTES}"


@pytest.mark.parametrize("bad", ["", "/abs", "a\nb", "a\0b"])
def test_track_line_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        track_line(bad)


def test_add_tracked_path_section(repo: Path) -> None:
    assert add_tracked_path(repo, "a.bin") is True
    assert add_tracked_path(repo, "a.bin") is False
    ensure_default_blocks(repo)
    with (repo / ".gitattributes").open("a") as f:
        f.write("\n# user stuff below\n*.cache -filter")
    assert add_tracked_path(repo, "b c.bin") is True
    lines = (repo / ".gitattributes").read_text().splitlines()
    at = lines.index(TRACKED_SECTION)
    assert lines[at + 1:at + 3] == [track_line("a.bin"), track_line("b c.bin")]
    assert lines[-1] == "*.cache -filter"
    assert lines.count(TRACKED_SECTION) == 1


TABLE = [
    "hero.psd", "HERO.PSD", "Hero.Psd", "art/deep/nested/x.kra", "art/deep/NESTED/y.ORA",
    "photos/IMG_0001.CR3", "photos/IMG_0001.cr3", "photos/IMG_0001.xmp",
    "scene/shot.usda", "scene/shot.usdc", "scene/rig.ma", "scene/rig.mb", "scene/mesh.obj",
    "scene/mesh.mtl", "comp/comp.nk", "model.gltf", "model.glb", "data.json", "doc.PDF",
    "archive.tar.gz", "archive.7Z", "textures/t.ktx2", "video/take 01.mov",
    "sub/plain.txt", "sub/override.png", "sub/deeper/override.png", "sub/deeper/keep.psd",
    "anchored.bin", "x/anchored.bin", "only/root.tif", "assets/any/depth/file.abc",
    "assets/file.abc", "with space/big file.bin", "odd/[v1]*final?.bin", "odd/v1xfinalx.bin",
    "caf\u00e9/\u00e9t\u00e9.bin", "unset/thing.psd", "lfs/thing.psd", "bare/thing.psd",
    # nested files: anchored to their own directory, slashed patterns, `**`, `!filter`
    "sub/local.bin", "sub/x/local.bin", "local.bin", "sub/deeper/a.tif", "deeper/a.tif",
    "sub/a/gen/x.bin", "sub/gen/x.bin", "gen/x.bin", "sub/thing.usd", "sub/deeper/thing.usd",
    "sub/bom.bom", "bom.bom",
    # `**` in the middle, at the start and at the end
    "a/b.bin", "a/x/y/b.bin", "x/a/b.bin", "cache/sh/f.exr", "x/y/cache/f.exr", "cache/f.exr",
    "renders/s1/f.raw", "renders/f.raw", "x/renders/f.raw",
    # bracket classes, ranges, negated classes, POSIX classes, case
    "file.dx", "file.ax", "file.Dx", "1.raw", "a.raw", "x/9.raw", "a.psdx", "a.PSDX",
    "A.Psdx", "[pP]", "p",
    # negative patterns are ignored, `\!` is literal, directory-only never matches a file
    "!neg.bin", "neg.bin", "!bang.bin", "dironly/x.bin", "dironly",
    # quoted pattern, invalid attribute name drops the line, `-filter=x`, two filters
    "quoted name.bin", "x/quoted name.bin", "x.inv", "x.dashval", "x.twice",
]


def _rules_fixture(repo: Path) -> None:
    ensure_default_blocks(repo)
    with (repo / ".gitattributes").open("a") as f:
        f.write("/anchored.bin filter=cvault\n"
                "assets/**/*.abc -filter\n"
                "unset/* -filter\n"
                "lfs/* filter=lfs\n"
                "bare/* filter\n")
    for rel in ("with space/big file.bin", "odd/[v1]*final?.bin", "caf\u00e9/\u00e9t\u00e9.bin"):
        add_tracked_path(repo, rel)
    with (repo / ".gitattributes").open("a") as f:
        f.write("a/**/b.bin filter=cvault\n"
                "**/cache/*.exr -filter\n"
                "renders/** filter=lfs\n"
                "*.[!a-c]x filter=cvault\n"
                "[[:digit:]]*.raw filter=cvault\n"
                "*.PSDX filter=cvault\n"
                "\\[pP] filter=cvault\n"
                "!neg.bin filter=cvault\n"
                "\\!bang.bin filter=cvault\n"
                "dironly/ filter=cvault\n"
                '"quoted name.bin" filter=cvault\n'
                "*.inv filter=cvault bad@name\n"
                "*.dashval -filter=x\n"
                "*.twice filter=one filter=two\n"
                "*.usd filter=cvault\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitattributes").write_text(
        "override.png -filter\n*.txt filter=cvault\n/local.bin filter=cvault\n"
        "deeper/*.tif -filter\n**/gen/*.bin filter=cvault\n*.usd !filter\n")
    (repo / "sub" / "deeper").mkdir()
    (repo / "sub" / "deeper" / ".gitattributes").write_bytes(
        b"\xef\xbb\xbf*.bom filter=cvault\n*.png filter=cvault\n*.usd filter=lfs\n")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("/only/root.tif -filter\n")


def test_attribute_rules_agree_with_git_check_attr(repo: Path) -> None:
    _rules_fixture(repo)
    rules = AttributeRules.load(repo)
    expected = git_filter(repo, TABLE)
    assert set(expected) == set(TABLE)
    ours = {path: as_git(rules.filter_value(path)) for path in TABLE}
    assert ours == expected
    # Spot checks of what the table means.
    assert expected["HERO.PSD"] == "cvault"
    assert expected["scene/shot.usda"] == "unspecified"
    assert expected["sub/deeper/override.png"] == "cvault"
    assert expected["sub/override.png"] == "unset"
    assert expected["x/anchored.bin"] == "unspecified"
    assert expected["odd/v1xfinalx.bin"] == "unspecified"
    assert expected["with space/big file.bin"] == "cvault"
    assert expected["only/root.tif"] == "unset"
    assert expected["bare/thing.psd"] == "set"
    assert expected["sub/x/local.bin"] == "unspecified"
    assert expected["sub/thing.usd"] == "unspecified"
    assert expected["!neg.bin"] == "unspecified"
    assert expected["!bang.bin"] == "cvault"
    assert expected["quoted name.bin"] == "cvault"
    assert expected["x.inv"] == "unspecified"
    assert expected["x.twice"] == "two"


def test_macros_agree_with_git_check_attr(repo: Path) -> None:
    """Macros are expanded as git does (only top-level files may define them)."""
    (repo / ".gitattributes").write_text(
        "[attr]vault filter=cvault diff=cvault\n"
        "[attr]outer vault\n"
        "*.v vault\n*.o outer\n*.nv -vault\n*.mix filter=lfs vault\n*.mix2 vault filter=lfs\n"
        "*.blocked vault\nblock/* -vault\n*.bin binary\n*.notmacro notdefined\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitattributes").write_text("[attr]nested filter=cvault\n*.n nested\n"
                                                 "*.s vault\n")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("[attr]vault filter=info\n")
    paths = ["a.v", "a.o", "a.nv", "a.mix", "a.mix2", "block/a.blocked", "a.blocked",
             "sub/a.n", "sub/a.s", "a.bin", "a.notmacro"]
    rules = AttributeRules.load(repo)
    assert {path: as_git(rules.filter_value(path)) for path in paths} == git_filter(repo, paths)
    assert rules.filter_value("a.v") == "info"
    assert rules.attributes("a.bin") == {"binary": True, "diff": False, "merge": False,
                                         "text": False}


def test_is_managed(repo: Path) -> None:
    _rules_fixture(repo)
    rules = AttributeRules.load(repo, threshold=MIB)
    assert rules.threshold == MIB
    assert rules.is_managed("hero.psd", None)
    assert rules.is_managed("hero.psd", 0)
    assert not rules.is_managed("scene/shot.usda", MIB - 1)
    assert rules.is_managed("scene/shot.usda", MIB)
    assert not rules.is_managed("scene/shot.usda", None)
    for path in ("unset/thing.psd", "lfs/thing.psd", "bare/thing.psd", "sub/override.png"):
        assert not rules.is_managed(path, 100 * MIB), path
    # the default block's second line per family names the diff driver
    assert rules.attributes("hero.psd") == {"filter": "cvault", "diff": "cvault-layered",
                                            "merge": "binary", "text": False}
    assert rules.attributes("clip.mp4")["diff"] == "cvault"
    assert rules.attributes("nothing/here.usda") == {}


def test_unspecify_with_bang_falls_back_to_size(repo: Path) -> None:
    (repo / ".gitattributes").write_text("*.psd filter=cvault\nwip/*.psd !filter\n")
    rules = AttributeRules.load(repo)
    assert git_filter(repo, ["wip/a.psd"]) == {"wip/a.psd": "unspecified"}
    assert rules.filter_value("wip/a.psd") is None
    assert not rules.is_managed("wip/a.psd", 1)
    assert rules.is_managed("wip/a.psd", DEFAULT_SIZE_THRESHOLD)


def test_symlinked_gitattributes_is_ignored_like_git(repo: Path) -> None:
    (repo / "real").write_text("*.bin filter=cvault\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitattributes").symlink_to(repo / "real")
    assert git_filter(repo, ["sub/a.bin"]) == {"sub/a.bin": "unspecified"}
    assert AttributeRules.load(repo).filter_value("sub/a.bin") is None


def test_no_attributes_at_all(tmp_path: Path) -> None:
    rules = AttributeRules.load(tmp_path)
    assert rules.filter_value("a.psd") is None
    assert rules.is_managed("a.psd", DEFAULT_SIZE_THRESHOLD)


IGNORE_TABLE = [
    "scene.blend", "scene.blend1", "sub/scene.blend2", "scene.blend@", ".DS_Store",
    "art/.DS_Store", "Thumbs.db", "desktop.ini", "~PSD1234.tmp", "art/hero.psd.tmp",
    "PSAutoRecover/hero.psd", "art/PSAutoRecover/x.psb", "paint.kra~", "paint.kra-autosave.kra",
    ".paint.kra-autosave.kra", "notes.txt~", ".~lock.doc.odt#", "Catalog Previews.lrdata/a.lrprev",
    "photos/CaptureOne/Cache/Proxies/x.cop", "photos/CaptureOne/Settings153/x.cos",
    "photos/IMG_0001.CR3", "._IMG_0001.CR3", "build/out.png", "build/keep.png",
    "sub/local.tmp", "sub/local.txt", "with space/file.png", "x/.mayaSwatches/s.swatch",
    # a directory's own .gitignore does not decide the directory itself
    "all/keep.txt", "all/other.txt", "all/deep/keep.txt", "stars/keep.txt", "stars/x.txt",
    # nothing below an excluded directory can be re-included
    "logs/keep.log", "logs/a.log",
    # directory-only patterns: a file of that name is not matched, a directory is
    "a/tmpdir", "b/tmpdir/x", "b/tmpdir",
    # `**` at the start, middle and end; anchored patterns
    "render/f.exr", "x/y/render/f.exr", "render/f.png", "docs/a/b/draft.md", "docs/draft.md",
    "x/docs/draft.md", "rootonly.txt", "x/rootonly.txt", "out/deep/file", "x/out/file",
    # bracket classes, case, escapes, trailing spaces, nested BOM
    "frame_01.tmp2", "frame_ab.tmp2", "a.LOG", "a.log", "#hash.txt", "!bang.txt",
    "trail.txt", "sp ace ", "nested/a.bom", "nested/a.keep",
]


def _ignore_fixture(repo: Path) -> None:
    ensure_default_blocks(repo)
    with (repo / ".gitignore").open("a") as f:
        f.write("build/*\n!build/keep.png\n"
                "logs/\n!logs/keep.log\n"
                "tmpdir/\n"
                "**/render/*.exr\n"
                "docs/**/draft.*\n"
                "/rootonly.txt\n"
                "out/**\n"
                "frame_[0-9][0-9].tmp2\n"
                "*.LOG\n"
                "\\#hash.txt\n"
                "\\!bang.txt\n"
                "trail.txt   \n"
                "sp\\ ace\\ \n")
    (repo / "sub").mkdir(exist_ok=True)
    (repo / "sub" / ".gitignore").write_text("*.tmp\n")
    (repo / "all").mkdir()
    (repo / "all" / ".gitignore").write_text("*\n!keep.txt\n")
    (repo / "stars").mkdir()
    (repo / "stars" / ".gitignore").write_text("**\n!keep.txt\n")
    (repo / "nested").mkdir()
    (repo / "nested" / ".gitignore").write_bytes(b"\xef\xbb\xbf*.bom\n")
    (repo / ".git" / "info" / "exclude").write_text("with space/\n")
    for rel in IGNORE_TABLE:
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            path.write_bytes(b"x")


def test_ignore_rules_agree_with_git_check_ignore(repo: Path) -> None:
    _ignore_fixture(repo)
    rules = IgnoreRules.load(repo)
    expected = git_ignored(repo, IGNORE_TABLE)
    ours = {path for path in IGNORE_TABLE if rules.is_ignored(path)}
    assert ours == expected
    assert "scene.blend1" in expected and "scene.blend" not in expected
    assert "build/keep.png" not in expected and "build/out.png" in expected
    assert "with space/file.png" in expected
    assert "photos/CaptureOne/Settings153/x.cos" not in expected
    assert "all/keep.txt" not in expected and "all/other.txt" in expected
    assert "stars/keep.txt" not in expected and "logs/keep.log" in expected
    assert "a/tmpdir" not in expected and "b/tmpdir" in expected
    assert "nested/a.bom" in expected


def test_info_exclude_wins_over_core_excludes_file(repo: Path) -> None:
    (repo / "global-ignore").write_text("*.prec\n!keep.top\n")
    run_git(repo, "config", "core.excludesFile", str(repo / "global-ignore"))
    (repo / ".git" / "info" / "exclude").write_text("!keep.prec\n*.top\n")
    (repo / ".gitignore").write_text("!mine.prec\n")
    paths = ["a.prec", "keep.prec", "a.top", "keep.top", "mine.prec"]
    for rel in paths:
        (repo / rel).write_bytes(b"x")
    rules = IgnoreRules.load(repo)
    expected = git_ignored(repo, paths)
    assert {path for path in paths if rules.is_ignored(path)} == expected
    assert expected == {"a.prec", "a.top", "keep.top"}


def test_symlinked_gitignore_is_ignored_like_git(repo: Path) -> None:
    (repo / "real").write_text("*.bin\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitignore").symlink_to(repo / "real")
    (repo / "sub" / "a.bin").write_bytes(b"x")
    assert git_ignored(repo, ["sub/a.bin"]) == set()
    assert not IgnoreRules.load(repo).is_ignored("sub/a.bin")


def _random_paths(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    parts = ["a", "b", "sub", "deeper", "cache", "gen", "renders", "x", "Build", "build",
             "logs", "all"]
    names = ["f", "F", "hero", "1", "~x", ".x", "a b", "#h", "!b", "ke[e]p"]
    exts = [".psd", ".PSD", ".Psd", ".bin", ".exr", ".tmp", ".raw", ".dx", ".ax", ".psdx",
            ".usd", ".log", ".LOG", ".txt", "", "~", ".blend1", ".tmp2", ".twice"]
    paths = set()
    while len(paths) < count:
        dirs = [rng.choice(parts) for _ in range(rng.randrange(4))]
        paths.add("/".join([*dirs, rng.choice(names) + rng.choice(exts)]))
    return sorted(paths)


def test_random_paths_agree_with_git(repo: Path) -> None:
    """Many generated paths: the compiled lookups give git's answers."""
    _rules_fixture(repo)
    _ignore_fixture(repo)
    paths = _random_paths(7, 600)
    rules = AttributeRules.load(repo)
    assert {p: as_git(rules.filter_value(p)) for p in paths} == git_filter(repo, paths)
    ignore = IgnoreRules.load(repo)
    assert {p for p in paths if ignore.is_ignored(p)} == git_ignored(repo, paths)


def test_walk_with_ignore_rules_matches_git_ls_files(repo: Path) -> None:
    _ignore_fixture(repo)
    rules = IgnoreRules.load(repo)
    walked = {rel for rel, _ in walk_worktree(repo, rules.excludes)}
    listed = run_git(repo, "ls-files", "-z", "--others", "--exclude-standard").stdout.decode()
    assert walked == {p for p in listed.split("\0") if p}
    assert "build/keep.png" in walked


def test_ignore_rules_outside_a_repository(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    rules = IgnoreRules.load(tmp_path)
    assert rules.is_ignored("a.tmp") and not rules.is_ignored("a.psd")
