"""The Monte Carlo engine of the standard model (DESIGN 2.1–2.6, 2.9, 2.10).

Paths are processed in blocks of :data:`BLOCK_SIZE`. Block ``i`` draws its random numbers from
``numpy.random.default_rng([i, seed])`` in a fixed order (``Z_0``, then per month ``eps_t`` and
``xi_t``), always for a full block, so a path's numbers depend only on the seed and its index.
The kernel (:func:`run_block`) is deterministic given those draws; blocks run on threads and are
combined in block order, so results do not depend on the number of workers.

The state of a block is age-major, ``S[a, path]``, so that every bucket is a contiguous slice of
rows: one month multiplies each bucket's rows by its survival factor while writing them one row
down (ageing), and sums the rows of each bucket.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .aging import AgingGrid
from .hazards import (
    calendar_months,
    collection_hazard,
    default_hazard,
    factor_step,
    revenue_shock,
    solve_alpha,
)
from .results import MONTHLY_VARS, SimulationResult
from .scenario import Scenario, with_overrides

__all__ = [
    "BLOCK_SIZE",
    "ENGINE_VERSION",
    "ModelParams",
    "ResourceError",
    "compile_params",
    "run_block",
    "simulate",
]

ENGINE_VERSION = "1.0"
#: Paths per block. A constant of the engine: changing it changes the numbers (DESIGN 2.10).
BLOCK_SIZE = 4096
#: Refuse runs whose estimated memory exceeds this share of the machine's memory.
MEMORY_SHARE = 0.6


class ResourceError(ValueError):
    """A request that would not fit in this machine's memory, refused before it starts."""


@dataclass(frozen=True)
class ModelParams:
    """Everything the kernel needs, as plain numbers and arrays (picklable, no scenario)."""

    horizon: int
    n_ages: int
    slices: tuple[tuple[int, int], ...]
    write_off: bool
    opening_by_age: np.ndarray  # (A,)
    opening_gross: np.ndarray  # (K,) summed from opening_by_age
    provision_rates: np.ndarray  # (K,)
    collection_rate: np.ndarray  # c_b (K,)
    alpha: np.ndarray  # (K,)
    beta: float
    default_rate: np.ndarray  # p_b (K,)
    rho: float
    phi: float
    collection_scale: np.ndarray  # m * s_cal(t), (H,)
    revenue_base: np.ndarray  # R_0 (1+g)^((t-1)/12) q_cal(t), (H,)
    volatility: float
    kappa: float
    credit_share: float
    variable_cost_ratio: float
    fixed_outflow: np.ndarray  # F_t, (H,)
    other_inflow: float
    cash_opening: float
    cash_floor: float

    @property
    def n_buckets(self) -> int:
        """Number of buckets K."""
        return len(self.slices)


def compile_params(scenario: Scenario) -> ModelParams:
    """Turn a validated scenario into the arrays the kernel uses.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    ModelParams
    """
    b, col, dfl, rev, cash = (
        scenario.buckets,
        scenario.collections,
        scenario.defaults,
        scenario.revenue,
        scenario.cash,
    )
    horizon = scenario.simulation.horizon_months
    grid = AgingGrid(b.edges_months, dfl.write_off_after_months)
    opening = grid.spread(b.gross)
    as_of_month = scenario.scenario.as_of.month if scenario.scenario.as_of else None
    cal = calendar_months(as_of_month, horizon) - 1
    t = np.arange(1, horizon + 1)
    s = np.asarray(col.seasonality if col.seasonality else [1.0] * 12)[cal]
    q = np.asarray(rev.seasonality if rev.seasonality else [1.0] * 12)[cal]
    c = np.asarray(col.monthly_rate, dtype=float)
    return ModelParams(
        horizon=horizon,
        n_ages=grid.n_ages,
        slices=tuple((sl.start, sl.stop) for sl in grid.slices),
        write_off=dfl.write_off_after_months is not None,
        opening_by_age=opening,
        opening_gross=grid.aggregate(opening),
        provision_rates=np.asarray(b.provision_rates, dtype=float),
        collection_rate=c,
        alpha=solve_alpha(c, col.factor_loading),
        beta=float(col.factor_loading),
        default_rate=np.asarray(dfl.monthly_rate, dtype=float),
        rho=float(dfl.correlation),
        phi=float(scenario.factor.persistence),
        collection_scale=col.multiplier * s,
        revenue_base=rev.monthly * (1.0 + rev.annual_growth) ** ((t - 1) / 12.0) * q,
        volatility=float(rev.volatility),
        kappa=float(rev.factor_correlation),
        credit_share=float(rev.credit_share),
        variable_cost_ratio=float(cash.variable_cost_ratio),
        fixed_outflow=cash.monthly_fixed_outflow
        * (1.0 + cash.fixed_outflow_growth) ** ((t - 1) / 12.0),
        other_inflow=float(cash.other_monthly_inflow),
        cash_opening=float(cash.opening),
        cash_floor=float(cash.floor),
    )


