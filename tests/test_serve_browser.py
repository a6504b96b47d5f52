"""The what-if page in a real browser: Debian's headless Chromium driven by selenium, against a
page server started in this process. It fails, never skips, when the browser is missing."""

from __future__ import annotations

import json

import pytest
from conftest import IFLYTEK, chromium
from serve_helpers import HOSTILE_NAME, TEST_PATHS, start_server

from simulator import load_scenario, simulate, with_overrides
from simulator._format import fmt_money, fmt_pct

WIDTH, HEIGHT = 1366, 768


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("serve-browser"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    """The browser on the page, signed in through the one-time link."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path_factory.mktemp("chromium") / "profile", WIDTH, HEIGHT)
    try:
        token = server.guard.new_token()
        driver.get(server.url(token))
        home = f"http://127.0.0.1:{server.port}/"
        WebDriverWait(driver, 30).until(lambda d: d.current_url == home)
        _wait(driver, lambda d: _text(d, "status").startswith("Base"))
        driver.token = token
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _text(driver, element_id):
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def _card(driver, key):
    return driver.execute_script(
        f"return document.querySelector('[data-key=\"{key}\"] .value').textContent"
    )


def _shown_edits(driver):
    return json.loads(driver.execute_script("return document.getElementById('numbers')"
                                            ".dataset.edits || '{}'"))  # fmt: skip


def _set(driver, path, text):
    """Type ``text`` into the control of ``path`` (an input event, as typing makes)."""
    driver.execute_script(
        "const i = document.querySelector(`input[data-path='${arguments[0]}']`);"
        "i.value = arguments[1]; i.dispatchEvent(new Event('input', {bubbles: true}));",
        path,
        text,
    )


def _console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _simulated(edits):
    sc = load_scenario(IFLYTEK)
    edited = with_overrides(sc, edits) if edits else sc
    return simulate(edited, seed=sc.simulation.seed, paths=TEST_PATHS).summary(analytics=False)


def test_the_page_loads_signed_in_without_the_token_in_its_address(page, tmp_path, capsys):
    assert page.token not in page.current_url and "token" not in page.current_url
    assert page.execute_script("return document.cookie") == ""  # HttpOnly: not readable
    assert _console_errors(page) == []
    inner = page.execute_script("return window.innerWidth")
    scroll = page.execute_script("return document.documentElement.scrollWidth")
    assert inner >= 1300, f"window is {inner} px wide, expected about {WIDTH}"
    assert scroll <= inner, f"the page scrolls sideways: scrollWidth {scroll} > {inner}"
    base = _simulated({})
    assert _card(page, "p_runway_le_12") == fmt_pct(base["p_runway_le_12"])
    # the implied rates arrive on their own once the page is still
    _wait(page, lambda d: _text(d, "coverage").startswith("Allowance"))
    assert page.execute_script("return document.querySelectorAll('#rates tbody tr').length") == 6
    assert "of the implied lifetime loss" in _text(page, "coverage")
    shot = tmp_path / "whatif.png"
    page.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    with capsys.disabled():
        print(f"\nwhat-if page screenshot: {shot}")


def test_changing_the_multiplier_shows_simulates_numbers(page):
    field = page.find_element("css selector", "input[data-path='collections.multiplier']")
    field.click()
    field.send_keys("\ue009a")  # Ctrl-A, then type as a person would
    field.send_keys("0.8")
    _wait(page, lambda d: _shown_edits(d) == {"collections.multiplier": 0.8})
    s = _simulated({"collections.multiplier": 0.8})
    assert _card(page, "p_runway_le_12") == fmt_pct(s["p_runway_le_12"])
    assert _card(page, "p_runway_le_24") == fmt_pct(s["p_runway_le_24"])
    assert _card(page, "credit_loss_mean") == fmt_money(s["credit_loss_mean"])
    slider = page.find_element("css selector", "input[type=range]")
    assert slider.get_attribute("value") == "0.8"
    # the slider moves the number too
    page.execute_script(
        "arguments[0].value = '1.1'; arguments[0].dispatchEvent(new Event('input'));", slider
    )
    _wait(page, lambda d: _shown_edits(d) == {"collections.multiplier": 1.1})
    assert field.get_attribute("value") == "1.1"
    s = _simulated({"collections.multiplier": 1.1})
    assert _card(page, "p_runway_le_12") == fmt_pct(s["p_runway_le_12"])
    # two curves on each runway chart: the edit and base
    assert page.execute_script("return document.querySelectorAll('#chart-survival path').length")
    assert _console_errors(page) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [("-0.1", "must be ≥ 0, got -0.1"), ("abc", "is not a number"), ("1.5", "must be ≤ 1")],
    ids=["negative", "text", "above-one"],
)
def test_a_bad_value_shows_a_message_and_keeps_the_last_result(page, text, message):
    path = "collections.monthly_rate[0]"
    _set(page, path, "0.14")
    _set(page, "collections.multiplier", "0.9")
    _wait(page, lambda d: _shown_edits(d) == {"collections.multiplier": 0.9})
    shown = _card(page, "p_runway_le_12")
    _set(page, path, text)
    err = f"document.querySelector(`input[data-path='{path}']`).nextElementSibling.textContent"
    _wait(page, lambda d: d.execute_script("return " + err))
    assert message in page.execute_script("return " + err)
    invalid = page.execute_script(
        f"return document.querySelector(`input[data-path='{path}']`).getAttribute('aria-invalid')"
    )
    assert invalid == "true"
    assert "last result is kept" in _text(page, "status")
    assert _card(page, "p_runway_le_12") == shown
    assert _shown_edits(page) == {"collections.multiplier": 0.9}
    _set(page, path, "0.14")  # fixed: the message goes
    _wait(page, lambda d: not d.execute_script("return " + err))
    assert _console_errors(page) == []


def test_a_sweep_fills_in_its_curve(page, tmp_path, capsys):
    page.execute_script(
        "document.getElementById('sweep-field').value = 'collections.multiplier';"
        "document.getElementById('sweep-start').value = '0.7';"
        "document.getElementById('sweep-stop').value = '1.3';"
        "document.getElementById('sweep-points').value = '4';"
    )
    page.find_element("id", "sweep-run").click()
    _wait(page, lambda d: _text(d, "sweep-status").startswith("4 of 4 points · done"))
    dots = page.execute_script("return document.querySelectorAll('#chart-sweep circle').length")
    assert dots == 4
    assert "Collection multiplier m" in _text(page, "chart-sweep")
    assert _console_errors(page) == []
    # the whole page, an edit against base with a sweep (the README's picture comes from here),
    # once the edit's implied rates have arrived
    _wait(page, lambda d: _text(d, "coverage").startswith("Allowance"))
    assert page.execute_script("return document.getElementById('analytics').className") == "panel"
    height = page.execute_script(
        "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"
    )
    page.set_window_size(WIDTH, height)
    shot = tmp_path / "whatif_full.png"
    try:
        page.save_screenshot(str(shot))
    finally:
        page.set_window_size(WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000
    with capsys.disabled():
        print(f"\nwhat-if page, whole: {shot}")


def test_scenario_text_is_shown_as_text(page):
    page.execute_script(
        "const s = document.getElementById('scenario'); s.value = 'hostile';"
        "s.dispatchEvent(new Event('change'));"
    )
    _wait(page, lambda d: HOSTILE_NAME in _text(d, "meta"))
    assert page.execute_script("return document.images.length") == 0
    assert page.execute_script("return document.getElementById('pwned')") is None
    assert page.execute_script("return window.pwned === undefined")
    _wait(page, lambda d: _text(d, "status").startswith("Base"))
    assert _console_errors(page) == []
