"""The engine on a book of segments and named debtors (DESIGN 2.12, 2.13) against exact answers:
the identities of 2.7 per segment and in total on every path and month, the random streams of
2.10 (adding a debtor or a segment leaves every path's ``Z`` and the pooled book unchanged), the
segment factor ``Y`` (mean 0, variance 1, lag-1 autocorrelation φ, correlation ``sqrt(w)`` with
``Z``), and the memory guard counting S segments, their ages and J debtors (3.2).

The split-into-identical-segments check of 2.12 is in ``test_segments_book.py``; the debtors'
exact probabilities of 2.13 in ``test_debtors_engine.py``.
"""

from __future__ import annotations

import copy
import tracemalloc
from typing import Any

import numpy as np
import pytest
from conftest import assert_identities, debtor_counts, run_traced, z_fail
from factories import BASE, SEASONAL
from test_segments_book import SEGMENTED

from simulator import simulate
from simulator.engine import BLOCK_SIZE, block_memory, estimate_memory, run_block
from simulator.params import compile_params
from simulator.scenario import scenario_from_dict, with_overrides


def _book(data: dict[str, Any], overrides: dict[str, Any] | None = None):
    sc = scenario_from_dict(copy.deepcopy(data), source="<test>")
    return with_overrides(sc, overrides) if overrides else sc


# ------------------------------------------------------------------------------------------------
# The identities of 2.7, per segment and in total, with the debtors' terms

#: Variants of the segmented book; each keeps debtors that pay, default, cross bucket edges,
#: carry their own provision rate and (city_a, in gov with W = 36, aged 8) reach a write-off age.
IDENTITY_CASES: dict[str, dict[str, Any]] = {
    "segments_and_debtors": {},
    "cap_binds": {
        "segments.ent.collections.multiplier": 3.0,
        "segments.ent.collections.factor_loading": 1.5,
        "debtors.co_b.monthly_pay_probability": 0.5,
        "debtors.co_b.factor_loading": 2.0,
    },
    "seasonal_write_offs": {
        "scenario.as_of": __import__("datetime").date(2024, 6, 30),
        "collections.seasonality": SEASONAL,
        "segments.ent.defaults.write_off_after_months": 18,
        "debtors.co_c.age_months": 10,
    },
    "realized_billings": {"revenue.credit_billings": [50.0 + t for t in range(30)]},
    "factor_weights_0_and_1": {
        "segments.gov.factor_weight": 0.0,
        "segments.ent.factor_weight": 1.0,
    },
}


def _debtors_only() -> dict[str, Any]:
    """The factories' book with the segmented book's debtors and no segments."""
    data = copy.deepcopy(BASE)
    data["defaults"]["write_off_after_months"] = 24
    data["debtors"] = [{k: v for k, v in d.items() if k != "segment"} for d in SEGMENTED["debtors"]]
    return data


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=list(IDENTITY_CASES))
def test_identities_hold_per_segment_and_in_total(case) -> None:
    t = run_traced(_book(SEGMENTED, IDENTITY_CASES[case]), block=1, n=1200, seed=5)
    assert_identities(t)
    # the case exercises what it is about: debtors pay, are lost, and stay open
    ev = t.trace["debtor_events"]
    assert (ev == 1).any() and (ev == 2).any() and t.trace["debtor_open"][:, 15].any()


def test_identities_hold_with_debtors_and_no_segments() -> None:
    t = run_traced(_book(_debtors_only()), block=0, n=1200, seed=9)
    assert_identities(t)
    assert (t.trace["debtor_events"] == 2).any()


def test_a_write_off_of_a_debtor_is_seen() -> None:
    """city_a (gov, W = 36, aged 8, horizon 30) never reaches W; aged 10 with W = 20 it does,
    in month 10, and the identities hold with that write-off."""
    sc = _book(SEGMENTED, {"segments.gov.defaults.write_off_after_months": 20,
                           "debtors.city_a.age_months": 10})  # fmt: skip
    t = run_traced(sc, block=0, n=1500, seed=2)
    assert_identities(t)
    j = compile_params(sc).debtors.names.index("city_a")
    open_before = t.trace["debtor_open"][j, 8] == 1
    ended = t.trace["debtor_events"][j, 9][open_before]
    # every lump open at the start of month 10 ends in it: paid (1), or lost (2: defaulted or
    # written off at W)
    assert open_before.any() and (ended != 0).all() and (ended == 2).any()
    assert (t.trace["debtor_open"][j, 9:] == 0).all()


