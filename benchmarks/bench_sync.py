"""Field -> studio sync of a photo expedition: cvault beside rsync and git-annex.

    python -m benchmarks.bench_sync            # 5,000 photos at 1/50 size (~1 GB) + 200 new
    python -m benchmarks.bench_sync --quick    # 500 photos at 1/200 size (~25 MB) + 200 new
    python -m benchmarks.bench_sync --photos N --scale S [--new 200] [--tools cvault rsync]
    python -m benchmarks.bench_sync --report benchmarks/out/sync.json   # reprint a run's table

The expedition (``benchmarks.expedition``; cached between runs under
``benchmarks/out/cache/``) is copied (untimed) into each tool's field folder; then, for
every tool in the same run, on the same bytes:

- ``cvault``: field ``cvault init -b field/cam``, ``cvault add .``, ``cvault commit``
  (the field ingest, timed apart); studio ``cvault init`` (an empty vault, a local path);
  field ``cvault remote add origin ../studio``.
  *initial* = ``cvault push origin field/cam``; the 200 new frames are copied in;
  *incremental* = ``cvault sync`` (commit the new files, pull ``main`` when the studio has
  one, push); *no-change* = ``cvault sync`` again (target: under 2 s).
- ``rsync``: *initial* = ``rsync -a field/ studio/`` into an empty folder; *incremental*
  and *no-change* = the same command again. No history, nothing to ingest.
- ``git-annex`` (defaults: locked files, SHA256E keys): field ``git init``, ``git annex
  init``, ``git annex add .``, ``git commit`` (the field ingest); studio ``git init
  --bare`` + ``git annex init`` (a local path), field ``git remote add studio ../studio``.
  *initial* = ``git annex copy --to studio`` (the content; ``annex.verify`` checks each
  file's hash on arrival), then ``git annex sync --no-content studio`` (pushes ``main``
  and the ``git-annex`` branch, merging the studio's, so the studio knows the files and
  where their content is; cvault's push carries both in one command).
  *incremental* = ``git annex add .`` + ``git commit`` + the same two; *no-change* = the
  same four again (``git commit`` exits 1: nothing to commit).

Each phase's sub-steps are timed apart (``ingest``, ``transfer``, ``metadata`` for
git-annex; one ``sync`` for cvault) and summed. The three tools run one after the other
within each phase; no-change runs three times per tool (median and max reported).

**Timing.** Every timed step runs in a fresh child interpreter (``benchmarks.run.run_child``),
which runs the tool's commands with ``benchmarks.peers.measure``: ``sync`` first (untimed,
earlier writes do not bleed in), each command a child process waited for with
``os.wait4`` (wall time, start-up included) under GNU ``time -f %M`` (peak resident
memory of the largest single process the command waited for; see benchmarks/peers.py).
The page cache is warm (the frames were just copied, as after unloading the cards).
MB/s = logical bytes of the frames moved (10^6) / time.

**Verification.** After the last no-change run every studio is checked against the
generator's SHA-256 manifest, every file (5,200 frames): cvault reads each file of the
studio's ``field/cam`` from the studio's store as ``Vault.cat`` does (a child); rsync's studio folder is hashed;
for git-annex every key of the field is located in the studio
(``git annex contentlocation``), hashed, and the studio's ``main`` must list every path.
A tool whose studio differs is reported as FAILED.

**Over SSH** (second part, when ``tests/remotes.SshServer`` can start sshd on loopback):
each tool sends its whole field (all frames) to a new, empty studio over
``ssh://user@127.0.0.1:PORT/...``: ``cvault push`` (the far end is ``cvault serve`` from
this venv), ``rsync -a -e ssh``, ``git annex copy`` + ``git push`` (``git-annex-shell``
on the far end); then the same again with nothing new.

Results: a table (rows: measures; columns: tools) and ``<out>/sync.json``; the work
folder ``<out>/work-sync`` is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.expedition import DEFAULT_CACHE, Expedition, expedition, iter_tree
from benchmarks.peers import (
    GNU_TIME,
    TOOL_FILES,
    StepFailed,
    _first_line,
    _loadavg,
    _store_bytes,
    measure,
    prepare_work,
)
from benchmarks.run import add_child_arguments, code_version, machine_info, run_child, serve_child

__all__ = ["SCALES", "TOOLS", "main", "report", "summarize"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
#: photos, new frames, scale (fraction of the 10 MB full-size photo)
SCALES: dict[str, dict[str, Any]] = {
    "full": {"photos": 5_000, "new": 200, "scale": 0.02},
    "quick": {"photos": 500, "new": 200, "scale": 0.005},
}
NOCHANGE_RUNS = 3
NOCHANGE_TARGET_S = 2.0
MODULE = "benchmarks.bench_sync"
Phase = list[tuple[str, list[list[str]], Path, frozenset[int]]]
OK = frozenset({0})


def _cvault_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "cvault"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "creativevault"]


# --------------------------------------------------------------------------- the tools


class SyncTool:
    """One tool's field and studio, and the commands of each phase."""

    name = ""
    binary = ""

    def __init__(self, base: Path):
        self.base = base
        self.field = base / "field"
        self.studio = base / "studio"

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def version(self) -> str:
        raise NotImplementedError

    def prepare(self) -> Phase:
        """Set up the field (ingest the frames) and an empty studio."""
        return []

    def initial(self) -> Phase:
        raise NotImplementedError

    def incremental(self) -> Phase:
        raise NotImplementedError

    def nochange(self) -> Phase:
        return self.incremental()

    def studio_paths(self) -> list[Path]:
        return [self.studio]

    def verify(self, exp: Expedition) -> str:
        raise NotImplementedError

    # over SSH: a second, empty studio reached through sshd on loopback
    def ssh_prepare(self, ssh: Any, target: Path) -> Phase:
        return []

    def ssh_push(self, ssh: Any, target: Path) -> Phase:
        raise NotImplementedError

    def ssh_env(self, ssh: Any) -> dict[str, str]:
        return {}


