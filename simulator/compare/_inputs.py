"""Which inputs differ between two runs: their scenarios flattened to field paths (DESIGN 3.3)."""

from __future__ import annotations

from typing import Any

__all__ = ["flatten_scenario", "input_differences"]


def _scalar(x: Any) -> bool:
    return not isinstance(x, dict | list | tuple)


def flatten_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """A scenario (as JSON) as ``{field path: value}``: ``collections.multiplier``, one entry per
    item of a list of numbers (``collections.monthly_rate[2]``), ``ecl_scenarios[0].weight``.

    Parameters
    ----------
    scenario : dict
        ``Scenario.model_dump(mode="json")``, as in ``summary.json``.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}

    def walk(name: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                walk(f"{name}.{key}" if name else str(key), value)
        elif isinstance(obj, list | tuple) and not all(_scalar(v) for v in obj):
            for i, value in enumerate(obj):
                walk(f"{name}[{i}]", value)
        elif isinstance(obj, list | tuple):
            out[name] = list(obj)
        else:
            out[name] = obj

    walk("", scenario)
    return out


def input_differences(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs that differ between two scenarios, in the order of ``a`` then ``b``.

    A list of numbers of the same length is compared item by item (``collections.monthly_rate[2]``);
    lists of different lengths are one entry. A field that only one scenario sets has ``None``
    on the other side.

    Parameters
    ----------
    a, b : dict
        The two scenarios as JSON (``summary["scenario"]``).

    Returns
    -------
    list of dict
        ``{"field": path, "a": value, "b": value}`` for each difference.
    """
    fa, fb = flatten_scenario(a), flatten_scenario(b)
    out = []
    for field in [*fa, *(k for k in fb if k not in fa)]:
        va, vb = fa.get(field), fb.get(field)
        if va == vb:
            continue
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            out += [
                {"field": f"{field}[{i}]", "a": x, "b": y}
                for i, (x, y) in enumerate(zip(va, vb, strict=True))
                if x != y
            ]
        else:
            out.append({"field": field, "a": va, "b": vb})
    return out