@pytest.mark.parametrize(
    "where",
    ["charge", "debtor_event", "segment_gross", "segment_loss"],
)
def test_the_identities_catch_a_wrong_number(where) -> None:
    """The check can fail: one number off on one path and month breaks an identity."""
    t = run_traced(_book(SEGMENTED), block=1, n=300, seed=5)
    if where == "charge":
        t.series["charge"][7, 11] += 1e-6
    elif where == "debtor_event":  # a paid lump reported as lost
        j, m, p = np.argwhere(t.trace["debtor_events"] == 1)[0]
        t.trace["debtor_events"][j, m, p] = 2.0
    elif where == "segment_gross":
        t.series["sg_gov"][9, 3] *= 1 + 1e-9
    else:
        t.per_path["credit_loss_ent"][4] += 1e-6
    with pytest.raises(AssertionError):
        assert_identities(t)


# ------------------------------------------------------------------------------------------------
# Random streams (2.10): extensions never touch Z or the pooled book


def test_adding_a_debtor_leaves_z_and_the_pooled_book_unchanged() -> None:
    plain = _book(BASE, {"simulation.paths": 2 * BLOCK_SIZE + 100})
    data = copy.deepcopy(BASE)
    data["simulation"]["paths"] = 2 * BLOCK_SIZE + 100
    data["debtors"] = [
        {"name": "city_a", "balance": 80.0, "age_months": 4, "correlation": 0.3},
        {"name": "co_b", "balance": 30.0, "age_months": 0},
    ]
    with_debtors = _book(data)
    a, b = run_traced(plain, block=1, n=700), run_traced(with_debtors, block=1, n=700)
    np.testing.assert_array_equal(a.trace["z"], b.trace["z"])
    np.testing.assert_array_equal(a.series["revenue"], b.series["revenue"])
    for key in ("h", "d", "coll_b", "def_b", "migration", "write_offs"):
        np.testing.assert_array_equal(a.trace[key], b.trace[key], err_msg=key)
    # over whole runs: the pooled book's loss with the debtors is the book's loss without
    ra, rb = simulate(plain), simulate(with_debtors)
    np.testing.assert_array_equal(rb.per_path["credit_loss_pool"], ra.per_path["credit_loss"])
    assert (rb.per_path["credit_loss"] >= rb.per_path["credit_loss_pool"]).all()
    assert (rb.per_path["credit_loss"] > rb.per_path["credit_loss_pool"]).any()


def test_adding_a_debtor_or_a_segment_leaves_every_factor_unchanged() -> None:
    """Z and each segment's Y do not move when a debtor or another segment is added."""
    base = _book(SEGMENTED)
    data = copy.deepcopy(SEGMENTED)
    data["debtors"].append({"name": "zz_new", "balance": 5.0, "age_months": 2, "segment": "gov"})
    data["segments"].append(
        {"name": "other", "gross": [1.0, 1.0, 1.0, 1.0], "billing_share": 0.0,
         "factor_weight": 0.3}
    )  # fmt: skip
    more = _book(data)
    a, b = run_traced(base, block=3, n=500), run_traced(more, block=3, n=500)
    np.testing.assert_array_equal(a.trace["z"], b.trace["z"])
    np.testing.assert_array_equal(a.trace["y"], b.trace["y"][:2])
    # the old debtors' events do not move either (each has its own stream)
    np.testing.assert_array_equal(a.trace["debtor_events"], b.trace["debtor_events"][:3])
    # and the old segments' pooled flows are the same
    for key in ("coll_b", "def_b", "migration", "write_offs"):
        np.testing.assert_array_equal(a.trace[key], b.trace[key][:2], err_msg=key)


# ------------------------------------------------------------------------------------------------
# The segment factor Y (2.12)


