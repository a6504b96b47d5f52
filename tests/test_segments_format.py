"""``[[segments]]`` and ``[[debtors]]`` in the scenario file (DESIGN 2.12, 2.13, 3.1, 3.2), through
``arsim validate``: a valid book validates; every rule of the 3.2 rows for segments and debtors,
and every kind of bad input (unknown keys, missing keys, wrong types, out-of-range values, rules
of several fields), gives exit 2 and one line ``FILE: FIELD: reason`` with nothing written; when
several problems exist the first in the order of 3.2 is the one reported. A field of a segment or
debtor is named as its field path (3.3), ``segments.NAME.FIELD``, or ``segments[i].FIELD`` where
the entry has no usable name (missing, invalid or not unique).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from conftest import assert_one_line_error

from simulator.cli import main
from simulator.scenario import ScenarioError, load_scenario

DEL = object()  # a change that removes the key

#: Three buckets (edges 0, 12, 24; W = 60), two segments and two debtors; the segment ``ent``
#: has its own write-off age (36) and overrides; the debtor ``co_b`` gives one number.
BASE: dict[str, Any] = {
    "scenario": {"name": "Segmented book", "as_of": dt.date(2024, 6, 30)},
    "buckets": {"edges_months": [0, 12, 24], "provision_rates": [0.05, 0.2, 1.0]},
    "collections": {"monthly_rate": [0.1, 0.05, 0.01], "factor_loading": 0.5},
    "defaults": {
        "monthly_rate": [0.001, 0.005, 0.01],
        "correlation": 0.1,
        "write_off_after_months": 60,
    },
    "factor": {"persistence": 0.5},
    "revenue": {"monthly": 10.0},
    "cash": {"opening": 100.0},
    "simulation": {"paths": 1000, "horizon_months": 24, "runoff_paths": 100},
    "segments": [
        {
            "name": "gov",
            "label": "Local governments",
            "gross": [60.0, 30.0, 10.0],
            "billing_share": 0.6,
            "factor_weight": 0.8,
            "collections": {"monthly_rate": [0.08, 0.04, 0.01], "multiplier": 0.9},
            "defaults": {"monthly_rate": [0.0002, 0.001, 0.004]},
        },
        {
            "name": "ent",
            "opening_by_age": [2.0] * 30,
            "billing_share": 0.4,
            "provision_rates": [0.04, 0.3, 0.9],
            "collections": {"seasonality": [1.0, 1.2] * 6, "factor_loading": 1.0},
            "defaults": {"correlation": 0.2, "write_off_after_months": 36},
        },
    ],
    "debtors": [
        {
            "name": "city_a",
            "label": "City A smart-city project",
            "balance": 85.0,
            "age_months": 20,
            "segment": "gov",
            "monthly_pay_probability": [0.06, 0.04, 0.02],
            "monthly_default_probability": 0.002,
            "provision_rate": 0.5,
        },
        {
            "name": "co_b",
            "balance": 12.0,
            "age_months": 3,
            "segment": "ent",
            "monthly_pay_probability": 0.1,
            "correlation": 0.3,
            "factor_loading": 0.2,
        },
    ],
}


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", chunk)
        assert m, path
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def mutate(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``path: value`` set (``segments[1].gross``; ``DEL``
    removes the key; a missing table on the way is created)."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        *parents, last = _split(path)
        node: Any = data
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(p, str) else node[p]
        if value is DEL:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    text = tomlkit.dumps(data)
    assert tomllib.loads(text) == data, text
    path.write_text(text, encoding="utf-8")
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def cli(in_tmp: Path, capsys: pytest.CaptureFixture[str]):
    """``main(argv)`` as ``(code, stdout, stderr)``, after checking that nothing was written."""

    def call(argv: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        before = _tree(in_tmp)
        code = main(argv)
        out, err = capsys.readouterr()
        assert _tree(in_tmp) == before, "files were written"
        return code, out, err

    return call


def validate(cli, folder: Path, data: dict[str, Any], *extra: str) -> tuple[int, str, str]:
    write(folder / "book.toml", data)
    return cli(["validate", "book.toml", *extra])  # in the folder: the file as the user names it


def assert_user_error(result: tuple[int, str, str], field: str, *phrases: str) -> str:
    code, out, err = result
    assert code == 2, (code, err)
    assert out == "", out
    return assert_one_line_error(err, *phrases, prefix=f"book.toml: {field}: ")


# ------------------------------------------------------------------------------------------------
# Valid books


def test_base_book_is_valid(cli, in_tmp: Path) -> None:
    code, out, err = validate(cli, in_tmp, BASE)
    assert code == 0, err
    assert out.startswith("OK") and out.count("\n") == 1
    assert "3 buckets, 2 segments, 2 debtors" in out
    assert err == ""


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"segments[1].gross": [20.0, 24.0, 12.0]}, id="gross-and-profile"),
        pytest.param(
            {
                "segments": DEL,
                "debtors[0].segment": DEL,
                "debtors[1].segment": DEL,
                "buckets.gross": [1.0, 2.0, 3.0],
            },
            id="debtors-without-segments",
        ),
        pytest.param({"debtors": []}, id="no-debtors"),
        pytest.param({"debtors": DEL}, id="debtors-left-out"),
        pytest.param(
            {
                "segments": [{"name": "all", "gross": [1.0, 1.0, 1.0], "billing_share": 1}],
                "debtors": DEL,
            },
            id="one-segment-integer-share",
        ),
        pytest.param({"segments[0].billing_share": 0.6 + 5e-10}, id="shares-within-1e-9"),
        pytest.param(
            {"segments[0].name": "_" + "x" * 63, "debtors[0].segment": "_" + "x" * 63},
            id="name-64-chars",
        ),
        pytest.param({"debtors[1].age_months": 35}, id="age-just-below-segment-W"),
        pytest.param(
            {"debtors[0].monthly_default_probability": [0.0, 0.5, 0.999]},
            id="default-probability-list",
        ),
        pytest.param(
            {"segments[0].factor_weight": 0, "segments[1].factor_weight": 1},
            id="factor-weights-at-the-ends",
        ),
    ],
)
def test_valid_variants(cli, in_tmp: Path, changes: dict[str, Any]) -> None:
    code, out, err = validate(cli, in_tmp, mutate(BASE, changes))
    assert code == 0, err
    assert out.startswith("OK")


def test_twenty_segments_and_a_thousand_debtors_are_allowed(cli, in_tmp: Path) -> None:
    segs = [{"name": f"s{i}", "gross": [1.0, 1.0, 1.0], "billing_share": 0.05} for i in range(20)]
    debtors = [
        {"name": f"d{j}", "balance": 1.0, "age_months": j % 30, "segment": f"s{j % 20}"}
        for j in range(1000)
    ]
    code, out, err = validate(cli, in_tmp, mutate(BASE, {"segments": segs, "debtors": debtors}))
    assert code == 0, err
    assert "20 segments, 1,000 debtors" in out


# ------------------------------------------------------------------------------------------------
# DESIGN 3.2, one rule at a time: (changes, field reported, phrases in the reason)

SEGMENT_CASES = [
    # the table and its entries
    ({"segments": []}, "segments", ("at least one segment",)),
    ({"segments": {"name": "gov"}}, "segments", ("expected a list", "table")),
    ({"segments[0]": 1}, "segments[0]", ("expected a table", "integer")),
    # names: the rule of 2.12, unique
    ({"segments[0].name": "gov ernment"}, "segments[0].name", ("a name is a letter or _",)),
    ({"segments[0].name": "1gov"}, "segments[0].name", ("a name is a letter or _", "'1gov'")),
    ({"segments[0].name": "g.v"}, "segments[0].name", ("a name is a letter or _",)),
    ({"segments[0].name": "x" * 65}, "segments[0].name", ("up to 63",)),
    ({"segments[0].name": ""}, "segments[0].name", ("a name is a letter or _",)),
    ({"segments[0].name": 3}, "segments[0].name", ("expected a string", "integer (3)")),
    ({"segments[0].name": DEL}, "segments[0].name", ("required key is missing",)),
    ({"segments[1].name": "gov"}, "segments[1].name", ("duplicate name 'gov'",)),
    ({"segments[0].label": 5}, "segments.gov.label", ("expected a string",)),
    # opening book: gross (K numbers) or opening_by_age
    (
        {"segments[0].gross": DEL},
        "segments.gov.gross",
        ("required key is missing", "opening_by_age"),
    ),
    (
        {"segments[0].gross": [1.0, 2.0]},
        "segments.gov.gross",
        ("one value per bucket (3)", "got 2"),
    ),
    ({"segments[0].gross[1]": -1.0}, "segments.gov.gross[1]", ("must be ≥ 0", "-1")),
    ({"segments[0].gross[1]": 2e12}, "segments.gov.gross[1]", ("must be ≤ 1000000000000",)),
    ({"segments[0].gross[0]": "60"}, "segments.gov.gross[0]", ("expected a number", "string")),
    ({"segments[0].gross[0]": float("inf")}, "segments.gov.gross[0]", ("finite",)),
    ({"segments[1].opening_by_age": []}, "segments.ent.opening_by_age", ("got 0",)),
    ({"segments[1].opening_by_age": [1.0] * 1201}, "segments.ent.opening_by_age", ("got 1201",)),
    ({"segments[1].opening_by_age[3]": -2.0}, "segments.ent.opening_by_age[3]", ("must be ≥ 0",)),
    (
        {"segments[1].opening_by_age": [9e11] * 3},
        "segments.ent.opening_by_age",
        ("sums per bucket must be ≤ 1e12",),
    ),
    # billing_share >= 0 summing to 1; factor_weight in [0, 1]
    ({"segments[0].billing_share": DEL}, "segments.gov.billing_share", ("required key",)),
    ({"segments[0].billing_share": -0.1}, "segments.gov.billing_share", ("must be ≥ 0",)),
    ({"segments[0].billing_share": True}, "segments.gov.billing_share", ("boolean",)),
    ({"segments[0].billing_share": 0.5}, "segments", ("must sum to 1", "0.9", "gov 0.5")),
    ({"segments[0].billing_share": 0.6 + 1e-8}, "segments", ("must sum to 1",)),
    ({"segments[0].factor_weight": 1.5}, "segments.gov.factor_weight", ("must be ≤ 1",)),
    ({"segments[0].factor_weight": -0.5}, "segments.gov.factor_weight", ("must be ≥ 0",)),
    # overrides obey their top-level rules
    ({"segments[1].provision_rates": [0.1]}, "segments.ent.provision_rates", ("per bucket",)),
    ({"segments[1].provision_rates[2]": 1.2}, "segments.ent.provision_rates[2]", ("≤ 1",)),
    (
        {"segments[0].collections.monthly_rate": [0.1] * 4},
        "segments.gov.collections.monthly_rate",
        ("one value per bucket (3), got 4",),
    ),
    (
        {"segments[0].collections.monthly_rate[0]": 1.5},
        "segments.gov.collections.monthly_rate[0]",
        ("must be ≤ 1", "1.5"),
    ),
    (
        {"segments[0].collections.multiplier": 101},
        "segments.gov.collections.multiplier",
        ("must be ≤ 100",),
    ),
    (
        {"segments[1].collections.factor_loading": 10.5},
        "segments.ent.collections.factor_loading",
        ("must be ≤ 10",),
    ),
    (
        {"segments[1].collections.seasonality": [1.0] * 11},
        "segments.ent.collections.seasonality",
        ("12 items", "got 11"),
    ),
    (
        {"segments[1].collections.seasonality[4]": -1.0},
        "segments.ent.collections.seasonality[4]",
        ("must be ≥ 0",),
    ),
    (
        {"scenario.as_of": DEL},
        "segments.ent.collections.seasonality",
        ("needs scenario.as_of",),
    ),
    (
        {"segments[0].defaults.monthly_rate[1]": -0.1},
        "segments.gov.defaults.monthly_rate[1]",
        ("must be ≥ 0",),
    ),
    (
        {"segments[0].defaults.monthly_rate": [0.1]},
        "segments.gov.defaults.monthly_rate",
        ("one value per bucket",),
    ),
    ({"segments[1].defaults.correlation": 1.0}, "segments.ent.defaults.correlation", ("< 1",)),
    (
        {"segments[1].defaults.write_off_after_months": 24},
        "segments.ent.defaults.write_off_after_months",
        ("last bucket edge (24)", "got 24"),
    ),
    (
        {"segments[1].defaults.write_off_after_months": 1201},
        "segments.ent.defaults.write_off_after_months",
        ("must be ≤ 1200",),
    ),
    (
        {"segments[1].defaults.write_off_after_months": 40.5},
        "segments.ent.defaults.write_off_after_months",
        ("expected an integer",),
    ),
    ({"segments[0].collections": 1}, "segments.gov.collections", ("expected a table",)),
    # unknown keys, with "did you mean"
    (
        {"segments[0].bilingshare": 0.6},
        "segments.gov.bilingshare",
        ("unknown key", "did you mean 'billing_share'"),
    ),
    (
        {"segments[0].collections.multipler": 1.0},
        "segments.gov.collections.multipler",
        ("unknown key", "did you mean 'multiplier'"),
    ),
    (
        {"segments[1].defaults.writeoff_after_months": 30},
        "segments.ent.defaults.writeoff_after_months",
        ("did you mean 'write_off_after_months'",),
    ),
    ({"segments[0].revenue": {"monthly": 1.0}}, "segments.gov.revenue", ("unknown key",)),
    # the top-level opening book is left out with segments
    ({"buckets.gross": [1.0, 2.0, 3.0]}, "buckets.gross", ("must be left out", "[[segments]]")),
    ({"buckets.opening_by_age": [1.0] * 5}, "buckets.opening_by_age", ("must be left out",)),
    # the name in the path: by index where the name is unusable
    (
        {"segments[0].name": "a b", "segments[0].factor_weight": "x"},
        "segments[0].factor_weight",
        ("expected a number",),
    ),
    (
        {"segments[1].name": "gov", "segments[1].billing_share": -1},
        "segments[1].billing_share",
        ("must be ≥ 0",),
    ),
]

DEBTOR_CASES = [
    ({"debtors": {"name": "x"}}, "debtors", ("expected a list",)),
    ({"debtors[1]": "co_b"}, "debtors[1]", ("expected a table",)),
    ({"debtors[0].name": "City A"}, "debtors[0].name", ("a name is a letter or _",)),
    ({"debtors[0].name": DEL}, "debtors[0].name", ("required key is missing",)),
    ({"debtors[1].name": "city_a"}, "debtors[1].name", ("duplicate name 'city_a'",)),
    # balance > 0 and <= 1e12
    ({"debtors[0].balance": 0.0}, "debtors.city_a.balance", ("must be > 0", "got 0")),
    ({"debtors[0].balance": -5.0}, "debtors.city_a.balance", ("must be > 0",)),
    ({"debtors[0].balance": 1.5e12}, "debtors.city_a.balance", ("must be ≤ 1000000000000",)),
    ({"debtors[0].balance": DEL}, "debtors.city_a.balance", ("required key is missing",)),
    ({"debtors[0].balance": "85"}, "debtors.city_a.balance", ("expected a number", "string")),
    # age_months: integer 0..1200 and < W of its segment
    ({"debtors[0].age_months": DEL}, "debtors.city_a.age_months", ("required key",)),
    ({"debtors[0].age_months": -1}, "debtors.city_a.age_months", ("must be ≥ 0",)),
    ({"debtors[0].age_months": 1201}, "debtors.city_a.age_months", ("must be ≤ 1200",)),
    ({"debtors[0].age_months": 20.5}, "debtors.city_a.age_months", ("expected an integer",)),
    (
        {"debtors[0].age_months": 60},
        "debtors.city_a.age_months",
        ("less than the write-off age", "segment gov (60 months)", "got 60"),
    ),
    (
        {"debtors[1].age_months": 36},
        "debtors.co_b.age_months",
        ("segment ent (36 months)",),
    ),
    (
        {
            "segments": DEL,
            "debtors[0].segment": DEL,
            "debtors[1].segment": DEL,
            "buckets.gross": [1.0, 2.0, 3.0],
            "debtors[1].age_months": 70,
        },
        "debtors.co_b.age_months",
        ("write-off age of its book (60 months)",),
    ),
    # segment: required iff segments exist, and names one
    (
        {"debtors[0].segment": DEL},
        "debtors.city_a.segment",
        ("required key is missing", "[[segments]]"),
    ),
    (
        {"debtors[0].segment": "gv"},
        "debtors.city_a.segment",
        ("no segment named 'gv'", "did you mean 'gov'", "gov, ent"),
    ),
    ({"debtors[0].segment": 1}, "debtors.city_a.segment", ("expected a string",)),
    (
        {"segments": DEL, "buckets.gross": [1.0, 2.0, 3.0], "debtors[1].segment": DEL},
        "debtors.city_a.segment",
        ("only when the scenario has [[segments]]",),
    ),
    # probabilities: a number or K numbers; pi in [0, 1], p in [0, 1)
    (
        {"debtors[1].monthly_pay_probability": 1.5},
        "debtors.co_b.monthly_pay_probability",
        ("must be ≤ 1", "1.5"),
    ),
    (
        {"debtors[1].monthly_pay_probability": "0.1"},
        "debtors.co_b.monthly_pay_probability",
        ("expected a number", "string"),
    ),
    (
        {"debtors[1].monthly_pay_probability": True},
        "debtors.co_b.monthly_pay_probability",
        ("expected a number", "boolean"),
    ),
    (
        {"debtors[0].monthly_pay_probability": [0.1, 0.2]},
        "debtors.city_a.monthly_pay_probability",
        ("one value per bucket (3), got 2",),
    ),
    (
        {"debtors[0].monthly_pay_probability[1]": 1.01},
        "debtors.city_a.monthly_pay_probability[1]",
        ("must be ≤ 1",),
    ),
    (
        {"debtors[0].monthly_pay_probability[2]": "x"},
        "debtors.city_a.monthly_pay_probability[2]",
        ("expected a number",),
    ),
    (
        {"debtors[0].monthly_default_probability": 1.0},
        "debtors.city_a.monthly_default_probability",
        ("must be < 1",),
    ),
    (
        {"debtors[0].monthly_default_probability": [0.1, -0.1, 0.1]},
        "debtors.city_a.monthly_default_probability[1]",
        ("must be ≥ 0",),
    ),
    (
        {"debtors[0].monthly_default_probability": [0.1] * 4},
        "debtors.city_a.monthly_default_probability",
        ("one value per bucket",),
    ),
    # correlation [0, 1), factor loading [0, 10], provision rate [0, 1]
    ({"debtors[1].correlation": 1.0}, "debtors.co_b.correlation", ("must be < 1",)),
    ({"debtors[1].correlation": -0.1}, "debtors.co_b.correlation", ("must be ≥ 0",)),
    ({"debtors[1].factor_loading": 10.1}, "debtors.co_b.factor_loading", ("must be ≤ 10",)),
    ({"debtors[0].provision_rate": 1.1}, "debtors.city_a.provision_rate", ("must be ≤ 1",)),
    ({"debtors[0].provision_rate": -0.1}, "debtors.city_a.provision_rate", ("must be ≥ 0",)),
    # unknown keys, with "did you mean"
    (
        {"debtors[0].ballance": 1.0},
        "debtors.city_a.ballance",
        ("unknown key", "did you mean 'balance'"),
    ),
    (
        {"debtors[1].monthly_pay_probabilty": 0.1},
        "debtors.co_b.monthly_pay_probabilty",
        ("did you mean 'monthly_pay_probability'",),
    ),
]


def _cases(cases: list[tuple[Any, ...]]) -> list[Any]:
    return [pytest.param(*case, id=f"{case[1]}-{i}") for i, case in enumerate(cases)]


@pytest.mark.parametrize(("changes", "field", "phrases"), _cases(SEGMENT_CASES + DEBTOR_CASES))
def test_rule(cli, in_tmp: Path, changes: dict[str, Any], field: str, phrases: tuple[str]) -> None:
    assert_user_error(validate(cli, in_tmp, mutate(BASE, changes)), field, *phrases)


def test_too_many_segments(cli, in_tmp: Path) -> None:
    segs = [{"name": f"s{i}", "gross": [1.0, 1.0, 1.0], "billing_share": 1 / 21} for i in range(21)]
    data = mutate(BASE, {"segments": segs, "debtors": DEL})
    assert_user_error(validate(cli, in_tmp, data), "segments", ("at most 20 segments, got 21"))


def test_too_many_debtors(cli, in_tmp: Path) -> None:
    debtors = [
        {"name": f"d{j}", "balance": 1.0, "age_months": 1, "segment": "gov"} for j in range(1001)
    ]
    data = mutate(BASE, {"debtors": debtors})
    assert_user_error(validate(cli, in_tmp, data), "debtors", "at most 1,000 debtors, got 1,001")


# ------------------------------------------------------------------------------------------------
# The order of DESIGN 3.2 when several problems exist

#: One problem of each kind, in the order 3.2 reports them; each is reported once the ones
#: before it are fixed.
ORDERED_PROBLEMS = [
    ({"debtors[1].ballance": 1.0}, "debtors.co_b.ballance", "unknown key"),
    ({"segments[1].billing_share": DEL}, "segments.ent.billing_share", "required key"),
    ({"debtors[0].segment": DEL}, "debtors.city_a.segment", "required key"),
    ({"debtors[1].correlation": "high"}, "debtors.co_b.correlation", "expected a number"),
    ({"segments[0].factor_weight": 1.2}, "segments.gov.factor_weight", "must be ≤ 1"),
    ({"debtors[0].balance": -1.0}, "debtors.city_a.balance", "must be > 0"),
    ({"buckets.gross": [1.0, 2.0, 3.0]}, "buckets.gross", "must be left out"),
    ({"segments[0].gross": [1.0]}, "segments.gov.gross", "one value per bucket"),
    ({"debtors[1].segment": "nowhere"}, "debtors.co_b.segment", "no segment named"),
]


def test_problems_are_reported_in_the_order_of_design_3_2(cli, in_tmp: Path) -> None:
    for first in range(len(ORDERED_PROBLEMS)):
        changes: dict[str, Any] = {}
        for problem, _, _ in ORDERED_PROBLEMS[first:]:
            changes.update(problem)
        _, field, phrase = ORDERED_PROBLEMS[first]
        assert_user_error(validate(cli, in_tmp, mutate(BASE, changes)), field, phrase)


def test_a_missing_segment_gross_comes_before_wrong_types(cli, in_tmp: Path) -> None:
    data = mutate(BASE, {"segments[1].opening_by_age": DEL, "cash.opening": "lots"})
    assert_user_error(validate(cli, in_tmp, data), "segments.ent.gross", "required key")


def test_unknown_top_level_key_comes_before_segment_problems(cli, in_tmp: Path) -> None:
    data = mutate(BASE, {"segment": [{"name": "x"}], "segments[0].gross": DEL})
    assert_user_error(
        validate(cli, in_tmp, data), "segment", "unknown key", "did you mean 'segments'"
    )


# ------------------------------------------------------------------------------------------------
# Field paths on the command line, in ECL overrides and in [sweep] (DESIGN 3.3)

SET_CASES = [
    ("segments.gov.billing_share=0.5", "segments", ("must sum to 1",)),
    (
        "segments.gv.billing_share=0.5",
        "segments.gv.billing_share",
        ("no segment named 'gv'", "did you mean 'gov'"),
    ),
    (
        "segments.gov.colections.multiplier=1",
        "segments.gov.colections.multiplier",
        ("unknown field", "did you mean 'collections'"),
    ),
    (
        "segments.gov.collections.multipler=1",
        "segments.gov.collections.multipler",
        ("unknown field", "did you mean 'multiplier'"),
    ),
    (
        "segments.gov.collections.multiplier=abc",
        "segments.gov.collections.multiplier",
        ("expected a number", "string"),
    ),
    ("segments.ent.factor_weight=2", "segments.ent.factor_weight", ("must be ≤ 1",)),
    ("segments.gov=1", "segments.gov", ("expected segments.NAME.FIELD",)),
    ("segments.gov.collections=1", "segments.gov.collections", ("segments.NAME.collections.",)),
    ("segments.gov.name=x", "segments.gov.name", ("cannot be set",)),
    ("segments.gov[0].gross=1", "segments.gov[0].gross", ("index goes after the field",)),
    ("segments.gov.gross[3]=1", "segments.gov.gross[3]", ("index out of range", "3 items")),
    (
        "segments.gov.defaults.write_off_after_months=12",
        "segments.gov.defaults.write_off_after_months",
        ("last bucket edge",),
    ),
    ("debtors.city_a.balance=0", "debtors.city_a.balance", ("must be > 0",)),
    ("debtors.cty_a.balance=1", "debtors.cty_a.balance", ("no debtor named", "'city_a'")),
    (
        "debtors.co_b.monthly_pay_probability[7]=0.1",
        "debtors.co_b.monthly_pay_probability[7]",
        ("index out of range", "3 items"),
    ),
    (
        "debtors.co_b.monthly_default_probability[0]=1",
        "debtors.co_b.monthly_default_probability[0]",
        ("must be < 1",),
    ),
    ("debtors.co_b.balance[0]=1", "debtors.co_b.balance[0]", ("is not a list",)),
    ("debtors.co_b=1", "debtors.co_b", ("expected debtors.NAME.FIELD",)),
]


@pytest.mark.parametrize(("item", "field", "phrases"), _cases(SET_CASES))
def test_set_errors(cli, in_tmp: Path, item: str, field: str, phrases: tuple[str]) -> None:
    assert_user_error(validate(cli, in_tmp, BASE, "--set", item), field, *phrases)


def test_set_on_a_table_the_scenario_does_not_have(cli, in_tmp: Path) -> None:
    data = mutate(BASE, {"debtors": DEL})
    result = validate(cli, in_tmp, data, "--set", "debtors.x.balance=1")
    assert_user_error(result, "debtors.x.balance", "the scenario has no [[debtors]]")


@pytest.mark.parametrize(
    "items",
    [
        ["segments.gov.billing_share=0.5", "segments.ent.billing_share=0.5"],
        ["segments.ent.collections.multiplier=1.5"],  # creates the override
        ["segments.gov.defaults.write_off_after_months=48"],  # creates the override
        ["segments.gov.provision_rates[1]=0.25"],  # copies the top-level list, then sets
        ["debtors.co_b.monthly_pay_probability[2]=0.3"],  # expands the number
        ['debtors.city_a.segment="ent"'],
        ['segments.gov.label="Governments"'],
    ],
)
def test_set_valid(cli, in_tmp: Path, items: list[str]) -> None:
    argv = [arg for item in items for arg in ("--set", item)]
    code, out, err = validate(cli, in_tmp, BASE, *argv)
    assert code == 0, err
    assert out.startswith("OK")


def test_ecl_overrides_on_segment_and_debtor_fields(cli, in_tmp: Path) -> None:
    ecl = [
        {"name": "base", "weight": 0.7},
        {
            "name": "downside",
            "weight": 0.3,
            "overrides": {
                "segments.gov.collections.multiplier": 0.7,
                "segments.ent.defaults.correlation": 0.3,
                "debtors.city_a.monthly_default_probability[2]": 0.01,
            },
        },
    ]
    code, _, err = validate(cli, in_tmp, mutate(BASE, {"ecl_scenarios": ecl}))
    assert code == 0, err
    bad = mutate(BASE, {"ecl_scenarios": ecl})
    bad["ecl_scenarios"][1]["overrides"] = {"segments.gv.collections.multiplier": 0.7}
    assert_user_error(
        validate(cli, in_tmp, bad),
        "ecl_scenarios[1].overrides.segments.gv.collections.multiplier",
        "no segment named 'gv'",
    )
    bad["ecl_scenarios"][1]["overrides"] = {"segments.ent.defaults.correlation": 1.0}
    assert_user_error(
        validate(cli, in_tmp, bad),
        "ecl_scenarios[1].overrides.segments.ent.defaults.correlation",
        "must be < 1",
    )
    bad["ecl_scenarios"][1]["overrides"] = {"debtors.city_a.monthly_pay_probability[3]": 0.1}
    assert_user_error(
        validate(cli, in_tmp, bad),
        "ecl_scenarios[1].overrides.debtors.city_a.monthly_pay_probability[3]",
        "index out of range",
    )


def test_sweep_table_names_segment_fields(cli, in_tmp: Path) -> None:
    good = mutate(BASE, {"sweep": {"segments.gov.collections.multiplier": "0.5:1.5:3"}})
    code, _, err = validate(cli, in_tmp, good)
    assert code == 0, err
    bad = mutate(BASE, {"sweep": {"segments.gv.collections.multiplier": "0.5:1.5:3"}})
    assert_user_error(
        validate(cli, in_tmp, bad), "sweep.segments.gv.collections.multiplier", "no segment named"
    )


def test_load_scenario_raises_the_same_error(in_tmp: Path) -> None:
    path = write(in_tmp / "book.toml", mutate(BASE, {"debtors[0].segment": "gv"}))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "debtors.city_a.segment"
    assert str(info.value).startswith(f"{path}: debtors.city_a.segment: no segment named 'gv'")
