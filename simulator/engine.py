"""The Monte Carlo engine of the standard model (DESIGN 2.1–2.6, 2.9, 2.10).

Paths are processed in blocks of :data:`BLOCK_SIZE`. Block ``i`` draws its random numbers from
``numpy.random.default_rng([i, seed])`` in a fixed order (``Z_0``, then per month ``eps_t`` and
``xi_t``), always for a full block, so a path's numbers depend only on the seed and its index.
The kernel (:func:`run_block`) is deterministic given those draws; blocks run on threads and are
combined in block order, so results do not depend on the number of workers.

The kernel is compiled (:mod:`simulator._kernel`, numba, releasing the GIL): per chunk of
:data:`MONTHS_PER_CHUNK` months numpy draws the random numbers in one call; the compiled kernel
then runs the factor, the hazards, revenue, ageing, flows, cash and monthly moments one
cache-sized tile of paths at a time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from ._kernel import WRITE_OFF_CODE, run_chunk
from ._util import thread_map
from .aging import AgingGrid
from .params import (
    GROSS_ROW,
    ROW_ALLOWANCE,
    ROW_CASH,
    ROW_GROSS,
    ModelParams,
    compile_params,
    n_monthly_values,
)
from .resources import check_memory
from .results import SimulationResult
from .scenario import Scenario, ScenarioError, book_segments, with_overrides

__all__ = [
    "BLOCK_SIZE",
    "ENGINE_VERSION",
    "WRITE_OFF_CODE",
    "BlockOutput",
    "block_memory",
    "check_replicate_paths",
    "estimate_memory",
    "run_block",
    "simulate_paths",
]

#: 1.1: compiled kernel; 1.2: its own ndtr; 1.3: monthly sums in a fixed order. Each moved the
#: numbers by float rounding only.
ENGINE_VERSION = "1.3"
#: Paths per block. A constant of the engine: changing it changes the numbers (DESIGN 2.10).
BLOCK_SIZE = 4096
#: Months whose random numbers are drawn at once (bounds the memory).
MONTHS_PER_CHUNK = 12
#: Streams of the extensions (DESIGN 2.10): a segment's factor V, a debtor's uniform U.
SEGMENT_STREAM, DEBTOR_STREAM = 3, 4
_NO_TRACE3, _NO_TRACE2 = np.empty((0, 0, 0)), np.empty((0, 0))
_NO_TRACE = (_NO_TRACE3,) * 6 + (_NO_TRACE2,) + (_NO_TRACE3,) * 2 + (_NO_TRACE2, _NO_TRACE3)


@dataclass
class BlockOutput:
    """What one block returns: per-path outputs, monthly moments and the trajectory sample."""

    n: int
    per_path: dict[str, np.ndarray]
    mean: np.ndarray  # (H+1, V) monthly means over the block's paths
    m2: np.ndarray  # (H+1, V) sums of squared deviations
    sample: np.ndarray  # (V, H+1, n_sample), possibly a view of the run's whole sample
    trace: dict[str, np.ndarray] | None = field(default=None)


def run_block(
    prm: ModelParams,
    block_index: int,
    n: int,
    seed: int,
    n_sample: int = 0,
    trace: bool = False,
    sample_out: np.ndarray | None = None,
) -> BlockOutput:
    """Simulate the first ``n`` paths of block ``block_index``.

    Parameters
    ----------
    prm : ModelParams
        Compiled scenario (:func:`compile_params`).
    block_index : int
        Which block; selects the random stream ``default_rng([block_index, seed])``.
    n : int
        Paths to simulate, ``1 <= n <= BLOCK_SIZE``.
    seed : int
        Run seed.
    n_sample : int, optional
        Keep the monthly values of the first ``n_sample`` paths (the trajectory sample).
    trace : bool, optional
        Also return every month's hazards and flows for every path (for tests of the identities
        of DESIGN 2.7; also the factors ``z`` (H, n), ``y`` (S, H, n); costs paths × months × K).
    sample_out : ndarray, optional
        The run's whole trajectory sample, ``(V, H+1, N)``, C-contiguous: the block writes its
        ``n_sample`` paths into columns ``block_index * BLOCK_SIZE`` onwards, and the output's
        ``sample`` is a view of them (no copy for threads sharing one sample).

    Returns
    -------
    BlockOutput
    """
    H, K = prm.horizon, prm.n_buckets
    segs, dbt = prm.segments, prm.debtors
    n_seg, J = len(segs), len(dbt)
    nv = n_monthly_values(K, prm.n_segment_rows)
    rng = np.random.default_rng([block_index, seed])
    # always full blocks of draws, so a path's numbers do not depend on the block's size; a
    # chunk of months in one call gives the same stream as one call per month (DESIGN 2.10)
    z = rng.standard_normal(BLOCK_SIZE)[:n].copy()
    # the extensions' streams never touch the main one (2.10): a segment's V, a debtor's U
    seg_rngs = [
        _stream(seed, block_index, SEGMENT_STREAM, seg.stream) if seg.explicit else None
        for seg in segs
    ]
    seg_v = np.zeros((n_seg, n))
    for s, g in enumerate(seg_rngs):
        if g is not None:
            seg_v[s] = g.standard_normal(BLOCK_SIZE)[:n]
    d_u = np.empty((J, n))
    for jd, key in enumerate(dbt.streams):
        d_u[jd] = 1.0 - _stream(seed, block_index, DEBTOR_STREAM, key).random(BLOCK_SIZE)[:n]

    k = _KernelBook(prm)
    reps = prm.replicates
    if reps is None:
        rep = np.empty(0, dtype=np.int64)
    else:  # path n of the run takes replicate perm[n mod R] (DESIGN 2.14)
        rep = reps.perm[(block_index * BLOCK_SIZE + np.arange(n)) % reps.n]
    state = np.empty((k.age_off[-1], n))
    G = np.empty((n_seg * K, n))
    for s, seg in enumerate(segs):
        state[k.age_off[s] : k.age_off[s + 1]] = seg.opening_by_age[:, None]
        G[s * K : (s + 1) * K] = seg.opening_gross[:, None]
    allowance0 = k.allowance0
    allowance = np.full(n, allowance0)
    cash = np.full(n, prm.cash_opening)
    runway = np.full(n, H + 1, dtype=np.int16)
    runway[cash < prm.cash_floor] = 0
    min_cash = cash.copy()
    tot_coll = np.zeros(n)
    tot_loss = np.zeros(n)
    seg_rows = prm.n_segment_rows
    seg_coll = np.zeros((seg_rows, n))
    seg_loss = np.zeros((seg_rows, n))
    pool_loss = np.zeros(n if J else 0)
    d_surv = np.ones((J, n))
    d_event = np.zeros((J, n))  # each debtor's event code per path (run_chunk)

    # month 0: every path holds the opening book
    v0 = k.month0(nv)
    shift = np.empty((H + 1, nv))
    shift[0] = v0
    s1 = np.zeros((H + 1, nv))
    s2 = np.zeros((H + 1, nv))
    if sample_out is None:
        sample, at = np.empty((nv, H + 1, n_sample)), 0
    else:
        sample, at = sample_out, block_index * BLOCK_SIZE
        # the compiled kernel does not check bounds: check here what it will write
        if (
            sample.dtype != np.float64
            or not sample.flags.c_contiguous
            or sample.shape[:2] != (nv, H + 1)
            or (n_sample > 0 and sample.shape[2] < at + n_sample)
        ):
            raise ValueError(
                f"sample_out must be C-contiguous float64 of shape ({nv}, {H + 1}, >= "
                f"{at + n_sample}); got {sample.dtype} {sample.shape}"
            )
    sample[:, 0, at : at + n_sample] = v0[:, None]
    tr, tr_args = _trace_arrays(trace, n_seg, K, J, H, n)

    seg_noise = np.zeros((n_seg, MONTHS_PER_CHUNK, BLOCK_SIZE))
    for t0 in range(0, H, MONTHS_PER_CHUNK):
        m = min(MONTHS_PER_CHUNK, H - t0)
        noise = rng.standard_normal((m, 2, BLOCK_SIZE))  # eps_t, xi_t for each month
        for s, g in enumerate(seg_rngs):
            if g is not None:
                seg_noise[s, :m] = g.standard_normal((m, BLOCK_SIZE))
        run_chunk(
            t0, m, z, prm.phi, noise, seg_v, seg_noise, k.seg_w, k.rho_zero, k.p_def,
            k.threshold, k.loading, k.alpha, k.c_rate, k.beta, k.coll_scale, k.billing,
            k.share, prm.credit_billings, k.age_off, k.n_age, k.lo_b, k.hi_b, k.write_off, k.r,
            rep, *k.replicate_args, prm.revenue_base, prm.volatility, prm.kappa, k.cash_rate,
            prm.fixed_outflow, prm.other_inflow, prm.cash_floor, H, dbt.segment, dbt.balance,
            dbt.own, dbt.default, k.d_thr, k.d_load, k.d_rho0, dbt.alpha, dbt.pay, dbt.beta,
            dbt.bucket, k.d_rate_end, k.d_wo, d_u, d_surv, d_event, state, G,
            allowance, cash, runway, min_cash, tot_coll, tot_loss, seg_coll, seg_loss,
            pool_loss, shift, s1, s2, sample, at, n_sample, trace, *tr_args,
        )  # fmt: skip

    mean = shift + s1 / n
    m2 = np.maximum(s2 - s1 * s1 / n, 0.0)
    m2[0] = 0.0
    per_path = {
        "runway": runway,
        "min_cash": min_cash,
        "cash_end": cash,
        "collections": tot_coll,
        "credit_loss": tot_loss,
        "charge": allowance - allowance0 + tot_loss,
    }
    for s in range(seg_rows):
        per_path[f"collections_{segs[s].name}"] = seg_coll[s]
        per_path[f"credit_loss_{segs[s].name}"] = seg_loss[s]
    if J:
        per_path["credit_loss_pool"] = pool_loss
    for jd, name in enumerate(dbt.names):  # 0 open; t paid, -t defaulted in month t
        per_path[f"debtor_{name}"] = d_event[jd].astype(np.int16)
    if reps is not None:
        per_path["replicate"] = rep.astype(np.int32)
    part = sample[:, :, at : at + n_sample]
    return BlockOutput(
        n=n,
        per_path=per_path,
        mean=mean,
        m2=m2,
        sample=part,
        trace=tr,
    )


def _stream(seed: int, block: int, stream: int, key: int) -> np.random.Generator:
    """An extension's random numbers for one block (DESIGN 2.10)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(block, stream, key))
    return np.random.Generator(np.random.PCG64(sequence))


