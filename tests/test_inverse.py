"""The inverse (DESIGN 2.8): default rates solved jointly, within a plausibility bound, so that
the implied rates equal a disclosed matrix; each bucket's status and the verdict, on a table of
constructed cases whose answers are known; exactly and on common random numbers."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pytest
from conftest import SENSETIME, fail_prob, sub_seeds
from factories import SEASONAL, make
from scipy import stats

from simulator.adequacy import implied_rates_report
from simulator.analytic import calibrate_default_rates, implied_rates, runoff_implied_rates
from simulator.cli import main
from simulator.scenario import load_scenario, with_overrides

PHI0 = {
    "factor.persistence": 0.0,
    "scenario.as_of": dt.date(2024, 3, 31),
    "collections.seasonality": SEASONAL,
}
# Collections fast enough that the targets below are reachable with a margin: e.g. of a unit in
# the 6-12m bucket (30 %/month, seasonality 0.6-1.8) at most about 1/3 on average is still
# uncollected when it turns 12 months, so any rate above ~1/3 of the next bucket's is reachable.
FAST = {"collections.monthly_rate": [0.5, 0.4, 0.3, 0.2]}
TRUTH = [0.004, 0.01, 0.02, 0.04]  # inside the 5 %/month bound
#: Without a write-off age, collections this fast collect everything in the end: the rates these
#: collections allow with no defaults are 0. With one, what reaches 18 months is lost, so they
#: are not, and a disclosed rate can be too low for them.
W18 = {"defaults.write_off_after_months": 18}


def _book(extra: dict | None = None):
    return make({**PHI0, **FAST, **(extra or {})})


def _rates_with(sc, p) -> np.ndarray:
    return implied_rates(with_overrides(sc, {"defaults.monthly_rate": list(map(float, p))})).rates


def _report(sc, targets):
    sc = with_overrides(sc, {"buckets.provision_rates": [float(t) for t in targets]})
    return implied_rates_report(sc, implied_rates(sc), calibrate_default_rates(sc)), sc


def test_known_default_rates_are_recovered_exactly():
    sc = _book()
    targets = _rates_with(sc, TRUTH)
    cal = calibrate_default_rates(sc, targets)
    assert cal.method == "exact" and cal.status == ["reproduced"] * 4 and cal.consistent
    np.testing.assert_allclose(cal.default_rates, TRUTH, rtol=1e-8)
    np.testing.assert_allclose(_rates_with(sc, cal.default_rates), targets, atol=1e-9)
    assert not any(cal.implausible) and np.all(cal.default_rates_se == 0.0)


@pytest.mark.parametrize(
    ("write_off", "disclosed"),
    [(None, [0.05, 0.08, 0.12, 0.15]), (18, [0.05, 0.09, 0.15, 0.5])],
    ids=["absorbing", "write_off"],
)
def test_solved_rates_reproduce_a_disclosed_matrix(write_off, disclosed):
    sc = _book({"defaults.write_off_after_months": write_off})
    sc = with_overrides(sc, {"buckets.provision_rates": disclosed})
    cal = calibrate_default_rates(sc)
    assert cal.status == ["reproduced"] * 4
    np.testing.assert_allclose(_rates_with(sc, cal.default_rates), disclosed, atol=1e-6)
    np.testing.assert_allclose(cal.implied.rates, disclosed, atol=1e-6)


def test_floor_and_ceiling_are_the_rates_at_no_defaults_and_at_the_bound():
    sc = _book()
    cal = calibrate_default_rates(sc, _rates_with(sc, TRUTH), max_default_rate=0.03)
    np.testing.assert_allclose(cal.floor, _rates_with(sc, [0.0] * 4), atol=1e-12)
    np.testing.assert_allclose(cal.ceiling, _rates_with(sc, [0.03] * 4), atol=1e-12)


def test_a_disclosed_rate_below_reach_is_held_at_no_defaults():
    sc = _book(W18)
    floor = _rates_with(sc, [0.0] * 4)
    assert floor[0] > 0.0
    targets = [floor[0] / 2, *_rates_with(sc, TRUTH)[1:]]
    cal = calibrate_default_rates(sc, targets)
    assert cal.status == ["below_reach", "reproduced", "reproduced", "reproduced"]
    assert cal.default_rates[0] == 0.0 and cal.floor[0] == pytest.approx(floor[0])
    assert "below" in cal.notes["0-3m"] and "no defaults" in cal.notes["0-3m"]
    np.testing.assert_allclose(cal.default_rates[1:], TRUTH[1:], rtol=1e-8)


def test_a_rate_above_reach_states_the_default_rate_it_needs():
    sc = _book()
    truth = [0.004, 0.01, 0.02, 0.12]  # the last bucket needs 12 %/month, beyond 5 %
    targets = _rates_with(sc, truth)
    cal = calibrate_default_rates(sc, targets)
    assert cal.status[3] == "above_reach" and cal.default_rates[3] == 0.05
    # with the older buckets at the bound, the last bucket alone would need exactly the truth
    assert cal.needed[3] == pytest.approx(0.12, rel=1e-6)
    assert "12.00 %/month" in cal.notes["1y+"] and "beyond" in cal.notes["1y+"]
    assert math.isnan(cal.needed[0])


def test_a_hundred_percent_on_a_bucket_that_still_collects_is_out_of_reach():
    sc = _book()
    cal = calibrate_default_rates(sc, [*_rates_with(sc, TRUTH)[:3], 1.0])
    assert cal.status[3] == "above_reach" and math.isnan(cal.needed[3])
    assert "out of reach while the bucket still collects" in cal.notes["1y+"]


def test_a_bucket_that_never_collects_is_not_identified_and_keeps_its_rate():
    sc = make({**PHI0, "collections.monthly_rate": [0.5, 0.4, 0.3, 0.0]})
    targets = [*_rates_with(sc, TRUTH)[:3], 1.0]
    cal = calibrate_default_rates(sc, targets)
    assert cal.status == ["reproduced", "reproduced", "reproduced", "not_identified"]
    assert cal.default_rates[3] == sc.defaults.monthly_rate[3] and cal.consistent
    for p in (0.0, 0.2, 0.9):  # ... because 100 % holds whatever its default rate
        assert _rates_with(sc, [*cal.default_rates[:3], p])[3] == pytest.approx(1.0, abs=1e-12)


def test_a_rate_reproduced_only_at_the_bound_is_flagged_implausible():
    sc = _book()
    cal = calibrate_default_rates(sc, _rates_with(sc, [0.004, 0.01, 0.02, 0.05]))
    assert cal.status[3] == "reproduced" and cal.implausible == [False, False, False, True]
    assert not cal.consistent and "plausibility bound" in cal.notes["1y+"]


def test_a_young_bucket_that_cannot_live_with_an_older_one_at_the_bound_is_a_conflict():
    sc = _book()
    floor = _rates_with(sc, [0.0] * 4)
    # 0-3m asks for a hair above what no defaults anywhere give; the last bucket asks for 100 %,
    # which holds it at the 5 % bound, and that lifts 0-3m's least rate above its target
    cal = calibrate_default_rates(sc, [floor[0] + 1e-4, *_rates_with(sc, TRUTH)[1:3], 1.0])
    assert cal.status[0] == "conflict" and cal.status[3] == "above_reach"
    assert "1y+ held at 5.00 %" in cal.notes["0-3m"]


AT_BOUND = [0.004, 0.01, 0.02, 0.05]  # the last bucket at the bound, as above reach holds it
#: status of each bucket and the start of the verdict, for constructed disclosed matrices (each
#: from the rates the default rates TRUTH or AT_BOUND give, and the rates with no defaults)
VERDICTS = {
    "all reproduced": (
        {},
        lambda sc: _rates_with(sc, TRUTH),
        ["reproduced"] * 4,
        "The disclosed matrix is consistent with these collection assumptions: monthly default "
        "rates of 0.40–4.00 % reproduce every bucket",
    ),
    "light matrix": (
        W18,
        lambda sc: _rates_with(sc, [0.0] * 4) / 2,
        ["below_reach"] * 4,
        "The disclosed matrix provisions less than these collection assumptions imply, even with "
        "no defaults",
    ),
    "heavy matrix": (
        W18,
        lambda sc: [*_rates_with(sc, AT_BOUND)[:3], 0.995],
        ["reproduced", "reproduced", "reproduced", "above_reach"],
        "The disclosed matrix provisions more than these collection assumptions imply",
    ),
    "mixed": (
        W18,
        lambda sc: [_rates_with(sc, [0.0] * 4)[0] / 2, *_rates_with(sc, AT_BOUND)[1:3], 0.995],
        ["below_reach", "reproduced", "reproduced", "above_reach"],
        "The disclosed matrix does not fit these collection assumptions either way",
    ),
    "not identified": (
        {"collections.monthly_rate": [0.5, 0.4, 0.3, 0.0]},
        lambda sc: [*_rates_with(sc, TRUTH)[:3], 1.0],
        ["reproduced", "reproduced", "reproduced", "not_identified"],
        "The disclosed matrix is consistent with these collection assumptions",
    ),
}


@pytest.mark.parametrize("case", list(VERDICTS))
def test_the_verdict_follows_from_the_statuses(case):
    extra, targets_from, statuses, start = VERDICTS[case]
    sc = _book(extra)
    report, _ = _report(sc, targets_from(sc))
    verdict = report["verdict"]
    assert list(report["status"].values()) == statuses
    assert verdict.startswith(start), verdict
    assert verdict.endswith(".") and not re.search(r"\.\s+[A-Z]", verdict), "one sentence"
    cov = report["allowance_coverage"]
    assert f"coverage {100 * cov:.0f} %" in verdict
    if case == "heavy matrix":
        need = report["needed"]["1y+"]
        assert need > 0.05
        assert f"the 1y+ rate needs {100 * need:.1f} %/month defaults, beyond 5 %" in verdict
    if case == "mixed":
        assert "0-3m is below reach" in verdict and "the 1y+ rate needs" in verdict
    if case == "not identified":
        assert verdict.endswith("(1y+: holds for any default rate).")


def test_on_common_random_numbers_the_truth_is_recovered():
    sc = make({"simulation.runoff_paths": 3000, "simulation.seed": 4})
    targets = runoff_implied_rates(with_overrides(sc, {"defaults.monthly_rate": TRUTH})).rates
    cal = calibrate_default_rates(sc, targets)
    assert cal.method == "runoff" and cal.status == ["reproduced"] * 4
    np.testing.assert_allclose(cal.default_rates, TRUTH, rtol=1e-7)
    np.testing.assert_allclose(cal.implied.rates, targets, atol=1e-8)
    assert np.all(cal.default_rates_se > 0) and np.all(cal.implied.rates_se > 0)


def test_standard_errors_of_solved_default_rates_match_their_spread_over_seeds(stat_seed):
    """The delta-method SE against the spread of the solved rates over independent seeds."""
    sc = make(
        {
            "buckets.edges_months": [0, 6],
            "buckets.gross": [300.0, 100.0],
            "buckets.provision_rates": [0.1, 0.6],
            "collections.monthly_rate": [0.3, 0.03],
            "defaults.monthly_rate": [0.005, 0.02],
            "simulation.runoff_paths": 400,
        }
    )
    targets = [0.3, 0.45]
    solved = [
        calibrate_default_rates(sc, targets, seed=s, workers=1, max_default_rate=0.2)
        for s in sub_seeds(stat_seed, 16)
    ]
    assert all(c.status == ["reproduced"] * 2 for c in solved)
    p = np.array([c.default_rates for c in solved])
    se = np.array([c.default_rates_se for c in solved]).mean(axis=0)
    ratio = p.std(axis=0, ddof=1) / se
    dof = len(solved) - 1
    # (dof) ratio² is chi²(dof) if the SE is right; one assertion covers both buckets, each
    # two-sided at the failure budget (Bonferroni). With 16 seeds this only catches an SE more
    # than 2 times too small or 4 times too large; the slow job repeats it over many seeds.
    tail = fail_prob(p.shape[1]) / 2
    lo, hi = np.sqrt(np.array([stats.chi2.ppf(tail, dof), stats.chi2.isf(tail, dof)]) / dof)
    assert np.all((lo < ratio) & (ratio < hi)), (ratio, lo, hi)


def test_bad_targets_and_bounds_are_refused():
    with pytest.raises(ValueError, match="targets must be 4 rates"):
        calibrate_default_rates(make(PHI0), [0.1, 0.2])
    with pytest.raises(ValueError, match="targets must be 4 rates"):
        calibrate_default_rates(make(PHI0), [0.1, 0.2, 0.3, 1.5])
    for bound in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="max_default_rate must be in"):
            calibrate_default_rates(make(PHI0), max_default_rate=bound)


def test_sensetime_reads_as_a_light_matrix(capsys):
    assert main(["implied-rates", str(SENSETIME), "--paths", "1000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"]["4y+"] == "not_identified"
    assert {report["status"][lab] for lab in ("0-6m", "6m-1y", "1-2y")} == {"below_reach"}
    assert report["verdict"].startswith("The disclosed matrix provisions less")
    assert report["calibrated_default_rates"]["0-6m"] == 0.0
    sc = load_scenario(SENSETIME)
    assert report["calibrated_default_rates"]["4y+"] == sc.defaults.monthly_rate[-1]


@pytest.mark.parametrize("bound", ["0", "1", "abc", "-0.2"])
def test_a_bad_max_default_rate_is_one_line(capsys, bound):
    code = main(["implied-rates", str(SENSETIME), "--max-default-rate", bound])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "--max-default-rate" in err


def test_the_bound_moves_what_is_above_reach(capsys):
    sc = _book()
    targets = _rates_with(sc, [0.004, 0.01, 0.02, 0.12])
    assert calibrate_default_rates(sc, targets).status[3] == "above_reach"
    wide = calibrate_default_rates(sc, targets, max_default_rate=0.2)
    assert wide.status == ["reproduced"] * 4 and wide.default_rates[3] == pytest.approx(0.12)
