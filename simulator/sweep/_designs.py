"""Designs: a grid (``start:stop:num`` or ``a,b,c``, several fields making the product), the
scenario's ``[sweep]`` table, or a scrambled Sobol sample over ranges."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario import Scenario, ScenarioError
from ._fields import FieldInfo, _numeric_field

#: The largest number of points a design may have.
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Design:
    """The points of a sweep: a value for every field at every point.

    Attributes
    ----------
    kind : {"grid", "sobol"}
    fields : tuple of str
        The swept field paths, in the order given.
    values : tuple of tuple
        One tuple per point, aligned with ``fields``; a grid is the product of the fields'
        values with the first field varying slowest.
    """

    kind: str
    fields: tuple[str, ...]
    values: tuple[tuple[float | int, ...], ...]

    def __len__(self) -> int:
        return len(self.values)

    def params(self, i: int) -> dict[str, float | int]:
        """The parameters of point ``i`` as ``{field: value}``."""
        return dict(zip(self.fields, self.values[i], strict=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (kind, fields and every point's values)."""
        return {"kind": self.kind, "fields": list(self.fields), "values": self.values}


def _split_param(text: str, source: str, form: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ScenarioError(source, "--param", f"expected {form}, got {text!r}")
    return name.strip(), spec.strip()


def _number(text: str, source: str, where: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ScenarioError(source, where, f"{what}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ScenarioError(source, where, f"{what}: {text!r} is not a finite number")
    return x


def _as_kind(x: float, info: FieldInfo, source: str, where: str) -> float | int:
    if info.kind == "int":
        if not float(x).is_integer():
            raise ScenarioError(source, where, f"is an integer field; {x:g} is not a whole number")
        return int(x)
    return float(x)


_GRID_FORM = "FIELD=start:stop:num or FIELD=a,b,c"


def _grid_values(
    spec: str | Sequence[float], info: FieldInfo, source: str, where: str
) -> list[float | int]:
    """One field's values: ``start:stop:num`` (evenly spaced, ends included), ``a,b,c``, a list."""
    if isinstance(spec, str):
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ScenarioError(
                    source, where, f"expected start:stop:num or a,b,c, got {spec!r}"
                )
            start = _number(parts[0], source, where, "start")
            stop = _number(parts[1], source, where, "stop")
            try:
                num = int(parts[2])
            except ValueError:
                raise ScenarioError(
                    source, where, f"num must be a whole number of points, got {parts[2]!r}"
                ) from None
            if not 1 <= num <= MAX_POINTS:
                raise ScenarioError(source, where, f"num must be 1..{MAX_POINTS}, got {num}")
            # Rounded to 12 significant digits so that 0.5:1.5:11 gives 0.6, not 0.6000000000000001.
            raw = [float(f"{v:.12g}") for v in np.linspace(start, stop, num)]
        else:
            items = [s.strip() for s in spec.split(",")]
            if any(not s for s in items):
                raise ScenarioError(
                    source, where, f"expected start:stop:num or a,b,c, got {spec!r}"
                )
            raw = [_number(s, source, where, "value") for s in items]
    else:
        raw = [float(v) for v in spec]
    return [_as_kind(v, info, source, where) for v in raw]


def _check_unique(fields: list[str], source: str) -> None:
    for i, f in enumerate(fields):
        if f in fields[:i]:
            raise ScenarioError(source, f, "is given more than once")


def _product(kind: str, fields: list[str], values: list[list[float | int]], source: str) -> Design:
    total = math.prod(len(v) for v in values)
    if total > MAX_POINTS:
        raise ScenarioError(
            source, "--param", f"the grid has {total:,} points; at most {MAX_POINTS:,} are allowed"
        )
    return Design(kind, tuple(fields), tuple(itertools.product(*values)))


def grid_design(scenario: Scenario, params: Sequence[str]) -> Design:
    """The product grid of ``--param FIELD=start:stop:num`` / ``FIELD=a,b,c`` options.

    Parameters
    ----------
    scenario : Scenario
        The scenario swept (for field checks and error messages).
    params : sequence of str
        One ``FIELD=SPEC`` per field; several make the product grid (first varies slowest).

    Returns
    -------
    Design

    Raises
    ------
    ScenarioError
        For an unknown or non-numeric field, bad syntax or a repeated field.
    """
    src = scenario.source
    fields, values = [], []
    for text in params:
        name, spec = _split_param(text, src, _GRID_FORM)
        info = _numeric_field(scenario, name)
        fields.append(name)
        values.append(_grid_values(spec, info, src, name))
    _check_unique(fields, src)
    return _product("grid", fields, values, src)


def table_design(scenario: Scenario) -> Design:
    """The grid stored in the scenario's ``[sweep]`` table (used when no ``--param`` is given).

    Raises
    ------
    ScenarioError
        If the scenario has no ``[sweep]`` table, or one of its entries is not sweepable.
    """
    src = scenario.source
    if not scenario.sweep:
        raise ScenarioError(
            src, "--param", f"give --param {_GRID_FORM}, or add a [sweep] table to the scenario"
        )
    fields, values = [], []
    for name, spec in scenario.sweep.items():
        where = f"sweep.{name}"
        try:
            info = _numeric_field(scenario, name)
        except ScenarioError as exc:
            raise ScenarioError(src, where, exc.reason) from None
        fields.append(name)
        values.append(_grid_values(spec, info, src, where))
    return _product("grid", fields, values, src)


def sobol_design(
    scenario: Scenario, params: Sequence[str], n: int, rng: np.random.Generator | int | None
) -> Design:
    """A scrambled Sobol sample of ``n`` points over ``--param FIELD=lo:hi`` ranges.

    Parameters
    ----------
    scenario : Scenario
    params : sequence of str
        ``FIELD=lo:hi`` for each dimension.
    n : int
        Number of points (1..:data:`MAX_POINTS`); a power of 2 keeps the balance properties of
        the sequence, other sizes take its first ``n`` points.
    rng : numpy.random.Generator, int or None
        The scrambling's random numbers (SPEC 7; the command line passes the run's seed): the
        same seed gives the same points.

    Returns
    -------
    Design
        Integer fields are rounded to the nearest integer.

    Raises
    ------
    ScenarioError
        For a bad range, an unknown or non-numeric field, or a bad ``n``.
    """
    from scipy.stats import qmc

    src = scenario.source
    if not params:
        raise ScenarioError(src, "--sobol", "needs ranges: --param FIELD=lo:hi (one per field)")
    if not 1 <= n <= MAX_POINTS:
        raise ScenarioError(src, "--sobol", f"must be 1..{MAX_POINTS}, got {n}")
    fields, infos, lows, highs = [], [], [], []
    for text in params:
        name, spec = _split_param(text, src, "FIELD=lo:hi")
        info = _numeric_field(scenario, name)
        parts = spec.split(":")
        if len(parts) != 2:
            raise ScenarioError(src, name, f"with --sobol, expected lo:hi, got {spec!r}")
        lo = _number(parts[0], src, name, "lo")
        hi = _number(parts[1], src, name, "hi")
        if not lo < hi:
            raise ScenarioError(src, name, f"expected lo < hi, got {spec!r}")
        fields.append(name)
        infos.append(info)
        lows.append(lo)
        highs.append(hi)
    _check_unique(fields, src)
    rng = np.random.default_rng(rng)
    try:
        sampler = qmc.Sobol(len(fields), scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        sampler = qmc.Sobol(len(fields), scramble=True, seed=rng)
    unit = sampler.random_base2(max(0, math.ceil(math.log2(n))))[:n]
    sample = qmc.scale(unit, lows, highs)
    values = []
    for row in sample:
        values.append(
            tuple(
                round(float(x)) if info.kind == "int" else float(x)
                for x, info in zip(row, infos, strict=True)
            )
        )
    return Design("sobol", tuple(fields), tuple(values))
