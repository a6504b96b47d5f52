"""`arsim report`: the page's content, escaping, self-containment and the --out rules, in-process.

The page in a real browser is tested in test_report_browser.py.
"""

from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest
from conftest import IFLYTEK, MINIMAL, SENSETIME, assert_one_line_error
from htmltables import table_titled

from simulator._format import fmt_bound
from simulator.adequacy import unresolved_note
from simulator.cli import main
from simulator.report import build_report, fmt_money, fmt_pct


@pytest.fixture(scope="module")
def sensetime_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    assert main(["run", str(SENSETIME), "--paths", "1000", "--out", str(out)]) == 0
    return out


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_of_a_run_has_the_scenario_summary_plots_and_tables(sensetime_run, capsys):
    capsys.readouterr()
    assert main(["report", str(sensetime_run)]) == 0
    out = capsys.readouterr().out.strip()
    page_path = sensetime_run / "report.html"
    assert out == str(page_path)
    page = page_path.read_text(encoding="utf-8")
    s = json.loads((sensetime_run / "summary.json").read_text())
    meta = s["scenario"]["scenario"]
    assert page.startswith("<!DOCTYPE html>")
    for text in (
        meta["name"],
        meta["as_of"],
        "CNY million",
        fmt_pct(s["p_runway_le_12"]),
        fmt_pct(s["p_runway_le_12_se"]),
        fmt_money(s["credit_loss_mean"]),
        fmt_money(s["credit_loss_mean_se"]),
        fmt_money(s["ecl_weighted"]),
        "provision_matrix.csv",
        "provisioning.csv",
        "ecl_scenarios.csv",
        "Assumptions",
        "Sources",
    ):
        assert re.sub(r"\s+", " ", text) in page, text
    images = _images(page)
    assert len(images) == 4  # runway, cash fan, aging, allowance
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert images[0] == (sensetime_run / "plots" / "runway.png").read_bytes()


def test_page_is_self_contained_and_responsive(sensetime_run):
    page = build_report(sensetime_run)
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert 'name="viewport"' in page
    assert "img{max-width:100%" in page and "overflow-x:auto" in page