@dataclass
class BlockOutput:
    """What one block returns: per-path outputs, monthly moments and the trajectory sample."""

    n: int
    per_path: dict[str, np.ndarray]
    mean: np.ndarray  # (H+1, V) monthly means over the block's paths
    m2: np.ndarray  # (H+1, V) sums of squared deviations
    sample: np.ndarray  # (V, H+1, n_sample)
    trace: dict[str, np.ndarray] | None = field(default=None)


def run_block(
    prm: ModelParams, block_index: int, n: int, seed: int, n_sample: int = 0, trace: bool = False
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

    Returns
    -------
    BlockOutput
    """
    H, A, K = prm.horizon, prm.n_ages, prm.n_buckets
    nv = len(MONTHLY_VARS) + K
    rng = np.random.default_rng([block_index, seed])

    def normals() -> np.ndarray:
        # always a full block of draws, so a path's numbers do not depend on the block's size
        return rng.standard_normal(BLOCK_SIZE)[:n]

    z = normals()
    S = np.empty((A, n))
    S[:] = prm.opening_by_age[:, None]
    S_next = np.empty((A, n))
    G = np.empty((K, n))
    G[:] = prm.opening_gross[:, None]
    r = prm.provision_rates
    allowance = np.full(n, float(r @ prm.opening_gross))
    cash = np.full(n, prm.cash_opening)
    runway = np.full(n, H + 1, dtype=np.int16)
    runway[cash < prm.cash_floor] = 0
    min_cash = cash.copy()
    tot_coll = np.zeros(n)
    tot_loss = np.zeros(n)
    zeros = np.zeros(n)

    vals = np.empty((nv, n))
    mean = np.empty((H + 1, nv))
    m2 = np.empty((H + 1, nv))
    sample = np.empty((nv, H + 1, n_sample))
    tr: dict[str, list[np.ndarray]] | None = None
    if trace:
        tr = {k: [] for k in ("h", "d", "coll_b", "def_b", "migration", "write_offs", "s_min")}

    def record(t: int, coll, loss, dflt, wo, charge, rev) -> None:
        vals[0] = cash
        np.sum(G, axis=0, out=vals[1])
        vals[2] = allowance
        vals[3] = coll
        vals[4] = loss
        vals[5] = dflt
        vals[6] = wo
        vals[7] = charge
        vals[8] = rev
        vals[9:] = G
        if n_sample:
            sample[:, t, :] = vals[:, :n_sample]
        # moments about the first path's values: no cancellation in the variance
        shift = vals[:, 0].copy()
        np.subtract(vals, shift[:, None], out=vals)
        s1 = vals.sum(axis=1)
        mean[t] = shift + s1 / n
        m2[t] = np.maximum(np.einsum("ij,ij->i", vals, vals) - s1 * s1 / n, 0.0)

    record(0, zeros, zeros, zeros, zeros, zeros, zeros)
    last_lo, last_hi = prm.slices[-1]
    for t in range(1, H + 1):
        eps = normals()
        xi = normals()
        z = factor_step(z, eps, prm.phi)
        d = default_hazard(prm.default_rate, prm.rho, z)
        h = collection_hazard(
            prm.collection_rate, prm.alpha, prm.beta, prm.collection_scale[t - 1], z, d
        )
        f = np.maximum(1.0 - h - d, 0.0)
        rev = prm.revenue_base[t - 1] * revenue_shock(z, xi, prm.volatility, prm.kappa)
        coll = np.einsum("kn,kn->n", np.broadcast_to(h, G.shape), G)
        dflt = np.einsum("kn,kn->n", np.broadcast_to(d, G.shape), G)
        if tr is not None:
            tr["coll_b"].append(h * G)
            tr["def_b"].append(d * G)

        # Age by one month: the rows of bucket b, times its survival factor, one row down.
        for b, (lo, hi) in enumerate(prm.slices[:-1]):
            np.multiply(S[lo:hi], f[b], out=S_next[lo + 1 : hi + 1])
        fl = f[K - 1]
        if prm.write_off:
            np.multiply(S[last_lo : last_hi - 1], fl, out=S_next[last_lo + 1 : last_hi])
            wo = S[last_hi - 1] * fl
        else:
            wo = zeros
            if A == 1:
                S_next[0] = S[0] * fl
            else:
                S_next[A - 1] += S[A - 1] * fl
        if tr is not None:
            tr["migration"].append(
                np.stack([S[hi - 1] * f[b] for b, (_, hi) in enumerate(prm.slices[:-1])])
                if K > 1
                else np.zeros((0, n))
            )
        billing = prm.credit_share * rev
        if A == 1 and not prm.write_off:
            S_next[0] += billing
        else:
            S_next[0] = billing
        S, S_next = S_next, S
        for b, (lo, hi) in enumerate(prm.slices):
            np.sum(S[lo:hi], axis=0, out=G[b])

        loss = dflt + wo
        new_allowance = r[0] * G[0]
        for b in range(1, K):
            new_allowance += r[b] * G[b]
        charge = new_allowance - allowance + loss
        allowance = new_allowance
        cash += (
            coll
            + (1.0 - prm.credit_share - prm.variable_cost_ratio) * rev
            - prm.fixed_outflow[t - 1]
            + prm.other_inflow
        )
        runway[(cash < prm.cash_floor) & (runway > H)] = t
        np.minimum(min_cash, cash, out=min_cash)
        tot_coll += coll
        tot_loss += loss
        record(t, coll, loss, dflt, wo, charge, rev)
        if tr is not None:
            tr["h"].append(np.broadcast_to(h, (K, n)).copy())
            tr["d"].append(np.broadcast_to(d, (K, n)).copy())
            tr["write_offs"].append(np.broadcast_to(wo, (n,)).copy())
            tr["s_min"].append(S.min(axis=0))

    per_path = {
        "runway": runway,
        "min_cash": min_cash,
        "cash_end": cash.copy(),
        "collections": tot_coll,
        "credit_loss": tot_loss,
        "charge": allowance - float(r @ prm.opening_gross) + tot_loss,
    }
    traced = None if tr is None else {k: np.stack(v, axis=v[0].ndim - 1) for k, v in tr.items()}
    return BlockOutput(n=n, per_path=per_path, mean=mean, m2=m2, sample=sample, trace=traced)


def estimate_memory(scenario: Scenario, workers: int) -> int:
    """Rough peak memory in bytes of :func:`simulate` for this scenario."""
    sim = scenario.simulation
    grid = AgingGrid(scenario.buckets.edges_months, scenario.defaults.write_off_after_months)
    k = scenario.n_buckets
    nv = len(MONTHLY_VARS) + k
    per_path = sim.paths * (5 * 8 + 2)
    sample = min(sim.paths, sim.trajectory_paths) * (sim.horizon_months + 1) * nv * 8
    block = BLOCK_SIZE * 8 * (2 * grid.n_ages + 6 * k + 2 * nv + 20)
    return per_path + 2 * sample + workers * block


def _machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    paths: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Run the Monte Carlo simulation of a scenario.

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
    need = estimate_memory(scenario, n_workers)
    have = _machine_memory()
    if need > MEMORY_SHARE * have:
        raise ResourceError(
            f"this run needs about {need / 2**30:.1f} GiB of memory and the machine has "
            f"{have / 2**30:.1f} GiB; use fewer paths, trajectory paths or months"
        )
    start = time.perf_counter()
    prm = compile_params(scenario)
    n_blocks = math.ceil(sim.paths / BLOCK_SIZE)
    n_sample = min(sim.paths, sim.trajectory_paths)

    def task(i: int) -> BlockOutput:
        n = min(BLOCK_SIZE, sim.paths - i * BLOCK_SIZE)
        ns = int(np.clip(n_sample - i * BLOCK_SIZE, 0, n))
        out = run_block(prm, i, n, sim.seed, ns)
        if progress is not None:
            progress(n)
        return out

    if executor is not None:
        blocks = executor.map(task, range(n_blocks))
        result = SimulationResult.from_blocks(scenario, blocks, engine_version=ENGINE_VERSION)
    elif n_workers == 1 or n_blocks == 1:
        blocks = (task(i) for i in range(n_blocks))
        result = SimulationResult.from_blocks(scenario, blocks, engine_version=ENGINE_VERSION)
    else:
        with ThreadPoolExecutor(max_workers=min(n_workers, n_blocks)) as pool:
            blocks = pool.map(task, range(n_blocks))
            result = SimulationResult.from_blocks(scenario, blocks, engine_version=ENGINE_VERSION)
    result.wall_seconds = time.perf_counter() - start
    return result
