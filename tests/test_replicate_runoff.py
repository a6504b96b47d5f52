"""Implied rates over parameter replicates (DESIGN 2.14): exact as the count-weighted mean of the
rows' exact rates, otherwise one run-off whose path g takes the parameters of replicate g mod R.
Identical rows equal to the scenario give the plain implied rates bit for bit; the pooled run-off
agrees with separate run-offs of each row within the failure budget's Z SE (DESIGN 5) and does
not depend on the number of threads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import sub_seeds, z_fail
from factories import SEASONAL, make

from simulator import simulate, with_overrides
from simulator.analytic import (
    RUNOFF_BLOCK,
    RUNOFF_TOL,
    book_implied_over_replicates,
    implied_rates,
    implied_rates_over_replicates,
    runoff_implied_rates,
)
from simulator.analytic._book import _book
from simulator.analytic._runoff import _runoff, _runoff_block
from simulator.scenario import replicate_rows

SEASONS = {"scenario.as_of": dt.date(2024, 3, 31), "collections.seasonality": SEASONAL}

#: Three replicates that differ in every hazard parameter; the second has no factor loading
#: and no correlation (the plain branches of the hazards, on its paths only).
THREE = {
    "collections.monthly_rate[0]": [0.25, 0.32, 0.18],
    "collections.monthly_rate[3]": [0.02, 0.05, 0.01],
    "collections.multiplier": [1.0, 0.8, 1.3],
    "collections.factor_loading": [0.6, 0.0, 1.2],
    "defaults.monthly_rate[2]": [0.01, 0.02, 0.004],
    "defaults.monthly_rate[3]": [0.03, 0.06, 0.01],
    "defaults.correlation": [0.2, 0.0, 0.35],
}


def _rows(sc, table: dict) -> list[dict[str, float]]:
    return replicate_rows(sc, pd.DataFrame(table), "reps.csv")


def _same_as_scenario(sc, n_rows: int) -> pd.DataFrame:
    k = sc.n_buckets
    cols = {f"collections.monthly_rate[{i}]": sc.collections.monthly_rate[i] for i in range(k)}
    cols |= {f"defaults.monthly_rate[{i}]": sc.defaults.monthly_rate[i] for i in range(k)}
    cols |= {
        "collections.multiplier": sc.collections.multiplier,
        "collections.factor_loading": sc.collections.factor_loading,
        "defaults.correlation": sc.defaults.correlation,
    }
    return pd.DataFrame([cols] * n_rows)


def _assert_same(a, b) -> None:
    for key in ("rates", "rates_se", "loss_by_age", "loss_by_age_se"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    for key in ("lifetime_loss", "lifetime_loss_se", "unresolved", "unresolved_se", "method"):
        assert getattr(a, key) == getattr(b, key), key


def _weights(n_paths: int, n_rows: int) -> np.ndarray:
    """Each replicate's share of the run-off's paths: path g carries replicate g mod R."""
    return np.bincount(np.arange(n_paths) % n_rows, minlength=n_rows) / n_paths


# -- (a) identical rows equal to the scenario ---------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [{"factor.persistence": 0.0, **SEASONS}, {}, {"defaults.write_off_after_months": 20}],
    ids=["exact", "runoff", "runoff_write_off"],
)
def test_identical_rows_equal_to_the_scenario_give_the_plain_implied_rates_bit_for_bit(extra):
    sc = make({**extra, "simulation.runoff_paths": 3000})
    rows = replicate_rows(sc, _same_as_scenario(sc, 5), "t")
    plain = implied_rates(sc, workers=2)
    mixed = implied_rates_over_replicates(sc, rows, workers=2)
    _assert_same(mixed, plain)
    assert mixed.stream == plain.stream and mixed.paths == plain.paths


def test_identical_rows_on_another_stream_agree_within_the_se(stat_seed):
    sc = make({"simulation.runoff_paths": 6000, "simulation.seed": stat_seed})
    rows = replicate_rows(sc, _same_as_scenario(sc, 4), "t")
    plain = runoff_implied_rates(sc)
    other = implied_rates_over_replicates(sc, rows, stream=(7, 1))
    assert other.stream == (7, 1) and not np.array_equal(other.rates, plain.rates)
    se = np.hypot(other.rates_se, plain.rates_se)  # independent streams
    assert np.all(np.abs(other.rates - plain.rates) <= z_fail(sc.n_buckets) * se)


def test_a_run_with_identical_rows_reports_the_plain_implied_rates():
    sc = make({"simulation.paths": 400, "simulation.runoff_paths": 1000})
    reps = _same_as_scenario(sc, 2)
    mixed = simulate(sc, replicates=reps).summary()
    plain = simulate(sc).summary()
    assert mixed["implied_rates"] == plain["implied_rates"]
    assert mixed["implied_lifetime_loss"] == plain["implied_lifetime_loss"]


# -- (b) exact: the count-weighted mean of the rows' exact rates --------------------------------


def test_exact_mixture_is_the_count_weighted_mean_of_the_rows_exact_rates():
    sc = make({"factor.persistence": 0.0, **SEASONS})
    table = {
        "collections.monthly_rate[1]": [0.12, 0.2, 0.12],
        "collections.factor_loading": [0.6, 1.1, 0.6],
        "defaults.monthly_rate[0]": [0.002, 0.004, 0.002],
        "defaults.correlation": [0.2, 0.0, 0.2],
    }
    rows = _rows(sc, table)
    mixed = implied_rates_over_replicates(sc, rows)
    assert mixed.method == "exact" and mixed.paths is None and mixed.stream == ()
    first, second = (implied_rates(with_overrides(sc, rows[r])) for r in (0, 1))
    assert first.method == second.method == "exact"
    for key in ("rates", "loss_by_age"):
        want = 2 / 3 * getattr(first, key) + 1 / 3 * getattr(second, key)
        np.testing.assert_allclose(getattr(mixed, key), want, rtol=0, atol=1e-12, err_msg=key)
        assert np.all(getattr(mixed, key + "_se") == 0.0)
    want = 2 / 3 * first.lifetime_loss + 1 / 3 * second.lifetime_loss
    assert mixed.lifetime_loss == pytest.approx(want, rel=1e-12)
    assert not np.allclose(first.rates, second.rates, rtol=1e-3)  # the rows do differ


def test_replicates_without_factor_dependence_are_exact_at_any_persistence():
    sc = make({"collections.factor_loading": 0.0, "defaults.correlation": 0.0})
    rows = _rows(sc, {"collections.multiplier": [0.7, 1.4]})
    mixed = implied_rates_over_replicates(sc, rows)
    assert mixed.method == "exact"
    want = sum(0.5 * implied_rates(with_overrides(sc, row)).rates for row in rows)
    np.testing.assert_allclose(mixed.rates, want, rtol=0, atol=1e-12)


# -- (c) run-off: one pooled run-off against separate run-offs of each row ----------------------


@pytest.mark.parametrize(
    "extra",
    [{}, {**SEASONS, "defaults.write_off_after_months": 18}],
    ids=["absorbing", "seasonal_write_off"],
)
def test_pooled_runoff_agrees_with_separate_runoffs_of_each_row(extra, stat_seed):
    paths = 9001  # R does not divide it: replicate 0 carries one path more
    sc = make({**extra, "simulation.runoff_paths": paths, "simulation.seed": stat_seed})
    rows = _rows(sc, THREE)
    pooled = implied_rates_over_replicates(sc, rows)
    assert pooled.method == "runoff" and pooled.paths == paths
    w = _weights(paths, len(rows))
    seeds = sub_seeds(stat_seed, len(rows))
    parts = [
        runoff_implied_rates(with_overrides(sc, row), paths=6000, seed=seeds[r], stream=(9,))
        for r, row in enumerate(rows)
    ]
    k = sc.n_buckets
    for key in ("rates", "lifetime_loss"):
        want = sum(wr * getattr(part, key) for wr, part in zip(w, parts, strict=True))
        # the pooled SE over-states its error (stratified paths); the parts are independent
        var = sum((wr * getattr(part, key + "_se")) ** 2 for wr, part in zip(w, parts, strict=True))
        se = np.sqrt(getattr(pooled, key + "_se") ** 2 + var)
        assert np.all(se > 0)
        z = (getattr(pooled, key) - want) / se
        assert np.all(np.abs(z) <= z_fail(k + 1)), f"{key}: max |z| = {np.max(np.abs(z)):.2f}"
    # the rows differ by many SEs: a run-off that gave every path one row's parameters would
    # fail above
    want = sum(wr * part.rates for wr, part in zip(w, parts, strict=True))
    for part in parts:
        assert np.max(np.abs(part.rates - want) / pooled.rates_se) > 2 * z_fail(k + 1)


def test_path_g_of_the_runoff_carries_replicate_g_mod_r():
    """Without factor dependence every path of a replicate is the same, so the run-off's mean is
    the exact rates weighted by each replicate's count of paths, to the stopping tolerance. The
    paths span two blocks: counting by the index within a block would give other weights."""
    sc = make({"collections.factor_loading": 0.0, "defaults.correlation": 0.0})
    rows = _rows(sc, {"collections.multiplier": [0.6, 1.0, 1.5]})
    book = _book(sc, rows=rows)
    paths = RUNOFF_BLOCK + 5
    pooled = _runoff(book, paths, 1, (1,), 2)
    exact = [implied_rates(with_overrides(sc, row)) for row in rows]
    w = _weights(paths, 3)
    assert w.tolist() != np.full(3, 1 / 3).tolist()
    want = sum(wr * e.rates for wr, e in zip(w, exact, strict=True))
    np.testing.assert_allclose(pooled.rates, want, rtol=0, atol=RUNOFF_TOL)
    by_block = np.bincount(np.arange(RUNOFF_BLOCK) % 3) + np.bincount(np.arange(5) % 3)
    wrong = sum(n / paths * e.rates for n, e in zip(by_block, exact, strict=True))
    assert np.max(np.abs(want - wrong)) > 10 * RUNOFF_TOL  # the check can tell them apart


@pytest.mark.parametrize("extra", [{}, SEASONS], ids=["absorbing", "seasonal"])
def test_each_path_is_the_plain_runoff_of_its_replicates_row_on_that_path(extra):
    """Path by path (block 1, so the global index counts): the pooled run-off's values on the
    paths of replicate r are those of the plain run-off of row r, bit for bit, also where a row
    has no factor loading or no correlation (the plain branches, on its paths only)."""
    sc = make(extra)
    rows = _rows(sc, THREE)
    n, block = 300, 1
    pooled, _ = _runoff_block(_book(sc, rows=rows), 5, block, n, (1,))
    replicate = (block * RUNOFF_BLOCK + np.arange(n)) % len(rows)
    for r, row in enumerate(rows):
        plain, _ = _runoff_block(_book(with_overrides(sc, row)), 5, block, n, (1,))
        mine = replicate == r
        np.testing.assert_array_equal(pooled[:, mine], plain[:, mine], err_msg=f"replicate {r}")
        assert not np.array_equal(pooled[:, ~mine], plain[:, ~mine])


def test_runoff_mixture_takes_at_least_one_path_per_replicate():
    sc = make()
    rows = _rows(sc, {"collections.multiplier": np.linspace(0.5, 1.5, 40).tolist()})
    mixed = implied_rates_over_replicates(sc, rows, paths=10)
    assert mixed.paths == 40


# -- (d) threads -----------------------------------------------------------------------------


def test_runoff_mixture_does_not_depend_on_threads():
    sc = make({"simulation.runoff_paths": 2 * RUNOFF_BLOCK + 100})
    rows = _rows(sc, THREE)
    one = implied_rates_over_replicates(sc, rows, workers=1)
    two = implied_rates_over_replicates(sc, rows, workers=2)
    _assert_same(one, two)
    assert one.months_mean == two.months_mean and one.months_max == two.months_max


# -- (e) a replicate whose absorbing last bucket collects nothing ---------------------------------

#: Two buckets; the open last bucket collects 1 %/month, or nothing in the second replicate.
TWO_BUCKETS = {
    "buckets.edges_months": [0, 6],
    "buckets.gross": [600.0, 50.0],
    "buckets.provision_rates": [0.1, 1.0],
    "collections.monthly_rate": [0.1, 0.01],
    "defaults.monthly_rate": [0.001, 0.0],
}
DEAD_LAST = {"collections.monthly_rate[1]": [0.01, 0.0]}


def test_exact_mixture_with_a_stranded_replicate():
    sc = make({**TWO_BUCKETS, "factor.persistence": 0.0})
    rows = _rows(sc, DEAD_LAST)
    mixed = implied_rates_over_replicates(sc, rows)
    alive, dead = (implied_rates(with_overrides(sc, row)) for row in rows)
    assert alive.stranded == () and dead.stranded == ("6m+",)
    assert mixed.stranded == ("6m+",)
    assert alive.unresolved == 0.0 and dead.unresolved > 0.0
    assert mixed.unresolved == pytest.approx(0.5 * dead.unresolved, rel=1e-12)
    np.testing.assert_allclose(mixed.rates, 0.5 * (alive.rates + dead.rates), rtol=0, atol=1e-12)
    assert mixed.rates[1] == pytest.approx(0.5 * alive.rates[1] + 0.5, rel=1e-12)


def test_runoff_mixture_with_a_stranded_replicate(stat_seed):
    paths = 4000
    sc = make({**TWO_BUCKETS, "simulation.runoff_paths": paths, "simulation.seed": stat_seed})
    rows = _rows(sc, DEAD_LAST)
    mixed = implied_rates_over_replicates(sc, rows)
    assert mixed.method == "runoff" and mixed.stranded == ("6m+",)
    # the stranded replicate's paths run to the cap; its last bucket is lost for certain
    assert mixed.months_max == 600
    seeds = sub_seeds(stat_seed, 2)
    alive, dead = (
        runoff_implied_rates(with_overrides(sc, row), paths=paths, seed=seeds[r], stream=(9,))
        for r, row in enumerate(rows)
    )
    assert dead.stranded == ("6m+",) and dead.rates[1] == 1.0 and dead.rates_se[1] == 0.0
    k = sc.n_buckets
    for got, got_se, a, a_se, d, d_se in (
        (mixed.rates, mixed.rates_se, alive.rates, alive.rates_se, dead.rates, dead.rates_se),
        (
            mixed.unresolved,
            mixed.unresolved_se,
            alive.unresolved,
            alive.unresolved_se,
            dead.unresolved,
            dead.unresolved_se,
        ),
    ):
        se = np.sqrt(np.square(got_se) + 0.25 * np.square(a_se) + 0.25 * np.square(d_se))
        assert np.all(se > 0)
        assert np.all(np.abs(got - 0.5 * (a + d)) <= z_fail(k + 1) * se)
    assert dead.unresolved > 10 * mixed.unresolved_se  # what the stranded replicate leaves open


def test_a_plain_books_book_implied_over_replicates_is_the_one_runoff():
    sc = make({"simulation.runoff_paths": 2000})
    rows = _rows(sc, THREE)
    book = book_implied_over_replicates(sc, rows, workers=2)
    assert book.segments == {} and book.debtor_names == ()
    _assert_same(book.book, implied_rates_over_replicates(sc, rows, workers=2))
    assert book.book.stream == (1,) and book.book.paths == 2000
