"""Scenario validation through the CLI: DESIGN 3 (exit codes), 3.1 (the file) and 3.2 (the rules).

Every user mistake must give exit code 2, exactly one line on stderr of the form
``FILE: FIELD: reason``, nothing on stdout, no traceback, and nothing written: each test runs in
``tmp_path`` (the working directory) and checks that no ``results/`` folder and no other new file
appears. Scenarios are built as dicts from a small valid base, changed one field at a time and
written with ``tomlkit``.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from conftest import assert_one_line_error

from simulator.cli import main
from simulator.scenario import MAX_FILE_BYTES, ScenarioError, load_scenario, with_overrides

DEL = object()  # a mutation value meaning "remove this key"

BASE: dict[str, Any] = {
    "scenario": {
        "name": "Validation test book",
        "currency": "CNY",
        "unit": "million",
        "as_of": dt.date(2024, 6, 30),
        "description": "A small valid scenario that every case changes in one place.",
        "sources": ["Made up for the tests."],
    },
    "buckets": {
        "edges_months": [0, 12, 24],
        "labels": ["0-1y", "1y-2y", "2y+"],
        "gross": [100.0, 50.0, 20.0],
        "provision_rates": [0.05, 0.2, 1.0],
    },
    "collections": {
        "monthly_rate": [0.1, 0.05, 0.0],
        "multiplier": 1.0,
        "factor_loading": 0.5,
        "seasonality": [1.0] * 12,
    },
    "defaults": {
        "monthly_rate": [0.001, 0.005, 0.01],
        "correlation": 0.1,
        "write_off_after_months": 60,
    },
    "factor": {"persistence": 0.5},
    "revenue": {
        "monthly": 10.0,
        "annual_growth": 0.05,
        "volatility": 0.1,
        "factor_correlation": 0.3,
        "credit_share": 0.8,
        "seasonality": [1.0] * 12,
    },
    "cash": {
        "opening": 100.0,
        "monthly_fixed_outflow": 5.0,
        "fixed_outflow_growth": 0.02,
        "variable_cost_ratio": 0.5,
        "floor": 0.0,
        "other_monthly_inflow": 1.0,
    },
    "simulation": {
        "paths": 1000,
        "horizon_months": 24,
        "seed": 7,
        "trajectory_paths": 100,
        "runoff_paths": 100,
    },
    "sweep": {"collections.multiplier": "0.5:1.5:3"},
    "ecl_scenarios": [
        {"name": "base", "weight": 0.7, "overrides": {}},
        {
            "name": "downside",
            "weight": 0.3,
            "overrides": {"collections.multiplier": 0.7, "defaults.correlation": 0.3},
        },
    ],
}


# ------------------------------------------------------------------------------------------------
# Helpers


def _split(path: str) -> list[str | int]:
    """``"ecl_scenarios[1].overrides"`` -> ``["ecl_scenarios", 1, "overrides"]``."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", chunk)
        assert m, path
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def mutate(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``path: value`` applied (``DEL`` removes the key)."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        *parents, last = _split(path)
        node: Any = data
        for p in parents:
            node = node[p]
        if value is DEL:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return data


def _nan_safe(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return "<nan>"
    if isinstance(x, dict):
        return {k: _nan_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_safe(v) for v in x]
    return x


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as TOML and check that it reads back as the same document."""
    text = tomlkit.dumps(data)
    assert _nan_safe(tomllib.loads(text)) == _nan_safe(data), text
    path.write_text(text, encoding="utf-8")
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


@pytest.fixture
def cli(in_tmp: Path, capsys: pytest.CaptureFixture[str]):
    """Call ``main(argv)``; return ``(code, stdout, stderr)`` after checking nothing was written."""

    def call(argv: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        before = _tree(in_tmp)
        code = main(argv)
        out, err = capsys.readouterr()
        assert not (in_tmp / "results").exists(), "a results folder was written"
        assert _tree(in_tmp) == before, "files were written"
        return code, out, err

    return call


def assert_user_error(
    result: tuple[int, str, str], file: str | Path, field: str, *phrases: str
) -> str:
    """Exit code 2, nothing on stdout, one line ``FILE: FIELD: reason`` containing ``phrases``."""
    code, out, err = result
    assert code == 2, (code, err)
    assert out == "", out
    return assert_one_line_error(err, *phrases, prefix=f"{file}: {field}: ")


# ------------------------------------------------------------------------------------------------
# The base scenario and the writer


def test_base_scenario_is_valid(cli, in_tmp: Path, base: dict[str, Any]) -> None:
    path = write_scenario(in_tmp / "base.toml", base)
    code, out, err = cli(["validate", str(path)])
    assert code == 0, err
    assert out.startswith("OK"), out
    assert str(path) in out
    assert out.count("\n") == 1
    assert err == ""


def test_required_fields_only_is_valid(cli, in_tmp: Path, base: dict[str, Any]) -> None:
    data = {
        "buckets": {k: base["buckets"][k] for k in ("edges_months", "gross", "provision_rates")},
        "collections": {"monthly_rate": base["collections"]["monthly_rate"]},
        "defaults": {"monthly_rate": base["defaults"]["monthly_rate"]},
        "cash": {"opening": 100.0},
    }
    path = write_scenario(in_tmp / "minimal.toml", data)
    code, out, err = cli(["validate", str(path)])
    assert code == 0, err
    assert out.startswith("OK")


def test_integer_accepted_where_float_expected(cli, in_tmp: Path, base: dict[str, Any]) -> None:
    data = mutate(
        base,
        {
            "cash.opening": 100,
            "buckets.gross": [100, 50, 20],
            "collections.multiplier": 1,
            "buckets.provision_rates[2]": 1,
            "ecl_scenarios[0].weight": 1,
            "ecl_scenarios[1].weight": 0,
        },
    )
    data["ecl_scenarios"].pop()
    path = write_scenario(in_tmp / "ints.toml", data)
    code, out, err = cli(["validate", str(path)])
    assert code == 0, err
    assert out.startswith("OK")


def test_valid_seasonality_with_as_of(cli, in_tmp: Path, base: dict[str, Any]) -> None:
    data = mutate(base, {"revenue.seasonality": [0.5, 1.5] * 6, "collections.seasonality": DEL})
    path = write_scenario(in_tmp / "seas.toml", data)
    code, _, err = cli(["validate", str(path)])
    assert code == 0, err


# ------------------------------------------------------------------------------------------------
# DESIGN 3.2, one rule at a time: (changes, field reported, phrases in the reason)

RULE_CASES = [
    # buckets.edges_months: integers, first 0, strictly increasing, last <= 600
    pytest.param(
        {"buckets.edges_months": [1, 12, 24]},
        "buckets.edges_months",
        ("first edge must be 0",),
        id="edges-first-not-0",
    ),
    pytest.param(
        {"buckets.edges_months": [0, 12, 12]},
        "buckets.edges_months",
        ("increase strictly",),
        id="edges-repeated",
    ),
    pytest.param(
        {"buckets.edges_months": [0, 24, 12]},
        "buckets.edges_months",
        ("increase strictly",),
        id="edges-decreasing",
    ),
    pytest.param(
        {"buckets.edges_months": [0, 12, 601]},
        "buckets.edges_months",
        ("must be ≤ 600", "601"),
        id="edges-last-over-600",
    ),
    pytest.param(
        {"buckets.edges_months": [0, 6.5, 24]},
        "buckets.edges_months[1]",
        ("expected an integer", "6.5"),
        id="edges-non-integer",
    ),
    pytest.param(
        {"buckets.edges_months": []},
        "buckets.edges_months",
        ("at least one edge",),
        id="edges-empty",
    ),
    # per-bucket lists: length K
    pytest.param(
        {"buckets.gross": [100.0, 50.0]},
        "buckets.gross",
        ("one value per bucket", "(3)", "got 2"),
        id="gross-length",
    ),
    pytest.param(
        {"buckets.provision_rates": [0.05, 0.2, 0.5, 1.0]},
        "buckets.provision_rates",
        ("one value per bucket", "got 4"),
        id="provision-rates-length",
    ),
    pytest.param(
        {"collections.monthly_rate": [0.1, 0.05]},
        "collections.monthly_rate",
        ("one value per bucket",),
        id="collections-rate-length",
    ),
    pytest.param(
        {"defaults.monthly_rate": [0.001]},
        "defaults.monthly_rate",
        ("one value per bucket",),
        id="defaults-rate-length",
    ),
    pytest.param(
        {"buckets.labels": ["young", "old"]},
        "buckets.labels",
        ("one value per bucket",),
        id="labels-length",
    ),
    # per-bucket lists: rates in [0, 1], balances >= 0, labels distinct
    pytest.param(
        {"buckets.provision_rates[1]": -0.1},
        "buckets.provision_rates[1]",
        ("must be ≥ 0",),
        id="provision-rate-negative",
    ),
    pytest.param(
        {"buckets.provision_rates[2]": 1.2},
        "buckets.provision_rates[2]",
        ("must be ≤ 1",),
        id="provision-rate-over-1",
    ),
    pytest.param(
        {"collections.monthly_rate[2]": 1.5},
        "collections.monthly_rate[2]",
        ("must be ≤ 1", "1.5"),
        id="collections-rate-over-1",
    ),
    pytest.param(
        {"collections.monthly_rate[0]": -0.01},
        "collections.monthly_rate[0]",
        ("must be ≥ 0",),
        id="collections-rate-negative",
    ),
    pytest.param(
        {"defaults.monthly_rate[1]": 1.01},
        "defaults.monthly_rate[1]",
        ("must be ≤ 1",),
        id="defaults-rate-over-1",
    ),
    pytest.param(
        {"defaults.monthly_rate[0]": -0.001},
        "defaults.monthly_rate[0]",
        ("must be ≥ 0",),
        id="defaults-rate-negative",
    ),
    pytest.param(
        {"buckets.gross[1]": -1.0},
        "buckets.gross[1]",
        ("must be ≥ 0",),
        id="gross-negative",
    ),
    pytest.param(
        {"buckets.labels": ["young", "young", "old"]},
        "buckets.labels",
        ("different",),
        id="labels-duplicate",
    ),
    # defaults
    pytest.param(
        {"defaults.correlation": 1.0},
        "defaults.correlation",
        ("must be < 1",),
        id="correlation-1",
    ),
    pytest.param(
        {"defaults.correlation": -0.1},
        "defaults.correlation",
        ("must be ≥ 0",),
        id="correlation-negative",
    ),
    pytest.param(
        {"defaults.write_off_after_months": 24},
        "defaults.write_off_after_months",
        ("last bucket edge (24)", "got 24"),
        id="write-off-equals-last-edge",
    ),
    pytest.param(
        {"defaults.write_off_after_months": 12},
        "defaults.write_off_after_months",
        ("last bucket edge",),
        id="write-off-below-last-edge",
    ),
    pytest.param(
        {"defaults.write_off_after_months": 1201},
        "defaults.write_off_after_months",
        ("must be ≤ 1200",),
        id="write-off-over-1200",
    ),
    pytest.param(
        {"defaults.write_off_after_months": 60.5},
        "defaults.write_off_after_months",
        ("expected an integer",),
        id="write-off-non-integer",
    ),
    # single-number ranges
    pytest.param(
        {"factor.persistence": 1.1},
        "factor.persistence",
        ("must be ≤ 1",),
        id="persistence-over-1",
    ),
    pytest.param(
        {"factor.persistence": -0.1},
        "factor.persistence",
        ("must be ≥ 0",),
        id="persistence-negative",
    ),
    pytest.param(
        {"collections.factor_loading": 10.5},
        "collections.factor_loading",
        ("must be ≤ 10",),
        id="factor-loading-over-10",
    ),
    pytest.param(
        {"collections.factor_loading": -0.5},
        "collections.factor_loading",
        ("must be ≥ 0",),
        id="factor-loading-negative",
    ),
    pytest.param(
        {"collections.multiplier": 100.5},
        "collections.multiplier",
        ("must be ≤ 100",),
        id="multiplier-over-100",
    ),
    pytest.param(
        {"collections.multiplier": -0.1},
        "collections.multiplier",
        ("must be ≥ 0",),
        id="multiplier-negative",
    ),
    pytest.param(
        {"revenue.factor_correlation": 1.1},
        "revenue.factor_correlation",
        ("must be ≤ 1",),
        id="kappa-over-1",
    ),
    pytest.param(
        {"revenue.factor_correlation": -1.1},
        "revenue.factor_correlation",
        ("must be ≥ -1",),
        id="kappa-under-minus-1",
    ),
    pytest.param(
        {"revenue.volatility": 2.5},
        "revenue.volatility",
        ("must be ≤ 2",),
        id="volatility-over-2",
    ),
    pytest.param(
        {"revenue.volatility": -0.1},
        "revenue.volatility",
        ("must be ≥ 0",),
        id="volatility-negative",
    ),
    pytest.param(
        {"revenue.credit_share": 1.1},
        "revenue.credit_share",
        ("must be ≤ 1",),
        id="credit-share-over-1",
    ),
    pytest.param(
        {"revenue.annual_growth": -1.0},
        "revenue.annual_growth",
        ("must be > -1",),
        id="annual-growth-minus-1",
    ),
    pytest.param(
        {"revenue.annual_growth": -1.5},
        "revenue.annual_growth",
        ("must be > -1",),
        id="annual-growth-below-minus-1",
    ),
    pytest.param(
        {"revenue.annual_growth": 10.5},
        "revenue.annual_growth",
        ("must be ≤ 10",),
        id="annual-growth-over-10",
    ),
    pytest.param(
        {"cash.fixed_outflow_growth": -1.0},
        "cash.fixed_outflow_growth",
        ("must be > -1",),
        id="outflow-growth-minus-1",
    ),
    pytest.param(
        {"cash.fixed_outflow_growth": 11},
        "cash.fixed_outflow_growth",
        ("must be ≤ 10",),
        id="outflow-growth-over-10",
    ),
    # seasonalities: exactly 12 numbers >= 0; require as_of
    pytest.param(
        {"collections.seasonality": [1.0] * 11},
        "collections.seasonality",
        ("12 items", "got 11"),
        id="seasonality-11",
    ),
    pytest.param(
        {"revenue.seasonality": [1.0] * 13},
        "revenue.seasonality",
        ("12 items", "got 13"),
        id="seasonality-13",
    ),
    pytest.param(
        {"revenue.seasonality[3]": -0.5},
        "revenue.seasonality[3]",
        ("must be ≥ 0",),
        id="seasonality-negative",
    ),
    pytest.param(
        {"scenario.as_of": DEL},
        "collections.seasonality",
        ("as_of",),
        id="seasonality-without-as-of",
    ),
    pytest.param(
        {"scenario.as_of": DEL, "collections.seasonality": DEL},
        "revenue.seasonality",
        ("as_of",),
        id="revenue-seasonality-without-as-of",
    ),
    # money: finite, |x| <= 1e12; R_0, F_0 >= 0; v_c in [0, 10]
    pytest.param(
        {"cash.opening": float("nan")},
        "cash.opening",
        ("finite",),
        id="opening-nan",
    ),
    pytest.param(
        {"cash.opening": float("inf")},
        "cash.opening",
        ("finite",),
        id="opening-inf",
    ),
    pytest.param(
        {"cash.floor": float("-inf")},
        "cash.floor",
        ("finite",),
        id="floor-minus-inf",
    ),
    pytest.param(
        {"revenue.monthly": float("nan")},
        "revenue.monthly",
        ("finite",),
        id="revenue-nan",
    ),
    pytest.param(
        {"buckets.gross[0]": float("inf")},
        "buckets.gross[0]",
        ("finite",),
        id="gross-inf",
    ),
    pytest.param(
        {"cash.opening": 1e13},
        "cash.opening",
        ("must be ≤ 1000000000000",),
        id="opening-1e13",
    ),
    pytest.param(
        {"cash.opening": -1e13},
        "cash.opening",
        ("must be ≥ -1000000000000",),
        id="opening-minus-1e13",
    ),
    pytest.param(
        {"cash.other_monthly_inflow": 1e13},
        "cash.other_monthly_inflow",
        ("must be ≤ 1000000000000",),
        id="other-inflow-1e13",
    ),
    pytest.param(
        {"buckets.gross[2]": 1e13},
        "buckets.gross[2]",
        ("must be ≤ 1000000000000",),
        id="gross-1e13",
    ),
    pytest.param(
        {"revenue.monthly": -5.0},
        "revenue.monthly",
        ("must be ≥ 0",),
        id="revenue-negative",
    ),
    pytest.param(
        {"cash.monthly_fixed_outflow": -5.0},
        "cash.monthly_fixed_outflow",
        ("must be ≥ 0",),
        id="fixed-outflow-negative",
    ),
    pytest.param(
        {"cash.variable_cost_ratio": 10.5},
        "cash.variable_cost_ratio",
        ("must be ≤ 10",),
        id="variable-cost-over-10",
    ),
    pytest.param(
        {"cash.variable_cost_ratio": -0.1},
        "cash.variable_cost_ratio",
        ("must be ≥ 0",),
        id="variable-cost-negative",
    ),
    # simulation
    pytest.param({"simulation.paths": 0}, "simulation.paths", ("must be ≥ 1",), id="paths-0"),
    pytest.param(
        {"simulation.paths": 100_000_001},
        "simulation.paths",
        ("must be ≤ 100000000",),
        id="paths-over-1e8",
    ),
    pytest.param(
        {"simulation.horizon_months": 0},
        "simulation.horizon_months",
        ("must be ≥ 1",),
        id="horizon-0",
    ),
    pytest.param(
        {"simulation.horizon_months": 1201},
        "simulation.horizon_months",
        ("must be ≤ 1200",),
        id="horizon-1201",
    ),
    pytest.param(
        {"simulation.trajectory_paths": 1_000_001},
        "simulation.trajectory_paths",
        ("must be ≤ 1000000",),
        id="trajectory-paths-over-1e6",
    ),
    pytest.param(
        {"simulation.trajectory_paths": -1},
        "simulation.trajectory_paths",
        ("must be ≥ 0",),
        id="trajectory-paths-negative",
    ),
    pytest.param(
        {"simulation.runoff_paths": 0},
        "simulation.runoff_paths",
        ("must be ≥ 1",),
        id="runoff-paths-0",
    ),
    pytest.param(
        {"simulation.runoff_paths": 10_000_001},
        "simulation.runoff_paths",
        ("must be ≤ 10000000",),
        id="runoff-paths-over-1e7",
    ),
    pytest.param({"simulation.seed": -1}, "simulation.seed", ("must be ≥ 0",), id="seed-negative"),
    # ecl_scenarios: unique names, weights in (0, 1] summing to 1, overrides name real fields
    pytest.param(
        {"ecl_scenarios[1].name": "base"},
        "ecl_scenarios[1].name",
        ("duplicate name", "'base'"),
        id="ecl-duplicate-name",
    ),
    pytest.param(
        {"ecl_scenarios[1].weight": 0.2},
        "ecl_scenarios",
        ("weights must sum to 1", "0.9"),
        id="ecl-weights-sum",
    ),
    pytest.param(
        {"ecl_scenarios[0].weight": 0.0, "ecl_scenarios[1].weight": 1.0},
        "ecl_scenarios[0].weight",
        ("must be > 0",),
        id="ecl-weight-0",
    ),
    pytest.param(
        {"ecl_scenarios[0].weight": 1.5},
        "ecl_scenarios[0].weight",
        ("must be ≤ 1",),
        id="ecl-weight-over-1",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": {"collections.multiplir": 0.7}},
        "ecl_scenarios[1].overrides.collections.multiplir",
        ("unknown field", "did you mean 'multiplier'"),
        id="ecl-override-unknown-field",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": {"colections.multiplier": 0.7}},
        "ecl_scenarios[1].overrides.colections.multiplier",
        ("unknown section", "did you mean 'collections'"),
        id="ecl-override-unknown-section",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": {"collections.multiplier": 200.0}},
        "ecl_scenarios[1].overrides.collections.multiplier",
        ("must be ≤ 100",),
        id="ecl-override-out-of-range",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": {"collections.monthly_rate[2]": 1.5}},
        "ecl_scenarios[1].overrides.collections.monthly_rate[2]",
        ("must be ≤ 1",),
        id="ecl-override-element-out-of-range",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": {"collections.monthly_rate[9]": 0.1}},
        "ecl_scenarios[1].overrides.collections.monthly_rate[9]",
        ("index out of range",),
        id="ecl-override-bad-index",
    ),
    pytest.param(
        {"ecl_scenarios[0].nme": "x"},
        "ecl_scenarios[0].nme",
        ("unknown key", "did you mean 'name'"),
        id="ecl-unknown-key",
    ),
    # sweep keys name real fields
    pytest.param(
        {"sweep": {"collections.multiplir": "0.5:1.5:3"}},
        "sweep.collections.multiplir",
        ("unknown field", "did you mean 'multiplier'"),
        id="sweep-unknown-field",
    ),
]

TYPE_CASES = [
    pytest.param(
        {"cash.opening": True},
        "cash.opening",
        ("expected a number", "boolean"),
        id="bool-for-number",
    ),
    pytest.param(
        {"collections.multiplier": "0.8"},
        "collections.multiplier",
        ("expected a number", "string"),
        id="string-for-number",
    ),
    pytest.param(
        {"defaults.monthly_rate[1]": "0.005"},
        "defaults.monthly_rate[1]",
        ("expected a number", "string"),
        id="string-in-number-list",
    ),
    pytest.param(
        {"scenario.as_of": "2024-06-30"},
        "scenario.as_of",
        ("expected a TOML date", "string"),
        id="string-for-date",
    ),
    pytest.param(
        {"scenario.as_of": dt.datetime(2024, 6, 30, 12, 0)},
        "scenario.as_of",
        ("expected a TOML date", "date-time"),
        id="datetime-for-date",
    ),
    pytest.param(
        {"ecl_scenarios[1].overrides": 5},
        "ecl_scenarios[1].overrides",
        ("expected a table",),
        id="number-for-overrides",
    ),
    pytest.param(
        {"simulation.paths": 1000.0},
        "simulation.paths",
        ("expected an integer", "1000.0"),
        id="float-for-integer",
    ),
    pytest.param(
        {"simulation.seed": True},
        "simulation.seed",
        ("expected an integer", "boolean"),
        id="bool-for-integer",
    ),
    pytest.param(
        {"cash.opening": {"value": 100.0}},
        "cash.opening",
        ("expected a number", "table"),
        id="table-for-number",
    ),
    pytest.param(
        {"collections.monthly_rate": 0.1},
        "collections.monthly_rate",
        ("expected a list",),
        id="number-for-list",
    ),
    pytest.param(
        {"buckets.labels[0]": 1},
        "buckets.labels[0]",
        ("expected a string",),
        id="integer-for-string",
    ),
    pytest.param(
        {"factor": 1.0},
        "factor",
        ("expected a table",),
        id="number-for-section",
    ),
]

KEY_CASES = [
    pytest.param(
        {"collections.multiplir": 0.8},
        "collections.multiplir",
        ("unknown key", "did you mean 'multiplier'"),
        id="unknown-key-near-miss",
    ),
    pytest.param(
        {"scenario.as_off": dt.date(2024, 6, 30)},
        "scenario.as_off",
        ("unknown key", "did you mean 'as_of'"),
        id="unknown-key-as-of",
    ),
    pytest.param(
        {"colections": {"multiplier": 0.8}},
        "colections",
        ("unknown key", "did you mean 'collections'"),
        id="unknown-section-near-miss",
    ),
    pytest.param(
        {"zzz": {"a": 1}},
        "zzz",
        ("unknown key",),
        id="unknown-section",
    ),
    pytest.param(
        {"cash.opening": DEL},
        "cash.opening",
        ("required key is missing",),
        id="missing-opening",
    ),
    pytest.param(
        {"collections.monthly_rate": DEL},
        "collections.monthly_rate",
        ("required key is missing",),
        id="missing-collection-rates",
    ),
    pytest.param(
        {"buckets": DEL},
        "buckets",
        ("required table is missing",),
        id="missing-buckets-table",
    ),
    pytest.param(
        {"cash": DEL},
        "cash",
        ("required table is missing",),
        id="missing-cash-table",
    ),
]

# DESIGN 3.2: unknown keys, missing keys, wrong types, out-of-range values, cross-field rules.
# The winning problem sits in a later section than the losing one, so file order cannot explain
# the result.
ORDER_CASES = [
    pytest.param(
        {"buckets.gross[0]": -1.0, "simulation.pathz": 10},
        "simulation.pathz",
        ("unknown key", "did you mean 'paths'"),
        id="unknown-beats-range",
    ),
    pytest.param(
        {"buckets.gross": DEL, "simulation.pathz": 10},
        "simulation.pathz",
        ("unknown key",),
        id="unknown-beats-missing",
    ),
    pytest.param(
        {"buckets.gross[0]": "x", "simulation.pathz": 10},
        "simulation.pathz",
        ("unknown key",),
        id="unknown-beats-type",
    ),
    pytest.param(
        {"buckets.gross": [1.0], "simulation.pathz": 10},
        "simulation.pathz",
        ("unknown key",),
        id="unknown-beats-cross-field",
    ),
    pytest.param(
        {"buckets.gross[0]": "x", "cash.opening": DEL},
        "cash.opening",
        ("required key is missing",),
        id="missing-beats-type",
    ),
    pytest.param(
        {"buckets.gross[0]": "x", "cash": DEL},
        "cash",
        ("required table is missing",),
        id="missing-table-beats-type",
    ),
    pytest.param(
        {"buckets.gross[0]": -1.0, "simulation.paths": 1000.0},
        "simulation.paths",
        ("expected an integer",),
        id="type-beats-range",
    ),
    pytest.param(
        {"buckets.edges_months": [0, 12, 12], "simulation.paths": 1000.0},
        "simulation.paths",
        ("expected an integer",),
        id="type-beats-edges-rule",
    ),
    pytest.param(
        {"buckets.gross": [1.0, 2.0], "simulation.seed": -1},
        "simulation.seed",
        ("must be ≥ 0",),
        id="range-beats-list-length",
    ),
    pytest.param(
        {"buckets.labels": ["a", "a", "b"], "cash.opening": float("nan")},
        "cash.opening",
        ("finite",),
        id="range-beats-duplicate-labels",
    ),
    pytest.param(
        {"defaults.write_off_after_months": 12, "simulation.horizon_months": 0},
        "simulation.horizon_months",
        ("must be ≥ 1",),
        id="range-beats-write-off-rule",
    ),
    pytest.param(
        {"ecl_scenarios[1].weight": 0.2, "simulation.seed": -1},
        "simulation.seed",
        ("must be ≥ 0",),
        id="range-beats-ecl-weights",
    ),
    pytest.param(
        {"buckets.gross[0]": -1.0, "simulation.seed": -1},
        "buckets.gross[0]",
        ("must be ≥ 0",),
        id="same-rank-first-in-file",
    ),
]


@pytest.mark.parametrize(("changes", "field", "phrases"), RULE_CASES)
def test_rule(cli, in_tmp: Path, base: dict[str, Any], changes, field, phrases) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, changes))
    assert_user_error(cli(["validate", str(path)]), path, field, *phrases)


@pytest.mark.parametrize(("changes", "field", "phrases"), TYPE_CASES)
def test_strict_types(cli, in_tmp: Path, base: dict[str, Any], changes, field, phrases) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, changes))
    assert_user_error(cli(["validate", str(path)]), path, field, *phrases)


@pytest.mark.parametrize(("changes", "field", "phrases"), KEY_CASES)
def test_keys(cli, in_tmp: Path, base: dict[str, Any], changes, field, phrases) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, changes))
    assert_user_error(cli(["validate", str(path)]), path, field, *phrases)


def test_unknown_key_without_near_miss_has_no_suggestion(
    cli, in_tmp: Path, base: dict[str, Any]
) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, {"cash.zzzzzz": 1.0}))
    line = assert_user_error(cli(["validate", str(path)]), path, "cash.zzzzzz", "unknown key")
    assert "did you mean" not in line


@pytest.mark.parametrize(("changes", "field", "phrases"), ORDER_CASES)
def test_error_order(cli, in_tmp: Path, base: dict[str, Any], changes, field, phrases) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, changes))
    assert_user_error(cli(["validate", str(path)]), path, field, *phrases)


def test_literal_toml_nan_inf(cli, in_tmp: Path) -> None:
    """The TOML literals ``nan`` and ``inf`` as written by hand."""
    text = (
        "[buckets]\nedges_months = [0, 12, 24]\ngross = [100.0, inf, 20.0]\n"
        "provision_rates = [0.05, 0.2, 1.0]\n"
        "[collections]\nmonthly_rate = [0.1, 0.05, 0.0]\n"
        "[defaults]\nmonthly_rate = [0.001, 0.005, 0.01]\n"
        "[cash]\nopening = nan\n"
    )
    path = in_tmp / "literal.toml"
    path.write_text(text, encoding="utf-8")
    assert_user_error(cli(["validate", str(path)]), path, "buckets.gross[1]", "finite")
    path.write_text(text.replace("inf", "50.0"), encoding="utf-8")
    assert_user_error(cli(["validate", str(path)]), path, "cash.opening", "finite")


# ------------------------------------------------------------------------------------------------
# Files that cannot be read as a scenario


def test_missing_file(cli, in_tmp: Path) -> None:
    path = in_tmp / "nope.toml"
    assert_user_error(cli(["validate", str(path)]), path, "-", "no such file")


def test_directory(cli, in_tmp: Path) -> None:
    path = in_tmp / "folder.toml"
    path.mkdir()
    assert_user_error(cli(["validate", str(path)]), path, "-", "folder")


def test_binary_garbage(cli, in_tmp: Path) -> None:
    path = in_tmp / "garbage.toml"
    path.write_bytes(b"\xff\xfe\xc3\x28" + random.Random(0).randbytes(4096))
    assert_user_error(cli(["validate", str(path)]), path, "-", "not UTF-8")


def test_control_characters(cli, in_tmp: Path) -> None:
    path = in_tmp / "nul.toml"
    path.write_bytes(b"[cash]\nopening = 1\x00\x01\x02\n")
    assert_user_error(cli(["validate", str(path)]), path, "-", "not valid TOML", "line 2")


def test_broken_toml(cli, in_tmp: Path) -> None:
    path = in_tmp / "broken.toml"
    path.write_text(
        "[buckets]\nedges_months = [0, 12, 24]\ngross = [100.0, 50.0\n\n[cash]\nopening = 1\n",
        encoding="utf-8",
    )
    line = assert_user_error(cli(["validate", str(path)]), path, "-", "not valid TOML", "line")
    assert re.search(r"line \d+", line), line


def test_broken_toml_reports_its_line(cli, in_tmp: Path) -> None:
    path = in_tmp / "broken.toml"
    path.write_text(
        "[buckets]\nedges_months = [0, 12, 24]\ngross = \nprovision_rates = [0.1, 0.2, 1.0]\n",
        encoding="utf-8",
    )
    assert_user_error(cli(["validate", str(path)]), path, "-", "not valid TOML", "line 3")


def test_duplicate_key_is_broken_toml(cli, in_tmp: Path) -> None:
    path = in_tmp / "dup.toml"
    path.write_text("[cash]\nopening = 1.0\nopening = 2.0\n", encoding="utf-8")
    assert_user_error(cli(["validate", str(path)]), path, "-", "not valid TOML", "line 3")


def test_nested_too_deeply(cli, in_tmp: Path) -> None:
    path = in_tmp / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert_user_error(cli(["validate", str(path)]), path, "-", "not valid TOML")


def test_empty_file(cli, in_tmp: Path) -> None:
    path = in_tmp / "empty.toml"
    path.write_bytes(b"")
    assert_user_error(cli(["validate", str(path)]), path, "buckets", "required table is missing")


def test_file_over_10_mib(cli, in_tmp: Path) -> None:
    path = in_tmp / "huge.toml"
    with path.open("wb") as f:  # sparse: quick to make, never read
        f.truncate(MAX_FILE_BYTES + 1)
    assert MAX_FILE_BYTES == 10 * 2**20
    assert_user_error(cli(["validate", str(path)]), path, "-", "at most 10 MiB")


def test_file_of_exactly_10_mib_is_read(cli, in_tmp: Path, base: dict[str, Any]) -> None:
    path = in_tmp / "padded.toml"
    text = tomlkit.dumps(base).encode()
    path.write_bytes(text + b"#" * (MAX_FILE_BYTES - len(text) - 1) + b"\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    code, out, err = cli(["validate", str(path)])
    assert code == 0, err
    assert out.startswith("OK")


# ------------------------------------------------------------------------------------------------
# --set and --paths


@pytest.fixture
def scenario_file(in_tmp: Path, base: dict[str, Any]) -> Path:
    return write_scenario(in_tmp / "scenario.toml", base)


SET_CASES = [
    pytest.param(
        "collections.multiplir=0.8",
        "collections.multiplir",
        ("unknown field", "did you mean 'multiplier'"),
        id="unknown-field",
    ),
    pytest.param(
        "colections.multiplier=0.8",
        "colections.multiplier",
        ("unknown section", "did you mean 'collections'"),
        id="unknown-section",
    ),
    pytest.param(
        "collections.monthly_rate[9]=0.1",
        "collections.monthly_rate[9]",
        ("index out of range", "3 items"),
        id="bad-index",
    ),
    pytest.param(
        "cash.opening=abc",
        "cash.opening",
        ("expected a number", "string"),
        id="wrong-type",
    ),
    pytest.param(
        "cash.opening=true",
        "cash.opening",
        ("expected a number", "boolean"),
        id="bool-for-number",
    ),
    pytest.param(
        "collections.multiplier=200",
        "collections.multiplier",
        ("must be ≤ 100",),
        id="out-of-range",
    ),
    pytest.param(
        "collections.monthly_rate[2]=1.5",
        "collections.monthly_rate[2]",
        ("must be ≤ 1",),
        id="element-out-of-range",
    ),
    pytest.param(
        "collections.monthly_rate=[0.1,0.05]",
        "collections.monthly_rate",
        ("one value per bucket",),
        id="list-wrong-length",
    ),
    pytest.param(
        "scenario.as_of=30/06/2024",
        "scenario.as_of",
        ("expected a TOML date",),
        id="bad-date",
    ),
    pytest.param(
        "collections.monthly_rate[1][2]=0.1",
        "collections.monthly_rate[1][2]",
        ("only one [index]",),
        id="two-indexes",
    ),
    pytest.param(
        "collections=1",
        "collections",
        ("expected SECTION.FIELD",),
        id="section-only",
    ),
    pytest.param(
        "cash.opening=1e400",
        "cash.opening",
        ("finite",),
        id="overflow-to-inf",
    ),
    pytest.param("foo", "--set", ("expected FIELD=VALUE", "'foo'"), id="missing-equals"),
    pytest.param("=1", "--set", ("expected FIELD=VALUE",), id="missing-field"),
]


@pytest.mark.parametrize(("item", "field", "phrases"), SET_CASES)
def test_set(cli, scenario_file: Path, item: str, field: str, phrases) -> None:
    result = cli(["validate", str(scenario_file), "--set", item])
    assert_user_error(result, scenario_file, field, *phrases)


def test_set_good_values_validate(cli, scenario_file: Path) -> None:
    code, out, err = cli(
        [
            "validate",
            str(scenario_file),
            "--set",
            "collections.multiplier=0.8",
            "--set",
            "collections.monthly_rate[2]=0.03",
            "--set",
            "scenario.as_of=2024-12-31",
            "--set",
            "simulation.paths=10",
        ]
    )
    assert code == 0, err
    assert out.startswith("OK") and "10 paths" in out


@pytest.mark.parametrize(
    ("paths", "phrase"),
    [
        pytest.param("0", "must be ≥ 1", id="zero"),
        pytest.param("-5", "must be ≥ 1", id="negative"),
        pytest.param("100000001", "must be ≤ 100000000", id="too-many"),
    ],
)
def test_run_paths_out_of_range(cli, in_tmp: Path, scenario_file: Path, paths, phrase) -> None:
    out_dir = in_tmp / "out"
    result = cli(["run", str(scenario_file), "--paths", paths, "--out", str(out_dir)])
    assert_user_error(result, scenario_file, "simulation.paths", phrase)
    assert not out_dir.exists()


def test_run_paths_not_a_number(cli, in_tmp: Path, scenario_file: Path) -> None:
    """An argument that is not an integer is caught by the parser, before the file is read.

    The parser's message names the program, not the file (``arsim run: argument --paths: …``);
    it is still one line and exit code 2.
    """
    out_dir = in_tmp / "out"
    code, out, err = cli(["run", str(scenario_file), "--paths", "abc", "--out", str(out_dir)])
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "--paths", "'abc'")
    assert not out_dir.exists()


# ------------------------------------------------------------------------------------------------
# `arsim run` writes nothing when the scenario is wrong


RUN_CASES = [
    pytest.param(
        {"collections.monthly_rate[2]": 1.5},
        [],
        "collections.monthly_rate[2]",
        ("must be ≤ 1",),
        id="out-of-range",
    ),
    pytest.param(
        {"collections.multiplir": 0.8},
        [],
        "collections.multiplir",
        ("did you mean 'multiplier'",),
        id="unknown-key",
    ),
    pytest.param(
        {"cash.opening": DEL},
        [],
        "cash.opening",
        ("required key is missing",),
        id="missing-key",
    ),
    pytest.param(
        {"ecl_scenarios[1].weight": 0.2},
        [],
        "ecl_scenarios",
        ("weights must sum to 1",),
        id="ecl-weights",
    ),
    pytest.param(
        {},
        ["--set", "cash.opening=abc"],
        "cash.opening",
        ("expected a number",),
        id="set-wrong-type",
    ),
    pytest.param(
        {},
        ["--set", "collections.monthly_rate[9]=0.1"],
        "collections.monthly_rate[9]",
        ("index out of range",),
        id="set-bad-index",
    ),
]


@pytest.mark.parametrize("explicit_out", [True, False], ids=["out", "default-out"])
@pytest.mark.parametrize(("changes", "extra", "field", "phrases"), RUN_CASES)
def test_run_writes_nothing(
    cli, in_tmp: Path, base: dict[str, Any], changes, extra, field, phrases, explicit_out
) -> None:
    path = write_scenario(in_tmp / "scenario.toml", mutate(base, changes))
    out_dir = in_tmp / "out"
    argv = ["run", str(path), "--paths", "10", *extra]
    if explicit_out:
        argv += ["--out", str(out_dir)]
    assert_user_error(cli(argv), path, field, *phrases)
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param(b"\xff\xfe\x00garbage", "not UTF-8", id="binary"),
        pytest.param(b"[cash\nopening = 1\n", "not valid TOML", id="broken"),
        pytest.param(b"", "required table is missing", id="empty"),
    ],
)
def test_run_unreadable_writes_nothing(cli, in_tmp: Path, content, phrase) -> None:
    path = in_tmp / "scenario.toml"
    if content is not None:
        path.write_bytes(content)
    out_dir = in_tmp / "out"
    result = cli(["run", str(path), "--paths", "10", "--out", str(out_dir)])
    field = "buckets" if content == b"" else "-"
    assert_user_error(result, path, field, phrase)
    assert not out_dir.exists()


# ------------------------------------------------------------------------------------------------
# with_overrides in Python


def test_with_overrides_changes_exactly_those_values(in_tmp: Path, base: dict[str, Any]) -> None:
    path = write_scenario(in_tmp / "scenario.toml", base)
    sc = load_scenario(path)
    before = sc.model_dump(mode="python")
    new = with_overrides(sc, {"collections.multiplier": 0.8, "collections.monthly_rate[2]": 0.03})

    assert new.collections.multiplier == 0.8
    assert new.collections.monthly_rate == [0.1, 0.05, 0.03]
    expected = copy.deepcopy(before)
    expected["collections"]["multiplier"] = 0.8
    expected["collections"]["monthly_rate"] = [0.1, 0.05, 0.03]
    assert new.model_dump(mode="python") == expected
    assert new.source == str(path)

    # the original is unchanged
    assert sc.model_dump(mode="python") == before
    assert sc.collections.multiplier == 1.0
    assert sc.collections.monthly_rate == [0.1, 0.05, 0.0]


def test_with_overrides_rejects_bad_values(in_tmp: Path, base: dict[str, Any]) -> None:
    path = write_scenario(in_tmp / "scenario.toml", base)
    sc = load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        with_overrides(sc, {"collections.monthly_rate[2]": 1.5})
    assert str(info.value).startswith(f"{path}: collections.monthly_rate[2]: must be ≤ 1")
    with pytest.raises(ScenarioError) as info:
        with_overrides(sc, {"collections.multiplir": 0.8})
    assert "did you mean 'multiplier'" in str(info.value)
    assert sc.collections.monthly_rate == [0.1, 0.05, 0.0]