class _KernelBook:
    """The book's segments and debtors as the arrays :func:`run_chunk` takes (one row each)."""

    def __init__(self, prm: ModelParams) -> None:
        segs, dbt, K = prm.segments, prm.debtors, prm.n_buckets
        self.seg_w = np.array([seg.factor_weight if seg.explicit else -1.0 for seg in segs])
        self.rho_zero = np.array([seg.rho == 0.0 for seg in segs])
        self.p_def = np.stack([seg.default_rate for seg in segs])
        with np.errstate(divide="ignore"):
            self.threshold = np.stack(
                [special.ndtri(seg.default_rate) / math.sqrt(1.0 - seg.rho) for seg in segs]
            )
        self.loading = np.array([math.sqrt(seg.rho / (1.0 - seg.rho)) for seg in segs])
        self.alpha = np.stack([seg.alpha for seg in segs])
        self.c_rate = np.stack([seg.collection_rate for seg in segs])
        self.beta = np.array([seg.beta for seg in segs])
        self.coll_scale = np.stack([seg.collection_scale for seg in segs])
        self.billing = np.array([prm.credit_share * seg.billing_share for seg in segs])
        self.share = np.array([seg.billing_share for seg in segs])
        self.n_age = np.array([seg.n_ages for seg in segs], dtype=np.int64)
        self.age_off = np.concatenate([[0], np.cumsum(self.n_age)]).astype(np.int64)
        self.lo_b = np.array([[lo for lo, _ in seg.slices] for seg in segs], dtype=np.int64)
        self.hi_b = np.array([[hi for _, hi in seg.slices] for seg in segs], dtype=np.int64)
        self.write_off = np.array([seg.write_off for seg in segs])
        self.r = np.stack([seg.provision_rates for seg in segs])
        self.cash_rate = 1.0 - prm.credit_share - prm.variable_cost_ratio
        self.cash0 = prm.cash_opening
        with np.errstate(divide="ignore"):
            self.d_thr = special.ndtri(dbt.default) / np.sqrt(1.0 - dbt.rho)[:, None]
        self.d_load = np.sqrt(dbt.rho / (1.0 - dbt.rho))
        self.d_rho0 = dbt.rho == 0.0
        self.d_rate_end = np.ascontiguousarray(dbt.rate[:, 1:])
        self.d_wo = np.zeros((len(dbt), prm.horizon))
        for jd, month in enumerate(dbt.write_off_month):
            if 1 <= month <= prm.horizon:
                self.d_wo[jd, month - 1] = 1.0
        self.segs, self.dbt, self.K = segs, dbt, K
        reps = prm.replicates
        season = np.stack([seg.season for seg in segs])
        if reps is None:
            empty3, empty2 = np.empty((0, len(segs), K)), np.empty((0, len(segs)))
            self.replicate_args = (
                empty3, empty3, empty2, np.empty((0, len(segs)), dtype=bool), empty3, empty3,
                empty2, empty2, season, 0, 0,
            )  # fmt: skip
        else:
            self.replicate_args = (
                reps.default_rate, reps.threshold, reps.loading, reps.rho_zero, reps.alpha,
                reps.collection_rate, reps.beta, reps.multiplier, season, reps.rho_mode,
                reps.beta_mode,
            )  # fmt: skip
        self.allowance0 = float(
            sum(float(seg.provision_rates @ seg.opening_gross) for seg in segs)
            + sum(dbt.rate[:, 0] * dbt.balance)
        )

    def month0(self, nv: int) -> np.ndarray:
        """The monthly values of month 0: the opening book, on every path."""
        K, dbt = self.K, self.dbt
        gross_b = sum(seg.opening_gross for seg in self.segs)
        for jd in range(len(dbt)):
            gross_b[dbt.bucket[jd, 0]] += dbt.balance[jd]
        v0 = np.zeros(nv)
        v0[ROW_CASH] = self.cash0
        v0[ROW_GROSS] = gross_b.sum()
        v0[ROW_ALLOWANCE] = self.allowance0
        v0[GROSS_ROW : GROSS_ROW + K] = gross_b
        for s in range(nv - GROSS_ROW - K):
            v0[GROSS_ROW + K + s] = self.segs[s].opening_gross.sum() + sum(
                dbt.balance[dbt.segment == s]
            )
        return v0


