"""Resource limits (issue 8, part 3): a request that would not fit is refused up front, in one
line with exit 2 and nothing written, and the memory estimate covers what a run allocates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIMAL, SENSETIME, assert_one_line_error

from simulator import engine, load_scenario, resources, simulate, with_overrides
from simulator.cli import main
from simulator.engine import BLOCK_SIZE, estimate_memory
from simulator.resources import ResourceError


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        (["--paths", "1000000000"], "simulation.paths"),  # a billion paths
        (["--paths", str(10**30)], "simulation.paths"),
        (["--paths", "0"], "simulation.paths"),
        (["--set", "simulation.horizon_months=3600"], "simulation.horizon_months"),  # 3 centuries
        (["--set", "simulation.trajectory_paths=100000000"], "simulation.trajectory_paths"),
        (["--set", "simulation.runoff_paths=1e9"], "simulation.runoff_paths"),
        (["--set", "defaults.write_off_after_months=100000"], "defaults.write_off_after_months"),
        (["--set", "buckets.edges_months=[0,12,100000]"], "buckets.edges_months"),
    ],
)
def test_numbers_beyond_validation_are_refused_in_one_line(sets, field, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", str(MINIMAL), *sets, "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, prefix=f"{MINIMAL}: {field}")
    assert not out.exists()


def test_a_trajectory_sample_larger_than_memory_is_refused_up_front(tmp_path, capsys):
    # 1e6 sampled paths × 1201 months × 15 variables: about 140 GB
    sets = [
        "--set", "simulation.trajectory_paths=1000000",
        "--set", "simulation.horizon_months=1200",
        "--set", "buckets.edges_months=[0,6,12,24,36,48]",
        "--set", "buckets.gross=[1.0,1,1,1,1,1]",
        "--set", "buckets.provision_rates=[0.1,0.1,0.1,0.1,0.1,0.1]",
        "--set", "collections.monthly_rate=[0.1,0.1,0.1,0.1,0.1,0.1]",
        "--set", "defaults.monthly_rate=[0.01,0.01,0.01,0.01,0.01,0.01]",
    ]  # fmt: skip
    out = tmp_path / "o"
    assert main(["run", str(MINIMAL), *sets, "--paths", "1000000", "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "GiB of memory", "fewer")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_billion_path_run_on_a_small_machine_is_refused(tmp_path, capsys, monkeypatch):
    """Write-off age 1200 and 1e8 paths: refused on an 8 GiB machine, before any work."""
    monkeypatch.setattr(resources, "machine_memory", lambda: 8 * 2**30)
    sets = ["--set", "defaults.write_off_after_months=1200", "--paths", "100000000"]
    out = tmp_path / "o"
    assert main(["run", str(MINIMAL), *sets, "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "GiB of memory")
    assert not out.exists()
    # the same for a sweep: every point is checked before anything runs
    args = ["sweep", str(MINIMAL), "--param", "collections.multiplier=0.9,1.1", *sets]
    assert main([*args, "--workers", "1", "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "GiB of memory")
    assert not out.exists()
    # and a thousand worker processes are not started on a small machine
    small = ["sweep", str(MINIMAL), "--param", "collections.multiplier=0.9,1.1", "--paths", "100"]
    assert main([*small, "--workers", "100000", "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "--workers")
    assert not out.exists()


def test_simulate_counts_only_the_threads_that_can_run(monkeypatch):
    """A huge --workers does not refuse a small run: only one thread per block is used."""
    sc = with_overrides(load_scenario(MINIMAL), {"simulation.paths": 100})
    res = simulate(sc, workers=10**9)
    assert res.n_paths == 100
    monkeypatch.setattr(resources, "machine_memory", lambda: 2**20)
    with pytest.raises(ResourceError):
        simulate(sc, workers=1)


_PROBE = """
import json, resource, sys
from simulator.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),
      file=sys.stderr)
"""


def _peak_bytes(tmp_path: Path, name: str, sets: list[str]) -> int:
    out = tmp_path / name
    cmd = [sys.executable, "-c", _PROBE, "run", str(MINIMAL), "--workers", "1"]
    proc = subprocess.run(
        [*cmd, *sets, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    doc = json.loads(proc.stderr.strip().splitlines()[-1])
    assert doc["rc"] == 0, proc.stderr
    return doc["maxrss"] * 1024  # kilobytes on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux only")
@pytest.mark.parametrize(
    "sets",
    [
        ["--paths", "1000000", "--set", "simulation.horizon_months=1"],  # many paths
        [  # a large trajectory sample over a long horizon
            "--paths", "5000", "--set", "simulation.trajectory_paths=5000",
            "--set", "simulation.horizon_months=600",
        ],
    ],
    ids=["paths", "trajectory"],
)  # fmt: skip
def test_memory_estimate_covers_what_a_run_allocates(sets, tmp_path):
    """Peak RSS of `arsim run` above a tiny run of the same shape ≤ the engine's estimate."""
    base = _peak_bytes(tmp_path, "tiny", ["--paths", "10", *sets[2:]])
    peak = _peak_bytes(tmp_path, "big", sets)
    overrides = {"simulation.paths": int(sets[1])}
    for item in sets[2:]:
        if "=" in item:
            key, value = item.split("=")
            overrides[key] = int(value)
    sc = with_overrides(load_scenario(MINIMAL), overrides)
    assert peak - base <= estimate_memory(sc, 1), (peak - base, estimate_memory(sc, 1))


def test_no_user_number_allocates_without_bound():
    """Every size that scales memory is capped by validation or counted by the estimate."""
    sc = load_scenario(SENSETIME)
    worst = with_overrides(
        sc,
        {
            "simulation.paths": 100_000_000,
            "simulation.trajectory_paths": 1_000_000,
            "simulation.horizon_months": 1200,
            "defaults.write_off_after_months": 1200,
        },
    )
    need = estimate_memory(worst, 1)
    assert need > 100_000_000 * engine.BYTES_PER_PATH  # the per-path outputs are counted
    assert need > 1_000_000 * 1201 * 15 * 8  # and the trajectory sample
    # one block in flight is bounded by the largest ages and horizon validation allows
    assert engine.block_memory(worst) < 200 * 2**20
    assert engine.block_memory(worst) > BLOCK_SIZE * 8 * 2 * 1201
