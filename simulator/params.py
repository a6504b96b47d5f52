"""A validated scenario as the plain numbers and arrays the kernel needs (compiled once per run),
and the monthly variables every path tracks, with the row each one has in the kernel."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from .aging import AgingGrid
from .hazards import calendar_months, solve_alpha
from .scenario import (
    BookDebtor,
    BookSegment,
    Scenario,
    book_debtors,
    book_segments,
    with_overrides,
)

__all__ = [
    "GROSS_ROW",
    "MONTHLY_VARS",
    "ROW_ALLOWANCE",
    "ROW_CASH",
    "ROW_CHARGE",
    "ROW_COLLECTIONS",
    "ROW_CREDIT_LOSS",
    "ROW_DEFAULTS",
    "ROW_GROSS",
    "ROW_REVENUE",
    "ROW_WRITE_OFFS",
    "DebtorParams",
    "ModelParams",
    "ReplicateParams",
    "SegmentParams",
    "compile_params",
    "n_monthly_values",
    "stream_key",
]

#: Monthly variables tracked for every path, in the order of their rows in the kernel;
#: gross by bucket follows them, bucket ``b`` at row ``GROSS_ROW + b``.
MONTHLY_VARS = (
    "cash",
    "gross",
    "allowance",
    "collections",
    "credit_loss",
    "defaults",
    "write_offs",
    "charge",
    "revenue",
)
#: Rows of the monthly variables among a path's monthly values (the kernel's rows).
ROW_CASH = MONTHLY_VARS.index("cash")
ROW_GROSS = MONTHLY_VARS.index("gross")
ROW_ALLOWANCE = MONTHLY_VARS.index("allowance")
ROW_COLLECTIONS = MONTHLY_VARS.index("collections")
ROW_CREDIT_LOSS = MONTHLY_VARS.index("credit_loss")
ROW_DEFAULTS = MONTHLY_VARS.index("defaults")
ROW_WRITE_OFFS = MONTHLY_VARS.index("write_offs")
ROW_CHARGE = MONTHLY_VARS.index("charge")
ROW_REVENUE = MONTHLY_VARS.index("revenue")
#: The stream of the replicates' permutation (DESIGN 2.14).
REPLICATE_STREAM = 5
#: Row of the first bucket's gross balance among the monthly values.
GROSS_ROW = len(MONTHLY_VARS)


def n_monthly_values(n_buckets: int, n_segment_rows: int = 0) -> int:
    """Number of monthly values per path: the variables, gross by bucket, then (with
    ``[[segments]]``) gross by segment."""
    return GROSS_ROW + n_buckets + n_segment_rows


def stream_key(name: str) -> int:
    """The key of a segment's or debtor's random stream (DESIGN 2.10): the first 16 bytes of
    the SHA-256 of its name, read as one big-endian integer."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:16], "big")


@dataclass(frozen=True)
class SegmentParams:
    """One segment's book as the kernel needs it (the implicit one of a plain scenario too)."""

    name: str
    explicit: bool  # has a factor V of its own and its own keys in the outputs
    n_ages: int
    slices: tuple[tuple[int, int], ...]
    write_off: bool
    opening_by_age: np.ndarray  # (A,)
    opening_gross: np.ndarray  # (K,) summed from opening_by_age
    provision_rates: np.ndarray  # (K,)
    collection_rate: np.ndarray  # c_b (K,)
    alpha: np.ndarray  # (K,)
    beta: float
    default_rate: np.ndarray  # p_b (K,)
    rho: float
    collection_scale: np.ndarray  # m · m_s · s_cal(t), (H,)
    season: np.ndarray  # s_cal(t), (H,)
    multiplier: float  # m · m_s
    billing_share: float
    factor_weight: float
    stream: int  # stream_key(name)


