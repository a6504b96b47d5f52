"""Shared test fixtures and helpers: the repository's paths, the failure budget of the
statistical tests (DESIGN 5), and checks that many test files use.

The slow job reruns the statistical tests over many independent seeds (not run by default)::

    bash .ci/slow                          # a fresh venv, then ARSIM_SEEDS=200 pytest -m slow
    ARSIM_SEEDS=20 pytest -m slow -n 2     # the same in the current environment

Statistical tests take their seed from ``stat_seed``: one fixed seed in the default run; under
``-m slow`` (or with ``ARSIM_SEEDS=N``) also N more seeds, each marked ``slow``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED_TOML = sorted(SCENARIOS.glob("*.toml"))
IFLYTEK = SCENARIOS / "iflytek_2024q3.toml"
SENSETIME = SCENARIOS / "sensetime_2023.toml"
MINIMAL = SCENARIOS / "example_minimal.toml"
AGING_CSV = SCENARIOS / "aging_history_example.csv"
BENCH = ROOT / "benchmarks" / "bench.toml"


# -- the failure budget (DESIGN 5) -------------------------------------------------------------

#: The chance that one statistical assertion fails although the code is right.
FAIL_PROB = 1e-6
#: Two-sided normal quantile of that chance: |estimate − exact| ≤ Z_FAIL × SE (≈ 4.89).
Z_FAIL = float(stats.norm.isf(FAIL_PROB / 2))

#: The seed of every statistical test in the default run.
DEFAULT_SEED = 0
#: Seeds of the slow job when ``-m slow`` is given without ``ARSIM_SEEDS``.
DEFAULT_SLOW_SEEDS = 20
#: How many seeds each statistical test runs on in this session (set by pytest_configure):
#: 1 in the default run, N in the slow job. The slow job runs each assertion N times, so the
#: budget of each is FAIL_PROB / N and the whole job keeps the default run's total false-failure
#: chance (about 1e-6 times the number of statistical assertions, some 1e-4).
SEED_RUNS = 1


def fail_prob(m: int = 1) -> float:
    """The budget of one of ``m`` values that one assertion covers (Bonferroni), in this run."""
    return FAIL_PROB / (m * SEED_RUNS)


def z_fail(m: int = 1) -> float:
    """Z for an assertion that covers ``m`` values (months, buckets, keys): the two-sided normal
    quantile of ``FAIL_PROB / m`` (Bonferroni), so that the assertion as a whole fails by chance
    with probability at most FAIL_PROB. ``z_fail(1)`` is Z_FAIL in the default run; in the slow
    job it is scaled by the number of seeds (see SEED_RUNS)."""
    return float(stats.norm.isf(fail_prob(m) / 2))


def binom_acceptance(n: int, p: float, m: int = 1) -> tuple[int, int]:
    """``(lo, hi)``: a Binomial(n, p) count falls outside ``lo..hi`` with probability at most
    ``fail_prob(m)`` (half below, half above), for coverage checks at the same budget."""
    tail = fail_prob(m) / 2
    lo = int(stats.binom.ppf(tail, n, p))  # P(K < lo) = cdf(lo - 1) < tail
    hi = int(stats.binom.isf(tail, n, p))  # P(K > hi) = sf(hi) <= tail
    return lo, hi


def _slow_seed_count(config: pytest.Config) -> int:
    """N seeds for the slow job: ARSIM_SEEDS, or DEFAULT_SLOW_SEEDS under ``-m slow``; else 0."""
    if os.environ.get("ARSIM_SEEDS"):
        return int(os.environ["ARSIM_SEEDS"])
    markexpr = config.getoption("markexpr", "") or ""
    return DEFAULT_SLOW_SEEDS if "slow" in markexpr and "not slow" not in markexpr else 0


def pytest_configure(config: pytest.Config) -> None:
    global SEED_RUNS
    SEED_RUNS = max(1, _slow_seed_count(config))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``stat_seed``: DEFAULT_SEED, and in the slow job seeds 1..N marked ``slow``."""
    if "stat_seed" in metafunc.fixturenames:
        seeds = [pytest.param(DEFAULT_SEED, id=f"seed{DEFAULT_SEED}")]
        seeds += [
            pytest.param(s, id=f"seed{s}", marks=pytest.mark.slow)
            for s in range(1, _slow_seed_count(metafunc.config) + 1)
        ]
        metafunc.parametrize("stat_seed", seeds)


def sub_seeds(seed: int, k: int) -> list[int]:
    """``k`` seeds for independent replicates within one test, derived from ``seed``; the
    replicates of different seeds are independent too."""
    return [int(s) for s in np.random.SeedSequence([seed, k]).generate_state(k, np.uint32)]


