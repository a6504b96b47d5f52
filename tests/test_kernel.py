"""The kernel's own ``exp`` and normal distribution function against numpy and scipy.

The engine evaluates them inside its vectorised loops instead of calling numpy and scipy; these
tests pin their accuracy, their special values and the derivation of their coefficients.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numpy.polynomial import chebyshev
from scipy import special

from simulator import _kernel


@numba.njit(error_model="numpy")
def _vexp(x, out):
    for i in range(x.shape[0]):
        out[i] = _kernel._exp(x[i])


def kernel_exp(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _vexp(x, out)
    return out


def kernel_ndtr(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _kernel.ndtr(x, out)
    return out


def test_ndtr_coefficients_are_the_chebyshev_interpolant_they_claim_to_be():
    def f(y):
        t = (y + 1.0) / 2.0
        z = 2.0 / t - 2.0
        return np.log(special.erfcx(z) / t)

    regenerated = chebyshev.cheb2poly(chebyshev.chebinterpolate(f, 24))
    np.testing.assert_allclose(np.array(_kernel._NDTR_POLY), regenerated, rtol=0, atol=1e-15)
    y = np.linspace(-1.0, 1.0, 10_001)[1:]  # y = -1 is z = inf
    poly = np.polynomial.polynomial.polyval(y, np.array(_kernel._NDTR_POLY))
    assert np.max(np.abs(poly - f(y))) < 5e-15


def test_ndtr_matches_scipy_to_rounding_where_default_hazards_live():
    # Vasicek arguments: ndtri(p)/sqrt(1-rho) + loading * Z, for p down to 1e-12 and |Z| <= 8
    x = np.concatenate(
        [np.linspace(-12.0, 9.0, 200_001), np.random.default_rng(3).normal(-3, 2, 10**5)]
    )
    rel = np.abs(kernel_ndtr(x) / special.ndtr(x) - 1.0)
    assert rel.max() < 5e-14


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps > 1e-18, reason="the exact tail needs an extended long double"
)
def test_ndtr_deep_tail_against_an_extended_precision_reference():
    # Phi(x) = exp(-x^2/2) / sqrt(2 pi) / (|x| + 1/(|x| + 2/(|x| + ...))) (Laplace's continued
    # fraction for the Mills ratio), in 64-bit-mantissa long double. A double Phi cannot beat
    # the rounding of x^2/2 inside exp: about x^2/2 ulp.
    x = np.linspace(-37.5, -8.0, 20_001)
    a = np.abs(x.astype(np.longdouble))
    r = np.zeros_like(a)
    for k in range(200, 0, -1):
        r = k / (a + r)
    exact = np.exp(-a * a / 2) / np.sqrt(2 * np.pi, dtype=np.longdouble) / (a + r)
    rel = np.abs(kernel_ndtr(x).astype(np.longdouble) / exact - 1).astype(float)
    assert np.all(rel < 2.2e-16 * (x**2 / 2 + 8))


def test_ndtr_special_values_symmetry_and_monotonicity():
    x = np.array([-np.inf, -40.0, -0.0, 0.0, 40.0, np.inf])
    np.testing.assert_array_equal(kernel_ndtr(x), [0.0, 0.0, 0.5, 0.5, 1.0, 1.0])
    grid = np.linspace(-10.0, 10.0, 400_001)
    phi = kernel_ndtr(grid)
    assert np.all(np.diff(phi) >= 0.0)
    assert np.max(np.abs(phi + kernel_ndtr(-grid) - 1.0)) <= 2.3e-16  # one rounding of 1 - tail


def test_exp_is_within_two_ulp_of_numpys_over_the_normal_range():
    x = np.concatenate(
        [np.linspace(-708.0, 709.0, 1_000_001), np.random.default_rng(5).normal(0, 3, 10**5)]
    )
    ref = np.exp(x)
    assert np.max(np.abs(kernel_exp(x) - ref) / np.spacing(ref)) <= 2.0


def test_exp_overflow_underflow_and_subnormals():
    x = np.array([-np.inf, -800.0, -745.2, -740.0, -709.5, 0.0, 709.78, 710.0, np.inf])
    with np.errstate(over="ignore"):
        ref = np.exp(x)
    got = kernel_exp(x)
    np.testing.assert_array_equal(got[[0, 1, 5, 7, 8]], ref[[0, 1, 5, 7, 8]])
    # subnormal results round once: within one subnormal step (4.9e-324) or a relative ulp
    got, ref = got[1:7], ref[1:7]  # the finite ones
    assert np.all(np.abs(got - ref) <= np.maximum(np.spacing(ref), 5e-324))


@pytest.mark.parametrize("p", [0.0, 1e-9, 0.02, 0.5, 1.0])
def test_ndtr_of_the_vasicek_threshold_at_zero_factor_recovers_p_closely(p):
    # the kernel's d at Z = 0 and rho -> 0 is ndtr(ndtri(p)): p itself, to rounding
    with np.errstate(divide="ignore"):
        x = special.ndtri(np.array([p]))
    assert kernel_ndtr(x)[0] == pytest.approx(p, rel=1e-13, abs=0.0)
