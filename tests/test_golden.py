"""Golden numbers (DESIGN 2.10): the SHA-256 of what each bundled scenario simulates at a fixed
seed and path count. They guard refactoring and every engine extension: a scenario that does not
use a new feature must keep its numbers bit for bit. A change of engine version that is meant to
move numbers updates these hashes in the same commit, and says why.

The summary's hash leaves out ``wall_seconds`` and replaces the scenario by its hash, which
ignores fields left at a ``None`` default, so that optional fields added later do not move it.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import BENCH, BUNDLED_TOML

from simulator import load_scenario, simulate, with_overrides

#: name -> (sha256 of per_path, sha256 of the monthly table, sha256 of the summary)
GOLDEN_HASHES: dict[str, tuple[str, str, str]] = {
    "bench": (
        "25040b8298954bf4e25acfd3e322b982f6f191e2d814ca1c3e704a2097b8a34b",
        "88c28db327492f2d15af0df4aadcd8a797a003e9e0c46fcf195ce47e9c2ad8e4",
        "005e55980168db0a77b14a717087cf69506e1a19af1f7c7a47eabc410a9e7ae0",
    ),
    "example_minimal": (
        "42b6594324e2efd81d1e564a821dad640309ae934cd78db4178505b77d6f9929",
        "3c466dd036d9a3f0dedcac789c8c27afb41557c71894b686745f2cfe9177093a",
        "f1388ba7fbea8adeca4309d63640ecb36d476ec23a0308e75ebeeb299e2fbb1d",
    ),
    "iflytek_2024q3": (
        "d9de262cc6f045258ecc9f79e3050b35d336778ba9a8b731aec4c629218fda02",
        "99a3f3482d5db718a7a9735fcdb9213cce5f01e3a362b70b68f4fde627ed37c7",
        "d088eb2544515ecbddb538ad7d3bd1253c9006d3d77395aa699f237a7012a88b",
    ),
    "sensetime_2023": (
        "e7158f929cb97f3025aae801184f273b8bac0c249fcec9a35248247d43e0181c",
        "923372277eef81401b55e1bcf2f43e0d65eba2f02ffde2afa379c19d0e77cd60",
        "264a30f8a3e83fccb0e47f29aa7836a15ab113caba1a9e0f0b6258838a375b09",
    ),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without_none(obj):
    if isinstance(obj, dict):
        return {k: _without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_none(v) for v in obj]
    return obj


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _fingerprints(path) -> tuple[str, str, str]:
    sc = with_overrides(
        load_scenario(path),
        {
            "simulation.paths": 5000,
            "simulation.seed": 20240930,
            "simulation.trajectory_paths": 300,
            "simulation.runoff_paths": 1000,
        },
    )
    res = simulate(sc, workers=2)
    per_path = b"".join(
        np.ascontiguousarray(res.per_path[k]).tobytes() for k in sorted(res.per_path)
    )
    monthly = res.monthly.select_dtypes("number")
    monthly_bytes = (
        json.dumps(list(monthly.columns)).encode()
        + np.ascontiguousarray(monthly.to_numpy(dtype=float)).tobytes()
    )
    summary = res.summary()
    summary.pop("wall_seconds")
    summary["scenario"] = _sha(_canonical(_without_none(summary["scenario"])))
    return _sha(per_path), _sha(monthly_bytes), _sha(_canonical(summary))


CASES = {p.stem: p for p in [*BUNDLED_TOML, BENCH]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundled_scenarios_keep_their_numbers(name):
    got = _fingerprints(CASES[name])
    assert got == GOLDEN_HASHES[name], (
        f"{name}: the numbers moved. If an engine change means to move them, bump ENGINE_VERSION "
        f"and update GOLDEN_HASHES; got {got}"
    )
