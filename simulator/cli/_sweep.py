"""``arsim sweep``, ``solve`` and ``sensitivity``: each command checks its arguments, runs the
points (:mod:`simulator.sweep`), writes the folder and prints what :mod:`._sweeps` makes of it."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USER,
    UserError,
    add_replicates_arg,
    add_scenario_args,
    load_replicates_args,
    load_scenario_args,
    print_json,
)
from ._sweeps import (
    PointSaver,
    check_memory,
    check_sweep_args,
    default_metric,
    done_points,
    execute,
    interrupted,
    needs_analytics,
    no_crossing_text,
    report_failures,
    sensitivity_doc,
    sensitivity_text,
    solve_doc,
    solve_text,
    sweep_definition,
    sweep_doc,
    sweep_folder,
    sweep_text,
    usable_points,
    without_analytics,
)

# --------------------------------------------------------------------------------------------
# sweep


def _design(args: argparse.Namespace, scenario: Any) -> Any:
    """The design of ``--sobol``, ``--param`` or the scenario's ``[sweep]`` table."""
    from .. import sweep as sw

    if args.sobol is not None:
        return sw.sobol_design(scenario, args.param or [], args.sobol, scenario.simulation.seed)
    if args.param:
        return sw.grid_design(scenario, args.param)
    return sw.table_design(scenario)


def _metrics(args: argparse.Namespace, scenario: Any) -> list[str]:
    """The ``--metric`` names (repeatable, comma-separated), each checked; the default if none."""
    from ..sweep import check_metric

    metrics = [m.strip() for text in (args.metric or []) for m in text.split(",") if m.strip()]
    metrics = list(dict.fromkeys(metrics or [default_metric(scenario)]))
    for metric in metrics:
        check_metric(scenario, metric)
    return metrics


def _write_sweep(
    folder: Any, scenario: Any, design: Any, metrics: list[str], outcomes: list, level: Any
) -> tuple[Any, list[dict[str, Any]], Path, bool]:
    """Write the sweep's table, failures and plots; return the table, the failures, the final
    folder and whether anything was plotted."""
    from .. import sweep as sw

    table = sw.sweep_table(outcomes, design.fields)
    failures = [
        {"index": o.point.index, "params": o.point.params, "error": o.error}
        for o in outcomes
        if not o.ok
    ]
    figures = sw.sweep_figures(table, design.fields, metrics, scenario=scenario, level=level)
    written = folder.finish(
        tables={"table": table},
        documents={"failures": failures} if failures else {},
        figures=figures,
    )
    return table, failures, written, bool(figures)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .. import sweep as sw

    scenario, overrides = load_scenario_args(args)
    check_sweep_args(args)
    design = _design(args, scenario)
    metrics = _metrics(args, scenario)
    if args.level is not None and not math.isfinite(args.level):
        raise UserError(f"{args.scenario}: --level: must be a finite number")
    points = sw.make_points(scenario, design)
    swept = {f: "the sweep (--param)" for f in design.fields}
    _, rows = load_replicates_args(args, scenario, overrides, swept)
    definition = {**sweep_definition("sweep", scenario, rows), "design": design.to_dict()}
    folder = sweep_folder(args, definition, overrides)
    check_memory(args, points)
    # the implied rates need a run-off per point: only when asked for or a metric needs them
    analytics = args.analytics or any(needs_analytics(m) for m in metrics)
    done = usable_points(done_points(folder), analytics)
    new_points = len({p.key for p in points if p.key not in done})
    try:
        outcomes, saver, runner = execute(
            args,
            folder,
            lambda r, _s: r.run(points),
            done=done,
            desc="sweep",
            new_points=new_points,
            analytics=analytics,
            replicates=rows,
        )
    except KeyboardInterrupt:
        return interrupted(folder)
    if not analytics:  # points an earlier --analytics run saved keep the table's columns even
        outcomes = [without_analytics(o) for o in outcomes]
    table, failures, written, plotted = _write_sweep(
        folder, scenario, design, metrics, outcomes, args.level
    )
    counts = {"computed": runner.computed, "reused": sum(1 for o in outcomes if o.cached)}
    if args.json:
        print_json(sweep_doc(scenario, design, table, failures, folder=written, **counts))
    else:
        shown = {"n_points": len(points), "plotted": plotted, "folder": written, **counts}
        print(sweep_text(scenario, design.fields, metrics, table, **shown))
    report_failures(saver.failures)
    return EXIT_INTERNAL if failures else EXIT_OK


