"""Data in: calibration from aging history (roll rates and monthly hazards from consecutive
snapshots) and invoice ledgers (DESIGN 6: :func:`read_ledger`, :func:`ledger_exposures`,
:func:`fit_ledger`, :func:`ledger_document`, :func:`synth_ledger`).

Users rarely know monthly collection rates; they know a company's aging tables from successive
reports. The package turns a table of snapshots (one row per date: gross balance per bucket, and
optionally the period's credit sales ``billings`` and ``write_offs``) into

1. **roll rates** (the flow-rate, or migration-rate, method of CECL and IFRS 9 simplified-approach
   matrices). Where the spacing between two snapshots equals the width of bucket ``b`` (and of
   bucket ``b+1``, so that ``b+1`` one period later holds exactly what was in ``b``), the roll
   rate of ``b`` is the share of it found in bucket ``b+1`` one period later,
   ``G_{b+1}(t+1) / G_b(t)``. The roll rate *into the open last bucket* is pooled,
   ``G_{K-1}(t+1) / (G_{K-2}(t) + G_{K-1}(t))``, because the open bucket at ``t+1`` also holds its
   own survivors (the plain ratio would count them as roll-ins and can exceed 1). Per period and
   balance-weighted over the periods (``Σ numerators / Σ denominators``). The historical loss rate
   of bucket ``b`` is the product of the average roll rates from ``b`` onward, the pooled rate
   into the open bucket being the last factor, times the assumed loss rate of the open bucket
   (``terminal_loss``); the open bucket's own loss rate is ``terminal_loss``.
2. **monthly hazards**: the average monthly collection rates ``c_b`` (and default rates ``p_b``
   when write-offs are given) for which the deterministic recursion of DESIGN 2.4 (no factor,
   multiplier 1, no seasonality), started at snapshot ``t`` with each bucket spread evenly over its
   ages (DESIGN 2.1) and fed the period's billings evenly month by month, reproduces the bucket
   totals of snapshot ``t+1``; least squares over all consecutive pairs
   (:func:`scipy.optimize.least_squares`, rates bounded to [0, 1]). Each period's residuals are
   divided by the period's book (the larger of its opening and closing totals), so a growing book
   does not weigh its later years more.
3. **residuals** per snapshot and bucket: how well the fitted model reproduces each snapshot.

What the data determine, and what the package does where they do not:

- The balances see only the total monthly exit rate ``c_b + p_b`` of each bucket. Without a
  ``write_offs`` column the default rates are held at given values (the base scenario's, or 0) and
  ``c_b`` is the exit rate less ``p_b``.
- One write-off total per period cannot fix one default rate per bucket unless the periods' bucket
  mixes differ enough: the default rates are fitted per bucket only when there are at least ``K``
  periods with write-offs and the matrix of the periods' exposures by bucket (columns scaled to
  unit length) has a condition number of at most :data:`PER_BUCKET_MAX_CONDITION`; otherwise one
  scale ``λ`` is fitted on a stated shape (``p_b = λ · shape_b``; the base scenario's default rates,
  or the same rate for every bucket).
- Without a ``billings`` column the balances billed during a period are unknown, so every bucket
  younger than the spacing (lower edge below the number of months between the snapshots; with
  spacing up to the first bucket's width, just the first bucket) is left out of that period's
  residuals.
- With four or more periods each rate gets a 95 % interval by resampling the periods (bootstrap,
  seeded); with fewer, the range of the per-period fits (periods that do not determine every rate
  on their own are left out of the range, and the notes say so).

Nothing here prints or writes files. :func:`read_snapshots` reads the CSV (lines starting with
``#`` are comments); every problem with it is a :class:`SnapshotError` whose text is
``FILE: FIELD: reason``.
"""

from ._calibrate import Calibration, calibrate, scenario_document
from ._fit import BOOTSTRAP_MIN_PERIODS, PER_BUCKET_MAX_CONDITION, HazardFit, fit_hazards
from ._ledger import ledger_from_frames, read_ledger
from ._ledger_age import Exposures, ledger_exposures
from ._ledger_book import LedgerBook, LedgerDebtor, LedgerSegment, ledger_book
from ._ledger_doc import ledger_document, ledger_report, replicates_table
from ._ledger_fit import LEDGER_LEVEL, LedgerFit, fit_ledger
from ._ledger_table import Ledger, LedgerError, Reject, age_months
from ._projection import Projection, project
from ._rollrates import RollRates, roll_rates
from ._snapshot_csv import read_snapshots
from ._snapshot_table import snapshots_from_table
from ._snapshots import SnapshotError, Snapshots, months_between, parse_edges
from ._synth import SyntheticLedger, synth_ledger

__all__ = [
    "BOOTSTRAP_MIN_PERIODS",
    "LEDGER_LEVEL",
    "PER_BUCKET_MAX_CONDITION",
    "Calibration",
    "Exposures",
    "HazardFit",
    "Ledger",
    "LedgerBook",
    "LedgerDebtor",
    "LedgerError",
    "LedgerFit",
    "LedgerSegment",
    "Projection",
    "Reject",
    "RollRates",
    "SnapshotError",
    "Snapshots",
    "SyntheticLedger",
    "age_months",
    "calibrate",
    "fit_hazards",
    "fit_ledger",
    "ledger_book",
    "ledger_document",
    "ledger_exposures",
    "ledger_from_frames",
    "ledger_report",
    "months_between",
    "parse_edges",
    "project",
    "read_ledger",
    "read_snapshots",
    "replicates_table",
    "roll_rates",
    "scenario_document",
    "snapshots_from_table",
    "synth_ledger",
]