def _factors(sc, seed: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """``Z`` (H, n) and each segment's ``Y`` (S, H, n) over ``blocks`` full blocks."""
    prm = compile_params(sc)
    zs, ys = [], []
    for i in range(blocks):
        tr = run_block(prm, i, BLOCK_SIZE, seed, trace=True).trace
        zs.append(tr["z"])
        ys.append(tr["y"])
    return np.concatenate(zs, axis=1), np.concatenate(ys, axis=2)


def _corr_z(x: np.ndarray, y: np.ndarray, rho: float) -> float:
    """Fisher's z of the sample correlation of ``x`` and ``y`` against ``rho``, in SEs."""
    r = np.corrcoef(x, y)[0, 1]
    return float((np.arctanh(r) - np.arctanh(rho)) * np.sqrt(x.size - 3))


WEIGHTS = (0.0, 0.3, 0.8)
PHI = 0.6


def test_segment_factor_is_standard_normal_ar1_with_corr_sqrt_w(stat_seed) -> None:
    """Y^s: mean 0, variance 1, lag-1 autocorrelation φ, corr with Z sqrt(w_s), corr between
    segments sqrt(w_s w_s'), each at months 1 and H across independent paths, within z_fail·SE
    (Bonferroni over every statistic, month and segment)."""
    data = copy.deepcopy(SEGMENTED)
    data["factor"]["persistence"] = PHI
    data["simulation"]["horizon_months"] = 6
    data["segments"].append({"name": "third", "gross": [10.0] * 4, "billing_share": 0.0})
    data["segments"][0]["billing_share"] = 0.7
    for seg, w in zip(data["segments"], WEIGHTS, strict=True):
        seg["factor_weight"] = w
    z, y = _factors(_book(data), stat_seed, blocks=4)
    n = z.shape[1]
    H = z.shape[0]
    checks: list[tuple[str, float]] = []
    for s, w in enumerate(WEIGHTS):
        for t in (0, H - 1):
            yt = y[s, t]
            checks.append((f"mean s{s} t{t}", yt.mean() * np.sqrt(n)))  # exact variance 1
            checks.append((f"var s{s} t{t}", (yt.var(ddof=1) - 1.0) / np.sqrt(2.0 / (n - 1))))
            checks.append((f"corr Z s{s} t{t}", _corr_z(yt, z[t], np.sqrt(w))) if w < 1 else None)
        checks.append((f"lag1 s{s}", _corr_z(y[s, H - 2], y[s, H - 1], PHI)))
        for s2 in range(s + 1, len(WEIGHTS)):
            rho = np.sqrt(w * WEIGHTS[s2])
            checks.append((f"corr s{s} s{s2}", _corr_z(y[s, H - 1], y[s2, H - 1], rho)))
    checks = [c for c in checks if c is not None]
    tol = z_fail(len(checks))
    bad = [(name, round(v, 2)) for name, v in checks if abs(v) > tol]
    assert not bad, (bad, tol)
    # the test can fail: the same statistics against a wrong answer are far out
    assert abs(_corr_z(y[1, -1], z[-1], np.sqrt(0.3) + 0.05)) > tol
    assert abs(_corr_z(y[1, -2], y[1, -1], PHI - 0.05)) > tol


def test_a_factor_weight_of_one_is_z_itself() -> None:
    z, y = _factors(_book(SEGMENTED, {"segments.ent.factor_weight": 1.0}), 4, blocks=1)
    np.testing.assert_array_equal(y[1], z)
    assert not np.array_equal(y[0], z)


def test_the_implicit_segment_runs_on_z() -> None:
    z, y = _factors(_book(_debtors_only()), 4, blocks=1)
    np.testing.assert_array_equal(y[0], z)


# ------------------------------------------------------------------------------------------------
# The memory guard (3.2: paths, S segments with their A, J debtors)


def _segments(n_seg: int, write_off: int | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    gross = data["buckets"].pop("gross")
    data["segments"] = [
        {"name": f"s{i}", "gross": [g / n_seg for g in gross], "billing_share": 1.0 / n_seg}
        for i in range(n_seg)
    ]
    if write_off is not None:
        data["segments"][-1]["defaults"] = {"write_off_after_months": write_off}
    return data


def _with_debtors(data: dict[str, Any], n: int) -> dict[str, Any]:
    data = copy.deepcopy(data)
    seg = data["segments"][0]["name"] if "segments" in data else None
    data["debtors"] = [
        {"name": f"d{j}", "balance": 1.0, "age_months": j % 12, **({"segment": seg} if seg else {})}
        for j in range(n)
    ]
    return data


def _peak_of_block(sc) -> int:
    """Peak bytes numpy allocates while one full block runs (tracemalloc)."""
    prm = compile_params(sc)
    run_block(prm, 0, 8, 0)  # the kernel loaded, outside the measurement
    tracemalloc.start()
    try:
        run_block(prm, 0, BLOCK_SIZE, 0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_block_memory_grows_with_segments_their_ages_and_debtors() -> None:
    """The estimate of one block covers what a block allocates, and grows with S, each
    segment's A and J at least as the measured allocations do."""
    short = {"simulation.horizon_months": 12, "simulation.trajectory_paths": 0}
    books = {
        "plain": _book(BASE, short),
        "3 segments": _book(_segments(3), short),
        "3 segments, one with W = 300": _book(_segments(3, write_off=300), short),
        "200 debtors": _book(_with_debtors(BASE, 200), short),
        "3 segments and 1000 debtors": _book(_with_debtors(_segments(3), 1000), short),
    }
    est = {name: block_memory(sc) for name, sc in books.items()}
    peak = {name: _peak_of_block(sc) for name, sc in books.items()}
    for name in books:
        assert peak[name] <= est[name], (name, peak[name], est[name])
        grew, needed = est[name] - est["plain"], peak[name] - peak["plain"]
        assert grew >= needed, (name, grew, needed)
    assert est["3 segments"] > est["plain"] + 2 * 13 * BLOCK_SIZE * 8  # two more states of A
    assert est["3 segments, one with W = 300"] >= est["3 segments"] + 2 * 287 * BLOCK_SIZE * 8
    assert est["200 debtors"] >= est["plain"] + 3 * 200 * BLOCK_SIZE * 8
    assert est["3 segments and 1000 debtors"] >= est["3 segments"] + 3 * 1000 * BLOCK_SIZE * 8


def test_the_run_estimate_counts_segment_columns_and_rows() -> None:
    sc = {"simulation.paths": 100_000, "simulation.trajectory_paths": 1000}
    plain, seg = _book(BASE, sc), _book(_segments(3), sc)
    many = _book(_with_debtors(_segments(3), 1000), sc)
    e0, e1, e2 = (estimate_memory(x, 2) for x in (plain, seg, many))
    # per path: two columns per segment; in the sample: a row of gross per segment
    assert e1 - e0 >= 100_000 * 6 * 8 + 1000 * 31 * 3 * 8 + 2 * (
        block_memory(seg) - block_memory(plain)
    )
    assert e2 > e1 + 2 * 3 * 1000 * BLOCK_SIZE * 8


# ------------------------------------------------------------------------------------------------
# The bundled segmented scenario


def test_the_bundled_segmented_scenario_validates_without_warnings(capsys) -> None:
    from conftest import IFLYTEK_SEGMENTS

    from simulator.cli import main

    assert main(["validate", str(IFLYTEK_SEGMENTS)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "2 segments, 3 debtors" in out


def test_the_bundled_segmented_scenario_keeps_the_reported_totals_and_runs() -> None:
    """14,510 of receivables in all, 3,067 of them over two years (the article), counting the
    named debtors; the run has every segment's outputs and the debtors' lumps."""
    from conftest import IFLYTEK_SEGMENTS

    from simulator import load_scenario
    from simulator.scenario import book_opening

    sc = with_overrides(load_scenario(IFLYTEK_SEGMENTS), {"simulation.paths": 3000})
    gross = book_opening(sc).gross
    assert sum(gross) == pytest.approx(14_510.0, abs=1e-9)
    assert sum(gross[3:]) == pytest.approx(3_067.0, abs=1e-9)
    res = simulate(sc)
    s = res.summary(analytics=False)
    assert s["gross_opening"] == pytest.approx(14_510.0, abs=1e-9)
    for name in ("government", "enterprise"):
        assert (res.per_path[f"credit_loss_{name}"] >= 0).all()
        assert (res.per_path[f"collections_{name}"] > 0).all()
    loss = res.per_path["credit_loss"]
    assert np.quantile(loss, 0.99) > np.quantile(res.per_path["credit_loss_pool"], 0.99)
    counts = debtor_counts(res)
    assert counts.shape == (3, 3) and (counts[:, 1] > 0).all()
