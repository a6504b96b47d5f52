"""How fast the command line answers: the wall time of ``arsim --help``, ``python -m simulator
--help``, ``arsim validate`` and ``arsim run`` on the iFlytek scenario, each the median of fresh
processes, with the simulation's own time beside the run (``wall_seconds`` of its summary).

Run from the repository root, in the project's environment::

    python benchmarks/bench_cli.py            # median of 5 processes each
    python benchmarks/bench_cli.py --repeat 9

The first ``arsim run`` after installing compiles the kernel (a few seconds); a warm-up run
is made first and not counted, as for every later run on the machine.
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

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "iflytek_2024q3.toml"


def _arsim() -> list[str]:
    found = shutil.which("arsim", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "simulator"]


def _timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="processes per command (median)")
    args = parser.parse_args()
    arsim = _arsim()
    work = Path(tempfile.mkdtemp(prefix="bench_cli-"))
    try:
        _timed([*arsim, "run", str(SCENARIO), "--out", str(work / "warm"), "--json"], work)
        cases = {
            "arsim --help": [*arsim, "--help"],
            "python -m simulator --help": [sys.executable, "-m", "simulator", "--help"],
            "arsim validate": [*arsim, "validate", str(SCENARIO)],
        }
        print(f"median of {args.repeat} fresh processes, {os.cpu_count()} CPUs")
        for name, argv in cases.items():
            walls = [_timed(argv, work)[0] for _ in range(args.repeat)]
            print(f"  {name:<28} {statistics.median(walls):6.2f} s")
        walls, sims = [], []
        for i in range(args.repeat):
            argv = [*arsim, "run", str(SCENARIO), "--out", str(work / f"run{i}"), "--json"]
            wall, out = _timed(argv, work)
            walls.append(wall)
            sims.append(json.loads(out)["wall_seconds"])
        wall, sim = statistics.median(walls), statistics.median(sims)
        print(
            f"  {'arsim run ' + SCENARIO.name:<28} {wall:6.2f} s   simulation {sim:.2f} s, "
            f"the rest {wall - sim:.2f} s (imports, implied rates, plots, files)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
