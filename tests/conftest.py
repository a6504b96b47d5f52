"""Shared test fixtures and helpers: the repository's paths, the failure budget of the
statistical tests (DESIGN 5), and checks that many test files use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED_TOML = sorted(SCENARIOS.glob("*.toml"))
IFLYTEK = SCENARIOS / "iflytek_2024q3.toml"
SENSETIME = SCENARIOS / "sensetime_2023.toml"
MINIMAL = SCENARIOS / "example_minimal.toml"
BENCH = ROOT / "benchmarks" / "bench.toml"


# -- one block with its trace, and the identities of DESIGN 2.7 --------------------------------


@dataclass
class Traced:
    """One block of the engine run with ``trace=True``."""

    prm: object
    trace: dict[str, np.ndarray]  # (K, H, n) or (H, n)
    series: dict[str, np.ndarray]  # the monthly values and gross by bucket g0.., (H + 1, n)
    per_path: dict[str, np.ndarray]


def run_traced(sc, block: int = 2, n: int | None = None, seed: int | None = None) -> Traced:
    """Block ``block`` of ``sc`` (``n`` paths, default ``simulation.paths``) with its trace."""
    from simulator.engine import run_block
    from simulator.params import compile_params
    from simulator.results import MONTHLY_VARS

    prm = compile_params(sc)
    n = sc.simulation.paths if n is None else n
    seed = sc.simulation.seed if seed is None else seed
    out = run_block(prm, block, n, seed, n_sample=n, trace=True)
    names = [*MONTHLY_VARS, *(f"g{b}" for b in range(prm.n_buckets))]
    series = {name: out.sample[i] for i, name in enumerate(names)}
    return Traced(prm, out.trace, series, out.per_path)


def _close(a, b, scale, rtol=1e-12):
    """|a − b| ≤ rtol × the sums involved (DESIGN 2.7), elementwise."""
    return np.abs(a - b) <= rtol * scale + 1e-300


def assert_identities(t: Traced) -> None:
    """DESIGN 2.7 on every path and month: finite, non-negative balances and flows, ``h + d ≤
    1``; gross by bucket adds up, gross rolls forward, loss = defaults + write-offs, the
    allowance is the provision matrix on the book, the charge by definition equals the charge by
    flow, cash over the run; and the per-path outputs agree with the months."""
    prm, tr, s = t.prm, t.trace, t.series
    K, H = prm.n_buckets, prm.horizon
    for name, arr in [*tr.items(), *s.items(), *t.per_path.items()]:
        assert np.isfinite(arr).all(), f"{name} is not finite"
    h, d = tr["h"], tr["d"]
    assert (h >= 0).all() and (d >= 0).all()
    assert (h + d <= 1 + 1e-12).all()
    assert (tr["s_min"] >= 0).all(), "a balance went negative"
    for name in ("gross", "collections", "credit_loss", "defaults", "write_offs", "revenue"):
        assert (s[name] >= 0).all(), f"{name} went negative"
    for b in range(K):
        assert (s[f"g{b}"] >= 0).all()

    r, sigma = prm.provision_rates, prm.credit_share
    gross = s["gross"]
    coll, loss, rev = s["collections"][1:], s["credit_loss"][1:], s["revenue"][1:]
    # gross by bucket summed from the state adds up to the total
    by_bucket = sum(s[f"g{b}"] for b in range(K))
    assert _close(by_bucket, gross, gross, 1e-13).all()
    # gross roll-forward
    scale = gross[:-1] + sigma * rev + coll + loss
    assert _close(gross[1:], gross[:-1] + sigma * rev - coll - loss, scale).all()
    # flows by bucket add up, and loss = defaults + write-offs
    assert _close(tr["coll_b"].sum(axis=0), coll, coll, 1e-13).all()
    np.testing.assert_array_equal(loss, s["defaults"][1:] + s["write_offs"][1:])
    np.testing.assert_array_equal(s["write_offs"][1:], tr["write_offs"])
    if not prm.write_off:
        assert (tr["write_offs"] == 0).all()
    # allowance is the provision matrix on the book; charge by definition and by flow
    allowance = sum(r[b] * s[f"g{b}"] for b in range(K))
    assert _close(s["allowance"], allowance, allowance, 1e-13).all()
    charge = s["charge"][1:]
    a0, a1 = s["allowance"][:-1], s["allowance"][1:]
    assert _close(charge, a1 - a0 + loss, a1 + a0 + loss).all()
    mig = tr["migration"]  # (K-1, H, n): R[e_{b+1} - 1]
    by_flow = (
        r[0] * sigma * rev
        + sum((r[b + 1] - r[b]) * mig[b] for b in range(K - 1))
        - sum(r[b] * tr["coll_b"][b] for b in range(K))
        + sum((1 - r[b]) * tr["def_b"][b] for b in range(K))
        + (1 - r[K - 1]) * tr["write_offs"]
    )
    flow_scale = sigma * rev + mig.sum(axis=0) + coll + loss + a1 + a0
    assert _close(charge, by_flow, flow_scale).all()
    # cash over the run
    cash = s["cash"]
    inflow = coll + (1 - sigma - prm.variable_cost_ratio) * rev - prm.fixed_outflow[:, None]
    inflow = inflow + prm.other_inflow
    terms = np.abs(cash[0]) + coll.sum(0) + (1 + prm.variable_cost_ratio) * rev.sum(0)
    terms = terms + prm.fixed_outflow.sum() + abs(prm.other_inflow) * H
    assert _close(cash[-1], cash[0] + inflow.sum(axis=0), terms * H).all()
    # per-path outputs agree with the months
    np.testing.assert_array_equal(t.per_path["cash_end"], cash[-1])
    assert (t.per_path["min_cash"] <= cash.min(axis=0)).all()
    runway = t.per_path["runway"]
    assert ((runway >= 0) & (runway <= H + 1)).all()