@dataclass(frozen=True)
class DebtorParams:
    """The named debtors, one row each (J rows; J = 0 for a book without them)."""

    names: tuple[str, ...]
    segment: np.ndarray  # (J,) index into ModelParams.segments
    balance: np.ndarray  # (J,)
    age0: np.ndarray  # (J,) age at as_of, months
    provision_rate: np.ndarray  # (J,) individually assessed rate, NaN: the matrix
    own: np.ndarray  # (J,) bool: hazards of its own, not its segment's
    pay: np.ndarray  # (J, K) π_j by bucket of the lump's age
    alpha: np.ndarray  # (J, K)
    default: np.ndarray  # (J, K) p_j
    rho: np.ndarray  # (J,)
    beta: np.ndarray  # (J,)
    streams: tuple[int, ...]
    bucket: np.ndarray  # (J, H+1) bucket of the lump's age at month t's end (t = 0: at as_of)
    rate: np.ndarray  # (J, H+1) its provision rate then (its own, or its segment's matrix)
    write_off_month: np.ndarray  # (J,) the month it reaches its segment's write-off age, or 0

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class ReplicateParams:
    """Parameter replicates (DESIGN 2.14): R sets of the segments' hazard parameters.

    Path ``n`` (its index in the run) takes replicate ``perm[n mod R]``. Arrays are (R, S, K)
    or (R, S); ``rho_mode`` and ``beta_mode`` are 0 when every replicate's ``rho`` / ``beta``
    is 0, 1 when none is, 2 when mixed.
    """

    perm: np.ndarray
    default_rate: np.ndarray
    threshold: np.ndarray
    loading: np.ndarray
    rho: np.ndarray
    rho_zero: np.ndarray
    alpha: np.ndarray
    collection_rate: np.ndarray
    beta: np.ndarray
    multiplier: np.ndarray
    rho_mode: int
    beta_mode: int

    @property
    def n(self) -> int:
        """Number of replicates R."""
        return len(self.perm)


def _mode(zero: np.ndarray) -> int:
    return 0 if zero.all() else 1 if not zero.any() else 2


def replicate_params(rows: list[ModelParams], seed: int) -> ReplicateParams:
    """The hazard parameters of compiled replicate scenarios, stacked (one per row).

    ``perm`` is ``Generator(PCG64(SeedSequence(seed, spawn_key=(5,)))).permutation(R)``:
    a balanced assignment of paths to replicates that draws from no block's stream.
    """
    segs = [row.segments for row in rows]
    rho = np.array([[sg.rho for sg in row] for row in segs])
    beta = np.array([[sg.beta for sg in row] for row in segs])
    p = np.array([[sg.default_rate for sg in row] for row in segs])
    with np.errstate(divide="ignore"):
        threshold = special.ndtri(p) / np.sqrt(1.0 - rho)[:, :, None]
    sequence = np.random.SeedSequence(seed, spawn_key=(REPLICATE_STREAM,))
    return ReplicateParams(
        perm=np.random.Generator(np.random.PCG64(sequence)).permutation(len(rows)),
        default_rate=p,
        threshold=threshold,
        loading=np.sqrt(rho / (1.0 - rho)),
        rho=rho,
        rho_zero=rho == 0.0,
        alpha=np.array([[sg.alpha for sg in row] for row in segs]),
        collection_rate=np.array([[sg.collection_rate for sg in row] for row in segs]),
        beta=beta,
        multiplier=np.array([[sg.multiplier for sg in row] for row in segs]),
        rho_mode=_mode(rho == 0.0),
        beta_mode=_mode(beta == 0.0),
    )


