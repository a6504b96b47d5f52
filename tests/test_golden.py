"""Golden numbers (DESIGN 2.10): the SHA-256 of what each bundled scenario simulates at a fixed
seed and path count. They guard refactoring and every engine extension: a scenario that does not
use a new feature must keep its numbers bit for bit. A change of engine version that is meant to
move numbers updates these hashes in the same commit, and says why.

The summary's hash leaves out ``wall_seconds`` and the scenario (its words do not move numbers,
and optional fields added to the format later must not move old hashes).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import BENCH, BUNDLED_TOML

from simulator import load_scenario, simulate, with_overrides

#: name -> (sha256 of per_path, sha256 of the monthly table, sha256 of the summary), engine 1.3.
#: Engine 1.3 moved only the monthly table (its sums in a fixed order: 1.2's differed by one ulp
#: between a freshly compiled kernel and one loaded from numba's cache) and the summary's
#: ``engine_version``; every per-path number is as in 1.2.
GOLDEN_HASHES: dict[str, tuple[str, str, str]] = {
    "bench": (
        "25040b8298954bf4e25acfd3e322b982f6f191e2d814ca1c3e704a2097b8a34b",
        "699dbbae6cde42d151110f4d228f22fd2b184257f5ba7556bade13fff4224d8b",
        "e66d8b0d09eff4cc5ab06dc351c43d723b0c05fd5e98922e96e3e190e2950215",
    ),
    "example_minimal": (
        "42b6594324e2efd81d1e564a821dad640309ae934cd78db4178505b77d6f9929",
        "3c466dd036d9a3f0dedcac789c8c27afb41557c71894b686745f2cfe9177093a",
        "b5d452df2ff3b63c2bc90819d2f01be6e4b3c5e63b237c56ec3a9aac1aaab516",
    ),
    "iflytek_2024q3": (
        "d9de262cc6f045258ecc9f79e3050b35d336778ba9a8b731aec4c629218fda02",
        "597ea777a7c70670166dbc17d363b410b0d4a562910320239b6b8b5b596fb183",
        "20428c52a20db98523fb5c21bd6115346cdeb24b5087cadcb76915d71a24b941",
    ),
    "iflytek_segments": (
        "193ab9b80b978f809c28b157c09d63accbd9ad956ef7556b8cf278185df27481",
        "2e7b2da2ff073a8f648d66773c21858096053df6745eb5204d972ea4411b50c2",
        "1ad905730af53a45085ea380a2543bfbccf5493b01c87075cb3cc0cfea016a04",
    ),
    "sensetime_2023": (
        "e7158f929cb97f3025aae801184f273b8bac0c249fcec9a35248247d43e0181c",
        "d88ffb368acc10460dd4ff7972220c07c1e2f43f9ce4c66dadec9f27043fd3cb",
        "13861fc561f443df84a82b15c5911cdf45a8411a4191858056b2363dd06dc04d",
    ),
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    summary.pop("scenario")  # its text (sources, description) does not move numbers
    return _sha(per_path), _sha(monthly_bytes), _sha(_canonical(summary))


CASES = {p.stem: p for p in [*BUNDLED_TOML, BENCH]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundled_scenarios_keep_their_numbers(name):
    got = _fingerprints(CASES[name])
    assert got == GOLDEN_HASHES[name], (
        f"{name}: the numbers moved. If an engine change means to move them, bump ENGINE_VERSION "
        f"and update GOLDEN_HASHES; got {got}"
    )


_FRESH = """
import hashlib, sys
import numpy as np
from simulator import load_scenario, simulate, with_overrides
sc = with_overrides(load_scenario(sys.argv[1]), {"simulation.paths": 5000, "simulation.seed": 7})
m = simulate(sc, workers=2).monthly.select_dtypes("number").to_numpy(dtype=float)
print(hashlib.sha256(np.ascontiguousarray(m).tobytes()).hexdigest())
"""


def test_a_freshly_compiled_kernel_gives_the_numbers_of_a_cached_one(tmp_path):
    """The first run after installing compiles the kernel; later runs load it from numba's
    cache. Both must give the same numbers bit for bit (DESIGN 2.10)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _FRESH, str(BENCH)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)  # the first compiles and writes the cache, the second loads it
    ]
    assert any((tmp_path / "numba").rglob("*.nbi")), "the first run wrote no cache"
    assert runs[0] == runs[1]
