"""The engine against an independent transcription of DESIGN 2.2-2.6 in plain numpy.

The transcription draws its own random numbers as DESIGN 2.10 orders them (block i from
``default_rng([i, seed])``: Z_0 for a full block, then eps_t and xi_t each month) and
implements the month of DESIGN 2.4 on a ``(ages, paths)`` array. Agreement to rounding pins the
random-number contract and the equations, not just the engine's agreement with itself.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from factories import SEASONAL, make
from scipy import special

from simulator import simulate
from simulator.aging import AgingGrid
from simulator.engine import BLOCK_SIZE
from simulator.hazards import solve_alpha


def reference_block(sc, block: int, seed: int, n: int):
    """Per-path cash at H, runway, minimum cash and credit loss of block ``block``'s first n."""
    b, col, dfl, rev, cash = sc.buckets, sc.collections, sc.defaults, sc.revenue, sc.cash
    H = sc.simulation.horizon_months
    grid = AgingGrid(b.edges_months, dfl.write_off_after_months)
    bk = grid.bucket_of_age
    rng = np.random.default_rng([block, seed])
    z = rng.standard_normal(BLOCK_SIZE)
    c, p = np.array(col.monthly_rate), np.array(dfl.monthly_rate)
    rho, beta, phi = dfl.correlation, col.factor_loading, sc.factor.persistence
    alpha = solve_alpha(c, beta)
    month0 = sc.scenario.as_of.month if sc.scenario.as_of else 1
    s = col.seasonality or [1.0] * 12
    q = rev.seasonality or [1.0] * 12
    S = np.tile(grid.spread(b.gross)[:, None], (1, BLOCK_SIZE))
    money = np.full(BLOCK_SIZE, cash.opening)
    runway = np.where(money < cash.floor, 0, H + 1)
    low = money.copy()
    loss = np.zeros(BLOCK_SIZE)
    for t in range(1, H + 1):
        eps = rng.standard_normal(BLOCK_SIZE)
        xi = rng.standard_normal(BLOCK_SIZE)
        z = phi * z + math.sqrt(1 - phi * phi) * eps
        cal = ((month0 - 1 + t) % 12) + 1
        with np.errstate(divide="ignore"):
            d = special.ndtr((special.ndtri(p)[:, None] + math.sqrt(rho) * z) / math.sqrt(1 - rho))
        h = np.minimum(
            col.multiplier * s[cal - 1] * special.expit(alpha[:, None] - beta * z), 1 - d
        )
        kappa = rev.factor_correlation
        eta = -kappa * z + math.sqrt(1 - kappa**2) * xi
        revenue = (
            rev.monthly
            * (1 + rev.annual_growth) ** ((t - 1) / 12)
            * q[cal - 1]
            * np.exp(rev.volatility * eta - rev.volatility**2 / 2)
        )
        collected, defaulted = S * h[bk], S * d[bk]
        remaining = S * np.maximum(1 - h[bk] - d[bk], 0)
        new = np.zeros_like(S)
        new[1:] = remaining[:-1]
        written_off = np.zeros(BLOCK_SIZE)
        if dfl.write_off_after_months is None:
            new[-1] += remaining[-1]
        else:
            written_off = remaining[-1]
        new[0] += rev.credit_share * revenue
        S = new
        fixed = cash.monthly_fixed_outflow * (1 + cash.fixed_outflow_growth) ** ((t - 1) / 12)
        money = (
            money
            + collected.sum(0)
            + (1 - rev.credit_share) * revenue
            - fixed
            - cash.variable_cost_ratio * revenue
            + cash.other_monthly_inflow
        )
        runway = np.where((money < cash.floor) & (runway > H), t, runway)
        low = np.minimum(low, money)
        loss += defaulted.sum(0) + written_off
    return money[:n], runway[:n], low[:n], loss[:n]


CASES = {
    "base": {},
    "seasonal_write_off": {
        "scenario.as_of": datetime.date(2024, 6, 30),
        "collections.seasonality": SEASONAL,
        "revenue.seasonality": SEASONAL[::-1],
        "defaults.write_off_after_months": 18,
    },
    "already_below_floor": {"cash.opening": 10.0, "cash.floor": 20.0},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_engine_matches_an_independent_transcription(case):
    n = 60
    sc = make({**CASES[case], "simulation.paths": BLOCK_SIZE + n})
    res = simulate(sc, seed=7)
    cash_end, runway, low, loss = reference_block(sc, block=1, seed=7, n=n)
    pp = {k: v[BLOCK_SIZE:] for k, v in res.per_path.items()}
    scale = np.abs(cash_end) + sc.cash.opening + 1e4  # the sums involved are of this order
    assert np.all(np.abs(pp["cash_end"] - cash_end) <= 1e-11 * scale)
    assert np.all(np.abs(pp["min_cash"] - low) <= 1e-11 * scale)
    np.testing.assert_allclose(pp["credit_loss"], loss, rtol=1e-12)
    np.testing.assert_array_equal(pp["runway"], runway)


def test_opening_cash_below_the_floor_is_runway_zero():
    sc = make({"cash.opening": 10.0, "cash.floor": 20.0, "simulation.paths": 200})
    s = simulate(sc).summary()
    assert s["runway_quantiles"]["p5"] == 0 and s["runway_quantiles"]["p95"] == 0
    assert s["p_runway_le_12"] == 1.0 and s["p_runway_le_12_bound95"] == 1 - 3 / 200
