"""Analytics of a book of segments and named debtors (DESIGN 2.8, 2.12, 2.13): each segment's
implied rates are the one-segment scenario's with its parameters, the book's are sums and
gross-weighted averages over segments and debtors, a debtor adds ``B_j · L_j``, the debtors'
exact outcome probabilities agree with the engine's frequencies, and the summary keys appear
exactly when the book has segments or debtors."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from conftest import z_fail
from factories import BASE as PLAIN
from test_segments_book import SEGMENTED, _split

from simulator import simulate
from simulator._format import fmt_money
from simulator.analytic import book_implied_rates, debtor_probabilities, implied_rates
from simulator.cli import main
from simulator.scenario import Scenario, book_opening, scenario_from_dict, with_overrides


def _scenario(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
    sc = scenario_from_dict(copy.deepcopy(data), source="<test>")
    return with_overrides(sc, overrides) if overrides else sc


def _one_segment(data: dict[str, Any], name: str) -> Scenario:
    """The scenario of segment ``name`` of ``data``, written out by hand (no segments, no
    debtors): what the segment's analytics must equal."""
    one = copy.deepcopy(data)
    seg = next(s for s in one.pop("segments") if s["name"] == name)
    one.pop("debtors", None)
    one["buckets"] = {k: v for k, v in one["buckets"].items() if k != "gross"}
    for key in ("gross", "opening_by_age", "provision_rates"):
        if key in seg:
            one["buckets"][key] = seg[key]
    for table in ("collections", "defaults"):
        own = dict(seg.get(table, {}))
        if table == "collections" and "multiplier" in own:
            own["multiplier"] *= one["collections"].get("multiplier", 1.0)
        one[table] = {**one[table], **own}
    return scenario_from_dict(one, source="<one>")


