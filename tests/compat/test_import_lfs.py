"""``cvault import-lfs`` on repositories made by the real git-lfs.

The repositories are built with the installed ``git lfs`` (Debian's ``git-lfs`` package),
so the pointers, the ``.git/lfs/objects`` layout, the attributes and the hooks are the
ones git-lfs really writes. cvault runs in-process; git and git-lfs run as binaries.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from creativevault.cli.main import main
from creativevault.repo.lfs import rewrite_lfs_attributes
from creativevault.repo.vault import Vault
from tests.conftest import run_git
from tests.vaulttools import MB, creative_bytes, write

CVAULT_FIRST_LINE = "version https://creativevault.dev/spec/v1"
LFS_FIRST_LINE = "version https://git-lfs.github.com/spec/v1"

needs_git_lfs = pytest.mark.skipif(
    shutil.which("git-lfs") is None,
    reason="git-lfs is not installed (apt-get install git-lfs); these tests drive the real "
           "git-lfs to build the repositories they import")


def git(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args).stdout.decode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def object_path(root: Path, oid: str) -> Path:
    return root / ".git" / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid


@pytest.fixture
def cv(monkeypatch, capsys):
    """Run cvault in-process in ``cwd``; check the exit code; return (stdout, stderr)."""

    def run(cwd: Path, *args: str, code: int = 0) -> tuple[str, str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        buf = io.StringIO()
        got = main(list(args), out=buf)
        err = capsys.readouterr().err
        assert got == code, (args, got, err)
        return buf.getvalue(), err

    return run


def import_json(cv, root: Path, *extra: str, code: int = 0) -> dict:
    out, _ = cv(root, "import-lfs", "--json", *extra, code=code)
    return json.loads(out)


class LfsRepo:
    """A git-lfs repository: three versions of art.psd (v3 on branch ``alt``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = {name: creative_bytes("art.psd", size, seed)
                         for name, size, seed in (("v1", 2 * MB + 123, 1),
                                                  ("v2", 2 * MB + 4567, 2),
                                                  ("v3", 3 * MB - 89, 3))}
        self.commits: dict[str, str] = {}

    def build(self) -> LfsRepo:
        root = self.root
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        git(root, "lfs", "install", "--local")
        git(root, "lfs", "track", "*.psd")
        write(root / "art.psd", self.versions["v1"])
        write(root / "notes.txt", "first notes\n")
        git(root, "add", ".gitattributes", "art.psd", "notes.txt")
        git(root, "commit", "-q", "-m", "v1")
        self.commits["v1"] = git(root, "rev-parse", "HEAD").strip()
        write(root / "art.psd", self.versions["v2"], age=90)
        write(root / "notes.txt", "second notes\n", age=90)
        git(root, "commit", "-q", "-a", "-m", "v2")
        self.commits["v2"] = git(root, "rev-parse", "HEAD").strip()
        git(root, "tag", "-a", "-m", "release", "release-2")
        git(root, "checkout", "-q", "-b", "alt")
        write(root / "art.psd", self.versions["v3"], age=80)
        git(root, "commit", "-q", "-a", "-m", "v3")
        self.commits["v3"] = git(root, "rev-parse", "HEAD").strip()
        git(root, "checkout", "-q", "main")
        # what git-lfs made: pointers in git, objects under .git/lfs/objects
        assert git(root, "show", "HEAD:art.psd").startswith(LFS_FIRST_LINE)
        for data in self.versions.values():
            assert object_path(root, sha256(data)).read_bytes() == data
        return self

    def oid(self, version: str) -> str:
        return sha256(self.versions[version])

    def refs(self) -> str:
        return git(self.root, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.fixture
def lfs_repo(tmp_path: Path) -> LfsRepo:
    if shutil.which("git-lfs") is None:
        pytest.skip("git-lfs is not installed (apt-get install git-lfs)")
    return LfsRepo(tmp_path / "lfsproj").build()


# ----------------------------------------------------------------------------- scenario
@needs_git_lfs
def test_import_keeps_history_and_cvault_takes_over(lfs_repo: LfsRepo, cv) -> None:
    root = lfs_repo.root
    refs_before = lfs_repo.refs()

    report = import_json(cv, root)
    assert report["objects_found"] == 3
    assert report["objects_stored"] == 3
    assert report["bytes_stored"] == sum(len(d) for d in lfs_repo.versions.values())
    assert report["already_present"] == 0
    assert report["bad_objects"] == []
    assert report["pointers_in_history"] == 3
    assert report["missing"] == []
    assert report["adopted"] is True
    assert report["attributes_rewritten"] == [".gitattributes"]
    assert report["attribute_lines"] == 1

    # history untouched; only the attributes (and cvault's new .gitignore) changed
    assert lfs_repo.refs() == refs_before
    status = git(root, "status", "--porcelain").splitlines()
    assert [line for line in status if not line.startswith("??")] == [" M .gitattributes"]
    assert [line for line in status if line.startswith("??")] in ([], ["?? .gitignore"])
    attrs = (root / ".gitattributes").read_bytes()
    assert b"\r" not in attrs
    assert b"*.psd filter=cvault diff=cvault merge=binary -text\n" in attrs
    assert b"filter=lfs" not in attrs
    assert b"# >>> cvault defaults" in attrs

    # git-lfs's hooks are still there: pre-push as it was, the others chained
    assert "git lfs pre-push" in (root / ".git/hooks/pre-push").read_text()
    assert "git lfs post-checkout" in (
        root / ".git/hooks/post-checkout.cvault-chained").read_text()

    # old versions read back byte-exact from the vault, through the LFS pointers
    for version in ("v1", "v2", "v3"):
        buf = io.BytesIO()
        with Vault.open(root) as vault:
            vault.cat(f"{lfs_repo.commits[version]}:art.psd", buf)
        assert sha256(buf.getvalue()) == lfs_repo.oid(version), version

    # idempotent
    again = import_json(cv, root)
    assert (again["objects_stored"], again["already_present"], again["bytes_stored"]) == (0, 3, 0)
    assert again["adopted"] is False and again["attributes_rewritten"] == []

    git(root, "add", ".gitattributes", ".gitignore")
    git(root, "commit", "-q", "-m", "Use CreativeVault")

    # cvault checkout of an old commit writes the exact old bytes
    cv(root, "checkout", lfs_repo.commits["v1"])
    assert sha256((root / "art.psd").read_bytes()) == lfs_repo.oid("v1")
    assert (root / "notes.txt").read_text() == "first notes\n"
    cv(root, "checkout", "main")
    assert sha256((root / "art.psd").read_bytes()) == lfs_repo.oid("v2")

    # new versions become cvault pointers, through cvault commit ...
    write(root / "art.psd", creative_bytes("art.psd", 2 * MB + 999, 4), age=50)
    cv(root, "commit", "-a", "-m", "v4")
    assert git(root, "show", "HEAD:art.psd").startswith(CVAULT_FIRST_LINE)
    # ... and through plain git (cvault's filter process now, not git-lfs's)
    v5 = creative_bytes("art.psd", 2 * MB + 5, 5)
    write(root / "art.psd", v5, age=40)
    git(root, "add", "art.psd")
    git(root, "commit", "-q", "-m", "v5")
    pointer = git(root, "show", "HEAD:art.psd")
    assert pointer.startswith(CVAULT_FIRST_LINE)
    assert f"oid sha256:{sha256(v5)}" in pointer
    assert git(root, "status", "--porcelain") == ""
    assert not any((root / ".git/lfs/objects").rglob(sha256(v5)))

    out, _ = cv(root, "fsck")
    assert "ok" in out
    assert lfs_repo.refs() != refs_before  # (only new commits on main)
    assert git(root, "rev-parse", "alt").strip() == lfs_repo.commits["v3"]


@needs_git_lfs
def test_human_summary(lfs_repo: LfsRepo, cv) -> None:
    out, _ = cv(lfs_repo.root, "import-lfs")
    assert "Adopted this git repository as a vault" in out
    assert "LFS objects: 3 found, 3 stored" in out
    assert "none missing" in out
    assert "git add .gitattributes" in out


# ----------------------------------------------------------------------------- damage
@needs_git_lfs
@pytest.mark.parametrize("session_bytes", [None, 1], ids=["one-session", "session-per-object"])
def test_corrupt_object_is_named_and_never_stored(lfs_repo: LfsRepo, cv, monkeypatch,
                                                  session_bytes: int | None) -> None:
    if session_bytes is not None:
        monkeypatch.setattr("creativevault.repo.lfs.SESSION_BYTES", session_bytes)
    root = lfs_repo.root
    victim = object_path(root, lfs_repo.oid("v1"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.chmod(0o644)
    victim.write_bytes(bytes(data))

    report = import_json(cv, root, code=5)
    assert report["ok"] is False
    assert report["objects_found"] == 3
    assert report["objects_stored"] == 2
    [bad] = report["bad_objects"]
    assert bad["oid"] == lfs_repo.oid("v1")
    assert bad["path"] == victim.relative_to(root).as_posix()
    assert "does not match" in bad["reason"] and sha256(bytes(data)) in bad["reason"]
    # its pointer has no content now: listed as missing, by path@commit
    assert [(m["path"], m["commit"]) for m in report["missing"]] == [
        ("art.psd", lfs_repo.commits["v1"])]
    with Vault.open(root) as vault:
        assert not vault.store.has_file(lfs_repo.oid("v1"))
        assert not vault.store.has_file(sha256(bytes(data)))  # not under its real hash
        assert vault.store.has_file(lfs_repo.oid("v2"))
        assert vault.store.has_file(lfs_repo.oid("v3"))
        assert vault.store.fsck().ok

    # the human form names the object
    _, err = cv(root, "import-lfs", code=5)
    assert f"bad object: {victim.relative_to(root).as_posix()}" in err


@needs_git_lfs
def test_absent_object_is_listed_as_missing(lfs_repo: LfsRepo, cv) -> None:
    root = lfs_repo.root
    object_path(root, lfs_repo.oid("v2")).unlink()

    report = import_json(cv, root)
    assert report["objects_found"] == 2 and report["objects_stored"] == 2
    assert report["pointers_in_history"] == 3
    assert report["missing"] == [{"path": "art.psd", "commit": lfs_repo.commits["v2"],
                                  "oid": lfs_repo.oid("v2"),
                                  "size": len(lfs_repo.versions["v2"])}]
    _, err = cv(root, "import-lfs")
    assert f"missing: art.psd@{lfs_repo.commits['v2'][:10]}" in err
    cv(root, "cat", f"{lfs_repo.commits['v2']}:art.psd", code=6)


# ----------------------------------------------------------------------------- edges
def test_plain_git_repository_imports_nothing(tmp_path: Path, cv) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root / "readme.txt", "hello\n")
    git(root, "add", "readme.txt")
    git(root, "commit", "-q", "-m", "one")
    head = git(root, "rev-parse", "HEAD")

    report = import_json(cv, root)
    assert (report["objects_found"], report["objects_stored"], report["pointers_in_history"]) \
        == (0, 0, 0)
    assert report["missing"] == [] and report["bad_objects"] == []
    assert report["attributes_rewritten"] == []
    assert git(root, "rev-parse", "HEAD") == head


def test_outside_a_git_repository(tmp_path: Path, cv) -> None:
    cv(tmp_path, "import-lfs", code=3)


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() else b""
        out[path.relative_to(root).as_posix()] = (st.st_mode, st.st_mtime_ns,
                                                  hashlib.sha256(data).digest())
    return out


@needs_git_lfs
def test_dry_run_changes_nothing(lfs_repo: LfsRepo, cv) -> None:
    root = lfs_repo.root
    before = _snapshot(root)
    report = import_json(cv, root, "--dry-run")
    assert report["dry_run"] is True
    assert (report["objects_found"], report["objects_stored"], report["bytes_stored"]) == (
        3, 3, sum(len(d) for d in lfs_repo.versions.values()))
    assert report["adopted"] is True
    assert report["attributes_rewritten"] == [".gitattributes"]
    out, _ = cv(root, "import-lfs", "--dry-run")
    assert "3 would store" in out and "Would adopt" in out
    assert _snapshot(root) == before
    assert not (root / ".git" / "cvault").exists()


@needs_git_lfs
def test_dry_run_finds_a_corrupt_object(lfs_repo: LfsRepo, cv) -> None:
    root = lfs_repo.root
    victim = object_path(root, lfs_repo.oid("v3"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-1])
    report = import_json(cv, root, "--dry-run", code=5)
    assert [b["oid"] for b in report["bad_objects"]] == [lfs_repo.oid("v3")]
    assert report["objects_stored"] == 2
    assert not (root / ".git" / "cvault").exists()


# ----------------------------------------------------------------------------- attributes
def test_rewrite_lfs_attributes_keeps_patterns_and_other_attributes() -> None:
    text = ("# art\r\n"
            "*.psd filter=lfs diff=lfs merge=lfs -text\r\n"
            "*.kra   filter=lfs diff=lfs merge=lfs -text lockable\r\n"
            '"my file.tif" filter=lfs diff=lfs merge=lfs -text\r\n'
            "*.txt text eol=lf\r\n"
            "# filter=lfs in a comment stays\r\n"
            "filter=lfs filter=lfs\r\n")
    new, changed = rewrite_lfs_attributes(text)
    assert changed == 4
    assert new == ("# art\n"
                   "*.psd filter=cvault diff=cvault merge=binary -text\n"
                   "*.kra   filter=cvault diff=cvault merge=binary -text lockable\n"
                   '"my file.tif" filter=cvault diff=cvault merge=binary -text\n'
                   "*.txt text eol=lf\n"
                   "# filter=lfs in a comment stays\n"
                   "filter=lfs filter=cvault\n")
    assert rewrite_lfs_attributes(new) == (new, 0)


# ----------------------------------------------------------------------------- deltas
def _edited(data: bytes, at: int, n: int = 3000) -> bytes:
    return data[:at] + bytes(b ^ 0x5A for b in data[at:at + n]) + data[at + n:]


@needs_git_lfs
def test_edited_versions_are_imported_as_deltas(tmp_path: Path, cv) -> None:
    """Each version of a path is stored with the previous one as its delta hint, oldest
    first; a path reverted to an older content (a cycle of hints) is still imported."""
    from creativevault.store.pack import ENTRY_CHUNK, FLAG_DELTA

    root = tmp_path / "edits"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "lfs", "install", "--local")
    git(root, "lfs", "track", "*.psd")
    v1 = creative_bytes("art.psd", 4 * MB, 11)
    versions = [v1, _edited(v1, 2 * MB), _edited(_edited(v1, 2 * MB), 3 * MB)]
    commits = []
    for i, data in enumerate([*versions, v1]):  # the last commit reverts to v1
        write(root / "art.psd", data, age=100 - 10 * i)
        git(root, "add", ".gitattributes", "art.psd")
        git(root, "commit", "-q", "-m", f"v{i + 1}")
        commits.append(git(root, "rev-parse", "HEAD").strip())

    report = import_json(cv, root)
    assert report["objects_stored"] == 3 and report["bad_objects"] == []
    assert report["added_bytes"] < len(v1) + 64 * 1024  # v1 in full, two small edits
    with Vault.open(root) as vault:
        rows = [r for r in vault.store.index.rows(etype=ENTRY_CHUNK) if r.flags & FLAG_DELTA]
        assert len(rows) >= 2, "each edit's new chunk is a delta"
        for commit, data in zip(commits, [*versions, v1], strict=True):
            buf = io.BytesIO()
            vault.cat(f"{commit}:art.psd", buf)
            assert sha256(buf.getvalue()) == sha256(data), commit
