"""Absorbing chains: closed-form answers, refusal of invalid matrices, and the chain of the
standard model over monthly ages against the exact lifetime loss (DESIGN 2.8)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make

from simulator.analytic import absorbing_chain, chain_from_scenario, implied_rates, lifetime_loss


def test_single_transient_state():
    stay, collect, lose = 0.7, 0.25, 0.05
    chain = absorbing_chain([[stay, collect, lose]], labels=["overdue"])
    leave = 1 - stay
    np.testing.assert_allclose(chain.fundamental, [[1 / leave]])
    np.testing.assert_allclose(chain.absorption.loc["overdue"], [collect / leave, lose / leave])
    assert chain.expected_months["overdue"] == pytest.approx(1 / leave)
    assert chain.allowance([200.0]) == pytest.approx(200.0 * lose / leave)
    table = chain.runoff([200.0], months=6)
    months = np.arange(1, 7)
    np.testing.assert_allclose(table["losses"], 200.0 * stay ** (months - 1) * lose)
    np.testing.assert_allclose(table["collections"], 200.0 * stay ** (months - 1) * collect)
    np.testing.assert_allclose(table["remaining"], 200.0 * stay**months)


def test_two_state_chain_solved_by_hand():
    # current -> current 0.5, -> overdue 0.2, collected 0.28, lost 0.02
    # overdue -> current 0.1 (a cure), -> overdue 0.6, collected 0.2, lost 0.1
    P = [[0.5, 0.2, 0.28, 0.02], [0.1, 0.6, 0.2, 0.1]]
    chain = absorbing_chain(P, labels=["current", "overdue"])
    # I - Q = [[0.5, -0.2], [-0.1, 0.4]], determinant 0.5 * 0.4 - 0.2 * 0.1 = 0.18
    N = np.array([[0.4, 0.2], [0.1, 0.5]]) / 0.18
    np.testing.assert_allclose(chain.fundamental, N, rtol=1e-14)
    lost = np.array([(0.4 * 0.02 + 0.2 * 0.1) / 0.18, (0.1 * 0.02 + 0.5 * 0.1) / 0.18])
    np.testing.assert_allclose(chain.loss_rates, lost, rtol=1e-14)
    np.testing.assert_allclose(chain.absorption.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(chain.expected_months, [0.6 / 0.18, 0.6 / 0.18], rtol=1e-14)
    opening = [1000.0, 400.0]
    assert chain.allowance(opening) == pytest.approx(1000 * lost[0] + 400 * lost[1], rel=1e-14)
    # month by month: the losses add up to the allowance, collections to the rest
    table = chain.runoff(opening)
    assert table["remaining"].iloc[-1] <= 1e-12 * 1400
    assert table["losses"].sum() == pytest.approx(chain.allowance(opening), rel=1e-10)
    assert table["collections"].sum() + table["losses"].sum() == pytest.approx(1400, rel=1e-10)
    # first month by hand
    first = table.iloc[0]
    assert first["collections"] == pytest.approx(1000 * 0.28 + 400 * 0.2)
    assert first["losses"] == pytest.approx(1000 * 0.02 + 400 * 0.1)
    assert first["balance_current"] == pytest.approx(1000 * 0.5 + 400 * 0.1)
    assert first["balance_overdue"] == pytest.approx(1000 * 0.2 + 400 * 0.6)


def test_full_square_matrix_is_accepted():
    full = [[0.5, 0.2, 0.28, 0.02], [0.1, 0.6, 0.2, 0.1], [0, 0, 1, 0], [0, 0, 0, 1]]
    short = absorbing_chain(full[:2])
    np.testing.assert_allclose(absorbing_chain(full).fundamental, short.fundamental)


@pytest.mark.parametrize(
    "matrix, message",
    [
        ([[0.5, 0.2, 0.28, 0.01], [0.1, 0.6, 0.2, 0.1]], "row 0 ('s0') sums to 0.99, not 1"),
        ([[0.5, 0.2, 0.28, 0.02], [0.1, 0.6, 0.2, 0.1 + 2e-9]], "row 1 ('s1') sums to"),
        ([[1.1, -0.1, 0.0]], "negative probability"),
        ([[0.5, np.nan, 0.5]], "not a finite number"),
        ([[0.5, 0.5]], "(n, n + 2)"),
        ([[0.6, 0.4, 0.0, 0.0], [0.3, 0.7, 0.0, 0.0]], "absorption is not certain"),
        ([[0.2, 0.0, 0.0, 0.5, 0.3], [0.0, 0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0, 0]], "['s1', 's2']"),
        ([[0.5, 0.3, 0.2], [0.1, 0.9, 0.0], [0.0, 0.0, 1.0]], "absorbing states"),
        ([[0.5, [0.2], 0.3]], "rectangular table of numbers"),
    ],
    ids=[
        "row_short",
        "row_long_beyond_1e-9",
        "negative",
        "nan",
        "shape",
        "closed_pair",
        "closed_subset_named",
        "bad_absorbing_rows",
        "ragged",
    ],
)
def test_invalid_matrices_are_refused_with_a_clear_message(matrix, message):
    with pytest.raises(ValueError) as err:
        absorbing_chain(matrix)
    assert message in str(err.value)


# current -> current 0.5, -> 30 dpd 0.2, collected 0.29, lost 0.01
# 30 dpd  -> 30 dpd 0.4, -> 60 dpd 0.3, collected 0.25, lost 0.05
# 60 dpd  -> 60 dpd 0.5, collected 0.2, lost 0.3 (no cures: Q is upper triangular)
DELINQUENCY = [
    [0.5, 0.2, 0.0, 0.29, 0.01],
    [0.0, 0.4, 0.3, 0.25, 0.05],
    [0.0, 0.0, 0.5, 0.2, 0.3],
]
# I - Q = [[0.5, -0.2, 0], [0, 0.6, -0.3], [0, 0, 0.5]]; its inverse, entry by entry:
# N_ii = 1 / (1 - q_ii); N_12 = 0.2 / (0.5 * 0.6); N_23 = 0.3 / (0.6 * 0.5);
# N_13 = 0.2 * 0.3 / (0.5 * 0.6 * 0.5)
N_BY_HAND = np.array([[2.0, 2 / 3, 0.4], [0.0, 5 / 3, 1.0], [0.0, 0.0, 2.0]])
# B = N R: lost = N (0.01, 0.05, 0.3), collected = N (0.29, 0.25, 0.2); months = N 1
LOST_BY_HAND = np.array([2 * 0.01 + 2 / 3 * 0.05 + 0.4 * 0.3, 5 / 3 * 0.05 + 0.3, 2 * 0.3])
COLLECTED_BY_HAND = np.array([2 * 0.29 + 2 / 3 * 0.25 + 0.4 * 0.2, 5 / 3 * 0.25 + 0.2, 2 * 0.2])
MONTHS_BY_HAND = np.array([2 + 2 / 3 + 0.4, 5 / 3 + 1, 2.0])


def test_three_state_delinquency_chain_solved_by_hand():
    chain = absorbing_chain(DELINQUENCY, labels=["current", "30dpd", "60dpd"])
    np.testing.assert_allclose(chain.fundamental, N_BY_HAND, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(chain.loss_rates, LOST_BY_HAND, rtol=1e-14)
    np.testing.assert_allclose(chain.absorption["collected"], COLLECTED_BY_HAND, rtol=1e-14)
    np.testing.assert_allclose(LOST_BY_HAND + COLLECTED_BY_HAND, 1.0, rtol=1e-14)
    np.testing.assert_allclose(chain.expected_months, MONTHS_BY_HAND, rtol=1e-14)
    assert list(chain.expected_months.index) == ["current", "30dpd", "60dpd"]
    # 13/75, 23/60 and 3/5 as fractions
    np.testing.assert_allclose(LOST_BY_HAND, [13 / 75, 23 / 60, 3 / 5], rtol=1e-14)
    opening = [600.0, 300.0, 100.0]
    assert chain.allowance(opening) == pytest.approx(
        600 * 13 / 75 + 300 * 23 / 60 + 100 * 3 / 5, rel=1e-14
    )
    # the run-off month by month: month 1 and 2 by hand, and the totals are B's
    table = chain.runoff(opening)
    first, second = table.iloc[0], table.iloc[1]
    assert first["losses"] == pytest.approx(600 * 0.01 + 300 * 0.05 + 100 * 0.3)
    assert first["balance_60dpd"] == pytest.approx(300 * 0.3 + 100 * 0.5)
    month1 = np.array([600 * 0.5, 600 * 0.2 + 300 * 0.4, 300 * 0.3 + 100 * 0.5])
    assert second["collections"] == pytest.approx(month1 @ [0.29, 0.25, 0.2])
    assert table["losses"].sum() == pytest.approx(chain.allowance(opening), rel=1e-10)
    assert table["collections"].sum() == pytest.approx(
        np.dot(opening, COLLECTED_BY_HAND), rel=1e-10
    )


def test_rows_within_1e9_of_stochastic_are_accepted_and_used_as_given():
    """Rows off by 5e-10 pass validation; the answers move by no more than that much."""
    one = absorbing_chain([[0.5, 0.3, 0.2 + 5e-10]])
    assert one.loss_rates.iloc[0] == pytest.approx((0.2 + 5e-10) / 0.5, rel=1e-14)
    off = [row.copy() for row in DELINQUENCY]
    off[0][4] -= 5e-10  # row 0 sums to 1 - 5e-10
    off[2][3] += 5e-10  # row 2 sums to 1 + 5e-10
    chain = absorbing_chain(off)
    np.testing.assert_allclose(chain.fundamental, N_BY_HAND, rtol=1e-14, atol=1e-15)
    # B = N R with R as given: lost moves by -5e-10 N[:, 0], collected by +5e-10 N[:, 2]
    np.testing.assert_allclose(chain.loss_rates, LOST_BY_HAND - 5e-10 * N_BY_HAND[:, 0], rtol=1e-13)
    np.testing.assert_allclose(
        chain.absorption["collected"], COLLECTED_BY_HAND + 5e-10 * N_BY_HAND[:, 2], rtol=1e-13
    )
    # the full square form with absorbing rows just as close to exact is the same chain
    full = [*off, [0, 0, 0, 1 - 5e-10, 0], [0, 0, 0, 0, 1 + 5e-10]]
    np.testing.assert_array_equal(absorbing_chain(full).loss_rates, chain.loss_rates)


def test_bad_opening_balance_and_labels_are_refused():
    chain = absorbing_chain([[0.5, 0.3, 0.2]])
    with pytest.raises(ValueError, match="opening balance"):
        chain.allowance([1.0, 2.0])
    with pytest.raises(ValueError, match="opening balance"):
        chain.runoff([-1.0])
    with pytest.raises(ValueError, match="labels"):
        absorbing_chain([[0.5, 0.3, 0.2]], labels=["a", "b"])


@pytest.mark.parametrize("write_off", [None, 16], ids=["absorbing", "write_off"])
def test_chain_over_ages_gives_the_exact_lifetime_loss(write_off):
    """Cyert-Davidson-Thompson: the chain over monthly ages absorbs into 'lost' with the
    probability L of the 12-periodic recursion (here without seasonality, so every month)."""
    sc = make({"factor.persistence": 0.0, "defaults.write_off_after_months": write_off})
    chain = chain_from_scenario(sc)
    L = lifetime_loss(sc)
    for k in range(12):
        np.testing.assert_allclose(chain.loss_rates.to_numpy(), L[:, k], rtol=1e-12, atol=1e-15)
    opening = np.repeat(
        np.array(sc.buckets.gross) / np.diff([*sc.buckets.edges_months, len(L)]),
        np.diff([*sc.buckets.edges_months, len(L)]),
    )
    assert chain.allowance(opening) == pytest.approx(implied_rates(sc).lifetime_loss, rel=1e-12)


def test_chain_over_ages_needs_a_time_homogeneous_model():
    import datetime as dt

    seasonal = make(
        {
            "factor.persistence": 0.0,
            "scenario.as_of": dt.date(2024, 1, 31),
            "collections.seasonality": [1.0] * 11 + [2.0],
        }
    )
    with pytest.raises(ValueError, match="time-homogeneous"):
        chain_from_scenario(seasonal)
    with pytest.raises(ValueError, match="independent months"):
        chain_from_scenario(make())
