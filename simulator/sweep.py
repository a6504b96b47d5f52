"""Parameter sweeps, reverse stress tests and sensitivity on common random numbers (DESIGN 3).

Every point of a sweep is the scenario with some fields changed (:func:`make_points`), run with
the *same* seed: the difference between two points is the effect of the parameters, not noise
(common random numbers). A point's paths are split into the engine's blocks; each block is a task
given to an executor (:func:`open_executor`: processes on this machine, a local Dask cluster or an
existing one). The blocks of a point are combined in block order by
:meth:`SimulationResult.from_blocks`, so the numbers are identical, bit for bit, whichever executor
and however many workers (DESIGN 2.10).

A :class:`PointRunner` runs points, skips those it already has (a resumed sweep) and reports each
finished point through a callback as soon as it is complete, so that the caller can save it. This
module never prints and never touches files: the command line (``cli.py``) prints, and
``storage.py`` writes the sweep's folder.

Sections: field information; designs (grid, ``[sweep]`` table, Sobol); points; executors; the
runner; the tidy table; metrics; reverse stress test (:func:`solve`); sensitivity
(:func:`sensitivity`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import signal
import time
import types
import typing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .engine import (
    BLOCK_SIZE,
    ENGINE_VERSION,
    MEMORY_SHARE,
    block_memory,
    compile_params,
    run_block,
)
from .results import SimulationResult
from .scenario import Scenario, ScenarioError, check_field_path, with_overrides

__all__ = [
    "DEFAULT_METRIC",
    "MAX_POINTS",
    "Design",
    "FieldInfo",
    "LocalPool",
    "Point",
    "PointFailed",
    "PointOutcome",
    "PointRunner",
    "SchedulerError",
    "SensitivityResult",
    "SolveResult",
    "available_metrics",
    "check_metric",
    "check_scheduler",
    "default_bracket",
    "definition_hash",
    "field_info",
    "flatten_summary",
    "grid_design",
    "make_point",
    "make_points",
    "memory_ok",
    "open_executor",
    "params_text",
    "plan_sensitivity",
    "point_key",
    "se_name",
    "sensitivity",
    "sobol_design",
    "solve",
    "sweep_memory",
    "sweep_table",
    "table_design",
]

#: The metric plotted, solved for and ranked by default.
DEFAULT_METRIC = "p_runway_le_12"
#: The largest number of points a design may have.
MAX_POINTS = 100_000
#: Format tag of the record of one finished point.
POINT_FORMAT = "arsim-sweep-point/1"
#: Summary keys that describe the run rather than measure it (not metrics).
_NOT_METRICS = {"seed", "paths", "wall_seconds", "horizon_months", "engine_version", "unit"}


# --------------------------------------------------------------------------------------------
# Field information: what kind of number a field holds and its valid range


@dataclass(frozen=True)
class FieldInfo:
    """What a sweepable field holds.

    Attributes
    ----------
    path : str
        The field path, e.g. ``collections.monthly_rate[2]``.
    kind : {"float", "int", "list", "other"}
        A real number, an integer, a list of real numbers (one per bucket, or a seasonality), or
        anything else (text, dates: not sweepable).
    lo, hi : float
        The valid range of the number (of every element for a list), ``-inf``/``inf`` if open.
    lo_open, hi_open : bool
        Whether ``lo``/``hi`` are excluded (``> lo`` rather than ``>= lo``).
    current : object
        The field's value in the scenario (``None`` if it is not set).
    """

    path: str
    kind: str
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool
    current: Any

    def clip(self, x: float) -> float:
        """``x`` moved into the valid range (just inside an open bound)."""
        if x < self.lo or (self.lo_open and x <= self.lo):
            x = self.lo + (1e-9 * max(1.0, abs(self.lo)) if self.lo_open else 0.0)
        if x > self.hi or (self.hi_open and x >= self.hi):
            x = self.hi - (1e-9 * max(1.0, abs(self.hi)) if self.hi_open else 0.0)
        return x


def _unwrap(ann: Any) -> tuple[Any, list[Any]]:
    """Strip ``Optional`` and ``Annotated`` from a type; collect the constraints met on the way."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            args = typing.get_args(ann)
            ann = args[0]
            for m in args[1:]:
                meta.extend(getattr(m, "metadata", [m]))
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann, meta
            ann = args[0]
        else:
            return ann, meta


def _bounds(meta: list[Any]) -> tuple[float, float, bool, bool]:
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for m in meta:
        if getattr(m, "ge", None) is not None:
            lo, lo_open = float(m.ge), False
        if getattr(m, "gt", None) is not None:
            lo, lo_open = float(m.gt), True
        if getattr(m, "le", None) is not None:
            hi, hi_open = float(m.le), False
        if getattr(m, "lt", None) is not None:
            hi, hi_open = float(m.lt), True
    return lo, hi, lo_open, hi_open