def _trace_arrays(trace: bool, n_seg: int, K: int, J: int, H: int, n: int):
    """The trace dict (or ``None``) and the arrays the kernel writes it into."""
    if not trace:
        return None, _NO_TRACE
    arrays = {
        "h": np.empty((n_seg * K, H, n)),
        "d": np.empty((n_seg * K, H, n)),
        "coll_b": np.empty((n_seg * K, H, n)),
        "def_b": np.empty((n_seg * K, H, n)),
        "migration": np.empty((n_seg * (K - 1), H, n)),
        "write_offs": np.empty((n_seg, H, n)),
        "s_min": np.empty((H, n)),
        "debtor_events": np.empty((J, H, n)),
        "debtor_open": np.empty((J, H, n)),
        "z": np.empty((H, n)),
        "y": np.empty((n_seg, H, n)),
    }
    args = tuple(arrays.values())
    shaped = {
        "h": arrays["h"].reshape(n_seg, K, H, n),
        "d": arrays["d"].reshape(n_seg, K, H, n),
        "coll_b": arrays["coll_b"].reshape(n_seg, K, H, n),
        "def_b": arrays["def_b"].reshape(n_seg, K, H, n),
        "migration": arrays["migration"].reshape(n_seg, K - 1, H, n),
        "write_offs": arrays["write_offs"],
    }
    if n_seg == 1:  # a book of one segment: its arrays without the segment axis
        shaped = {key: value[0] for key, value in shaped.items()}
    tr = {**shaped, "s_min": arrays["s_min"], "z": arrays["z"], "y": arrays["y"]}
    if J:
        tr.update(debtor_events=arrays["debtor_events"], debtor_open=arrays["debtor_open"])
    return tr, args


