"""What ``arsim sweep``, ``solve`` and ``sensitivity`` share: the sweep folder, the executor,
saving each point as it finishes, interruptions and failures; and the pure functions that turn
their results into the text and JSON they print."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .._format import finite, fmt_money, fmt_pct, fmt_pm
from ._common import (
    EXIT_INTERRUPTED,
    UserError,
    check_out_folder,
    progress_bar,
)


def sweep_definition(
    kind: str, scenario: Any, replicates: list[dict[str, float]] | None = None
) -> dict[str, Any]:
    """What makes two commands "the same sweep" (their folder is resumed, not refused); the
    parameter replicates' rows are part of the scenario's hash."""
    from ..engine import ENGINE_VERSION
    from ..scenario import scenario_hash

    return {
        "kind": kind,
        "scenario_sha256": scenario_hash(scenario.model_copy(update={"sweep": None}), replicates),
        "paths": scenario.simulation.paths,
        "seed": scenario.simulation.seed,
        "engine_version": ENGINE_VERSION,
    }


def sweep_folder(args: argparse.Namespace, definition: dict[str, Any], overrides: dict) -> Any:
    """The command's ``--out`` folder (a :class:`SweepFolder`), checked before any work."""
    from ..storage import SweepFolder, SweepFolderError, default_out_dir

    out = Path(args.out) if args.out is not None else default_out_dir(args.scenario)
    check_out_folder(out, args.force, exists_ok=True)
    info = {"command": definition["kind"], "scenario_file": args.scenario, "overrides": overrides}
    try:
        return SweepFolder.prepare(out, definition, force=args.force, info=info)
    except SweepFolderError as exc:
        raise UserError(f"{out}: --out: {exc}") from None


def check_sweep_args(args: argparse.Namespace) -> None:
    """Refuse an unknown ``--scheduler`` before the scenario's work starts."""
    from ..sweep import SchedulerError, check_scheduler

    try:
        check_scheduler(args.scheduler)
    except SchedulerError as exc:
        raise UserError(f"{args.scheduler}: --scheduler: {exc}") from None


def default_metric(scenario: Any) -> str:
    """P(runway ≤ 12 months), or P(runway ≤ horizon) for a horizon under a year."""
    from ..sweep import DEFAULT_METRIC

    return DEFAULT_METRIC if scenario.simulation.horizon_months >= 12 else "p_runway_le_horizon"


def check_memory(args: argparse.Namespace, points: list) -> None:
    """Refuse, before anything runs, points that would not fit in memory."""
    from ..sweep import check_sweep_memory

    check_sweep_memory(points, args.workers or os.cpu_count() or 1)


class PointSaver:
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
        """Create the folder (once) and write the points held back so far."""
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


def execute(
    args: argparse.Namespace,
    folder: Any,
    work: Any,
    *,
    done: dict[str, Any],
    desc: str,
    new_points: int | None = None,
    deferred: bool = False,
    analytics: bool = True,
    replicates: list[dict[str, float]] | None = None,
) -> tuple[Any, PointSaver, Any]:
    """Run ``work(runner, saver)`` on the chosen scheduler with a progress bar on stderr.

    ``done`` holds the summaries of the points already in the folder; ``new_points`` is the
    number of points to compute if known (0: no executor is started).
    """
    from ..sweep import PointRunner, SchedulerError, open_executor

    done = usable_points(done, analytics)
    saver = PointSaver(folder, deferred=deferred)
    scheduler, workers = (args.scheduler, args.workers) if new_points != 0 else ("local", 1)
    try:
        with (
            open_executor(scheduler, workers) as (executor, slots),
            progress_bar(0, desc, unit="task") as bar,
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
                replicates=replicates,
            )
            result = work(runner, saver)
    except SchedulerError as exc:
        raise UserError(f"{args.scheduler}: --scheduler: {exc}") from None
    return result, saver, runner


def usable_points(done: dict[str, Any], analytics: bool) -> dict[str, Any]:
    """The saved points a run can reuse: with ``analytics``, only those whose summary has the
    implied rates (points saved by a run that did without them are run again)."""
    if not analytics:
        return done
    return {key: summary for key, summary in done.items() if "implied_rates" in summary}