# --------------------------------------------------------------------------------------------
# solve


def parse_bracket(text: str, source: str) -> tuple[float, float]:
    """``--bracket lo,hi`` as two numbers (whether they make a range is the library's check)."""
    try:
        lo, hi = (float(p) for p in text.split(","))
    except ValueError:
        raise UserError(
            f"{source}: --bracket: expected lo,hi (two numbers), got {text!r}"
        ) from None
    return lo, hi


def _run_solve(
    args: argparse.Namespace,
    scenario: Any,
    metric: str,
    bracket: tuple[float, float],
    folder: Any,
    replicates: list[dict[str, float]] | None,
) -> Any:
    """The reverse stress test on the chosen scheduler; the folder is created once the target
    is known to be crossed in the bracket."""
    from .. import sweep as sw

    def work(runner: Any, saver: PointSaver) -> Any:
        return sw.solve(
            scenario,
            args.param,
            metric,
            args.target,
            runner,
            bracket=bracket,
            on_bracketed=saver.create,
        )

    result, _saver, _runner = execute(
        args,
        folder,
        work,
        done=done_points(folder),
        desc="solve",
        deferred=True,
        analytics=needs_analytics(metric),
        replicates=replicates,
    )
    return result


def _write_solve(folder: Any, result: Any, scenario: Any) -> Path:
    import pandas as pd

    from ..sweep import solve_figures

    doc = result.to_dict()
    return folder.finish(
        tables={"evaluations": pd.DataFrame.from_records(doc["evaluations"])},
        documents={"solve": doc},
        figures=solve_figures(result, scenario=scenario),
    )