def _book_shape(scenario: Scenario) -> tuple[list[int], int, int]:
    """Each segment's number of ages A (its own W), the segment rows of the outputs, and J."""
    edges = scenario.buckets.edges_months
    ages = [AgingGrid(edges, seg.write_off_after_months).n_ages for seg in book_segments(scenario)]
    return ages, len(scenario.segments or ()), len(scenario.debtors or ())


def block_memory(scenario: Scenario) -> int:
    """Rough memory in bytes of one block in flight (:func:`run_block`, no sample, no trace):
    per path each segment's state (its own A), gross, factor, draws and totals, and each
    debtor's uniform, survival, open flag and event (DESIGN 3.2: S segments with their A, J
    debtors)."""
    ages, seg_rows, n_debtors = _book_shape(scenario)
    k, n_seg, horizon = scenario.n_buckets, len(ages), scenario.simulation.horizon_months
    nv = n_monthly_values(k, seg_rows)
    rows = 2 * sum(ages) + 2 * MONTHS_PER_CHUNK + 6 * k * n_seg + 2 * nv + 20
    rows += n_seg * (MONTHS_PER_CHUNK + 4) if seg_rows else 0  # V, its draws, coll., loss
    rows += 4 * n_debtors + 2 if n_debtors else 0  # U, survival, open, event; a draw, pool loss
    per_block = 3 * (horizon + 1) * nv * 8 + n_debtors * (2 * horizon + 3 * k + 8) * 8
    per_block += 2 * BLOCK_SIZE * n_debtors  # the events as int16 columns
    return BLOCK_SIZE * 8 * rows + per_block


