"""Exact answers the simulation must agree with, implied provision rates and their inverse, and
absorbing chains (DESIGN 2.8).

- :func:`expected_trajectory`, :func:`expected_collection_hazard`: exact expectations when months
  are independent.
- :func:`lifetime_loss`, :func:`implied_rates`, :func:`runoff_implied_rates`: the probability
  that a unit of the opening book is never collected, and the model-implied provision rate of
  each bucket, exact or by run-off simulation.
- :func:`book_implied_rates`: the same for a book of segments and named debtors, per segment
  and per debtor (DESIGN 2.12, 2.13); :func:`debtor_probabilities`: the debtors' exact
  survival, default and payment probabilities.
- :func:`calibrate_default_rates`: the default rates that make the implied rates equal a
  disclosed matrix.
- :func:`absorbing_chain`, :func:`chain_from_scenario`: absorbing Markov chains of receivables.
"""

from ._book import (
    MAX_RUNOFF_MONTHS,
    RUNOFF_BLOCK,
    RUNOFF_STREAM,
    RUNOFF_TOL,
    ImpliedRates,
    exact_rates_available,
)
from ._chains import COLLECTED, LOST, AbsorbingChain, absorbing_chain, chain_from_scenario
from ._debtors import DebtorProbabilities, debtor_probabilities
from ._exact import lifetime_loss
from ._expected import expected_collection_hazard, expected_trajectory
from ._inverse import DEFAULT_MAX_DEFAULT_RATE, STATUSES, Calibration, calibrate_default_rates
from ._mixture import book_implied_over_replicates, implied_rates_over_replicates
from ._runoff import implied_rates, runoff_implied_rates
from ._segments import BookImplied, book_implied_rates

__all__ = [
    "COLLECTED",
    "DEFAULT_MAX_DEFAULT_RATE",
    "LOST",
    "MAX_RUNOFF_MONTHS",
    "RUNOFF_BLOCK",
    "RUNOFF_STREAM",
    "RUNOFF_TOL",
    "STATUSES",
    "AbsorbingChain",
    "BookImplied",
    "Calibration",
    "DebtorProbabilities",
    "ImpliedRates",
    "absorbing_chain",
    "book_implied_over_replicates",
    "book_implied_rates",
    "calibrate_default_rates",
    "chain_from_scenario",
    "debtor_probabilities",
    "exact_rates_available",
    "expected_collection_hazard",
    "expected_trajectory",
    "implied_rates",
    "implied_rates_over_replicates",
    "lifetime_loss",
    "runoff_implied_rates",
]