@dataclass(frozen=True)
class ModelParams:
    """Everything the kernel needs, as plain numbers and arrays (picklable, no scenario).

    A book is one or more segments (:class:`SegmentParams`) and, optionally, named debtors;
    for a book of one segment the segment's fields read as the book's (``prm.n_ages``, …).
    """

    horizon: int
    segments: tuple[SegmentParams, ...]
    debtors: DebtorParams
    phi: float
    revenue_base: np.ndarray  # R_0 (1+g)^((t-1)/12) q_cal(t), (H,)
    credit_billings: np.ndarray  # B_t (H,) when realized billings replace sigma Rev_t, else (0,)
    volatility: float
    kappa: float
    credit_share: float
    variable_cost_ratio: float
    fixed_outflow: np.ndarray  # F_t, (H,)
    other_inflow: float
    cash_opening: float
    cash_floor: float
    replicates: ReplicateParams | None = None

    @property
    def n_buckets(self) -> int:
        """Number of buckets K (shared by every segment)."""
        return len(self.segments[0].slices)

    @property
    def explicit_segments(self) -> bool:
        """Whether the scenario has ``[[segments]]`` (their keys appear in the outputs)."""
        return self.segments[0].explicit

    @property
    def n_segment_rows(self) -> int:
        """Rows of gross by segment among the monthly values (0 without ``[[segments]]``)."""
        return len(self.segments) if self.explicit_segments else 0

    @property
    def only(self) -> SegmentParams:
        """The one segment of a book that has one."""
        if len(self.segments) != 1:
            raise ValueError("this book has several segments: read them from .segments")
        return self.segments[0]

    n_ages = property(lambda self: self.only.n_ages)
    slices = property(lambda self: self.only.slices)
    write_off = property(lambda self: self.only.write_off)
    opening_by_age = property(lambda self: self.only.opening_by_age)
    opening_gross = property(lambda self: self.only.opening_gross)
    provision_rates = property(lambda self: self.only.provision_rates)
    collection_rate = property(lambda self: self.only.collection_rate)
    alpha = property(lambda self: self.only.alpha)
    beta = property(lambda self: self.only.beta)
    default_rate = property(lambda self: self.only.default_rate)
    rho = property(lambda self: self.only.rho)
    collection_scale = property(lambda self: self.only.collection_scale)


def _segment_params(seg: BookSegment, edges: list[int], cal: np.ndarray) -> SegmentParams:
    grid = AgingGrid(edges, seg.write_off_after_months)
    opening = grid.opening(seg.gross, seg.opening_by_age)
    s = np.asarray(seg.seasonality if seg.seasonality else [1.0] * 12)[cal]
    c = np.asarray(seg.collection_rate, dtype=float)
    return SegmentParams(
        name=seg.name,
        explicit=seg.explicit,
        n_ages=grid.n_ages,
        slices=tuple((sl.start, sl.stop) for sl in grid.slices),
        write_off=seg.write_off_after_months is not None,
        opening_by_age=opening,
        opening_gross=grid.aggregate(opening),
        provision_rates=np.asarray(seg.provision_rates, dtype=float),
        collection_rate=c,
        alpha=solve_alpha(c, seg.factor_loading),
        beta=float(seg.factor_loading),
        default_rate=np.asarray(seg.default_rate, dtype=float),
        rho=float(seg.correlation),
        collection_scale=seg.multiplier * s,
        season=s,
        multiplier=float(seg.multiplier),
        billing_share=float(seg.billing_share),
        factor_weight=float(seg.factor_weight),
        stream=stream_key(seg.name),
    )


