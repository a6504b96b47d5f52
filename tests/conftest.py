"""Shared test fixtures and helpers: the repository's paths, the failure budget of the
statistical tests (DESIGN 5), and checks that many test files use."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED_TOML = sorted(SCENARIOS.glob("*.toml"))
IFLYTEK = SCENARIOS / "iflytek_2024q3.toml"
SENSETIME = SCENARIOS / "sensetime_2023.toml"
MINIMAL = SCENARIOS / "example_minimal.toml"
BENCH = ROOT / "benchmarks" / "bench.toml"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium(profile: Path, width: int = 1366, height: int = 768):
    """Debian's headless Chromium driven by selenium, with a fresh profile in ``profile`` and
    the browser's console log kept. Fails (never skips) when the browser is missing, so CI can
    never pass without it."""
    import pytest

    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).is_file():
            pytest.fail(
                f"{exe} is missing: install Debian's browser with "
                "'apt-get update && apt-get install -y chromium chromium-driver' "
                "(bash .ci/run does this)"
            )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(width, height)
    return driver