def test_text_from_the_folder_is_escaped(tmp_path):
    scenario = tmp_path / "evil.toml"
    header = (
        '[scenario]\nname = "<script>alert(1)</script> & <b>co</b>"\n'
        'sources = ["ASSUMPTION: <img src=x onerror=alert(2)>"]\n\n'
    )
    text = header + MINIMAL.read_text()
    scenario.write_text(text)
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--paths", "200", "--out", str(out)]) == 0
    page = build_report(out)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_out_rules_and_mistakes_are_one_line_exit_2(sensetime_run, tmp_path, capsys):
    target = tmp_path / "page.html"
    assert main(["report", str(sensetime_run), "--out", str(target)]) == 0
    first = target.read_bytes()
    capsys.readouterr()
    assert main(["report", str(sensetime_run), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"{target}: --out: already exists; add --force to replace it\n"
    assert target.read_bytes() == first
    assert main(["report", str(sensetime_run), "--out", str(target), "--force"]) == 0
    assert not list(tmp_path.glob(".page.html.tmp-*"))
    capsys.readouterr()

    assert main(["report", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'missing'}: RESULTS_DIR: no such folder\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    prefix = f"{empty}: RESULTS_DIR: not an arsim results, sweep or backtest folder"
    assert_one_line_error(capsys.readouterr().err, prefix=prefix)
    assert not (empty / "report.html").exists()
    assert main(["report", str(sensetime_run), "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err
        == f"{tmp_path}: --out: is a folder; give the name of a file to write\n"
    )


def test_report_of_a_sweep_solve_and_sensitivity_folder(tmp_path, capsys):
    common = ["--paths", "300", "--workers", "1"]
    sweep = tmp_path / "sweep"
    argv = ["sweep", str(IFLYTEK), "--param", "collections.multiplier=0.8:1.2:3", *common]
    assert main([*argv, "--out", str(sweep)]) == 0
    solve = tmp_path / "solve"
    argv = ["solve", str(IFLYTEK), "--param", "collections.multiplier"]
    argv += ["--metric", "p_runway_le_12", "--target", "0.05", *common]
    assert main([*argv, "--out", str(solve)]) == 0
    sens = tmp_path / "sens"
    argv = ["sensitivity", str(IFLYTEK), "--params", "collections.multiplier,revenue.monthly"]
    assert main([*argv, *common, "--out", str(sens)]) == 0
    capsys.readouterr()

    page = build_report(sweep)
    assert "Parameter sweep" in page and "iFlytek" in page and "2024-09-30" in page
    assert len(_images(page)) == 1 and "p_runway_le_12" in page
    assert page.count("<tr>") >= 3 + 1  # three points and the header, at least
    page = build_report(solve)
    assert "Reverse stress test" in page and "value found" in page and len(_images(page)) == 1
    page = build_report(sens)
    assert "Sensitivity analysis" in page and "revenue.monthly" in page
    assert len(_images(page)) == 1


# --------------------------------------------------------------------------------------------
# What a reader sees: the inputs, the overrides, human headers, SEs and bounds that do not read 0


@pytest.fixture(scope="module")
def stressed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "stressed"
    argv = ["run", str(IFLYTEK), "--paths", "2000", "--out", str(out)]
    assert main([*argv, "--set", "collections.multiplier=0.8"]) == 0
    return out


def _number(cell: str) -> float:
    return float(cell.replace(",", "").replace("%", "").strip())


def _decimals(cell: str) -> int:
    text = cell.replace("%", "").strip()
    return len(text.split(".")[1]) if "." in text else 0


def test_the_inputs_table_shows_the_bucket_rates_and_their_assumption_marks(sensetime_run):
    page = build_report(sensetime_run)
    sc = json.loads((sensetime_run / "summary.json").read_text())["scenario"]
    book = table_titled(page, "The book by bucket")
    headers = book["headers"]
    rows = {row[0]: row for row in book["rows"]}
    columns = {
        "opening gross": (sc["buckets"]["gross"], 1.0),
        "provision rate r": (sc["buckets"]["provision_rates"], 100.0),
        "collection rate c, a month (average)": (sc["collections"]["monthly_rate"], 100.0),
        "default rate p, a month (average)": (sc["defaults"]["monthly_rate"], 100.0),
    }
    for header, (values, scale) in columns.items():
        j = headers.index(header)
        cells = [rows[label][j] for label in sc["buckets"]["labels"]]
        shown = [_number(c) for c in cells]
        d = _decimals(cells[0])
        assert {_decimals(c) for c in cells} == {d}, f"{header}: mixed decimals {cells}"
        assert shown == pytest.approx([scale * v for v in values], abs=0.51 * 10**-d)
        assert all(v == 0 or s != 0 for v, s in zip(values, shown, strict=True)), cells
    # the sources row: each column carries the marks of the sources that name its field
    sources = [str(s) for s in sc["scenario"]["sources"]]
    assumed = [s for s in sources if s.upper().startswith("ASSUMPTION")]
    i = next(k for k, s in enumerate(assumed, 1) if "collections.monthly_rate" in s)
    marks = rows["sources"][headers.index("collection rate c, a month (average)")]
    assert f"ASSUMPTION A{i}" in marks
    assert f'<li id="src-A{i}" class="assumption"><strong>A{i}</strong>' in page
    others = table_titled(page, "Factor, revenue and cash")
    by_field = {row[2]: row for row in others["rows"]}
    assert by_field["cash.opening"][1] == fmt_money(sc["cash"]["opening"])
    j = next(k for k, s in enumerate(assumed, 1) if "cash.opening" in s)
    assert f"ASSUMPTION A{j}" in by_field["cash.opening"][3]


def test_the_title_of_a_stressed_run_carries_its_overrides(stressed_run, sensetime_run):
    page = build_report(stressed_run)
    title = re.search(r"<title>(.*?)</title>", page)[1]
    heading = re.search(r"<h1>(.*?)</h1>", page)[1]
    assert "collections.multiplier=0.8" in title and "collections.multiplier=0.8" in heading
    assert "<code>collections.multiplier=0.8</code>" in page  # the run's facts: a list
    assert '{"collections.multiplier"' not in page  # not raw JSON
    base = build_report(sensetime_run)
    assert "=" not in re.search(r"<title>(.*?)</title>", base)[1]


def test_headers_are_words_and_ses_and_bounds_never_read_zero(stressed_run):
    page = build_report(stressed_run)
    s = json.loads((stressed_run / "summary.json").read_text())
    for file in ("provision_matrix.csv", "provisioning.csv"):
        for column in pd.read_csv(stressed_run / file).columns:
            if "_" in column:
                assert f"<th>{column}</th>" not in page and f">{column}</th>" not in page, column
    matrix = table_titled(page, "Provision matrix")
    j = matrix["headers"].index("± SE")
    se = pd.read_csv(stressed_run / "provision_matrix.csv")["implied_rate_se"]
    for row, value in zip(matrix["rows"], se, strict=False):
        if value > 0:
            assert _number(row[j]) == pytest.approx(100 * value, rel=0.05), row[j]
    # P(runway <= 24) is 1 on every path: SE 0 and the rule-of-three bound, not "100.00 %"
    assert s["p_runway_le_24"] == 1.0
    bound = s["p_runway_le_24_bound95"]
    assert f"95 % bound ≥ {fmt_bound(bound)}" in page
    assert fmt_bound(bound) != "100.00 %" and "bound 100.00 %" not in page
    assert "± 0.00 %" not in page and ">0.00 %<" not in page
    note = unresolved_note(s, list(s["disclosed_rates"]))
    assert note and page.count(note) >= 2  # under the implied loss, in the table and the lead