def _debtor_params(
    debtors: list[BookDebtor], segments: tuple[SegmentParams, ...], k: int, horizon: int
) -> DebtorParams:
    alphas = [solve_alpha(np.asarray(d.pay_probability), d.factor_loading) for d in debtors]
    n = len(debtors)
    bucket = np.zeros((n, horizon + 1), dtype=np.int64)
    rate = np.zeros((n, horizon + 1))
    wo_month = np.zeros(n, dtype=np.int64)
    for j, dbt in enumerate(debtors):
        seg = segments[dbt.segment]
        lows = np.array([lo for lo, _ in seg.slices])
        ages = dbt.age_months + np.arange(horizon + 1)
        bucket[j] = np.searchsorted(lows, ages, side="right") - 1
        own_rate = dbt.provision_rate
        rate[j] = seg.provision_rates[bucket[j]] if own_rate is None else own_rate
        if seg.write_off:
            wo_month[j] = seg.n_ages - dbt.age_months  # the lump reaches age W
    return DebtorParams(
        names=tuple(d.name for d in debtors),
        segment=np.array([d.segment for d in debtors], dtype=np.int64),
        balance=np.array([d.balance for d in debtors], dtype=float),
        age0=np.array([d.age_months for d in debtors], dtype=np.int64),
        provision_rate=np.array(
            [math.nan if d.provision_rate is None else d.provision_rate for d in debtors]
        ),
        own=np.array([d.own for d in debtors], dtype=bool),
        pay=np.array([d.pay_probability for d in debtors], dtype=float).reshape(-1, k),
        alpha=np.array(alphas, dtype=float).reshape(-1, k),
        default=np.array([d.default_probability for d in debtors], dtype=float).reshape(-1, k),
        rho=np.array([d.correlation for d in debtors], dtype=float),
        beta=np.array([d.factor_loading for d in debtors], dtype=float),
        streams=tuple(stream_key(d.name) for d in debtors),
        bucket=bucket,
        rate=rate,
        write_off_month=wo_month,
    )


def compile_params(
    scenario: Scenario, replicates: list[dict[str, float]] | None = None
) -> ModelParams:
    """Turn a validated scenario into the arrays the kernel uses.

    Parameters
    ----------
    scenario : Scenario
    replicates : list of dict, optional
        Parameter replicates (DESIGN 2.14) as checked overrides, one per row
        (:func:`simulator.scenario.replicate_rows`); rows that are equal are compiled once.

    Returns
    -------
    ModelParams
    """
    if replicates:
        keys = [tuple(sorted(row.items())) for row in replicates]
        distinct: dict[tuple, Scenario] = {}
        for key, row in zip(keys, replicates, strict=True):
            if key not in distinct:
                distinct[key] = with_overrides(scenario, row)
        # every row's alpha in one call, so that many take the compiled integrand
        from ._integrand import compiled_integrand

        segs = [seg for sc in distinct.values() for seg in book_segments(sc)]
        solve_alpha(
            [seg.collection_rate for seg in segs],
            [seg.factor_loading for seg in segs],
            compiled=compiled_integrand,
        )
        compiled = {key: compile_params(sc) for key, sc in distinct.items()}
        rows = [compiled[key] for key in keys]
        plain = compile_params(scenario)
        reps = replicate_params(rows, scenario.simulation.seed)
        return dataclasses.replace(plain, replicates=reps)
    rev, cash = scenario.revenue, scenario.cash
    horizon = scenario.simulation.horizon_months
    as_of_month = scenario.scenario.as_of.month if scenario.scenario.as_of else None
    cal = calendar_months(as_of_month, horizon) - 1
    t = np.arange(1, horizon + 1)
    q = np.asarray(rev.seasonality if rev.seasonality else [1.0] * 12)[cal]
    edges = list(scenario.buckets.edges_months)
    segments = tuple(_segment_params(seg, edges, cal) for seg in book_segments(scenario))
    return ModelParams(
        horizon=horizon,
        segments=segments,
        debtors=_debtor_params(book_debtors(scenario), segments, len(edges), horizon),
        phi=float(scenario.factor.persistence),
        revenue_base=rev.monthly * (1.0 + rev.annual_growth) ** ((t - 1) / 12.0) * q,
        credit_billings=np.asarray(rev.credit_billings or [], dtype=float),
        volatility=float(rev.volatility),
        kappa=float(rev.factor_correlation),
        credit_share=float(rev.credit_share),
        variable_cost_ratio=float(cash.variable_cost_ratio),
        fixed_outflow=cash.monthly_fixed_outflow
        * (1.0 + cash.fixed_outflow_growth) ** ((t - 1) / 12.0),
        other_inflow=float(cash.other_monthly_inflow),
        cash_opening=float(cash.opening),
        cash_floor=float(cash.floor),
    )
