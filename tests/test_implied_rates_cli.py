"""`arsim implied-rates`, in-process: the table, --json, --calibrate-defaults --out (comments
kept, the written scenario reproduces the disclosed rates), and one-line refusals."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import SENSETIME, assert_one_line_error

from simulator import load_scenario
from simulator.analytic import implied_rates
from simulator.cli import main

SMALL = """\
# A small book for the implied-rates command.
[scenario]
name = "Small book"
currency = "CNY"
unit = "million"
as_of = 2024-06-30
sources = ["Test numbers."]

[buckets]
edges_months = [0, 3, 6, 12]
gross = [400.0, 250.0, 150.0, 100.0]
provision_rates = [0.05, 0.08, 0.12, 0.15]  # disclosed

[collections]
# Fast collections: every disclosed rate is reachable.
monthly_rate = [0.5, 0.4, 0.3, 0.2]  # ASSUMPTION: fast collections
factor_loading = 0.6

[defaults]
monthly_rate = [0.002, 0.005, 0.01, 0.03]  # ASSUMPTION: p_b
correlation = 0.2

[factor]
persistence = {phi}

[cash]
opening = 300.0

[simulation]
seed = 3
runoff_paths = 1500
"""

ECL_TAIL = """
[[ecl_scenarios]]
name = "base"
weight = {w0}

