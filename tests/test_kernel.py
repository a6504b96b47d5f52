"""The kernel's own ``exp`` and normal distribution function against exact references.

The engine evaluates them inside its vectorised loops instead of calling numpy and scipy; these
tests pin their accuracy (against extended precision), their special values and the derivation
of their coefficients.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numpy.polynomial import chebyshev
from scipy import special

from simulator import _kernel

EPS = np.finfo(float).eps
needs_extended = pytest.mark.skipif(
    np.finfo(np.longdouble).eps > 1e-18,
    reason="the exact references need numpy's extended-precision long double (x86)",
)


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


def exact_ndtr(x: np.ndarray) -> np.ndarray:
    """Phi(x) in long double (64-bit mantissa): the Taylor series of erf for x > -1 (no
    cancellation there), Laplace's continued fraction of the Mills ratio below."""
    a = x.astype(np.longdouble)
    out = np.empty_like(a)
    pdf = np.exp(-a * a / 2) / np.sqrt(2 * np.pi, dtype=np.longdouble)
    near = x > -1.0
    term = a[near].copy()
    total = term.copy()
    for k in range(1, 400):
        term = term * a[near] ** 2 / (2 * k + 1)
        total += term
    out[near] = 0.5 + pdf[near] * total
    far = ~near
    b = -a[far]
    r = np.zeros_like(b)
    for k in range(3000, 0, -1):  # converged to the last bit from x = -1 down
        r = k / (b + r)
    out[far] = pdf[far] / (b + r)
    return out


def test_ndtr_coefficients_are_the_chebyshev_interpolant_they_claim_to_be():
    def f(y):
        t = (y + 1.0) / 2.0
        z = 2.0 / t - 2.0
        return np.log(special.erfcx(z) / t)

    y = np.linspace(-1.0, 1.0, 20_001)[1:]  # y = -1 is z = inf
    poly = np.polynomial.polynomial.polyval(y, np.array(_kernel._NDTR_POLY))
    # compared as functions: the power-form coefficients themselves amplify rounding noise
    regenerated = chebyshev.chebval(y, chebyshev.chebinterpolate(f, 24))
    assert np.max(np.abs(poly - regenerated)) < 2e-15
    assert np.max(np.abs(poly - f(y))) < 5e-15  # as the comment on _NDTR_POLY says


@needs_extended
def test_ndtr_against_an_extended_precision_reference():
    # Below x = -3 the rounding of x**2/2 (computing x*x, then subtracting it inside exp) costs
    # up to half an ulp of x**2/2 each time: x**2/2 ulp of the result; 0.6 leaves room for the
    # other roundings that scale with it. 16 ulp bound the fit, exp and the products (at most
    # 9 measured where x is small).
    rng = np.random.default_rng(9)
    x = np.concatenate([np.linspace(-37.5, 3.0, 40_001), rng.uniform(-12.0, 3.0, 40_000)])
    rel = np.abs(kernel_ndtr(x).astype(np.longdouble) / exact_ndtr(x) - 1).astype(float)
    assert np.all(rel <= EPS * (16 + 0.6 * x**2)), (rel / (EPS * (16 + 0.6 * x**2))).max()
    assert rel[x >= -3].max() < 2.5e-15


def test_ndtr_agrees_with_scipy_where_default_hazards_live():
    # Vasicek arguments ndtri(p)/sqrt(1-rho) + loading * Z for p down to 1e-12 and |Z| <= 8;
    # scipy's own error reaches 3.2e-14 at x = -12 (cephes documents 3.4e-14 on [-13, 0])
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-12.0, 9.0, 200_001), rng.normal(-3, 2, 10**5)])
    rel = np.abs(kernel_ndtr(x) / special.ndtr(x) - 1.0)
    assert rel.max() < 5e-14
    assert rel[np.abs(x) <= 3].max() < 5e-15


def test_ndtr_special_values_and_monotonicity():
    x = np.array([-np.inf, -40.0, -0.0, 0.0, 40.0, np.inf])
    np.testing.assert_array_equal(kernel_ndtr(x), [0.0, 0.0, 0.5, 0.5, 1.0, 1.0])
    assert np.isnan(kernel_ndtr(np.array([np.nan]))[0])
    phi = kernel_ndtr(np.linspace(-40.0, 10.0, 500_001))
    assert np.all(np.diff(phi) >= 0.0)


@needs_extended
def test_exp_is_within_1_2_ulp_of_the_exact_value():
    rng = np.random.default_rng(5)
    x = np.concatenate([np.linspace(-708.0, 709.0, 1_000_001), rng.normal(0, 3, 10**5)])
    got = kernel_exp(x)
    ulps = np.abs(got.astype(np.longdouble) - np.exp(x.astype(np.longdouble))) / np.spacing(got)
    assert ulps.max() <= 1.2  # 1.16 measured


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
