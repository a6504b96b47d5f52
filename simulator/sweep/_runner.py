"""The runner: points (or their blocks of paths) as tasks on an executor, each point reported as
soon as it is complete."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from .._util import block_sizes
from ..engine import BLOCK_SIZE, ENGINE_VERSION, run_block
from ..params import compile_params
from ..provisioning import analyse
from ..results import SimulationResult
from ..scenario import Scenario
from ._executors import _SerialExecutor
from ._points import Point

#: Format tag of the record of one finished point.
POINT_FORMAT = "arsim-sweep-point/1"


def _summarise(
    scenario: Scenario, blocks: Iterator[Any], seconds: Callable[[], float], analytics: bool = True
) -> dict:
    """Combine a point's blocks, in block order, into its summary (the scenario left out)."""
    result = SimulationResult.from_blocks(
        scenario, blocks, engine_version=ENGINE_VERSION, analytics=analyse
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


def _run_point_task(prm: Any, scenario: Scenario, analytics: bool = True) -> dict[str, Any]:
    """A task: a whole point, its blocks run in order here; returns its summary."""
    seed = scenario.simulation.seed
    spent = [0.0]

    def blocks() -> Iterator[Any]:
        for i, n in enumerate(block_sizes(scenario.simulation.paths, BLOCK_SIZE)):
            out, seconds = _run_block_task(prm, i, n, seed)
            spent[0] += seconds
            yield out

    return _summarise(scenario, blocks(), lambda: spent[0], analytics)


@dataclass
class PointOutcome:
    """What became of one point.

    Attributes
    ----------
    point : Point
    summary : dict or None
        The point's summary (:meth:`SimulationResult.summary` without the scenario);
        ``None`` if it failed.
    error : str or None
        ``Type: message`` of the failure; ``None`` if it finished.
    cached : bool
        Whether the summary was already known (a resumed sweep) rather than computed now.
    """

    point: Point
    summary: dict[str, Any] | None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Whether the point finished."""
        return self.summary is not None

    def record(self) -> dict[str, Any]:
        """The JSON-ready record of a finished point (what a sweep folder stores)."""
        return {
            "format": POINT_FORMAT,
            "key": self.point.key,
            "index": self.point.index,
            "params": self.point.params,
            "summary": self.summary,
        }


class PointFailed(RuntimeError):
    """A point that a reverse stress test or a sensitivity analysis needed did not finish."""

    def __init__(self, outcome: PointOutcome) -> None:
        self.outcome = outcome
        params = ", ".join(f"{k}={v!r}" for k, v in outcome.point.params.items())
        super().__init__(f"point ({params or 'base'}) failed: {outcome.error}")


@dataclass
class _State:
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
    ) -> None:
        self.executor = executor
        self.analytics = analytics
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
        """
        outcomes: dict[int, PointOutcome] = {}
        states: dict[int, _State] = {}
        first_of: dict[str, int] = {}
        for pos, pt in enumerate(points):
            if pt.key in self.known:
                outcomes[pos] = PointOutcome(pt, self.known[pt.key], cached=True)
            elif pt.key not in first_of:  # the same point twice in one call runs once
                first_of[pt.key] = pos
        few = len(first_of) < 2 * self.slots  # too few points to keep every worker busy
        queue: deque[tuple[int, int | None]] = deque()
        for pos in first_of.values():
            pt = points[pos]
            nb = self.n_blocks(pt)
            split = nb > 1 and (few or nb > self.LARGE_POINT_BLOCKS)
            states[pos] = _State(pt, nb, split)
            if split:
                queue.extend((pos, b) for b in range(nb))
            else:
                queue.append((pos, None))
        if self.on_plan is not None and queue:
            self.on_plan(len(queue))
        pending: dict[Future, tuple[int, int | None]] = {}
        generation: dict[Future, int] = {}
        retry: list[tuple[int, int | None]] = []
        broken: list[BaseException] = []

        def fail(pos: int, exc: BaseException | str) -> None:
            st = states[pos]
            if st.failed:
                return
            st.failed = True
            st.blocks.clear()
            for fut, (p, _) in list(pending.items()):
                if p == pos:
                    fut.cancel()
            text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}".rstrip(": ")
            outcomes[pos] = PointOutcome(st.point, None, error=text)
            if self.on_point is not None:
                self.on_point(outcomes[pos])

        def finish(pos: int, summary: dict[str, Any]) -> None:
            st = states[pos]
            st.blocks.clear()
            self.known[st.point.key] = summary
            self.computed += 1
            outcomes[pos] = PointOutcome(st.point, summary)
            if self.on_point is not None:
                self.on_point(outcomes[pos])

        def combine(pos: int) -> None:
            st = states[pos]
            try:
                summary = _summarise(
                    st.point.scenario,
                    (st.blocks[i] for i in range(st.n_blocks)),
                    lambda: st.seconds,
                    self.analytics,
                )
            except Exception as exc:
                fail(pos, exc)
            else:
                finish(pos, summary)

        def submit(pos: int, b: int | None) -> None:
            st = states[pos]
            sim = st.point.scenario.simulation
            if st.prm is None:
                st.prm = compile_params(st.point.scenario)
            if b is None:
                fut = self.executor.submit(
                    _run_point_task, st.prm, st.point.scenario, self.analytics
                )
            else:
                n = min(BLOCK_SIZE, sim.paths - b * BLOCK_SIZE)
                fut = self.executor.submit(_run_block_task, st.prm, b, n, sim.seed)
            pending[fut] = (pos, b)
            generation[fut] = self._generation

        def lost_worker(exc: BaseException, task: tuple[int, int | None]) -> bool:
            """Set a task aside to run again on a fresh pool if a killed worker broke the pool
            (and the pool can be replaced); whether it was set aside."""
            if not (_is_broken_pool(exc) and hasattr(self.executor, "renew")):
                return False
            if self.renewals >= self.MAX_RENEWALS:
                return False
            retry.append(task)
            broken.append(exc)
            return True

        def renew_if_broken() -> None:
            if not broken:
                return
            self.executor.renew()  # type: ignore[attr-defined]
            self.renewals += 1
            self._generation += 1
            broken.clear()
            for task in sorted(retry, reverse=True):
                queue.appendleft(task)
            retry.clear()

        def handle(fut: Future) -> None:
            pos, b = pending.pop(fut)
            generation.pop(fut)
            st = states[pos]
            exc = None if fut.cancelled() else fut.exception()
            if exc is not None and not st.failed and lost_worker(exc, (pos, b)):
                return
            if self.on_task is not None:
                self.on_task(1)
            if st.failed:
                return
            if fut.cancelled():
                fail(pos, "CancelledError: the task was cancelled (worker or cluster lost)")
                return
            if exc is not None:
                fail(pos, exc)
            elif b is None:
                finish(pos, fut.result())
            else:
                out, seconds = fut.result()
                st.blocks[b] = out
                st.seconds += seconds
                if len(st.blocks) == st.n_blocks:
                    combine(pos)

        try:
            while queue or pending:
                while queue and len(pending) < self.window:
                    pos, b = queue.popleft()
                    if states[pos].failed:
                        continue
                    try:
                        submit(pos, b)
                    except Exception as exc:  # e.g. a broken process pool
                        if not lost_worker(exc, (pos, b)):
                            fail(pos, exc)
                        break
                if pending:
                    finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in sorted(finished, key=lambda f: (pending[f][0], pending[f][1] or 0)):
                        handle(fut)
                if broken and self._generation not in generation.values():
                    renew_if_broken()  # once every task of the broken pool is accounted for
        except BaseException:
            for fut in pending:
                fut.cancel()
            # keep what had already finished: points whose last task was done are saved
            for fut in sorted(pending, key=lambda f: (pending[f][0], pending[f][1] or 0)):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    handle(fut)
            raise
        for pt_pos, pt in enumerate(points):  # repeats share the first one's outcome
            if pt_pos not in outcomes:
                first = outcomes[first_of[pt.key]]
                outcomes[pt_pos] = PointOutcome(pt, first.summary, first.error, first.cached)
        return [outcomes[i] for i in range(len(points))]
