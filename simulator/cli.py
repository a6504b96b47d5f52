"""The ``arsim`` command line: the only module that prints or exits.

Exit codes: 0 success; 2 a user's mistake (one line on stderr, ``FILE: FIELD: reason``, nothing
written); 1 an internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


class UserError(Exception):
    """A mistake the user can fix; its text is the whole one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _toml_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal, or the text itself if it is not one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _parse_sets(items: list[str], source: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise UserError(f"{source}: --set: expected FIELD=VALUE, got {item!r}")
        overrides[field.strip()] = _toml_value(value.strip())
    return overrides


def _load(args: argparse.Namespace):
    from .scenario import load_scenario, with_overrides

    scenario = load_scenario(args.scenario)
    overrides = _parse_sets(getattr(args, "set", None) or [], args.scenario)
    if getattr(args, "paths", None) is not None:
        overrides["simulation.paths"] = args.paths
    if getattr(args, "seed", None) is not None:
        overrides["simulation.seed"] = args.seed
    if overrides:
        scenario = with_overrides(scenario, overrides)
    return scenario, overrides


def _pct(p: float | None, se: float | None) -> str:
    if p is None:
        return "n/a (horizon too short)"
    return f"{100 * p:6.2f} % ± {100 * (se or 0.0):.2f} %"


def _num(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _format_summary(s: dict[str, Any], out_dir: Path | None) -> str:
    sc = s["scenario"]
    H = s["horizon_months"]
    unit = s["unit"] or "money units"
    as_of = sc["scenario"]["as_of"]
    floor = sc["cash"]["floor"]
    q = s["runway_quantiles"]
    qtxt = "  ".join(f"{k} {v if v is not None else f'>{H}'}" for k, v in q.items())
    lines = [
        f"{sc['scenario']['name']}" + (f"  (as of {as_of}, {unit})" if as_of else f"  ({unit})"),
        f"{s['paths']:,} paths × {H} months, seed {s['seed']}, {s['wall_seconds']:.1f} s",
        "",
        f"Cash runway (first month with cash below the floor of {floor:,.0f}):",
        f"  P(runway ≤ 12 months)   {_pct(s['p_runway_le_12'], s['p_runway_le_12_se'])}",
        f"  P(runway ≤ 24 months)   {_pct(s['p_runway_le_24'], s['p_runway_le_24_se'])}",
        f"  P(runway ≤ {H} months)   {_pct(s['p_runway_le_horizon'], s['p_runway_le_horizon_se'])}",
        f"  runway percentiles, months: {qtxt}",
        f"  minimum cash, 5th percentile: {_num(s['min_cash_p5'])}; "
        f"cash at month {H}, mean: {_num(s['cash_end_mean'])} ± {_num(s['cash_end_mean_se'])}",
        "",
        f"Receivables over {H} months ({unit}):",
        f"  collections, mean       {_num(s['collections_mean'])}"
        f" ± {_num(s['collections_mean_se'])}",
        f"  credit loss, mean       {_num(s['credit_loss_mean'])}"
        f" ± {_num(s['credit_loss_mean_se'])}   p95 {_num(s['credit_loss_p95'])}"
        f"   p99 {_num(s['credit_loss_p99'])}",
        f"  opening allowance       {_num(s['allowance_opening'])}"
        f"  ({100 * s['allowance_opening'] / s['gross_opening']:.1f} % of gross "
        f"{_num(s['gross_opening'])})"
        if s["gross_opening"]
        else f"  opening allowance       {_num(s['allowance_opening'])}",
    ]
    lines += _implied_lines(s)
    if out_dir is not None:
        lines += ["", f"Results written to {out_dir}/"]
    return "\n".join(lines)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="path", unit_scale=True, disable=None, file=sys.stderr)


def _check_writable_folder(out: Path) -> None:
    """Refuse, before any work, an output folder that could not be created or written."""
    place = out.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise UserError(f"{out}: --out: {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise UserError(f"{out}: --out: cannot write in {place} (permission denied)")


def cmd_run(args: argparse.Namespace) -> int:
    from .engine import simulate
    from .storage import default_out_dir, write_results

    scenario, overrides = _load(args)
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not args.force:
            raise UserError(f"{out}: --out: already exists; add --force to replace it")
        if out.exists() and not out.is_dir():
            raise UserError(f"{out}: --out: is a file, not a folder")
    else:
        out = default_out_dir(args.scenario)
    _check_writable_folder(out)
    with _progress(scenario.simulation.paths, "simulating") as bar:
        result = simulate(scenario, workers=args.workers, progress=bar.update)
    try:
        written = write_results(
            result, out, force=args.force, scenario_file=args.scenario, overrides=overrides
        )
    except OSError as exc:
        raise UserError(f"{out}: --out: cannot write: {exc.strerror or exc}") from None
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        print(f"results written to {written}/", file=sys.stderr)
    else:
        print(_format_summary(summary, written))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    scenario, _ = _load(args)
    sim = scenario.simulation
    msg = (
        f"OK: {args.scenario}: {scenario.scenario.name!r}, {scenario.n_buckets} buckets, "
        f"{sim.horizon_months} months, {sim.paths:,} paths"
    )
    if args.json:
        print(json.dumps({"ok": True, "scenario": scenario.model_dump(mode="json")}, indent=2))
    else:
        print(msg)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from .storage import redraw_plots

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


def build_parser() -> argparse.ArgumentParser:
    """The ``arsim`` argument parser."""
    parser = _Parser(
        prog="arsim",
        description="Monte Carlo credit risk of trade receivables: aging, provisions, cash runway.",
    )
    parser.add_argument("--version", action="version", version=f"arsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser, simulation: bool = True) -> None:
        p.add_argument("scenario", help="scenario file (TOML)")
        p.add_argument(
            "--set",
            action="append",
            metavar="FIELD=VALUE",
            help="override a field with a TOML literal, e.g. collections.multiplier=0.8 "
            "or collections.monthly_rate[2]=0.03 (repeatable)",
        )
        if simulation:
            p.add_argument("--paths", type=int, help="number of Monte Carlo paths")
            p.add_argument("--seed", type=int, help="random seed")
        p.add_argument("--json", action="store_true", help="print JSON on stdout and nothing else")

    run = sub.add_parser("run", help="simulate a scenario and write a results folder")
    common(run)
    run.add_argument("--out", help="results folder (default results/<stem>/<timestamp>/)")
    run.add_argument("--force", action="store_true", help="replace an existing --out folder")
    run.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a scenario file")
    common(val, simulation=False)
    val.set_defaults(func=cmd_validate)

    plot = sub.add_parser("plot", help="re-draw the plots of a results folder")
    plot.add_argument("results_dir", help="a folder written by 'arsim run'")
    plot.add_argument("--json", action="store_true", help="print the plot paths as JSON")
    plot.set_defaults(func=cmd_plot)
    _add_sweep_commands(sub, common)
    _add_implied_rates_command(sub, common)
    _add_calibrate_command(sub)
    _add_report_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``arsim`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    from .engine import ResourceError
    from .scenario import ScenarioError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print(
            f"{getattr(args, 'scenario', 'arsim')}: --workers: must be at least 1", file=sys.stderr
        )
        return EXIT_USER
    try:
        return args.func(args)
    except (ScenarioError, UserError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER
    except ResourceError as exc:
        print(f"{getattr(args, 'scenario', 'arsim')}: simulation.paths: {exc}", file=sys.stderr)
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


# --------------------------------------------------------------------------------------------
# Sweeps, reverse stress tests and sensitivity: `arsim sweep`, `solve`, `sensitivity`


def _sweep_definition(kind: str, scenario: Any) -> dict[str, Any]:
    """What makes two commands "the same sweep" (their folder is resumed, not refused)."""
    from .engine import ENGINE_VERSION
    from .storage import scenario_hash

    return {
        "kind": kind,
        "scenario_sha256": scenario_hash(scenario.model_copy(update={"sweep": None})),
        "paths": scenario.simulation.paths,
        "seed": scenario.simulation.seed,
        "engine_version": ENGINE_VERSION,
    }


def _sweep_folder(args: argparse.Namespace, definition: dict[str, Any], overrides: dict):
    from .storage import SweepFolder, SweepFolderError, default_out_dir

    out = Path(args.out) if args.out is not None else default_out_dir(args.scenario)
    _check_writable_folder(out)
    info = {"command": definition["kind"], "scenario_file": args.scenario, "overrides": overrides}
    try:
        return SweepFolder.prepare(out, definition, force=args.force, info=info)
    except SweepFolderError as exc:
        raise UserError(f"{out}: --out: {exc}") from None


def _check_sweep_args(args: argparse.Namespace) -> None:
    from .sweep import SchedulerError, check_scheduler

    try:
        check_scheduler(args.scheduler)
    except SchedulerError as exc:
        raise UserError(f"{args.scheduler}: --scheduler: {exc}") from None


def _default_metric(scenario: Any) -> str:
    from .sweep import DEFAULT_METRIC

    return DEFAULT_METRIC if scenario.simulation.horizon_months >= 12 else "p_runway_le_horizon"


def _check_memory(args: argparse.Namespace, points: list) -> None:
    from .engine import ResourceError
    from .sweep import memory_ok

    ok, need, have = memory_ok(points, args.workers or os.cpu_count() or 1)
    if not ok:
        raise ResourceError(
            f"this sweep needs about {need / 2**30:.1f} GiB of memory and the machine has "
            f"{have / 2**30:.1f} GiB; use fewer paths or --workers"
        )


class _PointSaver:
    """Saves each finished point to the sweep's folder as it arrives; collects failures.

    The folder is created with the first finished point (so a command that stops on a user's
    mistake writes nothing), or only when :meth:`create` is called if ``deferred``.
    """

    def __init__(self, folder: Any, deferred: bool = False) -> None:
        self.folder, self.deferred = folder, deferred
        self.created = False
        self.buffer: list[dict[str, Any]] = []
        self.failures: list[Any] = []
        self.saved = 0

    def create(self) -> None:
        if not self.created:
            self.folder.create()
            self.created = True
        for record in self.buffer:
            self.folder.write_point(record)
            self.saved += 1
        self.buffer.clear()

    def __call__(self, outcome: Any) -> None:
        if not outcome.ok:
            self.failures.append(outcome)
            return
        self.buffer.append(outcome.record())
        if self.created or not self.deferred:
            self.create()


def _execute(
    args: argparse.Namespace,
    folder: Any,
    work: Any,
    *,
    done: dict[str, Any],
    desc: str,
    new_points: int | None = None,
    deferred: bool = False,
    analytics: bool = True,
) -> tuple[Any, _PointSaver, Any]:
    """Run ``work(runner, saver)`` on the chosen scheduler with a progress bar on stderr.

    ``done`` holds the summaries of the points already in the folder; ``new_points`` is the
    number of points to compute if known (0: no executor is started).
    """
    from tqdm import tqdm

    from .sweep import PointRunner, SchedulerError, open_executor

    if analytics:  # points saved by a run that did without the implied rates are run again
        done = {key: summary for key, summary in done.items() if "implied_rates" in summary}
    saver = _PointSaver(folder, deferred=deferred)
    scheduler, workers = (args.scheduler, args.workers) if new_points != 0 else ("local", 1)
    try:
        with (
            open_executor(scheduler, workers) as (executor, slots),
            tqdm(total=0, desc=desc, unit="task", disable=None, file=sys.stderr) as bar,
        ):

            def plan(tasks: int) -> None:
                bar.total += tasks
                bar.refresh()

            runner = PointRunner(
                executor,
                slots=slots,
                done=done,
                on_point=saver,
                on_task=bar.update,
                on_plan=plan,
                analytics=analytics,
            )
            result = work(runner, saver)
    except SchedulerError as exc:
        raise UserError(f"{args.scheduler}: --scheduler: {exc}") from None
    return result, saver, runner


def _needs_analytics(metric: str) -> bool:
    """Whether a metric comes from the implied rates or the ECL (a run-off per point)."""
    return metric.split(".")[0].startswith(("implied_", "allowance_coverage", "ecl_"))


def _done_points(folder: Any) -> dict[str, Any]:
    """Summaries of the points already in the folder, by key."""
    return {key: record["summary"] for key, record in folder.load_points().items()}


def _interrupted(folder: Any) -> int:
    points = folder.work / "points"
    kept = len(list(points.glob("*.json"))) if points.is_dir() else 0
    if kept:
        print(
            f"arsim: interrupted; {kept} finished point(s) are kept in {folder.work}/; "
            f"run the same command with --out {folder.out} to finish the rest",
            file=sys.stderr,
        )
    else:
        print("arsim: interrupted before any point finished; nothing was written", file=sys.stderr)
    return EXIT_INTERRUPTED


def _report_failures(failures: list[Any]) -> None:
    from .sweep import params_text

    for o in failures:
        print(
            f"arsim: point {o.point.index} ({params_text(o.point.params)}) failed: {o.error}",
            file=sys.stderr,
        )


def _metric_text(value: Any, se: Any, metric: str, scenario: Any) -> str:
    from .sweep_plots import metric_label

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    kind = metric_label(metric, scenario)[2]
    has_se = se is not None and isinstance(se, int | float) and math.isfinite(se)
    if kind in ("probability", "share"):
        return f"{100 * value:.2f} %" + (f" ± {100 * se:.2f} %" if has_se else "")
    if kind == "months":
        return f"{value:g} months"
    return f"{value:,.2f}" + (f" ± {se:,.2f}" if has_se else "")


def _json_records(table: Any) -> list[dict[str, Any]]:
    clean = table.astype(object).where(table.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def cmd_sweep(args: argparse.Namespace) -> int:
    from . import sweep as sw
    from .sweep_plots import metric_label, sweep_figures

    scenario, overrides = _load(args)
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
    _check_memory(args, points)
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
    from . import sweep as sw
    from .sweep_plots import metric_label, solve_figures

    scenario, overrides = _load(args)
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
    _check_memory(args, ends)

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
    from . import sweep as sw
    from .sweep_plots import metric_label, sensitivity_figures

    scenario, overrides = _load(args)
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
    _check_memory(args, points)
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


def _add_sweep_commands(sub: Any, common: Any) -> None:
    """The ``sweep``, ``solve`` and ``sensitivity`` subcommands."""

    def shared(p: argparse.ArgumentParser) -> None:
        common(p)
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


# --------------------------------------------------------------------------------------------
# Implied provision rates: `arsim implied-rates`, and the summary lines of `arsim run`


def _implied_lines(s: dict[str, Any]) -> list[str]:
    """Summary lines: implied lifetime loss of the opening book, coverage, weighted ECL."""
    loss = s.get("implied_lifetime_loss")
    if loss is None:
        return []
    runoff = s.get("implied_runoff")
    how = "exact" if runoff is None else f"run-off of {runoff['paths']:,} paths"
    lines = [
        f"  implied lifetime loss   {_num(loss)} ± {_num(s['implied_lifetime_loss_se'])}"
        f"  (of the opening book, {how})"
    ]
    cov = s.get("allowance_coverage")
    if cov is not None:
        lines.append(
            f"  allowance coverage      {100 * cov:.1f} % "
            f"± {100 * s['allowance_coverage_se']:.1f} % of the implied lifetime loss"
        )
    if s.get("ecl_weighted") is not None:
        parts = ", ".join(
            f"{e['name']} {100 * e['weight']:g} %: {_num(e['ecl'])}" for e in s["ecl_scenarios"]
        )
        lines.append(
            f"  weighted ECL            {_num(s['ecl_weighted'])} ± {_num(s['ecl_weighted_se'])}"
            f"  ({parts})"
        )
    return lines


def _rate(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


_STATUS_TEXT = {
    "calibrated": "reproduced",
    "not_identified": "not identified",
    "unreachable": "UNREACHABLE",
}


def _format_implied(r: dict[str, Any]) -> str:
    labels = list(r["disclosed_rates"])
    unit = r["unit"] or "money units"
    exact = r["method"] == "exact"
    how = (
        "exact (independent months)"
        if exact
        else f"run-off of the opening book, {r['paths']:,} paths, seed {r['seed']}"
    )
    head = ["bucket", "gross", "disclosed", "implied", "± SE", "gap", "p_b now", "p_b solved"]
    head += ["gives", "status"]
    rows = []
    for lab in labels:
        p_se = r["calibrated_default_rates_se"][lab]
        solved = _rate(r["calibrated_default_rates"][lab], 3)
        if not exact and p_se is not None and r["status"][lab] == "calibrated":
            solved += f" ± {100 * p_se:.3f} %"
        gap = r["gap"][lab]
        rows.append(
            [
                lab,
                _num(r["gross"][lab]),
                _rate(r["disclosed_rates"][lab]),
                _rate(r["implied_rates"][lab]),
                "exact" if exact else _rate(r["implied_rates_se"][lab]),
                f"{100 * gap:+.2f} pp",
                _rate(r["default_rates"][lab], 3),
                solved,
                _rate(r["calibrated_implied_rates"][lab]),
                _STATUS_TEXT[r["status"][lab]],
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([*out, str(cells[-1])]).rstrip()

    lines = [
        f"{r['scenario']} ({unit}): disclosed vs model-implied provision rates",
        f"Implied: {how}. gap = implied − disclosed.",
        "p_b = monthly default rate: the file's, and solved (last bucket first, collections held",
        "fixed) so that the implied rate equals the disclosed one; 'gives' = the rate it gives.",
        "",
        line(head),
        *(line(row) for row in rows),
        "",
    ]
    cov = r["allowance_coverage"]
    se = "(exact)" if exact else f"± {_num(r['implied_lifetime_loss_se'])}"
    lines.append(
        f"Opening allowance {_num(r['allowance_opening'])} against an implied lifetime loss of "
        f"{_num(r['implied_lifetime_loss'])} {se}"
        + (f": coverage {100 * cov:.1f} %." if cov is not None else ".")
    )
    if r["notes"]:
        lines += ["", "Notes:"]
        lines += [f"  {lab}: {text}" for lab, text in r["notes"].items()]
    lines += ["", _verdict(r)]
    if r.get("written"):
        lines += ["", f"Calibrated scenario written to {r['written']}"]
    return "\n".join(lines)


def _verdict(r: dict[str, Any]) -> str:
    status = r["status"]
    unreachable = [lab for lab, s in status.items() if s == "unreachable"]
    free = [lab for lab, s in status.items() if s == "not_identified"]
    if unreachable:
        text = (
            f"Verdict: NOT consistent with these collection assumptions. No default rate gives "
            f"the disclosed rate of {', '.join(unreachable)} (see the notes); the solved p_b "
            f"give the nearest reachable rates. Faster collections (or a different disclosed "
            f"matrix) would be needed."
        )
    else:
        text = (
            "Verdict: consistent with these collection assumptions: the solved p_b reproduce "
            "every disclosed rate" + (f" ({', '.join(free)}: holds for any p_b)." if free else ".")
        )
    exact = r["method"] == "exact"
    # within 4 SE, plus the stopping rule's bound on what the run-off counts as lost
    close = [
        lab
        for lab in status
        if abs(r["gap"][lab]) <= (0.0 if exact else 4 * (r["implied_rates_se"][lab] or 0.0)) + 1e-6
    ]
    tol = "to 1e-6" if exact else "within 4 SE"
    text += (
        f" With the file's own p_b, {len(close)} of {len(status)} implied rates match the "
        f"disclosed ones {tol}."
    )
    return text


def _calibration_note(r: dict[str, Any]) -> str:
    how = (
        "exact (factor.persistence = 0)"
        if r["method"] == "exact"
        else f"on common random numbers, {r['paths']:,} run-off paths, seed {r['seed']}"
    )
    parts = [
        f"CALIBRATED by 'arsim implied-rates --calibrate-defaults' (arsim {__version__}): "
        f"defaults.monthly_rate solved, last bucket first, so that the implied provision rates "
        f"equal buckets.provision_rates with this file's collection assumptions ({how})."
    ]
    kinds = (("not_identified", "Not identified (p_b kept)"), ("unreachable", "Unreachable"))
    for kind, text in kinds:
        labs = [lab for lab, s in r["status"].items() if s == kind]
        if labs:
            parts.append(f"{text}: {', '.join(labs)}.")
    return " ".join(parts)


def cmd_implied_rates(args: argparse.Namespace) -> int:
    from .analytic import calibrate_default_rates, implied_rates
    from .engine import ResourceError
    from .provisioning import implied_rates_report
    from .scenario import scenario_from_dict, with_overrides
    from .storage import update_scenario_text, write_text_atomic

    out = None
    if args.out is not None and not args.calibrate_defaults:
        raise UserError(f"{args.out}: --out: only with --calibrate-defaults (the file to write)")
    if args.calibrate_defaults:
        if args.out is None:
            raise UserError(
                f"{args.scenario}: --calibrate-defaults: needs --out FILE, the scenario to write"
            )
        out = Path(args.out)
        if out.is_dir():
            raise UserError(f"{out}: --out: is a folder; give the name of a file to write")
        if out.exists() and not args.force:
            raise UserError(f"{out}: --out: already exists; add --force to replace it")
    scenario, overrides = _load(args)
    if args.runoff_paths is not None:
        overrides["simulation.runoff_paths"] = args.runoff_paths
        scenario = with_overrides(scenario, {"simulation.runoff_paths": args.runoff_paths})
    try:
        implied = implied_rates(scenario, workers=args.workers)
        calibration = calibrate_default_rates(scenario, workers=args.workers)
    except ResourceError as exc:
        raise UserError(f"{args.scenario}: simulation.runoff_paths: {exc}") from None
    report = implied_rates_report(scenario, implied, calibration)
    if out is not None:
        text = Path(args.scenario).read_text(encoding="utf-8")
        values = {**overrides, "defaults.monthly_rate": calibration.default_rates.tolist()}
        new_text = update_scenario_text(text, values, _calibration_note(report))
        scenario_from_dict(tomllib.loads(new_text), source=str(out))  # what is written loads
        try:
            report["written"] = str(write_text_atomic(out, new_text, force=args.force))
        except OSError as exc:
            raise UserError(f"{out}: --out: cannot write: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_format_implied(report))
    return EXIT_OK


def _add_implied_rates_command(sub: Any, common: Any) -> None:
    """The ``implied-rates`` subcommand."""
    p = sub.add_parser(
        "implied-rates",
        help="disclosed vs implied provision rates; the default rates that reproduce them",
    )
    common(p, simulation=False)
    p.add_argument(
        "--paths",
        type=int,
        dest="runoff_paths",
        metavar="N",
        help="run-off paths when the factor is persistent (default simulation.runoff_paths)",
    )
    p.add_argument("--seed", type=int, help="random seed (default simulation.seed)")
    p.add_argument(
        "--calibrate-defaults",
        action="store_true",
        help="write the scenario with the solved default rates (and any --set) to --out, "
        "keeping its comments",
    )
    p.add_argument("--out", metavar="FILE", help="the scenario file --calibrate-defaults writes")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--workers", type=int, help="threads (default: number of CPUs)")
    p.set_defaults(func=cmd_implied_rates)


# --------------------------------------------------------------------------------------------
# Calibration from aging history: `arsim calibrate`


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import (
        SnapshotError,
        calibrate,
        format_report,
        parse_edges,
        read_snapshots,
        scenario_document,
    )
    from .scenario import load_scenario

    src = args.snapshots
    if not (math.isfinite(args.terminal_loss) and 0.0 <= args.terminal_loss <= 1.0):
        raise UserError(f"{src}: --terminal-loss: must be in [0, 1], got {args.terminal_loss:g}")
    if args.bootstrap < 0:
        raise UserError(f"{src}: --bootstrap: must be ≥ 0, got {args.bootstrap}")
    if not 0 <= args.seed < 2**63:
        raise UserError(f"{src}: --seed: must be in 0..2**63-1, got {args.seed}")
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise UserError(f"{out}: --out: is a folder; give the name of a file to write")
    if out is not None and out.exists() and not args.force:
        raise UserError(f"{out}: --out: already exists; add --force to replace it")
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
        from .storage import write_text_atomic

        if out.exists() and not args.force:
            raise UserError(f"{out}: --out: already exists; add --force to replace it")
        try:
            write_text_atomic(out, content, force=args.force)
        except OSError as exc:
            raise UserError(f"{out}: --out: cannot write: {exc.strerror or exc}") from None
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


def _add_calibrate_command(sub: Any) -> None:
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


# --------------------------------------------------------------------------------------------
# The HTML report: `arsim report`


def cmd_report(args: argparse.Namespace) -> int:
    from .report import ReportError, build_report
    from .storage import write_text_atomic

    folder = Path(args.results_dir)
    out = Path(args.out) if args.out is not None else folder / "report.html"
    if out.is_dir():
        raise UserError(f"{out}: --out: is a folder, not a file")
    if out.exists() and not args.force:
        raise UserError(f"{out}: --out: already exists; add --force to replace it")
    try:
        page = build_report(folder)
    except ReportError as exc:
        raise UserError(str(exc)) from None
    try:
        written = write_text_atomic(out, page, force=args.force)
    except OSError as exc:
        raise UserError(f"{out}: --out: cannot write: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps({"report": str(written), "bytes": written.stat().st_size}))
    else:
        print(written)
    return EXIT_OK


def _add_report_command(sub: Any) -> None:
    """``arsim report RESULTS_DIR [--out report.html] [--force]``."""
    p = sub.add_parser("report", help="one self-contained HTML page for a results or sweep folder")
    p.add_argument(
        "results_dir", help="a folder written by 'arsim run', sweep, solve or sensitivity"
    )
    p.add_argument("--out", metavar="FILE", help="the HTML file (default RESULTS_DIR/report.html)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the file written as JSON")
    p.set_defaults(func=cmd_report)