#: Bytes per path of a run at its peak: the per-path arrays, then the paths table and its
#: Parquet copy while ``paths.parquet`` is written (measured: about 96).
BYTES_PER_PATH = 128
#: Run-off blocks of the summary's analytics (implied rates, ECL scenarios), per thread.
_RUNOFF_BLOCK_BYTES = 2048 * 8 * (4 * 601 + 2 * 4)


def estimate_memory(scenario: Scenario, workers: int, *, executor: bool = False) -> int:
    """Rough peak memory in bytes of :func:`simulate` and the summary for this scenario: the
    per-path outputs and the paths table (two columns more per segment, one for debtors), the
    trajectory sample (with a margin for its quantiles; twice over with an ``executor``), the
    blocks in flight and the run-off blocks of the largest segment's ages."""
    sim = scenario.simulation
    ages, seg_rows, n_debtors = _book_shape(scenario)
    nv = n_monthly_values(scenario.n_buckets, seg_rows)
    # 24 bytes a path for each further column and its copies (6 for a debtor's int16 events)
    extra = 24 * (2 * seg_rows + (1 if n_debtors else 0)) + 6 * n_debtors
    per_path = sim.paths * (BYTES_PER_PATH + extra)
    sample = min(sim.paths, sim.trajectory_paths) * (sim.horizon_months + 1) * nv * 8
    sample = sample * 5 // 2 if executor else sample * 3 // 2
    runoff = _RUNOFF_BLOCK_BYTES + 2048 * 8 * 3 * max(ages)
    return per_path + sample + workers * (block_memory(scenario) + runoff)


