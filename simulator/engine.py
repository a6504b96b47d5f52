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

from ._kernel import run_chunk
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
from .scenario import Scenario, with_overrides

__all__ = [
    "BLOCK_SIZE",
    "ENGINE_VERSION",
    "BlockOutput",
    "block_memory",
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
_NO_TRACE3 = np.empty((0, 0, 0))
_NO_TRACE2 = np.empty((0, 0))


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
        of DESIGN 2.7; costs memory proportional to paths × months × buckets).
    sample_out : ndarray, optional
        The run's whole trajectory sample, ``(V, H+1, N)``, C-contiguous: the block writes its
        ``n_sample`` paths into columns ``block_index * BLOCK_SIZE`` onwards, and the output's
        ``sample`` is a view of them (no copy for threads sharing one sample).

    Returns
    -------
    BlockOutput
    """
    H, A, K = prm.horizon, prm.n_ages, prm.n_buckets
    nv = n_monthly_values(K)
    rng = np.random.default_rng([block_index, seed])
    # always full blocks of draws, so a path's numbers do not depend on the block's size; a
    # chunk of months in one call gives the same stream as one call per month (DESIGN 2.10)
    z = rng.standard_normal(BLOCK_SIZE)[:n].copy()

    S = np.empty((A, n))
    S[:] = prm.opening_by_age[:, None]
    G = np.empty((K, n))
    G[:] = prm.opening_gross[:, None]
    r = prm.provision_rates
    allowance0 = float(r @ prm.opening_gross)
    allowance = np.full(n, allowance0)
    cash = np.full(n, prm.cash_opening)
    runway = np.full(n, H + 1, dtype=np.int16)
    runway[cash < prm.cash_floor] = 0
    min_cash = cash.copy()
    tot_coll = np.zeros(n)
    tot_loss = np.zeros(n)

    # month 0: every path holds the opening book
    v0 = np.zeros(nv)
    v0[ROW_CASH] = prm.cash_opening
    v0[ROW_GROSS] = prm.opening_gross.sum()
    v0[ROW_ALLOWANCE] = allowance0
    v0[GROSS_ROW:] = prm.opening_gross
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

    if trace:
        tr = {
            "h": np.empty((K, H, n)),
            "d": np.empty((K, H, n)),
            "coll_b": np.empty((K, H, n)),
            "def_b": np.empty((K, H, n)),
            "migration": np.empty((K - 1, H, n)),
            "write_offs": np.empty((H, n)),
            "s_min": np.empty((H, n)),
        }
        tr_args = tuple(tr.values())
    else:
        tr = None
        tr_args = (_NO_TRACE3,) * 5 + (_NO_TRACE2,) * 2

    lo_b = np.array([lo for lo, _ in prm.slices], dtype=np.int64)
    hi_b = np.array([hi for _, hi in prm.slices], dtype=np.int64)
    rho_zero = prm.rho == 0.0
    with np.errstate(divide="ignore"):
        threshold = special.ndtri(prm.default_rate) / math.sqrt(1.0 - prm.rho)
    loading = math.sqrt(prm.rho / (1.0 - prm.rho))
    cash_rate = 1.0 - prm.credit_share - prm.variable_cost_ratio
    for t0 in range(0, H, MONTHS_PER_CHUNK):
        m = min(MONTHS_PER_CHUNK, H - t0)
        noise = rng.standard_normal((m, 2, BLOCK_SIZE))  # eps_t, xi_t for each month
        run_chunk(
            t0, m, z, prm.phi, noise, rho_zero, prm.default_rate, threshold, loading,
            prm.alpha, prm.collection_rate, prm.beta, prm.collection_scale, prm.revenue_base,
            prm.volatility, prm.kappa, prm.credit_share, cash_rate, prm.fixed_outflow,
            prm.other_inflow, prm.cash_floor, H, lo_b, hi_b, prm.write_off, r, S, G, allowance,
            cash, runway, min_cash, tot_coll, tot_loss, shift, s1, s2, sample, at, n_sample,
            trace, *tr_args,
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
    part = sample[:, :, at : at + n_sample]
    return BlockOutput(n=n, per_path=per_path, mean=mean, m2=m2, sample=part, trace=tr)


def block_memory(scenario: Scenario) -> int:
    """Rough memory in bytes of one block in flight (:func:`run_block`, no sample, no trace)."""
    grid = AgingGrid(scenario.buckets.edges_months, scenario.defaults.write_off_after_months)
    k = scenario.n_buckets
    nv = n_monthly_values(k)
    rows = 2 * grid.n_ages + 2 * MONTHS_PER_CHUNK + 6 * k + 2 * nv + 20
    return BLOCK_SIZE * 8 * rows + 3 * (scenario.simulation.horizon_months + 1) * nv * 8


#: Bytes per path of a run at its peak: the per-path arrays, then the paths table and its
#: Parquet copy while ``paths.parquet`` is written (measured: about 96).
BYTES_PER_PATH = 128
#: Run-off blocks of the summary's analytics (implied rates, ECL scenarios), per thread.
_RUNOFF_BLOCK_BYTES = 2048 * 8 * (4 * 601 + 2 * 4)


def estimate_memory(scenario: Scenario, workers: int, *, executor: bool = False) -> int:
    """Rough peak memory in bytes of :func:`simulate` and the summary for this scenario.

    Counts the per-path outputs and the paths table written from them, the trajectory sample
    (with a margin for its quantiles; twice over with an ``executor``, whose blocks return their
    parts of it), the blocks in flight and the run-off blocks of the implied rates.
    """
    sim = scenario.simulation
    grid = AgingGrid(scenario.buckets.edges_months, scenario.defaults.write_off_after_months)
    nv = n_monthly_values(scenario.n_buckets)
    per_path = sim.paths * BYTES_PER_PATH
    sample = min(sim.paths, sim.trajectory_paths) * (sim.horizon_months + 1) * nv * 8
    runoff = _RUNOFF_BLOCK_BYTES + 2048 * 8 * 3 * grid.n_ages
    sample = sample * 5 // 2 if executor else sample * 3 // 2
    return per_path + sample + workers * (block_memory(scenario) + runoff)


def simulate_paths(
    scenario: Scenario,
    *,
    seed: int | None = None,
    paths: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    analytics: Callable[[Scenario], Any] | None = None,
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
    start = time.perf_counter()
    prm = compile_params(scenario)
    n_sample = min(sim.paths, sim.trajectory_paths)

    # in this process the blocks write straight into one sample; elsewhere they return theirs
    nv = n_monthly_values(scenario.n_buckets)
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
