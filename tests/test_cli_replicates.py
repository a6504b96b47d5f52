"""`arsim run --replicates`: parameter risk from the terminal, kept in the results folder and
read back; bad tables refused in one line before any work (DESIGN 2.14)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import SENSETIME, assert_one_line_error, verify_folder

from simulator import load_scenario, with_overrides
from simulator._format import parameter_risk_rows
from simulator.cli import main
from simulator.scenario import scenario_hash
from simulator.storage import load_results


def _table(path, rows=4):
    pd.DataFrame(
        {
            "collections.monthly_rate[0]": [0.05 + 0.05 * i for i in range(rows)],
            "defaults.monthly_rate[0]": [0.001 * (i + 1) for i in range(rows)],
        }
    ).to_csv(path, index=False)
    return path


def test_run_with_replicates_reports_and_keeps_parameter_risk(in_tmp, capsys):
    reps = _table(in_tmp / "reps.csv")
    args = ["run", str(SENSETIME), "--paths", "2000", "--out", "r", "--replicates", str(reps)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Parameter risk (4 replicates of the rates, at least 500 paths each" in out
    assert "of its variance from the rates" in out
    summary = json.loads((in_tmp / "r" / "summary.json").read_text())
    risk = summary["parameter_risk"]
    assert risk["replicates"] == 4 and risk["paths_per_replicate"] == 500
    # slower and faster collections of the youngest bucket: the cash at the horizon differs
    assert risk["cash_end_mean"]["share"] > 0
    lo, hi = risk["cash_end_mean"]["range_5_95"]
    assert lo < hi
    manifest = verify_folder(in_tmp / "r")
    assert manifest["replicates"] == 4 and manifest["replicates_file"] == str(reps)
    kept = pd.read_csv(in_tmp / "r" / "replicates.csv")
    pd.testing.assert_frame_equal(kept, pd.read_csv(reps))

    plain = json.loads((in_tmp / "r" / "manifest.json").read_text())["scenario_sha256"]
    assert plain != scenario_hash(load_scenario(SENSETIME)), "the rows enter the scenario hash"

    assert main(["report", "r", "--out", "page.html"]) == 0
    page = (in_tmp / "page.html").read_text()
    assert "<h2>Parameter risk</h2>" in page and "at the file&#x27;s rates" in page
    for row in parameter_risk_rows(summary)[0]:
        assert all(cell in page for cell in row[1:])

    back = load_results(in_tmp / "r")
    assert back.parameter_risk == risk
    assert back.summary()["parameter_risk"] == risk
    assert sorted(set(back.paths["replicate"])) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("collections.factor_loading\n0.9\n", "needs 2 to"),
        ("buckets.gross[0]\n1\n2\n", "not a hazard parameter"),
        ("collections.factor_loading\n0.9\nabc\n", "row 2: collections.factor_loading"),
        ("collections.multiplier\n0.9\n1.1\n", "also set by the ECL scenario 'downside'"),
        ("defaults.monthly_rate[0]\n0.001\n-1\n", "row 2: defaults.monthly_rate[0]"),
    ],
)
def test_a_bad_replicates_table_is_refused_in_one_line(in_tmp, capsys, content, words):
    (in_tmp / "reps.csv").write_text(content)
    assert main(["run", str(SENSETIME), "--paths", "100", "--replicates", "reps.csv"]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, words, prefix="reps.csv: ")
    assert not (in_tmp / "results").exists()


def test_a_missing_replicates_file_and_too_few_paths_are_refused(in_tmp, capsys):
    assert main(["run", str(SENSETIME), "--replicates", "nope.csv"]) == 2
    assert_one_line_error(capsys.readouterr().err, "nope.csv")
    reps = _table(in_tmp / "reps.csv", rows=10)
    assert main(["run", str(SENSETIME), "--paths", "15", "--replicates", str(reps)]) == 2
    assert_one_line_error(capsys.readouterr().err, "at least 20")


def test_a_column_also_set_by_set_is_a_conflict(in_tmp, capsys):
    reps = _table(in_tmp / "reps.csv")
    args = ["run", str(SENSETIME), "--replicates", str(reps)]
    assert main([*args, "--set", "defaults.monthly_rate=[0.01,0.01,0.01,0.01,0.01,0.01]"]) == 2
    assert_one_line_error(
        capsys.readouterr().err,
        "defaults.monthly_rate[0]: also set by --set (defaults.monthly_rate)",
        prefix=f"{reps}: ",
    )


def test_sweep_points_carry_the_replicates_and_a_swept_column_is_a_conflict(in_tmp, capsys):
    """Each point of a sweep with replicates is the mixture run of that point, bit for bit."""
    from simulator import simulate, with_overrides

    reps = _table(in_tmp / "reps.csv")
    base = ["sweep", str(SENSETIME), "--paths", "400", "--workers", "1", "--json"]
    args = [*base, "--param", "collections.factor_loading=0.1,0.3", "--replicates", str(reps)]
    assert main([*args, "--out", "s"]) == 0
    doc = json.loads(capsys.readouterr().out)
    table = pd.read_csv(in_tmp / "s" / "table.csv")
    assert len(table) == 2
    sc = with_overrides(load_scenario(SENSETIME), {"simulation.paths": 400})
    for beta, got in zip((0.1, 0.3), table["p_runway_le_24"], strict=True):
        point = with_overrides(sc, {"collections.factor_loading": beta})
        want = simulate(point, replicates=reps).summary(analytics=False)["p_runway_le_24"]
        assert got == want
    assert doc["computed"] == 2

    clash = [*base, "--param", "defaults.monthly_rate[0]=0.001,0.002", "--replicates", str(reps)]
    assert main(clash) == 2
    assert_one_line_error(
        capsys.readouterr().err,
        "defaults.monthly_rate[0]: also set by the sweep (--param)",
        prefix=f"{reps}: ",
    )


def test_solve_and_sensitivity_take_replicates_and_refuse_their_own_field(in_tmp, capsys):
    reps = _table(in_tmp / "reps.csv")
    common = [str(SENSETIME), "--paths", "400", "--workers", "1", "--replicates", str(reps)]
    sens = ["sensitivity", *common, "--params", "collections.factor_loading", "--out", "t"]
    assert main(sens) == 0
    capsys.readouterr()
    assert (in_tmp / "t" / "table.csv").is_file()
    moved = ["sensitivity", *common, "--params", "defaults.monthly_rate"]
    assert main(moved) == 2
    assert_one_line_error(capsys.readouterr().err, "also set by the sensitivity (--params)")
    solve = ["solve", *common, "--param", "collections.monthly_rate[0]", "--target", "0.5"]
    assert main(solve) == 2
    assert_one_line_error(capsys.readouterr().err, "also set by the solve (--param)")


def _with_uncertainty(folder, table="reps.csv"):
    """SENSETIME's text with ``[uncertainty] replicates = table``, written into ``folder``."""
    path = folder / "book.toml"
    path.write_text(SENSETIME.read_text() + f'\n[uncertainty]\nreplicates = "{table}"\n')
    return path


