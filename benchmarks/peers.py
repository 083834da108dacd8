"""CreativeVault beside its peers on one corpus, one machine, one run (``make bench``).

    python -m benchmarks.peers --scale small|full [--iterations N] [--tools cvault restic ...]
                               [--out benchmarks/out] [--keep]
    python -m benchmarks.peers --report benchmarks/out/peers.json   # reprint a run's table

Tools (each through its own command line, as a user would run it):

- ``cvault``: ``cvault init``; ingest = ``cvault add .`` + ``cvault commit -m``; restore =
  working files deleted, ``cvault restore --source HEAD .``.
- ``restic``: ``restic init`` (repository v2: zstd ``auto`` compression by default);
  ingest = ``restic backup .``; restore = ``restic restore latest --target <empty dir>``.
- ``borg``: ``borg init -e none`` (lz4 by default); ingest = ``borg create repo::vN .``;
  restore = ``borg extract repo::vN`` in an empty folder.
- ``git-lfs``: ``git init``, ``git lfs install --local``, ``git lfs track`` the creative
  extensions; ingest = ``git add -A`` + ``git commit``; restore = working files deleted,
  ``git checkout -- .`` (objects stored uncompressed in ``.git/lfs/objects``).
- ``git-annex``: ``git init``, ``git annex init``, unlocked mode (``annex.addunlocked``:
  working files stay real files an application can open and save, as with the other
  tools), ``annex.largefiles`` = the same extensions as git-lfs; ingest =
  ``git annex add .`` + ``git commit``; restore = working files deleted,
  ``git checkout -- .`` (git-annex's filter-process copies the content back from
  ``.git/annex/objects``, uncompressed).
- ``git``: plain git; ingest = ``git add -A`` + ``git commit`` (zlib loose objects); store
  size before and after ``git gc`` (zlib + deltas), gc time and memory reported apart;
  restore = working files deleted, ``git checkout -- .``, before and after gc.
- ``rsync``: ``rsync -a tree/ copy/``: the no-history baseline (one copy, no versions);
  restore = ``rsync -a copy/ <empty dir>``.

Each tool works on its own copy of the generated project (same bytes); every edit
iteration (``benchmarks.corpus.edit_iteration``) is made once and its changed files are
copied into every tool's copy (untimed), 1.1 s before the timed steps so that no git
index entry is "racy". Before each timed step the harness runs ``sync`` (untimed) so
earlier writes do not bleed into it; each command runs as a child process waited for with
``os.wait4`` (wall time) under GNU ``time -f %M``, which reports the ``ru_maxrss`` that its
own ``wait4`` gives for the command: the peak resident set of the *largest single process*
among the command and the descendants it waited for (Linux reports a maximum, not a sum:
helper processes running at the same time, e.g. git beside ``git-lfs filter-process``, are
not added up; a daemon nobody waits for is not seen). GNU time sits in between because
Linux copies a parent's high-water mark into a forked child and keeps it across
``exec``: ``wait4`` straight from this ~100 MB Python harness reports ~100 MB even for
``true``; from GNU time the floor is ~1 MB. A step of
several commands reports the sum of the times and the maximum of the peaks. Right after
each ingest the harness also times a ``sync`` (the write-back of what the tool did not
``fsync`` itself), reported as a separate row. The page cache is warm (the files were
just written, as after an artist saves).

A restore is verified file by file (SHA-256 of every file of the latest version,
tool-owned files ``.git``, ``.gitattributes``, ``.gitignore`` aside); a restore that
differs is reported as FAILED, not timed. Results are printed as a table and written to
``<out>/peers.json``; the work folder ``<out>/peers-work`` is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.run import code_version, machine_info

__all__ = ["SCALES", "TOOLS", "Step", "main", "measure"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
SCALES = {"tiny": 3 * 1024 * 1024, "small": 40 * 1024 * 1024, "full": 1024 * 1024 * 1024}
#: The creative extensions of the corpus that git-lfs tracks and git-annex annexes (OBJ and
#: MTL are text and stay in git, as cvault's defaults keep them).
LARGE_EXTS = ("psd", "ora", "png", "tif", "ply", "glb", "jpg", "dng")
#: Files a tool adds to the working tree itself; not part of the project's bytes.
TOOL_FILES = {".git", ".gitattributes", ".gitignore"}
PEERS = ("restic", "borg", "git-lfs", "git-annex", "git")
#: GNU time (Debian package ``time``): a ~1 MB process that forks the measured command and
#: reports the ``ru_maxrss`` that ``wait4`` gives for it (see the module docstring).
GNU_TIME = "/usr/bin/time"


# --------------------------------------------------------------------------- measuring


@dataclass
class Step:
    """One measured step: its commands, total wall time, largest process's peak RSS."""

    commands: list[list[str]]
    seconds: float = 0.0
    peak_rss_mb: float | None = None  # None without GNU time
    returncodes: list[int] = field(default_factory=list)
    sync_after_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"commands": [" ".join(c) for c in self.commands], "seconds": self.seconds,
                "peak_rss_mb": self.peak_rss_mb, "returncodes": self.returncodes,
                "sync_after_seconds": self.sync_after_seconds}