@pytest.mark.parametrize("name", ["gov", "ent"])
def test_a_segments_exact_analytics_are_its_one_segment_scenarios(name: str) -> None:
    data = copy.deepcopy(SEGMENTED)
    data["factor"] = {"persistence": 0.0}
    parts = book_implied_rates(_scenario(data))
    assert parts.book.method == "exact"
    one = implied_rates(_one_segment(data, name))
    seg = parts.segments[name]
    np.testing.assert_allclose(seg.rates, one.rates, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(seg.loss_by_age, one.loss_by_age, rtol=1e-12, atol=1e-15)
    assert seg.lifetime_loss == pytest.approx(one.lifetime_loss, rel=1e-12)


def test_a_segment_with_factor_weight_1_runs_off_on_the_books_own_paths() -> None:
    """ent has w = 1: its factor is Z, so its run-off is its one-segment scenario's, number for
    number; gov (w = 0.5) runs off on its own Y and agrees within the SEs."""
    data = copy.deepcopy(SEGMENTED)
    data["simulation"] = {**data["simulation"], "runoff_paths": 3000}
    parts = book_implied_rates(_scenario(data))
    assert parts.book.method == "runoff"
    one = implied_rates(_one_segment(data, "ent"))
    np.testing.assert_array_equal(parts.segments["ent"].rates, one.rates)
    assert parts.segments["ent"].lifetime_loss == one.lifetime_loss
    gov, alone = parts.segments["gov"], implied_rates(_one_segment(data, "gov"))
    se = np.hypot(gov.rates_se, alone.rates_se)
    assert np.all(np.abs(gov.rates - alone.rates) <= z_fail(len(se)) * se)


@pytest.mark.parametrize("phi", [0.0, 0.7])
def test_the_books_implied_rates_are_gross_weighted_over_segments_and_debtors(phi) -> None:
    sc = _scenario(SEGMENTED, {"factor.persistence": phi, "simulation.runoff_paths": 2000})
    parts = book_implied_rates(sc)
    gross = np.asarray(book_opening(sc).gross)
    loss = sum(s.rates * s.opening_gross for s in parts.segments.values())
    for age, d_loss in zip((8, 1, 14), parts.debtor_loss, strict=True):
        loss[np.searchsorted(sc.buckets.edges_months, age, side="right") - 1] += d_loss
    np.testing.assert_allclose(parts.book.rates * gross, loss, rtol=1e-12)
    total = sum(s.lifetime_loss for s in parts.segments.values()) + parts.debtor_loss.sum()
    assert parts.book.lifetime_loss == pytest.approx(total, rel=1e-12)
    if phi == 0.0:
        assert parts.book.lifetime_loss_se == 0.0
    else:  # the book's SE counts the covariance of its parts: at most the sum of their SEs
        ses = [s.lifetime_loss_se for s in parts.segments.values()] + list(parts.debtor_loss_se)
        assert 0 < parts.book.lifetime_loss_se <= math.fsum(ses) * (1 + 1e-12)


def test_a_debtor_on_its_segments_hazards_adds_its_balance_times_l() -> None:
    data = copy.deepcopy(SEGMENTED)
    data["factor"] = {"persistence": 0.0}
    parts = book_implied_rates(_scenario(data))
    co_b = parts.debtor_names.index("co_b")  # age 1, the segment's hazards
    assert parts.debtor_loss[co_b] == pytest.approx(
        25.0 * parts.segments["ent"].loss_by_age[1], rel=1e-12
    )


def test_a_debtors_exact_loss_is_its_probability_of_loss_by_its_write_off_age() -> None:
    """Two implementations of one debtor: the lifetime loss of 2.8 on its own hazards, and the
    outcome probabilities of 2.13 over a horizon past its write-off month."""
    data = copy.deepcopy(SEGMENTED)
    data["factor"] = {"persistence": 0.0}
    data["simulation"] = {**data["simulation"], "horizon_months": 40}  # city_a: t_W = 28
    sc = _scenario(data)
    parts = book_implied_rates(sc)
    probs = debtor_probabilities(sc)
    j = probs.names.index("city_a")
    assert probs.written_off[j] > 0
    assert probs.loss_mean[j] == pytest.approx(parts.debtor_loss[j], rel=1e-12)


def test_the_runoff_agrees_with_the_exact_book_at_phi_0() -> None:
    sc = _scenario(SEGMENTED, {"factor.persistence": 0.0, "simulation.runoff_paths": 4000})
    exact = book_implied_rates(sc)
    run = book_implied_rates(sc, method="runoff")
    pairs = [(run.book.rates, exact.book.rates, run.book.rates_se)]
    pairs += [(run.debtor_loss, exact.debtor_loss, run.debtor_loss_se)]
    pairs += [(run.segments[n].rates, exact.segments[n].rates, run.segments[n].rates_se)
              for n in exact.segments]  # fmt: skip
    m = sum(len(p[0]) for p in pairs)
    for got, want, se in pairs:
        assert np.all(se > 0)
        assert np.all(np.abs(got - want) <= z_fail(m) * se), (got, want, se)


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_splitting_a_book_into_identical_segments_keeps_the_summary(phi) -> None:
    data = copy.deepcopy(PLAIN)
    data["factor"] = {"persistence": phi}
    data["simulation"] = {**data["simulation"], "paths": 3000, "runoff_paths": 3000}
    whole = simulate(scenario_from_dict(data)).summary()
    split = simulate(scenario_from_dict(_split(data, (0.3, 0.7), [0.5, 0.1, 0.9, 0.25])))
    s = split.summary()
    for key in (
        "credit_loss_mean",
        "collections_mean",
        "allowance_opening",
        "implied_lifetime_loss",
        "implied_lifetime_loss_se",
        "allowance_coverage",
        "p_runway_le_12",
    ):
        assert s[key] == pytest.approx(whole[key], rel=1e-9, abs=1e-12), key
    for lab, rate in whole["implied_rates"].items():
        assert s["implied_rates"][lab] == pytest.approx(rate, rel=1e-9), lab
    # each part's implied rates are the book's (same rates, same factor)
    for name in ("a", "b"):
        for lab, rate in whole["implied_rates"].items():
            assert s["segments"][name]["implied_rates"][lab] == pytest.approx(rate, rel=1e-9)


def test_summary_keys_with_segments_and_debtors_and_without() -> None:
    s = simulate(_scenario(SEGMENTED, {"simulation.paths": 300})).summary()
    seg_keys = {
        "credit_loss_mean", "credit_loss_mean_se", "credit_loss_p95", "credit_loss_p99",
        "collections_mean", "collections_mean_se", "allowance_opening", "implied_rates",
        "implied_rates_se", "implied_lifetime_loss", "implied_lifetime_loss_se",
        "allowance_coverage", "allowance_coverage_se",
    }  # fmt: skip
    for name in ("gov", "ent"):
        assert seg_keys <= set(s["segments"][name])
        assert set(s["segments"][name]["implied_rates_se"]) == set(s["disclosed_rates"])
    debtor_keys = {"p_default", "p_loss", "p_paid_12", "p_paid_horizon", "loss_mean"}
    for name in ("city_a", "co_b", "co_c"):
        fields = s["debtors"][name]
        assert debtor_keys | {f"{k}_se" for k in debtor_keys} <= set(fields)
    assert s["concentration"]["debtor_share"] == pytest.approx(95.0 / s["gross_opening"])
    allowance = [s["segments"][n]["allowance_opening"] for n in ("gov", "ent")]
    allowance += [s["debtors"][n]["allowance_opening"] for n in ("city_a", "co_b", "co_c")]
    assert s["allowance_opening"] == pytest.approx(math.fsum(allowance), rel=1e-12)

    plain = simulate(_scenario(PLAIN, {"simulation.paths": 300})).summary()
    assert not {"segments", "debtors", "concentration"} & set(plain)
    no_seg = copy.deepcopy(PLAIN)
    no_seg["debtors"] = [{"name": "x", "balance": 50.0, "age_months": 2}]
    s = simulate(_scenario(no_seg, {"simulation.paths": 300})).summary()
    assert "segments" not in s and set(s["debtors"]) == {"x"}


# ------------------------------------------------------------------------------------------------
# The debtors' exact probabilities against the engine's frequencies (DESIGN 2.13)

_BOOK: dict[str, Any] = {
    **copy.deepcopy(PLAIN),
    "revenue": {"monthly": 0.0},
    "simulation": {"paths": 40000, "horizon_months": 30, "seed": 5, "trajectory_paths": 0},
}
_DEBTORS = [
    {"name": "plain", "balance": 100.0, "age_months": 0},  # the pool's hazards, crossing buckets
    {
        "name": "klist",
        "balance": 40.0,
        "age_months": 4,
        "monthly_pay_probability": [0.3, 0.1, 0.04, 0.01],
        "monthly_default_probability": [0.001, 0.02, 0.05, 0.002],
    },
    {"name": "capped", "balance": 30.0, "age_months": 13, "monthly_pay_probability": 0.9},
    {"name": "sure", "balance": 10.0, "age_months": 2, "monthly_pay_probability": 1.0,
     "monthly_default_probability": 0.0},
    # near the write-off age of 20 months: written off at the end of month 3 unless resolved
    {"name": "late", "balance": 20.0, "age_months": 17, "monthly_pay_probability": 0.2},
]  # fmt: skip

_CASES = {
    "phi-0": {"factor": {"persistence": 0.0}},
    "phi-0-write-off-cap": {
        "factor": {"persistence": 0.0},
        "collections": {**PLAIN["collections"], "multiplier": 1.5},
        "defaults": {**PLAIN["defaults"], "write_off_after_months": 20, "correlation": 0.3},
    },
    "phi-own-hazards-flat": {
        "factor": {"persistence": 0.8},
        "debtor_fields": {"correlation": 0.0, "factor_loading": 0.0},
    },
}


@pytest.mark.parametrize("case", list(_CASES))
def test_debtor_probabilities_agree_with_the_engine(case: str, stat_seed: int) -> None:
    data = copy.deepcopy(_BOOK)
    change = copy.deepcopy(_CASES[case])
    extra = change.pop("debtor_fields", {})
    data.update(change)
    data["simulation"]["seed"] = stat_seed
    data["debtors"] = [{**d, **extra} for d in _DEBTORS]
    sc = _scenario(data)
    exact = debtor_probabilities(sc)
    s = simulate(sc).summary(analytics=False)
    n = s["paths"]
    values = {
        "p_default": exact.p_default,
        "p_loss": exact.p_loss,
        "p_paid_12": exact.p_paid_by(12),
        "p_paid_horizon": exact.p_paid_horizon,
    }
    m = len(values) * len(exact.names)
    for key, want in values.items():
        for j, name in enumerate(exact.names):
            got, p = s["debtors"][name][key], float(want[j])
            se = math.sqrt(p * (1 - p) / n)
            if se == 0.0:
                assert got == p, (name, key)
            else:
                assert abs(got - p) <= z_fail(m) * se, (name, key, got, p)
    sure = exact.names.index("sure")
    assert exact.paid_by_month[sure, 0] == 1.0 and s["debtors"]["sure"]["p_paid_12"] == 1.0
    if "write-off" in case:
        assert exact.written_off[exact.names.index("late")] > 0.3
        assert any(s["debtors"][nm]["p_loss"] > s["debtors"][nm]["p_default"] for nm in exact.names)


def test_debtor_probabilities_refuse_a_persistent_factor_on_their_hazards() -> None:
    data = copy.deepcopy(_BOOK)
    data["debtors"] = [_DEBTORS[0]]
    with pytest.raises(ValueError, match=r"debtors\.plain: its probabilities are exact only"):
        debtor_probabilities(_scenario(data))


# ------------------------------------------------------------------------------------------------
# What a run shows: the terminal, the plots, the report


def test_run_prints_segments_and_concentration_and_saves_the_segment_plot(
    in_tmp: Path, capsys
) -> None:
    (in_tmp / "book.toml").write_text(tomlkit.dumps(SEGMENTED), encoding="utf-8")
    argv = ["run", "book.toml", "--paths", "400", "--out", "run"]
    argv += ["--set", "simulation.runoff_paths=200"]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    lines = out.splitlines()
    s = json.loads((in_tmp / "run" / "summary.json").read_text())
    gov = s["segments"]["gov"]
    row = next(line for line in lines if line.strip().startswith("Governments"))
    assert fmt_money(gov["credit_loss_p99"]) in row and fmt_money(gov["allowance_opening"]) in row
    assert any(line.strip().startswith("ent ") for line in lines)
    text = " ".join(out.split())
    c = s["concentration"]
    assert "Concentration: 3 named debtors hold 95.0" in text
    assert fmt_money(c["credit_loss_p99_pool"]) + " for the pooled book alone" in text
    assert any(line.strip().startswith("city_a") for line in lines)  # the debtor table
    assert (in_tmp / "run" / "plots" / "segments.png").stat().st_size > 0

    assert main(["report", "run", "--out", "page.html"]) == 0, capsys.readouterr().err
    page = (in_tmp / "page.html").read_text(encoding="utf-8")
    assert "<h2>Segments</h2>" in page and "<h2>Named debtors</h2>" in page
    assert "Governments" in page and "co_c" in page and "plot segments" in page


def test_plot_segments_labels_its_axes_and_refuses_a_book_without_segments() -> None:
    from matplotlib.figure import Figure

    from simulator.plots import plot_segments

    result = simulate(_scenario(SEGMENTED, {"simulation.paths": 200}))
    ax = plot_segments(result, Figure().add_subplot())
    assert "CNY million" in ax.get_ylabel() and "months" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Governments", "ent"]
    plain = simulate(_scenario(PLAIN, {"simulation.paths": 200}))
    with pytest.raises(ValueError, match="no \\[\\[segments\\]\\]"):
        plot_segments(plain, Figure().add_subplot())


def test_implied_rates_command_solves_each_segment_against_its_own_matrix(in_tmp: Path, capsys):
    """``arsim implied-rates`` on a segmented book: each segment's report is its one-segment
    scenario's (implied and solved default rates, exact at phi = 0); --calibrate-defaults writes
    each segment's solved rates into its entry, and the file loads; the debtors are named as
    left out."""
    from simulator.analytic import calibrate_default_rates

    data = copy.deepcopy(SEGMENTED)
    data["factor"] = {**data.get("factor", {}), "persistence": 0.0}
    (in_tmp / "book.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    argv = ["implied-rates", "book.toml", "--calibrate-defaults", "--out", "cal.toml", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["segments"]) == {"gov", "ent"}
    assert doc["debtors_left_out"] == [d["name"] for d in data["debtors"]]
    from simulator import load_scenario

    written = load_scenario(in_tmp / "cal.toml")
    for seg in written.segments:
        one = _one_segment(data, seg.name)
        want = implied_rates(one)
        got = doc["segments"][seg.name]
        np.testing.assert_allclose(list(got["implied_rates"].values()), want.rates, rtol=1e-12)
        solved = calibrate_default_rates(one).default_rates
        np.testing.assert_allclose(seg.defaults.monthly_rate, solved, rtol=1e-12, atol=1e-300)
        got_solved = list(got["calibrated_default_rates"].values())
        np.testing.assert_allclose(got_solved, solved, rtol=1e-12, atol=1e-300)
    assert main(["implied-rates", "book.toml"]) == 0
    text = capsys.readouterr().out
    assert "Segment gov" in text and "Segment ent" in text
    assert "3 named debtor(s) (city_a, co_b, co_c) left out" in text


def test_implied_rates_command_on_a_book_with_debtors_only(in_tmp: Path, capsys) -> None:
    """Without [[segments]] the pooled book is solved (its top-level rates written), the
    debtors left out."""
    data = copy.deepcopy(PLAIN)
    data["factor"] = {**data.get("factor", {}), "persistence": 0.0}
    data["debtors"] = [{"name": "big", "balance": 50.0, "age_months": 3}]
    (in_tmp / "book.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    assert main(["implied-rates", "book.toml", "--calibrate-defaults", "--out", "c.toml"]) == 0
    out = capsys.readouterr().out
    assert "1 named debtor(s) (big) left out" in out
    from simulator import load_scenario
    from simulator.analytic import calibrate_default_rates

    pooled = copy.deepcopy(data)
    pooled.pop("debtors")
    want = calibrate_default_rates(scenario_from_dict(pooled)).default_rates
    got = load_scenario(in_tmp / "c.toml").defaults.monthly_rate
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