def test_the_scenario_can_name_its_replicates(in_tmp, capsys):
    """``[uncertainty] replicates`` (relative to the scenario file) gives what --replicates
    gives; --replicates wins and says so; validate checks the table and counts its rows."""
    folder = in_tmp / "sub"
    folder.mkdir()
    reps = _table(folder / "reps.csv")
    book = _with_uncertainty(folder)
    assert main(["validate", str(book)]) == 0
    assert "4 parameter replicates" in capsys.readouterr().out
    assert main(["run", str(book), "--paths", "2000", "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert (
        main(["run", str(SENSETIME), "--paths", "2000", "--json", "--replicates", str(reps)]) == 0
    )
    given = json.loads(capsys.readouterr().out)
    assert from_file["parameter_risk"] == given["parameter_risk"]
    assert from_file["credit_loss_mean"] == given["credit_loss_mean"]

    other = _table(in_tmp / "other.csv", rows=5)
    assert main(["run", str(book), "--paths", "2000", "--json", "--replicates", str(other)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["parameter_risk"]["replicates"] == 5
    assert f"--replicates {other} is used instead of reps.csv" in err

    from simulator import simulate

    api = simulate(book, paths=2000).summary(analytics=False)
    assert api["credit_loss_mean"] == given["credit_loss_mean"]
    plain = simulate(book, paths=2000, replicates=False).summary(analytics=False)
    assert "parameter_risk" not in plain and plain["credit_loss_mean"] != api["credit_loss_mean"]


@pytest.mark.parametrize(
    "table, words",
    [
        ("missing.csv", "no such file"),
        ("reps.xlsx", "not a .parquet or .csv file"),
    ],
)
def test_a_bad_uncertainty_section_is_refused_in_one_line(in_tmp, capsys, table, words):
    book = _with_uncertainty(in_tmp, table)
    (in_tmp / "reps.xlsx").write_text("x")
    for argv in (["validate", str(book)], ["run", str(book), "--paths", "100"]):
        assert main(argv) == 2
        assert_one_line_error(
            capsys.readouterr().err, words, prefix=f"{book}: uncertainty.replicates: "
        )


def test_validate_checks_the_named_table(in_tmp, capsys):
    pd.DataFrame({"collections.monthly_rate[0]": [0.1, "x"]}).to_csv("reps.csv", index=False)
    book = _with_uncertainty(in_tmp)
    assert main(["validate", str(book)]) == 2
    assert_one_line_error(capsys.readouterr().err, "row 2", "expected a number")
    bad = in_tmp / "typo.toml"
    bad.write_text(SENSETIME.read_text() + '\n[uncertainty]\nreplicate = "reps.csv"\n')
    assert main(["validate", str(bad)]) == 2
    assert_one_line_error(capsys.readouterr().err, "uncertainty.replicate")


def test_a_results_folder_names_its_own_copy_of_the_replicates(in_tmp, capsys):
    """The folder's scenario.toml points at the folder's replicates.csv, so that running it
    again from the folder gives the same numbers; the hash does not depend on where the table
    lives."""
    folder = in_tmp / "sub"
    folder.mkdir()
    _table(folder / "reps.csv")
    book = _with_uncertainty(folder)
    assert main(["run", str(book), "--paths", "2000", "--out", "r"]) == 0
    capsys.readouterr()
    kept = load_scenario(in_tmp / "r" / "scenario.toml")
    assert kept.uncertainty.replicates == "replicates.csv"
    assert main(["run", "r/scenario.toml", "--paths", "2000", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    first = json.loads((in_tmp / "r" / "summary.json").read_text())
    assert again["credit_loss_mean"] == first["credit_loss_mean"]
    assert again["parameter_risk"] == first["parameter_risk"]
    ran = with_overrides(load_scenario(book), {"simulation.paths": 2000})
    assert scenario_hash(kept) == scenario_hash(ran)
    plain = in_tmp / "plain"
    assert main(["run", str(SENSETIME), "--paths", "2000", "--out", str(plain)]) == 0
    assert load_scenario(plain / "scenario.toml").uncertainty is None