def field_info(scenario: Scenario, path: str) -> FieldInfo:
    """Describe the field ``path`` of ``scenario``: its kind, valid range and current value.

    Parameters
    ----------
    scenario : Scenario
    path : str
        A field path such as ``collections.multiplier`` or ``collections.monthly_rate[2]``.

    Returns
    -------
    FieldInfo

    Raises
    ------
    ScenarioError
        If the path names no field, or its index is out of range.
    """
    parts = check_field_path(path, scenario.source)
    section, name = str(parts[0]), str(parts[1])
    model = type(getattr(scenario, section))
    spec = model.model_fields[name]
    ann, meta = _unwrap(spec.annotation)
    meta = list(spec.metadata) + meta
    current = getattr(getattr(scenario, section), name)
    if len(parts) == 3:
        if typing.get_origin(ann) is not list:
            raise ScenarioError(scenario.source, path, f"{section}.{name} is not a list")
        index = int(parts[2])
        if current is None:
            raise ScenarioError(
                scenario.source, path, f"{section}.{name} is not set, so has no items"
            )
        if not 0 <= index < len(current):
            raise ScenarioError(
                scenario.source, path, f"index out of range: the list has {len(current)} items"
            )
        ann, meta = _unwrap(typing.get_args(ann)[0])
        current = current[index]
    if ann is float:
        kind = "float"
    elif ann is int:
        kind = "int"
    elif typing.get_origin(ann) is list:
        elem, meta = _unwrap(typing.get_args(ann)[0])
        kind = "list" if elem is float else "other"
    else:
        kind = "other"
    lo, hi, lo_open, hi_open = _bounds(meta)
    return FieldInfo(path, kind, lo, hi, lo_open, hi_open, current)


def _numeric_field(scenario: Scenario, path: str, label: str | None = None) -> FieldInfo:
    info = field_info(scenario, path)
    if info.kind not in ("float", "int"):
        hint = (
            f"; sweep one item, e.g. {path}[0]"
            if info.kind == "list"
            else "; only numbers can be swept"
        )
        raise ScenarioError(scenario.source, label or path, "is not a number" + hint)
    return info


# --------------------------------------------------------------------------------------------
# Designs


