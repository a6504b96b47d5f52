"""How fast a ledger is read, aged and fitted (DESIGN 6.5): 1,000,000 synthetic invoices
(``synth_ledger``, 10,000 customers × 100 months of ``benchmarks/bench.toml``-like rates) as CSV,
Parquet and (with ``--xlsx``) Excel; each format in a fresh process, which prints the wall time of
reading, of ageing (exposures by pair, age and customer), of the fit (with the scenario as the
base: its factor loading, correlation and seasonality invert ĉ_b), and of 200 bootstrap
replicates (each inverted too), and its peak memory.

Run from the repository root, in the project's environment::

    python benchmarks/bench_ledger.py                 # CSV and Parquet, 1,000,000 invoices
    python benchmarks/bench_ledger.py --xlsx          # Excel too (slow to write and to read)
    python benchmarks/bench_ledger.py --customers 2000 --months 50

The targets (DESIGN 6.5): read, aged and fitted in ≤ 10 s on 2 cores; 200 replicates in ≤ 10 s
more. Writing the files is not timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGES = [0, 6, 12, 24, 36, 48]


def _scenario():
    from simulator import load_scenario, with_overrides

    sc = load_scenario(ROOT / "scenarios" / "iflytek_2024q3.toml")
    return with_overrides(
        sc, {"defaults.monthly_rate": [0.0005, 0.001, 0.002, 0.004, 0.008, 0.012]}
    )


def write_files(folder: Path, customers: int, months: int, xlsx: bool) -> list[Path]:
    from simulator.data import synth_ledger

    t0 = time.perf_counter()
    synth = synth_ledger(_scenario(), customers, months, seed=1)
    frame = synth.invoices
    paths = [folder / "ledger.csv", folder / "ledger.parquet"]
    frame.to_csv(paths[0], index=False)
    typed = synth.typed()  # dates and numbers, as Parquet and spreadsheets hold them
    typed.to_parquet(paths[1], index=False)
    if xlsx:
        paths.append(folder / "ledger.xlsx")
        typed.to_excel(paths[2], index=False, engine="openpyxl")
    print(
        f"{len(frame):,} invoices of {customers:,} customers over {months} months written in "
        f"{time.perf_counter() - t0:.1f} s (not timed below)"
    )
    return paths


def _peak_mib() -> float:
    """This process's peak resident memory. On Linux VmHWM (``ru_maxrss`` would carry the
    parent's peak over the exec), elsewhere ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, bootstrap: int) -> None:
    """One format, in this process: the phases' wall times and the peak memory."""
    from simulator.data import fit_ledger, ledger_exposures, read_ledger

    base = _scenario()  # its β, ρ and seasonality invert ĉ_b; it fills buckets without exposure
    as_of = base.scenario.as_of
    t0 = time.perf_counter()
    ledger = read_ledger(path)
    t1 = time.perf_counter()
    ex = ledger_exposures(ledger, as_of=as_of, edges_months=EDGES)
    t2 = time.perf_counter()
    fit_ledger(ex, base=base, bootstrap=0)
    t3 = time.perf_counter()
    fit = fit_ledger(ex, base=base, bootstrap=bootstrap, rng=0)
    t4 = time.perf_counter()
    boot = (t4 - t3) - (t3 - t2)
    peak = _peak_mib()
    print(
        f"  {path.suffix[1:]:<8} read {t1 - t0:5.2f} s  age {t2 - t1:5.2f} s  fit {t3 - t2:5.2f} s"
        f"  = {t3 - t0:5.2f} s   {bootstrap} replicates {boot:5.2f} s   peak {peak:,.0f} MiB"
        f"   (ĉ_0 = {fit.raw_c[0]:.4f} [{fit.raw_c_interval[0, 0]:.4f}, "
        f"{fit.raw_c_interval[0, 1]:.4f}])"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--xlsx", action="store_true", help="Excel too")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure(Path(args.one), args.bootstrap)
        return
    print(f"python {' '.join(sys.argv)}   ({os.cpu_count()} CPUs, {dt.date.today()})")
    with tempfile.TemporaryDirectory(prefix="bench_ledger-") as tmp:
        for path in write_files(Path(tmp), args.customers, args.months, args.xlsx):
            subprocess.run(
                [sys.executable, __file__, "--one", str(path), "--bootstrap", str(args.bootstrap)],
                check=True,
            )


if __name__ == "__main__":
    main()
