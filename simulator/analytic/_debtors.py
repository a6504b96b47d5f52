"""Exact survival and default probabilities of the named debtors (DESIGN 2.13).

When a debtor's months are independent (``phi = 0``, or its ``beta_j = rho_j = 0``) its hazards
factorise: with ``d̄_t = p_j(a)`` and ``h̄_t = E[min(m · m_s · s_cal(t) · logistic(α_j(a) −
β_j Y), 1 − d(Y))]`` (2.8, on the same ``Y`` as ``d``) for the lump's age ``a = age_months + t −
1``, ``P(open after t) = Π_{u≤t} (1 − d̄_u − h̄_u)``, ``P(default in month t) = P(open after
t − 1) · d̄_t`` and ``P(paid in month t) = P(open after t − 1) · h̄_t``; with a write-off age the
lump still open at the end of month ``t_W = W − age_months`` is written off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import compile_params
from ..scenario import Scenario
from ._expected import expected_collection_hazard

__all__ = ["DebtorProbabilities", "debtor_probabilities"]


@dataclass(frozen=True)
class DebtorProbabilities:
    """Exact outcome probabilities of each named debtor over the horizon ``H``.

    Attributes
    ----------
    names : tuple of str
    balance : ndarray, shape (J,)
    open_after : ndarray, shape (J, H + 1)
        ``P(open after t)`` for ``t = 0..H`` (1 at ``t = 0``; 0 once written off).
    default_by_month, paid_by_month : ndarray, shape (J, H)
        ``P(default in month t)``, ``P(paid in full in month t)``, ``t = 1..H``.
    written_off : ndarray, shape (J,)
        ``P(written off within H)``.
    """

    names: tuple[str, ...]
    balance: np.ndarray
    open_after: np.ndarray
    default_by_month: np.ndarray
    paid_by_month: np.ndarray
    written_off: np.ndarray

    @property
    def p_default(self) -> np.ndarray:
        """``P(default within H)``."""
        return self.default_by_month.sum(axis=1)

    @property
    def p_loss(self) -> np.ndarray:
        """``P(default or write-off within H)``."""
        return self.p_default + self.written_off

    @property
    def p_paid_horizon(self) -> np.ndarray:
        """``P(paid in full within H)``."""
        return self.paid_by_month.sum(axis=1)

    def p_paid_by(self, months: int) -> np.ndarray:
        """``P(paid in full within the first months)`` (``months ≤ H``)."""
        if not 0 <= months <= self.paid_by_month.shape[1]:
            raise ValueError(f"months must be 0..{self.paid_by_month.shape[1]}, got {months}")
        return self.paid_by_month[:, :months].sum(axis=1)

    @property
    def loss_mean(self) -> np.ndarray:
        """Expected credit loss within H, ``B_j · P(loss)`` (money)."""
        return self.balance * self.p_loss


def debtor_probabilities(scenario: Scenario) -> DebtorProbabilities:
    """Exact outcome probabilities of the named debtors over the horizon (DESIGN 2.13).

    Parameters
    ----------
    scenario : Scenario
        With ``factor.persistence = 0``, or with every debtor's ``factor_loading`` and
        ``correlation`` 0.

    Returns
    -------
    DebtorProbabilities
        Empty (J = 0) for a scenario without ``[[debtors]]``.

    Raises
    ------
    ValueError
        If the factor is persistent and drives some debtor's hazards.
    """
    prm = compile_params(scenario)
    dbt, H = prm.debtors, prm.horizon
    J = len(dbt)
    open_after = np.ones((J, H + 1))
    default = np.zeros((J, H))
    paid = np.zeros((J, H))
    written = np.zeros(J)
    for j in range(J):
        beta, rho = float(dbt.beta[j]), float(dbt.rho[j])
        if prm.phi > 0.0 and (beta != 0.0 or rho != 0.0):
            raise ValueError(
                f"{scenario.source}: debtors.{dbt.names[j]}: its probabilities are exact only "
                "with factor.persistence = 0, or factor_loading = 0 and correlation = 0"
            )
        seg = prm.segments[int(dbt.segment[j])]
        cache: dict[tuple[int, float], float] = {}
        survive = 1.0
        for t in range(1, H + 1):
            b = int(dbt.bucket[j, t - 1])  # the bucket of the lump's age during month t
            scale = float(seg.collection_scale[t - 1])
            if (b, scale) not in cache:
                cache[(b, scale)] = expected_collection_hazard(
                    float(dbt.pay[j, b]), float(dbt.alpha[j, b]), beta, scale,
                    float(dbt.default[j, b]), rho,
                )  # fmt: skip
            d = float(dbt.default[j, b])
            h = cache[(b, scale)]
            default[j, t - 1] = survive * d
            paid[j, t - 1] = survive * h
            survive *= max(1.0 - d - h, 0.0)
            if t == dbt.write_off_month[j]:
                written[j], survive = survive, 0.0
            open_after[j, t] = survive
    return DebtorProbabilities(
        names=dbt.names,
        balance=dbt.balance.copy(),
        open_after=open_after,
        default_by_month=default,
        paid_by_month=paid,
        written_off=written,
    )
