"""Named debtors in the engine against exact answers (DESIGN 2.13).

When months are independent (φ = 0, or β_j = ρ_j = 0 at any φ) a lump open at the start of
month t ends that month with probability ``d̄_t + h̄_t`` whatever happened before, so
``P(open after t) = Π_{u≤t}(1 − d̄_u − h̄_u)``, ``P(default within H) = Σ_t Π_{u<t}(…) d̄_t``
and ``P(paid by 12) = Σ_{t≤12} Π_{u<t}(…) h̄_t``, with ``d̄ = p`` and ``h̄`` the expectation of
the capped collection hazard over the factor (2.8: ``E[min(m·s·logistic(α − βY), 1 − d(Y))]``,
by adaptive quadrature with the kinks as breakpoints). The test computes these itself, from the
scenario's numbers (α solved here too), independently of ``simulator.analytic``; the engine's
counts (``conftest.debtor_counts``: lost, paid, paid within 12 months, over paths) are
Binomial(paths, P), checked with ``binom_acceptance`` at the failure budget.

Then N equal debtors with the pooled hazards in run-off: the same mean loss as the pooled book
(paired on common random numbers) and a loss p99 that falls toward the pooled one as N grows.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
from typing import Any

import numpy as np
from conftest import binom_acceptance, debtor_counts, run_traced, z_fail
from factories import BASE, SEASONAL
from scipy import integrate, optimize, special, stats

from simulator import simulate
from simulator.scenario import scenario_from_dict

PATHS = 40_000
AS_OF = dt.date(2024, 3, 31)


# ------------------------------------------------------------------------------------------------
# The exact answers, computed here


@functools.cache
def _alpha(pi: float, beta: float) -> float:
    """α with ``E[logistic(α − βZ)] = π``, Z ~ N(0, 1) (DESIGN 2.3)."""
    if beta == 0.0:
        return float(special.logit(pi))

    def mean(a: float) -> float:
        f = lambda z: special.expit(a - beta * z) * stats.norm.pdf(z)  # noqa: E731
        return integrate.quad(f, -12, 12, points=[a / beta], limit=200, epsabs=1e-14)[0] - pi

    lo, hi = special.logit(pi) - 10 * beta - 10, special.logit(pi) + 10 * beta + 10
    return optimize.brentq(mean, lo, hi, xtol=1e-14)


@functools.cache
def _mean_hazards(pi: float, p: float, rho: float, beta: float, scale: float) -> float:
    """``h̄ = E[min(scale · logistic(α − βY), 1 − d(Y))]`` over Y ~ N(0, 1), by adaptive
    quadrature with the points where the cap starts or stops binding as breakpoints."""
    if pi == 0.0:
        return 0.0
    thr = special.ndtri(p) if p > 0 else -math.inf

    def d(y):
        return special.ndtr((thr + math.sqrt(rho) * y) / math.sqrt(1.0 - rho)) if p > 0 else 0 * y

    def raw(y):
        if pi == 1.0:
            return scale + 0 * y
        if beta == 0.0:
            return scale * pi + 0 * y
        return scale * special.expit(alpha - beta * y)

    alpha = _alpha(pi, beta) if 0 < pi < 1 else 0.0
    grid = np.linspace(-9, 9, 4001)
    gap = raw(grid) - (1 - d(grid))
    kinks = [
        optimize.brentq(lambda y: raw(y) - (1 - d(y)), grid[i], grid[i + 1], xtol=1e-13)
        for i in np.flatnonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0)
    ]
    f = lambda y: min(raw(y), 1 - d(y)) * stats.norm.pdf(y)  # noqa: E731
    return integrate.quad(f, -9, 9, points=kinks or None, limit=400, epsabs=1e-14)[0]


def _uncapped(pi: float, beta: float, scale: float) -> float:
    """``E[scale · logistic(α − βY)]``: h̄ as it would be without the cap (= scale · π)."""
    return scale * pi


def exact_debtor(data: dict[str, Any], debtor: dict[str, Any], cap: bool = True) -> dict:
    """P(default within H), P(lost within H) (default or write-off), P(paid within H), P(paid
    within 12 months) of ``debtor`` in the scenario ``data`` (no segments), from 2.13's
    products. ``cap=False`` leaves out the cap ``1 − d`` (to show that the test sees it)."""
    K = len(data["buckets"]["edges_months"])
    edges = data["buckets"]["edges_months"]
    H = data["simulation"]["horizon_months"]
    col, dfl = data["collections"], data["defaults"]

    def per_bucket(value, default):
        value = default if value is None else value
        return list(value) if isinstance(value, list) else [value] * K

    pay = per_bucket(debtor.get("monthly_pay_probability"), col["monthly_rate"])
    dflt = per_bucket(debtor.get("monthly_default_probability"), dfl["monthly_rate"])
    rho = debtor.get("correlation", dfl.get("correlation", 0.0))
    beta = debtor.get("factor_loading", col.get("factor_loading", 0.0))
    m = col.get("multiplier", 1.0)
    season = col.get("seasonality") or [1.0] * 12
    month0 = data["scenario"]["as_of"].month if "as_of" in data["scenario"] else 1
    w = dfl.get("write_off_after_months")
    t_w = w - debtor["age_months"] if w is not None else math.inf
    p_open, p_default, p_paid, p_paid12, open_at_w = 1.0, 0.0, 0.0, 0.0, 0.0
    for t in range(1, H + 1):
        if t > t_w:
            break
        age = debtor["age_months"] + t - 1
        b = max(i for i in range(K) if edges[i] <= age)
        scale = m * season[(month0 - 1 + t) % 12]
        if cap:
            h = _mean_hazards(float(pay[b]), float(dflt[b]), float(rho), float(beta), scale)
        else:
            h = _uncapped(pay[b], beta, scale)
        p_default += p_open * dflt[b]
        p_paid += p_open * h
        if t <= 12:
            p_paid12 += p_open * h
        p_open *= 1.0 - dflt[b] - h
        if t == t_w:
            open_at_w = p_open
    return {
        "default": p_default,
        "lost": p_default + open_at_w,
        "paid": p_paid,
        "paid_12": p_paid12,
    }


def _scenario(extra: dict[str, Any], debtors: list[dict[str, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["simulation"].update({"paths": PATHS, "trajectory_paths": 0})
    for key, value in extra.items():
        section, field = key.split(".")
        data[section][field] = value
    data["debtors"] = copy.deepcopy(debtors)
    return data


def _check_counts(data: dict[str, Any], seed: int, keys=("lost", "paid", "paid_12")) -> dict:
    """The engine's counts of each debtor against the exact probabilities; returns them."""
    res = simulate(scenario_from_dict(copy.deepcopy(data)), seed=seed)
    n, counts = data["simulation"]["paths"], debtor_counts(res)
    column = {"lost": 0, "paid": 1, "paid_12": 2}
    m = len(data["debtors"]) * len(keys)  # every count of the test at the failure budget
    bad, exact = [], {}
    for j, debtor in enumerate(data["debtors"]):
        want = exact_debtor(data, debtor)
        exact[debtor["name"]] = want
        for key in keys:
            lo, hi = binom_acceptance(n, want[key], m)
            got = counts[j, column[key]]
            if not lo <= got <= hi:
                bad.append((debtor["name"], key, got, (lo, hi), n * want[key]))
    assert not bad, bad
    return exact


