"""``arsim run``, ``validate`` and ``plot``, and the summary a run prints."""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import Any

from .._format import (
    DEBTOR_HEADER,
    SEGMENT_HEADER,
    bound_text,
    concentration_text,
    debtor_rows,
    describe_overrides,
    fmt_money,
    fmt_pct,
    fmt_pm,
    fmt_se,
    fmt_seconds,
    parameter_risk_rows,
    segment_rows,
)
from ._common import (
    EXIT_OK,
    UserError,
    add_replicates_arg,
    add_scenario_args,
    check_out_folder,
    load_replicates_args,
    load_scenario_args,
    message,
    print_json,
    progress_bar,
    text_table,
    writing,
)


def _pct_se(s: dict[str, Any], key: str) -> str:
    p = s[key]
    if p is None:
        return "n/a (horizon too short)"
    text = f"{fmt_pct(p, width=6)} ± {fmt_se(s[f'{key}_se'] or 0.0, fmt_pct)}"
    bound = s.get(f"{key}_bound95")
    if bound is not None:
        text += f"  ({bound_text(p, bound)})"
    return text


def run_header(
    s: dict[str, Any], wall_seconds: float | None = None, overrides: dict[str, Any] | None = None
) -> list[str]:
    """The first lines of a run's summary: the scenario, the run's size and times, and what
    ``--set`` changed.

    Parameters
    ----------
    s : dict
        The run's summary (``wall_seconds`` in it is the simulation's own time).
    wall_seconds : float, optional
        The command's time from its start to the summary, measured by the command line.
    overrides : dict, optional
        The ``--set`` overrides (the run's size, ``--paths`` and ``--seed``, is left out).

    Returns
    -------
    list of str
    """
    sc = s["scenario"]
    unit = s["unit"] or "money units"
    as_of = sc["scenario"]["as_of"]
    times = f"simulation {fmt_seconds(s['wall_seconds'])}"
    if wall_seconds is not None:
        times += f", wall {fmt_seconds(wall_seconds)}"
    lines = [
        f"{sc['scenario']['name']}" + (f"  (as of {as_of}, {unit})" if as_of else f"  ({unit})"),
        f"{s['paths']:,} paths × {s['horizon_months']} months, seed {s['seed']}; {times}",
    ]
    changed = describe_overrides(overrides)
    if changed:
        lines.append("overrides: " + " ".join(f"--set {c}" for c in changed))
    return lines


