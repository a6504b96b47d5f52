"""``arsim calibrate``: roll rates and monthly hazards from consecutive aging snapshots, as text."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from .._format import fmt_num, fmt_pct
from ._common import EXIT_OK, UserError, check_out_file, write_out_text


def format_report(calibration: Any) -> str:
    """The calibration as readable text: roll rates, loss rates, fitted rates, residuals, notes.

    Parameters
    ----------
    calibration : Calibration

    Returns
    -------
    str
    """
    import numpy as np

    from ..data._calibrate import _residuals_by_bucket
    from ..data._fit import BOOTSTRAP_MIN_PERIODS, LEVEL
    from ..data._snapshots import _OPTIONAL

    s, rr, ft = calibration.snapshots, calibration.roll, calibration.fit
    labels = list(s.labels)
    k = len(labels)
    cols = [c for c, v in zip(_OPTIONAL, (s.billings, s.write_offs), strict=True) if v is not None]
    lines = [
        f"Aging history {s.source}: {len(s.dates)} snapshots, {s.dates[0].isoformat()} to "
        f"{s.dates[-1].isoformat()}, {k} buckets ({', '.join(labels)})"
        + (f", with {' and '.join(cols)}" if cols else ""),
        "",
    ]
    # Roll rates
    if k > 1:
        heads = [f"{labels[b]}→{labels[b + 1]}" + ("*" if b == k - 2 else "") for b in range(k - 1)]
        width = max(10, *(len(h) for h in heads))
        lines.append("Roll rates (share of a bucket found in the next one a period later):")
        lines.append(f"  {'period':<25}{'months':>6}  " + "  ".join(f"{h:>{width}}" for h in heads))
        for t in range(s.n_periods):
            cells = []
            for b in range(k - 1):
                st = rr.status[t][b]
                cells.append(
                    fmt_num(rr.periods[t, b])
                    if st == "ok"
                    else ("zero bal." if st == "zero" else "—")
                )
            period = f"{s.dates[t].isoformat()} → {s.dates[t + 1].isoformat()}"
            lines.append(
                f"  {period:<25}{s.months[t]:>6}  " + "  ".join(f"{x:>{width}}" for x in cells)
            )
        lines.append(
            f"  {'balance-weighted average':<31}  "
            + "  ".join(f"{fmt_num(x):>{width}}" for x in rr.average)
        )
        lines.append(
            f"  * into the open bucket, pooled: {labels[-1]}(t+1) / "
            f"({labels[-2]}(t) + {labels[-1]}(t))"
        )
        if any(st == "spacing" for row in rr.status for st in row):
            lines.append("  — no roll rate: the spacing is not the bucket's width (see the notes)")
        lines.append("")
    lines.append(
        f"Historical loss rates (product of the average roll rates × {fmt_pct(rr.terminal_loss)}, "
        f"the assumed loss rate of {labels[-1]}):"
    )
    lines.append(
        "  "
        + "   ".join(f"{lab} {fmt_pct(x)}" for lab, x in zip(labels, rr.loss_rates, strict=True))
    )
    lines.append("")
    # Fitted rates
    level = (
        f"{100 * LEVEL:.0f} % bootstrap interval"
        if ft.interval_method == "bootstrap"
        else ("range of per-period fits" if ft.interval_method == "per-period range" else "")
    )
    lines.append(
        "Monthly rates fitted to the snapshots (the model's monthly recursion restarted from an "
        "even spread at each snapshot):"
    )
    lw = max(8, *(len(lab) for lab in labels))

    def interval(lo: float, hi: float, digits: int) -> str:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return ""
        return f"[{lo:.{digits}f}, {hi:.{digits}f}]"

    p_head = "default p_b" + ("" if ft.default_mode != "fixed" else " (held)")
    lines.append(f"  {'bucket':<{lw}}  {'collection c_b':>14}  {level:<22}  {p_head:>14}  {level}")
    for b, lab in enumerate(labels):
        lines.append(
            f"  {lab:<{lw}}  {ft.collection_rates[b]:>14.4f}  "
            f"{interval(*ft.collection_interval[b], 4):<22}  {ft.default_rates[b]:>14.5f}  "
            f"{interval(*ft.default_interval[b], 5)}"
        )
    if ft.interval_method == "bootstrap":
        lines.append(
            f"  intervals: {ft.replicates} bootstrap resamples of the {s.n_periods} periods, "
            f"seed {ft.seed}"
        )
    elif ft.interval_method == "per-period range":
        lines.append(
            f"  intervals: min and max of {ft.replicates} one-period fits "
            f"(fewer than {BOOTSTRAP_MIN_PERIODS} periods: no bootstrap)"
        )
    lines.append(
        f"  fit: {'converged' if ft.converged else 'DID NOT CONVERGE'}, "
        f"cost {ft.cost:.3g} (half the sum of squared residuals / closing book)"
    )
    lines.append("")
    # Residuals
    lines.append("Fit residuals (fitted − observed, % of observed; (x) = left out of the fit):")
    heads = [*labels, *(["write-offs"] if ft.fitted_write_offs is not None else [])]
    widths = [max(10, len(h)) for h in heads]

    def row(first: str, cells: list[str]) -> str:
        return f"  {first:<12}" + "".join(
            f"  {c:>{w}}" for c, w in zip(cells, widths, strict=False)
        )

    def rel(fitted: float, observed: float, inc: bool = True) -> str:
        if observed > 0:
            txt = f"{100 * (fitted - observed) / observed:+.2f} %"
        else:
            txt = f"{fitted - observed:+.3g}"
        return txt if inc else f"({txt})"

    lines.append(row("snapshot", heads))
    for t in range(s.n_periods):
        cells = [rel(ft.fitted[t, b], ft.observed[t, b], bool(ft.included[t, b])) for b in range(k)]
        if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
            cells.append(rel(ft.fitted_write_offs[t], ft.observed_write_offs[t]))
        lines.append(row(s.dates[t + 1].isoformat(), cells))
    by = _residuals_by_bucket(ft)
    rms = [
        fmt_pct(v["rms_relative"]) if v["rms_relative"] is not None else "n/a" for v in by.values()
    ]
    if ft.fitted_write_offs is not None and ft.observed_write_offs is not None:
        obs = ft.observed_write_offs
        ok = obs > 0
        rel_wo = (ft.fitted_write_offs[ok] - obs[ok]) / obs[ok]
        rms.append(fmt_pct(float(np.sqrt(np.mean(rel_wo**2)))) if ok.any() else "n/a")
    lines.append(row("RMS", rms))
    notes = [*rr.notes, *ft.notes, *calibration.notes]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  - {n}" for n in notes]
    return "\n".join(lines)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..data import (
        SnapshotError,
        calibrate,
        parse_edges,
        read_snapshots,
        scenario_document,
    )
    from ..scenario import load_scenario

    src = args.snapshots
    if not (math.isfinite(args.terminal_loss) and 0.0 <= args.terminal_loss <= 1.0):
        raise UserError(f"{src}: --terminal-loss: must be in [0, 1], got {args.terminal_loss:g}")
    if args.bootstrap < 0:
        raise UserError(f"{src}: --bootstrap: must be ≥ 0, got {args.bootstrap}")
    if not 0 <= args.seed < 2**63:
        raise UserError(f"{src}: --seed: must be in 0..2**63-1, got {args.seed}")
    out = check_out_file(Path(args.out), args.force) if args.out is not None else None
    try:
        edges = parse_edges(args.edges_months, src)
        base = load_scenario(args.base) if args.base is not None else None
        base_text = Path(args.base).read_text(encoding="utf-8") if base is not None else None
        snapshots = read_snapshots(src, edges)
        cal = calibrate(
            snapshots,
            terminal_loss=args.terminal_loss,
            base=base,
            bootstrap=args.bootstrap,
            seed=args.seed,
        )
    except SnapshotError as exc:
        raise UserError(str(exc)) from None
    result = cal.to_dict()
    text = format_report(cal)
    if not cal.fit.converged:
        print(json.dumps(result, indent=2) if args.json else text)
        raise UserError(f"{src}: fit: did not converge ({cal.fit.message}); nothing written")
    message = None
    if out is not None:
        content, missing = scenario_document(cal, base_text)
        write_out_text(out, content, args.force)
        result["written"] = str(out)
        result["missing_fields"] = missing
        message = (
            f"Scenario written to {out} (run it with: arsim run {out})"
            if not missing
            else f"Fragment written to {out}; a scenario still needs {', '.join(missing)}"
        )
    if args.json:
        print(json.dumps(result, indent=2))
        if message:
            print(message, file=sys.stderr)
    else:
        print(text + (f"\n\n{message}" if message else ""))
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate", help="roll rates and monthly hazards from consecutive aging snapshots"
    )
    p.add_argument(
        "snapshots",
        help="CSV, one row per snapshot in date order: date,<bucket labels>[,billings]"
        "[,write_offs]; lines starting with # are comments",
    )
    p.add_argument(
        "--edges-months",
        required=True,
        metavar="E0,E1,...",
        help="bucket lower edges in months, e.g. 0,12,24,36 (the last bucket is open)",
    )
    p.add_argument(
        "--terminal-loss",
        type=float,
        default=1.0,
        metavar="X",
        help="assumed loss rate of the open bucket for the historical loss rates (default 1)",
    )
    p.add_argument(
        "--base",
        metavar="SCENARIO",
        help="a scenario with the same edges: its write-off age and default rates are used, and "
        "--out writes it with the fitted rates and the last snapshot, keeping its comments",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write the calibrated scenario (with --base) or a fragment ([buckets], "
        "[collections], [defaults]) to this file",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples of the periods for the intervals (default 1000; used with "
        "four or more periods)",
    )
    p.set_defaults(func=cmd_calibrate)