[[ecl_scenarios]]
name = "down"
weight = 0.4
overrides = {{ {override} = 0.7 }}
"""


def _small(folder: Path, phi: float = 0.0, name: str = "small.toml") -> Path:
    path = folder / name
    path.write_text(SMALL.format(phi=phi))
    return path


def _one_line_error(capsys, code: int) -> str:
    """Exit 2, nothing on stdout, one line on stderr: the line."""
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return assert_one_line_error(captured.err)


def test_sensetime_table_says_whether_the_matrix_is_consistent(capsys):
    assert main(["implied-rates", str(SENSETIME), "--paths", "1000"]) == 0
    out = capsys.readouterr().out
    sc = load_scenario(SENSETIME)
    header = next(line for line in out.splitlines() if line.startswith("bucket"))
    for column in ("disclosed", "implied", "± SE", "gap", "p_b solved", "status"):
        assert column in header
    first = {line: (line.split() or [""])[0] for line in out.splitlines()}
    rows = {word: line for line, word in first.items() if word in sc.labels}
    assert set(rows) == set(sc.labels)
    assert "27.90 %" in rows["6m-1y"]
    assert "not identified" in rows["4y+"]  # never collected: 100 % whatever p_b
    assert "Verdict:" in out and "1,000 paths" in out


def test_json_is_keyed_by_bucket_label(capsys):
    assert main(["implied-rates", str(SENSETIME), "--paths", "800", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sc = load_scenario(SENSETIME)
    for key in (
        "disclosed_rates",
        "implied_rates",
        "implied_rates_se",
        "gap",
        "calibrated_default_rates",
        "status",
    ):
        assert list(report[key]) == sc.labels, key
    assert report["disclosed_rates"] == dict(
        zip(sc.labels, sc.buckets.provision_rates, strict=True)
    )
    for lab in sc.labels:
        assert report["gap"][lab] == pytest.approx(
            report["implied_rates"][lab] - report["disclosed_rates"][lab], abs=1e-15
        )
    assert report["status"]["4y+"] == "not_identified"
    assert report["calibrated_default_rates"]["4y+"] == sc.defaults.monthly_rate[-1]
    assert report["method"] == "runoff" and report["paths"] == 800
    assert report["allowance_coverage"] == pytest.approx(
        report["allowance_opening"] / report["implied_lifetime_loss"]
    )
    assert report["consistent"] is False and report["verdict"].startswith("The disclosed matrix")


def test_calibrate_defaults_writes_the_solved_rates_and_keeps_comments(in_tmp, capsys):
    src = _small(in_tmp)
    assert main(["implied-rates", str(src), "--calibrate-defaults", "--out", "cal.toml"]) == 0
    out = capsys.readouterr().out
    assert "written to cal.toml" in out
    text = (in_tmp / "cal.toml").read_text()
    for comment in (
        "# A small book for the implied-rates command.",
        "# Fast collections: every disclosed rate is reachable.",
        "# ASSUMPTION: fast collections",
        "# ASSUMPTION: p_b",
        "# disclosed",
    ):
        assert comment in text, comment
    assert "Test numbers." in text and "CALIBRATED by 'arsim implied-rates" in text
    cal = load_scenario(in_tmp / "cal.toml")
    assert cal.defaults.monthly_rate != load_scenario(src).defaults.monthly_rate
    # the written scenario's implied rates equal its disclosed rates (exact, phi = 0)
    np.testing.assert_allclose(
        implied_rates(cal).rates, cal.buckets.provision_rates, rtol=0, atol=1e-6
    )
    # nothing else changed
    before, after = tomllib.loads(src.read_text()), tomllib.loads(text)
    before["defaults"].pop("monthly_rate"), after["defaults"].pop("monthly_rate")
    before["scenario"].pop("sources"), after["scenario"].pop("sources")
    assert before == after


def test_calibration_on_common_random_numbers_is_reproduced_by_the_written_file(in_tmp, capsys):
    src = _small(in_tmp, phi=0.6)
    args = ["implied-rates", str(src), "--paths", "1200", "--seed", "9"]
    assert main([*args, "--calibrate-defaults", "--out", "cal.toml", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "runoff" and set(report["status"].values()) == {"reproduced"}
    for lab, se in report["calibrated_default_rates_se"].items():
        assert se > 0, lab
    cal = load_scenario(in_tmp / "cal.toml")
    assert (cal.simulation.runoff_paths, cal.simulation.seed) == (1200, 9)
    # the same paths and seed: the written file's implied rates are the disclosed ones
    assert main(["implied-rates", "cal.toml", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    for lab, rate in again["implied_rates"].items():
        assert rate == pytest.approx(again["disclosed_rates"][lab], abs=1e-9)


def test_set_overrides_are_written_with_the_solved_rates(in_tmp, capsys):
    src = _small(in_tmp)
    args = ["implied-rates", str(src), "--set", "collections.multiplier=0.8"]
    assert main([*args, "--calibrate-defaults", "--out", "cal.toml"]) == 0
    cal = load_scenario(in_tmp / "cal.toml")
    assert cal.collections.multiplier == 0.8
    np.testing.assert_allclose(
        implied_rates(cal).rates, cal.buckets.provision_rates, rtol=0, atol=1e-6
    )


def test_existing_out_needs_force(in_tmp, capsys):
    src = _small(in_tmp)
    (in_tmp / "cal.toml").write_text("keep me\n")
    err = _one_line_error(
        capsys, main(["implied-rates", str(src), "--calibrate-defaults", "--out", "cal.toml"])
    )
    assert err == "cal.toml: --out: already exists; add --force to replace it"
    assert (in_tmp / "cal.toml").read_text() == "keep me\n"
    args = ["implied-rates", str(src), "--calibrate-defaults", "--out", "cal.toml", "--force"]
    assert main(args) == 0
    assert load_scenario(in_tmp / "cal.toml").scenario.name == "Small book"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cal.toml", "small.toml"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--calibrate-defaults"], "small.toml: --calibrate-defaults: needs --out FILE"),
        (["--out", "cal.toml"], "cal.toml: --out: only with --calibrate-defaults"),
        (["--calibrate-defaults", "--out", "."], ".: --out: is a folder"),
        (["--paths", "0"], "small.toml: simulation.runoff_paths: must be ≥ 1, got 0"),
        (["--set", "defaults.monthly_rat=[0.1]"], "small.toml: defaults.monthly_rat: unknown"),
    ],
    ids=["no_out", "out_alone", "out_folder", "zero_paths", "unknown_set"],
)
def test_user_mistakes_are_one_line(in_tmp, capsys, args, message):
    _small(in_tmp)
    err = _one_line_error(capsys, main(["implied-rates", "small.toml", *args]))
    assert err.startswith(message), err
    assert not (in_tmp / "cal.toml").exists()


@pytest.mark.parametrize(
    "w0, override, message",
    [
        (
            "0.5",
            '"collections.multiplier"',
            "bad.toml: ecl_scenarios: weights must sum to 1, got 0.9",
        ),
        ("0", '"collections.multiplier"', "bad.toml: ecl_scenarios[0].weight: must be > 0"),
        ("1.2", '"collections.multiplier"', "bad.toml: ecl_scenarios[0].weight: must be ≤ 1"),
        (
            "0.6",
            '"collections.multiplierr"',
            "bad.toml: ecl_scenarios[1].overrides.collections.multiplierr: unknown field "
            "(did you mean 'multiplier'?)",
        ),
        (
            "0.6",
            '"collection.multiplier"',
            "bad.toml: ecl_scenarios[1].overrides.collection.multiplier: unknown section",
        ),
    ],
    ids=["sum", "zero", "above_one", "unknown_field", "unknown_section"],
)
@pytest.mark.parametrize("command", ["implied-rates", "run"])
def test_bad_ecl_scenarios_are_refused_with_one_line(
    in_tmp, capsys, w0, override, message, command
):
    text = SMALL.format(phi=0.0) + ECL_TAIL.format(w0=w0, override=override)
    (in_tmp / "bad.toml").write_text(text)
    err = _one_line_error(capsys, main([command, "bad.toml"]))
    assert err.startswith(message), err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["bad.toml"]
