"""The ``arsim`` command line: the only place that prints or exits.

One module per command group (``_run``: run, validate, plot; ``_sweep``: sweep, solve,
sensitivity; ``_implied``: implied-rates; ``_calibrate``; ``_ledger``: ledger, synth-ledger;
``_backtest``; ``_report``; ``_compare``; ``_serve``: the what-if page). Each imports the
numerical packages (and the web server) only inside its commands, so ``arsim --help`` and
``arsim validate`` start fast.

Exit codes: 0 success; 2 a user's mistake (one line on stderr, ``FILE: FIELD: reason``, nothing
written); 1 an internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from .._version import __version__
from . import _backtest, _calibrate, _compare, _implied, _ledger, _report, _run, _serve, _sweep
from ._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER, Parser, UserError

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USER",
    "build_parser",
    "entry",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``arsim`` argument parser."""
    parser = Parser(
        prog="arsim",
        description="Monte Carlo credit risk of trade receivables: aging, provisions, cash runway.",
    )
    parser.add_argument("--version", action="version", version=f"arsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in (
        _run,
        _sweep,
        _implied,
        _calibrate,
        _ledger,
        _backtest,
        _report,
        _compare,
        _serve,
    ):
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``arsim`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    where = getattr(args, "scenario", None) or "arsim"
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print(f"{where}: --workers: must be at least 1", file=sys.stderr)
        return EXIT_USER
    try:  # a Ctrl-C while these load (pydantic: a fifth of a second) is an interruption too
        from ..resources import ResourceError
        from ..scenario import ScenarioError
    except KeyboardInterrupt:
        print("arsim: interrupted; no results folder was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return args.func(args)
    except (ScenarioError, UserError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER
    except ResourceError as exc:
        print(f"{where}: simulation.paths: {exc}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("arsim: interrupted; no results folder was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("ARSIM_DEBUG"):
            raise
        print(
            f"arsim: internal error: {type(exc).__name__}: {exc} (set ARSIM_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def entry() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