class CVault(SyncTool):
    name = "cvault"

    def __init__(self, base: Path):
        super().__init__(base)
        self.cmd = _cvault_cmd()

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return _first_line(self.cmd + ["--version"])

    def prepare(self) -> Phase:
        return [("setup", [self.cmd + ["init", "-b", "field/cam"]], self.field, OK),
                ("ingest", [self.cmd + ["add", "."],
                            self.cmd + ["commit", "-m", "expedition: days 1-10"]], self.field, OK),
                ("studio", [self.cmd + ["init", str(self.studio)]], self.base, OK),
                ("remote", [self.cmd + ["remote", "add", "origin", "../studio"]], self.field, OK)]

    def initial(self) -> Phase:
        return [("sync", [self.cmd + ["push", "origin", "field/cam", "--json"]], self.field, OK)]

    def incremental(self) -> Phase:
        return [("sync", [self.cmd + ["sync", "--json"]], self.field, OK)]

    def studio_paths(self) -> list[Path]:
        return [self.studio / ".git"]

    def verify(self, exp: Expedition) -> str:
        return run_child("verify_cvault", module=MODULE, studio=str(self.studio),
                         ref="field/cam", manifest=str(exp.root / "manifest.json"))["verdict"]

    def ssh_env(self, ssh: Any) -> dict[str, str]:
        return {"CVAULT_SSH_COMMAND": ssh.ssh_command}

    def ssh_prepare(self, ssh: Any, target: Path) -> Phase:
        return [("studio", [self.cmd + ["init", str(target)]], self.base, OK),
                ("remote", [self.cmd + ["remote", "add", "studio-ssh", ssh.url(target),
                                        "--cvault", self.cmd[0]]], self.field, OK)]

    def ssh_push(self, ssh: Any, target: Path) -> Phase:
        return [("sync", [self.cmd + ["push", "studio-ssh", "field/cam", "--json"]],
                 self.field, OK)]


