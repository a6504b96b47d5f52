"""The checks of a reverse stress test live in the library (`check_solve`, `solve_bracket`), run
before any point, and give the one-line messages the command line prints."""

from __future__ import annotations

import math

import pytest
from factories import make

from simulator import sweep as sw
from simulator.scenario import ScenarioError

SMALL = {"simulation.paths": 2000, "simulation.horizon_months": 24, "simulation.runoff_paths": 20}


class _NoRuns:
    """A runner that must not be asked for anything."""

    def run(self, points):
        raise AssertionError(f"ran {len(points)} point(s) before the checks")


@pytest.mark.parametrize(
    "path, metric, target, message",
    [
        ("simulation.horizon_months", "p_runway_le_12", 0.1, "solve needs a real-valued field"),
        ("defaults.monthly_rate", "p_runway_le_12", 0.1, "solve needs a real-valued field"),
        ("scenario.name", "p_runway_le_12", 0.1, "solve needs a real-valued field"),
        ("collections.multipler", "p_runway_le_12", 0.1, "did you mean 'multiplier'"),
        ("collections.multiplier", "nope", 0.1, "--metric: unknown metric 'nope'"),
        ("collections.multiplier", "p_runway_le_12", math.nan, "--target: must be a finite number"),
        ("collections.multiplier", "p_runway_le_12", math.inf, "--target: must be a finite number"),
    ],
)
def test_solve_refuses_a_bad_field_metric_or_target_before_running(path, metric, target, message):
    base = make(SMALL)
    with pytest.raises(ScenarioError) as err:
        sw.check_solve(base, path, metric, target)
    assert message in str(err.value) and str(err.value).startswith("<test>: ")
    with pytest.raises(ScenarioError) as err:
        sw.solve(base, path, metric, target, _NoRuns())
    assert message in str(err.value)


@pytest.mark.parametrize(
    "bracket, message",
    [
        ((2.0, 1.0), "<test>: --bracket: expected finite lo < hi, got '2,1'"),
        ((1.0, 1.0), "<test>: --bracket: expected finite lo < hi, got '1,1'"),
        ((math.nan, 1.0), "<test>: --bracket: expected finite lo < hi, got 'nan,1'"),
        ((0.5, math.inf), "<test>: --bracket: expected finite lo < hi, got '0.5,inf'"),
        ((1.0, 200.0), "<test>: collections.multiplier: must be ≤ 100, got 200"),
    ],
)
def test_solve_refuses_a_bad_bracket_before_running(bracket, message):
    base = make(SMALL)
    with pytest.raises(ScenarioError) as err:
        sw.solve_bracket(base, "collections.multiplier", bracket)
    assert str(err.value) == message
    with pytest.raises(ScenarioError) as err:
        sw.solve(base, "collections.multiplier", "p_runway_le_12", 0.1, _NoRuns(), bracket=bracket)
    assert str(err.value) == message


def test_solve_bracket_keeps_a_good_bracket_and_defaults_to_the_default_bracket():
    base = make(SMALL)
    assert sw.solve_bracket(base, "collections.multiplier", (0.5, 2.0)) == (0.5, 2.0)
    assert sw.solve_bracket(base, "defaults.correlation") == sw.default_bracket(
        base, "defaults.correlation"
    )
    with pytest.raises(ScenarioError, match="give --bracket lo,hi"):
        sw.solve_bracket(make({**SMALL, "defaults.correlation": 0.0}), "defaults.correlation")
