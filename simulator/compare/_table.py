"""Two runs side by side: every summary key of A and B, the difference B − A and its standard
error, paired over the paths when both runs hold the same number of paths (DESIGN 3)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._format import finite
from .._util import json_ready
from ..adequacy import unresolved_note
from ..storage import StoredRun
from ..sweep import flatten_summary, metric_label, se_name
from ._inputs import input_differences

__all__ = ["PER_PATH_KEYS", "RUN_FACTS", "Comparison", "compare_runs"]

#: Summary means whose per-path column is in ``paths.parquet`` (the result's ``per_path`` name).
PER_PATH_KEYS = {
    "credit_loss_mean": "credit_loss",
    "collections_mean": "collections",
    "cash_end_mean": "cash_end",
    "min_cash_mean": "min_cash",
    "provision_charge_mean": "charge",
}
#: Summary keys that describe a run rather than measure it: compared as facts, with no SE.
RUN_FACTS = {"seed", "paths", "horizon_months", "wall_seconds", "engine_version", "unit"}
_RUNWAY = re.compile(r"p_runway_le_(\d+|horizon)")


def _is_se(key: str) -> bool:
    return key.endswith(("_se", "_bound95")) or "_se." in key


def _is_fact(key: str, values: list[Any]) -> bool:
    if key in RUN_FACTS or key == "ecl_scenarios":  # null without [[ecl_scenarios]]
        return True
    if key.startswith(("implied_runoff.", "implied_stranded_buckets")):
        return True
    return any(v is not None and (isinstance(v, bool) or not finite(v)) for v in values)


def _kind(key: str, scenario: Any) -> str:
    kind = metric_label(key, scenario)[2]
    if kind in ("probability", "share") or key.startswith("allowance_coverage"):
        return "pct"
    return kind if kind in ("money", "months") else "num"


def _per_path(run: StoredRun, key: str) -> tuple[np.ndarray, int] | None:
    """The per-path values whose mean is ``key``, and the ddof of its SE (0 for a proportion,
    as ``sqrt(p(1 − p)/n)``; 1 for a mean); ``None`` when no column holds them."""
    r = run.result
    if key in PER_PATH_KEYS:
        return np.asarray(r.per_path[PER_PATH_KEYS[key]], dtype=float), 1
    m = _RUNWAY.fullmatch(key)
    if m:
        k = r.horizon if m[1] == "horizon" else int(m[1])
        if k <= r.horizon:
            return (np.asarray(r.per_path["runway"]) <= k).astype(float), 0
    return None


def _paired_se(a: StoredRun, b: StoredRun, key: str) -> float | None:
    xa, xb = _per_path(a, key), _per_path(b, key)
    if xa is None or xb is None:
        return None
    d = xb[0] - xa[0]
    return float(math.sqrt(np.var(d, ddof=xa[1]) / len(d))) if len(d) > 1 else None


def _run_info(run: StoredRun, label: str) -> dict[str, Any]:
    s, m = run.summary, run.manifest
    return {
        "label": label,
        "folder": str(run.folder),
        "name": ((s.get("scenario") or {}).get("scenario") or {}).get("name"),
        "scenario_file": m.get("scenario_file"),
        "overrides": m.get("overrides") or {},
        "paths": run.result.n_paths,
        "seed": s.get("seed"),
        "horizon_months": run.result.horizon,
        "unit": s.get("unit"),
        "created": m.get("created"),
    }


@dataclass(frozen=True)
class Comparison:
    """Run B against run A (:func:`compare_runs`).

    Attributes
    ----------
    a, b : dict
        What each run is: folder, scenario name and file, overrides, paths, seed, horizon.
    paired : bool
        Whether the paths are paired (both runs hold the same number of paths).
    pairing : str
        The pairing in words.
    rows : list of dict
        One per summary metric, in the summary's order: ``key``, ``label``, ``kind`` (``pct``,
        ``money``, ``months`` or ``num``), ``a``, ``b``, ``diff`` (B − A), ``se`` (the SE of
        the difference: ``se_paired`` when there is one, else ``se_independent``),
        ``se_paired``, ``se_independent`` (``sqrt(se_a² + se_b²)``), ``paired``, ``se_a``,
        ``se_b``, ``bound_a``, ``bound_b`` (rule-of-three bounds, when a run has one).
    facts : list of dict
        The summary keys that describe a run (seed, paths, method, …): ``key``, ``a``, ``b``.
    inputs : list of dict
        The inputs that differ: ``field``, ``a``, ``b`` (:func:`input_differences`).
    notes : dict
        For ``a`` and ``b``: the part of the implied lifetime loss that is never resolved
        (:func:`simulator.adequacy.unresolved_note`), or ``None``.
    runs : (StoredRun, StoredRun)
        The two runs (for the plots).
    """

    a: dict[str, Any]
    b: dict[str, Any]
    paired: bool
    pairing: str
    rows: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    notes: dict[str, str | None]
    runs: tuple[StoredRun, StoredRun] = field(repr=False, compare=False)

    def row(self, key: str) -> dict[str, Any]:
        """The row of one summary key."""
        for r in self.rows:
            if r["key"] == key:
                return r
        raise KeyError(key)

    def doc(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (what ``arsim compare --json`` prints)."""
        return json_ready(
            {
                "a": self.a,
                "b": self.b,
                "paired": self.paired,
                "pairing": self.pairing,
                "inputs_differ": self.inputs,
                "metrics": self.rows,
                "facts": self.facts,
                "notes": self.notes,
            }
        )

    def table(self) -> pd.DataFrame:
        """The metric rows as a DataFrame (one row per summary key)."""
        return pd.DataFrame(self.rows)


