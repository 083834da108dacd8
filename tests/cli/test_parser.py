"""The parser built for one verb answers exactly as the full parser does.

``main`` registers only the invoked verb's subparser when the line plainly names one
(a start-up cost otherwise paid by every command); help, usage errors and unknown verbs
must read the same as with every verb registered.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from creativevault.cli import main as cli_main
from creativevault.cli.main import COMMANDS, build_parser, main


def _full_parser_says(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the full parser on ``argv``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _main_says(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, out=out)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("verb", COMMANDS)
def test_each_verb_help_is_the_full_parsers(verb):
    code, out, err = _main_says([verb, "--help"])
    assert (code, out, err) == _full_parser_says([verb, "--help"])
    assert code == 0 and out.startswith(f"usage: cvault {verb}")


@pytest.mark.parametrize("argv", [
    ["add", "--bogus", "x"],
    ["add"],
    ["commit"],
    ["commit", "-m"],
    ["status", "--bogus"],
    ["-C", "somewhere", "add", "--nope"],
    ["-Csomewhere", "log", "--max-count", "x"],
    ["log", "-n"],
])
def test_usage_errors_read_as_with_the_full_parser(argv):
    code, out, err = _main_says(argv)
    assert (code, out, err) == _full_parser_says(argv)
    assert code == 2 and err.startswith("usage: cvault")


@pytest.mark.parametrize("argv", [["frobnicate"], ["--help"], ["-h"], ["-h", "add"],
                                  ["-C"], ["--bogus", "add"], ["-C", "x"], []])
def test_lines_without_a_plain_verb_get_the_full_parser(argv, monkeypatch):
    seen = []
    real = cli_main.build_parser

    def spy(only=None):
        seen.append(only)
        return real(only)

    monkeypatch.setattr(cli_main, "build_parser", spy)
    code, out, err = _main_says(argv)
    assert seen == [None]
    if argv in (["-C", "x"], []):  # no verb: main prints the full help
        assert (code, out, err) == (2, build_parser().format_help(), "")
    else:
        assert (code, out, err) == _full_parser_says(argv)


def test_top_level_help_lists_every_verb():
    code, out, _ = _main_says(["--help"])
    assert code == 0
    for verb in COMMANDS:
        assert f"\n    {verb} " in out or f"\n    {verb}\n" in out, verb


def test_an_unknown_verb_lists_the_choices():
    code, _, err = _main_says(["frobnicate"])
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err and "'serve'" in err


def test_a_plain_verb_gets_only_its_own_subparser(monkeypatch):
    seen = []
    real = cli_main.build_parser

    def spy(only=None):
        seen.append(only)
        return real(only)

    monkeypatch.setattr(cli_main, "build_parser", spy)
    assert _main_says(["status", "--bogus"])[0] == 2
    assert _main_says(["-C", "x", "log", "--bogus"])[0] == 2
    assert seen == ["status", "log"]