class StepFailed(RuntimeError):
    pass


def measure(commands: list[list[str]], cwd: Path, env: dict[str, str], log: Path,
            ok: frozenset[int] = frozenset({0}), sync_after: bool = False) -> Step:
    """Run ``commands`` one after the other, each waited for with ``os.wait4``."""
    step = Step(commands)
    os.sync()  # earlier writes must not bleed into this step
    with open(log, "ab") as out:
        for cmd in commands:
            out.write(f"$ {' '.join(cmd)}\n".encode())
            out.flush()
            rss_file = log.with_suffix(".rss")
            t0 = time.perf_counter()
            timed = os.access(GNU_TIME, os.X_OK)
            wrap = [GNU_TIME, "-q", "-f", "%M", "-o", str(rss_file)] if timed else []
            proc = subprocess.Popen(wrap + cmd, cwd=cwd, env=env, stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL)
            _, status, _usage = os.wait4(proc.pid, 0)
            step.seconds += time.perf_counter() - t0
            rc = os.waitstatus_to_exitcode(status)
            proc.returncode = rc  # reaped here; keep Popen from waiting again
            step.returncodes.append(rc)
            if timed:  # GNU time's %M: ru_maxrss (KiB) wait4 reported for the command
                step.peak_rss_mb = max(step.peak_rss_mb or 0.0,
                                       int(rss_file.read_text().split()[-1]) / 1024)
            if rc not in ok:
                raise StepFailed(f"{' '.join(cmd)} exited {rc} (log: {log})")
    if sync_after:
        t0 = time.perf_counter()
        os.sync()
        step.sync_after_seconds = time.perf_counter() - t0
    return step


def _tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by relative path (tool-owned files aside)."""
    out: dict[str, str] = {}
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.path == str(root / e.name) and e.name in TOOL_FILES:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                else:  # a symlink is followed: its target's bytes are what a user sees
                    h = hashlib.sha256()
                    with open(e.path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            h.update(chunk)
                    out[str(Path(e.path).relative_to(root))] = h.hexdigest()
    return out


def _verify(expected: dict[str, str], root: Path) -> str:
    got = _tree_hashes(root) if root.is_dir() else {}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(p for p in expected.keys() & got.keys() if expected[p] != got[p])
    if not (missing or extra or differ):
        return "ok"
    return (f"FAILED: {len(differ)} differ, {len(missing)} missing, {len(extra)} extra"
            f" (e.g. {(differ + missing + extra)[0]})")


def _store_bytes(paths: Sequence[Path]) -> dict[str, int]:
    """Apparent bytes (each inode once) and allocated bytes of everything under ``paths``."""
    seen: set[tuple[int, int]] = set()
    apparent = allocated = 0
    for base in paths:
        if not base.exists():
            continue
        stack = [base]
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    st = e.stat(follow_symlinks=False)
                    if e.is_dir(follow_symlinks=False):
                        stack.append(Path(e.path))
                        continue
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                    apparent += st.st_size
                    allocated += st.st_blocks * 512
    return {"apparent": apparent, "allocated": allocated}


def _clear_working_files(tree: Path) -> None:
    """Delete the working files, keep the repository (``.git``)."""
    for entry in tree.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


# --------------------------------------------------------------------------- the tools


class Tool:
    """One tool's adapter: the commands of setup, ingest, restore; where its store is."""

    name = ""
    binary = ""
    in_tree = True  # the repository lives inside the project folder (.git)
    nochange_ok: frozenset[int] = frozenset({0})

    def __init__(self, base: Path):
        self.base = base
        self.tree = base / "tree"
        self.commits = 0

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def version(self) -> str:
        raise NotImplementedError

    def setup(self) -> list[list[str]]:
        raise NotImplementedError

    def ingest(self, message: str) -> list[list[str]]:
        raise NotImplementedError

    def store_paths(self) -> list[Path]:
        return [self.tree / ".git"]

    def cache_paths(self) -> list[Path]:
        """Client-side caches outside the store (not counted in the store size)."""
        return []

    def restore(self) -> tuple[list[list[str]], Path, Path]:
        """Prepare (untimed) and return (commands, cwd, the restored project root)."""
        _clear_working_files(self.tree)
        return [["git", "checkout", "--", "."]], self.tree, self.tree

    def after_restore(self) -> None:
        """Clean up an out-of-tree restore (untimed)."""


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