# ------------------------------------------------------------------------------------------------
# Independent months: φ = 0


PHI0 = {
    "factor.persistence": 0.0,
    "scenario.as_of": AS_OF,
    "collections.seasonality": SEASONAL,
}
PHI0_DEBTORS = [
    {"name": "own_factor", "balance": 50.0, "age_months": 2, "monthly_pay_probability": 0.06,
     "monthly_default_probability": 0.01, "correlation": 0.3, "factor_loading": 0.8},
    {"name": "k_lists", "balance": 20.0, "age_months": 1,
     "monthly_pay_probability": [0.2, 0.1, 0.05, 0.02],
     "monthly_default_probability": [0.002, 0.01, 0.02, 0.04],
     "correlation": 0.2, "factor_loading": 1.0},
    {"name": "segment_rates", "balance": 10.0, "age_months": 0},
    {"name": "cap_sometimes", "balance": 30.0, "age_months": 4, "monthly_pay_probability": 0.55,
     "monthly_default_probability": 0.08, "correlation": 0.5, "factor_loading": 2.5},
]  # fmt: skip


def test_debtors_at_phi0_agree_with_the_exact_products(stat_seed) -> None:
    """φ = 0 with seasonality: factor-driven debtors of their own rates, K-lists crossing
    buckets, one on the pool's hazards, and one where the cap 1 − d binds now and then."""
    _check_counts(_scenario(PHI0, PHI0_DEBTORS), stat_seed)


