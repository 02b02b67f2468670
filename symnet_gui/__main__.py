"""Entry point: ``python -m symnet_gui [FOLDER] [--demo] [--checkpoint FILE] [--device DEV]``.

Headless subcommands (``propagate``, ``adapt``, ``export``, ``validate``, ``import``, ``models``) are handed to
``symnet_core.cli.annotate.main(argv)`` without importing Qt, so they run on servers without a
display. Anything else opens the window (Qt is imported only then; torch only later, on the
inference worker thread).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["EXIT_NO_GUI", "HEADLESS_COMMANDS", "main", "parse_args", "version"]

HEADLESS_COMMANDS = ("propagate", "adapt", "export", "validate", "import", "models", "suggest")
EXIT_NO_GUI = 3  # the window cannot open here (missing 'gui' extra or system libraries); see system_check


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="symnet-annotate",
        description="Paint a few masks, propagate them to a folder with Sym-Net, review, export COCO. "
                    f"Headless: symnet-annotate {{{','.join(HEADLESS_COMMANDS)}}} --help",
    )
    p.add_argument("path", nargs="?", help="a folder of images, or its project folder (.symnet)")
    p.add_argument("--demo", action="store_true", help="generate the synthetic demo folder and load the demo model")
    p.add_argument("--checkpoint", metavar="FILE", help="Sym-Net checkpoint to load (in the background)")
    p.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    return p.parse_args(list(argv))


def version() -> str:
    """The package version: ``symnet_core.__version__``, which pyproject.toml reads (single source)."""
    from symnet_core import __version__

    return __version__


def _headless(argv: list[str]) -> int:
    try:
        from symnet_core.cli.annotate import main as headless_main
    except ImportError as exc:
        sys.stderr.write(f"symnet-annotate {argv[0]}: the headless commands are not available in this build "
                         f"({exc}).\n")
        return 2
    return int(headless_main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app (or a headless subcommand); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in HEADLESS_COMMANDS:
        return _headless(args_list)
    args = parse_args(args_list)
    from symnet_gui.platform.system_check import gui_problem

    problem = gui_problem()
    if problem:  # no PySide6, or Qt's X11 plugin cannot load: one line, not a traceback or an abort
        sys.stderr.write(problem + "\n")
        return EXIT_NO_GUI
    from symnet_gui.platform.logging_setup import configure_logging

    configure_logging(args.verbose)
    logging.getLogger(__name__).info("starting symnet-annotate %s", " ".join(args_list))
    from symnet_gui.app import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
