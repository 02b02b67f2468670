"""Headless commands of ``symnet-annotate``: ``propagate``, ``adapt``, ``export``, ``validate``, ``import``,
``models``, ``suggest``.

Exit codes: 0 success; 1 finished but something failed (unreadable images, invalid export);
2 could not run: bad usage or input (no project, unusable checkpoint, no supports), a locked,
damaged or unsafe project, a failed write (full disk) — one line naming the file; 130 interrupted (Ctrl+C —
everything finished so far is saved; a project run resumes when started again).

This module never imports Qt; ``symnet_gui.__main__`` hands these subcommands over without
starting the GUI.
"""

from __future__ import annotations

import argparse
import logging
import sys

from symnet_core.cli import adapt, export, importing, models, propagate, suggest
from symnet_core.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, could_not_run

SUBCOMMANDS = ("propagate", "adapt", "export", "validate", "import", "models", "suggest")
_MODULES = (propagate, adapt, export, importing, models, suggest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symnet-annotate", description="Headless symnet-annotate commands.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201
        return EXIT_INTERRUPTED
    except Exception as exc:
        message = could_not_run(exc)
        if message is None:
            raise  # a bug: keep its traceback
        if args.verbose and not isinstance(exc, UsageError):
            logging.getLogger("symnet_annotate").exception("details")
        print(f"symnet-annotate {args.command}: error: {message}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
