"""What parameter replicates cost (DESIGN 2.14: the mixture run at most 1.2× a plain run of the
same paths): ``arsim run`` on the iFlytek scenario at its own paths, plain and with a table of
200 replicates, then the parts in process: the plain simulation with its summary, the mixture
run alone (the run with replicates without its second, plain run for the point estimate),
:func:`simulator.analytic.implied_rates_over_replicates` and the compile of the replicates.
Every figure is the median of fresh processes, so that nothing is remembered between them
(e.g. the solved α of :func:`simulator.hazards.solve_alpha`).

Run from the repository root, in the project's environment::

    python benchmarks/bench_replicates.py             # median of 3, 200 replicates
    python benchmarks/bench_replicates.py --repeat 5 --replicates 1000

The table draws each bucket's collection and default rate around the scenario's (lognormal,
sd 0.1 and 0.2 of the log), from a fixed seed: R distinct rows, as from a bootstrap.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "iflytek_2024q3.toml"

#: Timed in a fresh process after the imports; prints {"seconds": ...}.
_IN_PROCESS = """
import functools, json, sys, time
from simulator import load_scenario, simulate
from simulator.analytic import implied_rates_over_replicates
from simulator.api import _rows
from simulator.engine import simulate_paths
from simulator.params import compile_params
from simulator.provisioning import analyse

what, reps = sys.argv[1], sys.argv[2]
sc = load_scenario({scenario!r})
rows = _rows(sc, reps)
start = time.perf_counter()
if what == "plain":
    simulate(sc).summary()
elif what == "mixture":
    run = simulate_paths(
        sc, replicates=rows, analytics=functools.partial(analyse, replicates=rows)
    )
    run.summary()
elif what == "implied":
    implied_rates_over_replicates(sc, rows)
elif what == "compile":
    compile_params(sc, rows)
print(json.dumps({{"seconds": time.perf_counter() - start}}))
"""


def write_table(path: Path, n_rows: int, seed: int = 20240930) -> Path:
    """A replicates CSV of ``n_rows`` rows around the scenario's rates."""
    from simulator import load_scenario

    sc = load_scenario(SCENARIO)
    rng = np.random.default_rng(seed)
    cols = {}
    for i, c in enumerate(sc.collections.monthly_rate):
        cols[f"collections.monthly_rate[{i}]"] = np.minimum(
            c * np.exp(rng.normal(0.0, 0.1, n_rows)), 0.99
        )
    for i, p in enumerate(sc.defaults.monthly_rate):
        cols[f"defaults.monthly_rate[{i}]"] = p * np.exp(rng.normal(0.0, 0.2, n_rows))
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


def _arsim() -> list[str]:
    found = shutil.which("arsim", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "simulator"]


def _wall(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def _in_process(what: str, table: Path, cwd: Path) -> float:
    code = _IN_PROCESS.format(scenario=str(SCENARIO))
    done = subprocess.run(
        [sys.executable, "-c", code, what, str(table)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="processes per figure (median)")
    parser.add_argument("--replicates", type=int, default=200, help="rows of the table (200)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_replicates-"))
    try:
        table = write_table(work / "reps.csv", args.replicates)
        arsim = [*_arsim(), "run", str(SCENARIO), "--json"]
        _wall([*arsim, "--out", str(work / "warm")], work)  # the kernel's numba cache
        runs = {"run plain": [], "run replicates": ["--replicates", str(table)]}
        times: dict[str, list[float]] = {}
        for i in range(args.repeat):  # interleaved: the machine's load moves both alike
            for name, extra in runs.items():
                argv = [*arsim, *extra, "--out", str(work / f"{name[4:]}{i}")]
                times.setdefault(name, []).append(_wall(argv, work))
            for what in ("plain", "mixture", "implied", "compile"):
                times.setdefault(what, []).append(_in_process(what, table, work))
        median = {name: statistics.median(values) for name, values in times.items()}
        print(
            f"{SCENARIO.name}, its own paths, {args.replicates} replicates; "
            f"median of {args.repeat} fresh processes, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(f"  arsim run, plain                        {median['run plain']:7.2f} s")
        print(
            f"  arsim run --replicates                  {median['run replicates']:7.2f} s   "
            f"ratio {median['run replicates'] / median['run plain']:.2f} (with the second, "
            "plain run for the point estimate)"
        )
        print("  in process, after the imports:")
        print(f"    simulate(), summary                   {median['plain']:7.2f} s")
        print(
            f"    mixture run, summary                  {median['mixture']:7.2f} s   "
            f"ratio {median['mixture'] / median['plain']:.2f} (target <= 1.2)"
        )
        print(f"    implied_rates_over_replicates         {median['implied']:7.2f} s")
        print(f"    compile_params(scenario, rows)        {median['compile']:7.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