class Rsync(SyncTool):
    name = "rsync"
    binary = "rsync"

    def version(self) -> str:
        return _first_line(["rsync", "--version"])

    def initial(self) -> Phase:
        return [("transfer", [["rsync", "-a", f"{self.field}/", f"{self.studio}/"]],
                 self.base, OK)]

    incremental = initial

    def verify(self, exp: Expedition) -> str:
        return run_child("verify_tree", module=MODULE, root=str(self.studio),
                         manifest=str(exp.root / "manifest.json"))["verdict"]

    def ssh_prepare(self, ssh: Any, target: Path) -> Phase:
        return []

    def ssh_push(self, ssh: Any, target: Path) -> Phase:
        return [("transfer", [["rsync", "-a", "-e", ssh.ssh_command, f"{self.field}/",
                               f"{ssh.scp_url(target)}/"]], self.base, OK)]


class GitAnnex(SyncTool):
    name = "git-annex"
    binary = "git-annex"

    def version(self) -> str:
        return _first_line(["git", "annex", "version", "--raw"])

    def prepare(self) -> Phase:
        return [("setup", [["git", "init", "-q"], ["git", "annex", "init", "-q", "field"]],
                 self.field, OK),
                ("ingest", [["git", "annex", "add", "--quiet", "."],
                            ["git", "commit", "-q", "-m", "expedition: days 1-10"]],
                 self.field, OK),
                ("studio", [["git", "init", "-q", "--bare", str(self.studio)],
                            ["git", "-C", str(self.studio), "annex", "init", "-q", "studio"]],
                 self.base, OK),
                ("remote", [["git", "remote", "add", "studio", "../studio"]], self.field, OK)]

    def _send(self, remote: str) -> Phase:
        return [("transfer", [["git", "annex", "copy", "--quiet", "--to", remote]],
                 self.field, OK),
                ("metadata", [["git", "annex", "sync", "--quiet", "--no-content", remote]],
                 self.field, OK)]

    def initial(self) -> Phase:
        return self._send("studio")

    def incremental(self) -> Phase:
        return [("ingest", [["git", "annex", "add", "--quiet", "."],
                            ["git", "commit", "-q", "-m", "expedition: day 11"]],
                 self.field, frozenset({0, 1}))] + self._send("studio")

    def verify(self, exp: Expedition) -> str:
        return run_child("verify_annex", module=MODULE, field=str(self.field),
                         studio=str(self.studio), manifest=str(exp.root / "manifest.json"))["verdict"]

    def ssh_env(self, ssh: Any) -> dict[str, str]:
        return {"GIT_SSH_COMMAND": ssh.ssh_command}

    def ssh_prepare(self, ssh: Any, target: Path) -> Phase:
        return [("studio", [["git", "init", "-q", "--bare", str(target)],
                            ["git", "-C", str(target), "annex", "init", "-q", "studio-ssh"]],
                 self.base, OK),
                # git-annex 10.20230126 runs its own ssh for git-annex-shell (ignoring
                # GIT_SSH_COMMAND there): the key and options go in annex-ssh-options
                ("remote", [["git", "remote", "add", "studio-ssh", ssh.url(target)],
                            ["git", "config", "remote.studio-ssh.annex-ssh-options",
                             shlex.join(ssh.ssh_options()[1:])]], self.field, OK)]

    def ssh_push(self, ssh: Any, target: Path) -> Phase:
        return self._send("studio-ssh")


TOOLS: dict[str, type[SyncTool]] = {"cvault": CVault, "rsync": Rsync, "git-annex": GitAnnex}


# --------------------------------------------------------------------------- child tasks


