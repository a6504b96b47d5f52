"""Invariants under random valid scenarios (issue 8, part 1).

Hypothesis draws whole scenarios over the valid ranges of DESIGN 3.2 — random bucket edges and
counts, rates at and near 0 and 1, zero and huge balances, write-off age on and off, extreme
factor settings, horizons from 1 month, a handful of paths — and checks on every path and month:
the identities of DESIGN 2.7, finiteness, balances ≥ 0, ``h + d ≤ 1``; and that the summary is
well formed. Examples are derandomized (the same ones on every run, no example database).
``ARSIM_FUZZ_EXAMPLES=N`` sets the budget: 4 × N examples per test (default N = 25).
"""

from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np
from conftest import assert_identities, run_traced
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import simulate
from simulator.engine import run_block
from simulator.params import compile_params
from simulator.results import QUANTILES
from simulator.scenario import scenario_from_dict

EXAMPLES = 4 * int(os.environ.get("ARSIM_FUZZ_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# numbers at and near the ends of their ranges, plus anything in between
RATE = st.one_of(
    st.sampled_from([0.0, 1e-12, 1e-6, 0.5, 1 - 1e-9, 1.0]),
    st.floats(0.0, 1.0, allow_nan=False),
)
MONEY = st.one_of(
    st.sampled_from([0.0, 1e-9, 1.0, 1e6, 1e12]),
    st.floats(0.0, 1e12, allow_nan=False),
)
SIGNED_MONEY = st.one_of(MONEY, MONEY.map(lambda x: -x))
GROWTH = st.one_of(st.sampled_from([-0.999, 0.0, 10.0]), st.floats(-0.99, 10.0))
SEASON = st.one_of(
    st.none(), st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e6]), min_size=12, max_size=12)
)


@st.composite
def scenarios(draw, max_horizon: int = 120, max_paths: int = 40):
    """A valid scenario dict over the whole range of DESIGN 3.2 (kept small in paths)."""
    k = draw(st.integers(1, 6))
    last = draw(st.sampled_from([6, 24, 60, 600]))
    inner = draw(st.lists(st.integers(1, last), min_size=k - 1, max_size=k - 1, unique=True))
    edges = [0, *sorted(inner)]
    k = len(edges)
    per = lambda s: draw(st.lists(s, min_size=k, max_size=k))  # noqa: E731
    w = draw(st.one_of(st.none(), st.integers(edges[-1] + 1, min(edges[-1] + 30, 1200))))
    if draw(st.booleans()) and w is not None:
        w = 1200  # the longest write-off age
    seasonal = draw(SEASON), draw(SEASON)
    horizon = draw(st.one_of(st.integers(1, 13), st.integers(1, max_horizon)))
    sc = {
        "scenario": {"name": "fuzz"},
        "buckets": {"edges_months": edges, "gross": per(MONEY), "provision_rates": per(RATE)},
        "collections": {
            "monthly_rate": per(RATE),
            "multiplier": draw(st.sampled_from([0.0, 1.0, 100.0]) | st.floats(0, 100)),
            "factor_loading": draw(st.sampled_from([0.0, 10.0]) | st.floats(0, 10)),
        },
        "defaults": {
            "monthly_rate": per(RATE),
            "correlation": draw(st.sampled_from([0.0, 0.999999]) | st.floats(0, 0.999)),
        },
        "factor": {"persistence": draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))},
        "revenue": {
            "monthly": draw(MONEY),
            "annual_growth": draw(GROWTH),
            "volatility": draw(st.sampled_from([0.0, 2.0]) | st.floats(0, 2)),
            "factor_correlation": draw(st.floats(-1, 1)),
            "credit_share": draw(RATE),
        },
        "cash": {
            "opening": draw(SIGNED_MONEY),
            "monthly_fixed_outflow": draw(MONEY),
            "fixed_outflow_growth": draw(GROWTH),
            "variable_cost_ratio": draw(st.sampled_from([0.0, 10.0]) | st.floats(0, 10)),
            "floor": draw(SIGNED_MONEY),
            "other_monthly_inflow": draw(SIGNED_MONEY),
        },
        "simulation": {
            "paths": draw(st.integers(1, max_paths)),
            "horizon_months": horizon,
            "seed": draw(st.integers(0, 2**63 - 1)),
            "trajectory_paths": draw(st.integers(0, max_paths)),
            "runoff_paths": draw(st.integers(1, 30)),
        },
    }
    if w is not None:
        sc["defaults"]["write_off_after_months"] = w
    if seasonal != (None, None):
        sc["scenario"]["as_of"] = draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)))
        if seasonal[0] is not None:
            sc["collections"]["seasonality"] = seasonal[0]
        if seasonal[1] is not None:
            sc["revenue"]["seasonality"] = seasonal[1]
    return scenario_from_dict(sc, source="<fuzz>")


