"""Scenario files: the TOML format of a receivables book, validated into pydantic models.

A scenario is loaded with :func:`load_scenario` (or built from a mapping with
:func:`scenario_from_dict`) and changed with :func:`with_overrides`. Every problem is reported as
one :class:`ScenarioError` whose text is ``FILE: FIELD: reason``. When a file has several problems
the first one in this order is reported: unknown keys, missing required keys, wrong types,
out-of-range values, rules that involve several fields.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_field_path",
    "scenario_from_dict",
    "with_overrides",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
MONEY_LIMIT = 1e12

# Strict scalar types: a boolean or a string is never a number; an integer is accepted as a float.
Num = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Rate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]
Money = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MONEY_LIMIT, le=MONEY_LIMIT)]
NonNegMoney = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=MONEY_LIMIT)]
Growth = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=-1.0, le=10.0)]
Seasonality = Annotated[
    list[Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1e6)]],
    Field(min_length=12, max_length=12),
]


class ScenarioError(ValueError):
    """A problem with a scenario, reported as ``FILE: FIELD: reason`` on one line.

    Parameters
    ----------
    file : str
        The scenario file (or ``<scenario>`` for one built in memory).
    field : str
        The dotted field path, e.g. ``collections.monthly_rate[2]``; ``-`` for the whole file.
    reason : str
        What is wrong, in words a user understands.
    """

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScenarioMeta(_Section):
    """``[scenario]``: what the scenario is and where its numbers come from."""

    name: str = "Unnamed scenario"
    currency: str = ""
    unit: str = ""
    as_of: dt.date | None = None
    description: str = ""
    sources: list[str] = []


class Buckets(_Section):
    """``[buckets]``: the aging grid, the opening book and the disclosed provision matrix."""

    edges_months: list[Annotated[int, Field(strict=True)]]
    labels: list[str] | None = None
    gross: list[Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MONEY_LIMIT)]]
    provision_rates: list[Rate]

    @field_validator("edges_months")
    @classmethod
    def _edges_rule(cls, edges: list[int]) -> list[int]:
        if not edges:
            raise PydanticCustomError("rule", "must list at least one edge (0)")
        if edges[0] != 0:
            raise PydanticCustomError(
                "rule", "the first edge must be 0, got {got}", {"got": edges[0]}
            )
        for i in range(1, len(edges)):
            if edges[i] <= edges[i - 1]:
                raise PydanticCustomError(
                    "rule",
                    "edges must increase strictly, got {a} after {b}",
                    {"a": edges[i], "b": edges[i - 1]},
                )
        if edges[-1] > 600:
            raise PydanticCustomError(
                "rule", "the last edge must be ≤ 600, got {got}", {"got": edges[-1]}
            )
        return edges


class Collections(_Section):
    """``[collections]``: average monthly collection rates ``c_b`` and how they move."""

    monthly_rate: list[Rate]
    multiplier: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=100.0)] = 1.0
    factor_loading: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=10.0)] = 0.0
    seasonality: Seasonality | None = None


class Defaults(_Section):
    """``[defaults]``: average monthly default rates ``p_b``, correlation, write-off age."""

    monthly_rate: list[Rate]
    correlation: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=1.0)] = 0.0
    write_off_after_months: Annotated[int, Field(strict=True, le=1200)] | None = None


class Factor(_Section):
    """``[factor]``: the common economic factor (AR(1) persistence ``phi``)."""

    persistence: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)] = 0.0


class Revenue(_Section):
    """``[revenue]``: monthly revenue, its growth, volatility and the share billed on credit."""

    monthly: NonNegMoney = 0.0
    annual_growth: Growth = 0.0
    volatility: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=2.0)] = 0.0
    factor_correlation: Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=-1.0, le=1.0)
    ] = 0.0
    credit_share: Rate = 1.0
    seasonality: Seasonality | None = None


class Cash(_Section):
    """``[cash]``: opening cash, outflows, the floor that defines the runway."""

    opening: Money
    monthly_fixed_outflow: NonNegMoney = 0.0
    fixed_outflow_growth: Growth = 0.0
    variable_cost_ratio: Annotated[
        float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=10.0)
    ] = 0.0
    floor: Money = 0.0
    other_monthly_inflow: Money = 0.0


class Simulation(_Section):
    """``[simulation]``: Monte Carlo size, horizon and seed."""

    paths: Annotated[int, Field(strict=True, ge=1, le=100_000_000)] = 100_000
    horizon_months: Annotated[int, Field(strict=True, ge=1, le=1200)] = 60
    seed: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] = 0
    trajectory_paths: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] = 10_000
    runoff_paths: Annotated[int, Field(strict=True, ge=1, le=10_000_000)] = 10_000


class EclScenario(_Section):
    """One ``[[ecl_scenarios]]`` entry: a named, weighted set of overrides."""

    name: str
    weight: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0)]
    overrides: dict[str, Any] = {}


class Scenario(_Section):
    """A validated scenario file (DESIGN 3.1).

    Build one with :func:`load_scenario` or :func:`scenario_from_dict`; change one with
    :func:`with_overrides`. Instances are immutable.
    """

    scenario: ScenarioMeta = ScenarioMeta()
    buckets: Buckets
    collections: Collections
    defaults: Defaults
    factor: Factor = Factor()
    revenue: Revenue = Revenue()
    cash: Cash
    simulation: Simulation = Simulation()
    sweep: dict[str, Any] | None = None
    ecl_scenarios: list[EclScenario] | None = None

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def source(self) -> str:
        """The file this scenario was read from (``<scenario>`` if built in memory)."""
        return self._source

    @property
    def labels(self) -> list[str]:
        """Bucket labels: as given, or made from the edges (``0-6m``, ``6m-1y``, …, ``4y+``)."""
        if self.buckets.labels is not None:
            return list(self.buckets.labels)
        return default_labels(self.buckets.edges_months)

    @property
    def n_buckets(self) -> int:
        """Number of aging buckets ``K``."""
        return len(self.buckets.edges_months)

    @property
    def money_unit(self) -> str:
        """The unit of money, e.g. ``CNY million`` (empty if the file does not say)."""
        return " ".join(p for p in (self.scenario.currency, self.scenario.unit) if p)


def _months_text(m: int) -> str:
    if m == 0:
        return "0"
    if m % 12 == 0:
        return f"{m // 12}y"
    if m > 12:
        return f"{m // 12}y{m % 12}m"
    return f"{m}m"


def default_labels(edges: list[int]) -> list[str]:
    """Bucket labels made from the lower edges in months, e.g. ``['0-6m', '6m-1y', '1y+']``."""
    labels = []
    for i, lo in enumerate(edges):
        if i + 1 < len(edges):
            hi = edges[i + 1]
            lo_txt = _months_text(lo)
            hi_txt = _months_text(hi)
            if lo == 0 and hi_txt.endswith("m") and "y" not in hi_txt:
                labels.append(f"0-{hi_txt}")
            else:
                labels.append(f"{lo_txt}-{hi_txt}")
        else:
            labels.append(f"{_months_text(lo)}+")
    return labels


# --------------------------------------------------------------------------------------------
# Error reporting

_TYPE_WORDS = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "list_type": "a list",
    "date_type": "a TOML date such as 2024-06-30",
    "model_type": "a table",
    "dict_type": "a table",
    "bool_type": "true or false",
}
_RANGE_TYPES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be ≤ {le}",
    "too_short": "must have {min_length} items",
    "too_long": "must have {max_length} items",
    "finite_number": "must be a finite number",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def _fmt_number(x: Any) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    if not isinstance(x, float):
        return str(x)
    short = f"{x:g}"
    return short if float(short) == x else repr(x)  # 1.0000000001 is not shown as 1


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "-"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last element of ``loc``."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        ann = field.annotation
        model = _inner_model(ann)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _rank_and_reason(err: dict[str, Any]) -> tuple[int, str]:
    kind, loc, value = err["type"], err["loc"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc)
        choices = list(model.model_fields) if model else []
        return 0, "unknown key" + _did_you_mean(str(loc[-1]), choices)
    if kind == "missing":
        model = _model_at(loc)
        field = model.model_fields.get(loc[-1]) if model else None
        is_table = field is not None and _inner_model(field.annotation) is not None
        return 1, "required table is missing" if is_table else "required key is missing"
    if kind == "rule":
        return 3, err["msg"]
    if kind in _TYPE_WORDS:
        return 2, f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
    if kind in _RANGE_TYPES:
        limits = {k: _fmt_number(v) for k, v in ctx.items()}
        text = _RANGE_TYPES[kind].format(**limits)
        if kind not in ("too_short", "too_long"):
            text += f", got {_fmt_number(value)}"
        else:
            text += f", got {len(value)}"
        return 3, text
    return 2, err.get("msg", "invalid value")


def _first_error(exc: ValidationError, file: str) -> ScenarioError:
    ranked = []
    for i, err in enumerate(exc.errors()):
        rank, reason = _rank_and_reason(err)
        ranked.append((rank, i, _loc_text(err["loc"]), reason))
    rank, _, field, reason = min(ranked)
    return ScenarioError(file, field, reason)


# --------------------------------------------------------------------------------------------
# Field paths and overrides

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse_field_path(path: str) -> list[str | int]:
    """Split ``"collections.monthly_rate[2]"`` into ``["collections", "monthly_rate", 2]``.

    Raises
    ------
    ValueError
        If the text is not a dotted path of names with optional ``[index]`` parts.
    """
    parts: list[str | int] = []
    for chunk in path.split("."):
        m = _PATH_PART.fullmatch(chunk)
        if not m:
            raise ValueError(f"not a field path like 'collections.monthly_rate[2]': {path!r}")
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


_NOT_OVERRIDABLE = {"sweep", "ecl_scenarios"}


def check_field_path(path: str, source: str = "<scenario>") -> list[str | int]:
    """Check that ``path`` names a real scalar or list field of a scenario; return its parts.

    Raises
    ------
    ScenarioError
        If the path is malformed or names no field.
    """
    try:
        parts = parse_field_path(path)
    except ValueError as exc:
        raise ScenarioError(source, path, str(exc)) from None
    names = [p for p in parts if isinstance(p, str)]
    sections = [s for s in Scenario.model_fields if s not in _NOT_OVERRIDABLE]
    if names and names[0] not in sections:
        raise ScenarioError(source, path, "unknown section" + _did_you_mean(names[0], sections))
    if len(names) != 2 or not isinstance(parts[0], str):
        raise ScenarioError(source, path, "expected SECTION.FIELD, e.g. collections.multiplier")
    section, field = names
    model = _inner_model(Scenario.model_fields[section].annotation)
    assert model is not None
    if field not in model.model_fields:
        raise ScenarioError(
            source, path, "unknown field" + _did_you_mean(field, list(model.model_fields))
        )
    if parts[1] != field:
        raise ScenarioError(source, path, "an index goes after the field name")
    if len(parts) > 3:
        raise ScenarioError(source, path, "only one [index] is supported")
    return parts


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """Return a new scenario with some fields replaced, validated like a file.

    Parameters
    ----------
    scenario : Scenario
        The scenario to start from; it is not modified.
    overrides : dict
        Maps a field path to its new value, e.g. ``{"collections.multiplier": 0.8,
        "collections.monthly_rate[2]": 0.03}``.

    Returns
    -------
    Scenario
        The changed scenario.

    Raises
    ------
    ScenarioError
        If a path names no field, an index is out of range, or the result is invalid.
    """
    raw = scenario.model_dump(mode="python")
    source = scenario.source
    for path, value in overrides.items():
        parts = check_field_path(path, source)
        section, field = parts[0], parts[1]
        table = raw.setdefault(section, {})
        if len(parts) == 3:
            index = parts[2]
            current = table.get(field)
            if not isinstance(current, list):
                raise ScenarioError(source, path, f"{section}.{field} is not set, so has no items")
            if not 0 <= int(index) < len(current):
                raise ScenarioError(
                    source, path, f"index out of range: the list has {len(current)} items"
                )
            current = list(current)
            current[int(index)] = value
            table[field] = current
        else:
            table[field] = copy.deepcopy(value)
    return scenario_from_dict(raw, source=source)


# --------------------------------------------------------------------------------------------
# Cross-field rules


def _cross_field_checks(sc: Scenario, file: str) -> None:
    b = sc.buckets
    edges = b.edges_months
    k = len(edges)
    per_bucket = {
        "buckets.gross": b.gross,
        "buckets.provision_rates": b.provision_rates,
        "buckets.labels": b.labels,
        "collections.monthly_rate": sc.collections.monthly_rate,
        "defaults.monthly_rate": sc.defaults.monthly_rate,
    }
    for name, values in per_bucket.items():
        if values is not None and len(values) != k:
            raise ScenarioError(
                file, name, f"must have one value per bucket ({k}), got {len(values)}"
            )
    if b.labels is not None and len(set(b.labels)) != k:
        raise ScenarioError(file, "buckets.labels", "labels must be different from each other")
    w = sc.defaults.write_off_after_months
    if w is not None and w <= edges[-1]:
        raise ScenarioError(
            file,
            "defaults.write_off_after_months",
            f"must be greater than the last bucket edge ({edges[-1]}), got {w}",
        )
    for name, seas in (
        ("collections.seasonality", sc.collections.seasonality),
        ("revenue.seasonality", sc.revenue.seasonality),
    ):
        if seas is not None and sc.scenario.as_of is None:
            raise ScenarioError(
                file, name, "a seasonality needs scenario.as_of to know the calendar month"
            )
    if sc.sweep is not None:
        for key, spec in sc.sweep.items():
            try:
                check_field_path(key, file)
            except ScenarioError as exc:
                raise ScenarioError(file, f"sweep.{key}", exc.reason) from None
            ok = isinstance(spec, str) or (
                isinstance(spec, list)
                and spec
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in spec)
            )
            if not ok:
                raise ScenarioError(
                    file, f"sweep.{key}", "expected 'start:stop:num', 'a,b,c' or a list of numbers"
                )
    if sc.ecl_scenarios is not None:
        _check_ecl(sc, file)


def _check_ecl(sc: Scenario, file: str) -> None:
    assert sc.ecl_scenarios is not None
    names = [e.name for e in sc.ecl_scenarios]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ScenarioError(file, f"ecl_scenarios[{i}].name", f"duplicate name {name!r}")
    total = math.fsum(e.weight for e in sc.ecl_scenarios)
    if abs(total - 1.0) > 1e-9:
        raise ScenarioError(file, "ecl_scenarios", f"weights must sum to 1, got {total:.12g}")
    base = sc.model_copy(update={"ecl_scenarios": None, "sweep": None})
    base._source = file
    for i, e in enumerate(sc.ecl_scenarios):
        for key in e.overrides:
            try:
                check_field_path(key, file)
            except ScenarioError as exc:
                raise ScenarioError(
                    file, f"ecl_scenarios[{i}].overrides.{key}", exc.reason
                ) from None
        try:
            with_overrides(base, e.overrides)
        except ScenarioError as exc:
            raise ScenarioError(
                file, f"ecl_scenarios[{i}].overrides.{exc.field}", exc.reason
            ) from None


# --------------------------------------------------------------------------------------------
# Loading


def scenario_from_dict(data: dict[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate a mapping shaped like the TOML file into a :class:`Scenario`.

    Parameters
    ----------
    data : dict
        The parsed TOML document.
    source : str, optional
        Name used in error messages.

    Raises
    ------
    ScenarioError
        The first problem found, in the order described in the module docstring.
    """
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    _cross_field_checks(sc, source)
    sc._source = source
    return sc