def cmd_solve(args: argparse.Namespace) -> int:
    from .. import sweep as sw

    scenario, overrides = load_scenario_args(args)
    check_sweep_args(args)
    metric = args.metric or default_metric(scenario)
    sw.check_solve(scenario, args.param, metric, args.target)
    given = None if args.bracket is None else parse_bracket(args.bracket, args.scenario)
    bracket = sw.solve_bracket(scenario, args.param, given)
    _, rows = load_replicates_args(args, scenario, overrides, {args.param: "the solve (--param)"})
    definition = {
        **sweep_definition("solve", scenario, rows),
        "field": args.param,
        "metric": metric,
        "target": args.target,
        "bracket": list(bracket),
    }
    folder = sweep_folder(args, definition, overrides)
    check_memory(args, [sw.make_point(scenario, {args.param: x}) for x in bracket])
    try:
        result = _run_solve(args, scenario, metric, bracket, folder, rows)
    except KeyboardInterrupt:
        return interrupted(folder)
    except sw.PointFailed as exc:
        print(f"arsim: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    if result.value is None:
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
        print(no_crossing_text(result, scenario), file=sys.stderr)
        return EXIT_USER
    written = _write_solve(folder, result, scenario)
    if args.json:
        print(json.dumps(solve_doc(result, written), indent=2))
    else:
        print(solve_text(result, scenario, written))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# sensitivity


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from .. import sweep as sw

    scenario, overrides = load_scenario_args(args)
    check_sweep_args(args)
    metric = args.metric or default_metric(scenario)
    fields = [f.strip() for f in args.params.split(",") if f.strip()]
    moved = {f: "the sensitivity (--params)" for f in fields}
    _, rows = load_replicates_args(args, scenario, overrides, moved)
    definition = {
        **sweep_definition("sensitivity", scenario, rows),
        "fields": fields,
        "delta": args.delta,
    }
    points, _ = sw.plan_sensitivity(scenario, fields, delta=args.delta, metric=metric)
    folder = sweep_folder(args, definition, overrides)
    check_memory(args, points)
    try:
        result, saver, _runner = execute(
            args,
            folder,
            lambda r, _s: sw.sensitivity(scenario, fields, r, delta=args.delta, metric=metric),
            done=done_points(folder),
            desc="sensitivity",
            analytics=needs_analytics(metric),
            replicates=rows,
        )
    except KeyboardInterrupt:
        return interrupted(folder)
    table = result.table()
    failures = [{"params": o.point.params, "error": o.error} for o in result.failed]
    written = folder.finish(
        tables={"table": table},
        documents={"failures": failures} if failures else {},
        figures=sw.sensitivity_figures(table, scenario=scenario, delta=args.delta),
    )
    if args.json:
        print_json(sensitivity_doc(scenario, result, table, failures, written))
    else:
        print(sensitivity_text(scenario, result, table, written))
    report_failures(saver.failures)
    return EXIT_INTERNAL if result.failed else EXIT_OK


def _add_shared(p: argparse.ArgumentParser) -> None:
    add_scenario_args(p)
    p.add_argument(
        "--out",
        help="results folder (default results/<stem>/<timestamp>/); a folder written by the "
        "same command is resumed",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out folder of another command (once the new one is done)",
    )
    p.add_argument(
        "--scheduler",
        default="local",
        help="local (processes on this machine, the default), local-dask (a local Dask "
        "cluster) or tcp://HOST:PORT (an existing Dask cluster)",
    )
    p.add_argument("--workers", type=int, help="processes for local and local-dask (default: CPUs)")
    add_replicates_arg(p)


def _add_sweep(sub: Any) -> None:
    sweep = sub.add_parser("sweep", help="run a scenario over a grid or a Sobol sample of fields")
    _add_shared(sweep)
    sweep.add_argument(
        "--param",
        action="append",
        metavar="FIELD=SPEC",
        help="FIELD=start:stop:num or FIELD=a,b,c (repeatable: the product grid); with --sobol, "
        "FIELD=lo:hi. Default: the scenario's [sweep] table",
    )
    sweep.add_argument("--sobol", type=int, metavar="N", help="a Sobol sample of N points")
    sweep.add_argument(
        "--metric",
        action="append",
        help="metric(s) to plot and print, e.g. p_runway_le_12 (the default), credit_loss_mean, "
        "runway_quantiles.p50 (repeatable or comma-separated)",
    )
    sweep.add_argument(
        "--level", type=float, help="contour level of a two-field heatmap (default 0.05 for P)"
    )
    sweep.add_argument(
        "--analytics",
        action="store_true",
        help="also compute each point's implied rates, coverage and ECL (a run-off per point; "
        "on by itself when a --metric needs them)",
    )
    sweep.set_defaults(func=cmd_sweep)


def _add_solve(sub: Any) -> None:
    solve = sub.add_parser("solve", help="reverse stress test: where a metric crosses a target")
    _add_shared(solve)
    solve.add_argument("--param", required=True, metavar="FIELD", help="the field to solve for")
    solve.add_argument("--metric", help="summary metric (default p_runway_le_12)")
    solve.add_argument("--target", type=float, required=True, help="the metric's target value")
    solve.add_argument(
        "--bracket",
        metavar="LO,HI",
        help="search range (default 0.25× to 4× the current value, clipped to the valid range)",
    )
    solve.set_defaults(func=cmd_solve)


def _add_sensitivity(sub: Any) -> None:
    sens = sub.add_parser("sensitivity", help="one-at-a-time sensitivity and a tornado chart")
    _add_shared(sens)
    sens.add_argument(
        "--params", required=True, metavar="A,B,C", help="fields to move, comma-separated"
    )
    sens.add_argument(
        "--delta", type=float, default=0.1, help="relative move (absolute for a field that is 0)"
    )
    sens.add_argument("--metric", help="metric to rank by (default p_runway_le_12)")
    sens.set_defaults(func=cmd_sensitivity)


def add_parsers(sub: Any) -> None:
    """Register the ``sweep``, ``solve`` and ``sensitivity`` subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``arsim`` subparsers.
    """
    _add_sweep(sub)
    _add_solve(sub)
    _add_sensitivity(sub)
