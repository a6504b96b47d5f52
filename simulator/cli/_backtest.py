"""``arsim backtest``: fit at past month ends, forecast the months after, compare with what
happened (DESIGN 7)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from .._format import fmt_money, fmt_pct
from ._common import (
    EXIT_OK,
    UserError,
    check_out_folder,
    message,
    parse_sets,
    print_json,
    progress_bar,
    writing,
)


def _date(text: str | None, src: str, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{src}: {option}: expected a date like 2024-06-30, got {text!r}") from None


def _check(args: argparse.Namespace, src: str) -> None:
    if args.snapshots is not None:
        raise UserError(
            f"{args.snapshots}: --snapshots: backtests on aging snapshots are not built yet; "
            "backtest an invoice ledger"
        )
    if args.ledger is None:
        raise UserError("arsim: LEDGER: give the invoice ledger to backtest")
    if (args.origins is None) == (args.rolling is None):
        raise UserError(f"{src}: --origins: give either --origins DATES or --rolling N")
    checks = [
        (not 1 <= args.horizon <= 1200, "--horizon", f"must be in 1..1200, got {args.horizon}"),
        (not 1 <= args.paths <= 1_000_000, "--paths", f"must be in 1..1000000, got {args.paths}"),
        (not 0 <= args.seed < 2**63, "--seed", f"must be in 0..2**63-1, got {args.seed}"),
        (args.bootstrap < 0, "--bootstrap", f"must be ≥ 0, got {args.bootstrap}"),
        (
            args.time_blocks is not None and args.time_blocks < 1,
            "--time-blocks",
            f"must be ≥ 1, got {args.time_blocks}",
        ),
        (
            args.write_off_age is not None and not 1 <= args.write_off_age <= 1200,
            "--write-off-age",
            f"must be in 1..1200, got {args.write_off_age}",
        ),
        (
            args.billings == "model" and args.base is None,
            "--billings",
            "model billings need --base (its revenue model)",
        ),
    ]
    for bad, option, reason in checks:
        if bad:
            raise UserError(f"{src}: {option}: {reason}")


def _options(args: argparse.Namespace, src: str) -> Any:
    from ..backtest import BacktestOptions
    from ..data import SnapshotError, parse_edges
    from ..scenario import check_field_path, load_scenario

    base = load_scenario(args.base) if args.base is not None else None
    edges = None
    if args.edges_months is not None:
        try:
            edges = tuple(parse_edges(args.edges_months, src))
        except SnapshotError as exc:
            raise UserError(str(exc)) from None
    overrides = parse_sets(args.set or [], src)
    for path in overrides:
        check_field_path(path, src)
    opts = BacktestOptions(
        edges_months=edges,
        base=base,
        start=_date(args.start, src, "--from"),
        write_off_age=args.write_off_age,
        age_basis=args.age_basis,
        fit_seasonality=args.fit_seasonality,
        time_blocks=args.time_blocks,
        bootstrap=args.bootstrap,
        billings=args.billings,
        paths=args.paths,
        seed=args.seed,
        parameter_risk=args.parameter_risk,
        overrides=overrides,
        workers=args.workers,
    )
    w = opts.w
    if w is not None and w <= opts.edges[-1]:
        raise UserError(
            f"{src}: --write-off-age: the write-off age {w} must be greater than the last edge "
            f"{opts.edges[-1]}"
        )
    return opts


def _read(args: argparse.Namespace, src: str) -> Any:
    from ..data import LedgerError, read_ledger

    try:
        ledger = read_ledger(
            src,
            events=args.events,
            columns=args.columns,
            date_format=args.date_format,
            unit_divisor=args.unit_divisor,
            sheet=args.sheet,
        )
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    if ledger.rejects and not args.allow_rejects:
        more = len(ledger.rejects) - 1
        tail = (
            f" (and {more} more bad rows; list them with arsim ledger --rejects FILE, or leave "
            "them out with --allow-rejects)"
            if more
            else " (leave it out with --allow-rejects)"
        )
        raise UserError(f"{ledger.rejects[0].error()}{tail}")
    return ledger


_HEAD = (
    f"  {'series':<30}{'n':>5}{'WAPE':>9}{'bias':>9}{'in 50 %':>9}{'in 90 %':>9}"
    f"{'CRPS':>11}{'naive MAE':>11}{'skill':>8}"
)


def _row(name: str, m: dict[str, Any] | None, width: int = 30) -> str:
    if m is None:
        return f"  {name:<{width}}{'—':>5}   (no origin reaches this horizon)"

    def pct(x: Any, sign: bool = False) -> str:
        if x is None:
            return "n/a"
        return f"{100 * x:+.1f} %" if sign else fmt_pct(x, 1)

    skill = "n/a" if m["skill"] is None else f"{m['skill']:+.2f}"
    return (
        f"  {name:<{width}}{m['n']:>5}{pct(m['wape']):>9}{pct(m['bias'], True):>9}"
        f"{pct(m['coverage_50']):>9}{pct(m['coverage_90']):>9}{fmt_money(m['crps']):>11}"
        f"{fmt_money(m['naive_mae']):>11}{skill:>8}"
    )


def backtest_text(doc: dict[str, Any], written: Path | None, n_plots: int) -> str:
    """The backtest as readable text: what was done, the metrics of every series over all
    horizons (per variant), what they mean, and where the folder is."""
    origins = doc["origins"]
    led = doc["ledger"]
    reached = sorted({o["horizon_months"] for o in origins})
    span = f"{reached[-1]}" if len(reached) == 1 else f"{reached[0]} to {reached[-1]}"
    unit = doc["unit"] or "money units"
    lines = [
        f"Backtest of {led['file']}: {led['invoices']:,} invoices of {led['customers']:,} "
        f"customers, data to {doc['data_end']}",
        f"{len(origins)} origins ({doc['origins_chosen']}) from {origins[0]['origin']} to "
        f"{origins[-1]['origin']}; horizon {doc['horizon']} months ({span} reached by the "
        "data end)",
        f"Each origin: rates fitted on the month-end pairs from {doc['window_start']} to the "
        "origin only, the aged",
        "balance there as the opening book, the credit billings "
        + ("actually made" if doc["billings"] == "actual" else "of the base's revenue model")
        + f"; {doc['paths']:,} paths, seed {doc['seed']}.",
    ]
    edges = ",".join(str(e) for e in doc["edges_months"])
    if doc["base"] is None:
        lines.append(
            f"No --base: no common factor (β = ρ = 0), no seasonality; buckets {edges} months."
        )
    else:
        f = doc["factor"]
        lines += [
            f"Base {doc['base']['file']}: factor loading {f['factor_loading']:g}, correlation "
            f"{f['correlation']:g}, persistence {f['persistence']:g};",
            f"buckets {edges} months.",
        ]
    if doc["point_forecast"]:
        lines += [
            "Every path is the same (a point forecast): its intervals have no width, so its "
            "coverage is not",
            "a test of calibration. A base scenario with a factor (--base) gives the forecast "
            "its spread.",
        ]
        if "parameter_risk" in doc["variants"]:
            lines.append(
                "With parameter risk the paths differ by replicate: that spread is the rates' "
                "uncertainty alone."
            )
    if "parameter_risk" in doc["variants"]:
        lines.append(
            f"With parameter risk: path n runs with bootstrap replicate π[n mod "
            f"{doc['bootstrap']}] of the fit at its origin (same seed and paths as the plain "
            "forecast)."
        )
    for variant in doc["variants"]:
        title = "with parameter risk" if variant == "parameter_risk" else "fitted rates as known"
        lines += ["", f"Forecast against what happened ({unit}), all horizons, {title}:", _HEAD]
        for name, slot in doc["metrics"][variant].items():
            label = doc["series"][name]
            if name.startswith("gross_"):
                label = "  " + name.removeprefix("gross_")
            lines.append(_row(label, slot.get("all")))
        absent = [s for s in doc["series"] if s not in doc["metrics"][variant]]
        for name in absent:
            lines.append(_row(doc["series"][name], None))
    lines += [
        "",
        "WAPE = Σ|mean − realized| / Σ|realized|; bias = Σ(mean − realized) / Σ|realized| "
        "(+: the forecast was too high);",
        "in 50 % / 90 %: share of realized values inside the forecast's central 50 % / 90 % "
        "interval (nominal 50 % / 90 %;",
        "months and overlapping origins are not independent trials); CRPS: fair CRPS of the "
        "sample (lower is better);",
        "skill = 1 − CRPS / naive absolute error (> 0: better than the naive forecast: no factor, "
        "the rates of the last 12 month-end pairs).",
    ]
    notes = sorted({n for o in origins for n in o["notes"]})
    if notes:
        lines += ["", "Notes:"] + [f"  {n}" for n in notes[:8]]
        if len(notes) > 8:
            lines.append(f"  … and {len(notes) - 8} more in backtest.json")
    if written is not None:
        reps = f", replicates/ ({len(origins)})" if "parameter_risk" in doc["variants"] else ""
        lines += [
            "",
            f"Written to {written}/: backtest.json, metrics.csv, forecasts.csv, realized.csv, "
            f"scenarios/ ({len(origins)}){reps}, plots/ ({n_plots}). A page: arsim report "
            f"{written}",
        ]
    return "\n".join(lines)


def cmd_backtest(args: argparse.Namespace) -> int:
    """``arsim backtest``."""
    src = args.ledger or args.snapshots or "arsim"
    _check(args, src)
    from ..backtest import BacktestError, backtest, backtest_figures, parse_origins
    from ..backtest._forecast import check_parameter_risk
    from ..scenario import scenario_toml
    from ..storage import default_out_dir, write_backtest

    try:
        opts = _options(args, src)
        check_parameter_risk(opts, src)
        origins = parse_origins(args.origins, src) if args.origins is not None else None
    except BacktestError as exc:
        raise UserError(str(exc)) from None
    if args.out is not None:
        out = check_out_folder(Path(args.out), args.force)
    else:
        out = check_out_folder(default_out_dir(f"{Path(src).stem}-backtest"), False)
    ledger = _read(args, src)
    count = len(origins) if origins is not None else args.rolling
    try:
        with progress_bar(count, "origins", unit="origin") as bar:
            bt = backtest(
                ledger,
                horizon=args.horizon,
                origins=origins,
                rolling=args.rolling,
                data_end=_date(args.data_end, src, "--data-end"),
                options=opts,
                progress=bar.update,
            )
    except BacktestError as exc:
        raise UserError(str(exc)) from None
    doc = bt.document()
    if ledger.rejects:
        doc["rejected_rows"] = len(ledger.rejects)
    figures = backtest_figures(bt)
    texts = {f"scenarios/{k}.toml": scenario_toml(sc) for k, sc in bt.scenarios.items()}
    texts |= {f"replicates/{k}.csv": rows.to_csv(index=False) for k, rows in bt.replicates.items()}
    tables = {
        "metrics": bt.metrics,
        "forecasts": bt.forecasts,
        "realized": bt.realized.table(),
    }
    info = {"command": "backtest", "ledger_file": src, "ledger_sha256": ledger.sha256}
    written = writing(
        out,
        lambda: write_backtest(
            out,
            document=doc,
            tables=tables,
            figures=figures,
            texts=texts,
            force=args.force,
            info=info,
        ),
    )
    if args.json:
        print_json(doc)
        message(f"backtest written to {written}/")
    else:
        print(backtest_text(doc, written, len(figures)))
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``backtest`` subcommand."""
    p = sub.add_parser(
        "backtest",
        help="fit at past month ends of a ledger, forecast the months after, compare with what "
        "happened",
    )
    p.add_argument("ledger", nargs="?", help="the invoice table: .csv, .parquet or .xlsx")
    p.add_argument("--snapshots", metavar="FILE", help="aging snapshots instead (not built yet)")
    p.add_argument("--origins", metavar="DATE,...", help="month ends to forecast from")
    p.add_argument(
        "--rolling",
        type=int,
        metavar="N",
        help="the last N month ends with a month of data after them and 12 month-end pairs "
        "before them",
    )
    p.add_argument("--horizon", type=int, required=True, metavar="H", help="months to forecast")
    p.add_argument(
        "--base",
        metavar="SCENARIO",
        help="a scenario with the factor (loading, correlation, persistence), multiplier and "
        "seasonality; without it the forecast has no factor",
    )
    p.add_argument(
        "--edges-months",
        metavar="E0,E1,...",
        help="bucket lower edges in months (default: the base's, else 0,6,12,24,36,48)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="change each origin's fitted scenario before it runs, e.g. "
        "collections.multiplier=0.9 (repeatable; not the naive forecast)",
    )
    p.add_argument(
        "--parameter-risk",
        action="store_true",
        help="also forecast with the fit's bootstrap as parameter replicates (needs --paths "
        "at least twice --bootstrap)",
    )
    p.add_argument(
        "--billings",
        choices=("actual", "model"),
        default="actual",
        help="credit billings after the origin: what was billed (default), or the base's "
        "revenue model",
    )
    p.add_argument(
        "--data-end",
        metavar="DATE",
        help="the last month end with complete data (default: the last month end on or before "
        "the ledger's latest date)",
    )
    p.add_argument("--paths", type=int, default=4096, help="paths per origin (4096)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        metavar="B",
        help="replicates (200), with --parameter-risk",
    )
    p.add_argument(
        "--time-blocks",
        type=int,
        metavar="N",
        help="two-way bootstrap: also resample blocks of N month-end pairs",
    )
    p.add_argument("--events", metavar="FILE", help="the events table (payments, write-offs, …)")
    p.add_argument("--from", dest="start", metavar="DATE", help="first month end of every window")
    p.add_argument("--columns", metavar="FIELD=COLUMN,...", help="the file's column names")
    p.add_argument("--date-format", metavar="FMT", help="strptime format, e.g. %%d/%%m/%%Y")
    p.add_argument(
        "--unit-divisor", type=float, default=1.0, metavar="X", help="amounts ÷ X (e.g. 1e6)"
    )
    p.add_argument("--sheet", help="Excel sheet (default the first)")
    p.add_argument("--age-basis", choices=("invoice", "due"), default="invoice", help="ages from")
    p.add_argument("--write-off-age", type=int, metavar="W", help="the write-off policy's age")
    p.add_argument("--fit-seasonality", action="store_true", help="fit collections.seasonality")
    p.add_argument("--allow-rejects", action="store_true", help="leave bad rows out")
    p.add_argument("--workers", type=int, help="threads per simulation (default: CPUs)")
    p.add_argument("--out", help="the folder (default results/<ledger stem>-backtest/<time>/)")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")
    p.set_defaults(func=cmd_backtest)
