"""Nothing counted silently: the part of the implied lifetime loss that is neither collected nor
defaulted is reported and shown, and a book whose last bucket keeps balances for ever is warned
about before it runs."""

from __future__ import annotations

import json

import pytest
from conftest import IFLYTEK, MINIMAL, SENSETIME
from factories import make

from simulator import load_scenario, simulate, with_overrides
from simulator.analytic import implied_rates
from simulator.cli import main
from simulator.scenario import scenario_warnings

#: Two buckets, months independent: the young bucket collects 10 %/month, the open last bucket
#: nothing, and nobody defaults.
DEAD = {
    "buckets.edges_months": [0, 6],
    "buckets.gross": [600.0, 50.0],
    "buckets.provision_rates": [0.1, 1.0],
    "collections.monthly_rate": [0.1, 0.0],
    "collections.factor_loading": 0.0,
    "defaults.monthly_rate": [0.0, 0.0],
    "defaults.correlation": 0.0,
    "factor.persistence": 0.0,
}


def test_exact_unresolved_is_what_reaches_a_bucket_that_never_resolves():
    imp = implied_rates(make(DEAD))
    # 100 at each age a = 0..5 survives to age 6 with 0.9 ** (6 - a); the 50 of the last bucket
    # stays there; nothing defaults, so all of the implied loss is unresolved
    expected = 50.0 + sum(100.0 * 0.9 ** (6 - a) for a in range(6))
    assert imp.method == "exact"
    assert imp.lifetime_loss == pytest.approx(expected, rel=1e-12)
    assert imp.unresolved == pytest.approx(expected, rel=1e-12)
    assert imp.stranded == ("6m+",)


def test_a_default_rate_resolves_what_collections_leave():
    imp = implied_rates(make({**DEAD, "defaults.monthly_rate": [0.0, 0.01]}))
    assert imp.unresolved == 0.0 and imp.lifetime_loss > 0.0


def test_the_run_off_counts_what_is_open_after_600_months_and_says_so():
    # collections of 0.1 %/month leave exp(-0.6) of the last bucket open after 600 months
    sc = make({**DEAD, "collections.monthly_rate": [0.1, 0.001], "factor.persistence": 0.5})
    sc = with_overrides(sc, {"collections.factor_loading": 0.3, "simulation.runoff_paths": 2000})
    imp = implied_rates(sc)
    assert imp.method == "runoff" and imp.stranded == ()
    reach = 50.0 + sum(100.0 * 0.9 ** (6 - a) for a in range(6))  # roughly what reaches 6m+
    assert 0.3 * reach < imp.unresolved < 0.7 * reach
    assert imp.unresolved <= imp.lifetime_loss


def test_the_run_summary_and_implied_rates_show_the_unresolved_part(tmp_path, capsys):
    assert main(["run", str(IFLYTEK), "--paths", "2000", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr()
    assert "still open after 600 months (50 years) and counted as lost" in out.out
    assert "collections in 4y+ are too slow" in out.out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["implied_unresolved"] > 0.1 * summary["implied_lifetime_loss"]
    assert summary["implied_stranded_buckets"] == []


def test_no_note_when_everything_resolves(tmp_path, capsys):
    sc = load_scenario(SENSETIME)  # its 4y+ defaults 3 %/month: everything resolves
    res = simulate(with_overrides(sc, {"simulation.runoff_paths": 1000}), paths=500)
    assert res.summary()["implied_unresolved"] < 1e-3 * res.summary()["implied_lifetime_loss"]


def test_validate_warns_about_a_last_bucket_that_keeps_balances(capsys):
    assert main(["validate", str(IFLYTEK)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and ": collections.monthly_rate[5]: warning: " in err[0]
    assert "4y+ collects 0.5 %/month" in err[0] and "after 10 years" in err[0]
    assert "defaults.write_off_after_months (e.g. 60)" in err[0]
    assert main(["validate", str(IFLYTEK), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["warnings"]) == 1


@pytest.mark.parametrize(
    ("sets", "warned"),
    [
        ({}, False),  # the base test book: its last bucket collects 2 %/month
        # it collects nothing and defaults 3 %/month: half of it is gone in 23 months
        ({"collections.monthly_rate[3]": 0.0}, False),
        ({"collections.monthly_rate[3]": 0.0, "simulation.horizon_months": 12}, True),
        ({"collections.monthly_rate[3]": 0.0, "defaults.monthly_rate[3]": 0.0}, True),
        ({"collections.monthly_rate[3]": 0.0, "defaults.write_off_after_months": 24}, False),
    ],
)
def test_which_books_are_warned_about(sets, warned):
    sc = make({"simulation.horizon_months": 24, **sets})
    assert bool(scenario_warnings(sc)) is warned


def test_the_minimal_example_is_warned_about_by_validate_and_still_runs(tmp_path, capsys):
    assert main(["validate", str(MINIMAL)]) == 0
    assert ": warning: " in capsys.readouterr().err
    assert main(["run", str(MINIMAL), "--paths", "200", "--out", str(tmp_path / "m")]) == 0
