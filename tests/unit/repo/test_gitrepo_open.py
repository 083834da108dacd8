"""Opening a repository: dulwich is opened when first needed, and HEAD read directly.

:meth:`GitRepo.discover` opens dulwich's ``Repo`` at once only for layouts where it could
find something unusual (a ``.git`` file, a linked worktree, ``core.worktree``,
extensions, includes, an unknown format version); otherwise on first use. ``HEAD`` is
read from the files in the plain cases and by dulwich in all others; both must agree
with git.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from creativevault.repo.gitrepo import GitRepo
from creativevault.repo.hooks import hooks_dir_of
from tests.conftest import run_cli, run_git


def _rev(cwd: Path, *args: str) -> str:
    return run_git(cwd, "rev-parse", *args).stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    return root


def _commit(root: Path, name: str) -> str:
    (root / name).write_text(name)
    run_git(root, "add", name)
    run_git(root, "commit", "-q", "-m", name)
    return _rev(root, "HEAD")


def _both_ways(root: Path) -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
    """(branch, head) read before dulwich is opened, and read by dulwich."""
    plain = GitRepo.discover(root / "sub" if (root / "sub").is_dir() else root)
    lazy = (plain.head_branch(), plain.head_commit())
    plain.close()
    eager = GitRepo.discover(root)
    eager._repo  # noqa: B018 (open dulwich first)
    via_dulwich = (eager.head_branch(), eager.head_commit())
    eager.close()
    return lazy, via_dulwich


def test_plain_layout_waits_for_dulwich(repo: Path) -> None:
    (repo / "sub").mkdir()
    git = GitRepo.discover(repo / "sub")
    assert git._opened is None
    assert git.worktree == repo.resolve() and git.git_dir == repo.resolve() / ".git"
    assert git.index_signature() is None
    assert (git.head_branch(), git.head_commit()) == ("main", None)  # unborn
    assert git._opened is None
    assert Path(git._repo.path) == git.worktree  # dulwich agrees about the worktree
    assert Path(git._repo.controldir()) == git.git_dir
    git.close()


def test_head_read_directly_agrees_with_git_and_dulwich(repo: Path) -> None:
    first = _commit(repo, "a.txt")
    assert _both_ways(repo) == (("main", first),) * 2
    second = _commit(repo, "b.txt")
    run_git(repo, "checkout", "-q", "-b", "feature/x.y")
    assert _both_ways(repo) == (("feature/x.y", second),) * 2
    run_git(repo, "checkout", "-q", "--detach", first)  # detached
    assert _both_ways(repo) == ((None, first),) * 2
    run_git(repo, "checkout", "-q", "main")
    run_git(repo, "pack-refs", "--all")  # no loose file: dulwich reads packed-refs
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert _both_ways(repo) == (("main", second),) * 2
    run_git(repo, "checkout", "-q", "--orphan", "fresh")  # unborn, packed-refs present
    assert _both_ways(repo) == (("fresh", None),) * 2


@pytest.mark.parametrize("config", [
    "[core]\n\tworktree = ..\n",
    "[extensions]\n\tpartialclone = origin\n",
    "[include]\n\tpath = other.cfg\n",
    "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha1\n",
])
def test_unusual_configs_open_dulwich_at_once(repo: Path, config: str) -> None:
    with (repo / ".git" / "config").open("a") as f:
        f.write(config)
    try:
        git = GitRepo.discover(repo)
    except Exception:  # dulwich refused it: then it did open at once
        return
    assert git._opened is not None
    git.close()


def test_a_gitfile_opens_dulwich_at_once(repo: Path, tmp_path: Path) -> None:
    _commit(repo, "a.txt")
    linked = tmp_path / "linked"
    run_git(repo, "worktree", "add", "-q", str(linked), "-b", "side")
    git = GitRepo.discover(linked)
    assert git._opened is not None
    assert git.head_branch() == "side"
    git.close()


def test_discover_and_head_import_no_dulwich(repo: Path) -> None:
    first = _commit(repo, "a.txt")
    code = ("import sys; from pathlib import Path\n"
            "from creativevault.repo.gitrepo import GitRepo\n"
            "g = GitRepo.discover(Path('.'))\n"
            "print(g.head_branch(), g.head_commit(), 'dulwich' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["main", first, "False"]


@pytest.mark.parametrize(("config", "level"), [
    ("", 1),  # git's default for loose objects (dulwich's own would be zlib's, 6)
    ("[core]\n\tcompression = 4\n", 4),
    ("[core]\n\tcompression = 4\n\tlooseCompression = 0\n", 0),
])
def test_loose_objects_are_written_at_gits_level(repo: Path, config: str, level: int) -> None:
    with (repo / ".git" / "config").open("a") as f:
        f.write(config)
    git = GitRepo.discover(repo)
    assert git._repo.object_store.loose_compression_level == level
    data = b"v 0.0 1.0 2.0\n" * 20_000
    blob = git.add_blob(data)
    git.close()
    assert run_git(repo, "cat-file", "blob", blob).stdout == data
    run_git(repo, "fsck", "--strict")


def test_the_global_config_counts_too(repo: Path, clean_env: Path) -> None:
    with (clean_env / ".gitconfig").open("a") as f:
        f.write("[core]\n\tlooseCompression = 9\n")
    git = GitRepo.discover(repo)
    assert git._repo.object_store.loose_compression_level == 9
    git.close()


def test_loose_blob_size_reads_the_header_only(repo: Path) -> None:
    data = b"x" * 100_000
    (repo / "big.obj").write_bytes(data)
    run_git(repo, "add", "big.obj")
    blob = _rev(repo, ":big.obj")
    git = GitRepo.discover(repo)
    assert git.loose_blob_size(blob) == len(data)
    run_git(repo, "commit", "-q", "-m", "big")
    tree = _rev(repo, "HEAD^{tree}")
    assert git.loose_blob_size(tree) is None  # not a blob
    assert git.loose_blob_size("0" * 40) is None  # not here
    run_git(repo, "gc", "-q", "--prune=now")  # packed: read_blob's business
    assert git.loose_blob_size(blob) is None
    assert git.read_blob(blob) == data
    git.close()


@pytest.mark.parametrize("where", ["none", "repo", "global", "xdg", "included"])
def test_hooks_dir_follows_core_hooks_path_wherever_git_would_read_it(
        repo: Path, clean_env: Path, where: str) -> None:
    shared = clean_env / "team hooks"
    setting = f"[core]\n\thooksPath = {shared}\n"
    if where == "repo":
        run_git(repo, "config", "core.hooksPath", str(shared))
    elif where == "global":
        (clean_env / ".gitconfig").write_text(setting)
    elif where == "xdg":
        (clean_env / ".config" / "git").mkdir(parents=True)
        (clean_env / ".config" / "git" / "config").write_text(setting)
    elif where == "included":  # the key is in a file only an include names
        (clean_env / "team.inc").write_text(setting)
        (clean_env / ".gitconfig").write_text(f"[include]\n\tpath = {clean_env / 'team.inc'}\n")
    expected = repo / ".git" / "hooks" if where == "none" else shared
    told = run_git(repo, "rev-parse", "--git-path", "hooks").stdout.decode().strip()
    assert (repo / told).resolve() == expected.resolve()  # git agrees
    git = GitRepo.discover(repo)
    assert git.hooks_dir.resolve() == expected.resolve()
    git.close()
    # cvault's commit finds the folder its hooks went to, the same, after `cvault init`
    # (which installs them there); in the plain case without opening git's config stack
    assert run_cli(repo, "init").returncode == 0
    assert (expected / "pre-commit").read_text().count("Installed by CreativeVault") == 1
    git = GitRepo.discover(repo)
    assert hooks_dir_of(git).resolve() == expected.resolve()
    assert (git._opened is None) == (where == "none")
    git.close()


def test_a_relative_hooks_path_is_taken_from_the_worktree_top(repo: Path) -> None:
    run_git(repo, "config", "core.hooksPath", ".githooks")
    (repo / "sub").mkdir()
    git = GitRepo.discover(repo / "sub")
    assert git.hooks_dir == git.worktree / ".githooks"
    git.close()
