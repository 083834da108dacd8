"""The CLI's shared printing: human sizes, JSON and the stderr progress bar."""

from __future__ import annotations

import io
import json

import pytest

from creativevault.cli.output import BarProgress, human_size, print_json


@pytest.mark.parametrize("n, text", [
    (None, "-"), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (5 * 1024**2, "5.0 MiB"), (3 * 1024**3, "3.0 GiB"), (2 * 1024**4, "2.0 TiB"),
    (4096 * 1024**4, "4096.0 TiB"),
])
def test_human_size(n, text):
    assert human_size(n) == text


def test_print_json_sorted_and_newline_terminated():
    buf = io.StringIO()
    print_json(buf, {"b": 1, "a": [1, 2]})
    assert buf.getvalue().endswith("}\n")
    assert list(json.loads(buf.getvalue())) == ["a", "b"]
    assert buf.getvalue().index('"a"') < buf.getvalue().index('"b"')


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_silent_without_a_terminal():
    stream = io.StringIO()
    bar = BarProgress(stream)
    bar.start("adding", 100)
    bar.advance(50)
    bar.finish()
    assert stream.getvalue() == ""
    bar.warn("careful")
    assert stream.getvalue() == "cvault: warning: careful\n"


def test_progress_bar_draws_on_a_terminal(monkeypatch):
    clock = iter([float(i) for i in range(100)])
    monkeypatch.setattr("creativevault.cli.output.time.monotonic", lambda: next(clock))
    stream = Tty()
    bar = BarProgress(stream, min_interval=0.1)
    bar.start("adding", 2048)
    bar.advance(1024)
    text = stream.getvalue()
    assert "\radding: [" in text and " 50.0% 1.0 KiB/2.0 KiB" in text
    assert "/s" in text  # a byte rate once more than half a second has passed
    bar.warn("odd file")
    assert stream.getvalue().endswith("\r\033[Kcvault: warning: odd file\n")
    bar.start("checkout", None, unit="files")
    bar.advance(3)
    assert stream.getvalue().endswith("\rcheckout: 3 files")
    bar.finish()
    assert stream.getvalue().endswith("\r\033[K")


def test_progress_bar_throttles(monkeypatch):
    monkeypatch.setattr("creativevault.cli.output.time.monotonic", lambda: 5.0)
    stream = Tty()
    bar = BarProgress(stream, min_interval=1.0)
    bar.start("adding", 10)
    drawn = stream.getvalue()
    bar.advance(1)
    bar.advance(1)
    assert stream.getvalue() == drawn  # no redraw within min_interval
    bar.finish()
    assert "20.0%" in stream.getvalue()


def test_progress_bar_counts_bytes_and_files(monkeypatch):
    clock = iter([float(i) for i in range(100)])
    monkeypatch.setattr("creativevault.cli.output.time.monotonic", lambda: next(clock))
    stream = Tty()
    bar = BarProgress(stream, min_interval=0.1)
    bar.start("push origin", 4096)
    bar.expect_items(5)
    bar.item("day01/DSC_0001.NEF")
    bar.advance(1024)
    bar.item("day01/DSC_0002.NEF")
    bar.advance(1024)
    text = stream.getvalue().rsplit("\r", 1)[-1]
    assert text.startswith("push origin: [") and "2.0 KiB/4.0 KiB" in text
    assert "2/5 files" in text
    bar.start("fetch", 10)  # a new phase forgets the file count
    assert "files" not in stream.getvalue().rsplit("\r", 1)[-1]
