"""The integrand of :func:`simulator.hazards.logistic_normal_mean` compiled by numba for
:func:`scipy.integrate.quad`: the same numbers, about ten times faster. Imported only to solve
many ``alpha`` at once (parameter replicates): loading numba takes about a second."""

from __future__ import annotations

import functools

import numba as nb
from numba import types
from scipy import LowLevelCallable

from .hazards import _integrand

__all__ = ["compiled_integrand"]

# no fastmath: the same operations in the same order as the Python function, bit for bit
_jitted = nb.njit(cache=True)(_integrand)


@nb.cfunc(types.float64(types.intc, types.CPointer(types.float64)), cache=True)
def _quad_integrand(n, xx):  # quad's signature: n values, z first, then the extra arguments
    return _jitted(xx[0], xx[1], xx[2])


@functools.cache
def compiled_integrand() -> LowLevelCallable:
    """The integrand for ``quad(f, a, b, args=(alpha, beta))``."""
    return LowLevelCallable(_quad_integrand.ctypes)
