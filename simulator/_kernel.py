"""The compiled monthly kernel of the engine (numba, ``nogil`` so that blocks scale on threads).

The engine draws a block's random numbers with numpy (DESIGN 2.10); everything else of a month
(the factor, default and collection hazards, revenue, ageing, flows, cash, per-path outputs,
monthly moments and the trajectory sample) runs here, one tile of :data:`TILE` paths at a time,
so that a tile's state stays in the first-level cache for the whole chunk of months.

Within a tile the state is age-major, ``W[pos, path]``, in a window that slides down by one row a
month: age ``a`` of month ``j`` of the chunk lives at row ``M - j + a``. Ageing is then free (a
balance keeps its row and its age grows because the window moves), and a month multiplies each
bucket's rows by that bucket's survival factor in place.

The normal distribution function and ``exp`` are written out (:func:`ndtr`, :func:`_exp`) so
that the loops over paths vectorise: ``exp`` within 1.2 ulp, the normal distribution function
within ``16 + 0.6 x**2`` ulp (relative; :func:`ndtr` has the figures).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import intrinsic

# numba freezes these module constants into the compiled (and cached) kernel: a change to
# MONTHLY_VARS needs a change here anyway, which invalidates the cache
from .params import (
    GROSS_ROW,
    ROW_ALLOWANCE,
    ROW_CASH,
    ROW_CHARGE,
    ROW_COLLECTIONS,
    ROW_CREDIT_LOSS,
    ROW_DEFAULTS,
    ROW_GROSS,
    ROW_REVENUE,
    ROW_WRITE_OFFS,
)

__all__ = ["TILE", "ndtr", "run_chunk"]

#: Paths per tile (a multiple of the SIMD width; a tile's state stays in cache over a chunk).
TILE = 128

_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds to an integer
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with its low bits cleared: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
# 1/k! for k = 0..13: the Taylor series of exp on |r| <= ln(2)/2 to below 1e-17 relative
_INV_FACT = tuple(1.0 / math.factorial(k) for k in range(14))


@intrinsic
def _bits_to_double(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@nb.njit(inline="always")
def _exp(y):
    """``exp(y)`` within 1.2 ulp, without branches so that loops over it vectorise."""
    yc = min(max(y, -745.2), 709.8)
    k = (yc * _LOG2E + _ROUND) - _ROUND
    r = (yc - k * _LN2_HI) - k * _LN2_LO
    # sum(r**i / i!): the terms from r**3 on by Estrin's scheme (a shallow dependency chain),
    # then 1 + r (1 + r (1/2 + r q)) by Horner, so that the large terms are added last
    c = _INV_FACT
    r2 = r * r
    r4 = r2 * r2
    a0 = (c[3] + c[4] * r) + (c[5] + c[6] * r) * r2
    a1 = (c[7] + c[8] * r) + (c[9] + c[10] * r) * r2
    a2 = c[11] + c[12] * r + c[13] * r2
    q = a0 + (a1 + a2 * r4) * r4
    p = 1.0 + r * (1.0 + r * (0.5 + r * q))
    ki = np.int64(k)
    k1 = ki >> 1  # 2**k as two factors, each a normal double, so that underflow rounds once
    out = p * _bits_to_double((k1 + 1023) << 52) * _bits_to_double((ki - k1 + 1023) << 52)
    out = math.inf if y > 709.8 else out
    return 0.0 if y < -745.2 else out


#: Coefficients (powers 0..24 of ``2t - 1``) of a polynomial within 5e-15 of ``log(erfcx(z) / t)``,
#: where ``t = 2 / (2 + z)`` maps ``z`` in ``[0, inf)`` onto ``(0, 1]``: then
#: ``erfc(z) = t exp(-z^2 + P(2t - 1))`` for every ``z >= 0``. It is the Chebyshev interpolant
#: of degree 24 in power form (well conditioned here: the coefficients sum to 1.5 in absolute
#: value): ``cheb2poly(chebinterpolate(f, 24))`` with ``f(y) = log(erfcx(z) / t)``,
#: ``t = (y + 1) / 2``, ``z = 2 / t - 2`` (tests/test_kernel.py regenerates it).
_NDTR_POLY = (
    -0.6717940840566915,
    0.6726432239776672,
    0.04734330684174197,
    -0.046895610232313485,
    -0.009872689357848997,
    0.00882493859172065,
    0.0017589333786860852,
    -0.00234581296780778,
    -0.00014624492826824424,
    0.0006736821934199404,
    -9.374733731260899e-05,
    -0.00017431763605538241,
    7.145065329644303e-05,
    3.1784676144566164e-05,
    -3.0320324274316784e-05,
    7.156466080369959e-08,
    8.801000242514917e-06,
    -2.8835699422899244e-06,
    -1.5620090966447437e-06,
    1.225143849370237e-06,
    6.453340807063238e-08,
    -2.6550604731563185e-07,
    3.5357878892518046e-08,
    2.550702660821733e-08,
    -5.4940844987324614e-09,
)
_SQRT1_2 = 0.7071067811865476


@nb.njit(inline="always")
def _ndtr(x):
    z = abs(x) * _SQRT1_2
    t = 2.0 / (2.0 + z)
    y = 2.0 * t - 1.0
    # Estrin's scheme: a shallow dependency chain, so that the vectorised loop is not latency-bound
    c = _NDTR_POLY
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    q0 = (c[0] + c[1] * y) + (c[2] + c[3] * y) * y2
    q1 = (c[4] + c[5] * y) + (c[6] + c[7] * y) * y2
    q2 = (c[8] + c[9] * y) + (c[10] + c[11] * y) * y2
    q3 = (c[12] + c[13] * y) + (c[14] + c[15] * y) * y2
    q4 = (c[16] + c[17] * y) + (c[18] + c[19] * y) * y2
    q5 = (c[20] + c[21] * y) + (c[22] + c[23] * y) * y2
    poly = (q0 + q1 * y4) + ((q2 + q3 * y4) + ((q4 + q5 * y4) + c[24] * y8) * y8) * y8
    tail = 0.5 * t * _exp(poly - 0.5 * x * x)  # Phi(-|x|)
    return tail if x < 0.0 else 1.0 - tail


@nb.njit(nogil=True, cache=True, error_model="numpy")
def ndtr(x, out):
    """The standard normal distribution function of ``x`` (1-d) into ``out``.

    Relative error at most ``16 + 0.6 x**2`` ulp against an extended-precision reference:
    2e-15 for ``-3 <= x``, 1.5e-14 at ``x = -12``, 1.2e-13 at ``x = -37``. Below ``x = -3``
    the rounding of ``x**2 / 2`` inside ``exp`` dominates; :func:`scipy.special.ndtr` carries
    it too (3.2e-14 at ``x = -12``). Exactly 0 at ``-inf``, 0.5 at 0 and 1 at ``inf``.
    """
    for i in range(x.shape[0]):
        out[i] = _ndtr(x[i])


#: Partial sums per variable in :func:`_moments` (their order of addition is fixed).
_LANES = 4


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _moments(vals, shift, s1, s2, m):
    """Add ``sum(x - shift)`` and ``sum((x - shift)**2)`` over ``m`` paths, per variable.

    Path ``p`` goes to partial sum ``p mod 4``, and the partial sums are added as
    ``((a0 + a1) + (a2 + a3)) + rest``: every addition is spelled out, so the compiler has no
    freedom to reorder them (no ``fastmath``) and the sums are the same bit for bit whether the
    kernel was just compiled or loaded from numba's cache (with ``fastmath={"reassoc"}`` they
    were not). The four independent sums still vectorise.
    """
    full = m - m % _LANES
    for v in range(vals.shape[0]):
        sh = shift[v]
        a0 = a1 = a2 = a3 = 0.0
        b0 = b1 = b2 = b3 = 0.0
        for p in range(0, full, _LANES):
            x0 = vals[v, p] - sh
            x1 = vals[v, p + 1] - sh
            x2 = vals[v, p + 2] - sh
            x3 = vals[v, p + 3] - sh
            a0 += x0
            a1 += x1
            a2 += x2
            a3 += x3
            b0 += x0 * x0
            b1 += x1 * x1
            b2 += x2 * x2
            b3 += x3 * x3
        a = (a0 + a1) + (a2 + a3)
        b = (b0 + b1) + (b2 + b3)
        for p in range(full, m):
            x = vals[v, p] - sh
            a += x
            b += x * x
        s1[v] += a
        s2[v] += b


@nb.njit(nogil=True, cache=True, error_model="numpy")
def run_chunk(
    t0,
    M,
    z,
    phi,
    noise,
    rho_zero,
    p_def,
    threshold,
    loading,
    alpha,
    c_rate,
    beta,
    coll_scale,
    rev_base,
    volatility,
    kappa,
    credit_share,
    cash_rate,
    fixed_outflow,
    other_inflow,
    cash_floor,
    horizon,
    lo_b,
    hi_b,
    write_off,
    r,
    S,
    G,
    allowance,
    cash,
    runway,
    min_cash,
    tot_coll,
    tot_loss,
    shift,
    s1,
    s2,
    sample,
    sample_at,
    n_sample,
    trace,
    tr_h,
    tr_d,
    tr_coll,
    tr_def,
    tr_mig,
    tr_wo,
    tr_smin,
):
    """Run months ``t0 + 1 .. t0 + M`` of a block, one tile of paths at a time.

    ``z`` (n,) is the factor ``Z_{t0}`` and is advanced to ``Z_{t0+M}``
    (``Z_t = phi Z_{t-1} + sqrt(1 - phi^2) eps_t``); ``noise`` (M, 2, BLOCK_SIZE) holds the
    draws ``eps_t`` in ``[:, 0]`` and ``xi_t`` in ``[:, 1]``. The default hazards are ``p_def``
    when ``rho_zero``, else ``ndtr(threshold_b + loading * Z_t)`` (DESIGN 2.3). The state ``S``
    (A, n), ``G`` (K, n) and the per-path arrays are updated in place; the monthly moments are
    accumulated into ``s1``, ``s2`` (H+1, V) about ``shift`` (the first path's values, set here
    when the tile holding path 0 is processed). The first ``n_sample`` paths' monthly values go
    to ``sample[:, t, sample_at + p]``.
    """
    n = z.shape[0]
    A = S.shape[0]
    K = G.shape[0]
    V = s1.shape[1]
    sig_rev = math.sqrt(max(1.0 - kappa * kappa, 0.0))
    sig_z = math.sqrt(max(1.0 - phi * phi, 0.0))
    half_v2 = 0.5 * volatility * volatility
    T = TILE
    W = np.empty((M + A, T))
    h = np.empty((K, T))
    d = np.empty((K, T))
    f = np.empty((K, T))
    zt = np.empty(T)
    vals = np.empty((V, T))  # this month's monthly values of the tile's paths
    # rows of vals: the monthly variables (params.ROW_*), then gross by bucket from GROSS_ROW
    # Each loop below reads and writes few arrays, so that LLVM can vectorise it.
    for p0 in range(0, n, T):
        m = min(T, n - p0)
        for a in range(A):
            for p in range(m):
                W[M + a, p] = S[a, p0 + p]
        for b in range(K):
            for p in range(m):
                vals[GROSS_ROW + b, p] = G[b, p0 + p]
        for p in range(m):
            zt[p] = z[p0 + p]
        for j in range(M):
            t = t0 + j + 1
            base = M - j  # row of age 0 before this month's ageing
            scale = coll_scale[t - 1]
            eps = noise[j, 0, p0 : p0 + m]
            for p in range(m):
                zt[p] = phi * zt[p] + sig_z * eps[p]
            zj = zt
            # hazards (DESIGN 2.3) and revenue (2.5)
            for b in range(K):
                db = d[b]
                if rho_zero:
                    pb = p_def[b]
                    for p in range(m):
                        db[p] = pb
                else:
                    tb = threshold[b]
                    for p in range(m):
                        db[p] = _ndtr(tb + loading * zj[p])
                hb = h[b]
                if beta == 0.0:
                    raw = scale * c_rate[b]
                    for p in range(m):
                        cap = 1.0 - db[p]
                        hb[p] = raw if raw < cap else cap
                else:
                    ab = alpha[b]
                    for p in range(m):
                        raw = scale / (_exp(beta * zj[p] - ab) + 1.0)
                        cap = 1.0 - db[p]
                        hb[p] = raw if raw < cap else cap
                fb = f[b]
                for p in range(m):
                    fb[p] = max(1.0 - hb[p] - db[p], 0.0)
            rev = vals[ROW_REVENUE]
            rb = rev_base[t - 1]
            if volatility == 0.0:
                for p in range(m):
                    rev[p] = rb
            else:
                xij = noise[j, 1, p0 : p0 + m]
                for p in range(m):
                    eta = -kappa * zj[p] + sig_rev * xij[p]
                    rev[p] = rb * _exp(volatility * eta - half_v2)
            # flows on the book at the start of the month
            coll = vals[ROW_COLLECTIONS]
            dflt = vals[ROW_DEFAULTS]
            for p in range(m):
                coll[p] = 0.0
            for p in range(m):
                dflt[p] = 0.0
            for b in range(K):
                hb = h[b]
                gb = vals[GROSS_ROW + b]
                for p in range(m):
                    coll[p] += hb[p] * gb[p]
            for b in range(K):
                db = d[b]
                gb = vals[GROSS_ROW + b]
                for p in range(m):
                    dflt[p] += db[p] * gb[p]
            if trace:
                for b in range(K):
                    for p in range(m):
                        tr_h[b, t - 1, p0 + p] = h[b, p]
                        tr_d[b, t - 1, p0 + p] = d[b, p]
                        tr_coll[b, t - 1, p0 + p] = h[b, p] * vals[GROSS_ROW + b, p]
                        tr_def[b, t - 1, p0 + p] = d[b, p] * vals[GROSS_ROW + b, p]
            # survival and ageing (2.4): age a keeps its row, the window moves down by one
            for b in range(K):
                fb = f[b]
                for a in range(lo_b[b], hi_b[b]):
                    wr = W[base + a]
                    for p in range(m):
                        wr[p] *= fb[p]
            if trace:
                for b in range(K - 1):
                    for p in range(m):
                        tr_mig[b, t - 1, p0 + p] = W[base + hi_b[b] - 1, p]
            nb0 = base - 1  # row of age 0 after ageing
            w0 = W[nb0]
            for p in range(m):
                w0[p] = credit_share * rev[p]
            wo = vals[ROW_WRITE_OFFS]
            last = W[nb0 + A]  # what ageing moved beyond the last age
            if write_off:
                for p in range(m):
                    wo[p] = last[p]
            else:
                for p in range(m):
                    wo[p] = 0.0
                wl = W[nb0 + A - 1]
                for p in range(m):
                    wl[p] += last[p]
            # gross by bucket, allowance, charge, cash
            for b in range(K):
                gb = vals[GROSS_ROW + b]
                wr = W[nb0 + lo_b[b]]
                for p in range(m):
                    gb[p] = wr[p]
                for a in range(lo_b[b] + 1, hi_b[b]):
                    wr = W[nb0 + a]
                    for p in range(m):
                        gb[p] += wr[p]
            gross = vals[ROW_GROSS]
            allow = vals[ROW_ALLOWANCE]
            g0 = vals[GROSS_ROW]
            r0 = r[0]
            for p in range(m):
                gross[p] = g0[p]
            for p in range(m):
                allow[p] = r0 * g0[p]
            for b in range(1, K):
                gb = vals[GROSS_ROW + b]
                rb = r[b]
                for p in range(m):
                    gross[p] += gb[p]
                for p in range(m):
                    allow[p] += rb * gb[p]
            loss = vals[ROW_CREDIT_LOSS]
            for p in range(m):
                loss[p] = dflt[p] + wo[p]
            charge = vals[ROW_CHARGE]
            al = allowance[p0 : p0 + m]
            for p in range(m):
                charge[p] = allow[p] - al[p] + loss[p]
            for p in range(m):
                al[p] = allow[p]
            fo = fixed_outflow[t - 1]
            cs = cash[p0 : p0 + m]
            for p in range(m):
                cs[p] += coll[p] + cash_rate * rev[p] - fo + other_inflow
            cv = vals[ROW_CASH]
            for p in range(m):
                cv[p] = cs[p]
            rw = runway[p0 : p0 + m]
            for p in range(m):
                if cs[p] < cash_floor and rw[p] > horizon:
                    rw[p] = t
            mc = min_cash[p0 : p0 + m]
            for p in range(m):
                mc[p] = min(mc[p], cs[p])
            tc = tot_coll[p0 : p0 + m]
            for p in range(m):
                tc[p] += coll[p]
            tl = tot_loss[p0 : p0 + m]
            for p in range(m):
                tl[p] += loss[p]
            if trace:
                for p in range(m):
                    smin = W[nb0, p]
                    for a in range(1, A):
                        smin = min(smin, W[nb0 + a, p])
                    tr_smin[t - 1, p0 + p] = smin
                    tr_wo[t - 1, p0 + p] = wo[p]
            # monthly moments about the first path's values, and the trajectory sample
            if p0 == 0:
                for v in range(V):
                    shift[t, v] = vals[v, 0]
            _moments(vals, shift[t], s1[t], s2[t], m)
            at = sample_at + p0
            for v in range(V):
                for p in range(min(m, n_sample - p0)):
                    sample[v, t, at + p] = vals[v, p]
        for p in range(m):
            z[p0 + p] = zt[p]
        for a in range(A):  # after the chunk, age a is back at row a
            for p in range(m):
                S[a, p0 + p] = W[a, p]
        for b in range(K):
            for p in range(m):
                G[b, p0 + p] = vals[GROSS_ROW + b, p]