class CVault(Tool):
    name = "cvault"
    nochange_ok = frozenset({0, 2})  # 2: "nothing to commit"

    def __init__(self, base: Path):
        super().__init__(base)
        exe = Path(sys.executable).parent / "cvault"
        self.cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "creativevault"]

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return _first_line(self.cmd + ["--version"])

    def setup(self) -> list[list[str]]:
        return [self.cmd + ["init"]]

    def ingest(self, message: str) -> list[list[str]]:
        return [self.cmd + ["add", "."], self.cmd + ["commit", "-m", message]]

    def restore(self) -> tuple[list[list[str]], Path, Path]:
        _clear_working_files(self.tree)
        return [self.cmd + ["restore", "--source", "HEAD", "."]], self.tree, self.tree


class Git(Tool):
    name = "git"
    binary = "git"
    nochange_ok = frozenset({0, 1})  # 1: "nothing to commit"

    def version(self) -> str:
        return _first_line(["git", "--version"])

    def setup(self) -> list[list[str]]:
        return [["git", "init", "-q"]]

    def ingest(self, message: str) -> list[list[str]]:
        return [["git", "add", "-A"], ["git", "commit", "-q", "-m", message]]


class GitLfs(Git):
    name = "git-lfs"
    binary = "git-lfs"

    def version(self) -> str:
        return _first_line(["git", "lfs", "version"])

    def setup(self) -> list[list[str]]:
        return [["git", "init", "-q"], ["git", "lfs", "install", "--local"],
                ["git", "lfs", "track"] + [f"*.{e}" for e in LARGE_EXTS]]


class GitAnnex(Git):
    name = "git-annex"
    binary = "git-annex"

    def version(self) -> str:
        return _first_line(["git", "annex", "version", "--raw"])

    def setup(self) -> list[list[str]]:
        largefiles = " or ".join(f"include=*.{e}" for e in LARGE_EXTS)
        return [["git", "init", "-q"], ["git", "annex", "init", "-q", "bench"],
                ["git", "config", "annex.addunlocked", "true"],
                ["git", "config", "annex.largefiles", largefiles]]

    def ingest(self, message: str) -> list[list[str]]:
        return [["git", "annex", "add", "--quiet", "."], ["git", "commit", "-q", "-m", message]]


class Restic(Tool):
    name = "restic"
    binary = "restic"
    in_tree = False

    def __init__(self, base: Path):
        super().__init__(base)
        self.repo = base / "repo"
        self.target = base / "restore"

    def version(self) -> str:
        return _first_line(["restic", "version"])

    def setup(self) -> list[list[str]]:
        return [["restic", "init", "-q", "-r", str(self.repo)]]

    def ingest(self, message: str) -> list[list[str]]:
        return [["restic", "backup", "-q", "-r", str(self.repo), "."]]

    def store_paths(self) -> list[Path]:
        return [self.repo]

    def cache_paths(self) -> list[Path]:
        return [self.base.parent / "home" / ".cache" / "restic"]

    def restore(self) -> tuple[list[list[str]], Path, Path]:
        shutil.rmtree(self.target, ignore_errors=True)
        return ([["restic", "restore", "-q", "-r", str(self.repo), "latest", "--target",
                  str(self.target)]], self.base, self.target)

    def after_restore(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)


