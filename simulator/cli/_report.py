"""``arsim report``: one self-contained HTML page for a results, sweep or backtest folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, UserError, check_out_file, write_out_text


def cmd_report(args: argparse.Namespace) -> int:
    from ..report import ReportError, build_report

    folder = Path(args.results_dir)
    out = Path(args.out) if args.out is not None else folder / "report.html"
    check_out_file(out, args.force)
    try:
        page = build_report(folder)
    except ReportError as exc:
        raise UserError(str(exc)) from None
    written = write_out_text(out, page, args.force)
    if args.json:
        print(json.dumps({"report": str(written), "bytes": written.stat().st_size}))
    else:
        print(written)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """``arsim report RESULTS_DIR [--out report.html] [--force]``."""
    p = sub.add_parser(
        "report", help="one self-contained HTML page for a results, sweep or backtest folder"
    )
    p.add_argument(
        "results_dir",
        help="a folder written by 'arsim run', sweep, solve, sensitivity or backtest",
    )
    p.add_argument("--out", metavar="FILE", help="the HTML file (default RESULTS_DIR/report.html)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the file written as JSON")
    p.set_defaults(func=cmd_report)