def without_analytics(outcome: Any) -> Any:
    """A point's outcome with the summary keys of the analytics left out."""
    from dataclasses import replace

    if outcome.summary is None:
        return outcome
    kept = {k: v for k, v in outcome.summary.items() if not needs_analytics(k)}
    return replace(outcome, summary=kept)


def needs_analytics(metric: str) -> bool:
    """Whether a metric comes from the implied rates or the ECL (a run-off per point)."""
    return metric.split(".")[0].startswith(("implied_", "allowance_coverage", "ecl_"))


def done_points(folder: Any) -> dict[str, Any]:
    """Summaries of the points already in the folder, by key."""
    return {key: record["summary"] for key, record in folder.load_points().items()}


def interrupted(folder: Any) -> int:
    """Say what an interruption kept (the finished points) and how to go on; the exit code."""
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


def report_failures(failures: list[Any]) -> None:
    """One line on stderr per failed point."""
    from ..sweep import params_text

    for o in failures:
        print(
            f"arsim: point {o.point.index} ({params_text(o.point.params)}) failed: {o.error}",
            file=sys.stderr,
        )


def metric_text(value: Any, se: Any, metric: str, scenario: Any) -> str:
    """A metric's value (± its SE if given) as a percentage, months or money; ``n/a`` if none."""
    from ..sweep import metric_label

    if not finite(value):
        return "n/a"
    kind = metric_label(metric, scenario)[2]
    if kind in ("probability", "share"):
        return fmt_pm(value, se, fmt_pct)
    if kind == "months":
        return f"{value:g} months"
    return fmt_pm(value, se, lambda x: fmt_money(x, 2))