class Borg(Tool):
    name = "borg"
    binary = "borg"
    in_tree = False
    nochange_ok = frozenset({0, 1})  # 1: a warning (e.g. a file changed while read); logged

    def __init__(self, base: Path):
        super().__init__(base)
        self.repo = base / "repo"
        self.target = base / "restore"
        self.archives = 0

    def version(self) -> str:
        return _first_line(["borg", "--version"])

    def setup(self) -> list[list[str]]:
        return [["borg", "init", "-e", "none", str(self.repo)]]

    def ingest(self, message: str) -> list[list[str]]:
        self.archives += 1
        return [["borg", "create", f"{self.repo}::v{self.archives:03d}", "."]]

    def store_paths(self) -> list[Path]:
        return [self.repo]

    def cache_paths(self) -> list[Path]:
        return [self.base.parent / "home" / ".cache" / "borg"]

    def restore(self) -> tuple[list[list[str]], Path, Path]:
        shutil.rmtree(self.target, ignore_errors=True)
        self.target.mkdir(parents=True)
        return ([["borg", "extract", f"{self.repo}::v{self.archives:03d}"]], self.target,
                self.target)

    def after_restore(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)


class Rsync(Tool):
    name = "rsync"
    binary = "rsync"
    in_tree = False

    def __init__(self, base: Path):
        super().__init__(base)
        self.copy = base / "copy"
        self.target = base / "restore"

    def version(self) -> str:
        return _first_line(["rsync", "--version"])

    def setup(self) -> list[list[str]]:
        return []

    def ingest(self, message: str) -> list[list[str]]:
        return [["rsync", "-a", f"{self.tree}/", f"{self.copy}/"]]

    def store_paths(self) -> list[Path]:
        return [self.copy]

    def restore(self) -> tuple[list[list[str]], Path, Path]:
        shutil.rmtree(self.target, ignore_errors=True)
        return [["rsync", "-a", f"{self.copy}/", f"{self.target}/"]], self.base, self.target

    def after_restore(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)


TOOLS: dict[str, type[Tool]] = {"cvault": CVault, "restic": Restic, "borg": Borg,
                                "git-lfs": GitLfs, "git-annex": GitAnnex, "git": Git,
                                "rsync": Rsync}


# --------------------------------------------------------------------------- the run


def _env(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE is dropped: an installed cvault has its bytecode compiled
    # (pip does it), and with it set every edited module is recompiled on every command
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "CVAULT_", "RESTIC_", "BORG_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_AUTHOR_NAME": "CreativeVault Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "CreativeVault Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        "RESTIC_PASSWORD": "bench", "BORG_BASE_DIR": str(home),
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = CreativeVault Bench\n\temail = bench@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    return env


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


def _copy_changed(master: Path, changed: Sequence[Path], trees: Sequence[Path]) -> None:
    for p in changed:
        rel = Path(p).relative_to(master)
        for tree in trees:
            dest = tree / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)  # like an application saving: new mtime, same inode


class Run:
    def __init__(self, tools: list[Tool], env: dict[str, str], logs: Path):
        self.tools = tools
        self.env = env
        self.logs = logs
        self.results: dict[str, dict[str, Any]] = {t.name: {"steps": {}} for t in tools}
        self.failed: dict[str, str] = {}

    def step(self, tool: Tool, key: str, commands: list[list[str]], cwd: Path,
             ok: frozenset[int] = frozenset({0}), sync_after: bool = False,
             append: bool = False) -> Step | None:
        if tool.name in self.failed:
            return None
        if not commands:
            return Step([])
        try:
            s = measure(commands, cwd, self.env, self.logs / f"{tool.name}.log", ok, sync_after)
        except StepFailed as e:
            self.failed[tool.name] = f"{key}: {e}"
            self.results[tool.name]["failed"] = self.failed[tool.name]
            print(f"  {tool.name}: FAILED at {key}: {e}", flush=True)
            return None
        steps = self.results[tool.name]["steps"]
        if append:
            steps.setdefault(key, []).append(s.as_dict())
        else:
            steps[key] = s.as_dict()
        return s


