"""``buckets.opening_by_age`` (DESIGN 3.1, 3.2): the opening book by monthly age, in the
scenario, the engine and the analytics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import make

from simulator import simulate, with_overrides
from simulator.analytic import expected_trajectory, implied_rates
from simulator.cli import main
from simulator.params import compile_params
from simulator.scenario import (
    ScenarioError,
    scenario_from_dict,
    scenario_hash,
    scenario_toml,
    scenario_warnings,
)

EDGES = [0, 3, 6, 12]  # the factories' grid: A = 13 without a write-off age
PROFILE = [10.0, 20.0, 30.0, 5.0, 5.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 3.0, 2.0]


def _deterministic(**extra) -> dict:
    """The factories' scenario as a mapping, with no factor and no revenue noise."""
    return {
        "collections.factor_loading": 0.0,
        "defaults.correlation": 0.0,
        "revenue.volatility": 0.0,
        **extra,
    }


def _with_profile(profile, gross=True, **over):
    sc = make(_deterministic(**over))
    raw = sc.model_dump(mode="python")
    raw["buckets"]["opening_by_age"] = list(profile)
    if not gross:
        del raw["buckets"]["gross"]
    return scenario_from_dict(raw, source="prof.toml")


def test_profile_alone_gives_gross_as_its_bucket_sums_and_the_state_as_it_is():
    sc = _with_profile(PROFILE, gross=False)
    assert sc.buckets.gross == [60.0, 10.0, 6.0, 9.0]  # ages 12.. pooled in the open bucket
    opening = compile_params(sc).opening_by_age
    assert opening.tolist() == [*PROFILE[:12], 9.0]  # folded into the last age, A - 1 = 12


def test_profile_with_gross_gives_the_shape_within_each_bucket():
    sc = _with_profile(PROFILE[:12], gross=True)  # gross 400, 250, 150, 100; bucket 3 all 0
    opening = compile_params(sc).opening_by_age
    np.testing.assert_allclose(opening[:3], [400 / 6, 800 / 6, 1200 / 6])
    np.testing.assert_allclose(opening[3:6], [125.0, 125.0, 0.0])
    np.testing.assert_allclose(opening[6:12], 25.0)
    assert opening[12] == 100.0  # the open bucket: profile 0 there, so spread evenly (one age)
    # a sweep over gross keeps the shape
    moved = with_overrides(sc, {"buckets.gross[0]": 800.0})
    np.testing.assert_allclose(compile_params(moved).opening_by_age[:3], 2 * opening[:3])


def test_gross_can_be_set_on_a_profile_only_scenario_and_a_new_profile_gives_new_sums():
    sc = _with_profile(PROFILE, gross=False)
    moved = with_overrides(sc, {"buckets.gross[1]": 20.0})
    np.testing.assert_allclose(compile_params(moved).opening_by_age[3:6], [10.0, 10.0, 0.0])
    again = with_overrides(sc, {"buckets.opening_by_age": [1.0] * 13})
    assert again.buckets.gross == [3.0, 3.0, 6.0, 1.0]


def test_write_off_age_folds_and_warns_without_printing(capsys):
    sc = _with_profile(PROFILE, gross=False, **{"defaults.write_off_after_months": 13})
    opening = compile_params(sc).opening_by_age
    assert len(opening) == 13 and opening[12] == 9.0
    warnings = scenario_warnings(sc)
    assert len(warnings) == 1 and "aged 13 months or more" in str(warnings[0])
    assert str(warnings[0]).startswith("prof.toml: buckets.opening_by_age: warning: 5 ")
    assert capsys.readouterr() == ("", "")  # the library says nothing
    assert not scenario_warnings(_with_profile(PROFILE[:13], gross=False))


def test_the_command_line_prints_the_warning(tmp_path, capsys):
    sc = _with_profile(PROFILE, gross=False, **{"defaults.write_off_after_months": 14})
    path = tmp_path / "w.toml"
    path.write_text(scenario_toml(sc))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: buckets.opening_by_age: warning: 2 of the opening balance")


@pytest.mark.parametrize(
    ("profile", "field", "words"),
    [
        ([], "buckets.opening_by_age", "must have 1 items"),
        ([1.0] * 1201, "buckets.opening_by_age", "must have 1200 items"),
        ([1.0, -1.0], "buckets.opening_by_age[1]", "must be ≥ 0"),
        ([1.0, math.inf], "buckets.opening_by_age[1]", "finite"),
        ([1.0, "x"], "buckets.opening_by_age[1]", "expected a number"),
    ],
)
def test_profile_rules(profile, field, words):
    raw = make().model_dump(mode="python")
    raw["buckets"]["opening_by_age"] = profile
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(raw)
    assert exc.value.field == field and words in exc.value.reason


def test_gross_is_required_without_a_profile():
    raw = make().model_dump(mode="python")
    del raw["buckets"]["gross"]
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(raw)
    assert exc.value.field == "buckets.gross"
    assert exc.value.reason.startswith("required key is missing")


def test_a_scenario_without_a_profile_keeps_its_hash_and_toml():
    sc = make()
    assert "opening_by_age" not in scenario_toml(sc)
    assert scenario_hash(sc) == scenario_hash(scenario_from_dict(sc.model_dump(mode="python")))


def test_written_and_read_back_the_profile_scenario_is_the_same():
    sc = _with_profile(PROFILE, gross=False)
    import tomllib

    back = scenario_from_dict(tomllib.loads(scenario_toml(sc)))
    assert scenario_hash(back) == scenario_hash(sc)
    np.testing.assert_array_equal(
        compile_params(back).opening_by_age, compile_params(sc).opening_by_age
    )


def test_engine_and_exact_expectations_start_from_the_profile():
    """No factor: every path is the recursion of DESIGN 2.4 started from the profile."""
    sc = _with_profile(PROFILE, gross=False, **{"simulation.horizon_months": 12})
    exact = expected_trajectory(sc)
    res = simulate(sc, paths=8, seed=1)
    got = res.monthly
    np.testing.assert_allclose(got["gross_mean"], exact["gross"], rtol=1e-12)
    np.testing.assert_allclose(got["collections_mean"][1:], exact["collections"][1:], rtol=1e-12)
    assert exact["gross"][0] == pytest.approx(sum(PROFILE))


def test_implied_rates_weight_ages_by_the_profile():
    """A bucket held at its oldest age is more likely to be lost than one held at its youngest."""
    young = _with_profile([0, 0, 0, 100, 0, 0], gross=False)
    old = _with_profile([0, 0, 0, 0, 0, 100], gross=False)
    even = _with_profile([0, 0, 0, 100, 100, 100], gross=False)
    r = [implied_rates(s).rates[1] for s in (young, even, old)]
    assert r[0] < r[1] < r[2]
    assert r[1] == pytest.approx(np.mean(implied_rates(old).loss_by_age[3:6]), rel=1e-12)