def format_summary(
    s: dict[str, Any],
    out_dir: Path | None,
    *,
    wall_seconds: float | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    """The summary ``arsim run`` prints.

    Parameters
    ----------
    s : dict
        The run's summary (:meth:`simulator.SimulationResult.summary`).
    out_dir : Path, optional
        The results folder written, named on the last line.
    wall_seconds, overrides
        As in :func:`run_header`.

    Returns
    -------
    str
    """
    sc = s["scenario"]
    H = s["horizon_months"]
    unit = s["unit"] or "money units"
    floor = sc["cash"]["floor"]
    q = s["runway_quantiles"]
    qtxt = "  ".join(f"{k} {v if v is not None else f'>{H}'}" for k, v in q.items())
    lines = [
        *run_header(s, wall_seconds, overrides),
        "",
        f"Cash runway (first month with cash below the floor of {floor:,.0f}):",
        f"  P(runway ≤ 12 months)   {_pct_se(s, 'p_runway_le_12')}",
        f"  P(runway ≤ 24 months)   {_pct_se(s, 'p_runway_le_24')}",
        f"  P(runway ≤ {H} months)   {_pct_se(s, 'p_runway_le_horizon')}",
        f"  runway percentiles, months: {qtxt}",
        f"  minimum cash, 5th percentile: {fmt_money(s['min_cash_p5'])}; "
        f"cash at month {H}, mean: {fmt_pm(s['cash_end_mean'], s['cash_end_mean_se'])}",
        "",
        f"Receivables over {H} months ({unit}):",
        f"  collections, mean       {fmt_pm(s['collections_mean'], s['collections_mean_se'])}",
        f"  credit loss, mean       {fmt_pm(s['credit_loss_mean'], s['credit_loss_mean_se'])}"
        f"   p95 {fmt_money(s['credit_loss_p95'])}"
        f"   p99 {fmt_money(s['credit_loss_p99'])}",
        f"  opening allowance       {fmt_money(s['allowance_opening'])}"
        f"  ({100 * s['allowance_opening'] / s['gross_opening']:.1f} % of gross "
        f"{fmt_money(s['gross_opening'])})"
        if s["gross_opening"]
        else f"  opening allowance       {fmt_money(s['allowance_opening'])}",
    ]
    lines += implied_lines(s)
    lines += book_parts_lines(s)
    lines += parameter_risk_lines(s)
    if out_dir is not None:
        lines += ["", f"Results written to {out_dir}/"]
    return "\n".join(lines)


#: The terminal lists the named debtors one by one up to this many (the report always does).
MAX_DEBTOR_LINES = 10


def book_parts_lines(s: dict[str, Any]) -> list[str]:
    """Summary lines of a book with segments and named debtors (DESIGN 2.12, 2.13): one row per
    segment, the concentration line, and a row per debtor when there are few."""
    lines: list[str] = []
    rows = segment_rows(s)
    if rows:
        head = (
            "Segments (over the horizon; loss and collections include a segment's named "
            "debtors, allowance and coverage are of its pooled book):"
        )
        lines += ["", *textwrap.wrap(head, 100, subsequent_indent="  ")]
        lines += ["  " + t for t in text_table([SEGMENT_HEADER, *rows], {1, 2, 3, 4, 5})]
    text = concentration_text(s)
    if text:
        lines += ["", *textwrap.wrap(f"Concentration: {text}", 100, subsequent_indent="  ")]
        rows = debtor_rows(s)
        if len(rows) <= MAX_DEBTOR_LINES:
            right = set(range(1, len(DEBTOR_HEADER)))
            lines += ["  " + t for t in text_table([DEBTOR_HEADER, *rows], right)]
        else:
            lines.append(f"  ({len(rows):,} debtors: see debtors in summary.json and the report)")
    return lines


def parameter_risk_lines(s: dict[str, Any]) -> list[str]:
    """Summary lines of a run with parameter replicates (DESIGN 2.14): each figure with its
    value at the file's own rates, the 5–95 % band over replicates and the share of its
    variance that comes from not knowing the rates."""
    rows, notes = parameter_risk_rows(s)
    if not rows:
        return []
    risk = s["parameter_risk"]
    lines = [
        "",
        f"Parameter risk ({risk['replicates']:,} replicates of the rates, at least "
        f"{risk['paths_per_replicate']:,} paths each; the figures above include it):",
    ]
    for label, mixture, point, band, share in rows:
        lines.append(
            f"  {label:<26} {mixture}; at the file's rates {point}; band {band}; "
            f"{share} of its variance from the rates"
        )
    return lines + [f"  {note}" for note in notes]


def implied_lines(s: dict[str, Any]) -> list[str]:
    """Summary lines: implied lifetime loss of the opening book, coverage, weighted ECL."""
    loss = s.get("implied_lifetime_loss")
    if loss is None:
        return []
    runoff = s.get("implied_runoff")
    how = "exact" if runoff is None else f"run-off of {runoff['paths']:,} paths"
    from ..adequacy import unresolved_note

    lines = [
        f"  implied lifetime loss   {fmt_pm(loss, s['implied_lifetime_loss_se'])}"
        f"  (of the opening book, {how})"
    ]
    note = unresolved_note(s, list(s["disclosed_rates"]))
    if note:
        lines.append(f"                          {note}")
    cov = s.get("allowance_coverage")
    if cov is not None:
        lines.append(
            f"  allowance coverage      "
            f"{fmt_pm(cov, s['allowance_coverage_se'], fmt_pct)} of the implied lifetime loss"
        )
    if s.get("ecl_weighted") is not None:
        parts = ", ".join(
            f"{e['name']} {100 * e['weight']:g} %: {fmt_money(e['ecl'])}"
            for e in s["ecl_scenarios"]
        )
        lines.append(
            f"  weighted ECL            {fmt_pm(s['ecl_weighted'], s['ecl_weighted_se'])}"
            f"  ({parts})"
        )
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    """``arsim run``: simulate, write the results folder, print the summary."""
    started = time.perf_counter()  # the wall time printed runs from here to the summary
    from ..api import simulate
    from ..storage import default_out_dir, write_results

    scenario, overrides = load_scenario_args(args)
    if args.out is not None:
        out = check_out_folder(Path(args.out), args.force)
    else:
        out = check_out_folder(default_out_dir(args.scenario), False)
    replicates, rows = load_replicates_args(args, scenario, overrides)
    steps = scenario.simulation.paths * (2 if replicates else 1)  # a plain run for the point
    with progress_bar(steps, "simulating") as bar:
        result = simulate(scenario, workers=args.workers, progress=bar.update, replicates=rows)
    written = writing(
        out,
        lambda: write_results(
            result,
            out,
            force=args.force,
            scenario_file=args.scenario,
            overrides=overrides,
            replicates_file=replicates,
        ),
    )
    summary = result.summary()
    if args.json:
        print_json(summary)
        message(f"results written to {written}/")
    else:
        wall = time.perf_counter() - started
        print(format_summary(summary, written, wall_seconds=wall, overrides=overrides))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``arsim validate``: OK, or the first problem (raised as a ``ScenarioError``)."""
    from ..scenario import scenario_warnings

    scenario, _ = load_scenario_args(args)
    sim = scenario.simulation
    warnings = scenario_warnings(scenario)
    rows = None
    if scenario.uncertainty is not None:  # the table is checked as a run would check it
        from ..engine import check_replicate_paths
        from ..scenario import read_replicates, replicate_rows, replicates_file

        path = replicates_file(scenario)
        rows = replicate_rows(scenario, read_replicates(path), str(path))
        check_replicate_paths(scenario, rows)
    if args.json:
        doc = {
            "ok": True,
            "warnings": [str(w) for w in warnings],
            "replicates": None if rows is None else len(rows),
            "scenario": scenario.model_dump(mode="json"),
        }
        print_json(doc)
    else:
        for w in warnings:
            message(str(w))
        book = "".join(
            f", {len(entries):,} {what}{'s' if len(entries) != 1 else ''}"
            for what, entries in (("segment", scenario.segments), ("debtor", scenario.debtors))
            if entries
        )
        if rows is not None:
            book += f", {len(rows):,} parameter replicates"
        print(
            f"OK: {args.scenario}: {scenario.scenario.name!r}, {scenario.n_buckets} buckets"
            f"{book}, {sim.horizon_months} months, {sim.paths:,} paths"
        )
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    """``arsim plot``: re-draw the plots of a results folder."""
    from ..storage import redraw_plots

    try:
        written = redraw_plots(args.results_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{args.results_dir}: -: {exc}") from None
    if args.json:
        print(json.dumps({"plots": [str(p) for p in written]}))
    else:
        for p in written:
            print(p)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``run``, ``validate`` and ``plot`` subcommands."""
    run = sub.add_parser("run", help="simulate a scenario and write a results folder")
    add_scenario_args(run)
    run.add_argument("--out", help="results folder (default results/<stem>/<timestamp>/)")
    run.add_argument("--force", action="store_true", help="replace an existing --out folder")
    run.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    add_replicates_arg(run)
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a scenario file")
    add_scenario_args(val, simulation=False)
    val.set_defaults(func=cmd_validate)

    plot = sub.add_parser("plot", help="re-draw the plots of a results folder")
    plot.add_argument("results_dir", help="a folder written by 'arsim run'")
    plot.add_argument("--json", action="store_true", help="print the plot paths as JSON")
    plot.set_defaults(func=cmd_plot)
