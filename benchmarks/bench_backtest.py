"""How fast a backtest runs (DESIGN 7): 12 rolling origins, 12-month horizon, on 1,000,000
synthetic invoices (``synth_ledger``, 10,000 customers × 100 months of iFlytek's scenario with
higher default rates, as ``benchmarks/bench_ledger.py`` makes them), with the scenario as the base
(its factor loading, correlation and seasonality). The ledger is written as Parquet (not timed);
a fresh process then prints the wall time of reading it, of the backtest (per origin: the fit on
the data up to the origin, the simulation of 4,096 paths and the naive forecast; and the realized
series once), of the plots and the folder, and its peak memory.

Run from the repository root, in the project's environment::

    python benchmarks/bench_backtest.py
    python benchmarks/bench_backtest.py --customers 2000 --months 60 --origins 6
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_ledger import _peak_mib, _scenario  # noqa: E402


def write_file(folder: Path, customers: int, months: int) -> Path:
    from simulator.data import synth_ledger

    t0 = time.perf_counter()
    synth = synth_ledger(_scenario(), customers, months, seed=1)
    path = folder / "ledger.parquet"
    synth.typed().to_parquet(path, index=False)
    print(
        f"{len(synth.invoices):,} invoices of {customers:,} customers over {months} months "
        f"written in {time.perf_counter() - t0:.1f} s (not timed below)"
    )
    return path


def measure(path: Path, origins: int, horizon: int, paths: int) -> None:
    """The backtest in this process: the phases' wall times and the peak memory."""
    from simulator.backtest import BacktestOptions, backtest, backtest_figures
    from simulator.data import read_ledger
    from simulator.scenario import scenario_toml
    from simulator.storage import write_backtest

    base = _scenario()
    t0 = time.perf_counter()
    ledger = read_ledger(path)
    t1 = time.perf_counter()
    opts = BacktestOptions(base=base, paths=paths)
    bt = backtest(ledger, horizon=horizon, rolling=origins, options=opts)
    t2 = time.perf_counter()
    figures = backtest_figures(bt)
    with tempfile.TemporaryDirectory(prefix="bench_backtest-") as tmp:
        write_backtest(
            Path(tmp) / "bt",
            document=bt.document(),
            tables={"metrics": bt.metrics, "forecasts": bt.forecasts},
            figures=figures,
            texts={f"scenarios/{k}.toml": scenario_toml(s) for k, s in bt.scenarios.items()},
        )
    t3 = time.perf_counter()
    m = bt.metric
    print(
        f"  read {t1 - t0:5.2f} s   backtest of {len(bt.origins)} origins {t2 - t1:6.2f} s "
        f"({(t2 - t1) / len(bt.origins):.2f} s an origin)   plots and folder {t3 - t2:5.2f} s   "
        f"= {t3 - t0:6.2f} s   peak {_peak_mib():,.0f} MiB"
    )
    print(
        f"  origins {bt.origins[0]['origin']} … {bt.origins[-1]['origin']}, data to "
        f"{bt.info['data_end']}: monthly collections WAPE {100 * m('collections', 'wape'):.1f} %, "
        f"90 % coverage {100 * m('collections', 'coverage_90'):.0f} %, skill "
        f"{m('collections', 'skill'):+.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=100)
    parser.add_argument("--origins", type=int, default=12)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--paths", type=int, default=4096)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure(Path(args.one), args.origins, args.horizon, args.paths)
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {' '.join(sys.argv)}   ({os.cpu_count()} CPUs, load average {load:.1f}, "
        f"{dt.date.today()})"
    )
    with tempfile.TemporaryDirectory(prefix="bench_backtest-") as tmp:
        path = write_file(Path(tmp), args.customers, args.months)
        subprocess.run(
            [sys.executable, __file__, "--one", str(path), "--origins", str(args.origins),
             "--horizon", str(args.horizon), "--paths", str(args.paths)],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
