"""`arsim report`: the page's content, escaping, self-containment and the --out rules, in-process.

The page in a real browser is tested in test_report_browser.py.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from conftest import IFLYTEK, MINIMAL, SENSETIME, assert_one_line_error

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
    prefix = f"{empty}: RESULTS_DIR: not an arsim results or sweep folder"
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