def _task_step(commands: list[list[str]], cwd: str, env: dict[str, str], log: str,
               ok: list[int]) -> dict[str, Any]:
    """Run one step's commands (benchmarks.peers.measure) and return its figures; the
    output of a command run with ``--json`` is returned as ``report``."""
    logpath = Path(log)
    start = logpath.stat().st_size if logpath.exists() else 0
    try:
        step = measure(commands, Path(cwd), env, logpath, frozenset(ok))
    except StepFailed as e:
        return {"failed": str(e)}
    out: dict[str, Any] = {"step": step.as_dict()}
    if "--json" in commands[-1]:
        with open(logpath, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        body = text.split("\n", 1)[1] if "\n" in text else ""
        start_json = body.find("{")
        if start_json >= 0:
            try:
                out["report"] = json.loads(body[start_json:])
            except json.JSONDecodeError:
                pass
    return out


def _sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _expected(manifest: str) -> dict[str, list[Any]]:
    """{path: [size, sha256]} of every frame file, base and new (the generator's manifest;
    passed by path: 11,000 entries are too long for a command-line argument)."""
    data = json.loads(Path(manifest).read_text())
    return {**data["base"], **data["new"]}


def _compare(expected: dict[str, list[Any]], got: dict[str, str]) -> str:
    got = {p: h for p, h in got.items() if p not in TOOL_FILES}  # .gitattributes, ...
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(p for p in expected.keys() & got.keys() if expected[p][1] != got[p])
    if not (missing or extra or differ):
        return f"ok ({len(got)} files)"
    return (f"FAILED: {len(differ)} differ, {len(missing)} missing, {len(extra)} extra"
            f" (e.g. {(differ + missing + extra)[0]})")


def _task_verify_tree(root: str, manifest: str) -> dict[str, Any]:
    expected = _expected(manifest)
    base = Path(root)
    got = {str(p.relative_to(base)): _sha256_file(p) for p in iter_tree(base)}
    return {"verdict": _compare(expected, got)}


class _Hasher:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def _task_verify_cvault(studio: str, ref: str, manifest: str) -> dict[str, Any]:
    """Every file of ``ref`` in the studio vault read back from its store and hashed.

    This is what ``Vault.cat`` does, with the commit's tree flattened once: ``cat``
    flattens it on every call, so catting each of 12,000 files one by one is quadratic
    (660 s here against ~20 s)."""
    import creativevault as cv
    from creativevault.errors import NotAPointerError
    from creativevault.repo.pointer import parse_pointer

    expected = _expected(manifest)
    got: dict[str, str] = {}
    errors: list[str] = []
    with cv.Vault.open(studio) as vault:
        flat = vault.git.commit_tree_flat(vault.resolve(ref))
        for path, entry in flat.items():
            data = vault.git.read_blob(entry.blob_id)
            try:
                ptr = parse_pointer(data, path=path)
            except NotAPointerError:  # a text file kept in git (the XMP sidecars)
                got[path] = hashlib.sha256(data).hexdigest()
                continue
            hasher = _Hasher()
            try:
                vault.store.write_file_to(ptr.oid, hasher)
            except Exception as e:  # noqa: BLE001 - reported, not raised
                errors.append(f"{path}: {type(e).__name__}: {e}")
                continue
            got[path] = hasher.h.hexdigest()
    verdict = _compare(expected, got)
    if errors:
        verdict = f"FAILED: {len(errors)} unreadable (e.g. {errors[0]}); {verdict}"
    return {"verdict": verdict}


def _task_verify_annex(field: str, studio: str, manifest: str) -> dict[str, Any]:
    """Every annexed file of the field found, by key, in the studio's annex and hashed;
    the studio's ``main`` lists every path."""
    expected = _expected(manifest)
    found = subprocess.run(["git", "annex", "find", "--format=${key}\\t${file}\\n"],
                           cwd=field, capture_output=True, text=True, check=True).stdout
    keys = dict(line.split("\t", 1)[::-1] for line in found.splitlines() if line)
    proc = subprocess.run(["git", "annex", "contentlocation", "--batch"], cwd=studio,
                          input="".join(k + "\n" for k in keys.values()),
                          capture_output=True, text=True, check=True)
    locations = proc.stdout.splitlines()
    got: dict[str, str] = {}
    for (path, _key), loc in zip(keys.items(), locations, strict=True):
        if loc:
            got[path] = _sha256_file(Path(studio) / loc)
    listed = set(filter(None, subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", "main"], cwd=studio,
        capture_output=True, check=True).stdout.decode().split("\0")))
    verdict = _compare(expected, got)
    if listed != set(expected):
        verdict = (f"FAILED: studio main lists {len(listed)} paths, expected "
                   f"{len(expected)}; content: {verdict}")
    return {"verdict": verdict}


