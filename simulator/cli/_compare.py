"""``arsim compare RUN_A RUN_B``: two results folders side by side, as a table, JSON or a page."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from .._format import describe_overrides
from ._common import (
    EXIT_OK,
    UserError,
    check_out_file,
    message,
    print_json,
    text_table,
    write_out_text,
)

#: Where the page goes without ``--out`` (DESIGN 3).
DEFAULT_PAGE = "compare.html"


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, 100, break_on_hyphens=False)


def compare_text(comparison: Any) -> str:
    """What ``arsim compare`` prints: the runs, the inputs that differ, and one line per summary
    key with A, B, B − A, the SE of the difference and whether it is paired.

    Parameters
    ----------
    comparison : simulator.compare.Comparison

    Returns
    -------
    str
    """
    from ..compare import row_texts, setting_text

    c = comparison
    lines = [f"{c.a.get('name') or 'A'}: B against A"]
    for info in (c.a, c.b):
        changed = describe_overrides(info["overrides"])
        extra = f"; overrides: {', '.join(changed)}" if changed else ""
        lines.append(
            f"  {info['label']}  {info['folder']}  ({info['paths']:,} paths, seed {info['seed']}, "
            f"{info['horizon_months']} months{extra})"
        )
    lines += ["", *_wrap(f"Paths are {c.pairing}."), "", "Inputs that differ (A → B):"]
    if c.inputs:
        rows = [
            [f"  {d['field']}", *(setting_text(d["field"], d[s]) for s in "ab")] for d in c.inputs
        ]
        rows = [[field, a, "→", b] for field, a, b in rows]
        lines += text_table(rows, set())
    else:
        lines.append("  none: both runs ran the same scenario")
    horizons = (c.a["horizon_months"], c.b["horizon_months"])
    rows = [["metric", "A", "B", "B − A", "SE of B − A", "SE"]]
    for row in c.rows:
        t = row_texts(row, horizons)
        rows.append([row["label"], t["a"], t["b"], t["diff"], t["se"], t["how"]])
    lines += ["", *text_table(rows, {1, 2, 3, 4})]
    for side, note in (("A", c.notes.get("a")), ("B", c.notes.get("b"))):
        if note:
            lines += _wrap(f"{side}: implied lifetime loss, {note}")
    unit = c.a.get("unit") or "money units"
    lines.append(f"Percentages differ in percentage points (pp); amounts are in {unit}.")
    return "\n".join(lines)


def _read(folder: str, which: str) -> Any:
    from ..storage import read_run

    try:
        return read_run(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{folder}: {which}: {exc}") from None


def cmd_compare(args: argparse.Namespace) -> int:
    """``arsim compare``: read both runs, compare them, print and write the page."""
    out = None
    if args.out is not None or not args.json:
        out = check_out_file(Path(args.out if args.out is not None else DEFAULT_PAGE), args.force)
    a, b = _read(args.run_a, "RUN_A"), _read(args.run_b, "RUN_B")
    from ..compare import compare_runs
    from ..report import compare_report

    comparison = compare_runs(a, b)
    written = write_out_text(out, compare_report(comparison), args.force) if out else None
    if args.json:
        print_json(comparison.doc())
        if written is not None:
            message(f"page written to {written}")
    else:
        print(compare_text(comparison))
        print(f"\nPage written to {written}")
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """``arsim compare RUN_A RUN_B [--out FILE] [--force] [--json]``."""
    p = sub.add_parser(
        "compare",
        help="two results folders side by side: every summary key, B - A and its SE",
        description="Compare run B (e.g. a stress) with run A (its base): every summary key, "
        "the difference B - A and its standard error (paired over the paths when both runs "
        "hold the same number of paths), the inputs that differ, and a page with the runway "
        "curves and cash fans overlaid.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="results folder of run A (the base)")
    p.add_argument("run_b", metavar="RUN_B", help="results folder of run B (the stress)")
    p.add_argument(
        "--out",
        metavar="FILE",
        help=f"the HTML page (default ./{DEFAULT_PAGE}; with --json, none unless --out is given)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout")
    p.set_defaults(func=cmd_compare)