@dataclass(frozen=True)
class Design:
    """The points of a sweep: a value for every field at every point.

    Attributes
    ----------
    kind : {"grid", "sobol"}
    fields : tuple of str
        The swept field paths, in the order given.
    values : tuple of tuple
        One tuple per point, aligned with ``fields``; a grid is the product of the fields'
        values with the first field varying slowest.
    """

    kind: str
    fields: tuple[str, ...]
    values: tuple[tuple[float | int, ...], ...]

    def __len__(self) -> int:
        return len(self.values)

    def params(self, i: int) -> dict[str, float | int]:
        """The parameters of point ``i`` as ``{field: value}``."""
        return dict(zip(self.fields, self.values[i], strict=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (kind, fields and every point's values)."""
        return {"kind": self.kind, "fields": list(self.fields), "values": self.values}


def _split_param(text: str, source: str, form: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ScenarioError(source, "--param", f"expected {form}, got {text!r}")
    return name.strip(), spec.strip()


def _number(text: str, source: str, where: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ScenarioError(source, where, f"{what}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ScenarioError(source, where, f"{what}: {text!r} is not a finite number")
    return x


def _as_kind(x: float, info: FieldInfo, source: str, where: str) -> float | int:
    if info.kind == "int":
        if not float(x).is_integer():
            raise ScenarioError(source, where, f"is an integer field; {x:g} is not a whole number")
        return int(x)
    return float(x)


_GRID_FORM = "FIELD=start:stop:num or FIELD=a,b,c"


def _grid_values(
    spec: str | Sequence[float], info: FieldInfo, source: str, where: str
) -> list[float | int]:
    """One field's values: ``start:stop:num`` (evenly spaced, ends included), ``a,b,c``, a list."""
    if isinstance(spec, str):
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ScenarioError(
                    source, where, f"expected start:stop:num or a,b,c, got {spec!r}"
                )
            start = _number(parts[0], source, where, "start")
            stop = _number(parts[1], source, where, "stop")
            try:
                num = int(parts[2])
            except ValueError:
                raise ScenarioError(
                    source, where, f"num must be a whole number of points, got {parts[2]!r}"
                ) from None
            if not 1 <= num <= MAX_POINTS:
                raise ScenarioError(source, where, f"num must be 1..{MAX_POINTS}, got {num}")
            # Rounded to 12 significant digits so that 0.5:1.5:11 gives 0.6, not 0.6000000000000001.
            raw = [float(f"{v:.12g}") for v in np.linspace(start, stop, num)]
        else:
            items = [s.strip() for s in spec.split(",")]
            if any(not s for s in items):
                raise ScenarioError(
                    source, where, f"expected start:stop:num or a,b,c, got {spec!r}"
                )
            raw = [_number(s, source, where, "value") for s in items]
    else:
        raw = [float(v) for v in spec]
    return [_as_kind(v, info, source, where) for v in raw]


def _check_unique(fields: list[str], source: str) -> None:
    for i, f in enumerate(fields):
        if f in fields[:i]:
            raise ScenarioError(source, f, "is given more than once")


def _product(kind: str, fields: list[str], values: list[list[float | int]], source: str) -> Design:
    total = math.prod(len(v) for v in values)
    if total > MAX_POINTS:
        raise ScenarioError(
            source, "--param", f"the grid has {total:,} points; at most {MAX_POINTS:,} are allowed"
        )
    return Design(kind, tuple(fields), tuple(itertools.product(*values)))


def grid_design(scenario: Scenario, params: Sequence[str]) -> Design:
    """The product grid of ``--param FIELD=start:stop:num`` / ``FIELD=a,b,c`` options.

    Parameters
    ----------
    scenario : Scenario
        The scenario swept (for field checks and error messages).
    params : sequence of str
        One ``FIELD=SPEC`` per field; several make the product grid (first varies slowest).

    Returns
    -------
    Design

    Raises
    ------
    ScenarioError
        For an unknown or non-numeric field, bad syntax or a repeated field.
    """
    src = scenario.source
    fields, values = [], []
    for text in params:
        name, spec = _split_param(text, src, _GRID_FORM)
        info = _numeric_field(scenario, name)
        fields.append(name)
        values.append(_grid_values(spec, info, src, name))
    _check_unique(fields, src)
    return _product("grid", fields, values, src)


def table_design(scenario: Scenario) -> Design:
    """The grid stored in the scenario's ``[sweep]`` table (used when no ``--param`` is given).

    Raises
    ------
    ScenarioError
        If the scenario has no ``[sweep]`` table, or one of its entries is not sweepable.
    """
    src = scenario.source
    if not scenario.sweep:
        raise ScenarioError(
            src, "--param", f"give --param {_GRID_FORM}, or add a [sweep] table to the scenario"
        )
    fields, values = [], []
    for name, spec in scenario.sweep.items():
        where = f"sweep.{name}"
        try:
            info = _numeric_field(scenario, name)
        except ScenarioError as exc:
            raise ScenarioError(src, where, exc.reason) from None
        fields.append(name)
        values.append(_grid_values(spec, info, src, where))
    return _product("grid", fields, values, src)


def sobol_design(scenario: Scenario, params: Sequence[str], n: int, seed: int) -> Design:
    """A scrambled Sobol sample of ``n`` points over ``--param FIELD=lo:hi`` ranges.

    Parameters
    ----------
    scenario : Scenario
    params : sequence of str
        ``FIELD=lo:hi`` for each dimension.
    n : int
        Number of points (1..:data:`MAX_POINTS`); a power of 2 keeps the balance properties of
        the sequence, other sizes take its first ``n`` points.
    seed : int
        Seed of the scrambling (the run's seed): the same seed gives the same points.

    Returns
    -------
    Design
        Integer fields are rounded to the nearest integer.

    Raises
    ------
    ScenarioError
        For a bad range, an unknown or non-numeric field, or a bad ``n``.
    """
    from scipy.stats import qmc

    src = scenario.source
    if not params:
        raise ScenarioError(src, "--sobol", "needs ranges: --param FIELD=lo:hi (one per field)")
    if not 1 <= n <= MAX_POINTS:
        raise ScenarioError(src, "--sobol", f"must be 1..{MAX_POINTS}, got {n}")
    fields, infos, lows, highs = [], [], [], []
    for text in params:
        name, spec = _split_param(text, src, "FIELD=lo:hi")
        info = _numeric_field(scenario, name)
        parts = spec.split(":")
        if len(parts) != 2:
            raise ScenarioError(src, name, f"with --sobol, expected lo:hi, got {spec!r}")
        lo = _number(parts[0], src, name, "lo")
        hi = _number(parts[1], src, name, "hi")
        if not lo < hi:
            raise ScenarioError(src, name, f"expected lo < hi, got {spec!r}")
        fields.append(name)
        infos.append(info)
        lows.append(lo)
        highs.append(hi)
    _check_unique(fields, src)
    rng = np.random.default_rng(seed)
    try:
        sampler = qmc.Sobol(len(fields), scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        sampler = qmc.Sobol(len(fields), scramble=True, seed=rng)
    unit = sampler.random_base2(max(0, math.ceil(math.log2(n))))[:n]
    sample = qmc.scale(unit, lows, highs)
    values = []
    for row in sample:
        values.append(
            tuple(
                round(float(x)) if info.kind == "int" else float(x)
                for x, info in zip(row, infos, strict=True)
            )
        )
    return Design("sobol", tuple(fields), tuple(values))


# --------------------------------------------------------------------------------------------
# Points


@dataclass(frozen=True)
class Point:
    """One scenario to simulate: the base scenario with ``params`` applied.

    Attributes
    ----------
    index : int
        Position in its design (or order of evaluation).
    params : dict
        ``{field: value}`` applied to the base scenario.
    scenario : Scenario
        The validated scenario of the point (its paths and seed are those of the sweep).
    key : str
        :func:`point_key` of ``scenario``: the same key means the same numbers.
    """

    index: int
    params: dict[str, Any]
    scenario: Scenario
    key: str


def point_key(scenario: Scenario) -> str:
    """A key for a point's results: a hash of the validated scenario (parameters, paths and seed
    included; its ``[sweep]`` table excluded) and the engine version."""
    from .storage import scenario_hash

    sc = scenario.model_copy(update={"sweep": None})
    text = f"{scenario_hash(sc)}:{ENGINE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_point(base: Scenario, params: dict[str, Any], index: int = 0) -> Point:
    """The point of ``base`` with ``params`` applied, validated like a file.

    Raises
    ------
    ScenarioError
        If a value is out of its field's range or breaks a rule (``FILE: FIELD: reason``).
    """
    sc = with_overrides(base, params) if params else base
    return Point(index, dict(params), sc, point_key(sc))


def make_points(base: Scenario, design: Design) -> list[Point]:
    """Every point of ``design`` on ``base``, each validated (so a bad value stops the sweep
    before anything runs).

    Raises
    ------
    ScenarioError
        The first point with a value out of range, as ``FILE: FIELD: reason``.
    """
    return [make_point(base, design.params(i), i) for i in range(len(design))]


def sweep_memory(points: Sequence[Point], slots: int) -> int:
    """Rough peak memory in bytes of running ``points`` with ``slots`` workers in flight."""
    if not points:
        return 0
    paths = max(p.scenario.simulation.paths for p in points)
    per_path = 6 * 8
    block = max(block_memory(p.scenario) for p in points)  # one block computing per slot
    # two points being assembled at once, plus a window of blocks in flight
    return 2 * 2 * paths * per_path + 4 * max(slots, 1) * BLOCK_SIZE * per_path + slots * block


def memory_ok(points: Sequence[Point], slots: int) -> tuple[bool, int, int]:
    """Whether running ``points`` fits the share of memory the engine allows; (ok, need, have)."""
    need, have = sweep_memory(points, slots), engine.machine_memory()
    return need <= MEMORY_SHARE * have, need, have


# --------------------------------------------------------------------------------------------
# Executors


class SchedulerError(ValueError):
    """A ``--scheduler`` that is malformed, unavailable or cannot be reached."""


def check_scheduler(scheduler: str) -> str:
    """Check the syntax of a scheduler: ``local``, ``local-dask`` or ``tcp://HOST:PORT``.

    Raises
    ------
    SchedulerError
    """
    if scheduler in ("local", "local-dask"):
        return scheduler
    if scheduler.startswith("tcp://"):
        host, sep, port = scheduler[len("tcp://") :].rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return scheduler
    raise SchedulerError(f"expected local, local-dask or tcp://HOST:PORT, got {scheduler!r}")


class _SerialExecutor(Executor):
    """Runs each task in this process as it is submitted (``--workers 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is handled by the parent, which stops the sweep."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalPool(Executor):
    """Worker processes on this machine that can be replaced when one of them dies.

    A ``concurrent.futures.ProcessPoolExecutor`` (workers forked from a server that has imported
    the engine once; Ctrl-C is left to the parent) whose :meth:`renew` replaces a pool broken by
    a killed worker, so that a sweep can go on.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = self._new()

    def _new(self) -> Executor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["simulator.sweep"])
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_ignore_sigint
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers (those started so far)."""
        return list((getattr(self._pool, "_processes", None) or {}).keys())

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Submit a task to the current pool."""
        return self._pool.submit(fn, *args, **kwargs)

    def _stop(self) -> None:
        # stop at once: the workers would otherwise finish the tasks already handed to them
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.terminate()

    def renew(self) -> None:
        """Replace the pool (after a worker died) with a fresh one."""
        self._stop()
        self._pool = self._new()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Wait for the tasks and stop the workers, or (``cancel_futures``) stop them at once."""
        if cancel_futures:
            self._stop()
        else:
            self._pool.shutdown(wait=wait)


def _import_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise SchedulerError(
            "needs dask.distributed; install it with: pip install 'arsim[distributed]'"
        ) from None
    return distributed


@contextlib.contextmanager
def open_executor(
    scheduler: str = "local", workers: int | None = None
) -> Iterator[tuple[Executor, int]]:
    """An executor for the tasks of a sweep, closed (and its cluster stopped) on exit.

    Parameters
    ----------
    scheduler : str
        ``local``: processes on this machine (``concurrent.futures.ProcessPoolExecutor``; with
        one worker, this process). ``local-dask``: a Dask ``LocalCluster`` of single-threaded
        worker processes on the loopback interface, started here and closed on exit.
        ``tcp://HOST:PORT``: an existing Dask cluster (its workers must have arsim installed);
        only the client is closed on exit.
    workers : int, optional
        Worker processes for ``local`` and ``local-dask`` (default: the number of CPUs); ignored
        for an existing cluster.

    Yields
    ------
    (Executor, int)
        The executor and how many tasks it runs at once.

    Raises
    ------
    SchedulerError
        If the scheduler is malformed, Dask is not installed, or the cluster cannot be reached.
    """
    check_scheduler(scheduler)
    n = max(1, int(workers or os.cpu_count() or 1))
    if scheduler == "local":
        if n == 1:
            yield _SerialExecutor(), 1
            return
        pool = LocalPool(n)
        ok = False
        try:
            yield pool, n
            ok = True
        finally:
            pool.shutdown(wait=ok, cancel_futures=not ok)
        return
    distributed = _import_dask()
    import logging

    cluster = None
    try:
        if scheduler == "local-dask":
            cluster = distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # no dashboard; the scheduler's HTTP endpoint on a free loopback port
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"cannot reach the Dask scheduler: {exc}") from None
    try:
        slots = sum(client.nthreads().values()) or 1
        yield client.get_executor(pure=False), slots
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _summarise(
    scenario: Scenario, blocks: Iterator[Any], seconds: Callable[[], float], analytics: bool = True
) -> dict:
    """Combine a point's blocks, in block order, into its summary (the scenario left out)."""
    result = SimulationResult.from_blocks(scenario, blocks, engine_version=ENGINE_VERSION)
    result.wall_seconds = seconds()  # compute seconds of the blocks, wherever they ran
    summary = result.summary(analytics=analytics)
    summary.pop("scenario", None)
    return summary


def _block_sizes(paths: int) -> list[int]:
    return [min(BLOCK_SIZE, paths - i) for i in range(0, paths, BLOCK_SIZE)]


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
        for i, n in enumerate(_block_sizes(scenario.simulation.paths)):
            out, seconds = _run_block_task(prm, i, n, seed)
            spent[0] += seconds
            yield out

    return _summarise(scenario, blocks(), lambda: spent[0], analytics)


# --------------------------------------------------------------------------------------------
# The runner


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


# --------------------------------------------------------------------------------------------
# The tidy table


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary with nested objects flattened to dotted keys (``runway_quantiles.p50``,
    ``implied_rates.<label>``) and the scenario left out.

    Parameters
    ----------
    summary : dict

    Returns
    -------
    dict
        Scalar values only (numbers, ``None``, text).
    """
    out: dict[str, Any] = {}

    def walk(name: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{name}.{k}" if name else str(k), v)
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                walk(f"{name}[{i}]", v)
        else:
            out[name] = obj

    walk("", {k: v for k, v in summary.items() if k != "scenario"})
    return out


def se_name(metric: str, names: Any) -> str | None:
    """The name of a flattened metric's standard error among ``names``, if there is one:
    ``<metric>_se`` (``p_runway_le_12_se``) or, for a value keyed by label, ``<key>_se.<label>``
    (``implied_rates_se.0-3m`` for ``implied_rates.0-3m``)."""
    candidates = [f"{metric}_se"]
    head, dot, tail = metric.partition(".")
    if dot:
        candidates.append(f"{head}_se.{tail}")
    for name in candidates:
        if name in names:
            return name
    return None


def sweep_table(outcomes: Sequence[PointOutcome], fields: Sequence[str]) -> pd.DataFrame:
    """The tidy table of a sweep: one row per finished point, in design order.

    Columns: the parameters (named by their field paths), then every summary metric and its SE
    (flattened by :func:`flatten_summary`), then ``point`` (the point's key). Failed points are
    left out (they are reported separately).
    """
    rows = []
    for o in outcomes:
        if not o.ok:
            continue
        assert o.summary is not None
        row: dict[str, Any] = {f: o.point.params.get(f) for f in fields}
        row.update(flatten_summary(o.summary))
        row["point"] = o.point.key
        rows.append(row)
    columns: dict[str, None] = dict.fromkeys(fields)
    for row in rows:
        columns.update(dict.fromkeys(row))
    table = pd.DataFrame.from_records(rows, columns=list(columns))
    for col in table.columns:  # all-null metrics (e.g. p_runway_le_24 when H < 24) as numbers
        if table[col].dtype == object and table[col].isna().all():
            table[col] = table[col].astype(float)
    return table


# --------------------------------------------------------------------------------------------
# Metrics


def available_metrics(scenario: Scenario) -> dict[str, Any]:
    """The metrics a sweep of ``scenario`` reports, with their value on a one-path run.

    Returns
    -------
    dict
        Flattened summary keys (numbers or ``None``) that measure the run, SEs included.
    """
    tiny = with_overrides(
        scenario,
        {"simulation.paths": 1, "simulation.trajectory_paths": 0, "simulation.runoff_paths": 1},
    )
    prm = compile_params(tiny)
    block = run_block(prm, 0, 1, tiny.simulation.seed, 0)
    summary = SimulationResult.from_blocks(tiny, [block], engine_version=ENGINE_VERSION).summary()
    flat = flatten_summary(summary)
    return {
        k: v
        for k, v in flat.items()
        if k not in _NOT_METRICS and (v is None or isinstance(v, int | float))
    }


def check_metric(scenario: Scenario, metric: str, *, option: str = "--metric") -> None:
    """Check that ``metric`` is a metric of ``scenario``'s summary and is defined for it.

    Raises
    ------
    ScenarioError
        For an unknown metric (with "did you mean …") or one undefined for this scenario (e.g.
        ``p_runway_le_24`` with a horizon under 24 months).
    """
    import difflib

    metrics = available_metrics(scenario)
    src = scenario.source
    if metric not in metrics:
        close = difflib.get_close_matches(metric, list(metrics), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        shown = ", ".join(k for k in metrics if not k.endswith("_se"))
        raise ScenarioError(src, option, f"unknown metric {metric!r}{hint}; one of: {shown}")
    if metric.startswith("p_runway_le_") and metrics[metric] is None:
        months = metric.removeprefix("p_runway_le_").removesuffix("_se")
        raise ScenarioError(
            src,
            option,
            f"{metric} is undefined: the horizon ({scenario.simulation.horizon_months} months) "
            f"is shorter than {months} months",
        )


def _metric_and_se(summary: dict[str, Any], metric: str) -> tuple[float | None, float | None]:
    flat = flatten_summary(summary)
    value = flat.get(metric)
    key = se_name(metric, flat)
    se = flat.get(key) if key is not None else None
    return (
        None if value is None else float(value),
        None if se is None else float(se),
    )


# --------------------------------------------------------------------------------------------
# Reverse stress test


@dataclass
class SolveResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    field, metric : str
    target : float
    bracket : (float, float)
        The search range.
    metric_at_bracket : (float, float)
        The metric at both ends of the bracket.
    value : float or None
        Where the metric crosses the target; ``None`` if it does not cross it in the bracket.
    interval : (float or None, float or None) or None
        The parameter values where the metric ± 2 SE crosses the target: the range of values
        consistent with the target given the Monte Carlo error. An end is ``None`` where the
        range reaches beyond the bracket; the whole is ``None`` for a metric without an SE.
    metric_at_value, metric_se_at_value : float or None
        The metric and its SE at ``value``.
    evaluations : list of dict
        Every point evaluated: ``value``, ``metric``, ``metric_se``, ``point`` (its key).
    paths, seed : int
    converged : bool
        Whether the root finder met its tolerance.
    """

    field: str
    metric: str
    target: float
    bracket: tuple[float, float]
    metric_at_bracket: tuple[float | None, float | None]
    value: float | None
    interval: tuple[float | None, float | None] | None
    metric_at_value: float | None
    metric_se_at_value: float | None
    evaluations: list[dict[str, Any]]
    paths: int
    seed: int
    converged: bool = True
    xtol: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the value, its interval, the metric at the value and the evaluations."""
        return {
            "field": self.field,
            "metric": self.metric,
            "target": self.target,
            "value": self.value,
            "interval": None if self.interval is None else list(self.interval),
            "metric_at_value": self.metric_at_value,
            "metric_se_at_value": self.metric_se_at_value,
            "bracket": list(self.bracket),
            "metric_at_bracket": list(self.metric_at_bracket),
            "converged": self.converged,
            "xtol": self.xtol,
            "paths": self.paths,
            "seed": self.seed,
            "evaluations": sorted(self.evaluations, key=lambda e: e["value"]),
        }


def default_bracket(scenario: Scenario, path: str) -> tuple[float, float]:
    """0.25× to 4× the field's current value, clipped to its valid range (DESIGN 3).

    Raises
    ------
    ScenarioError
        If the field is not a real number, or is 0 or unset (then there is no such bracket).
    """
    info = _numeric_field(scenario, path)
    if info.current is None or info.current == 0:
        raise ScenarioError(
            scenario.source,
            "--bracket",
            f"{path} is {info.current}, so 0.25× to 4× its value is no range; give --bracket lo,hi",
        )
    v = float(info.current)
    lo, hi = sorted((0.25 * v, 4.0 * v))
    return info.clip(lo), info.clip(hi)


def solve(
    base: Scenario,
    path: str,
    metric: str,
    target: float,
    runner: PointRunner,
    *,
    bracket: tuple[float, float] | None = None,
    xtol: float | None = None,
    on_bracketed: Callable[[], None] | None = None,
) -> SolveResult:
    """Reverse stress test: the value of a field where a metric crosses a target.

    Every evaluation uses the same seed, so the metric is a deterministic function of the
    field (common random numbers); for a proportion it is a step function with steps of
    ``1/paths``. Brent's method (:func:`scipy.optimize.brentq`) finds the crossing to ``xtol``;
    the interval is where the metric ± 2 SE crosses the target, found the same way.

    Parameters
    ----------
    base : Scenario
        The scenario (its paths and seed are used at every evaluation).
    path : str
        The field to solve for, a real number (e.g. ``collections.multiplier``).
    metric : str
        A summary metric (e.g. ``p_runway_le_12``; see :func:`available_metrics`).
    target : float
        The value the metric should take.
    runner : PointRunner
        Runs the evaluations (and remembers them).
    bracket : (float, float), optional
        The search range (default :func:`default_bracket`).
    xtol : float, optional
        Tolerance on the field (default ``1e-4 × (hi − lo)``).
    on_bracketed : callable, optional
        Called once the metric is known to cross the target in the bracket, before the search
        (the command line creates the output folder then).

    Returns
    -------
    SolveResult
        ``value`` is ``None`` if the metric does not cross the target in the bracket.

    Raises
    ------
    ScenarioError
        For a field that is not a real number, a bad bracket, an unknown metric or one that is
        undefined (null) at an evaluated point.
    PointFailed
        If an evaluation fails.
    """
    from scipy import optimize

    src = base.source
    info = _numeric_field(base, path)
    if info.kind != "float":
        raise ScenarioError(src, path, "solve needs a real-valued field, not an integer")
    check_metric(base, metric)
    if not math.isfinite(target):
        raise ScenarioError(src, "--target", f"must be a finite number, got {target}")
    lo, hi = bracket if bracket is not None else default_bracket(base, path)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ScenarioError(src, "--bracket", f"expected lo < hi, got {lo:g},{hi:g}")
    make_point(base, {path: float(lo)})  # out-of-range ends are user mistakes (exit 2)
    make_point(base, {path: float(hi)})
    tol = xtol if xtol is not None else 1e-4 * (hi - lo)
    evaluations: dict[float, dict[str, Any]] = {}

    def evaluate_many(xs: Sequence[float]) -> list[tuple[float, float | None]]:
        points = [
            make_point(base, {path: float(x)}, len(evaluations) + i) for i, x in enumerate(xs)
        ]
        out = []
        for x, o in zip(xs, runner.run(points), strict=True):
            if not o.ok:
                raise PointFailed(o)
            assert o.summary is not None
            m, se = _metric_and_se(o.summary, metric)
            if m is None:
                raise ScenarioError(
                    src, "--metric", f"{metric} is undefined (null) at {path}={float(x):g}"
                )
            evaluations[float(x)] = {
                "value": float(x),
                "metric": m,
                "metric_se": se,
                "point": o.point.key,
            }
            out.append((m, se))
        return out

    def f(x: float, k: float = 0.0) -> float:
        m, se = evaluate_many([x])[0]
        return m + k * (se or 0.0) - target

    (m_lo, _), (m_hi, _) = evaluate_many([lo, hi])
    paths, seed = base.simulation.paths, base.simulation.seed
    result = SolveResult(
        field=path,
        metric=metric,
        target=float(target),
        bracket=(float(lo), float(hi)),
        metric_at_bracket=(m_lo, m_hi),
        value=None,
        interval=None,
        metric_at_value=None,
        metric_se_at_value=None,
        evaluations=[],
        paths=paths,
        seed=seed,
        xtol=float(tol),
    )
    if (m_lo - target) * (m_hi - target) > 0:
        result.evaluations = list(evaluations.values())
        return result
    if on_bracketed is not None:
        on_bracketed()
    if m_lo == target:
        value, converged = float(lo), True
    elif m_hi == target:
        value, converged = float(hi), True
    else:
        value, r = optimize.brentq(
            f, lo, hi, xtol=tol, rtol=1e-12, maxiter=200, full_output=True, disp=False
        )
        value, converged = float(value), bool(r.converged)
    m_v, se_v = evaluate_many([value])[0]
    result.value, result.converged = value, converged
    result.metric_at_value, result.metric_se_at_value = m_v, se_v
    if se_v is not None:
        result.interval = (
            _interval_end(f, lo, value, tol, optimize),
            _interval_end(f, hi, value, tol, optimize),
        )
    result.evaluations = list(evaluations.values())
    return result


def _interval_end(
    f: Callable[[float, float], float], end: float, value: float, tol: float, optimize: Any
) -> float | None:
    """Where ``metric ± 2 SE`` crosses the target between ``value`` and a bracket end."""
    for k in (-2.0, 2.0):
        g_end, g_val = f(end, k), f(value, k)
        if g_end == 0.0:
            return float(end)
        if g_end * g_val < 0:
            a, b = sorted((end, value))
            x = optimize.brentq(
                lambda x, k=k: f(x, k), a, b, xtol=tol, rtol=1e-12, maxiter=200, disp=False
            )
            return float(x)
    return None


# --------------------------------------------------------------------------------------------
# Sensitivity


@dataclass
class SensitivityResult:
    """The outcome of :func:`sensitivity`.

    Attributes
    ----------
    metric : str
    delta : float
    base : PointOutcome
        The unmoved scenario.
    moves : list of dict
        One per field: ``field``, ``base`` / ``low`` / ``high`` settings (``low``/``high`` are
        ``None`` where the field cannot move that way, at a bound), and the outcomes.
    outcomes : list of PointOutcome
        Every point run (base first).
    """

    metric: str
    delta: float
    base: PointOutcome
    moves: list[dict[str, Any]]
    outcomes: list[PointOutcome]

    @property
    def failed(self) -> list[PointOutcome]:
        """Points that did not finish."""
        return [o for o in self.outcomes if not o.ok]

    def table(self, metric: str | None = None) -> pd.DataFrame:
        """The tornado table for ``metric`` (default the result's), largest effect first.

        Columns: ``field``, ``base_value``, ``low_value``, ``high_value`` (numbers; for a list
        field the factor applied to every item), ``low_setting`` / ``high_setting`` (the values
        as text), ``metric``, ``metric_base``, ``metric_low``, ``metric_high`` with their SEs,
        ``change_low``, ``change_high`` (metric minus its base value) and ``swing`` (the larger
        absolute change).
        """
        metric = metric or self.metric
        base_m, base_se = (
            _metric_and_se(self.base.summary, metric) if self.base.ok else (None, None)
        )
        rows = []
        for mv in self.moves:
            row: dict[str, Any] = {
                "field": mv["field"],
                "base_value": mv["base_value"],
                "low_value": mv["low_value"],
                "high_value": mv["high_value"],
                "low_setting": _setting_text(mv["low"]),
                "high_setting": _setting_text(mv["high"]),
                "metric": metric,
                "metric_base": base_m,
                "metric_base_se": base_se,
            }
            changes = []
            for side in ("low", "high"):
                o = mv[f"{side}_outcome"]
                m, se = (
                    _metric_and_se(o.summary, metric) if o is not None and o.ok else (None, None)
                )
                row[f"metric_{side}"], row[f"metric_{side}_se"] = m, se
                change = None if m is None or base_m is None else m - base_m
                row[f"change_{side}"] = change
                if change is not None:
                    changes.append(abs(change))
            row["swing"] = max(changes) if changes else None
            rows.append(row)
        table = pd.DataFrame.from_records(rows)
        if table.empty:
            return table
        table["_order"] = table["swing"].fillna(-1.0)
        table = table.sort_values("_order", ascending=False, kind="stable").drop(columns="_order")
        numeric = [c for c in table.columns if c not in ("field", "metric") and "setting" not in c]
        table[numeric] = table[numeric].astype(float)
        return table.reset_index(drop=True)


def _setting_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.6g}" for v in value) + "]"
    return f"{value:.10g}"


def _moves(info: FieldInfo, delta: float, src: str) -> tuple[Any, Any, float, float, float]:
    """Low and high settings of a field (``None`` where it cannot move), and the numbers shown."""
    v = info.current
    if v is None:
        raise ScenarioError(src, info.path, "is not set, so there is no value to move from")
    if info.kind == "list":
        values = [float(x) for x in v]
        relative = any(x != 0 for x in values)

        def move(sign: float) -> list[float]:
            if relative:  # every item × (1 ± delta); zero items stay zero
                return [info.clip(x * (1 + sign * delta)) for x in values]
            return [info.clip(x + sign * delta) for x in values]

        low, high = move(-1.0), move(+1.0)
        factors = (1 - delta, 1 + delta) if relative else (-delta, delta)
        return (
            None if low == values else low,
            None if high == values else high,
            1.0 if relative else 0.0,
            factors[0],
            factors[1],
        )
    x = float(v)
    if x != 0:
        a, b = x * (1 - delta), x * (1 + delta)
    else:
        a, b = -delta, delta
    a, b = sorted((a, b))
    if info.kind == "int":  # at least one step, within the integer range of the field
        lo_i = (
            -math.inf
            if info.lo == -math.inf
            else math.floor(info.lo) + 1
            if info.lo_open
            else math.ceil(info.lo)
        )
        hi_i = (
            math.inf
            if info.hi == math.inf
            else math.ceil(info.hi) - 1
            if info.hi_open
            else math.floor(info.hi)
        )
        a = int(max(min(round(a), int(x) - 1), lo_i))
        b = int(min(max(round(b), int(x) + 1), hi_i))
    else:
        a, b = info.clip(a), info.clip(b)
    low = None if a == x else a
    high = None if b == x else b
    return low, high, x, (math.nan if low is None else low), (math.nan if high is None else high)


def sensitivity(
    base: Scenario,
    paths: Sequence[str],
    runner: PointRunner,
    *,
    delta: float = 0.1,
    metric: str = DEFAULT_METRIC,
) -> SensitivityResult:
    """One-at-a-time sensitivity on common random numbers (DESIGN 3).

    Each field is moved down and up by a relative ``delta`` (an absolute ``delta`` for a field
    that is 0), clipped to its valid range, with the others at their base values; every point
    uses the same seed. A list field (e.g. ``defaults.monthly_rate``) moves every item by the
    relative ``delta`` (items that are 0 stay 0, unless all are).

    Parameters
    ----------
    base : Scenario
    paths : sequence of str
        The fields to move.
    runner : PointRunner
    delta : float, optional
        The relative move (0.1 = ±10 %), > 0.
    metric : str, optional
        The metric the table and chart rank by (every metric is computed and kept).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ScenarioError
        For an unknown or non-numeric field, a bad delta, an unknown metric, or a move that
        breaks a rule of the scenario.
    """
    points, moves = plan_sensitivity(base, paths, delta=delta, metric=metric)
    outcomes = runner.run(points)
    by_key = {o.point.key: o for o in outcomes}
    for mv in moves:
        for side in ("low", "high"):
            pt = mv.pop(f"{side}_point")
            mv[f"{side}_outcome"] = None if pt is None else by_key[pt.key]
    return SensitivityResult(metric, float(delta), outcomes[0], moves, outcomes)


def plan_sensitivity(
    base: Scenario, paths: Sequence[str], *, delta: float = 0.1, metric: str = DEFAULT_METRIC
) -> tuple[list[Point], list[dict[str, Any]]]:
    """The points of :func:`sensitivity` (base first), validated, and each field's moves.

    Raises
    ------
    ScenarioError
        As :func:`sensitivity`, before anything runs.
    """
    src = base.source
    if not (math.isfinite(delta) and delta > 0):
        raise ScenarioError(src, "--delta", f"must be a number > 0, got {delta}")
    if not paths:
        raise ScenarioError(src, "--params", "give at least one field, e.g. collections.multiplier")
    _check_unique(list(paths), src)
    check_metric(base, metric)
    base_pt = make_point(base, {}, 0)
    points = [base_pt]
    moves = []
    for path in paths:
        info = field_info(base, path)
        if info.kind not in ("float", "int", "list"):
            raise ScenarioError(src, path, "is not a number or a list of numbers")
        low, high, shown, low_v, high_v = _moves(info, delta, src)
        mv: dict[str, Any] = {
            "field": path,
            "base": info.current,
            "low": low,
            "high": high,
            "base_value": shown,
            "low_value": low_v,
            "high_value": high_v,
        }
        for side, setting in (("low", low), ("high", high)):
            if setting is None:
                mv[f"{side}_point"] = None
                continue
            pt = make_point(base, {path: setting}, len(points))
            points.append(pt)
            mv[f"{side}_point"] = pt
        moves.append(mv)
    return points, moves


def params_text(params: dict[str, Any]) -> str:
    """``field=value, …`` for messages."""
    return ", ".join(f"{k}={_setting_text(v)}" for k, v in params.items()) or "base scenario"


def definition_hash(definition: dict[str, Any]) -> str:
    """A short hash of a JSON-ready definition (the identity of a sweep's command)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
