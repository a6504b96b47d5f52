"""The page's sweep panel: one allow-listed field over at most :data:`MAX_SWEEP_POINTS` points on
common random numbers, run by :class:`simulator.sweep.PointRunner` on the server's threads, each
point shown as soon as it is done, and cancelled per tab (the tasks not started never run)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from .._format import fmt_money, fmt_pct
from ..scenario import Scenario, ScenarioError
from ..sweep import (
    PointOutcome,
    PointRunner,
    flatten_summary,
    grid_design,
    make_points,
    metric_label,
    se_name,
)
from ._catalog import editable_fields

#: Most points in one sweep of the page (bigger sweeps are `arsim sweep`).
MAX_SWEEP_POINTS = 50
#: Metrics the panel offers (simulated ones: no run-off per point).
SWEEP_METRICS = (
    "p_runway_le_12",
    "p_runway_le_24",
    "runway_quantiles.p50",
    "credit_loss_mean",
    "credit_loss_p99",
    "cash_end_mean",
    "min_cash_p5",
    "collections_mean",
)


class SweepCancelled(Exception):
    """Raised inside the runner's callback to stop a sweep (its pending tasks are cancelled)."""


class _Counted(Executor):
    """An executor that counts the tasks handed to it (what a cancelled sweep did start)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.submitted = 0
        if hasattr(executor, "renew"):
            self.renew = executor.renew  # a broken process pool is replaced, as in arsim sweep

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = self.executor.submit(fn, *args, **kwargs)
        self.submitted += 1
        return future


def sweep_options(scenario: Scenario) -> dict[str, Any]:
    """The fields and metrics the panel offers for ``scenario``, with their labels."""
    fields = sorted(editable_fields(scenario))
    return {
        "fields": fields,
        "metrics": [{"key": m, "label": metric_label(m, scenario)[0]} for m in SWEEP_METRICS],
        "max_points": MAX_SWEEP_POINTS,
    }


def _format(kind: str, x: Any) -> str:
    if x is None:
        return "n/a"
    if kind == "probability":
        return fmt_pct(x)
    if kind == "money":
        return fmt_money(x)
    return f"{x:g}"


class SweepJob:
    """One sweep of one session.

    Parameters
    ----------
    scenario : Scenario
        The swept scenario (the session's current edit, at the page's paths and seed).
    field : str
        An editable field path.
    start, stop : float
        The ends of the grid (both included).
    points : int
        2..:data:`MAX_SWEEP_POINTS`.
    metric : str
        One of :data:`SWEEP_METRICS`.

    Raises
    ------
    ScenarioError
        For a field, metric, number of points or value out of range, before anything runs.
    """

    def __init__(
        self, scenario: Scenario, field: str, start: float, stop: float, points: int, metric: str
    ) -> None:
        src = scenario.source
        if field not in editable_fields(scenario):
            raise ScenarioError(src, str(field)[:80], "is not a field the page can sweep")
        if metric not in SWEEP_METRICS:
            raise ScenarioError(src, "metric", f"must be one of {', '.join(SWEEP_METRICS)}")
        if not 2 <= points <= MAX_SWEEP_POINTS:
            raise ScenarioError(src, "points", f"must be 2..{MAX_SWEEP_POINTS}, got {points}")
        design = grid_design(scenario, [f"{field}={start!r}:{stop!r}:{points}"])
        self.points = make_points(scenario, design)  # every point validated first
        self.field, self.metric = field, metric
        self.label, self.unit, self.kind = metric_label(metric, scenario)
        self.field_label = field
        self.state = "queued"
        self.error: str | None = None
        self.tasks = 0  # tasks planned
        self._executor: _Counted | None = None
        self._done: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop the sweep: no task starts after this; the ones running finish and are dropped."""
        self._cancel.set()
        with self._lock:
            if self.state in ("queued", "running"):
                self.state = "cancelled"

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _on_point(self, outcome: PointOutcome) -> None:
        if self._cancel.is_set():
            return
        row: dict[str, Any] = {"x": outcome.point.params[self.field], "error": outcome.error}
        if outcome.ok:
            flat = flatten_summary(outcome.summary or {})
            y = flat.get(self.metric)
            se_key = se_name(self.metric, flat)
            se = flat.get(se_key) if se_key else None
            row.update(y=y, se=se, text=_format(self.kind, y))
        with self._lock:
            self._done.append(row)

    def _on_plan(self, tasks: int) -> None:
        self.tasks = tasks

    def _on_task(self, _: int) -> None:
        if self._cancel.is_set():
            raise SweepCancelled

    def run(self, executor: Executor, slots: int) -> None:
        """Run the points on ``executor`` (blocking; call it from a worker thread)."""
        with self._lock:
            if self.state != "queued":
                return
            self.state = "running"
        self._executor = _Counted(executor)
        runner = PointRunner(
            self._executor,
            slots=slots,
            on_point=self._on_point,
            on_task=self._on_task,
            on_plan=self._on_plan,
            analytics=False,
        )
        try:
            runner.run(self.points)
        except SweepCancelled:
            pass
        except Exception as exc:  # reported on the page, not raised in a worker thread
            with self._lock:
                self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            if self.state == "running":
                self.state = "done"

    def status(self) -> dict[str, Any]:
        """What the panel shows: state, progress, and the points done so far (sorted by x)."""
        with self._lock:
            done = sorted(self._done, key=lambda r: r["x"])
            state, error = self.state, self.error
        return {
            "state": state,
            "error": error,
            "field": self.field,
            "metric": self.metric,
            "label": self.label,
            "unit": self.unit,
            "kind": self.kind,
            "done": len(done),
            "total": len(self.points),
            "points": done,
            # tasks (points, or blocks of a point) planned and handed to the workers so far
            "tasks": self.tasks,
            "tasks_started": self._executor.submitted if self._executor else 0,
        }