# -- fixtures and checks -----------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in ``tmp_path``, so that a default ``results/`` folder lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_one_line_error(err: str, *fragments: str, prefix: str | None = None) -> str:
    """``err`` is one line (ending in a newline), no traceback, containing every fragment and
    starting with ``prefix`` if given (e.g. ``FILE: FIELD: ``); returns the line."""
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    line = err[:-1]
    if prefix is not None:
        assert line.startswith(prefix), f"expected to start with {prefix!r}, got {line!r}"
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def verify_folder(folder: Path) -> dict:
    """The folder's manifest, after checking that it lists every other file in the folder with
    its size and SHA-256."""
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert set(manifest["files"]) == files, (sorted(manifest["files"]), sorted(files))
    for name, meta in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert len(data) == meta["bytes"], name
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
    return manifest


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table the tool wrote, without its ``wall_seconds*`` columns (timings
    differ from run to run)."""
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if c.startswith("wall_seconds")])


# -- one block with its trace, and the identities of DESIGN 2.7 --------------------------------


@dataclass
class Traced:
    """One block of the engine run with ``trace=True``."""

    prm: object
    trace: dict[str, np.ndarray]  # (K, H, n) or (H, n)
    series: dict[str, np.ndarray]  # the monthly values and gross by bucket g0.., (H + 1, n)
    per_path: dict[str, np.ndarray]


def run_traced(sc, block: int = 2, n: int | None = None, seed: int | None = None) -> Traced:
    """Block ``block`` of ``sc`` (``n`` paths, default ``simulation.paths``) with its trace."""
    from simulator.engine import run_block
    from simulator.params import compile_params
    from simulator.results import MONTHLY_VARS

    prm = compile_params(sc)
    n = sc.simulation.paths if n is None else n
    seed = sc.simulation.seed if seed is None else seed
    out = run_block(prm, block, n, seed, n_sample=n, trace=True)
    names = [*MONTHLY_VARS, *(f"g{b}" for b in range(prm.n_buckets))]
    series = {name: out.sample[i] for i, name in enumerate(names)}
    return Traced(prm, out.trace, series, out.per_path)


def _close(a, b, scale, rtol=1e-12):
    """|a − b| ≤ rtol × the sums involved (DESIGN 2.7), elementwise."""
    return np.abs(a - b) <= rtol * scale + 1e-300


def assert_identities(t: Traced) -> None:
    """DESIGN 2.7 on every path and month: finite, non-negative balances and flows, ``h + d ≤
    1``; gross by bucket adds up, gross rolls forward, loss = defaults + write-offs, the
    allowance is the provision matrix on the book, the charge by definition equals the charge by
    flow, cash over the run; and the per-path outputs agree with the months."""
    prm, tr, s = t.prm, t.trace, t.series
    K, H = prm.n_buckets, prm.horizon
    for name, arr in [*tr.items(), *s.items(), *t.per_path.items()]:
        assert np.isfinite(arr).all(), f"{name} is not finite"
    h, d = tr["h"], tr["d"]
    assert (h >= 0).all() and (d >= 0).all()
    assert (h + d <= 1 + 1e-12).all()
    assert (tr["s_min"] >= 0).all(), "a balance went negative"
    for name in ("gross", "collections", "credit_loss", "defaults", "write_offs", "revenue"):
        assert (s[name] >= 0).all(), f"{name} went negative"
    for b in range(K):
        assert (s[f"g{b}"] >= 0).all()

    r, sigma = prm.provision_rates, prm.credit_share
    gross = s["gross"]
    coll, loss, rev = s["collections"][1:], s["credit_loss"][1:], s["revenue"][1:]
    # what enters age 0: sigma Rev_t, or the realized credit billings B_t (DESIGN 2.15)
    billed = prm.credit_billings[:, None] if prm.credit_billings.size else sigma * rev
    # gross by bucket summed from the state adds up to the total
    by_bucket = sum(s[f"g{b}"] for b in range(K))
    assert _close(by_bucket, gross, gross, 1e-13).all()
    # gross roll-forward
    scale = gross[:-1] + billed + coll + loss
    assert _close(gross[1:], gross[:-1] + billed - coll - loss, scale).all()
    # flows by bucket add up, and loss = defaults + write-offs
    assert _close(tr["coll_b"].sum(axis=0), coll, coll, 1e-13).all()
    np.testing.assert_array_equal(loss, s["defaults"][1:] + s["write_offs"][1:])
    np.testing.assert_array_equal(s["write_offs"][1:], tr["write_offs"])
    if not prm.write_off:
        assert (tr["write_offs"] == 0).all()
    # allowance is the provision matrix on the book; charge by definition and by flow
    allowance = sum(r[b] * s[f"g{b}"] for b in range(K))
    assert _close(s["allowance"], allowance, allowance, 1e-13).all()
    charge = s["charge"][1:]
    a0, a1 = s["allowance"][:-1], s["allowance"][1:]
    assert _close(charge, a1 - a0 + loss, a1 + a0 + loss).all()
    mig = tr["migration"]  # (K-1, H, n): R[e_{b+1} - 1]
    by_flow = (
        r[0] * billed
        + sum((r[b + 1] - r[b]) * mig[b] for b in range(K - 1))
        - sum(r[b] * tr["coll_b"][b] for b in range(K))
        + sum((1 - r[b]) * tr["def_b"][b] for b in range(K))
        + (1 - r[K - 1]) * tr["write_offs"]
    )
    flow_scale = billed + mig.sum(axis=0) + coll + loss + a1 + a0
    assert _close(charge, by_flow, flow_scale).all()
    # cash over the run
    cash = s["cash"]
    inflow = coll + (1 - sigma - prm.variable_cost_ratio) * rev - prm.fixed_outflow[:, None]
    inflow = inflow + prm.other_inflow
    terms = np.abs(cash[0]) + coll.sum(0) + (1 + prm.variable_cost_ratio) * rev.sum(0)
    terms = terms + prm.fixed_outflow.sum() + abs(prm.other_inflow) * H
    assert _close(cash[-1], cash[0] + inflow.sum(axis=0), terms * H).all()
    # per-path outputs agree with the months
    np.testing.assert_array_equal(t.per_path["cash_end"], cash[-1])
    assert (t.per_path["min_cash"] <= cash.min(axis=0)).all()
    runway = t.per_path["runway"]
    assert ((runway >= 0) & (runway <= H + 1)).all()


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
