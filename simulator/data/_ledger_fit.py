"""Monthly collection and default rates by bucket from a ledger's exposures (DESIGN 6.3), the
scenario's ``c_b`` and ``p_b`` from them, the collection seasonality, and their bootstrap
intervals (6.4). One fit is one group of invoices (the whole book today; a segment later)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scenario import Scenario
from ._ledger_age import Exposures
from ._ledger_boot import bootstrap_totals, percentile_interval
from ._ledger_invert import calendar_weights, invert_collection_rates

#: Level of the bootstrap intervals.
LEDGER_LEVEL = 0.95


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


@dataclass(frozen=True)
class LedgerFit:
    """Rates fitted to a ledger (DESIGN 6.3, 6.4).

    Attributes
    ----------
    exposures : Exposures
    labels : list of str
    exposure, collected, exposure_p, written_off, credited, open_balance : ndarray, shape (K,)
        Per bucket over the window: exposure for ``ĉ`` (money × months), payments, exposure for
        ``p̂`` (without age ``W − 1``), write-offs (not the policy ones), credit notes and the
        open amount at the pairs' starts.
    raw_c, raw_p : ndarray, shape (K,)
        ``ĉ_b`` and ``p̂_b`` (clipped to [0, 1]; NaN without exposure).
    dilution : ndarray, shape (K,)
        Credit notes per month as a share of the open amount.
    c, p : ndarray, shape (K,)
        The scenario's ``c_b`` (``ĉ_b`` inverted) and ``p_b``; the base's value (or NaN
        without a base) where a bucket has no exposure.
    raw_c_interval, raw_p_interval, c_interval, p_interval : ndarray, shape (K, 2)
        95 % percentile bootstrap intervals (NaN without a bootstrap).
    c_replicates, p_replicates : ndarray, shape (R, K), or None
    by_age : dict
        ``exposure``, ``collected``, ``written_off`` and ``c``, ``p`` per age (the last age
        pools the older ones).
    seasonality : ndarray, shape (12,), or None
        Fitted with ``fit_seasonality``.
    cash_like_share : float or None
        ``1 − σ̂``.
    kept_c, kept_p : list of int
        Buckets without exposure for the collection rate (for the default rate), whose
        ``c_b`` (``p_b``) is the base's.
    bootstrap, seed, time_blocks : int or None
    inversion : dict
        ``beta``, ``rho``, ``multiplier`` and whether a seasonality was used.
    notes : list of str
    """

    exposures: Exposures
    labels: list[str]
    exposure: np.ndarray
    collected: np.ndarray
    exposure_p: np.ndarray
    written_off: np.ndarray
    credited: np.ndarray
    open_balance: np.ndarray
    raw_c: np.ndarray
    raw_p: np.ndarray
    dilution: np.ndarray
    c: np.ndarray
    p: np.ndarray
    raw_c_interval: np.ndarray
    raw_p_interval: np.ndarray
    c_interval: np.ndarray
    p_interval: np.ndarray
    c_replicates: np.ndarray | None
    p_replicates: np.ndarray | None
    by_age: dict[str, np.ndarray]
    seasonality: np.ndarray | None
    cash_like_share: float | None
    kept_c: list[int]
    kept_p: list[int]
    bootstrap: int
    seed: int | None
    time_blocks: int | None
    inversion: dict[str, float | bool]
    base: Scenario | None = None
    notes: list[str] = field(default_factory=list)


def _bucket_totals(ex: Exposures, table: np.ndarray, for_p: bool = False) -> np.ndarray:
    """Per-customer table (N, G, B) summed to buckets (K,)."""
    return table.sum(axis=(0, 2)) @ ex.groups.membership(for_p)


def _by_bucket_pair(ex: Exposures, by_age: np.ndarray) -> np.ndarray:
    """(P, A) by age → (K, P) by bucket, ages at or past ``W`` left out."""
    g = ex.groups
    bucket_of_age = g.bucket[g.of_age(np.arange(g.n_ages))]
    k = len(g.edges)
    out = np.zeros((k, by_age.shape[0]))
    for b in range(k):
        out[b] = by_age[:, bucket_of_age == b].sum(axis=1)
    return out


def fit_ledger(
    exposures: Exposures,
    *,
    base: Scenario | None = None,
    fit_seasonality: bool = False,
    bootstrap: int = 200,
    rng: np.random.Generator | int | None = None,
    time_blocks: bool = False,
) -> LedgerFit:
    """Fit ``c_b``, ``p_b`` (and a seasonality) to a ledger's exposures, with intervals.

    Parameters
    ----------
    exposures : Exposures
        From :func:`ledger_exposures` (with ``time_blocks`` there for a two-way bootstrap).
    base : Scenario, optional
        Its ``β``, ``ρ``, ``m`` and seasonality invert ``ĉ_b`` into ``c_b``; its rates stand in
        for buckets without exposure (mapped by the lower edge of each bucket).
    fit_seasonality : bool, optional
        Fit ``s_c`` from the calendar months of the pairs (needs every calendar month).
    bootstrap : int, optional
        Replicates of the customer bootstrap (0: none).
    rng : numpy.random.Generator, int or None
        The bootstrap's random numbers.
    time_blocks : bool, optional
        Resample the exposures' time blocks too (two-way bootstrap).

    Returns
    -------
    LedgerFit

    Raises
    ------
    ValueError
        If a bucket has no exposure and there is no base, or the seasonality cannot be fitted.
    """
    ex = exposures
    notes: list[str] = []
    k = len(ex.groups.edges)
    seed = rng if isinstance(rng, int) else None
    exposure = _bucket_totals(ex, ex.customer_exposure)
    collected = _bucket_totals(ex, ex.customer_collected)
    exposure_p = _bucket_totals(ex, ex.customer_exposure, for_p=True)
    written_off = _bucket_totals(ex, ex.customer_written_off, for_p=True)
    credited = _by_bucket_pair(ex, ex.credited_by_age).sum(axis=1)
    open_balance = _by_bucket_pair(ex, ex.open_by_age).sum(axis=1)
    raw_c, raw_p = _ratio(collected, exposure), _ratio(written_off, exposure_p)
    for name, r in (("collection", raw_c), ("default", raw_p)):
        out = np.isfinite(r) & ((r < 0) | (r > 1))
        for b in np.flatnonzero(out):
            notes.append(
                f"{ex.labels[b]}: the {name} rate {r[b]:.6g} is outside [0, 1] (reversals); clipped"
            )
    raw_c, raw_p = np.clip(raw_c, 0, 1), np.clip(raw_p, 0, 1)
    by_age = _by_age(ex)
    season = _seasonality(ex, by_age["c"]) if fit_seasonality else None
    col = base.collections if base is not None else None
    beta = col.factor_loading if col is not None else 0.0
    mult = col.multiplier if col is not None else 1.0
    rho = base.defaults.correlation if base is not None else 0.0
    s = (
        season
        if season is not None
        else (np.asarray(col.seasonality) if col is not None and col.seasonality else None)
    )
    weights = calendar_weights(_by_bucket_pair(ex, ex.exposure_by_age), ex.pair_calendar_month)
    kept_c = [b for b in range(k) if not exposure[b] > 0]
    kept_p = [b for b in range(k) if not exposure_p[b] > 0]
    kept = sorted(set(kept_c) | set(kept_p))
    base_c, base_p = _base_rates(base, list(ex.groups.edges))
    if kept and base is None:
        raise ValueError(
            "no exposure in bucket(s) "
            + ", ".join(ex.labels[b] for b in kept)
            + " over the window; give --base to keep its rates there, or other --edges-months"
        )
    p = np.where(np.isfinite(raw_p), raw_p, base_p if base_p is not None else np.nan)
    reps_c = reps_p = None
    raw_c_iv = raw_p_iv = c_iv = p_iv = np.full((k, 2), np.nan)
    if bootstrap > 0:
        e_rep, c_rep, w_rep = bootstrap_totals(
            [ex.customer_exposure, ex.customer_collected, ex.customer_written_off],
            bootstrap,
            rng,
            time_blocks=time_blocks,
        )
        rc = np.clip(_ratio(c_rep @ ex.groups.membership(), e_rep @ ex.groups.membership()), 0, 1)
        mp = ex.groups.membership(True)
        rp = np.clip(_ratio(w_rep @ mp, e_rep @ mp), 0, 1)
        raw_c_iv, raw_p_iv = (
            percentile_interval(rc, LEDGER_LEVEL),
            percentile_interval(rp, LEDGER_LEVEL),
        )
        missing = ~np.isfinite(rc) | ~np.isfinite(rp)
        if missing.any():
            notes.append(
                f"{int(missing.any(axis=1).sum())} of {bootstrap} bootstrap replicates drew no "
                "exposure in some bucket; there they take the point estimate"
            )
        rc = np.where(np.isfinite(rc), rc, raw_c)
        rp = np.where(np.isfinite(rp), rp, p)
        reps_p = rp
    c, reps_c, capped = invert_collection_rates(
        np.nan_to_num(raw_c),
        np.nan_to_num(p),
        weights,
        beta=beta,
        rho=rho,
        multiplier=mult,
        seasonality=s,
        replicates=np.nan_to_num(rc) if bootstrap > 0 else None,
    )
    for b in capped:
        notes.append(
            f"{ex.labels[b]}: ĉ_b = {raw_c[b]:.6g} is more than the model can collect with "
            "these multiplier, seasonality and default rates; c_b = 1"
        )
    assert base_c is not None or not kept
    for b in kept:
        which = []
        if b in kept_c:
            c[b] = base_c[b]
            which.append(f"c_b = {base_c[b]:.6g}")
            if reps_c is not None:
                reps_c[:, b] = base_c[b]
        if b in kept_p:
            p[b] = base_p[b]
            which.append(f"p_b = {base_p[b]:.6g}")
            if reps_p is not None:
                reps_p[:, b] = base_p[b]
        notes.append(
            f"{ex.labels[b]}: no exposure over the window; {' and '.join(which)} kept from the base"
        )
    if reps_c is not None and reps_p is not None:
        c_iv, p_iv = percentile_interval(reps_c), percentile_interval(reps_p)
        c_iv[kept_c] = np.nan
        p_iv[kept_p] = np.nan
    cash = ex.cash_like
    share = cash["paid"] / cash["net_amount"] if cash["net_amount"] > 0 else None
    return LedgerFit(
        exposures=ex,
        labels=list(ex.labels),
        exposure=exposure,
        collected=collected,
        exposure_p=exposure_p,
        written_off=written_off,
        credited=credited,
        open_balance=open_balance,
        raw_c=raw_c,
        raw_p=raw_p,
        dilution=_ratio(credited, open_balance),
        c=c,
        p=p,
        raw_c_interval=raw_c_iv,
        raw_p_interval=raw_p_iv,
        c_interval=c_iv,
        p_interval=p_iv,
        c_replicates=reps_c,
        p_replicates=reps_p,
        by_age=by_age,
        seasonality=season,
        cash_like_share=None if share is None else float(np.clip(share, 0.0, 1.0)),
        kept_c=kept_c,
        kept_p=kept_p,
        bootstrap=int(bootstrap),
        seed=seed,
        time_blocks=ex.time_blocks if time_blocks else None,
        inversion={
            "beta": float(beta),
            "rho": float(rho),
            "multiplier": float(mult),
            "seasonality": s is not None,
        },
        base=base,
        notes=notes,
    )


def _by_age(ex: Exposures) -> dict[str, np.ndarray]:
    e = ex.exposure_by_age.sum(axis=0)
    col = ex.collected_by_age.sum(axis=0)
    wo = ex.written_off_by_age.sum(axis=0)
    return {
        "exposure": e,
        "collected": col,
        "written_off": wo,
        "c": _ratio(col, e),
        "p": _ratio(wo, e),
    }


def _seasonality(ex: Exposures, c_by_age: np.ndarray) -> np.ndarray:
    """``s_c = Σ C_k / Σ_k Σ_a E_{a,k} ĉ_a`` over the pairs ending in calendar month ``c``."""
    months = ex.pair_calendar_month
    missing = sorted(set(range(1, 13)) - set(months.tolist()))
    if missing:
        raise ValueError(
            f"--fit-seasonality needs every calendar month in the window; {len(missing)} are "
            f"missing (the window has {ex.n_pairs} month-end pairs)"
        )
    keep = ex.groups.bucket[ex.groups.of_age(np.arange(ex.groups.n_ages))] >= 0
    predicted = (ex.exposure_by_age[:, keep] * np.nan_to_num(c_by_age[keep])).sum(axis=1)
    actual = ex.collected_by_age[:, keep].sum(axis=1)
    s = np.ones(12)
    for m in range(12):
        sel = months == m + 1
        den = predicted[sel].sum()
        s[m] = actual[sel].sum() / den if den > 0 else 1.0
    return s


def _base_rates(
    base: Scenario | None, edges: list[int]
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """The base's ``c_b`` and ``p_b`` on these edges: each bucket takes the base bucket that
    holds its lower edge."""
    if base is None:
        return None, None
    be = np.asarray(base.buckets.edges_months)
    idx = np.searchsorted(be, np.asarray(edges), side="right") - 1
    return (
        np.asarray(base.collections.monthly_rate, dtype=float)[idx],
        np.asarray(base.defaults.monthly_rate, dtype=float)[idx],
    )