def check_replicate_paths(scenario: Scenario, replicates: list[dict[str, float]] | None) -> None:
    """Refuse a run with fewer than two paths a parameter replicate (DESIGN 2.14).

    Raises
    ------
    ScenarioError
        ``FILE: simulation.paths: R parameter replicates need at least 2R paths, got N``.
    """
    paths, r = scenario.simulation.paths, len(replicates or ())
    if r and paths < 2 * r:
        why = f"{r:,} parameter replicates need at least {2 * r:,} paths, got {paths:,}"
        raise ScenarioError(scenario.source, "simulation.paths", why)


def simulate_paths(
    scenario: Scenario,
    *,
    seed: int | None = None,
    paths: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    analytics: Callable[[Scenario], Any] | None = None,
    replicates: list[dict[str, float]] | None = None,
) -> SimulationResult:
    """Run the Monte Carlo simulation of a scenario (the engine alone; users call
    :func:`simulator.simulate`, which also hands the result its analytics).

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (:func:`simulator.load_scenario`).
    seed : int, optional
        Overrides ``simulation.seed``.
    paths : int, optional
        Overrides ``simulation.paths``.
    workers : int, optional
        Threads for the blocks (default: the number of CPUs). Ignored if ``executor`` is given.
    executor : concurrent.futures.Executor, optional
        Where blocks run. Results are identical whatever the executor (DESIGN 2.10).
    progress : callable, optional
        Called with the number of paths of each finished block.
    analytics : callable, optional
        Called with the scenario that ran when the result's summary first needs the implied
        rates and ECL (:meth:`SimulationResult.analytics`).
    replicates : list of dict, optional
        Parameter replicates (DESIGN 2.14), checked (:func:`simulator.scenario.replicate_rows`):
        path ``n`` runs with row ``perm[n mod R]``. Needs at least 2R paths.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ResourceError
        If the run would need more memory than this machine has.
    """
    overrides = {}
    if seed is not None:
        overrides["simulation.seed"] = seed
    if paths is not None:
        overrides["simulation.paths"] = paths
    if overrides:
        scenario = with_overrides(scenario, overrides)
    sim = scenario.simulation
    n_workers = workers or os.cpu_count() or 1
    n_blocks = math.ceil(sim.paths / BLOCK_SIZE)
    # threads beyond the blocks idle
    check_memory(
        estimate_memory(scenario, min(n_workers, n_blocks), executor=executor is not None),
        "this run",
        "use fewer paths, trajectory paths or months",
    )
    check_replicate_paths(scenario, replicates)
    start = time.perf_counter()
    prm = compile_params(scenario, replicates)
    n_sample = min(sim.paths, sim.trajectory_paths)

    # in this process the blocks write straight into one sample; elsewhere they return theirs
    nv = n_monthly_values(scenario.n_buckets, prm.n_segment_rows)
    sample = None if executor is not None else np.empty((nv, sim.horizon_months + 1, n_sample))

    def task(i: int) -> BlockOutput:
        n = min(BLOCK_SIZE, sim.paths - i * BLOCK_SIZE)
        ns = int(np.clip(n_sample - i * BLOCK_SIZE, 0, n))
        out = run_block(prm, i, n, sim.seed, ns, sample_out=sample)
        if progress is not None:
            progress(n)
        return out

    def combine(blocks: Iterable[BlockOutput]) -> SimulationResult:
        return SimulationResult.from_blocks(
            scenario, blocks, engine_version=ENGINE_VERSION, sample=sample, analytics=analytics
        )

    if executor is not None:
        result = combine(executor.map(task, range(n_blocks)))
    else:
        result = combine(thread_map(task, n_blocks, n_workers))
    result.wall_seconds = time.perf_counter() - start
    return result
