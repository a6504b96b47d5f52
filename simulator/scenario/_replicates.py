"""Parameter replicates (DESIGN 2.14): a table of R sets of hazard parameters, one row each, whose
columns are field paths (3.3). Reading the table, checking it and turning its rows into overrides
that validate like a file."""

from __future__ import annotations

import math
import numbers
import re
from pathlib import Path
from typing import Any

from ._errors import ScenarioError
from ._models import Scenario
from ._paths import check_field_path
from ._validate import with_overrides

__all__ = ["MAX_REPLICATES", "read_replicates", "replicate_rows", "replicates_file"]

MAX_REPLICATES = 10_000
#: The hazard parameters a replicate may set (of the top-level tables or of a segment).
_HAZARD = re.compile(
    r"^(segments\.[A-Za-z_][A-Za-z0-9_]*\.)?"
    r"(collections\.monthly_rate\[\d+\]|collections\.multiplier|collections\.factor_loading"
    r"|defaults\.monthly_rate\[\d+\]|defaults\.correlation)$"
)


def read_replicates(path: str | Path) -> Any:
    """Read a replicates table (``.parquet`` or ``.csv``) as a pandas DataFrame.

    Raises
    ------
    ScenarioError
        ``FILE: -: reason`` when the file is missing, of another kind or unreadable.
    """
    import pandas as pd

    p = Path(path)
    name = str(path)
    if p.suffix.lower() not in (".parquet", ".csv"):
        raise ScenarioError(name, "-", "a replicates table is a .parquet or .csv file")
    if not p.is_file():
        raise ScenarioError(name, "-", "no such file")
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p, comment="#")
        return pd.read_parquet(p)
    except Exception as exc:
        raise ScenarioError(name, "-", f"cannot read the table: {exc}") from None


def replicates_file(scenario: Scenario) -> Path | None:
    """The file ``[uncertainty] replicates`` names, relative to the scenario's file (or to the
    working folder for a scenario built in memory); ``None`` without ``[uncertainty]``.

    Raises
    ------
    ScenarioError
        ``FILE: uncertainty.replicates: reason`` when it is not a ``.parquet`` or ``.csv`` file
        that exists.
    """
    if scenario.uncertainty is None:
        return None
    given = Path(scenario.uncertainty.replicates)
    source = Path(scenario.source)
    path = given if given.is_absolute() or not source.is_file() else source.parent / given
    field = "uncertainty.replicates"
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise ScenarioError(scenario.source, field, f"{given}: not a .parquet or .csv file")
    if not path.is_file():
        raise ScenarioError(scenario.source, field, f"no such file: {path}")
    return path


def _covers(key: str, column: str) -> bool:
    """Whether setting field path ``key`` sets ``column`` (itself, or the list it indexes)."""
    return column == key or column.startswith(key + "[")


def replicate_rows(
    scenario: Scenario, table: Any, source: str, conflicts: dict[str, str] | None = None
) -> list[dict[str, float]]:
    """Check a replicates table against a scenario; return its rows as overrides.

    Parameters
    ----------
    scenario : Scenario
    table : pandas.DataFrame
        One row per replicate; columns are field paths of hazard parameters (DESIGN 2.14).
    source : str
        The table's file (or a name), for messages ``FILE: row N: COLUMN: reason``.
    conflicts : dict, optional
        Field paths something else fixes, with what fixes them (e.g. ``{"collections.multiplier":
        "--set"}``); a column among them is refused. The scenario's ECL overrides always are.

    Returns
    -------
    list of dict
        Field path → value, one mapping per row.

    Raises
    ------
    ScenarioError
        A column that is not a hazard parameter of this scenario, a duplicate column, fewer
        than 2 or more than 10,000 rows, a column also set by ``conflicts`` or an ECL
        scenario, a missing or non-numeric value, or a row whose values
        break the scenario's rules (the first problem).
    """
    columns = [str(c) for c in table.columns]
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise ScenarioError(source, dup, "the column appears twice")
    for col in columns:
        if not _HAZARD.match(col):
            if col.startswith("debtors."):
                reason = "a named debtor's parameters cannot vary by replicate yet"
            else:
                reason = (
                    "not a hazard parameter (collections.monthly_rate[i], "
                    "collections.multiplier, collections.factor_loading, "
                    "defaults.monthly_rate[i] or defaults.correlation, of the book or of a "
                    "segment)"
                )
            raise ScenarioError(source, col, reason)
        check_field_path(col, source)
    fixed = dict(conflicts or {})
    for ecl in scenario.ecl_scenarios or []:
        for key in ecl.overrides:
            fixed.setdefault(key, f"the ECL scenario {ecl.name!r}")
    for col in columns:
        for key, by in fixed.items():
            if _covers(key, col):
                raise ScenarioError(
                    source,
                    col,
                    f"also set by {by} ({key}): a field varies by replicate or is fixed, not both",
                )
    n = len(table)
    if not 2 <= n <= MAX_REPLICATES:
        raise ScenarioError(source, "-", f"needs 2 to {MAX_REPLICATES:,} rows, got {n:,}")
    rows = []
    values = table.to_numpy(dtype=object)
    for i in range(n):
        row = {}
        for col, value in zip(columns, values[i], strict=True):
            where = f"row {i + 1}: {col}"
            if isinstance(value, str):  # a CSV column with a word in it is read as text
                try:
                    value = float(value)
                except ValueError:
                    raise ScenarioError(
                        source, where, f"expected a number, got {value!r}"
                    ) from None
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ScenarioError(source, where, f"expected a number, got {value!r}")
            if not math.isfinite(value):
                raise ScenarioError(source, where, "missing or not finite")
            row[col] = float(value)
        try:
            with_overrides(scenario, row)
        except ScenarioError as exc:
            raise ScenarioError(source, f"row {i + 1}: {exc.field}", exc.reason) from None
        rows.append(row)
    return rows