def prepare_work(work: Path, names: list[str], registry: dict[str, Any]
                 ) -> tuple[Path, dict[str, str], Path, list[Any], list[Any]]:
    """A fresh work folder with a private HOME and a logs/ folder, and the tools of
    ``names`` (from ``registry``) split into installed and missing ones."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = _env(work / "home")
    logs = work / "logs"
    logs.mkdir()
    tools: list[Any] = []
    missing: list[Any] = []
    for name in names:
        tool = registry[name](work / name)
        (tools if tool.available() else missing).append(tool)
    return work, env, logs, tools, missing


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.corpus import edit_iteration, generate_project

    out = args.out.resolve()
    work, env, logs, tools, missing = prepare_work(out / "peers-work", args.tools, TOOLS)
    if missing:
        print(f"not installed, left out: {', '.join(t.name for t in missing)}")
    info = machine_info()
    res: dict[str, Any] = {"scale": args.scale, "iterations": args.iterations,
                           "machine": info, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "loadavg_before": _loadavg(), "code": code_version(),
                           "missing": [t.name for t in missing],
                           "versions": {t.name: t.version() for t in tools}}
    print(f"machine: {info['nproc']} x {info['cpu']}, {(info['memory_bytes'] or 0) / 2**30:.0f}"
          f" GiB RAM, Python {info['python']}; load {res['loadavg_before']}")
    for name, v in res["versions"].items():
        print(f"  {name}: {v}")
    print(f"code: {res['code']}", flush=True)
    t_start = time.perf_counter()

    master = work / "master"
    t0 = time.perf_counter()
    generate_project(master, SCALES[args.scale], args.seed)
    corpus_bytes = sum(p.stat().st_size for p in master.rglob("*") if p.is_file())
    res["corpus"] = {"bytes": corpus_bytes,
                     "files": sum(1 for p in master.rglob("*") if p.is_file()),
                     "generate_seconds": time.perf_counter() - t0}
    print(f"corpus: {res['corpus']['files']} files, {corpus_bytes / MB:,.0f} MB", flush=True)
    for tool in tools:
        tool.base.mkdir(parents=True, exist_ok=True)
        shutil.copytree(master, tool.tree)
    time.sleep(1.1)
    r = Run(tools, env, logs)
    res["tools"] = r.results

    # setup + initial ingest
    for tool in tools:
        r.step(tool, "setup", tool.setup(), tool.tree)
        s = r.step(tool, "initial", tool.ingest("initial import"), tool.tree, sync_after=True)
        if s:
            print(f"  {tool.name}: initial {s.seconds:.2f} s ({corpus_bytes / MB / s.seconds:.0f}"
                  f" MB/s), +sync {s.sync_after_seconds:.2f} s, peak {_fmt(s.peak_rss_mb)} MB",
                  flush=True)
    for tool in tools:  # a no-change re-run right after the initial ingest
        r.step(tool, "nochange", tool.ingest("no change"), tool.tree, ok=tool.nochange_ok,
               append=True)

    # edit iterations: each tool ingests the same edits; the order rotates per iteration
    logical = corpus_bytes
    for i in range(args.iterations):
        changed = edit_iteration(master, i, args.seed)
        _copy_changed(master, changed, [t.tree for t in tools])
        logical += sum(p.stat().st_size for p in master.rglob("*") if p.is_file())
        time.sleep(1.1)
        k = i % len(tools) if tools else 0
        for tool in tools[k:] + tools[:k]:
            r.step(tool, "incremental", tool.ingest(f"iteration {i + 1}"), tool.tree,
                   sync_after=True, append=True)
            r.step(tool, "nochange", tool.ingest("no change"), tool.tree, ok=tool.nochange_ok,
                   append=True)
        print(f"  iteration {i + 1}/{args.iterations}: {len(changed)} files changed; "
              f"load {_loadavg()}", flush=True)
    res["logical_bytes_all_versions"] = logical
    latest_bytes = sum(p.stat().st_size for p in master.rglob("*") if p.is_file())
    res["latest_bytes"] = latest_bytes

    # store size, then restore (verified), for each tool
    expected = _tree_hashes(master)
    for tool in tools:
        if tool.name in r.failed:
            continue
        r.results[tool.name]["store"] = _store_bytes(tool.store_paths())
        r.results[tool.name]["cache"] = _store_bytes(tool.cache_paths())
    for tool in tools:
        _measure_restore(r, tool, "restore", expected)

    # plain git: gc, then its store and a restore again
    for tool in tools:
        if tool.name == "git" and tool.name not in r.failed:
            s = r.step(tool, "gc", [["git", "gc", "-q"]], tool.tree, sync_after=True)
            if s:
                r.results["git"]["store_after_gc"] = _store_bytes(tool.store_paths())
                _measure_restore(r, tool, "restore_after_gc", expected)
    res["total_seconds"] = time.perf_counter() - t_start
    res["loadavg_after"] = _loadavg()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def _measure_restore(r: Run, tool: Tool, key: str, expected: dict[str, str]) -> None:
    if tool.name in r.failed:
        return
    commands, cwd, root = tool.restore()
    s = r.step(tool, key, commands, cwd)
    if s is None:
        return
    verdict = _verify(expected, root)
    r.results[tool.name]["steps"][key]["verified"] = verdict
    if verdict != "ok":
        print(f"  {tool.name}: {key} {verdict}", flush=True)
    tool.after_restore()


# --------------------------------------------------------------------------- report

#: (row label, key, unit, higher is better)
_ROWS = [
    ("initial commit (MB/s)", "initial_mb_s", True),
    ("  its time (s)", "initial_s", False),
    ("  incl. write-back sync after it (MB/s)", "initial_synced_mb_s", True),
    ("incremental commit, median (s)", "incremental_s", False),
    ("  max (s)", "incremental_max_s", False),
    ("no-change re-run, median (s)", "nochange_s", False),
    ("store after all iterations (MB)", "store_mb", False),
    ("  client cache outside it (MB)", "cache_mb", False),
    ("restore latest version (MB/s)", "restore_mb_s", True),
    ("peak memory, largest process (MB)", "peak_rss_mb", False),
]
_RATIO_KEYS = ("initial_mb_s", "incremental_s", "nochange_s", "store_mb", "restore_mb_s",
               "peak_rss_mb")


def summarize(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tool: the table's values (``None`` when not measured, a string when FAILED)."""
    out: dict[str, dict[str, Any]] = {}
    size = res["corpus"]["bytes"]
    for name, t in res["tools"].items():
        st = t["steps"]
        v: dict[str, Any] = {}
        if "initial" in st:
            s = st["initial"]
            v["initial_s"] = s["seconds"]
            v["initial_mb_s"] = size / MB / s["seconds"]
            v["initial_synced_mb_s"] = size / MB / (s["seconds"] + s["sync_after_seconds"])
        if st.get("incremental"):
            times = [s["seconds"] for s in st["incremental"]]
            v["incremental_s"] = statistics.median(times)
            v["incremental_max_s"] = max(times)
        if st.get("nochange"):
            v["nochange_s"] = statistics.median(s["seconds"] for s in st["nochange"])
        if "store" in t:
            v["store_mb"] = t["store"]["apparent"] / MB
            v["cache_mb"] = t["cache"]["apparent"] / MB if t["cache"]["apparent"] else None
        if "restore" in st:
            s = st["restore"]
            v["restore_mb_s"] = (res["latest_bytes"] / MB / s["seconds"]
                                 if s.get("verified") == "ok" else "FAILED")
        peaks = [s["peak_rss_mb"] for k, s in st.items()
                 if k not in ("gc", "restore_after_gc") and isinstance(s, dict)]
        peaks += [s["peak_rss_mb"] for s in st.get("incremental", []) + st.get("nochange", [])]
        peaks = [p for p in peaks if p is not None]
        if peaks:
            v["peak_rss_mb"] = max(peaks)
        if "failed" in t:
            v["failed"] = t["failed"]
        out[name] = v
    return out


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def report(res: dict[str, Any]) -> list[str]:
    """The table (rows: measures; columns: tools) and cvault's ratios to the best peer."""
    vals = summarize(res)
    names = list(vals)
    lines = []
    head = ["measure"] + names
    rows = [[label] + [_fmt(vals[n].get(key)) for n in names] for label, key, _ in _ROWS]
    git = res["tools"].get("git")
    if git and "gc" in git["steps"]:
        gc = git["steps"]["gc"]
        extra = {"git gc: time (s)": gc["seconds"], "git gc: peak memory (MB)": gc["peak_rss_mb"],
                 "git: store after gc (MB)": git.get("store_after_gc", {}).get("apparent", 0) / MB}
        rag = git["steps"].get("restore_after_gc")
        if rag:
            extra["git: restore after gc (MB/s)"] = (
                res["latest_bytes"] / MB / rag["seconds"] if rag.get("verified") == "ok"
                else "FAILED")
            extra["git: restore after gc, peak memory (MB)"] = rag["peak_rss_mb"]
        for label, x in extra.items():
            rows.append([label] + [_fmt(x) if n == "git" else "" for n in names])
    widths = [max(len(r[c]) for r in rows + [head]) for c in range(len(head))]
    fmt_row = lambda r: "  ".join(  # noqa: E731
        (c.ljust(widths[k]) if k == 0 else c.rjust(widths[k])) for k, c in enumerate(r))
    lines.append(fmt_row(head))
    lines.append("-" * (sum(widths) + 2 * len(widths)))
    lines += [fmt_row(r) for r in rows]
    for n in names:
        if "failed" in vals[n]:
            lines.append(f"{n}: FAILED ({vals[n]['failed']})")
    if "cvault" in vals:
        lines.append("")
        lines.append("cvault against the best peer (restic, borg, git-lfs, git-annex, git; "
                     ">1 = cvault better):")
        c = vals["cvault"]
        for label, key, higher in _ROWS:
            if key not in _RATIO_KEYS:
                continue
            peers = {n: vals[n][key] for n in PEERS
                     if n in vals and isinstance(vals[n].get(key), (int, float))}
            if not peers or not isinstance(c.get(key), (int, float)):
                continue
            best = (max if higher else min)(peers, key=peers.__getitem__)
            ratio = c[key] / peers[best] if higher else peers[best] / c[key]
            lines.append(f"  {label.strip():<36} {ratio:5.2f}x   (best peer {best}: "
                         f"{_fmt(peers[best])}; cvault {_fmt(c[key])})")
        sg = git and git.get("store_after_gc", {}).get("apparent")
        if sg and isinstance(c.get("store_mb"), (int, float)):
            lines.append(f"  {'store against git after gc':<36} {sg / MB / c['store_mb']:5.2f}x"
                         f"   (git after gc: {_fmt(sg / MB)}; cvault {_fmt(c['store_mb'])})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CreativeVault beside restic, borg, git-lfs, "
                                 "git-annex, plain git and rsync")
    ap.add_argument("--scale", choices=sorted(SCALES), default="small")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="print the table of an earlier run's peers.json; run nothing")
    args = ap.parse_args(argv)
    if args.report:
        print("\n".join(report(json.loads(args.report.read_text()))))
        return 0
    if sys.platform != "linux":
        print("benchmarks.peers needs Linux (os.wait4, /proc)", file=sys.stderr)
        return 2
    if not os.access(GNU_TIME, os.X_OK):
        print(f"no GNU time ({GNU_TIME}, Debian package 'time'): peak memory not measured")
    res = run(args)
    lines = report(res)
    res["summary"] = summarize(res)
    res["table"] = lines
    print()
    print(f"scale {args.scale}: {res['corpus']['files']} files, {res['corpus']['bytes'] / MB:,.0f}"
          f" MB; {args.iterations} iterations ({res['logical_bytes_all_versions'] / MB:,.0f} MB "
          f"of plain copies of every version; latest {res['latest_bytes'] / MB:,.0f} MB); "
          f"total {res['total_seconds']:.0f} s; load before {res['loadavg_before']}, "
          f"after {res['loadavg_after']}")
    print("\n".join(lines))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nresults written to {out / 'peers.json'}")
    return 1 if any("failed" in v for v in res["summary"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
