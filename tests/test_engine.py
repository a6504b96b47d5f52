"""The engine against exact answers: identities on every path and month (DESIGN 2.7), the
deterministic recursion, exact expectations at phi = 0 (2.8), and reproducibility (2.10)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import assert_identities, binom_acceptance, run_traced, sub_seeds, z_fail
from factories import SEASONAL, make
from scipy import special, stats

from simulator import simulate
from simulator.analytic import expected_trajectory
from simulator.engine import BLOCK_SIZE, ENGINE_VERSION, run_block
from simulator.hazards import default_hazard, solve_alpha
from simulator.params import compile_params
from simulator.results import MONTHLY_VARS, SimulationResult

IDENTITY_CASES = {
    "stochastic": {},
    "seasonal": {
        "scenario.as_of": __import__("datetime").date(2024, 6, 30),
        "collections.seasonality": SEASONAL,
        "revenue.seasonality": SEASONAL[::-1],
    },
    "write_off": {"defaults.write_off_after_months": 18},
    "cap_binds": {"collections.multiplier": 3.5, "collections.factor_loading": 1.5},
    "single_bucket": {
        "buckets.edges_months": [0],
        "buckets.gross": [500.0],
        "buckets.provision_rates": [0.1],
        "collections.monthly_rate": [0.2],
        "defaults.monthly_rate": [0.01],
    },
    "single_bucket_write_off": {
        "buckets.edges_months": [0],
        "buckets.gross": [500.0],
        "buckets.provision_rates": [0.1],
        "collections.monthly_rate": [0.2],
        "defaults.monthly_rate": [0.01],
        "defaults.write_off_after_months": 7,
    },
    "rates_at_bounds": {
        "collections.monthly_rate": [1.0, 0.0, 0.05, 0.0],
        "defaults.monthly_rate": [0.0, 0.0, 1.0, 0.03],
    },
}


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=list(IDENTITY_CASES))
def test_identities_hold_on_every_path_and_month(case):
    assert_identities(run_traced(make(IDENTITY_CASES[case]), block=2, n=1500, seed=3))


def test_per_path_outputs_agree_with_the_monthly_values():
    sc = make({"simulation.paths": 3000, "simulation.trajectory_paths": 3000})
    res = simulate(sc)
    traj, pp = res.trajectory, res.per_path
    H = res.horizon
    np.testing.assert_allclose(pp["collections"], traj["collections"].sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(pp["credit_loss"], traj["credit_loss"].sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(pp["charge"], traj["charge"].sum(axis=1), rtol=1e-9)
    np.testing.assert_array_equal(pp["cash_end"], traj["cash"][:, -1])
    np.testing.assert_array_equal(pp["min_cash"], traj["cash"].min(axis=1))
    below = traj["cash"] < sc.cash.floor
    first = np.where(below.any(axis=1), below.argmax(axis=1), H + 1)
    np.testing.assert_array_equal(pp["runway"], first)


NO_FACTOR = {
    "collections.factor_loading": 0.0,
    "defaults.correlation": 0.0,
    "revenue.volatility": 0.0,
}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"factor.persistence": 0.0},
        {"defaults.write_off_after_months": 20},
        {"collections.multiplier": 6.0},  # the cap 1 - d binds for the young buckets
        {
            "scenario.as_of": __import__("datetime").date(2023, 12, 31),
            "collections.seasonality": SEASONAL,
            "revenue.seasonality": SEASONAL,
        },
    ],
    ids=["plain", "phi0", "write_off", "capped", "seasonal"],
)
def test_no_factor_reproduces_the_deterministic_recursion(extra):
    sc = make({**NO_FACTOR, **extra, "simulation.paths": 50, "simulation.trajectory_paths": 50})
    res = simulate(sc)
    exact = expected_trajectory(sc)
    for var in ("gross", "collections", "credit_loss", "allowance", "charge", "cash"):
        path_values = res.trajectory[var]
        np.testing.assert_allclose(
            path_values,
            np.broadcast_to(exact[var].to_numpy(), path_values.shape),
            rtol=1e-12,
            atol=1e-9,
            err_msg=var,
        )
    for label in sc.labels:
        np.testing.assert_allclose(
            res.monthly[f"gross_{label}_mean"], exact[f"gross_{label}"], rtol=1e-12, atol=1e-9
        )


PHI0_CASES = {
    "plain": {"factor.persistence": 0.0},
    "seasonal": {
        "factor.persistence": 0.0,
        "scenario.as_of": __import__("datetime").date(2024, 3, 31),
        "collections.seasonality": SEASONAL,
        "revenue.seasonality": SEASONAL[::-1],
    },
    "cap_binds": {
        "factor.persistence": 0.0,
        "collections.multiplier": 3.0,
        "collections.factor_loading": 1.5,
        "defaults.correlation": 0.4,
    },
    "write_off": {"factor.persistence": 0.0, "defaults.write_off_after_months": 15},
}


@pytest.mark.parametrize("case", PHI0_CASES, ids=list(PHI0_CASES))
def test_phi0_means_agree_with_exact_expectations(case, stat_seed):
    sc = make({**PHI0_CASES[case], "simulation.paths": 40_000, "simulation.trajectory_paths": 0})
    res = simulate(sc, seed=stat_seed)
    exact = expected_trajectory(sc)
    m = res.monthly
    z_tol = z_fail(res.horizon)  # one assertion per variable covers the H months (Bonferroni)
    for var in ("gross", "collections", "credit_loss", "cash", "allowance"):
        z = (m[f"{var}_mean"] - exact[var]).to_numpy()[1:] / m[f"{var}_se"].to_numpy()[1:]
        assert np.all(np.abs(z) <= z_tol), f"{var}: max |z| = {np.abs(z).max():.2f} > {z_tol:.2f}"


def test_monthly_standard_errors_cover_the_exact_mean_at_their_nominal_rate(stat_seed):
    """The SE columns are the right size, neither too small nor too large: over R independent
    runs, |mean − exact| ≤ SE holds in a Binomial(R, P(|t| ≤ 1)) number of them. Cash at the
    horizon adds up many independent months (phi = 0), so its mean is close to normal."""
    sc = make(
        {"factor.persistence": 0.0, "simulation.paths": 1000, "simulation.trajectory_paths": 0}
    )
    exact = expected_trajectory(sc)["cash"].iloc[-1]
    runs = 200
    inside = 0
    for seed in sub_seeds(stat_seed, runs):
        m = simulate(sc, seed=seed, workers=1).monthly
        inside += int(abs(m["cash_mean"].iloc[-1] - exact) <= m["cash_se"].iloc[-1])
    p = 2 * stats.t.cdf(1.0, df=sc.simulation.paths - 1) - 1  # about 0.68
    lo, hi = binom_acceptance(runs, p)
    assert lo <= inside <= hi, (inside, (lo, hi), runs * p)


def test_cap_binds_in_the_cap_case():
    """The cap case really exercises the kink: h = 1 - d for some but not all draws."""
    tr = run_traced(make(PHI0_CASES["cap_binds"]), block=2, n=2000, seed=3).trace
    capped = np.isclose(tr["h"][0] + tr["d"][0], 1.0, rtol=0, atol=1e-15)
    assert 0.05 < capped.mean() < 0.95


@pytest.mark.parametrize("beta", [0.0, 0.4, 2.0, 8.0])
def test_average_collection_rate_is_c(beta, stat_seed):
    c = np.array([0.001, 0.03, 0.2, 0.5, 0.9])
    alpha = solve_alpha(c, beta)
    z = np.random.default_rng(stat_seed).standard_normal(400_000)
    draws = special.expit(alpha[:, None] - beta * z[None, :])
    mean = draws.mean(axis=1)
    se = draws.std(axis=1, ddof=1) / np.sqrt(z.size)
    if beta == 0.0:
        np.testing.assert_allclose(mean, c, rtol=1e-12)
    else:  # one assertion covers the c.size rates (Bonferroni)
        assert np.all(np.abs(mean - c) <= z_fail(c.size) * se), (mean - c) / se


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 0.9])
def test_average_default_rate_is_p(rho, stat_seed):
    p = np.array([0.0, 1e-4, 0.01, 0.2, 1.0])
    z = np.random.default_rng(stat_seed).standard_normal(400_000)
    d = np.broadcast_to(default_hazard(p, rho, z), (p.size, z.size))
    mean = d.mean(axis=1)
    se = d.std(axis=1, ddof=1) / np.sqrt(z.size)
    assert mean[0] == 0.0 and mean[-1] == 1.0
    # one assertion covers the p.size rates (Bonferroni)
    tol = z_fail(p.size) * se + 1e-15
    assert np.all(np.abs(mean - p) <= tol), (mean - p) / np.maximum(se, 1e-300)


def _per_path(res):
    return np.column_stack([res.per_path[k].astype(float) for k in sorted(res.per_path)])


def test_same_seed_identical_whatever_the_threads():
    sc = make({"simulation.paths": 3 * BLOCK_SIZE + 17, "simulation.trajectory_paths": 5000})
    one = simulate(sc, workers=1)
    two = simulate(sc, workers=2)
    with ThreadPoolExecutor(max_workers=3) as pool:
        three = simulate(sc, executor=pool)
    for other in (two, three):
        np.testing.assert_array_equal(_per_path(one), _per_path(other))
        for k in one.trajectory:
            np.testing.assert_array_equal(one.trajectory[k], other.trajectory[k])
        np.testing.assert_array_equal(one.monthly.to_numpy(), other.monthly.to_numpy())
    s1, s2 = one.summary(), two.summary()
    s1.pop("wall_seconds"), s2.pop("wall_seconds")
    assert s1 == s2


def test_different_seed_different_results():
    sc = make({"simulation.paths": 500})
    a, b = simulate(sc, seed=1), simulate(sc, seed=2)
    assert not np.array_equal(a.per_path["cash_end"], b.per_path["cash_end"])


def test_a_path_depends_only_on_seed_and_index():
    sc = make({"simulation.trajectory_paths": 100})
    small = simulate(sc, paths=100)
    large = simulate(sc, paths=BLOCK_SIZE + 100)
    np.testing.assert_array_equal(small.per_path["cash_end"], large.per_path["cash_end"][:100])


def test_trajectory_sample_is_bounded():
    sc = make({"simulation.paths": 9000, "simulation.trajectory_paths": 700})
    res = simulate(sc)
    assert res.trajectory["cash"].shape == (700, res.horizon + 1)
    np.testing.assert_array_equal(res.trajectory["cash"][:, -1], res.per_path["cash_end"][:700])


@pytest.mark.parametrize(
    "wrong",
    [(0, 0, -4296), (0, -1, 0), (-1, 0, 0)],
    ids=["too-few-paths", "too-few-months", "too-few-variables"],
)
def test_run_block_refuses_a_sample_array_it_would_overrun(wrong):
    # the compiled kernel does not check bounds: a wrong array must be refused before it runs
    sc = make({})
    prm = compile_params(sc)
    right = (len(MONTHLY_VARS) + len(sc.labels), sc.simulation.horizon_months + 1, 5000)
    shape = tuple(a + b for a, b in zip(right, wrong, strict=True))
    # block 1 writes paths 4096..4295 of the sample
    run_block(prm, 1, 200, 0, n_sample=200, sample_out=np.zeros(right))
    with pytest.raises(ValueError, match="sample_out must be"):
        run_block(prm, 1, 200, 0, n_sample=200, sample_out=np.zeros(shape))


def test_gathered_sample_holds_only_what_the_blocks_gave():
    # blocks run elsewhere return their parts; a result never shows uninitialised columns
    sc = make({"simulation.paths": 500, "simulation.trajectory_paths": 300})
    prm = compile_params(sc)
    block = run_block(prm, 0, 500, sc.simulation.seed, n_sample=10)
    res = SimulationResult.from_blocks(sc, [block], engine_version=ENGINE_VERSION)
    assert res.trajectory["cash"].shape == (10, sc.simulation.horizon_months + 1)
    np.testing.assert_array_equal(res.trajectory["cash"][:, -1], block.per_path["cash_end"][:10])
    assert np.isfinite(res.monthly["cash_p50"]).all()
