"""The HTML report opened in a real browser: Debian's headless Chromium driven by selenium.

The browser must be installed (``apt-get install -y chromium chromium-driver``; ``.ci/run`` does
it). The test fails, rather than skips, when it is missing, so CI can never pass without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import chromium

from simulator.cli import main
from simulator.report import fmt_money, fmt_pct

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1366, 768


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile", WIDTH, HEIGHT)
    try:
        yield driver
    finally:
        driver.quit()


def _check_page(driver, html_path: Path, screenshot: Path) -> str:
    driver.get(html_path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == [], f"console errors: {errors}"
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);"
    )
    assert images, "the report has no images"
    broken = [alt for alt, complete, width in images if not complete or width <= 0]
    assert broken == [], f"images that do not decode: {broken}"
    inner = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert inner >= 1300, f"window is {inner} px wide, expected about {WIDTH}"
    assert scroll <= inner, f"the page scrolls sideways: scrollWidth {scroll} > {inner}"
    driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    return driver.find_element("tag name", "body").text


def test_report_of_a_run_in_chromium(browser, tmp_path, capsys):
    run = tmp_path / "run"
    scenario = ROOT / "scenarios" / "iflytek_2024q3.toml"
    assert main(["run", str(scenario), "--paths", "2000", "--out", str(run)]) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    text = _check_page(browser, run / "report.html", tmp_path / "report_run.png")
    s = json.loads((run / "summary.json").read_text())
    meta = s["scenario"]["scenario"]
    for expected in (
        meta["name"],
        meta["as_of"],
        "CNY million",
        fmt_pct(s["p_runway_le_12"]),
        fmt_pct(s["p_runway_le_12_se"]),
        fmt_pct(s["p_runway_le_24"]),
        fmt_pct(s["p_runway_le_24_se"]),
        fmt_money(s["credit_loss_mean"]),
        fmt_money(s["credit_loss_mean_se"]),
        fmt_money(s["credit_loss_p99"]),
        fmt_money(s["collections_mean"]),
        fmt_money(s["cash_end_mean"]),
        fmt_money(s["allowance_opening"]),
        fmt_money(s["implied_lifetime_loss"]),
        f"{s['runway_quantiles']['p50']} months",
        "ASSUMPTION",
    ):
        assert expected in text, f"{expected!r} is not on the page"
    n_images = browser.execute_script("return document.images.length")
    assert n_images == len(list((run / "plots").glob("*.png"))) == 4
    with capsys.disabled():
        print(f"\nreport screenshot: {tmp_path / 'report_run.png'}")


def test_report_of_a_sweep_in_chromium(browser, tmp_path, capsys):
    out = tmp_path / "sweep"
    scenario = ROOT / "scenarios" / "iflytek_2024q3.toml"
    argv = ["sweep", str(scenario), "--param", "collections.multiplier=0.8:1.2:3"]
    argv += ["--param", "cash.monthly_fixed_outflow=500,620", "--paths", "500"]
    assert main([*argv, "--workers", "1", "--out", str(out)]) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "sweep.html")]) == 0
    capsys.readouterr()
    text = _check_page(browser, tmp_path / "sweep.html", tmp_path / "report_sweep.png")
    assert "Parameter sweep" in text and "collections.multiplier" in text
    assert "cash.monthly_fixed_outflow" in text
    assert browser.execute_script("return document.images.length") == 1
    with capsys.disabled():
        print(f"\nreport screenshot: {tmp_path / 'report_sweep.png'}")