_TASKS = {"step": _task_step, "verify_tree": _task_verify_tree,
          "verify_cvault": _task_verify_cvault, "verify_annex": _task_verify_annex}


# --------------------------------------------------------------------------- the run


class Run:
    """Runs phases of every tool, records steps, leaves a failed tool out of later ones."""

    def __init__(self, tools: list[SyncTool], env: dict[str, str], logs: Path):
        self.tools = tools
        self.env = env
        self.logs = logs
        self.results: dict[str, dict[str, Any]] = {t.name: {"phases": {}} for t in tools}
        self.failed: dict[str, str] = {}

    def phase(self, tool: SyncTool, key: str, phase: Phase, extra_env: dict[str, str] | None
              = None, optional: bool = False) -> dict[str, Any] | None:
        """Run a phase's steps; record {steps: {name: step}, seconds, peak_rss_mb}. A
        failure leaves the tool out of later phases, unless ``optional`` (the SSH part:
        recorded as ``ssh_failed``)."""
        if tool.name in self.failed or (optional and "ssh_failed" in self.results[tool.name]):
            return None
        env = {**self.env, **(extra_env or {})}
        rec: dict[str, Any] = {"steps": {}, "seconds": 0.0, "peak_rss_mb": None}
        for name, commands, cwd, ok in phase:
            res = run_child("step", module=MODULE, commands=commands, cwd=str(cwd), env=env,
                            log=str(self.logs / f"{tool.name}.log"), ok=sorted(ok))
            if "failed" in res:
                why = f"{key}/{name}: {res['failed']}"
                if optional:
                    self.results[tool.name]["ssh_failed"] = why
                else:
                    self.failed[tool.name] = self.results[tool.name]["failed"] = why
                print(f"  {tool.name}: FAILED at {key}/{name}: {res['failed']}", flush=True)
                return None
            step = res["step"]
            if "report" in res:
                step["report"] = res["report"]
            rec["steps"][name] = step
            rec["seconds"] += step["seconds"]
            if step["peak_rss_mb"] is not None:
                rec["peak_rss_mb"] = max(rec["peak_rss_mb"] or 0.0, step["peak_rss_mb"])
        phases = self.results[tool.name]["phases"]
        if key == "nochange":
            phases.setdefault(key, []).append(rec)
        else:
            phases[key] = rec
        return rec


def _copy_tree(src: Path, dst: Path) -> None:
    """``cp -a src/. dst/`` (untimed; keeps the cached frames' times)."""
    dst.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", f"{src}/.", f"{dst}/"], check=True)


