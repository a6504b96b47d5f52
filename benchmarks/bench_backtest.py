"""How fast a backtest runs (DESIGN 7): 12 rolling origins, 12-month horizon, on 1,000,000
synthetic invoices (``synth_ledger``, 10,000 customers × 100 months of iFlytek's scenario with
higher default rates, as ``benchmarks/bench_ledger.py`` makes them), with the scenario as the base
(its factor loading, correlation and seasonality). The ledger is written as Parquet (not timed);
a fresh process then prints the wall time of each stage: reading it, the realized series (once),
the fits on the data up to each origin, the forecasts (per origin 4,096 paths of the fitted
scenario, and with ``--parameter-risk`` again with the bootstrap as replicates, and the naive
forecast), the scoring, the plots and writing the folder; then the total and the peak memory
(VmHWM).

Run from the repository root, in the project's environment::

    python benchmarks/bench_backtest.py                       # --rolling 12 --horizon 12
    python benchmarks/bench_backtest.py --customers 2000 --months 60 --origins 6
    python benchmarks/bench_backtest.py --parameter-risk --bootstrap 200
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


def measure(
    path: Path, origins: int, horizon: int, paths: int, parameter_risk: bool, bootstrap: int
) -> None:
    """The backtest in this process: each stage's wall time and the peak memory."""
    from simulator.backtest import BacktestOptions, backtest, backtest_figures
    from simulator.data import read_ledger
    from simulator.scenario import scenario_toml
    from simulator.storage import write_backtest

    base = _scenario()
    t0 = time.perf_counter()
    ledger = read_ledger(path)
    t1 = time.perf_counter()
    opts = BacktestOptions(
        base=base, paths=paths, parameter_risk=parameter_risk, bootstrap=bootstrap
    )
    bt = backtest(ledger, horizon=horizon, rolling=origins, options=opts)
    t2 = time.perf_counter()
    figures = backtest_figures(bt)
    t3 = time.perf_counter()
    texts = {f"scenarios/{k}.toml": scenario_toml(s) for k, s in bt.scenarios.items()}
    texts |= {f"replicates/{k}.csv": r.to_csv(index=False) for k, r in bt.replicates.items()}
    with tempfile.TemporaryDirectory(prefix="bench_backtest-") as tmp:
        write_backtest(
            Path(tmp) / "bt",
            document=bt.document(),
            tables={
                "metrics": bt.metrics,
                "forecasts": bt.forecasts,
                "realized": bt.realized.table(),
            },
            figures=figures,
            texts=texts,
        )
    t4 = time.perf_counter()
    s = bt.info["seconds"]
    n = len(bt.origins)
    other = (t2 - t1) - sum(s.values())
    stages = [
        ("reading the ledger", t1 - t0),
        ("realized series", s["realized"]),
        (f"fits ({n} origins)", s["fits"]),
        (f"forecasts ({n} origins × {' + '.join(bt.variants)} + naive)", s["forecasts"]),
        ("scoring and metrics", s["scoring"]),
        ("origins, data end, the rest", other),
        ("plots (the figures built)", t3 - t2),
        ("writing the folder (PNGs rendered here)", t4 - t3),
    ]
    for name, sec in stages:
        print(f"  {name:<48}{sec:8.2f} s")
    print(f"  {'total':<48}{t4 - t0:8.2f} s   peak RSS {_peak_mib():,.0f} MiB")
    m = bt.metric
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
    parser.add_argument("--parameter-risk", action="store_true")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure(
            Path(args.one),
            args.origins,
            args.horizon,
            args.paths,
            args.parameter_risk,
            args.bootstrap,
        )
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {' '.join(sys.argv)}   ({os.cpu_count()} CPUs, load average {load:.1f}, "
        f"{dt.date.today()})"
    )
    with tempfile.TemporaryDirectory(prefix="bench_backtest-") as tmp:
        path = write_file(Path(tmp), args.customers, args.months)
        extra = (
            ["--parameter-risk", "--bootstrap", str(args.bootstrap)] if args.parameter_risk else []
        )
        subprocess.run(
            [sys.executable, __file__, "--one", str(path), "--origins", str(args.origins),
             "--horizon", str(args.horizon), "--paths", str(args.paths), *extra],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
