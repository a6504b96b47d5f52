"""``arsim ledger``: monthly rates with intervals and a scenario from an invoice ledger
(DESIGN 6); ``arsim synth-ledger``: a synthetic ledger drawn from a scenario (6.6)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from ._common import (
    EXIT_OK,
    UserError,
    check_out_file,
    load_scenario_args,
    message,
    print_json,
    write_out_text,
    writing,
)


def _date(text: str, src: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{src}: {option}: expected a date like 2024-06-30, got {text!r}") from None


def _rejects_csv(rejects: Any) -> str:
    import io

    import pandas as pd

    frame = pd.DataFrame(
        [(r.file, r.row, r.column, r.reason, r.values) for r in rejects],
        columns=["file", "row", "column", "reason", "values"],
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()


def _debtors(text: str | None, src: str) -> int | None:
    """``--debtors N``: an integer in 1..1000."""
    from ..data._ledger_book import MAX_DEBTORS

    if text is None:
        return None
    try:
        n = int(text.strip())
    except ValueError:
        raise UserError(f"{src}: --debtors: expected a whole number, got {text!r}") from None
    if not 1 <= n <= MAX_DEBTORS:
        raise UserError(f"{src}: --debtors: must be in 1..{MAX_DEBTORS}, got {n}")
    return n


def _columns(args: argparse.Namespace, src: str) -> dict[str, str]:
    """``--columns`` as a mapping, with ``--segments COLUMN`` as the ``segment`` field."""
    from ..data import LedgerError
    from ..data._ledger_read import parse_columns_option

    try:
        mapping = parse_columns_option(args.columns, src)
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    if args.segments is not None:
        column = args.segments.strip()
        if not column:
            raise UserError(f"{src}: --segments: expected the segment column's name")
        other = mapping.get("segment")
        if other is not None and other != column:
            raise UserError(
                f"{src}: --segments: names the column {column!r} but --columns maps segment "
                f"to {other!r}; give one"
            )
        mapping["segment"] = column
    return mapping


def _check_options(args: argparse.Namespace, src: str) -> None:
    if args.allow_rejects and args.rejects is None:
        raise UserError(f"{src}: --allow-rejects: needs --rejects FILE to keep what is left out")
    if args.bootstrap < 0:
        raise UserError(f"{src}: --bootstrap: must be ≥ 0, got {args.bootstrap}")
    if args.replicates_out is not None and args.bootstrap < 2:
        raise UserError(f"{src}: --replicates-out: needs --bootstrap of 2 or more")
    if not 0 <= args.seed < 2**63:
        raise UserError(f"{src}: --seed: must be in 0..2**63-1, got {args.seed}")
    if args.time_blocks is not None and args.time_blocks < 1:
        raise UserError(f"{src}: --time-blocks: must be ≥ 1, got {args.time_blocks}")
    if args.write_off_age is not None and not 1 <= args.write_off_age <= 1200:
        raise UserError(f"{src}: --write-off-age: must be in 1..1200, got {args.write_off_age}")
    if args.replicates_out is not None and Path(args.replicates_out).suffix.lower() not in (
        ".csv",
        ".parquet",
    ):
        raise UserError(
            f"{args.replicates_out}: --replicates-out: expected a .csv or .parquet file"
        )


def _edges(args: argparse.Namespace, base: Any, src: str) -> list[int]:
    from ..data import SnapshotError, parse_edges

    if args.edges_months is None:
        if base is None:
            raise UserError(f"{src}: --edges-months: required without --base")
        return list(base.buckets.edges_months)
    try:
        edges = parse_edges(args.edges_months, src)
    except SnapshotError as exc:
        raise UserError(str(exc)) from None
    w = args.write_off_age or (base.defaults.write_off_after_months if base else None)
    if w is not None and w <= edges[-1]:
        raise UserError(
            f"{src}: --write-off-age: the write-off age {w} must be greater than the last edge "
            f"{edges[-1]}"
        )
    return edges


def cmd_ledger(args: argparse.Namespace) -> int:
    """``arsim ledger``."""
    from ..data import (
        LedgerError,
        fit_ledger,
        ledger_book,
        ledger_document,
        ledger_exposures,
        ledger_report,
        read_ledger,
        replicates_table,
    )
    from ._ledger_text import ledger_text

    src = args.ledger
    _check_options(args, src)
    n_debtors = _debtors(args.debtors, src)
    columns = _columns(args, src)
    as_of = _date(args.as_of, src, "--as-of")
    start = _date(args.start, src, "--from") if args.start is not None else None
    out = check_out_file(Path(args.out), args.force) if args.out is not None else None
    reps_out = (
        check_out_file(Path(args.replicates_out), args.force) if args.replicates_out else None
    )
    rejects_out = check_out_file(Path(args.rejects), args.force) if args.rejects else None
    base = base_text = None
    if args.base is not None:
        base, _ = load_scenario_args(argparse.Namespace(scenario=args.base, set=None))
        base_text = Path(args.base).read_text(encoding="utf-8-sig")
    edges = _edges(args, base, src)
    same = base is not None and list(base.buckets.edges_months) == edges
    labels = base.labels if same else None
    w = args.write_off_age or (base.defaults.write_off_after_months if base else None)
    try:
        ledger = read_ledger(
            src,
            events=args.events,
            columns=columns,
            date_format=args.date_format,
            unit_divisor=args.unit_divisor,
            sheet=args.sheet,
            segment_required=args.segments is not None,
        )
        if ledger.rejects:
            if rejects_out is not None:
                write_out_text(rejects_out, _rejects_csv(ledger.rejects), args.force)
            if not args.allow_rejects:
                first = ledger.rejects[0].error()
                more = len(ledger.rejects) - 1
                tail = (
                    f" (and {more} more bad rows; all written to {rejects_out})"
                    if rejects_out is not None
                    else (
                        f" (and {more} more bad rows; list them with --rejects FILE)"
                        if more
                        else ""
                    )
                )
                raise UserError(f"{first}{tail}")
        elif rejects_out is not None:
            write_out_text(rejects_out, _rejects_csv(()), args.force)
        options = {
            "as_of": as_of,
            "edges_months": edges,
            "labels": labels,
            "start": start,
            "write_off_age": w,
            "age_basis": args.age_basis,
            "time_blocks": args.time_blocks,
        }
        exposures = ledger_exposures(ledger, **options)
        fit = fit_ledger(
            exposures,
            base=base,
            fit_seasonality=args.fit_seasonality,
            bootstrap=args.bootstrap,
            rng=args.seed,
            time_blocks=args.time_blocks is not None,
        )
        book = None
        if args.segments is not None or n_debtors is not None:
            book = ledger_book(
                ledger,
                exposures,
                segments=args.segments is not None,
                debtors=n_debtors,
                column=ledger.columns.get("segment"),
                exposure_options=options,
                base=base,
                fit_seasonality=args.fit_seasonality,
                bootstrap=args.bootstrap,
                seed=args.seed,
                time_blocks=args.time_blocks is not None,
            )
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    except ValueError as exc:
        raise UserError(f"{src}: -: {exc}") from None
    doc = ledger_report(ledger, fit, book)
    if ledger.rejects:
        doc["notes"].insert(
            0, f"{len(ledger.rejects)} bad rows left out (--allow-rejects); listed in {rejects_out}"
        )
    messages = []
    if out is not None:
        text, missing = ledger_document(
            ledger, fit, base_text, write_off_age=args.write_off_age, book=book
        )
        write_out_text(out, text, args.force)
        doc["written"] = str(out)
        doc["missing_fields"] = missing
        messages.append(
            f"Scenario written to {out} (run it with: arsim run {out})"
            if not missing
            else f"Fragment written to {out}; a scenario still needs {', '.join(missing)}"
        )
    if reps_out is not None:
        table = replicates_table(fit, book)
        if reps_out.suffix.lower() == ".parquet":
            data = table.to_parquet(index=False)
            from ..storage import write_bytes_atomic

            writing(reps_out, lambda: write_bytes_atomic(reps_out, data, force=args.force))
        else:
            write_out_text(reps_out, table.to_csv(index=False), args.force)
        doc["replicates_written"] = str(reps_out)
        messages.append(f"{len(table)} bootstrap replicates written to {reps_out}")
    if args.json:
        print_json(doc)
        for m in messages:
            message(m)
    else:
        unit = (base.money_unit if base else "") or ledger.currency or "money units"
        if args.unit_divisor != 1:
            unit += f" (amounts ÷ {args.unit_divisor:g})"
        print(ledger_text(doc, unit) + ("\n\n" + "\n".join(messages) if messages else ""))
    return EXIT_OK


def cmd_synth_ledger(args: argparse.Namespace) -> int:
    """``arsim synth-ledger``."""
    import json

    from ..data import synth_ledger

    scenario, _ = load_scenario_args(args)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(f"{out}: --out: expected a .csv or .parquet file")
    if args.customers < 1 or args.months < 2:
        raise UserError(f"{args.scenario}: --customers, --months: need ≥ 1 customer and ≥ 2 months")
    if args.customers * args.months > 50_000_000:
        raise UserError(f"{args.scenario}: --customers: at most 50,000,000 invoices in all")
    if not 0 <= args.seed < 2**63:
        raise UserError(f"{args.scenario}: --seed: must be in 0..2**63-1, got {args.seed}")
    stem = out.with_suffix("")
    events_out = Path(f"{stem}.events{suffix}") if args.events else None
    truth_out = Path(f"{stem}.truth.json")
    for p in (out, events_out, truth_out):
        if p is not None:
            check_out_file(p, args.force)
    try:
        synth = synth_ledger(scenario, args.customers, args.months, seed=args.seed)
    except ValueError as exc:
        raise UserError(f"{args.scenario}: {exc}") from None
    sets = "".join(f" --set {x}" for x in args.set or [])
    header = (
        "# SYNTHETIC ledger, not any company's data: drawn from the model by arsim synth-ledger "
        f"{Path(args.scenario).name}{sets} --customers {args.customers} --months {args.months} "
        f"--seed {args.seed} (money in the scenario's unit). The truth is in {truth_out.name}.\n"
    )
    tables = [(out, synth.invoice_table() if args.events else synth.invoices)]
    if events_out is not None:
        tables.append((events_out, synth.event_table()))
    from ..storage import write_bytes_atomic

    for path, frame in tables:
        if suffix == ".csv":
            write_out_text(path, header + frame.to_csv(index=False), args.force)
        else:
            data = synth.typed(frame).to_parquet(index=False)
            writing(path, lambda p=path, d=data: write_bytes_atomic(p, d, force=args.force))
    write_out_text(truth_out, json.dumps(synth.truth, indent=2) + "\n", args.force)
    written = [str(p) for p, _ in tables] + [str(truth_out)]
    if args.json:
        print_json({"written": written, "invoices": len(synth.invoices), "truth": synth.truth})
    else:
        print(
            f"{len(synth.invoices):,} invoices of {args.customers:,} customers over "
            f"{args.months} months to {scenario.scenario.as_of} written to " + ", ".join(written)
        )
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``ledger`` and ``synth-ledger`` subcommands."""
    p = sub.add_parser(
        "ledger", help="monthly rates with intervals and a scenario from an invoice ledger"
    )
    p.add_argument("ledger", help="the invoice table: .csv, .parquet or .xlsx")
    p.add_argument("--events", metavar="FILE", help="the events table (payments, write-offs, …)")
    p.add_argument(
        "--as-of",
        required=True,
        metavar="DATE",
        help="a month end: the date of the aged balance and the end of the window",
    )
    p.add_argument(
        "--edges-months",
        metavar="E0,E1,...",
        help="bucket lower edges in months (default: the base's)",
    )
    p.add_argument(
        "--base",
        metavar="SCENARIO",
        help="a scenario whose factor loading, correlation, multiplier and seasonality turn ĉ_b "
        "into c_b and whose rates fill buckets without exposure; --out writes it with the fit, "
        "keeping its comments",
    )
    p.add_argument("--from", dest="start", metavar="DATE", help="first month end of the window")
    p.add_argument("--columns", metavar="FIELD=COLUMN,...", help="the file's column names")
    p.add_argument("--date-format", metavar="FMT", help="strptime format, e.g. %%d/%%m/%%Y")
    p.add_argument(
        "--unit-divisor", type=float, default=1.0, metavar="X", help="amounts ÷ X (e.g. 1e6)"
    )
    p.add_argument("--sheet", help="Excel sheet (default the first)")
    p.add_argument(
        "--age-basis",
        choices=("invoice", "due"),
        default="invoice",
        help="ages from the invoice date (default) or the due date (not yet due: age 0)",
    )
    p.add_argument(
        "--write-off-age",
        type=int,
        metavar="W",
        help="the policy writes everything off at age W: write-offs at age W-1 are left out of "
        "p_b, and W goes into the scenario",
    )
    p.add_argument("--fit-seasonality", action="store_true", help="fit collections.seasonality")
    p.add_argument(
        "--segments",
        metavar="COLUMN",
        help="the ledger's customer segment column: fit each segment on its own invoices and "
        "write [[segments]]",
    )
    p.add_argument(
        "--debtors",
        metavar="N",
        help="carve the N customers with the largest open balance at --as-of out of the pooled "
        "book as [[debtors]] (1..1000)",
    )
    p.add_argument("--bootstrap", type=int, default=200, metavar="B", help="replicates (200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument(
        "--time-blocks",
        type=int,
        metavar="N",
        help="also resample blocks of N consecutive month-end pairs (two-way bootstrap; 12 when "
        "a common factor matters)",
    )
    p.add_argument("--out", metavar="FILE", help="write the scenario (with --base) or a fragment")
    p.add_argument("--replicates-out", metavar="FILE", help="bootstrap table, .parquet or .csv")
    p.add_argument("--rejects", metavar="FILE", help="write every bad row with its reason")
    p.add_argument("--allow-rejects", action="store_true", help="fit without the bad rows")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")
    p.set_defaults(func=cmd_ledger)

    s = sub.add_parser("synth-ledger", help="a synthetic ledger drawn from a scenario")
    s.add_argument("scenario", help="scenario file (TOML) with as_of and revenue")
    s.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a field")
    s.add_argument(
        "--customers", type=int, required=True, metavar="N", help="each billed once a month"
    )
    s.add_argument(
        "--months", type=int, required=True, metavar="M", help="months of history to as_of"
    )
    s.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    s.add_argument(
        "--events", action="store_true", help="also write <stem>.events.<ext> (events form)"
    )
    s.add_argument("--out", required=True, metavar="FILE", help=".csv or .parquet")
    s.add_argument("--force", action="store_true", help="replace existing files")
    s.add_argument("--json", action="store_true", help="print JSON on stdout")
    s.set_defaults(func=cmd_synth_ledger)