def _print_phase(tool: SyncTool, key: str, rec: dict[str, Any] | None, nbytes: int) -> None:
    if rec is None:
        return
    parts = ", ".join(f"{n} {s['seconds']:.2f} s" for n, s in rec["steps"].items())
    rate = f", {nbytes / MB / rec['seconds']:.1f} MB/s" if nbytes and rec["seconds"] else ""
    print(f"  {tool.name}: {key} {rec['seconds']:.2f} s ({parts}){rate}, peak "
          f"{rec['peak_rss_mb'] or 0:.0f} MB", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = args.out.resolve()
    work, env, logs, tools, missing = prepare_work(out / "work-sync", args.tools, TOOLS)
    if missing:
        print(f"not installed, left out: {', '.join(t.name for t in missing)} "
              "(`make bench-peers` installs them)")
    info = machine_info()
    res: dict[str, Any] = {
        "params": {"photos": args.photos, "new": args.new, "scale": args.scale,
                   "seed": args.seed, "quick": args.quick},
        "machine": info, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_before": _loadavg(), "code": code_version(),
        "missing": [t.name for t in missing], "versions": {t.name: t.version() for t in tools}}
    print(f"machine: {info['nproc']} x {info['cpu']}, {(info['memory_bytes'] or 0) / 2**30:.0f}"
          f" GiB RAM, Python {info['python']}; load {res['loadavg_before']}")
    for name, v in res["versions"].items():
        print(f"  {name}: {v}")
    print(f"code: {res['code']}", flush=True)
    t_start = time.perf_counter()

    t0 = time.perf_counter()
    exp = expedition(args.cache, args.photos, args.new, args.scale, args.seed)
    res["expedition"] = {"root": str(exp.root), "photos": exp.photos, "new": exp.new_photos,
                         "scale": exp.scale, "width": exp.width, "height": exp.height,
                         "base_files": len(exp.base_files), "base_bytes": exp.base_bytes,
                         "new_files": len(exp.new_files), "new_bytes": exp.new_bytes,
                         "generate_seconds": exp.generate_seconds,
                         "ready_seconds": time.perf_counter() - t0}
    print(f"expedition: {exp.describe()} (ready in {time.perf_counter() - t0:.1f} s)",
          flush=True)
    for tool in tools:
        _copy_tree(exp.base, tool.field)
    time.sleep(1.1)  # past the racy-timestamp window of git's index and cvault's stat cache
    r = Run(tools, env, logs)
    res["tools"] = r.results

    print("field ingest and empty studio:", flush=True)
    for tool in tools:
        _print_phase(tool, "prepare", r.phase(tool, "prepare", tool.prepare()), 0)
    print("initial push to the empty studio:", flush=True)
    for tool in tools:
        _print_phase(tool, "initial", r.phase(tool, "initial", tool.initial()), exp.base_bytes)
    for tool in tools:  # the 200 frames shot after the first sync
        _copy_tree(exp.new, tool.field)
    time.sleep(1.1)
    print(f"incremental: {exp.new_photos} new frames:", flush=True)
    for tool in tools:
        _print_phase(tool, "incremental", r.phase(tool, "incremental", tool.incremental()),
                     exp.new_bytes)
    print("no-change re-runs:", flush=True)
    for _ in range(NOCHANGE_RUNS):
        for tool in tools:
            _print_phase(tool, "nochange", r.phase(tool, "nochange", tool.nochange()), 0)
    print("verifying every studio against the manifest:", flush=True)
    for tool in tools:
        if tool.name in r.failed:
            continue
        t0 = time.perf_counter()
        verdict = tool.verify(exp)
        r.results[tool.name]["verified"] = verdict
        r.results[tool.name]["studio"] = _store_bytes(tool.studio_paths())
        print(f"  {tool.name}: {verdict} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.ssh:
        _run_ssh(r, tools, work, exp, res)
    res["total_seconds"] = time.perf_counter() - t_start
    res["loadavg_after"] = _loadavg()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def _run_ssh(r: Run, tools: list[SyncTool], work: Path, exp: Expedition,
             res: dict[str, Any]) -> None:
    """Every tool's whole field to a new, empty studio over SSH (sshd on loopback)."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from tests.remotes import SshServer
    except ImportError as e:
        res["ssh"] = f"skipped: {e}"
        return
    reason = SshServer.unavailable()
    if reason:
        res["ssh"] = f"skipped: {reason}"
        print(f"over SSH: skipped ({reason})", flush=True)
        return
    nbytes = exp.base_bytes + exp.new_bytes
    try:
        server = SshServer(work / "sshd").start()
    except RuntimeError as e:
        res["ssh"] = f"skipped: {e}"
        print(f"over SSH: skipped ({e})", flush=True)
        return
    res["ssh"] = "ran"
    try:
        print(f"over SSH ({server.destination} port {server.port}): all "
              f"{exp.photos + exp.new_photos:,} frames to an empty studio, then again:",
              flush=True)
        for tool in tools:
            if tool.name in r.failed:
                continue
            target = tool.base / "studio-ssh"
            extra = tool.ssh_env(server)
            r.phase(tool, "ssh_prepare", tool.ssh_prepare(server, target), extra, True)
            _print_phase(tool, "ssh_initial", r.phase(
                tool, "ssh_initial", tool.ssh_push(server, target), extra, True), nbytes)
            _print_phase(tool, "ssh_nochange", r.phase(
                tool, "ssh_nochange", tool.ssh_push(server, target), extra, True), 0)
    finally:
        server.stop()


# --------------------------------------------------------------------------- report

#: (label, key, higher is better)
_ROWS = [
    ("field ingest before the push: add + commit (s)", "ingest_s", False),
    ("initial push to the empty studio (s)", "initial_s", False),
    ("  throughput (MB/s)", "initial_mb_s", True),
    ("  of which content transfer (s)", "initial_transfer_s", False),
    ("incremental: {new} new frames, add + commit + push (s)", "incremental_s", False),
    ("  throughput of the new frames' bytes (MB/s)", "incremental_mb_s", True),
    ("  of which content transfer (s)", "incremental_transfer_s", False),
    ("no-change re-run, median of 3 (s)", "nochange_s", False),
    ("  max of 3 (s)", "nochange_max_s", False),
    ("peak memory, largest process (MB)", "peak_rss_mb", False),
    ("studio size (MB)", "studio_mb", False),
    ("over SSH: all {total:,} frames to an empty studio (s)", "ssh_initial_s", False),
    ("  throughput (MB/s)", "ssh_initial_mb_s", True),
    ("  no-change re-run (s)", "ssh_nochange_s", False),
    ("studio verified against the manifest", "verified", False),
]


def summarize(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tool: the table's values (None when not measured)."""
    e = res["expedition"]
    out: dict[str, dict[str, Any]] = {}
    for name, t in res["tools"].items():
        ph = t["phases"]
        v: dict[str, Any] = {}
        prep = ph.get("prepare", {}).get("steps", {})
        if "ingest" in prep:
            v["ingest_s"] = prep["ingest"]["seconds"]
        for key, nbytes in (("initial", e["base_bytes"]), ("incremental", e["new_bytes"]),
                            ("ssh_initial", e["base_bytes"] + e["new_bytes"])):
            if key in ph:
                v[f"{key}_s"] = ph[key]["seconds"]
                v[f"{key}_mb_s"] = nbytes / MB / ph[key]["seconds"]
                if "transfer" in ph[key]["steps"]:
                    v[f"{key}_transfer_s"] = ph[key]["steps"]["transfer"]["seconds"]
        if ph.get("nochange"):
            times = [p["seconds"] for p in ph["nochange"]]
            v["nochange_s"] = statistics.median(times)
            v["nochange_max_s"] = max(times)
        if "ssh_nochange" in ph:
            v["ssh_nochange_s"] = ph["ssh_nochange"]["seconds"]
        peaks = [p["peak_rss_mb"] for k, p in ph.items()
                 if isinstance(p, dict) and k != "prepare" and p["peak_rss_mb"] is not None]
        peaks += [p["peak_rss_mb"] for p in ph.get("nochange", [])
                  if p["peak_rss_mb"] is not None]
        if peaks:
            v["peak_rss_mb"] = max(peaks)
        if "studio" in t:
            v["studio_mb"] = t["studio"]["apparent"] / MB
        if "verified" in t:
            v["verified"] = t["verified"].split(" (")[0]
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


def report(res: dict[str, Any], markdown: bool = False) -> list[str]:
    """The table (rows: measures; columns: tools), plain or markdown."""
    vals = summarize(res)
    names = list(vals)
    head = ["measure"] + names
    e = res["expedition"]
    counts = {"new": e["new"], "total": e["photos"] + e["new"]}
    rows = [[label.format(**counts)] + [_fmt(vals[n].get(key)) for n in names]
            for label, key, _ in _ROWS if any(key in vals[n] for n in names)]
    lines: list[str] = []
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join([("· " if r[0].startswith("  ") else "") + r[0].strip()]
                                    + r[1:]) + " |" for r in rows]
    else:
        widths = [max(len(r[c]) for r in rows + [head]) for c in range(len(head))]
        fmt_row = lambda r: "  ".join(  # noqa: E731
            (c.ljust(widths[k]) if k == 0 else c.rjust(widths[k])) for k, c in enumerate(r))
        lines.append(fmt_row(head))
        lines.append("-" * (sum(widths) + 2 * len(widths)))
        lines += [fmt_row(r) for r in rows]
    for n in names:
        if "failed" in vals[n]:
            lines.append(f"{n}: FAILED ({vals[n]['failed']})")
        if "ssh_failed" in res["tools"][n]:
            lines.append(f"{n} over SSH: FAILED ({res['tools'][n]['ssh_failed']})")
    phases = res["tools"].get("cvault", {}).get("phases", {})
    sent = []
    for key in ("initial", "incremental", "ssh_initial"):
        rep = phases.get(key, {}).get("steps", {}).get("sync", {}).get("report")
        rep = rep.get("push") if rep and "push" in rep else rep
        if rep:
            sent.append(f"{key} {rep['files']:,} files, {rep['bytes'] / MB:,.1f} MB, "
                        f"{rep['chunks']:,} chunks")
    if sent:
        lines.append("cvault's transfer reports (vault-managed files; text sidecars travel "
                     "as git objects): " + "; ".join(sent))
    c = vals.get("cvault", {})
    if isinstance(c.get("nochange_max_s"), (int, float)):
        ok = c["nochange_max_s"] < NOCHANGE_TARGET_S
        lines.append(f"cvault no-change sync: {c['nochange_max_s']:.2f} s at most, target "
                     f"< {NOCHANGE_TARGET_S:g} s: {'met' if ok else 'MISSED'}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="field -> studio sync of a photo expedition: "
                                 "cvault, rsync, git-annex")
    ap.add_argument("--quick", action="store_true",
                    help=f"small scale for development and make bench: {SCALES['quick']}")
    ap.add_argument("--photos", type=int, help=f"default {SCALES['full']['photos']}")
    ap.add_argument("--new", type=int, help=f"default {SCALES['full']['new']}")
    ap.add_argument("--scale", type=float, help="fraction of the 10 MB full-size photo "
                    f"(default {SCALES['full']['scale']})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS))
    ap.add_argument("--no-ssh", dest="ssh", action="store_false",
                    help="leave out the SSH part")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help="where generated expeditions are kept between runs")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="print the table of an earlier run's sync.json; run nothing")
    ap.add_argument("--markdown", action="store_true", help="with --report: a markdown table")
    add_child_arguments(ap)
    args = ap.parse_args(argv)
    if args.child:
        return serve_child(_TASKS, args)
    if args.report:
        print("\n".join(report(json.loads(args.report.read_text()), args.markdown)))
        return 0
    if sys.platform != "linux":
        print("benchmarks.bench_sync needs Linux (os.wait4, /proc)", file=sys.stderr)
        return 2
    if not os.access(GNU_TIME, os.X_OK):
        print(f"no GNU time ({GNU_TIME}, Debian package 'time'): peak memory not measured")
    scale = SCALES["quick" if args.quick else "full"]
    for key in ("photos", "new", "scale"):
        if getattr(args, key) is None:
            setattr(args, key, scale[key])
    res = run(args)
    res["summary"] = summarize(res)
    res["table"] = report(res)
    e = res["expedition"]
    print()
    print(f"{e['photos']:,} photos + {e['new']} new at scale {e['scale']:g} "
          f"({e['width']} x {e['height']}): {e['base_files']:,} files, "
          f"{e['base_bytes'] / MB:,.0f} MB, then {e['new_files']} files, "
          f"{e['new_bytes'] / MB:,.1f} MB; total {res['total_seconds']:.0f} s; load before "
          f"{res['loadavg_before']}, after {res['loadavg_after']}")
    print("\n".join(res["table"]))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    name = "sync-quick.json" if args.quick else "sync.json"
    (out / name).write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nresults written to {out / name}")
    bad = any("failed" in v or not str(v.get("verified", "ok")).startswith("ok")
              for v in res["summary"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
