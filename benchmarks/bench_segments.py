"""Segments and named debtors benchmark (issue 16, DESIGN 2.12, 2.13): the standard benchmark
book (``bench.toml``) against the same book as 3 segments (same total) and with 50 and 1,000
named debtors, in time per path-month.

    python benchmarks/bench_segments.py               # 16,384 paths, 1 thread, median of 3
    python benchmarks/bench_segments.py --paths 40960 --workers 2 --repeats 5

Targets (issue 16): 3 segments ≤ 3.3× the plain book; 50 debtors add ≤ 25 %; 1,000 debtors are
stated. Each book runs once first (numba's kernel loaded from its cache, or compiled), then
``--repeats`` rounds run every book once in turn (so that a busy machine slows them alike); the
median of each book is reported. Books:

- plain: ``bench.toml`` as it is.
- 3 segments: its gross split 50 / 30 / 20 % into three segments of their own rates (collections
  faster or slower, defaults higher or lower), factor weights 0.8 / 0.5 / 0.2, so each has its
  own factor V and stream (the costly case), billing shares 0.5 / 0.3 / 0.2.
- N debtors: 5 % of the book taken out of the buckets as N equal lumps of ages 0..59 months,
  on their segment's hazards (the engine reuses them), or with their own K-lists, correlation
  and loading (each evaluates its own hazards every month, like one more bucket), or half each.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "bench.toml"

#: (name, ratio to the plain book it must stay within, or None: stated only)
TARGETS = {
    "3 segments": 3.3,
    "50 debtors, segment's": 1.25,
    "50 debtors, own": 1.25,
    "50 debtors, half own": 1.25,
}


def _base() -> dict[str, Any]:
    with SCENARIO.open("rb") as fh:
        return tomllib.load(fh)


def segmented(data: dict[str, Any]) -> dict[str, Any]:
    """The book as 3 segments with the same total gross."""
    data = copy.deepcopy(data)
    gross = data["buckets"].pop("gross")
    c = data["collections"]["monthly_rate"]
    p = data["defaults"]["monthly_rate"]
    specs = [
        ("government", 0.5, 0.8, 0.8, 0.5),
        ("soe", 0.3, 0.5, 1.0, 1.0),
        ("enterprise", 0.2, 0.2, 1.3, 2.0),
    ]
    data["segments"] = [
        {
            "name": name,
            "gross": [g * share for g in gross],
            "billing_share": share,
            "factor_weight": weight,
            "collections": {"monthly_rate": [min(x * speed, 1.0) for x in c]},
            "defaults": {"monthly_rate": [x * risk for x in p]},
        }
        for name, share, weight, speed, risk in specs
    ]
    return data


def with_debtors(
    data: dict[str, Any], n: int, share: float = 0.05, own: float = 0.5
) -> dict[str, Any]:
    """``n`` equal debtors holding ``share`` of the book, taken out of the buckets of their ages."""
    data = copy.deepcopy(data)
    edges = data["buckets"]["edges_months"]
    gross = data["buckets"]["gross"]
    k = len(edges)
    lump = share * sum(gross) / n
    debtors = []
    for j in range(n):
        age = j % 60
        b = max(i for i in range(k) if edges[i] <= age)
        gross[b] -= lump
        d = {"name": f"debtor_{j:04d}", "balance": lump, "age_months": age}
        if (j + 1) * own >= int(j * own) + 1:  # a share ``own`` with hazards of their own
            d["monthly_pay_probability"] = [0.1, 0.05, 0.03, 0.02, 0.01, 0.005]
            d["monthly_default_probability"] = [0.002, 0.004, 0.008, 0.012, 0.02, 0.03]
            d["correlation"] = 0.25
            d["factor_loading"] = 0.8
        debtors.append(d)
    if min(gross) < 0:
        raise ValueError("the debtors hold more than a bucket's gross")
    data["debtors"] = debtors
    return data


def _book(data: dict[str, Any]):
    from simulator.scenario import scenario_from_dict

    return scenario_from_dict(copy.deepcopy(data), source="<bench>")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=16_384)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import numba
    import numpy as np

    import simulator
    from simulator import simulate

    base = _base()
    months = base["simulation"]["horizon_months"]
    books = {
        "plain": base,
        "3 segments": segmented(base),
        "50 debtors, segment's": with_debtors(base, 50, own=0.0),
        "50 debtors, own": with_debtors(base, 50, own=1.0),
        "50 debtors, half own": with_debtors(base, 50, own=0.5),
        "1,000 debtors, half own": with_debtors(base, 1000, own=0.5),
        "3 segments, 50 debtors": with_debtors_in_segments(segmented(base), 50),
    }
    scenarios = {name: _book(data) for name, data in books.items()}
    for sc in scenarios.values():  # warm-up: the kernel loaded (or compiled)
        simulate(sc, paths=min(args.paths, 4096), workers=args.workers)
    times: dict[str, list[float]] = {name: [] for name in books}
    for _ in range(args.repeats):
        for name, sc in scenarios.items():
            start = time.perf_counter()
            simulate(sc, paths=args.paths, workers=args.workers)
            times[name].append(time.perf_counter() - start)

    print(
        f"$ python benchmarks/bench_segments.py --paths {args.paths} --workers {args.workers} "
        f"--repeats {args.repeats}"
    )
    print(
        f"arsim {simulator.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
        f"Python {sys.version.split()[0]}; {args.paths:,} paths x {months} months, "
        f"{args.workers} thread(s), median of {args.repeats} after a warm-up"
    )
    header = f"{'book':<26}{'median s':>10}{'ns/path-month':>15}{'x plain':>9}  target"
    print(header)
    print("-" * len(header))
    plain = statistics.median(times["plain"])
    missed = 0
    for name in books:
        med = statistics.median(times[name])
        ns = med / (args.paths * months) * 1e9
        ratio = med / plain
        target = TARGETS.get(name)
        if name == "plain":
            verdict = "-"
        elif target is None:
            verdict = "stated"
        else:
            ok = ratio <= target
            missed += not ok
            verdict = f"<= {target:.2f}x: {'met' if ok else 'MISSED'}"
        print(f"{name:<26}{med:>10.3f}{ns:>15.1f}{ratio:>9.2f}  {verdict}")
    return 1 if missed else 0


def with_debtors_in_segments(data: dict[str, Any], n: int) -> dict[str, Any]:
    """``n`` debtors spread over the segments (each out of its segment's gross)."""
    data = copy.deepcopy(data)
    segs = data["segments"]
    flat = {"buckets": {**data["buckets"], "gross": [0.0] * len(data["buckets"]["edges_months"])}}
    for seg in segs:
        flat["buckets"]["gross"] = [
            a + b for a, b in zip(flat["buckets"]["gross"], seg["gross"], strict=True)
        ]
    out = with_debtors(flat, n)
    edges = data["buckets"]["edges_months"]
    for j, d in enumerate(out["debtors"]):
        seg = segs[j % len(segs)]
        b = max(i for i in range(len(edges)) if edges[i] <= d["age_months"])
        seg["gross"][b] -= d["balance"]
        d["segment"] = seg["name"]
    data["debtors"] = out["debtors"]
    return data


if __name__ == "__main__":
    sys.exit(main())
