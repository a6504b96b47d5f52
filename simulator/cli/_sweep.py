"""``arsim sweep``, ``solve`` and ``sensitivity``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USER,
    UserError,
    add_scenario_args,
    load_scenario_args,
)
from ._sweeps import (
    _check_sweep_args,
    _default_metric,
    _done_points,
    _execute,
    _interrupted,
    _json_records,
    _metric_text,
    _needs_analytics,
    _PointSaver,
    _report_failures,
    _sweep_definition,
    _sweep_folder,
    check_memory,
)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .. import sweep as sw
    from ..sweep import metric_label, sweep_figures

    scenario, overrides = load_scenario_args(args)
    _check_sweep_args(args)
    if args.sobol is not None:
        design = sw.sobol_design(scenario, args.param or [], args.sobol, scenario.simulation.seed)
    elif args.param:
        design = sw.grid_design(scenario, args.param)
    else:
        design = sw.table_design(scenario)
    metrics = [m.strip() for text in (args.metric or []) for m in text.split(",") if m.strip()]
    metrics = list(dict.fromkeys(metrics or [_default_metric(scenario)]))
    for metric in metrics:
        sw.check_metric(scenario, metric)
    if args.level is not None and not math.isfinite(args.level):
        raise UserError(f"{args.scenario}: --level: must be a finite number")
    points = sw.make_points(scenario, design)
    definition = {**_sweep_definition("sweep", scenario), "design": design.to_dict()}
    folder = _sweep_folder(args, definition, overrides)
    check_memory(args, points)
    done = _done_points(folder)
    try:
        outcomes, saver, runner = _execute(
            args,
            folder,
            lambda r, _s: r.run(points),
            done=done,
            desc="sweep",
            new_points=len({p.key for p in points if p.key not in done}),
        )
    except KeyboardInterrupt:
        return _interrupted(folder)
    table = sw.sweep_table(outcomes, design.fields)
    failures = [
        {"index": o.point.index, "params": o.point.params, "error": o.error}
        for o in outcomes
        if not o.ok
    ]
    figures = sweep_figures(table, design.fields, metrics, scenario=scenario, level=args.level)
    written = folder.finish(
        tables={"table": table},
        documents={"failures": failures} if failures else {},
        figures=figures,
    )
    computed = runner.computed
    reused = sum(1 for o in outcomes if o.cached)
    if args.json:
        doc = {
            "folder": str(written),
            "fields": list(design.fields),
            "design": design.kind,
            "paths": scenario.simulation.paths,
            "seed": scenario.simulation.seed,
            "computed": computed,
            "reused": reused,
            "failed": failures,
            "points": _json_records(table),
        }
        print(json.dumps(doc, indent=2, default=str))
    else:
        sim = scenario.simulation
        lines = [
            f"{scenario.scenario.name}: sweep of {', '.join(design.fields)}",
            f"{len(points)} points × {sim.paths:,} paths, seed {sim.seed} (common random "
            f"numbers); {computed} computed now, {reused} reused from an earlier run",
            "",
        ]
        heads = [*design.fields, *(metric_label(m, scenario)[0] for m in metrics)]
        rows = []
        for _, row in table.iterrows():
            cells = [f"{row[f]:g}" for f in design.fields]
            for m in metrics:
                cells.append(_metric_text(row.get(m), row.get(f"{m}_se"), m, scenario))
            rows.append(cells)
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]
        lines.append("  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)))
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if not figures and len(design.fields) > 2:
            lines += ["", "(plots are drawn for sweeps over one or two fields)"]
        lines += ["", f"Results written to {written}/"]
        print("\n".join(lines))
    _report_failures(saver.failures)
    return EXIT_INTERNAL if failures else EXIT_OK


def _parse_bracket(text: str, source: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UserError(
            f"{source}: --bracket: expected lo,hi (two numbers), got {text!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UserError(f"{source}: --bracket: expected finite lo < hi, got {text!r}")
    return lo, hi


def cmd_solve(args: argparse.Namespace) -> int:
    from .. import sweep as sw
    from ..sweep import metric_label, solve_figures

    scenario, overrides = load_scenario_args(args)
    _check_sweep_args(args)
    metric = args.metric or _default_metric(scenario)
    info = sw.field_info(scenario, args.param)
    if info.kind != "float":
        raise UserError(f"{args.scenario}: {args.param}: solve needs a real-valued field")
    sw.check_metric(scenario, metric)
    if not math.isfinite(args.target):
        raise UserError(f"{args.scenario}: --target: must be a finite number")
    if args.bracket is not None:
        bracket = _parse_bracket(args.bracket, args.scenario)
    else:
        bracket = sw.default_bracket(scenario, args.param)
    ends = [sw.make_point(scenario, {args.param: x}) for x in bracket]  # ends in range
    definition = {
        **_sweep_definition("solve", scenario),
        "field": args.param,
        "metric": metric,
        "target": args.target,
        "bracket": list(bracket),
    }
    folder = _sweep_folder(args, definition, overrides)
    check_memory(args, ends)

    def work(runner: Any, saver: _PointSaver) -> Any:
        return sw.solve(
            scenario,
            args.param,
            metric,
            args.target,
            runner,
            bracket=bracket,
            on_bracketed=saver.create,
        )

    try:
        result, _saver, _runner = _execute(
            args,
            folder,
            work,
            done=_done_points(folder),
            desc="solve",
            deferred=True,
            analytics=_needs_analytics(metric),
        )
    except KeyboardInterrupt:
        return _interrupted(folder)
    except sw.PointFailed as exc:
        print(f"arsim: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    text, _, _ = metric_label(metric, scenario)
    doc = result.to_dict()
    target_txt = _metric_text(args.target, None, metric, scenario)
    if result.value is None:
        (lo, hi), (m_lo, m_hi) = result.bracket, result.metric_at_bracket
        if args.json:
            print(json.dumps(doc, indent=2))
        print(
            f"{args.scenario}: --target: {metric} does not cross {args.target:g} between "
            f"{args.param}={lo:g} ({_metric_text(m_lo, None, metric, scenario)}) and "
            f"{hi:g} ({_metric_text(m_hi, None, metric, scenario)}); value: null",
            file=sys.stderr,
        )
        return EXIT_USER
    import pandas as pd

    evaluations = pd.DataFrame.from_records(doc["evaluations"])
    written = folder.finish(
        tables={"evaluations": evaluations},
        documents={"solve": doc},
        figures=solve_figures(result, scenario=scenario),
    )
    doc["folder"] = str(written)
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    iv = result.interval
    if iv is None:
        iv_txt = "n/a (the metric has no standard error)"
    else:
        a = "below the bracket" if iv[0] is None else f"{iv[0]:.4g}"
        b = "above the bracket" if iv[1] is None else f"{iv[1]:.4g}"
        iv_txt = f"{a} to {b} (where {text} ± 2 SE crosses {target_txt})"
    lines = [
        f"{scenario.scenario.name}: reverse stress test",
        f"{args.param} where {text} = {target_txt}:",
        f"  value      {result.value:.4g}",
        f"  interval   {iv_txt}",
        f"  {text} at {result.value:.4g}: "
        f"{_metric_text(result.metric_at_value, result.metric_se_at_value, metric, scenario)}",
        f"  bracket {result.bracket[0]:g} to {result.bracket[1]:g}; "
        f"{len(result.evaluations)} evaluations × {result.paths:,} paths, seed {result.seed} "
        "(common random numbers)" + ("" if result.converged else "; NOT CONVERGED"),
        "",
        f"Results written to {written}/",
    ]
    print("\n".join(lines))
    return EXIT_OK


def _setting_short(row: Any, side: str) -> str:
    setting = row[f"{side}_setting"]
    if not setting:
        return "(at its bound)"
    if setting.startswith("["):
        value = row[f"{side}_value"]
        return f"every item × {value:g}" if row["base_value"] == 1.0 else f"every item + {value:g}"
    return setting


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from .. import sweep as sw
    from ..sweep import metric_label, sensitivity_figures

    scenario, overrides = load_scenario_args(args)
    _check_sweep_args(args)
    metric = args.metric or _default_metric(scenario)
    fields = [f.strip() for f in args.params.split(",") if f.strip()]
    definition = {
        **_sweep_definition("sensitivity", scenario),
        "fields": fields,
        "delta": args.delta,
    }
    points, _ = sw.plan_sensitivity(scenario, fields, delta=args.delta, metric=metric)
    folder = _sweep_folder(args, definition, overrides)
    check_memory(args, points)
    try:
        result, saver, _runner = _execute(
            args,
            folder,
            lambda r, _s: sw.sensitivity(scenario, fields, r, delta=args.delta, metric=metric),
            done=_done_points(folder),
            desc="sensitivity",
            analytics=_needs_analytics(metric),
        )
    except KeyboardInterrupt:
        return _interrupted(folder)
    table = result.table()
    failures = [{"params": o.point.params, "error": o.error} for o in result.failed]
    written = folder.finish(
        tables={"table": table},
        documents={"failures": failures} if failures else {},
        figures=sensitivity_figures(table, scenario=scenario, delta=args.delta),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "folder": str(written),
                    "metric": metric,
                    "delta": args.delta,
                    "paths": scenario.simulation.paths,
                    "seed": scenario.simulation.seed,
                    "table": _json_records(table),
                    "failed": failures,
                },
                indent=2,
                default=str,
            )
        )
    else:
        text = metric_label(metric, scenario)[0]
        base = table["metric_base"].iloc[0] if len(table) else None
        base_se = table["metric_base_se"].iloc[0] if len(table) else None
        sim = scenario.simulation
        lines = [
            f"{scenario.scenario.name}: sensitivity of {text}",
            f"base {_metric_text(base, base_se, metric, scenario)}; each field moved by "
            f"±{100 * args.delta:g} % of its value (±{args.delta:g} if it is 0), one at a time; "
            f"{sim.paths:,} paths, seed {sim.seed} (common random numbers); largest effect first",
            "",
        ]
        heads = ["field", "low", text, "high", text]
        rows = [
            [
                r["field"],
                _setting_short(r, "low"),
                _metric_text(r["metric_low"], None, metric, scenario),
                _setting_short(r, "high"),
                _metric_text(r["metric_high"], None, metric, scenario),
            ]
            for _, r in table.iterrows()
        ]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines += ["", f"Results written to {written}/"]
        print("\n".join(lines))
    _report_failures(saver.failures)
    return EXIT_INTERNAL if result.failed else EXIT_OK


def add_parsers(sub: Any) -> None:
    """The ``sweep``, ``solve`` and ``sensitivity`` subcommands."""

    def shared(p: argparse.ArgumentParser) -> None:
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
        p.add_argument(
            "--workers", type=int, help="processes for local and local-dask (default: CPUs)"
        )

    sweep = sub.add_parser("sweep", help="run a scenario over a grid or a Sobol sample of fields")
    shared(sweep)
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
    sweep.set_defaults(func=cmd_sweep)

    solve = sub.add_parser("solve", help="reverse stress test: where a metric crosses a target")
    shared(solve)
    solve.add_argument("--param", required=True, metavar="FIELD", help="the field to solve for")
    solve.add_argument("--metric", help="summary metric (default p_runway_le_12)")
    solve.add_argument("--target", type=float, required=True, help="the metric's target value")
    solve.add_argument(
        "--bracket",
        metavar="LO,HI",
        help="search range (default 0.25× to 4× the current value, clipped to the valid range)",
    )
    solve.set_defaults(func=cmd_solve)

    sens = sub.add_parser("sensitivity", help="one-at-a-time sensitivity and a tornado chart")
    shared(sens)
    sens.add_argument(
        "--params", required=True, metavar="A,B,C", help="fields to move, comma-separated"
    )
    sens.add_argument(
        "--delta", type=float, default=0.1, help="relative move (absolute for a field that is 0)"
    )
    sens.add_argument("--metric", help="metric to rank by (default p_runway_le_12)")
    sens.set_defaults(func=cmd_sensitivity)
