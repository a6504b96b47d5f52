"""``arsim backtest`` (DESIGN 7) from the command line: the README's command on the bundled
ledger, the folder it writes and its report page, JSON, and every mistake as one line with
nothing written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import IFLYTEK, SCENARIOS, assert_one_line_error, verify_folder

from simulator.cli import main

LEDGER = SCENARIOS / "ledger_example.csv"


@pytest.fixture(scope="module")
def done_when(tmp_path_factory):
    """The README's command, run once for the tests below."""
    folder = tmp_path_factory.mktemp("bt")
    out = folder / "bt"
    return out, main(
        ["backtest", str(LEDGER), "--rolling", "6", "--horizon", "12", "--out", str(out)]
    )


def test_the_readme_command_prints_coverage_wape_and_skill_and_writes_its_plots(done_when, capsys):
    out, code = done_when
    assert code == 0
    manifest = verify_folder(out)
    assert manifest["format"] == "arsim-backtest/1"
    assert {p.name for p in (out / "plots").iterdir()} == {
        "fan_collections.png",
        "fan_write_offs.png",
        "fan_gross.png",
        "pit.png",
        "coverage.png",
    }
    assert len(list((out / "scenarios").glob("*.toml"))) == 6
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["kind"] == "backtest" and doc["variants"] == ["plain"]
    assert [o["origin"] for o in doc["origins"]][-1] == "2024-08-31"
    assert doc["point_forecast"] is True and doc["base"] is None
    m = doc["metrics"]["plain"]["collections"]["all"]
    assert m["n"] == 21 and m["wape"] >= 0 and m["coverage_90"] is not None
    assert set(m) >= {"wape", "bias", "coverage_50", "coverage_90", "crps", "naive_mae", "skill"}


