"""Solving alpha (DESIGN 2.3) for many parameter replicates at once (DESIGN 2.14): the
quadrature takes the integrand compiled by numba, with the same numbers bit for bit as the
Python integrand (the plain run's solver), and each (c_b, beta) is solved once per process."""

from __future__ import annotations

import numpy as np
import pandas as pd
from factories import make

from simulator import hazards, with_overrides
from simulator._integrand import compiled_integrand
from simulator.params import compile_params
from simulator.scenario import replicate_rows


def test_the_compiled_integrand_gives_the_python_quadrature_bit_for_bit():
    compiled = compiled_integrand()
    rng = np.random.default_rng(5)
    alphas = np.concatenate([rng.normal(0.0, 4.0, 300), [-30.0, -8.0, 0.0, 8.0, 30.0]])
    betas = np.concatenate([rng.uniform(0.01, 3.0, 300), [0.1, 5.0, 1.0, 5.0, 0.1]])
    for a, b in zip(alphas.tolist(), betas.tolist(), strict=True):
        fast = hazards.logistic_normal_mean(a, b, integrand=compiled)
        assert fast == hazards.logistic_normal_mean(a, b), (a, b)


def test_many_alphas_at_once_are_those_solved_one_at_a_time(monkeypatch):
    monkeypatch.setattr(hazards, "_SOLVED", {})
    routes = []
    solve_one = hazards._alpha

    def spy(cb, beta, *, integrand=None):
        routes.append(integrand is not None)
        return solve_one(cb, beta, integrand=integrand)

    monkeypatch.setattr(hazards, "_alpha", spy)
    rng = np.random.default_rng(6)
    n = hazards.COMPILED_FROM // 4 + 1
    c = rng.uniform(0.0005, 0.9, (n, 4))
    c[0] = [0.0, 1.0, 0.3, 0.3]  # the ends, and a pair repeated (solved once)
    beta = rng.uniform(0.0, 2.0, n)
    beta[1] = 0.0
    many = hazards.solve_alpha(c, beta, compiled=compiled_integrand)
    assert routes and all(routes) and len(routes) == 4 * n - 1
    one_by_one = np.array([[solve_one(x, b) for x in row] for row, b in zip(c, beta, strict=True)])
    np.testing.assert_array_equal(many, one_by_one)
    assert many[0, 0] == -np.inf and many[0, 1] == np.inf
    routes.clear()
    np.testing.assert_array_equal(hazards.solve_alpha(c[2], beta[2]), one_by_one[2])
    assert routes == []  # remembered


def test_replicates_compile_the_alpha_each_row_has_alone(monkeypatch):
    sc = make()
    n = hazards.COMPILED_FROM // sc.n_buckets + 1
    rng = np.random.default_rng(7)
    table = {
        "collections.monthly_rate[0]": rng.uniform(0.1, 0.4, n),
        "collections.factor_loading": rng.uniform(0.2, 1.0, n),
    }
    rows = replicate_rows(sc, pd.DataFrame(table), "reps.csv")
    monkeypatch.setattr(hazards, "_SOLVED", {})
    reps = compile_params(sc, rows).replicates
    for r in (0, n // 2, n - 1):
        monkeypatch.setattr(hazards, "_SOLVED", {})  # solved again, one row: the Python route
        alone = compile_params(with_overrides(sc, rows[r]))
        np.testing.assert_array_equal(reps.alpha[r, 0], alone.alpha)


def test_the_remembered_alpha_are_bounded_oldest_first(monkeypatch):
    monkeypatch.setattr(hazards, "_SOLVED", {})
    monkeypatch.setattr(hazards, "_SOLVED_MAX", 3)
    c = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    alpha = hazards.solve_alpha(c, 0.5)
    assert list(hazards._SOLVED) == [(0.3, 0.5), (0.4, 0.5), (0.5, 0.5)]
    np.testing.assert_array_equal(alpha, [hazards._alpha(x, 0.5) for x in c])
