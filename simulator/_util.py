"""Small rules used across the package, each implemented once: JSON-ready values, canonical
hashing, the pairwise merge of means and squared deviations, and the map over blocks of paths."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "Moments",
    "block_sizes",
    "canonical_json",
    "json_ready",
    "sha256_json",
    "thread_map",
    "without_none",
]

T = TypeVar("T")


def json_ready(obj: Any) -> Any:
    """JSON-ready: numpy scalars to Python numbers, non-finite numbers to ``None``."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def without_none(obj: Any) -> Any:
    """``obj`` with every mapping entry whose value is ``None`` left out, recursively."""
    if isinstance(obj, dict):
        return {k: without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [without_none(v) for v in obj]
    return obj


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal objects give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(obj: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


@dataclass
class Moments:
    """Running means and sums of squared deviations of columns of values, merged in order.

    Chan, Golub & LeVeque's pairwise update: merging ``(n_a, mean_a, m2_a)`` and
    ``(n_b, mean_b, m2_b)`` gives ``mean = mean_a + delta n_b / n`` and
    ``m2 = m2_a + m2_b + delta² n_a n_b / n`` with ``delta = mean_b − mean_a``. Merging the
    same parts in the same order gives the same numbers bit for bit.
    """

    n: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def merge(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Merge a part of ``n`` observations with its means and squared deviations."""
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = n, np.array(mean, dtype=float), np.array(m2, dtype=float)
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * (n / total)
        self.m2 += m2 + delta**2 * (self.n * n / total)
        self.n = total

    def add(self, values: np.ndarray) -> None:
        """Merge observations given as the columns of ``values`` (variables × observations)."""
        mu = values.mean(axis=1)
        self.merge(values.shape[1], mu, ((values - mu[:, None]) ** 2).sum(axis=1))

    def se(self) -> np.ndarray:
        """Standard errors of the means, ``sqrt(m2 / (n − 1) / n)`` (NaN below 2 observations)."""
        assert self.m2 is not None
        if self.n < 2:
            return np.full_like(self.m2, np.nan)
        return np.sqrt(self.m2 / (self.n - 1) / self.n)


def block_sizes(paths: int, block: int) -> list[int]:
    """Sizes of the blocks of ``block`` paths that make up ``paths`` (the last may be short)."""
    full, rest = divmod(paths, block)
    return [block] * full + ([rest] if rest else [])


def thread_map(fn: Callable[[int], T], n: int, workers: int | None = None) -> Iterator[T]:
    """``fn(0), …, fn(n − 1)`` in order, on up to ``workers`` threads (default: the CPUs).

    The results come in index order whatever the number of threads, so results combined in
    that order do not depend on it. One thread (or one item) runs in the calling thread.
    """
    n_workers = max(1, min(workers or os.cpu_count() or 1, n))
    if n_workers == 1:
        yield from map(fn, range(n))
        return
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        yield from pool.map(fn, range(n))
