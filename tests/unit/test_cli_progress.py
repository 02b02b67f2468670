"""Headless progress (tqdm on a terminal, plain periodic lines otherwise) and --quiet (issue #14)."""

from __future__ import annotations

import io

from symnet_core.cli.annotate import build_parser
from symnet_core.cli.common import ProgressLine


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = ProgressLine("propagate", out, interval=3600.0)
    progress(0, 4, "a.png")
    progress(1, 4, "b.png")  # within the interval: silent
    progress(4, 4, "d.png")  # finished: always printed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("propagate:   0% 0/4") and "a.png" in lines[0]
    assert lines[1].startswith("propagate: 100% 4/4") and "img/s" in lines[1] and "d.png" in lines[1]


def test_bar_on_a_terminal_and_nothing_when_quiet() -> None:
    term = _Terminal()
    progress = ProgressLine("adapt cell", term)
    for i in range(1, 4):
        progress(i, 3, f"img{i}")
    text = term.getvalue()
    assert "\r" in text and "3/3" in text and text.endswith("\n")
    quiet = _Terminal()
    silent = ProgressLine("propagate", quiet, quiet=True)
    silent(1, 2)
    silent(2, 2)
    assert quiet.getvalue() == ""


def test_quiet_flag_on_model_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["propagate", "--project", "x", "--quiet"])
    assert args.quiet is True
    assert parser.parse_args(["adapt", "--project", "x", "-q"]).quiet is True
    assert parser.parse_args(["propagate", "--project", "x"]).quiet is False