@SETTINGS
@given(sc=scenarios(), block=st.integers(0, 3))
def test_identities_hold_for_random_scenarios(sc, block):
    assert_identities(run_traced(sc, block))


def _check_summary(s: dict, sc) -> None:
    H, n = sc.simulation.horizon_months, sc.simulation.paths
    for key in ("p_runway_le_12", "p_runway_le_24", "p_runway_le_horizon"):
        assert key in s and f"{key}_se" in s
        p, se = s[key], s[f"{key}_se"]
        if key != "p_runway_le_horizon" and int(key.rsplit("_", 1)[1]) > H:
            assert p is None and se is None
            continue
        assert 0.0 <= p <= 1.0 and 0.0 <= se <= 0.5
        if p in (0.0, 1.0):
            assert 0.0 <= s[f"{key}_bound95"] <= 1.0 or n < 3
    ps = [s[k] for k in ("p_runway_le_12", "p_runway_le_24") if s[k] is not None]
    assert ps == sorted(ps) and all(p <= s["p_runway_le_horizon"] + 1e-15 for p in ps)
    q = s["runway_quantiles"]
    assert list(q) == [f"p{x}" for x in QUANTILES]
    values = list(q.values())
    known = [v for v in values if v is not None]
    assert known == sorted(known) and all(0 <= v <= H for v in known)
    # once a quantile is beyond the horizon (null), every higher one is too
    assert values == known + [None] * (len(values) - len(known))
    for key in (
        "credit_loss_mean",
        "collections_mean",
        "cash_end_mean",
        "min_cash_mean",
        "provision_charge_mean",
    ):
        assert isinstance(s[key], float) and math.isfinite(s[key])
        assert s[f"{key}_se"] is None if n == 1 else s[f"{key}_se"] >= 0
    assert 0 <= s["credit_loss_p95"] <= s["credit_loss_p99"]
    assert s["credit_loss_mean"] >= 0 and s["collections_mean"] >= 0
    assert s["paths"] == n and s["horizon_months"] == H
    assert set(s["disclosed_rates"]) == set(sc.labels)
    for lab, rate in (s.get("implied_rates") or {}).items():
        assert lab in sc.labels
        assert rate is None or -1e-12 <= rate <= 1 + 1e-12


def _walk_finite(obj, where="summary"):
    """No NaN or infinity anywhere in the JSON-ready summary (undefined is null)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _walk_finite(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk_finite(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), where


@SETTINGS
@given(sc=scenarios(max_horizon=60, max_paths=30))
def test_summary_is_well_formed_for_random_scenarios(sc):
    res = simulate(sc, workers=1)
    s = res.summary()
    _walk_finite(s)
    _check_summary(s, sc)
    monthly = res.monthly
    assert len(monthly) == sc.simulation.horizon_months + 1
    means = monthly[[c for c in monthly.columns if c.endswith("_mean")]].to_numpy()
    assert np.isfinite(means).all()
    sample_n = min(sc.simulation.paths, sc.simulation.trajectory_paths)
    for var in ("cash", "gross", "credit_loss"):
        qs = monthly[[f"{var}_p{q}" for q in QUANTILES]].to_numpy()
        if sample_n:
            assert (
                np.isfinite(qs).all() and (np.diff(qs, axis=1) >= -1e-9 * np.abs(qs[:, 1:])).all()
            )
        else:
            assert np.isnan(qs).all()


@SETTINGS
@given(sc=scenarios(max_horizon=1200, max_paths=3), block=st.integers(0, 2))
def test_long_horizons_and_old_books_stay_finite(sc, block):
    """Horizons up to 100 years with write-off ages up to 1200 months: finite, non-negative."""
    prm = compile_params(sc)
    out = run_block(prm, block, sc.simulation.paths, sc.simulation.seed, n_sample=1)
    assert np.isfinite(out.sample).all() and np.isfinite(out.mean).all()
    assert np.isfinite(out.m2).all() and (out.m2 >= 0).all()
    for name, arr in out.per_path.items():
        assert np.isfinite(arr).all(), name
    assert (out.per_path["credit_loss"] >= 0).all()
