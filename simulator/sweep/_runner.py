"""The runner: points (or their blocks of paths) as tasks on an executor, each point reported as
soon as it is complete."""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from .._util import block_sizes
from ..engine import BLOCK_SIZE, ENGINE_VERSION, check_replicate_paths, run_block
from ..params import compile_params
from ..provisioning import analyse
from ..results import SimulationResult
from ..scenario import Scenario
from ._executors import _SerialExecutor
from ._points import Point, PointOutcome


def _summarise(
    scenario: Scenario,
    blocks: Iterator[Any],
    seconds: Callable[[], float],
    analytics: bool = True,
    replicates: list[dict[str, float]] | None = None,
) -> dict:
    """Combine a point's blocks, in block order, into its summary (the scenario left out)."""
    source = functools.partial(analyse, replicates=replicates) if replicates else analyse
    result = SimulationResult.from_blocks(
        scenario, blocks, engine_version=ENGINE_VERSION, analytics=source
    )
    result.wall_seconds = seconds()  # compute seconds of the blocks, wherever they ran
    summary = result.summary(analytics=analytics)
    summary.pop("scenario", None)
    return summary


def _is_broken_pool(exc: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return isinstance(exc, BrokenProcessPool)


def _run_block_task(prm: Any, block_index: int, n: int, seed: int) -> tuple[Any, float]:
    """A task: block ``block_index`` of a point (no trajectory sample), and its compute seconds."""
    start = time.perf_counter()
    out = run_block(prm, block_index, n, seed, 0)
    return out, time.perf_counter() - start


def _run_point_task(
    prm: Any,
    scenario: Scenario,
    analytics: bool = True,
    replicates: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """A task: a whole point, its blocks run in order here; returns its summary."""
    seed = scenario.simulation.seed
    spent = [0.0]

    def blocks() -> Iterator[Any]:
        for i, n in enumerate(block_sizes(scenario.simulation.paths, BLOCK_SIZE)):
            out, seconds = _run_block_task(prm, i, n, seed)
            spent[0] += seconds
            yield out

    return _summarise(scenario, blocks(), lambda: spent[0], analytics, replicates)


#: A task: a point's position in the call of :meth:`PointRunner.run`, and its block (``None``: the
#: whole point).
Task = tuple[int, int | None]


def _task_order(task: Task) -> tuple[int, int]:
    return task[0], task[1] or 0


def _error_text(exc: BaseException | str) -> str:
    """``Type: message`` of a failure (a text is taken as it is)."""
    return exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}".rstrip(": ")


@dataclass
class _PointState:
    """A point being computed: its blocks so far (when split into block tasks)."""

    point: Point
    n_blocks: int
    split: bool
    prm: Any = None
    blocks: dict[int, Any] = field(default_factory=dict)
    seconds: float = 0.0
    failed: bool = False


class PointRunner:
    """Runs points on an executor and reports each finished point as soon as it is complete.

    A point is one task (its blocks run in order on one worker, which also computes its
    summary), unless there are too few points to keep the workers busy or the point is large
    (more than :attr:`LARGE_POINT_BLOCKS` blocks): then each block of paths is a task and the
    blocks are combined here, in block order. Either way the numbers are the same, bit for bit.

    Parameters
    ----------
    executor : concurrent.futures.Executor
        Where the tasks run (see :func:`open_executor`); any executor whose futures work with
        :func:`concurrent.futures.wait`.
    slots : int, optional
        How many tasks the executor runs at once; a few times this many are kept in flight.
    done : dict, optional
        Summaries already known, by :func:`point_key` (a resumed sweep): these points are not run.
    on_point : callable, optional
        Called with each :class:`PointOutcome` computed now (finished or failed), as soon as it
        is known, in the order points complete.
    on_task : callable, optional
        Called with 1 for every finished task (a progress bar's ``update``).
    on_plan : callable, optional
        Called with the number of tasks a call of :meth:`run` is about to run.
    analytics : bool, optional
        Whether each point's summary includes the implied rates and ECL (a run-off per point);
        a solve or sensitivity on a simulated metric does without them.
    replicates : list of dict, optional
        Parameter replicates (DESIGN 2.14) for every point, as checked rows
        (:func:`simulator.scenario.replicate_rows`, whose ``conflicts`` should name the fields
        the points change): each point's figures then include parameter risk. A point's
        summary has no ``parameter_risk`` (that needs a second, plain run per point).
    """

    #: A point with more blocks than this is always split into block tasks.
    LARGE_POINT_BLOCKS = 32
    #: How many times a broken process pool (a killed worker) is replaced in one runner.
    MAX_RENEWALS = 3

    def __init__(
        self,
        executor: Executor,
        *,
        slots: int = 1,
        done: dict[str, dict[str, Any]] | None = None,
        on_point: Callable[[PointOutcome], None] | None = None,
        on_task: Callable[[int], None] | None = None,
        on_plan: Callable[[int], None] | None = None,
        analytics: bool = True,
        replicates: list[dict[str, float]] | None = None,
    ) -> None:
        self.executor = executor
        self.analytics = analytics
        self.replicates = replicates or None
        self.slots = max(1, int(slots))
        # in this process, one task at a time, so that each point is saved as it finishes
        serial = isinstance(executor, _SerialExecutor)
        self.window = 1 if serial else max(4, 3 * self.slots)
        self.known: dict[str, dict[str, Any]] = dict(done or {})
        self.on_point = on_point
        self.on_task = on_task
        self.on_plan = on_plan
        self.computed = 0
        self.renewals = 0
        self._generation = 0

    @staticmethod
    def n_blocks(point: Point) -> int:
        """Number of blocks of paths of a point."""
        return math.ceil(point.scenario.simulation.paths / BLOCK_SIZE)

    def run(self, points: Sequence[Point]) -> list[PointOutcome]:
        """Run the points not already known; return every point's outcome, in the given order.

        A failure (an exception in a task, a broken pool, a lost worker) fails its point only;
        the other points go on. An interruption (``KeyboardInterrupt``) cancels the tasks not
        yet started and propagates; every point reported through ``on_point`` is complete.

        Raises
        ------
        ScenarioError
            Before anything runs, if a point has fewer than two paths a parameter replicate.
        """
        for point in points:
            check_replicate_paths(point.scenario, self.replicates)
        call = _Run(self, points)
        call.plan()
        try:
            call.drive()
        except BaseException:
            call.keep_finished()
            raise
        return call.outcomes_in_order()


class _Run:
    """One call of :meth:`PointRunner.run`: the state of its points, the tasks queued, in flight
    and set aside for a fresh pool, and the outcomes so far (by position in ``points``)."""

    def __init__(self, runner: PointRunner, points: Sequence[Point]) -> None:
        self.runner = runner
        self.points = points
        self.outcomes: dict[int, PointOutcome] = {}
        self.states: dict[int, _PointState] = {}
        self.first_of: dict[str, int] = {}  # the position of each point run, by key
        self.queue: deque[Task] = deque()
        self.pending: dict[Future, Task] = {}
        self.generation: dict[Future, int] = {}  # the pool each pending task was given to
        self.retry: list[Task] = []
        self.broken: list[BaseException] = []

    def plan(self) -> None:
        """Queue the tasks of the points not already known, and announce how many there are."""
        runner = self.runner
        for pos, pt in enumerate(self.points):
            if pt.key in runner.known:
                self.outcomes[pos] = PointOutcome(pt, runner.known[pt.key], cached=True)
            elif pt.key not in self.first_of:  # the same point twice in one call runs once
                self.first_of[pt.key] = pos
        few = len(self.first_of) < 2 * runner.slots  # too few points to keep every worker busy
        for pos in self.first_of.values():
            pt = self.points[pos]
            nb = runner.n_blocks(pt)
            split = nb > 1 and (few or nb > runner.LARGE_POINT_BLOCKS)
            self.states[pos] = _PointState(pt, nb, split)
            if split:
                self.queue.extend((pos, b) for b in range(nb))
            else:
                self.queue.append((pos, None))
        if runner.on_plan is not None and self.queue:
            runner.on_plan(len(self.queue))

    def drive(self) -> None:
        """Submit and collect tasks until every one is done, renewing a broken pool."""
        while self.queue or self.pending:
            self.submit_window()
            if self.pending:
                finished, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
                for fut in self._in_task_order(finished):
                    self.handle(fut)
            if self.broken and self.runner._generation not in self.generation.values():
                self.renew()  # once every task of the broken pool is accounted for

    def keep_finished(self) -> None:
        """On an interruption: cancel the tasks in flight and keep what had already finished
        (a point whose last task was done is reported)."""
        for fut in self.pending:
            fut.cancel()
        for fut in self._in_task_order(self.pending):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.handle(fut)

    def outcomes_in_order(self) -> list[PointOutcome]:
        """Every point's outcome, in the given order (repeats share the first one's)."""
        for pos, pt in enumerate(self.points):
            if pos not in self.outcomes:
                first = self.outcomes[self.first_of[pt.key]]
                self.outcomes[pos] = PointOutcome(pt, first.summary, first.error, first.cached)
        return [self.outcomes[i] for i in range(len(self.points))]

    def _in_task_order(self, futures: Any) -> list[Future]:
        return sorted(futures, key=lambda f: _task_order(self.pending[f]))

    # --- tasks

    def submit_window(self) -> None:
        """Submit queued tasks until the runner's window is in flight, or a submission fails."""
        while self.queue and len(self.pending) < self.runner.window:
            pos, b = self.queue.popleft()
            if self.states[pos].failed:
                continue
            try:
                self.submit(pos, b)
            except Exception as exc:  # e.g. a broken process pool
                if not self.lost_worker(exc, (pos, b)):
                    self.fail(pos, exc)
                break

    def submit(self, pos: int, b: int | None) -> None:
        """Submit a whole point (``b`` is ``None``) or one of its blocks."""
        runner, st = self.runner, self.states[pos]
        sim = st.point.scenario.simulation
        if st.prm is None:
            st.prm = compile_params(st.point.scenario, runner.replicates)
        if b is None:
            fut = runner.executor.submit(
                _run_point_task, st.prm, st.point.scenario, runner.analytics, runner.replicates
            )
        else:
            n = min(BLOCK_SIZE, sim.paths - b * BLOCK_SIZE)
            fut = runner.executor.submit(_run_block_task, st.prm, b, n, sim.seed)
        self.pending[fut] = (pos, b)
        self.generation[fut] = runner._generation

    def handle(self, fut: Future) -> None:
        """Take in a finished task: its point finishes, gets a block, fails, or is set aside."""
        pos, b = self.pending.pop(fut)
        self.generation.pop(fut)
        st = self.states[pos]
        exc = None if fut.cancelled() else fut.exception()
        if exc is not None and not st.failed and self.lost_worker(exc, (pos, b)):
            return
        if self.runner.on_task is not None:
            self.runner.on_task(1)
        if st.failed:
            return
        if fut.cancelled():
            self.fail(pos, "CancelledError: the task was cancelled (worker or cluster lost)")
        elif exc is not None:
            self.fail(pos, exc)
        elif b is None:
            self.finish(pos, fut.result())
        else:
            out, seconds = fut.result()
            self.add_block(pos, b, out, seconds)

    # --- a broken process pool

    def lost_worker(self, exc: BaseException, task: Task) -> bool:
        """Set a task aside to run again on a fresh pool if a killed worker broke the pool
        (and the pool can be replaced); whether it was set aside."""
        runner = self.runner
        if not (_is_broken_pool(exc) and hasattr(runner.executor, "renew")):
            return False
        if runner.renewals >= runner.MAX_RENEWALS:
            return False
        self.retry.append(task)
        self.broken.append(exc)
        return True

    def renew(self) -> None:
        """Replace the broken pool and queue the tasks set aside first, in task order."""
        if not self.broken:
            return
        runner = self.runner
        runner.executor.renew()  # type: ignore[attr-defined]
        runner.renewals += 1
        runner._generation += 1
        self.broken.clear()
        for task in sorted(self.retry, reverse=True):
            self.queue.appendleft(task)
        self.retry.clear()

    # --- points

    def add_block(self, pos: int, b: int, out: Any, seconds: float) -> None:
        """Keep a block of a split point; combine the point once it has all its blocks."""
        st = self.states[pos]
        st.blocks[b] = out
        st.seconds += seconds
        if len(st.blocks) == st.n_blocks:
            self.combine(pos)

    def combine(self, pos: int) -> None:
        """Combine a split point's blocks, in block order, into its summary."""
        st = self.states[pos]
        try:
            summary = _summarise(
                st.point.scenario,
                (st.blocks[i] for i in range(st.n_blocks)),
                lambda: st.seconds,
                self.runner.analytics,
                self.runner.replicates,
            )
        except Exception as exc:
            self.fail(pos, exc)
        else:
            self.finish(pos, summary)

    def finish(self, pos: int, summary: dict[str, Any]) -> None:
        """A point is complete: remember and report it."""
        st = self.states[pos]
        st.blocks.clear()
        self.runner.known[st.point.key] = summary
        self.runner.computed += 1
        self.report(pos, PointOutcome(st.point, summary))

    def fail(self, pos: int, exc: BaseException | str) -> None:
        """A point failed (once): cancel its other tasks and report it."""
        st = self.states[pos]
        if st.failed:
            return
        st.failed = True
        st.blocks.clear()
        for fut, (p, _) in list(self.pending.items()):
            if p == pos:
                fut.cancel()
        self.report(pos, PointOutcome(st.point, None, error=_error_text(exc)))

    def report(self, pos: int, outcome: PointOutcome) -> None:
        self.outcomes[pos] = outcome
        if self.runner.on_point is not None:
            self.runner.on_point(outcome)
