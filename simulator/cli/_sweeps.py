"""Running points for ``arsim sweep``, ``solve`` and ``sensitivity``: the sweep folder, the
executor, saving each point as it finishes, interruptions and failures."""

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


def _sweep_definition(kind: str, scenario: Any) -> dict[str, Any]:
    """What makes two commands "the same sweep" (their folder is resumed, not refused)."""
    from ..engine import ENGINE_VERSION
    from ..scenario import scenario_hash

    return {
        "kind": kind,
        "scenario_sha256": scenario_hash(scenario.model_copy(update={"sweep": None})),
        "paths": scenario.simulation.paths,
        "seed": scenario.simulation.seed,
        "engine_version": ENGINE_VERSION,
    }


def _sweep_folder(args: argparse.Namespace, definition: dict[str, Any], overrides: dict):
    from ..storage import SweepFolder, SweepFolderError, default_out_dir

    out = Path(args.out) if args.out is not None else default_out_dir(args.scenario)
    check_out_folder(out, args.force, exists_ok=True)
    info = {"command": definition["kind"], "scenario_file": args.scenario, "overrides": overrides}
    try:
        return SweepFolder.prepare(out, definition, force=args.force, info=info)
    except SweepFolderError as exc:
        raise UserError(f"{out}: --out: {exc}") from None


def _check_sweep_args(args: argparse.Namespace) -> None:
    from ..sweep import SchedulerError, check_scheduler

    try:
        check_scheduler(args.scheduler)
    except SchedulerError as exc:
        raise UserError(f"{args.scheduler}: --scheduler: {exc}") from None


def _default_metric(scenario: Any) -> str:
    from ..sweep import DEFAULT_METRIC

    return DEFAULT_METRIC if scenario.simulation.horizon_months >= 12 else "p_runway_le_horizon"


def check_memory(args: argparse.Namespace, points: list) -> None:
    """Refuse, before anything runs, points that would not fit in memory."""
    from ..sweep import check_sweep_memory

    check_sweep_memory(points, args.workers or os.cpu_count() or 1)


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
    from ..sweep import PointRunner, SchedulerError, open_executor

    if analytics:  # points saved by a run that did without the implied rates are run again
        done = {key: summary for key, summary in done.items() if "implied_rates" in summary}
    saver = _PointSaver(folder, deferred=deferred)
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
    from ..sweep import params_text

    for o in failures:
        print(
            f"arsim: point {o.point.index} ({params_text(o.point.params)}) failed: {o.error}",
            file=sys.stderr,
        )


def _metric_text(value: Any, se: Any, metric: str, scenario: Any) -> str:
    from ..sweep import metric_label

    if not finite(value):
        return "n/a"
    kind = metric_label(metric, scenario)[2]
    if kind in ("probability", "share"):
        return fmt_pm(value, se, fmt_pct)
    if kind == "months":
        return f"{value:g} months"
    return fmt_pm(value, se, lambda x: fmt_money(x, 2))


def _json_records(table: Any) -> list[dict[str, Any]]:
    clean = table.astype(object).where(table.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]
