"""Does a sweep's time scale with its paths? A 21-point sweep of the collection multiplier on the
iFlytek scenario at 20,000 paths a point, against 21 times the engine's time for one point.

Run from the repository root, in the project's environment::

    python benchmarks/bench_sweep.py              # 21 points x 20,000 paths
    python benchmarks/bench_sweep.py --paths 2000

Three figures: the engine on one point (median of 3, in this process, after a warm-up), the
sweep through the library (``open_executor("local")`` and ``PointRunner``, the pool's start
included), and the ``arsim sweep`` command in a fresh process (imports, pool, files and plots
included). A sweep computes the implied rates only when a metric needs them (or
``--analytics``); the last line times that case too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "iflytek_2024q3.toml"
PARAM = "collections.multiplier=0.5:1.5:21"


def _engine_seconds(scenario, paths: int) -> float:
    from simulator.engine import simulate_paths

    simulate_paths(scenario, paths=paths)  # warm-up: the compiled kernel is loaded
    times = []
    for _ in range(3):
        start = time.perf_counter()
        simulate_paths(scenario, paths=paths)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _library_seconds(scenario, paths: int) -> float:
    from simulator import sweep, with_overrides

    base = with_overrides(scenario, {"simulation.paths": paths})
    points = sweep.make_points(base, sweep.grid_design(base, [PARAM]))
    start = time.perf_counter()
    with sweep.open_executor("local") as (executor, slots):
        outcomes = sweep.PointRunner(executor, slots=slots, analytics=False).run(points)
    assert all(o.ok for o in outcomes)
    return time.perf_counter() - start


def _command_seconds(paths: int, work: Path, *extra: str) -> float:
    out = work / f"sweep-{len(list(work.iterdir()))}"
    argv = [sys.executable, "-m", "simulator", "sweep", str(SCENARIO), "--param", PARAM]
    argv += ["--paths", str(paths), "--out", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=20_000, help="paths a point")
    args = parser.parse_args()
    from simulator import load_scenario

    scenario = load_scenario(SCENARIO)
    engine = _engine_seconds(scenario, args.paths)
    n = 21
    print(f"sweep of {PARAM}, {args.paths:,} paths a point, {os.cpu_count()} CPUs")
    print(f"  engine, one point            {engine:6.2f} s   x {n} = {n * engine:6.2f} s")
    library = _library_seconds(scenario, args.paths)
    print(f"  sweep through the library    {library:6.2f} s   {library / (n * engine):.2f}x")
    work = Path(tempfile.mkdtemp(prefix="bench_sweep-"))
    try:
        command = _command_seconds(args.paths, work)
        print(f"  arsim sweep (fresh process)  {command:6.2f} s   {command / (n * engine):.2f}x")
        with_analytics = _command_seconds(args.paths, work, "--analytics")
        print(
            f"  arsim sweep --analytics      {with_analytics:6.2f} s   "
            f"{with_analytics / (n * engine):.2f}x (a run-off of the opening book a point)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
