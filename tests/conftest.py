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
IFLYTEK_SEGMENTS = SCENARIOS / "iflytek_segments.toml"
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
    trace: dict[str, np.ndarray]  # (K, H, n) or (H, n); (S, K, H, n) with [[segments]]
    series: dict[str, np.ndarray]  # monthly values, gross by bucket g0.., by segment sg_<name>
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
    names += [f"sg_{prm.segments[s].name}" for s in range(prm.n_segment_rows)]
    assert len(names) == out.sample.shape[0]
    series = {name: out.sample[i] for i, name in enumerate(names)}
    return Traced(prm, out.trace, series, out.per_path)


def _close(a, b, scale, rtol=1e-12):
    """|a − b| ≤ rtol × the sums involved (DESIGN 2.7), elementwise."""
    return np.abs(a - b) <= rtol * scale + 1e-300


def _by_segment(t: Traced) -> dict[str, np.ndarray]:
    """The trace's flows with a segment axis first, also for a book of one segment."""
    keys = ("h", "d", "coll_b", "def_b", "migration", "write_offs")
    one = len(t.prm.segments) == 1
    return {key: t.trace[key][None] if one else t.trace[key] for key in keys}


def _debtor_flows(t: Traced) -> dict[str, np.ndarray]:
    """Each named debtor's events as (J, H, n) indicators: open at the month's start and end,
    paid, lost (defaulted or written off) in the month; empty arrays without debtors."""
    H = t.prm.horizon
    n = t.per_path["runway"].shape[0]
    J = len(t.prm.debtors)
    if not J:
        empty = np.zeros((0, H, n))
        return {"open0": empty, "open1": empty, "paid": empty, "lost": empty}
    ev, open1 = t.trace["debtor_events"], t.trace["debtor_open"]
    assert np.isin(ev, (0.0, 1.0, 2.0)).all() and np.isin(open1, (0.0, 1.0)).all()
    open0 = np.concatenate([np.ones((J, 1, n)), open1[:, :-1]], axis=1)
    paid, lost = (ev == 1.0).astype(float), (ev == 2.0).astype(float)
    # an event only while open, at most one per path, and the lump stays closed after it
    np.testing.assert_array_equal(open1, open0 - paid - lost)
    assert (open1 >= 0).all()
    return {"open0": open0, "open1": open1, "paid": paid, "lost": lost}


