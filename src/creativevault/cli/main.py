"""``cvault`` / ``git cvault``: argument parsing, dispatch, one-line errors, exit codes.

The exit-code table below is the one place codes are chosen (documented in docs/cli.md).
Commands live in ``cli/cmd_<verb>.py``; each has ``register(subparsers)`` and
``run(args, out) -> int``. The library is imported lazily so ``cvault --version`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import TextIO

from creativevault import __version__
from creativevault import errors as E

__all__ = ["COMMANDS", "EXIT_CODES", "exit_code_for", "main"]

COMMANDS = ("init", "install", "add", "commit", "status", "log", "show", "checkout", "merge",
            "restore", "rm", "mv", "branch", "cat", "diff", "timeline", "rescue", "fsck", "gc",
            "hook", "import-lfs", "filter-process", "textconv", "ext-diff",
            "remote", "clone", "fetch", "push", "pull", "sync", "get", "drop", "serve")

#: exception class -> exit code; the first matching entry (most specific first) wins.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (E.NotAVaultError, 3),
    (E.RevisionNotFoundError, 2),
    (E.PathNotFoundError, 2),
    (E.UsageError, 2),
    (E.InputFileError, 4),
    (E.PointerError, 5),
    (E.CorruptObjectError, 5),
    (E.StoreFormatError, 5),
    (E.ObjectMissingError, 6),
    (E.DiskFullError, 7),
    (E.LockedError, 8),
    (E.WorktreeError, 9),
    (E.GitError, 10),
    (E.PushRejectedError, 12),
    (E.NotEnoughCopiesError, 13),
    (E.RemoteError, 11),
    (E.VaultError, 1),
)
EXIT_INTERRUPTED = 130
#: an exception the library did not convert (a bug)
EXIT_INTERNAL = 1


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for an error raised by the library."""
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"creativevault.cli.cmd_{name.replace('-', '_')}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``cvault`` parser with every verb's subparser, or only the verb ``only``'s.

    The two parse a line naming that verb alike: the top-level usage names no verb
    (``COMMAND``), and argparse takes no abbreviation of a verb. Only the top-level help
    and the "invalid choice" error list the verbs, and those need the full parser.
    """
    parser = argparse.ArgumentParser(
        prog="cvault", description="Version control for large creative files.")
    parser.add_argument("--version", action="version", version=f"cvault {__version__}")
    parser.add_argument("-C", dest="directory", metavar="PATH",
                        help="run as if cvault was started in PATH")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        _command_module(name).register(sub)
    return parser


def _invoked_verb(argv: list[str]) -> str | None:
    """The verb of a plain ``[-C PATH] VERB ...`` line, else ``None``.

    Importing and registering all verbs costs more than most commands run (40 ms), so a
    line that plainly names a verb gets a parser with that verb alone; anything else
    (``--help``, no verb, an unknown one, options before it) gets the full parser.
    """
    at = 0
    if argv[:1] == ["-C"]:
        at = 2
    elif argv[:1] and argv[0].startswith("-C"):
        at = 1  # -CPATH
    verb = argv[at] if at < len(argv) else None
    return verb if verb in COMMANDS else None


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        out.write(f"cvault {__version__}\n")
        return 0
    parser = build_parser(_invoked_verb(argv))
    try:
        args = parser.parse_args(argv)
        module = _command_module(args.command) if args.command else None
        if module is not None and getattr(module, "PATHS_AFTER_DASHDASH", False) \
                and "--" in argv:
            # argparse drops "--", so `log -- PATH` would take PATH as the revision:
            # everything after the first "--" is a path, as in git.
            cut = argv.index("--")
            args = parser.parse_args(argv[:cut])
            args.paths = [*args.paths, *argv[cut + 1:]]
    except SystemExit as exc:  # usage errors and --help: return the code, do not exit
        return exc.code if isinstance(exc.code, int) else 2
    if module is None:
        parser.print_help(out)
        return 2
    import os

    if args.directory:
        try:
            os.chdir(args.directory)
        except OSError as exc:
            sys.stderr.write(f"cvault: error: {args.directory}: {exc.strerror}\n")
            return 2
    try:
        return int(module.run(args, out) or 0)
    except E.VaultError as exc:
        sys.stderr.write(f"cvault: error: {exc}\n")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        sys.stderr.write("cvault: interrupted; the vault is unchanged past the last "
                         "completed step\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # Safety net: the library converts OSError at its boundaries; anything left is
        # still reported as one line naming the file.
        import errno

        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"cvault: error: {where}{exc.strerror or exc}\n")
        return 7 if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) else 1
    except Exception as exc:
        # Last resort: an exception the library failed to convert is a bug, but users
        # still get one line, not a traceback (CVAULT_DEBUG=1 shows the traceback).
        if os.environ.get("CVAULT_DEBUG"):
            raise
        sys.stderr.write(f"cvault: error: internal error: {type(exc).__name__}: {exc} "
                         "(a bug; please report it, CVAULT_DEBUG=1 shows the traceback)\n")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
