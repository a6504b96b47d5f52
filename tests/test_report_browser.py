"""The HTML report opened in a real browser: Debian's headless Chromium driven by selenium.

The browser must be installed (``apt-get install -y chromium chromium-driver``; ``.ci/run`` does
it). The test fails, rather than skips, when it is missing, so CI can never pass without it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import IFLYTEK, ROOT, chromium

from simulator.cli import main
from simulator.report import fmt_money, fmt_pct

WIDTH, HEIGHT = 1366, 768


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile", WIDTH, HEIGHT)
    try:
        yield driver
    finally:
        driver.quit()


def _full_page_screenshot(driver, path: Path) -> None:
    """The whole page, 1366 px wide, as one PNG (through the DevTools protocol)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.write_bytes(base64.b64decode(shot["data"]))


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
    tables = driver.execute_script(
        "return Array.from(document.querySelectorAll('table')).map(t => "
        "[t.querySelector('th,td') ? t.querySelector('th,td').textContent : '', "
        "t.scrollWidth, t.parentElement.clientWidth, t.parentElement.scrollWidth]);"
    )
    assert tables, "the page has no tables"
    cut = [(first, w, room) for first, w, room, scrolled in tables if max(w, scrolled) > room]
    assert cut == [], f"tables wider than their place (columns cut off or scrolled): {cut}"
    _full_page_screenshot(driver, screenshot)
    assert screenshot.stat().st_size > 10_000
    return driver.find_element("tag name", "body").text


def test_report_of_a_run_in_chromium(browser, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(IFLYTEK), "--paths", "2000", "--out", str(run)]) == 0
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
    argv = ["sweep", str(IFLYTEK), "--param", "collections.multiplier=0.8:1.2:3"]
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


def test_compare_page_in_chromium(browser, tmp_path, capsys):
    scenario = str(ROOT / "scenarios" / "iflytek_2024q3.toml")
    common = ["--paths", "2000", "--set", "simulation.runoff_paths=1000", "--json"]
    base, stress, page = tmp_path / "base", tmp_path / "stress", tmp_path / "compare.html"
    assert main(["run", scenario, *common, "--out", str(base)]) == 0
    slower = ["--set", "collections.multiplier=0.8"]
    assert main(["run", scenario, *common, *slower, "--out", str(stress)]) == 0
    assert main(["compare", str(base), str(stress), "--out", str(page)]) == 0
    capsys.readouterr()
    text = _check_page(browser, page, tmp_path / "compare.png")
    s = json.loads((stress / "summary.json").read_text())
    for expected in (
        "B against A",
        "B with collections.multiplier=0.8",
        "Inputs that differ",
        "collections.multiplier",
        fmt_pct(s["p_runway_le_12"]),
        fmt_money(s["credit_loss_mean"]),
        "paired",
    ):
        assert expected in text, f"{expected!r} is not on the page"
    assert browser.execute_script("return document.images.length") == 2
    with capsys.disabled():
        print(f"\ncompare screenshot: {tmp_path / 'compare.png'}")