#: Three months at twice the collection rates: the cap 1 − d(Y) binds on many factor draws.
CAP = {**PHI0, "collections.multiplier": 2.0, "simulation.horizon_months": 3}
CAP_DEBTORS = [
    {"name": "capped", "balance": 10.0, "age_months": 4, "monthly_pay_probability": 0.3,
     "monthly_default_probability": 0.1, "correlation": 0.5, "factor_loading": 2.0},
    {"name": "capped_k_lists", "balance": 10.0, "age_months": 2,
     "monthly_pay_probability": [0.1, 0.4, 0.2, 0.1],
     "monthly_default_probability": [0.05, 0.2, 0.1, 0.1],
     "correlation": 0.5, "factor_loading": 2.5},
]  # fmt: skip


def _cap_is_seen(data: dict[str, Any], debtor: dict[str, Any], m: int) -> bool:
    """Whether the answer without the cap would fall outside the acceptance region."""
    capped, uncapped = exact_debtor(data, debtor), exact_debtor(data, debtor, cap=False)
    n = data["simulation"]["paths"]
    for key in ("lost", "paid"):
        lo, hi = binom_acceptance(n, capped[key], m)
        if not lo <= n * uncapped[key] <= hi:
            return True
    return False


def test_debtors_where_the_cap_binds_at_phi0(stat_seed) -> None:
    """The cap 1 − d(Y) of the same factor draw binds often (2.13: "the cap is respected
    jointly"); the answer without it is outside the acceptance region, so the test sees it."""
    data = _scenario(CAP, CAP_DEBTORS)
    _check_counts(data, stat_seed, keys=("lost", "paid"))
    for debtor in CAP_DEBTORS:
        assert _cap_is_seen(data, debtor, 2 * len(CAP_DEBTORS)), debtor["name"]


# ------------------------------------------------------------------------------------------------
# β_j = ρ_j = 0 at φ > 0: the debtor's hazards do not move with the factor

FLAT = {
    "factor.persistence": 0.8,
    "scenario.as_of": AS_OF,
    "collections.seasonality": SEASONAL,
    "collections.multiplier": 1.5,
}
FLAT_DEBTORS = [
    {"name": "flat", "balance": 40.0, "age_months": 3, "monthly_pay_probability": 0.07,
     "monthly_default_probability": 0.01, "correlation": 0.0, "factor_loading": 0.0},
    {"name": "k_lists_cap", "balance": 15.0, "age_months": 0,
     "monthly_pay_probability": [0.6, 0.3, 0.1, 0.05],
     "monthly_default_probability": [0.05, 0.02, 0.03, 0.05],
     "correlation": 0.0, "factor_loading": 0.0},
]  # fmt: skip


def test_debtors_without_factor_at_phi_above_0_agree_with_the_exact_products(stat_seed) -> None:
    """φ = 0.8, β_j = ρ_j = 0 (the pool keeps its factor), with and without the cap binding
    (1.5 · s · 0.6 > 1 − 0.05 in the months of high seasonality) and K-lists crossing."""
    data = _scenario(FLAT, FLAT_DEBTORS)
    _check_counts(data, stat_seed)
    assert _cap_is_seen(data, FLAT_DEBTORS[1], 3 * len(FLAT_DEBTORS))


# ------------------------------------------------------------------------------------------------
# A write-off age

WRITE_OFF = {"factor.persistence": 0.0, "defaults.write_off_after_months": 20}
WRITE_OFF_DEBTORS = [
    {"name": "young", "balance": 25.0, "age_months": 5, "monthly_pay_probability": 0.04,
     "monthly_default_probability": 0.01, "correlation": 0.3, "factor_loading": 0.5},
    {"name": "old_k_lists", "balance": 12.0, "age_months": 12,
     "monthly_pay_probability": [0.2, 0.1, 0.05, 0.03],
     "monthly_default_probability": [0.002, 0.01, 0.02, 0.02]},
    {"name": "pays_fast", "balance": 5.0, "age_months": 0, "monthly_pay_probability": 0.3},
]  # fmt: skip


def test_debtors_with_a_write_off_age(stat_seed) -> None:
    """W = 20: the lumps reach it in months 15, 8 and 20 (all within H = 30), and P(lost) is
    the default within t_W plus P(open after t_W)."""
    data = _scenario(WRITE_OFF, WRITE_OFF_DEBTORS)
    exact = _check_counts(data, stat_seed)
    for name in ("young", "old_k_lists"):  # the write-off is a real part of the loss
        assert exact[name]["lost"] - exact[name]["default"] > 0.05


def test_a_debtor_written_off_is_lost_in_the_month_it_reaches_w() -> None:
    data = _scenario(WRITE_OFF, WRITE_OFF_DEBTORS)
    data["simulation"]["paths"] = 3000
    t = run_traced(scenario_from_dict(data), block=0, n=3000)
    for j, month in enumerate((15, 8, 20)):
        open_before = t.trace["debtor_open"][j, month - 2] == 1
        assert (t.trace["debtor_events"][j, month - 1][open_before] != 0).all()
        assert (t.trace["debtor_open"][j, month - 1 :] == 0).all()