def _pairing(a: StoredRun, b: StoredRun) -> tuple[bool, str]:
    na, nb = a.result.n_paths, b.result.n_paths
    if na != nb or na < 2:
        return False, (
            f"independent: the runs hold {na:,} and {nb:,} paths, so the SE of B − A is "
            "sqrt(SE_A² + SE_B²)"
        )
    same = a.result.seed == b.result.seed
    why = (
        "the same seed, so common random numbers: the paired SE is smaller where the runs move "
        "together"
        if same
        else "different seeds, so the pairs are independent and the paired SE is about the "
        "independent one"
    )
    return True, (
        f"paired: both runs hold {na:,} paths ({why}). A key with a per-path column gets the SE "
        "of the per-path differences; the others get sqrt(SE_A² + SE_B²), and quantiles none"
    )


def compare_runs(a: StoredRun, b: StoredRun) -> Comparison:
    """Run B against run A: every summary key, its difference and the SE of the difference.

    Paths are paired whenever both runs hold the same number of paths: path n of A and path n of
    B form a pair, pairs are independent across n, so the SE of the mean difference is
    ``sqrt(var(x_B − x_A) / n)`` over the per-path columns (runway indicators for
    ``p_runway_le_*``, with the proportions' ``n`` in the variance; the totals of
    ``paths.parquet`` for the means, with ``n − 1``). Keys without a per-path column in both get
    the independent SE ``sqrt(se_A² + se_B²)``; quantiles have no SE.

    Parameters
    ----------
    a, b : StoredRun
        The runs (:func:`simulator.storage.read_run`): A the base, B the stress.

    Returns
    -------
    Comparison
    """
    fa, fb = flatten_summary(a.summary), flatten_summary(b.summary)
    paired, pairing = _pairing(a, b)
    scenario = a.result.scenario
    rows, facts = [], []
    for key in [*fa, *(k for k in fb if k not in fa)]:
        if _is_se(key):
            continue
        va, vb = fa.get(key), fb.get(key)
        if _is_fact(key, [va, vb]):
            facts.append({"key": key, "a": va, "b": vb})
            continue
        sa, sb = se_name(key, fa), se_name(key, fb)
        se_a = fa.get(sa) if sa else None
        se_b = fb.get(sb) if sb else None
        both = finite(va) and finite(vb)
        se_ind = math.hypot(se_a, se_b) if both and finite(se_a) and finite(se_b) else None
        se_pair = _paired_se(a, b, key) if both and paired else None
        rows.append(
            {
                "key": key,
                "label": metric_label(key, scenario)[0],
                "kind": _kind(key, scenario),
                "a": va,
                "b": vb,
                "diff": vb - va if both else None,
                "se": se_pair if se_pair is not None else se_ind,
                "se_paired": se_pair,
                "se_independent": se_ind,
                "paired": se_pair is not None,
                "se_a": se_a,
                "se_b": se_b,
                "bound_a": fa.get(f"{key}_bound95"),
                "bound_b": fb.get(f"{key}_bound95"),
            }
        )
    notes = {
        side: unresolved_note(run.summary, list(run.summary.get("disclosed_rates") or {}))
        for side, run in (("a", a), ("b", b))
    }
    return Comparison(
        a=_run_info(a, "A"),
        b=_run_info(b, "B"),
        paired=paired,
        pairing=pairing,
        rows=rows,
        facts=facts,
        inputs=input_differences(a.summary.get("scenario") or {}, b.summary.get("scenario") or {}),
        notes=notes,
        runs=(a, b),
    )