def read_text_file(
    path: str | Path,
    error: type[ValueError] = ScenarioError,
    *,
    what: str = "scenario file",
    expected: str = "TOML",
) -> str:
    """Read a small UTF-8 text file written by a user, or raise one ``FILE: -: reason`` error.

    A byte-order mark (as some Windows editors save) is allowed; folders, files over 10 MiB,
    unreadable files and files that are not UTF-8 text are refused.

    Parameters
    ----------
    path : str or Path
    error : exception class, optional
        Built as ``error(file, "-", reason)``; :class:`ScenarioError` by default.
    what, expected : str
        Words for the messages, e.g. ``"CSV file"`` and ``"CSV"``.
    """
    name = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise error(name, "-", f"is a folder, not a {what}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(name, "-", f"file is {size:,} bytes; a {what} is at most 10 MiB")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise error(name, "-", "no such file") from None
    except PermissionError:
        raise error(name, "-", "permission denied") from None
    except OSError as exc:
        raise error(name, "-", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(name, "-", f"not a text file (not UTF-8); expected {expected}") from None
    return text


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A TOML file in the format of DESIGN 3.1.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not UTF-8 TOML, or breaks a rule.
    """
    name = str(path)
    text = read_text_file(path, ScenarioError, what="scenario file", expected="TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(name, "-", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(name, "-", "not valid TOML: nested too deeply") from None
    return scenario_from_dict(data, source=name)