def test_the_printed_summary_reads_as_a_table(tmp_path, capsys):
    code = main(
        [
            "backtest",
            str(LEDGER),
            "--rolling",
            "2",
            "--horizon",
            "3",
            "--paths",
            "64",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    for fragment in (
        "WAPE",
        "in 90 %",
        "skill",
        "collections, monthly",
        "point forecast",
        "arsim report",
        "no origin reaches this horizon",
    ):
        assert fragment in text, fragment


def test_report_of_a_backtest_folder(done_when, tmp_path, capsys):
    out, _ = done_when
    page = tmp_path / "page.html"
    assert main(["report", str(out), "--out", str(page)]) == 0
    html = page.read_text()
    assert "Backtest of ledger_example.csv" in html
    assert html.count("data:image/png;base64,") == 5
    assert "in 90 %" in html and "Monthly collections by horizon" in html
    assert "<script" not in html


def test_with_a_base_listed_origins_and_json(tmp_path, capsys):
    out = tmp_path / "b"
    code = main(
        [
            "backtest",
            str(LEDGER),
            "--origins",
            "2023-06-30,2023-09-30",
            "--horizon",
            "12",
            "--base",
            str(IFLYTEK),
            "--paths",
            "512",
            "--out",
            str(out),
            "--json",
            "--set",
            "collections.multiplier=0.95",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    doc = json.loads(captured.out)
    assert doc["base"]["file"] == str(IFLYTEK) and not doc["point_forecast"]
    assert doc["overrides"] == {"collections.multiplier": 0.95}
    assert doc["metrics"]["plain"]["collections_12m"]["all"]["n"] == 2
    assert (out / "plots" / "collections_12m.png").is_file()
    assert "backtest written to" in captured.err
    sc = (out / "scenarios" / "2023-06-30.toml").read_text()
    assert "multiplier = 0.95" in sc and "credit_billings" in sc


def _refused(argv, capsys, *fragments, written=None):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    line = assert_one_line_error(err, *fragments)
    if written is not None:
        assert not written.exists()
    return line


def test_mistakes_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "b"
    common = [str(LEDGER), "--horizon", "6", "--out", str(out)]
    cases = [
        (["--rolling", "2", "--snapshots", "s.csv"], "--snapshots: backtests on aging snapshots"),
        ([], "give either --origins DATES or --rolling N"),
        (["--rolling", "2", "--origins", "2024-06-30"], "give either"),
        (["--origins", "2024-06-15"], "2024-06-15 is not a month end"),
        (["--origins", "2024-09-30"], "no month of data after it"),
        (["--origins", "2019-06-30"], "month-end pairs of data before it"),
        (["--rolling", "80"], "--rolling: only"),
        (["--rolling", "2", "--billings", "model"], "--billings: model billings need --base"),
        (["--rolling", "2", "--set", "collections.speed=2"], "collections.speed: unknown field"),
        (["--rolling", "2", "--edges-months", "0,6,3"], "--edges-months"),
        (["--rolling", "2", "--data-end", "2024-09-15"], "--data-end: must be a month end"),
        (["--rolling", "2", "--paths", "0"], "--paths"),
        (["--rolling", "2", "--write-off-age", "40"], "--write-off-age"),
    ]
    for extra, fragment in cases:
        _refused(["backtest", *common, *extra], capsys, fragment, written=out)


def test_bad_rows_an_existing_folder_and_force(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    lines = LEDGER.read_text().splitlines()
    lines[5] = lines[5].replace("2018-", "2018-13-", 1)
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "b"
    _refused(
        ["backtest", str(bad), "--rolling", "1", "--horizon", "2", "--out", str(out)],
        capsys,
        "row 6: invoice_date",
        "--allow-rejects",
        written=out,
    )
    argv = [
        "backtest",
        str(bad),
        "--rolling",
        "1",
        "--horizon",
        "2",
        "--paths",
        "16",
        "--allow-rejects",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert json.loads((out / "backtest.json").read_text())["rejected_rows"] == 1
    _refused(argv, capsys, "already exists; add --force")
    assert main([*argv, "--force"]) == 0
    verify_folder(out)


def test_parameter_risk_is_a_second_variant_in_every_table_plot_and_page(tmp_path, capsys):
    """--parameter-risk: the variant beside plain in backtest.json, metrics.csv and
    forecasts.csv (the same rows), the bootstrap it ran in replicates/ (which with the origin's
    scenario runs the same forecast again), the plots' legends, the printed text and the report
    page."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from simulator.backtest import plot_backtest_fan, plot_coverage, plot_pit_histogram

    out = tmp_path / "b"
    argv = ["backtest", str(LEDGER), "--origins", "2023-06-30,2023-12-31", "--horizon", "12",
            "--base", str(IFLYTEK), "--parameter-risk", "--bootstrap", "20", "--time-blocks",
            "12", "--paths", "256", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "with parameter risk:" in text and "fitted rates as known:" in text
    assert "bootstrap replicate π[n mod 20]" in text and "replicates/ (2)" in text
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["variants"] == ["plain", "parameter_risk"] and doc["bootstrap"] == 20
    assert doc["metrics"]["parameter_risk"].keys() == doc["metrics"]["plain"].keys()
    assert doc["metrics"]["parameter_risk"]["collections_12m"]["all"]["n"] == 1  # 9 months after
    metrics = pd.read_csv(out / "metrics.csv")
    forecasts = pd.read_csv(out / "forecasts.csv")
    keys = ["origin", "series", "horizon"]
    plain, risk = (forecasts[forecasts.variant == v].sort_values(keys) for v in doc["variants"])
    assert len(plain) + len(risk) == len(forecasts)
    pd.testing.assert_frame_equal(
        plain[keys].reset_index(drop=True), risk[keys].reset_index(drop=True)
    )
    m = {v: f.sort_values(["series", "horizon"])[["series", "horizon", "n"]].reset_index(drop=True)
         for v, f in metrics.groupby("variant")}  # fmt: skip
    pd.testing.assert_frame_equal(m["plain"], m["parameter_risk"])
    # the same realized values and naive forecast; another forecast
    np.testing.assert_array_equal(plain["realized"], risk["realized"])
    np.testing.assert_array_equal(plain["naive"], risk["naive"])
    assert (plain["mean"].to_numpy() != risk["mean"].to_numpy()).any()
    reps = sorted((out / "replicates").glob("*.csv"))
    assert [p.stem for p in reps] == ["2023-06-30", "2023-12-31"]
    table = pd.read_csv(reps[0])
    assert len(table) == 20
    assert list(table.columns) == [
        *(f"collections.monthly_rate[{b}]" for b in range(6)),
        *(f"defaults.monthly_rate[{b}]" for b in range(6)),
    ]
    # the folder's scenario and replicates run the same mixture (what arsim run --replicates
    # does), to the 10 digits of forecasts.csv
    from simulator import load_scenario, simulate
    from simulator.backtest._forecast import series_samples

    scenario = load_scenario(out / "scenarios" / "2023-06-30.toml")
    again = simulate(scenario, replicates=reps[0])
    x = series_samples(again, doc["labels"])["collections"]
    rows = risk[(risk.origin == "2023-06-30") & (risk.series == "collections")]
    np.testing.assert_allclose(rows["mean"], x.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(rows["p95"], np.quantile(x, 0.95, axis=0), rtol=1e-9)
    # the plots draw both variants
    for rows in (forecasts, forecasts[forecasts.horizon == 1]):  # one month: bars, not lines
        ax = Figure().subplots()
        plot_backtest_fan(rows, "2023-06-30", "collections", ax)
        assert "5–95 % with parameter risk" in [t.get_text() for t in ax.get_legend().get_texts()]
    for draw in (
        lambda ax: plot_pit_histogram(forecasts, "collections", ax),
        lambda ax: plot_coverage(forecasts, ["collections"], ax),
    ):
        ax = Figure().subplots()
        draw(ax)
        assert any("with parameter risk" in t.get_text() for t in ax.get_legend().get_texts())
    html_out = tmp_path / "page.html"
    assert main(["report", str(out), "--out", str(html_out)]) == 0
    page = html_out.read_text()
    assert page.count("with parameter risk (the fit") == 2  # the metrics and the horizons
    assert "20 replicates per origin" in page


def test_parameter_risk_mistakes_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "b"
    argv = ["backtest", str(LEDGER), "--rolling", "2", "--horizon", "3", "--parameter-risk",
            "--bootstrap", "20", "--paths", "64", "--out", str(out)]  # fmt: skip
    cases = [
        (["--set", "collections.monthly_rate[1]=0.05"],
         "--set collections.monthly_rate[1]: the replicates of --parameter-risk vary this field"),
        (["--set", "defaults.monthly_rate=[0.01,0.01,0.01,0.01,0.01,0.01]"],
         "--set defaults.monthly_rate: the replicates of --parameter-risk vary"),
        (["--paths", "30"], "--paths: --parameter-risk needs at least twice the replicates (40)"),
        (["--bootstrap", "1"], "--bootstrap: --parameter-risk needs 2 or more replicates"),
        (["--bootstrap", "0"], "--bootstrap: --parameter-risk needs 2 or more replicates"),
    ]  # fmt: skip
    for extra, fragment in cases:
        line = _refused([*argv, *extra], capsys, fragment, written=out)
        assert line.startswith(f"{LEDGER}: ")
    # a --set of a field the replicates leave alone runs
    assert main([*argv, "--set", "collections.multiplier=0.9"]) == 0
    assert "multiplier = 0.9" in (out / "scenarios" / "2024-08-31.toml").read_text()