def json_records(table: Any) -> list[dict[str, Any]]:
    """A table's rows as JSON-ready records (missing values as ``None``)."""
    clean = table.astype(object).where(table.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def columns_text(heads: list[str], rows: list[list[str]], *, right: bool) -> list[str]:
    """A header line and a line per row, each column as wide as its widest cell."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]
    pad = str.rjust if right else str.ljust
    lines = ["  ".join(pad(h, w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return lines


# --------------------------------------------------------------------------------------------
# sweep


def sweep_doc(
    scenario: Any,
    design: Any,
    table: Any,
    failures: list[dict[str, Any]],
    *,
    folder: Path,
    computed: int,
    reused: int,
) -> dict[str, Any]:
    """What ``arsim sweep --json`` prints."""
    return {
        "folder": str(folder),
        "fields": list(design.fields),
        "design": design.kind,
        "paths": scenario.simulation.paths,
        "seed": scenario.simulation.seed,
        "computed": computed,
        "reused": reused,
        "failed": failures,
        "points": json_records(table),
    }


def sweep_text(
    scenario: Any,
    fields: tuple[str, ...],
    metrics: list[str],
    table: Any,
    *,
    n_points: int,
    computed: int,
    reused: int,
    plotted: bool,
    folder: Path,
) -> str:
    """What ``arsim sweep`` prints: the run, then a row per finished point with its metrics."""
    from ..sweep import metric_label

    sim = scenario.simulation
    lines = [
        f"{scenario.scenario.name}: sweep of {', '.join(fields)}",
        f"{n_points} points × {sim.paths:,} paths, seed {sim.seed} (common random "
        f"numbers); {computed} computed now, {reused} reused from an earlier run",
        "",
    ]
    heads = [*fields, *(metric_label(m, scenario)[0] for m in metrics)]
    rows = [
        [f"{row[f]:g}" for f in fields]
        + [metric_text(row.get(m), row.get(f"{m}_se"), m, scenario) for m in metrics]
        for _, row in table.iterrows()
    ]
    lines += columns_text(heads, rows, right=True)
    if not plotted and len(fields) > 2:
        lines += ["", "(plots are drawn for sweeps over one or two fields)"]
    lines += ["", f"Results written to {folder}/"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# solve


def solve_doc(result: Any, folder: Path) -> dict[str, Any]:
    """What ``arsim solve --json`` prints: the result and its folder."""
    return {**result.to_dict(), "folder": str(folder)}


def no_crossing_text(result: Any, scenario: Any) -> str:
    """The one-line message of a solve whose metric does not cross the target in the bracket."""
    (lo, hi), (m_lo, m_hi) = result.bracket, result.metric_at_bracket
    metric = result.metric
    return (
        f"{scenario.source}: --target: {metric} does not cross {result.target:g} between "
        f"{result.field}={lo:g} ({metric_text(m_lo, None, metric, scenario)}) and "
        f"{hi:g} ({metric_text(m_hi, None, metric, scenario)}); value: null"
    )


def _interval_text(result: Any, label: str, target: str) -> str:
    if result.interval is None:
        return "n/a (the metric has no standard error)"
    lo, hi = result.interval
    a = "below the bracket" if lo is None else f"{lo:.4g}"
    b = "above the bracket" if hi is None else f"{hi:.4g}"
    return f"{a} to {b} (where {label} ± 2 SE crosses {target})"


def solve_text(result: Any, scenario: Any, folder: Path) -> str:
    """What ``arsim solve`` prints: the value, its interval, the metric there and the search."""
    from ..sweep import metric_label

    metric, value = result.metric, result.value
    label = metric_label(metric, scenario)[0]
    target = metric_text(result.target, None, metric, scenario)
    at_value = metric_text(result.metric_at_value, result.metric_se_at_value, metric, scenario)
    lines = [
        f"{scenario.scenario.name}: reverse stress test",
        f"{result.field} where {label} = {target}:",
        f"  value      {value:.4g}",
        f"  interval   {_interval_text(result, label, target)}",
        f"  {label} at {value:.4g}: {at_value}",
        f"  bracket {result.bracket[0]:g} to {result.bracket[1]:g}; "
        f"{len(result.evaluations)} evaluations × {result.paths:,} paths, seed {result.seed} "
        "(common random numbers)" + ("" if result.converged else "; NOT CONVERGED"),
        "",
        f"Results written to {folder}/",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# sensitivity


def sensitivity_doc(
    scenario: Any, result: Any, table: Any, failures: list[dict[str, Any]], folder: Path
) -> dict[str, Any]:
    """What ``arsim sensitivity --json`` prints."""
    return {
        "folder": str(folder),
        "metric": result.metric,
        "delta": result.delta,
        "paths": scenario.simulation.paths,
        "seed": scenario.simulation.seed,
        "table": json_records(table),
        "failed": failures,
    }


def _setting_short(row: Any, side: str) -> str:
    setting = row[f"{side}_setting"]
    if not setting:
        return "(at its bound)"
    if setting.startswith("["):
        value = row[f"{side}_value"]
        return f"every item × {value:g}" if row["base_value"] == 1.0 else f"every item + {value:g}"
    return setting


def sensitivity_text(scenario: Any, result: Any, table: Any, folder: Path) -> str:
    """What ``arsim sensitivity`` prints: the base metric, then each field's moves and their
    effect, largest first."""
    from ..sweep import metric_label

    metric, delta = result.metric, result.delta
    label = metric_label(metric, scenario)[0]
    base = table["metric_base"].iloc[0] if len(table) else None
    base_se = table["metric_base_se"].iloc[0] if len(table) else None
    sim = scenario.simulation
    lines = [
        f"{scenario.scenario.name}: sensitivity of {label}",
        f"base {metric_text(base, base_se, metric, scenario)}; each field moved by "
        f"±{100 * delta:g} % of its value (±{delta:g} if it is 0), one at a time; "
        f"{sim.paths:,} paths, seed {sim.seed} (common random numbers); largest effect first",
        "",
    ]
    rows = [
        [
            r["field"],
            _setting_short(r, "low"),
            metric_text(r["metric_low"], None, metric, scenario),
            _setting_short(r, "high"),
            metric_text(r["metric_high"], None, metric, scenario),
        ]
        for _, r in table.iterrows()
    ]
    lines += columns_text(["field", "low", label, "high", label], rows, right=False)
    lines += ["", f"Results written to {folder}/"]
    return "\n".join(lines)
