"""The benchmark of the README: its scenario is the one specified, its three contestants compute
the model, and its command runs."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import BENCH, ROOT, Z_FAIL

from simulator import load_scenario

SCRIPT = ROOT / "benchmarks" / "bench_engine.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_scenario_is_the_specified_book():
    sc = load_scenario(BENCH)
    assert sc.buckets.edges_months == [0, 6, 12, 24, 36, 48]
    assert sc.defaults.write_off_after_months is None
    assert sc.buckets.gross == [6000, 3000, 2500, 1500, 800, 400]
    assert sc.buckets.provision_rates == [0.05, 0.279, 0.43, 0.58, 0.75, 1.0]
    assert sc.collections.monthly_rate == [0.12, 0.06, 0.03, 0.02, 0.01, 0.005]
    assert sc.collections.factor_loading == 0.5
    assert sc.defaults.monthly_rate == [0.001, 0.003, 0.006, 0.01, 0.015, 0.02]
    assert (sc.defaults.correlation, sc.factor.persistence) == (0.15, 0.8)
    rev, cash = sc.revenue, sc.cash
    assert (rev.monthly, rev.volatility, rev.credit_share) == (1400, 0.1, 0.85)
    assert (cash.opening, cash.monthly_fixed_outflow, cash.variable_cost_ratio) == (2751, 800, 0.35)
    assert sc.simulation.horizon_months == 60 and str(sc.scenario.as_of) == "2024-09-30"


def test_the_reference_computes_the_same_runway_distribution_as_the_engine(bench):
    # P(runway <= 12, 24, 60) agree within Z_FAIL standard errors of two independent estimates
    # (the streams differ but for the first block's Z_0, which only makes the check
    # conservative). The benchmark fixes its own seeds, so this test is not in the slow job.
    n = 16_384
    engine = bench.run_engine(n, 2)
    reference = bench.run_reference(n, 1)
    for months in (12, 24, 60):
        p, q = np.mean(engine <= months), np.mean(reference <= months)
        se = math.sqrt((p * (1 - p) + q * (1 - q)) / n)
        assert 0.02 < p < 0.98 and abs(p - q) <= Z_FAIL * se, (months, p, q, se)


@pytest.mark.parametrize("kind", ["engine", "floor", "reference"])
def test_each_measurement_runs_in_its_own_process(kind):
    cmd = [sys.executable, str(SCRIPT), "--one", kind, "3000", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["kind"] == kind and m["paths"] == 3000
    assert m["wall"] > 0 and m["first_call"] > 0 and m["peak"] > 50 * 2**20
