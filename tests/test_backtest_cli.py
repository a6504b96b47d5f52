"""``arsim backtest`` (DESIGN 7) from the command line: the README's command on the bundled
ledger, the folder it writes and its report page, JSON, and every mistake as one line with
nothing written."""

from __future__ import annotations

import json

import pytest
from conftest import IFLYTEK, SCENARIOS, assert_one_line_error, verify_folder

from simulator.backtest import parameter_risk_available
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


@pytest.mark.skipif(parameter_risk_available(), reason="the engine runs parameter replicates")
def test_parameter_risk_is_refused_until_the_engine_has_replicates(tmp_path, capsys):
    out = tmp_path / "b"
    line = _refused(
        [
            "backtest",
            str(LEDGER),
            "--rolling",
            "2",
            "--horizon",
            "3",
            "--parameter-risk",
            "--out",
            str(out),
        ],
        capsys,
        "--parameter-risk: this engine cannot run parameter replicates yet",
        written=out,
    )
    assert line.startswith(f"{LEDGER}: ")


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


@pytest.fixture
def engine_with_replicates(monkeypatch):
    """``simulate`` with the ``replicates`` keyword of DESIGN 2.14, standing in for the engine
    that takes it: it records each table and runs the plain simulation (so the variant equals
    the plain one here), which is enough to carry the backtest's parameter-risk path through."""
    import simulator.api

    real = simulator.api.simulate
    tables = []

    def simulate(scenario, *, replicates=None, **kw):
        if replicates is not None:
            tables.append(replicates)
        return real(scenario, **kw)

    monkeypatch.setattr(simulator.api, "simulate", simulate)
    return tables


def test_parameter_risk_with_an_engine_that_takes_replicates(engine_with_replicates, tmp_path,
                                                             capsys):  # fmt: skip
    assert parameter_risk_available()
    out = tmp_path / "b"
    argv = ["backtest", str(LEDGER), "--origins", "2023-06-30,2023-12-31", "--horizon", "12",
            "--base", str(IFLYTEK), "--parameter-risk", "--bootstrap", "20", "--time-blocks",
            "12", "--paths", "256", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "with parameter risk" in text and "fitted rates as known" in text
    tables = engine_with_replicates
    assert len(tables) == 2  # one per origin
    assert list(tables[0].columns) == [
        *(f"collections.monthly_rate[{b}]" for b in range(6)),
        *(f"defaults.monthly_rate[{b}]" for b in range(6)),
    ]
    assert len(tables[0]) == 20
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["variants"] == ["plain", "parameter_risk"] and doc["bootstrap"] == 20
    assert (
        doc["metrics"]["parameter_risk"]["collections_12m"]["all"]["n"] == 1
    )  # 9 months after 2023-12
    html_out = tmp_path / "page.html"
    assert main(["report", str(out), "--out", str(html_out)]) == 0
    assert "with parameter risk (the fit" in html_out.read_text()
    # a --set of a rate the replicates vary, and too few paths, are refused
    for extra, fragment in (
        (["--set", "collections.monthly_rate[1]=0.05"], "the replicates of --parameter-risk"),
        (["--paths", "30"], "--paths: --parameter-risk needs at least twice"),
    ):
        _refused([*argv, "--force", *extra], capsys, fragment)