# ------------------------------------------------------------------------------------------------
# π = 1


def test_a_debtor_with_pay_probability_1_is_paid_in_month_1(stat_seed) -> None:
    debtors = [
        {"name": "sure", "balance": 10.0, "age_months": 7, "monthly_pay_probability": 1.0,
         "monthly_default_probability": 0.0},
        {"name": "sure_risky", "balance": 10.0, "age_months": 0, "monthly_pay_probability": 1.0,
         "monthly_default_probability": 0.05, "correlation": 0.3, "factor_loading": 0.5},
    ]  # fmt: skip
    data = _scenario({}, debtors)
    res = simulate(scenario_from_dict(copy.deepcopy(data)), seed=stat_seed)
    n, counts = data["simulation"]["paths"], debtor_counts(res)
    # "sure": paid on every path, in month 1; "sure_risky" too, unless it defaults (P = p)
    assert counts[0].tolist() == [0.0, n, n]
    assert counts[1, 0] + counts[1, 1] == n and counts[1, 1] == counts[1, 2]
    lo, hi = binom_acceptance(n, 0.05)
    assert lo <= counts[1, 0] <= hi
    t = run_traced(scenario_from_dict(data), block=0, n=2000, seed=stat_seed)
    assert (t.trace["debtor_events"][0, 0] == 1).all()
    assert (t.trace["debtor_events"][:, 0] != 0).all()
    assert (t.trace["debtor_open"] == 0).all()


# ------------------------------------------------------------------------------------------------
# N equal debtors with the pooled hazards, in run-off


def _equal_debtors(n_debtors: int, paths: int) -> dict[str, Any]:
    """A run-off book (R_0 = 0) of gross 100 at age 0, and N debtors of 100/N each at age 0 on
    the pool's hazards (the K-lists of the pool, its ρ and β): the same expected loss."""
    data = copy.deepcopy(BASE)
    data["buckets"].pop("gross")
    data["buckets"]["opening_by_age"] = [100.0]
    data["revenue"]["monthly"] = 0.0
    data["factor"]["persistence"] = 0.5
    data["simulation"].update({"paths": paths, "trajectory_paths": 0, "horizon_months": 24})
    data["debtors"] = [
        {"name": f"d{j}", "balance": 100.0 / n_debtors, "age_months": 0} for j in range(n_debtors)
    ]
    return data


def _p99_interval(x: np.ndarray, m: int) -> tuple[float, float]:
    """A distribution-free interval for the 0.99 quantile of x's law, failing with probability
    at most ``fail_prob(m)`` (order statistics of the binomial acceptance region; valid for
    laws with atoms too)."""
    xs = np.sort(x)
    lo, hi = binom_acceptance(x.size, 0.99, m)
    return float(xs[max(lo - 1, 0)]), float(xs[min(hi, x.size - 1)])


def test_equal_debtors_have_the_pools_mean_loss_and_a_tail_that_falls_toward_it(stat_seed):
    paths = 20_000
    runs = {
        n: simulate(scenario_from_dict(_equal_debtors(n, paths)), seed=stat_seed)
        for n in (1, 10, 100)
    }
    pool = runs[1].per_path["credit_loss_pool"]
    intervals = {}
    m = 3 + 4  # three means and four quantile intervals in this test
    for n, res in runs.items():
        # the pooled book does not move with the debtors (their streams are their own)
        np.testing.assert_array_equal(res.per_path["credit_loss_pool"], pool)
        debtors = res.per_path["credit_loss"] - res.per_path["credit_loss_pool"]
        diff = debtors - pool  # paired on the same factor path
        se = diff.std(ddof=1) / math.sqrt(paths)
        assert abs(diff.mean()) <= z_fail(m) * se, (n, diff.mean(), se)
        intervals[n] = _p99_interval(debtors, m)
    intervals["pool"] = _p99_interval(pool, m)
    # the p99 falls as N grows: each interval lies wholly above the next one
    assert intervals[1][0] > intervals[10][1] > 0, intervals
    assert intervals[10][0] > intervals[100][1], intervals
    # and toward the pooled book's: granular noise only adds to the tail
    assert intervals[100][1] >= intervals["pool"][0], intervals
    gap_10 = intervals[10][0] - intervals["pool"][1]
    gap_100 = intervals[100][1] - intervals["pool"][0]
    assert gap_100 < gap_10, intervals