def assert_identities(t: Traced) -> None:
    """DESIGN 2.7 on every path and month: finite, non-negative balances and flows, ``h + d ≤
    1``; gross by bucket adds up, gross rolls forward, loss = defaults + write-offs, the
    allowance is the provision matrix on the book, the charge by definition equals the charge by
    flow, cash over the run; and the per-path outputs agree with the months.

    With ``[[segments]]`` (2.12) and ``[[debtors]]`` (2.13) every identity holds per segment and
    in total, with the debtors' terms: each segment's gross by bucket, rebuilt from its opening
    book and its flows, plus the open debtors in the bucket of their age, is the book's gross by
    bucket; its gross, collections and credit loss are the sample's and the per-path outputs';
    and the charge by flow gains, per debtor, the change of its rate, its release when paid and
    its loss beyond provision (2.13).
    """
    prm, tr, s = t.prm, t.trace, t.series
    segs, dbt = prm.segments, prm.debtors
    K, H, S, J = prm.n_buckets, prm.horizon, len(segs), len(dbt)
    for name, arr in [*tr.items(), *s.items(), *t.per_path.items()]:
        assert np.isfinite(arr).all(), f"{name} is not finite"
    f = _by_segment(t)
    h, d = f["h"], f["d"]
    assert (h >= 0).all() and (d >= 0).all()
    assert (h + d <= 1 + 1e-12).all()
    assert (tr["s_min"] >= 0).all(), "a balance went negative"
    for name in ("gross", "collections", "credit_loss", "defaults", "write_offs", "revenue"):
        assert (s[name] >= 0).all(), f"{name} went negative"
    for b in range(K):
        assert (s[f"g{b}"] >= 0).all()

    sigma = prm.credit_share
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
    np.testing.assert_array_equal(loss, s["defaults"][1:] + s["write_offs"][1:])

    dv = _debtor_flows(t)
    bal = dbt.balance[:, None, None]
    d_bkt_end = dbt.bucket[:, 1:] if J else np.zeros((0, H), dtype=int)  # (J, H)
    d_rate0 = dbt.rate[:, :-1, None] if J else np.zeros((0, H, 1))
    d_rate1 = dbt.rate[:, 1:, None] if J else np.zeros((0, H, 1))
    wo_month = np.zeros((J, H, 1), dtype=bool)  # the month a lump reaches its segment's W
    for j, month in enumerate(dbt.write_off_month):
        if 1 <= month <= H:
            wo_month[j, month - 1] = True

    # per segment: its pool's gross by bucket rebuilt from the opening book and the flows
    # (age 0 gains its billings, each bucket loses collections, defaults and what migrates on,
    # the next gains it, the last loses its write-offs), its allowance, charge and totals
    g_pool = np.zeros((S, K, H + 1, gross.shape[1]))
    g_size = np.zeros_like(g_pool)
    allow_seg, charge_flow, seg_coll, seg_loss = [], [], [], []
    pool_loss = np.zeros_like(loss)
    dflt_sum = np.zeros_like(loss)
    wo_sum = np.zeros_like(loss)
    for si, seg in enumerate(segs):
        r = seg.provision_rates
        billed_s = seg.billing_share * (
            prm.credit_billings[:, None] if prm.credit_billings.size else sigma * rev
        )
        cb, db, mig, wo = f["coll_b"][si], f["def_b"][si], f["migration"][si], f["write_offs"][si]
        if not seg.write_off:
            assert (wo == 0).all()
        g_pool[si, :, 0] = seg.opening_gross[:, None]
        for b in range(K):
            flow = -cb[b] - db[b]
            size = cb[b] + db[b]  # the sums involved: every flow in and out of the bucket
            if b == 0:
                flow, size = flow + billed_s, size + billed_s
            if b < K - 1:
                flow, size = flow - mig[b], size + mig[b]
            if b > 0:
                flow, size = flow + mig[b - 1], size + mig[b - 1]
            if b == K - 1:
                flow, size = flow - wo, size + wo
            g_pool[si, b, 1:] = seg.opening_gross[b] + np.cumsum(flow, axis=0)
            g_size[si, b, 0] = seg.opening_gross[b]
            g_size[si, b, 1:] = seg.opening_gross[b] + np.cumsum(size, axis=0)
        mine = dbt.segment == si if J else np.zeros(0, dtype=bool)
        db_paid = (bal[mine] * dv["paid"][mine]).sum(axis=0)
        db_lost = (bal[mine] * dv["lost"][mine]).sum(axis=0)
        db_open = (bal[mine] * dv["open1"][mine]).sum(axis=0)
        coll_s = cb.sum(axis=0) + db_paid
        loss_s = db.sum(axis=0) + wo + db_lost
        seg_coll.append(coll_s)
        seg_loss.append(loss_s)
        pool_loss += db.sum(axis=0) + wo
        dflt_sum += db.sum(axis=0)
        wo_sum += wo
        # the segment's allowance: the matrix on its pool, each open debtor at its rate
        a_pool = np.tensordot(r, g_pool[si], axes=1)
        a_dbt = np.zeros_like(a_pool)
        a_dbt[0] = (dbt.rate[mine, 0] * dbt.balance[mine]).sum() if J else 0.0
        a_dbt[1:] = (d_rate1[mine] * bal[mine] * dv["open1"][mine]).sum(axis=0)
        allow_seg.append(a_pool + a_dbt)
        # the charge by flow (2.7), with the debtors' terms (2.13)
        by_flow = (
            r[0] * billed_s
            + sum((r[b + 1] - r[b]) * mig[b] for b in range(K - 1))
            - sum(r[b] * cb[b] for b in range(K))
            + sum((1 - r[b]) * db[b] for b in range(K))
            + (1 - r[K - 1]) * wo
        )
        if mine.any():
            b_m = bal[mine]
            by_flow = by_flow + (
                (d_rate1[mine] - d_rate0[mine]) * b_m * dv["open1"][mine]
                - d_rate0[mine] * b_m * dv["paid"][mine]
                + (1 - d_rate0[mine]) * b_m * dv["lost"][mine]
            ).sum(axis=0)
        charge_flow.append(by_flow)
        # the segment's gross and per-path totals
        g_seg = g_pool[si].sum(axis=0)
        g_seg[1:] += db_open
        g_seg[0] += dbt.balance[mine].sum() if J else 0.0
        scale_s = g_size[si].sum(axis=0) + dbt.balance[mine].sum() if J else g_size[si].sum(0)
        if prm.n_segment_rows:
            assert _close(s[f"sg_{seg.name}"], g_seg, scale_s + g_seg, 1e-11).all(), seg.name
            tot = t.per_path[f"collections_{seg.name}"]
            assert _close(tot, coll_s.sum(axis=0), np.abs(coll_s).sum(axis=0), 1e-12).all()
            tot = t.per_path[f"credit_loss_{seg.name}"]
            assert _close(tot, loss_s.sum(axis=0), np.abs(loss_s).sum(axis=0), 1e-12).all()
        else:
            assert _close(gross, g_seg, scale_s + gross, 1e-11).all()
        assert (g_pool[si] >= -1e-12 * g_size[si]).all()

    # the book's gross by bucket: the segments' pools plus each open debtor in its age's bucket
    for b in range(K):
        want = g_pool[:, b].sum(axis=0)
        if J:
            here = (d_bkt_end == b)[:, :, None] * bal * dv["open1"]
            want = want.copy()
            want[1:] += here.sum(axis=0)
            want[0] += dbt.balance[dbt.bucket[:, 0] == b].sum()
        scale_b = g_size[:, b].sum(axis=0) + gross
        assert _close(s[f"g{b}"], want, scale_b, 1e-11).all(), f"gross of bucket {b}"
    # flows: the book's collections and loss are the segments' (with the debtors')
    assert _close(coll, sum(seg_coll), coll, 1e-12).all()
    assert _close(loss, sum(seg_loss), loss, 1e-12).all()
    # defaults and write-offs: the pools' plus the debtors' lost lumps, a lump written off only
    # in the month it reaches W (else it defaulted)
    d_lost = (bal * dv["lost"]).sum(axis=0)
    wo_res = s["write_offs"][1:] - wo_sum
    tol = 1e-12 * (s["write_offs"][1:] + wo_sum + d_lost)
    assert (wo_res >= -tol).all()
    assert (wo_res <= (bal * dv["lost"] * wo_month).sum(axis=0) + tol).all()
    assert _close(s["defaults"][1:] - dflt_sum + wo_res, d_lost, loss + d_lost).all()
    if S == 1 and not J:  # the plain book: the same sums, bit for bit
        np.testing.assert_array_equal(s["write_offs"][1:], tr["write_offs"])
    if J:
        np.testing.assert_allclose(
            t.per_path["credit_loss_pool"], pool_loss.sum(axis=0), rtol=1e-12, atol=1e-300
        )
    # allowance: the matrices on the book and the debtors' rates; charge by definition and flow
    allowance = sum(allow_seg)
    size = g_size.sum(axis=(0, 1)) + (dbt.balance.sum() if J else 0.0)
    assert _close(s["allowance"], allowance, allowance + size, 1e-12).all()
    charge = s["charge"][1:]
    a0, a1 = s["allowance"][:-1], s["allowance"][1:]
    assert _close(charge, a1 - a0 + loss, a1 + a0 + loss).all()
    by_flow = sum(charge_flow)
    flow_scale = billed + f["migration"].sum(axis=(0, 1)) + coll + loss + a1 + a0
    assert _close(charge, by_flow, flow_scale).all()
    for si in range(S):  # and per segment
        a_s = allow_seg[si]
        charge_s = a_s[1:] - a_s[:-1] + seg_loss[si]
        scale_s = a_s[1:] + a_s[:-1] + flow_scale + size[1:] + size[:-1]
        assert _close(charge_s, charge_flow[si], scale_s).all()
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


def debtor_counts(result) -> np.ndarray:
    """Per named debtor, over paths: lost (defaulted or written off), paid in full, paid within
    12 months, from the per-path event columns ``debtor_<name>`` (month t: ``t`` paid, ``-t``
    defaulted, ``-(WRITE_OFF_CODE + t)`` written off; 0 still open)."""
    names = [d.name for d in result.scenario.debtors or ()]
    rows = []
    for name in names:
        code = np.asarray(result.per_path[f"debtor_{name}"], dtype=np.int64)
        rows.append([(code < 0).sum(), (code > 0).sum(), ((code > 0) & (code <= 12)).sum()])
    return np.array(rows, dtype=float).reshape(len(names), 3)
