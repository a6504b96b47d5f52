"""A scenario's ``[[segments]]`` and ``[[debtors]]`` (DESIGN 2.12, 2.13) after validation: the
resolved views the engine reads (``book_segments``, ``book_debtors``, ``book_opening``), the
field paths of 3.3 (``with_overrides``, ``field_value``, sweeps), the TOML round trip, the
warnings, and runs of the engine on such a book, including the exact check of 2.12 (a book split
into identical segments with ``factor_weight = 1`` is the unsplit book, path by path).
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from conftest import assert_one_line_error
from factories import BASE as PLAIN

from simulator import simulate
from simulator import sweep as sw
from simulator.cli import main
from simulator.scenario import (
    ScenarioError,
    book_debtors,
    book_opening,
    book_segments,
    field_value,
    load_scenario,
    resolve_field_path,
    scenario_from_dict,
    scenario_hash,
    scenario_toml,
    scenario_warnings,
    update_scenario_text,
    with_overrides,
)

#: The factories' book (edges 0, 3, 6, 12; K = 4) as two segments and three debtors.
SEGMENTED: dict[str, Any] = {
    **{k: v for k, v in copy.deepcopy(PLAIN).items() if k != "buckets"},
    "buckets": {"edges_months": [0, 3, 6, 12], "provision_rates": [0.02, 0.1, 0.3, 0.8]},
    "segments": [
        {
            "name": "gov",
            "label": "Governments",
            "gross": [200.0, 150.0, 100.0, 80.0],
            "billing_share": 0.7,
            "factor_weight": 0.5,
            "collections": {"monthly_rate": [0.15, 0.08, 0.03, 0.01], "multiplier": 0.8},
            "defaults": {"correlation": 0.05, "write_off_after_months": 36},
        },
        {
            "name": "ent",
            "opening_by_age": [20.0] * 3 + [15.0] * 3 + [10.0] * 6 + [5.0] * 10,
            "billing_share": 0.3,
            "provision_rates": [0.03, 0.15, 0.4, 0.9],
        },
    ],
    "debtors": [
        {
            "name": "city_a",
            "balance": 60.0,
            "age_months": 8,
            "segment": "gov",
            "monthly_pay_probability": 0.05,
            "provision_rate": 0.5,
        },
        {"name": "co_b", "balance": 25.0, "age_months": 1, "segment": "ent"},
        {
            "name": "co_c",
            "balance": 10.0,
            "age_months": 14,
            "segment": "ent",
            "monthly_default_probability": [0.01, 0.02, 0.03, 0.04],
            "correlation": 0.4,
        },
    ],
}


@pytest.fixture
def sc():
    return scenario_from_dict(copy.deepcopy(SEGMENTED), source="<book>")


# ------------------------------------------------------------------------------------------------
# The resolved views


def test_segments_resolve_with_top_level_defaults(sc) -> None:
    gov, ent = book_segments(sc)
    assert gov.name == "gov" and gov.label == "Governments" and gov.explicit
    assert gov.gross == [200.0, 150.0, 100.0, 80.0] and gov.opening_by_age is None
    assert gov.provision_rates == [0.02, 0.1, 0.3, 0.8]  # the top-level matrix
    assert gov.collection_rate == [0.15, 0.08, 0.03, 0.01]
    assert gov.multiplier == 1.0 * 0.8  # m · m_s
    assert gov.factor_loading == 0.6 and gov.seasonality is None  # top-level
    assert gov.default_rate == [0.002, 0.005, 0.01, 0.03]
    assert gov.correlation == 0.05 and gov.write_off_after_months == 36
    assert gov.billing_share == 0.7 and gov.factor_weight == 0.5
    assert ent.label == "ent"  # the name when no label
    assert ent.gross == [60.0, 45.0, 60.0, 50.0]  # the profile's sums per bucket
    assert ent.opening_by_age == SEGMENTED["segments"][1]["opening_by_age"]
    assert ent.provision_rates == [0.03, 0.15, 0.4, 0.9]
    assert ent.collection_rate == [0.25, 0.12, 0.05, 0.02]
    assert ent.multiplier == 1.0 and ent.correlation == 0.2
    assert ent.write_off_after_months is None and ent.factor_weight == 1.0


def test_the_multiplier_is_the_product_of_m_and_m_s(sc) -> None:
    moved = with_overrides(sc, {"collections.multiplier": 1.5})
    gov, ent = book_segments(moved)
    assert gov.multiplier == 1.5 * 0.8 and ent.multiplier == 1.5


def test_debtors_resolve_against_their_segments(sc) -> None:
    city, co_b, co_c = book_debtors(sc)
    assert (city.segment, co_b.segment, co_c.segment) == (0, 1, 1)
    assert city.pay_probability == [0.05] * 4  # a number stands for K copies
    assert city.default_probability == [0.002, 0.005, 0.01, 0.03]  # its segment's p_b
    assert city.correlation == 0.05 and city.factor_loading == 0.6  # its segment's
    assert city.provision_rate == 0.5 and city.own
    assert city.label == "city_a" and city.balance == 60.0 and city.age_months == 8
    assert co_b.pay_probability == [0.25, 0.12, 0.05, 0.02] and not co_b.own
    assert co_b.provision_rate is None
    assert co_c.default_probability == [0.01, 0.02, 0.03, 0.04] and co_c.correlation == 0.4
    assert co_c.own


@pytest.mark.parametrize(
    ("fields", "own"),
    [
        ({}, False),
        ({"monthly_pay_probability": [0.15, 0.08, 0.03, 0.01]}, False),  # = the segment's
        ({"monthly_default_probability": [0.002, 0.005, 0.01, 0.03]}, False),
        ({"correlation": 0.05, "factor_loading": 0.6}, False),
        ({"provision_rate": 0.9}, False),  # not a hazard
        ({"correlation": 0.06}, True),
        ({"factor_loading": 0.0}, True),
        ({"monthly_pay_probability": 0.15}, True),
        ({"monthly_default_probability": [0.002, 0.005, 0.01, 0.031]}, True),
    ],
)
def test_own_is_false_exactly_when_the_hazards_are_the_segments(fields, own) -> None:
    data = copy.deepcopy(SEGMENTED)
    data["debtors"] = [{"name": "d", "balance": 1.0, "age_months": 0, "segment": "gov", **fields}]
    (debtor,) = book_debtors(scenario_from_dict(data))
    assert debtor.own is own


def test_a_plain_scenario_is_one_implicit_segment_without_debtors() -> None:
    plain = scenario_from_dict(copy.deepcopy(PLAIN))
    (seg,) = book_segments(plain)
    assert not seg.explicit and seg.gross == PLAIN["buckets"]["gross"]
    assert seg.billing_share == 1.0 and seg.factor_weight == 1.0
    assert book_debtors(plain) == []
    opening = book_opening(plain)
    assert opening.gross == PLAIN["buckets"]["gross"]
    assert opening.rates == PLAIN["buckets"]["provision_rates"]


def test_debtors_without_segments_are_in_the_implicit_segment() -> None:
    data = copy.deepcopy(PLAIN)
    data["debtors"] = [{"name": "d", "balance": 5.0, "age_months": 4, "correlation": 0.3}]
    (debtor,) = book_debtors(scenario_from_dict(data))
    assert debtor.segment == 0 and debtor.own
    assert debtor.pay_probability == PLAIN["collections"]["monthly_rate"]


def test_book_opening_sums_segments_and_debtors(sc) -> None:
    opening = book_opening(sc)
    # city_a (age 8) and co_b (age 1) and co_c (age 14) in buckets 2, 0 and 3
    assert opening.gross == pytest.approx([200 + 60 + 25, 150 + 45, 100 + 60 + 60, 80 + 50 + 10])
    allowance = [
        200 * 0.02 + 60 * 0.03 + 25 * 0.03,
        150 * 0.1 + 45 * 0.15,
        100 * 0.3 + 60 * 0.4 + 60 * 0.5,  # city_a at its own rate
        80 * 0.8 + 50 * 0.9 + 10 * 0.9,
    ]
    assert np.allclose(np.multiply(opening.rates, opening.gross), allowance, rtol=1e-14)


# ------------------------------------------------------------------------------------------------
# Field paths (DESIGN 3.3)


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("collections.monthly_rate[2]", ("collections", None, None, "monthly_rate", 2)),
        ("segments.gov.billing_share", ("segments", "gov", None, "billing_share", None)),
        ("segments.gov.gross[1]", ("segments", "gov", None, "gross", 1)),
        (
            "segments.a_b.collections.multiplier",
            ("segments", "a_b", "collections", "multiplier", None),
        ),
        ("segments.x.defaults.monthly_rate[3]", ("segments", "x", "defaults", "monthly_rate", 3)),
        (
            "debtors.city_a.monthly_pay_probability[0]",
            ("debtors", "city_a", None, "monthly_pay_probability", 0),
        ),
        ("debtors.d.segment", ("debtors", "d", None, "segment", None)),
    ],
)
def test_paths_resolve(path: str, parts: tuple[Any, ...]) -> None:
    fp = resolve_field_path(path)
    assert (fp.table, fp.entry, fp.sub, fp.field, fp.index) == parts


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("segments", "expected segments.NAME.FIELD"),
        ("segments.gov.defaults", "expected segments.NAME.defaults.FIELD"),
        ("segments.gov.collections.multiplier.x", "expected segments.NAME.collections.FIELD"),
        ("segments.gov.gross.x", "expected segments.NAME.FIELD"),
        ("segments.gov.grosss", "did you mean 'gross'"),
        ("segments.gov.defaults.corelation", "did you mean 'correlation'"),
        ("debtors.d.balanse", "did you mean 'balance'"),
        ("debtors.d.name", "cannot be set"),
        ("debtors.d.balance.x", "expected debtors.NAME.FIELD"),
        ("segments.gov.gross[1][2]", "only one [index]"),
        ("segments.gov[1].gross", "an index goes after the field name"),
        ("segments.g-v.gross", "not a field path"),
        ("segmnts.gov.gross", "did you mean 'segments'"),
    ],
)
def test_bad_paths(path: str, phrase: str) -> None:
    with pytest.raises(ScenarioError) as info:
        resolve_field_path(path, "f.toml")
    assert info.value.field == path and phrase in info.value.reason


def test_setting_a_field_a_segment_leaves_out_creates_the_override(sc) -> None:
    moved = with_overrides(
        sc,
        {
            "segments.ent.collections.multiplier": 1.2,
            "segments.ent.defaults.correlation": 0.3,
            "segments.ent.collections.monthly_rate[1]": 0.2,
            "segments.gov.provision_rates[3]": 0.9,
        },
    )
    ent = moved.segments[1]
    assert ent.collections.multiplier == 1.2 and ent.defaults.correlation == 0.3
    assert ent.collections.monthly_rate == [0.25, 0.2, 0.05, 0.02]  # top-level, item 1 set
    assert moved.segments[0].provision_rates == [0.02, 0.1, 0.3, 0.9]
    assert moved.collections == sc.collections  # the top-level tables are unchanged
    assert moved.buckets == sc.buckets
    assert book_segments(moved)[1].multiplier == 1.2


def test_an_item_of_a_profile_only_segments_gross_starts_from_the_profile_sums(sc) -> None:
    moved = with_overrides(sc, {"segments.ent.gross[2]": 30.0})
    assert moved.segments[1].gross == [60.0, 45.0, 30.0, 50.0]
    assert moved.segments[1].opening_by_age == sc.segments[1].opening_by_age


def test_an_item_of_a_debtors_number_expands_it(sc) -> None:
    moved = with_overrides(
        sc,
        {
            "debtors.city_a.monthly_pay_probability[3]": 0.01,  # a number: K copies first
            "debtors.co_b.monthly_default_probability[0]": 0.0,  # unset: its segment's p_b
            "debtors.co_b.correlation": 0.1,
        },
    )
    city, co_b, _ = moved.debtors
    assert city.monthly_pay_probability == [0.05, 0.05, 0.05, 0.01]
    assert co_b.monthly_default_probability == [0.0, 0.005, 0.01, 0.03]
    assert co_b.correlation == 0.1 and co_b.monthly_pay_probability is None
    assert book_debtors(moved)[1].own


def test_overrides_apply_in_order(sc) -> None:
    moved = with_overrides(
        sc,
        {"defaults.monthly_rate[0]": 0.004, "debtors.city_a.monthly_default_probability[1]": 0.0},
    )
    assert moved.debtors[0].monthly_default_probability == [0.004, 0.0, 0.01, 0.03]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("segments.gov.collections.multiplier", 0.8),
        ("segments.ent.collections.multiplier", 1.0),  # m_s left out: 1
        ("segments.ent.collections.factor_loading", 0.6),  # the top-level beta
        ("segments.gov.defaults.write_off_after_months", 36),
        ("segments.ent.defaults.write_off_after_months", None),
        ("segments.ent.gross", [60.0, 45.0, 60.0, 50.0]),
        ("segments.gov.provision_rates[1]", 0.1),
        ("segments.ent.label", None),
        ("debtors.city_a.monthly_pay_probability", 0.05),
        ("debtors.city_a.monthly_pay_probability[2]", 0.05),
        ("debtors.co_b.monthly_pay_probability", [0.25, 0.12, 0.05, 0.02]),
        ("debtors.co_b.factor_loading", 0.6),
        ("debtors.co_c.correlation", 0.4),
        ("debtors.city_a.correlation", 0.05),  # gov's own
        ("debtors.co_b.provision_rate", None),
    ],
)
def test_field_value_is_what_the_field_is_now(sc, path: str, value: Any) -> None:
    assert field_value(sc, path) == value


def test_set_on_the_command_line(in_tmp: Path, capsys) -> None:
    path = in_tmp / "book.toml"
    path.write_text(tomlkit.dumps(SEGMENTED), encoding="utf-8")
    argv = [
        "validate",
        "book.toml",
        "--json",
        "--set",
        "segments.ent.collections.multiplier=1.5",
        "--set",
        "debtors.city_a.monthly_pay_probability[1]=0.1",
    ]
    assert main(argv) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"]["segments"][1]["collections"]["multiplier"] == 1.5
    assert doc["scenario"]["debtors"][0]["monthly_pay_probability"] == [0.05, 0.1, 0.05, 0.05]
    assert main(["validate", "book.toml", "--set", "segments.ent.factor_weight=[1]"]) == 2
    assert_one_line_error(
        capsys.readouterr().err,
        "expected a number",
        prefix="book.toml: segments.ent.factor_weight: ",
    )


# ------------------------------------------------------------------------------------------------
# Sweeps, solve and sensitivity know segment and debtor fields


@pytest.mark.parametrize(
    ("path", "kind", "lo", "hi", "hi_open"),
    [
        ("segments.gov.collections.multiplier", "float", 0.0, 100.0, False),
        ("segments.gov.billing_share", "float", 0.0, 1.0, False),
        ("segments.ent.factor_weight", "float", 0.0, 1.0, False),
        ("segments.ent.defaults.correlation", "float", 0.0, 1.0, True),
        ("segments.ent.defaults.write_off_after_months", "int", -math.inf, 1200.0, False),
        ("segments.ent.gross", "list", 0.0, 1e12, False),
        ("segments.gov.collections.monthly_rate[1]", "float", 0.0, 1.0, False),
        ("debtors.city_a.monthly_pay_probability", "float", 0.0, 1.0, False),
        ("debtors.co_b.monthly_pay_probability", "list", 0.0, 1.0, False),
        ("debtors.co_c.monthly_default_probability[2]", "float", 0.0, 1.0, True),
        ("debtors.co_b.balance", "float", 0.0, 1e12, False),
        ("debtors.co_b.age_months", "int", 0.0, 1200.0, False),
        ("segments.gov.label", "other", -math.inf, math.inf, False),
    ],
)
def test_field_info_of_segment_and_debtor_fields(sc, path, kind, lo, hi, hi_open) -> None:
    info = sw.field_info(sc, path)
    assert (info.kind, info.lo, info.hi, info.hi_open) == (kind, lo, hi, hi_open)
    assert info.current == field_value(sc, path)


def test_default_bracket_and_sensitivity_moves_on_a_segment_field(sc) -> None:
    assert sw.default_bracket(sc, "segments.gov.collections.multiplier") == (0.2, 3.2)
    assert sw.default_bracket(sc, "segments.ent.collections.multiplier") == (0.25, 4.0)
    assert sw.default_bracket(sc, "debtors.city_a.monthly_pay_probability") == (0.0125, 0.2)


def test_a_sweep_of_segment_fields_runs_on_common_random_numbers(sc) -> None:
    base = with_overrides(sc, {"simulation.paths": 600, "simulation.trajectory_paths": 0})
    design = sw.grid_design(
        base, ["segments.gov.collections.multiplier=0,1", "debtors.co_b.balance=10,40"]
    )
    points = sw.make_points(base, design)
    assert points[1].scenario.segments[0].collections.multiplier == 0.0
    assert points[1].scenario.debtors[1].balance == 40.0
    with sw.open_executor("local", 1) as (executor, slots):
        outcomes = sw.PointRunner(executor, slots=slots, analytics=False).run(points)
    summaries = [o.summary for o in outcomes]
    assert all(s is not None for s in summaries)
    # m_s = 0: the government segment collects nothing, less cash comes in
    assert summaries[0]["collections_mean"] < summaries[2]["collections_mean"]
    assert summaries[1]["gross_opening"] == summaries[0]["gross_opening"] + 30.0
    direct = simulate(points[3].scenario).summary(analytics=False)
    assert direct["credit_loss_mean"] == summaries[3]["credit_loss_mean"]


def test_sweep_command_on_a_debtor_field(in_tmp: Path, capsys) -> None:
    data = copy.deepcopy(PLAIN)
    data["debtors"] = [
        {"name": "city_a", "balance": 80.0, "age_months": 4, "monthly_pay_probability": 0.05}
    ]
    (in_tmp / "book.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    argv = [
        "sweep",
        "book.toml",
        "--param",
        "debtors.city_a.monthly_pay_probability=0.02,0.3",
        "--paths",
        "500",
        "--metric",
        "credit_loss_mean",
        "--out",
        "sw",
        "--workers",
        "1",
        "--json",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    table = (in_tmp / "sw" / "table.csv").read_text()
    assert "debtors.city_a.monthly_pay_probability" in table.splitlines()[0]


# ------------------------------------------------------------------------------------------------
# Text: the TOML round trip, writing into a user's file, warnings


def test_scenario_toml_round_trips(sc) -> None:
    text = scenario_toml(sc)
    again = scenario_from_dict(tomllib.loads(text), source="<book>")
    assert again == sc
    assert scenario_hash(again) == scenario_hash(sc)
    assert book_segments(again) == book_segments(sc) and book_debtors(again) == book_debtors(sc)


def test_round_trip_after_overrides(sc) -> None:
    moved = with_overrides(
        sc,
        {
            "debtors.city_a.monthly_pay_probability[0]": 0.2,
            "segments.ent.collections.multiplier": 1.1,
            "segments.gov.gross[0]": 150.0,
        },
    )
    again = scenario_from_dict(tomllib.loads(scenario_toml(moved)), source="<book>")
    assert again == moved


def test_a_plain_scenario_dumps_no_segment_keys() -> None:
    from simulator._util import without_none

    plain = scenario_from_dict(copy.deepcopy(PLAIN))
    dumped = without_none(plain.model_dump(mode="json"))
    assert "segments" not in dumped and "debtors" not in dumped
    assert "[[segments]]" not in scenario_toml(plain)


def test_run_folder_scenario_reloads(in_tmp: Path, capsys) -> None:
    data = copy.deepcopy(PLAIN)
    data["debtors"] = [
        {
            "name": "city_a",
            "label": "City A",
            "balance": 80.0,
            "age_months": 4,
            "monthly_pay_probability": [0.1, 0.05, 0.02, 0.01],
        },
        {"name": "b", "balance": 8.0, "age_months": 0, "monthly_default_probability": 0.01},
    ]
    (in_tmp / "book.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    argv = [
        "run",
        "book.toml",
        "--paths",
        "300",
        "--out",
        "run",
        "--json",
        "--set",
        "simulation.runoff_paths=50",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    reloaded = load_scenario(in_tmp / "run" / "scenario.toml")
    original = with_overrides(
        load_scenario(in_tmp / "book.toml"),
        {"simulation.paths": 300, "simulation.runoff_paths": 50},
    )
    assert reloaded.model_dump() == original.model_dump()
    assert scenario_hash(reloaded) == scenario_hash(original)


def test_update_scenario_text_sets_segment_fields_keeping_comments() -> None:
    text = tomlkit.dumps(SEGMENTED).replace('name = "gov"', 'name = "gov"  # the state')
    new = update_scenario_text(
        text,
        {
            "segments.gov.collections.monthly_rate": [0.2, 0.1, 0.05, 0.02],
            "segments.ent.defaults.monthly_rate": [0.001, 0.002, 0.003, 0.004],
            "debtors.co_b.provision_rate": 0.25,
        },
    )
    assert "# the state" in new
    sc = scenario_from_dict(tomllib.loads(new))
    assert sc.segments[0].collections.monthly_rate == [0.2, 0.1, 0.05, 0.02]
    assert sc.segments[1].defaults.monthly_rate == [0.001, 0.002, 0.003, 0.004]
    assert sc.debtors[1].provision_rate == 0.25


def test_warnings_consider_each_segments_open_last_bucket(sc) -> None:
    # ent has no write-off age and inherits c = 0.02, p = 0.03 in its last bucket: fine
    assert scenario_warnings(sc) == []
    stuck = with_overrides(
        sc,
        {
            "segments.ent.collections.monthly_rate[3]": 0.0,
            "segments.ent.defaults.monthly_rate[3]": 0.0,
        },
    )
    (warning,) = scenario_warnings(stuck)
    assert warning.field == "segments.ent.collections.monthly_rate[3]"
    assert "of segment ent collects nothing" in warning.reason
    assert "segments.ent.defaults.write_off_after_months" in warning.reason
    # gov has a write-off age of its own: the same rates there say nothing
    quiet = with_overrides(
        sc,
        {
            "segments.gov.collections.monthly_rate[3]": 0.0,
            "segments.gov.defaults.monthly_rate": [0.0] * 4,
        },
    )
    assert scenario_warnings(quiet) == []


def test_warnings_on_a_segments_profile_past_its_write_off_age(sc) -> None:
    folded = with_overrides(sc, {"segments.ent.defaults.write_off_after_months": 18})
    (warning,) = scenario_warnings(folded)
    assert warning.field == "segments.ent.opening_by_age"
    assert "segments.ent.defaults.write_off_after_months = 18" in warning.reason


# ------------------------------------------------------------------------------------------------
# Runs


def test_a_book_with_segments_and_debtors_runs(sc) -> None:
    run = with_overrides(sc, {"simulation.paths": 2500, "simulation.trajectory_paths": 300})
    result = simulate(run)
    for name in ("gov", "ent"):
        assert f"collections_{name}" in result.per_path
        assert f"credit_loss_{name}" in result.per_path
    s = result.summary(analytics=False)
    for key in ("p_runway_le_12", "credit_loss_mean", "credit_loss_mean_se", "cash_end_mean"):
        assert s[key] is not None and math.isfinite(s[key])
    opening = book_opening(run)
    assert s["gross_opening"] == pytest.approx(sum(opening.gross), rel=1e-14)
    month0 = result.monthly.iloc[0]
    assert month0["gross_mean"] == pytest.approx(s["gross_opening"], rel=1e-12)
    assert month0["allowance_mean"] == pytest.approx(s["allowance_opening"], rel=1e-12)
    totals = result.per_path["credit_loss_gov"] + result.per_path["credit_loss_ent"]
    assert np.all(totals <= result.per_path["credit_loss"] * (1 + 1e-12))  # + the debtors
    assert s["scenario"]["segments"][0]["name"] == "gov"


def test_the_summarys_analytics_of_a_segmented_book(sc) -> None:
    s = simulate(with_overrides(sc, {"simulation.paths": 200})).summary()
    # the book's implied loss is the segments' and the debtors' (DESIGN 2.12, 2.13)
    parts = [s["segments"][n]["implied_lifetime_loss"] for n in ("gov", "ent")]
    parts += [s["debtors"][n]["implied_lifetime_loss"] for n in ("city_a", "co_b", "co_c")]
    assert s["implied_lifetime_loss"] == pytest.approx(math.fsum(parts), rel=1e-12)
    assert s["allowance_coverage"] == pytest.approx(
        s["allowance_opening"] / s["implied_lifetime_loss"], rel=1e-12
    )


def _split(data: dict[str, Any], shares: tuple[float, float], parts: list[float]) -> dict:
    """The book of ``data`` as two segments with the top-level rates and factor_weight = 1:
    the first takes ``parts[b]`` of bucket b's gross and ``shares[0]`` of the billings."""
    split = copy.deepcopy(data)
    gross = split["buckets"].pop("gross")
    split["segments"] = [
        {
            "name": "a",
            "gross": [g * p for g, p in zip(gross, parts, strict=True)],
            "billing_share": shares[0],
        },
        {
            "name": "b",
            "gross": [g * (1 - p) for g, p in zip(gross, parts, strict=True)],
            "billing_share": shares[1],
        },
    ]
    return split


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="base"),
        pytest.param(
            {
                "defaults": {
                    "monthly_rate": [0.002, 0.005, 0.01, 0.03],
                    "correlation": 0.2,
                    "write_off_after_months": 20,
                },
                "scenario": {"name": "x", "as_of": "2024-03-31"},
                "collections": {
                    "monthly_rate": [0.25, 0.12, 0.05, 0.02],
                    "factor_loading": 0.6,
                    "seasonality": [0.8, 1.2] * 6,
                },
            },
            id="write-off-and-seasonality",
        ),
    ],
)
def test_a_book_split_into_identical_segments_is_the_same_book(changes) -> None:
    data = copy.deepcopy(PLAIN)
    data["simulation"] = {**data["simulation"], "paths": 5000, "trajectory_paths": 0}
    for key, value in changes.items():
        data[key] = value
    if "as_of" in data["scenario"]:
        import datetime as dt

        data["scenario"]["as_of"] = dt.date.fromisoformat(data["scenario"]["as_of"])
    whole = simulate(scenario_from_dict(data))
    split = simulate(scenario_from_dict(_split(data, (0.3, 0.7), [0.5, 0.1, 0.9, 0.25])))
    assert np.array_equal(whole.per_path["runway"], split.per_path["runway"])
    for key in ("min_cash", "cash_end", "collections", "credit_loss", "charge"):
        a, b = whole.per_path[key], split.per_path[key]
        scale = np.maximum(np.abs(a), 1.0)
        assert np.max(np.abs(a - b) / scale) < 1e-9, key
    parts = split.per_path["credit_loss_a"] + split.per_path["credit_loss_b"]
    assert np.allclose(parts, split.per_path["credit_loss"], rtol=1e-12, atol=1e-9)
