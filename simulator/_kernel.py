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
#: A named debtor written off at the end of month t has the event code −(WRITE_OFF_CODE + t).
WRITE_OFF_CODE = 2048

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


@nb.njit(inline="always")
def _hazards(y, m, rho_zero, pb, thr, load, raw_c, a_b, beta, scale, db, hb, fb):
    """One bucket's default, collection and survival hazards for ``m`` paths (DESIGN 2.3).

    ``d = p`` when ``rho_zero``, else ``ndtr(thr + load · y)``; ``h = min(scale · c, 1 − d)``
    when ``beta == 0``, else ``min(scale / (1 + exp(beta · y − alpha)), 1 − d)``.
    """
    if rho_zero:
        for p in range(m):
            db[p] = pb
    else:
        for p in range(m):
            db[p] = _ndtr(thr + load * y[p])
    if beta == 0.0:
        raw = scale * raw_c
        for p in range(m):
            cap = 1.0 - db[p]
            hb[p] = raw if raw < cap else cap
    else:
        for p in range(m):
            raw = scale / (_exp(beta * y[p] - a_b) + 1.0)
            cap = 1.0 - db[p]
            hb[p] = raw if raw < cap else cap
    for p in range(m):
        fb[p] = max(1.0 - hb[p] - db[p], 0.0)


@nb.njit(inline="always")
def _hazards_each(
    y, m, rho_mode, rz, pb, thr, load, beta_mode, raw_c, a_b, beta, scale, db, hb, fb
):
    """:func:`_hazards` with parameters that differ by path (parameter replicates, 2.14).

    ``rho_mode`` / ``beta_mode``: 0 when every path's ``rho`` / ``beta`` is 0, 1 when none is,
    2 when mixed (then ``rz`` says, per path, whether its ``rho`` is 0, and ``beta`` is looked
    at per path). The arithmetic of each path is :func:`_hazards`' with its own parameters, so a
    path whose parameters are the scenario's gets the plain run's numbers bit for bit.
    """
    if rho_mode == 0:
        for p in range(m):
            db[p] = pb[p]
    elif rho_mode == 1:
        for p in range(m):
            db[p] = _ndtr(thr[p] + load[p] * y[p])
    else:
        for p in range(m):
            db[p] = pb[p] if rz[p] else _ndtr(thr[p] + load[p] * y[p])
    if beta_mode == 0:
        for p in range(m):
            raw = scale[p] * raw_c[p]
            cap = 1.0 - db[p]
            hb[p] = raw if raw < cap else cap
    elif beta_mode == 1:
        for p in range(m):
            raw = scale[p] / (_exp(beta[p] * y[p] - a_b[p]) + 1.0)
            cap = 1.0 - db[p]
            hb[p] = raw if raw < cap else cap
    else:
        for p in range(m):
            if beta[p] == 0.0:
                raw = scale[p] * raw_c[p]
            else:
                raw = scale[p] / (_exp(beta[p] * y[p] - a_b[p]) + 1.0)
            cap = 1.0 - db[p]
            hb[p] = raw if raw < cap else cap
    for p in range(m):
        fb[p] = max(1.0 - hb[p] - db[p], 0.0)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def run_chunk(
    t0,
    M,
    z,
    phi,
    noise,
    seg_v,
    seg_noise,
    seg_w,
    rho_zero,
    p_def,
    threshold,
    loading,
    alpha,
    c_rate,
    beta,
    coll_scale,
    billing,
    share,
    billed,
    age_off,
    n_age,
    lo_b,
    hi_b,
    write_off,
    r,
    rep,
    rp_pdef,
    rp_thr,
    rp_load,
    rp_rho0,
    rp_alpha,
    rp_c,
    rp_beta,
    rp_mult,
    season,
    rho_mode,
    beta_mode,
    rev_base,
    volatility,
    kappa,
    cash_rate,
    fixed_outflow,
    other_inflow,
    cash_floor,
    horizon,
    d_seg,
    d_bal,
    d_own,
    d_pdef,
    d_thr,
    d_load,
    d_rho0,
    d_alpha,
    d_crate,
    d_beta,
    d_bkt,
    d_rate_end,
    d_wo,
    d_u,
    d_surv,
    d_event,
    S,
    G,
    allowance,
    cash,
    runway,
    min_cash,
    tot_coll,
    tot_loss,
    seg_coll,
    seg_loss,
    pool_loss,
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
    tr_dev,
    tr_dopen,
    tr_z,
    tr_y,
):
    """Run months ``t0 + 1 .. t0 + M`` of a block, one tile of paths at a time.

    The book is ``S`` segments (DESIGN 2.12; one for a scenario without ``[[segments]]``) and
    ``J`` named debtors (2.13; none without ``[[debtors]]``).

    Factor: ``z`` (n,) is ``Z_{t0}`` and is advanced to ``Z_{t0+M}`` with the draws
    ``noise[:, 0]`` (``eps_t``); ``noise[:, 1]`` holds ``xi_t`` of revenue. Segment ``s`` with
    ``seg_w[s] >= 0`` has a factor of its own, ``Y = sqrt(w) Z + sqrt(1 − w) V`` with ``V``
    (``seg_v[s]``, advanced like ``Z`` with ``seg_noise[s]``); ``seg_w[s] < 0`` marks the
    implicit segment, whose hazards use ``Z`` itself.

    Parameter replicates (2.14): when ``rep`` (n,) is not empty, path ``p`` takes the hazard
    parameters of replicate ``rep[p]``: rows of ``rp_*`` ((R, S, K) or (R, S)) replace the
    segments' ``p_def``, ``threshold``, ``loading``, ``rho_zero``, ``alpha``, ``c_rate``,
    ``beta``, and the collection scale is ``rp_mult[r, s] · season[s, t − 1]``.

    Credit billings enter age 0: ``billing[s] · Rev_t`` (``sigma`` times the segment's share),
    or ``share[s] · billed[t − 1]`` when the realized billings ``billed`` (H,) are given
    (DESIGN 2.15; empty otherwise).

    Segment ``s``'s state is rows ``age_off[s] .. + n_age[s]`` of ``S`` (ages × paths) and rows
    ``s·K .. s·K + K`` of ``G`` (gross by bucket); its parameters are row ``s`` of the (S, K)
    and (S,) arrays. Debtor ``j``'s survival ``d_surv[j]`` and uniform ``d_u[j]`` are per path;
    ``d_bkt[j, t − 1]`` is the bucket of its age during month ``t`` (and ``d_bkt[j, t]`` at
    its end), ``d_rate_end`` the provision rate at that month's end, ``d_wo`` 1.0 in the month
    it reaches the write-off age. ``d_event[j]`` (n,), 0 at the start (the lump open), records
    each path's event (:func:`_debtors_month`).

    Per path, totals accumulate in ``tot_coll``, ``tot_loss`` and, per segment (with
    ``[[segments]]``), ``seg_coll``, ``seg_loss``; ``pool_loss`` is the credit loss of the
    pooled book alone (with debtors). The monthly moments go to ``s1``, ``s2`` (H+1, V) about
    ``shift``; the first ``n_sample`` paths' monthly values to ``sample[:, t, sample_at + p]``.
    """
    n = z.shape[0]
    n_seg = p_def.shape[0]
    K = p_def.shape[1]
    J = d_bal.shape[0]
    V = s1.shape[1]
    seg_rows = V - GROSS_ROW - K  # rows of gross by segment (0 without [[segments]])
    sig_rev = math.sqrt(max(1.0 - kappa * kappa, 0.0))
    sig_z = math.sqrt(max(1.0 - phi * phi, 0.0))
    half_v2 = 0.5 * volatility * volatility
    T = TILE
    # each segment's age window of M + A rows, one after the other
    win = np.empty(n_seg, dtype=np.int64)
    rows = 0
    for s in range(n_seg):
        win[s] = rows
        rows += M + n_age[s]
    W = np.empty((rows, T))
    h = np.empty((n_seg, K, T))
    d = np.empty((n_seg, K, T))
    f = np.empty((n_seg, K, T))
    ys = np.empty((n_seg, T))
    vs = np.empty((n_seg, T))
    gseg = np.empty((n_seg * K, T))
    zt = np.empty(T)
    vals = np.empty((V, T))  # this month's monthly values of the tile's paths
    # per month, book level: collections, defaults, write-offs, and the pooled book's loss
    coll = vals[ROW_COLLECTIONS]
    dflt = vals[ROW_DEFAULTS]
    wo = vals[ROW_WRITE_OFFS]
    pool = np.empty(T)
    cs_t = np.empty(T)  # a segment's collections and credit loss this month
    ds_t = np.empty(T)
    dscr = np.empty((5, T))  # a debtor's own hazards and its events this month
    # debtors with equal own hazard parameters (a hazard set) share one evaluation a month for
    # each bucket; each tile counts every debtor's open paths so that closed lumps are skipped
    hset = _hazard_sets(d_seg, d_own, d_pdef, d_thr, d_load, d_rho0, d_alpha, d_crate, d_beta)
    n_sets = max(hset.max() + 1, 0) if J > 0 else 0
    hz_at = np.full(n_sets * K, -1, dtype=np.int64)
    hz_slot = np.empty(n_sets * K, dtype=np.int64)
    n_own = min(J, n_sets * K)
    hz_d = np.empty((n_own, T))
    hz_h = np.empty((n_own, T))
    d_nopen = np.empty(J, dtype=np.int64)
    # the tile's debtor state, contiguous: rows of (J, n) arrays a power of two apart would share
    # cache sets
    t_surv = np.empty((J, T))
    t_u = np.empty((J, T))
    t_event = np.empty((J, T))
    n_rep = rep.shape[0]
    e_n = n_seg if n_rep > 0 else 0  # the tile's per-path parameters (replicates only)
    e_pdef = np.empty((e_n, K, T))
    e_thr = np.empty((e_n, K, T))
    e_alpha = np.empty((e_n, K, T))
    e_c = np.empty((e_n, K, T))
    e_load = np.empty((e_n, T))
    e_rz = np.empty((e_n, T), dtype=np.bool_)
    e_beta = np.empty((e_n, T))
    e_mult = np.empty((e_n, T))
    e_scale = np.empty(T)
    for p0 in range(0, n, T):
        m = min(T, n - p0)
        for s in range(n_seg):
            for a in range(n_age[s]):
                wr = W[win[s] + M + a]
                for p in range(m):
                    wr[p] = S[age_off[s] + a, p0 + p]
            for b in range(K):
                gs = gseg[s * K + b]
                for p in range(m):
                    gs[p] = G[s * K + b, p0 + p]
            if seg_w[s] >= 0.0:
                for p in range(m):
                    vs[s, p] = seg_v[s, p0 + p]
        for p in range(m):
            zt[p] = z[p0 + p]
        for jd in range(J):
            for p in range(m):
                t_surv[jd, p] = d_surv[jd, p0 + p]
            for p in range(m):
                t_u[jd, p] = d_u[jd, p0 + p]
            for p in range(m):
                t_event[jd, p] = d_event[jd, p0 + p]
            n_open = 0
            for p in range(m):
                if t_event[jd, p] == 0.0:
                    n_open += 1
            d_nopen[jd] = n_open
        if n_rep > 0:  # this tile's paths' parameters, from their replicates
            for p in range(m):
                rr = rep[p0 + p]
                for s in range(n_seg):
                    e_load[s, p] = rp_load[rr, s]
                    e_rz[s, p] = rp_rho0[rr, s]
                    e_beta[s, p] = rp_beta[rr, s]
                    e_mult[s, p] = rp_mult[rr, s]
                    for b in range(K):
                        e_pdef[s, b, p] = rp_pdef[rr, s, b]
                        e_thr[s, b, p] = rp_thr[rr, s, b]
                        e_alpha[s, b, p] = rp_alpha[rr, s, b]
                        e_c[s, b, p] = rp_c[rr, s, b]
        for j in range(M):
            t = t0 + j + 1
            base = M - j  # row of age 0 before this month's ageing, within a window
            eps = noise[j, 0, p0 : p0 + m]
            for p in range(m):
                zt[p] = phi * zt[p] + sig_z * eps[p]
            if trace:
                for p in range(m):
                    tr_z[t - 1, p0 + p] = zt[p]
            # revenue (DESIGN 2.5)
            rev = vals[ROW_REVENUE]
            rb = rev_base[t - 1]
            if volatility == 0.0:
                for p in range(m):
                    rev[p] = rb
            else:
                xij = noise[j, 1, p0 : p0 + m]
                for p in range(m):
                    eta = -kappa * zt[p] + sig_rev * xij[p]
                    rev[p] = rb * _exp(volatility * eta - half_v2)
            for p in range(m):
                coll[p] = 0.0
            for p in range(m):
                dflt[p] = 0.0
            for p in range(m):
                wo[p] = 0.0
            allow = vals[ROW_ALLOWANCE]
            for s in range(n_seg):
                # the segment's factor, hazards (2.3) and flows on its book at the month's start
                y = zt
                if seg_w[s] >= 0.0:
                    sw = math.sqrt(seg_w[s])
                    sv = math.sqrt(1.0 - seg_w[s])
                    nu = seg_noise[s, j, p0 : p0 + m]
                    for p in range(m):
                        vs[s, p] = phi * vs[s, p] + sig_z * nu[p]
                    for p in range(m):
                        ys[s, p] = sw * zt[p] + sv * vs[s, p]
                    y = ys[s]
                elif J > 0:
                    for p in range(m):
                        ys[s, p] = zt[p]
                if trace:
                    for p in range(m):
                        tr_y[s, t - 1, p0 + p] = y[p]
                if n_rep > 0:
                    sea = season[s, t - 1]
                    for p in range(m):
                        e_scale[p] = e_mult[s, p] * sea
                    for b in range(K):
                        _hazards_each(
                            y, m, rho_mode, e_rz[s], e_pdef[s, b], e_thr[s, b], e_load[s],
                            beta_mode, e_c[s, b], e_alpha[s, b], e_beta[s], e_scale, d[s, b],
                            h[s, b], f[s, b],
                        )  # fmt: skip
                else:
                    scale = coll_scale[s, t - 1]
                    for b in range(K):
                        _hazards(
                            y, m, rho_zero[s], p_def[s, b], threshold[s, b], loading[s],
                            c_rate[s, b], alpha[s, b], beta[s], scale, d[s, b], h[s, b],
                            f[s, b],
                        )  # fmt: skip
                for b in range(K):
                    hb = h[s, b]
                    gb = gseg[s * K + b]
                    for p in range(m):
                        coll[p] += hb[p] * gb[p]
                for b in range(K):
                    db = d[s, b]
                    gb = gseg[s * K + b]
                    for p in range(m):
                        dflt[p] += db[p] * gb[p]
                if seg_rows > 0:  # the segment's own flows, for its per-path totals
                    for p in range(m):
                        cs_t[p] = 0.0
                    for p in range(m):
                        ds_t[p] = 0.0
                    for b in range(K):
                        hb = h[s, b]
                        db = d[s, b]
                        gb = gseg[s * K + b]
                        for p in range(m):
                            cs_t[p] += hb[p] * gb[p]
                        for p in range(m):
                            ds_t[p] += db[p] * gb[p]
                if trace:
                    for b in range(K):
                        row = s * K + b
                        for p in range(m):
                            tr_h[row, t - 1, p0 + p] = h[s, b, p]
                            tr_d[row, t - 1, p0 + p] = d[s, b, p]
                            tr_coll[row, t - 1, p0 + p] = h[s, b, p] * gseg[row, p]
                            tr_def[row, t - 1, p0 + p] = d[s, b, p] * gseg[row, p]
                # survival and ageing (2.4): age a keeps its row, the window moves down by one
                w0 = win[s]
                A = n_age[s]
                for b in range(K):
                    fb = f[s, b]
                    for a in range(lo_b[s, b], hi_b[s, b]):
                        wr = W[w0 + base + a]
                        for p in range(m):
                            wr[p] *= fb[p]
                if trace:
                    for b in range(K - 1):
                        row = s * (K - 1) + b
                        for p in range(m):
                            tr_mig[row, t - 1, p0 + p] = W[w0 + base + hi_b[s, b] - 1, p]
                nb0 = w0 + base - 1  # row of age 0 after ageing
                new = W[nb0]
                if billed.shape[0] > 0:  # the realized credit billings B_t (2.15)
                    bill = share[s] * billed[t - 1]
                    for p in range(m):
                        new[p] = bill
                else:
                    bill = billing[s]
                    for p in range(m):
                        new[p] = bill * rev[p]
                last = W[nb0 + A]  # what ageing moved beyond the last age
                if write_off[s]:
                    for p in range(m):
                        wo[p] += last[p]
                    if seg_rows > 0:
                        for p in range(m):
                            ds_t[p] += last[p]
                else:
                    wl = W[nb0 + A - 1]
                    for p in range(m):
                        wl[p] += last[p]
                if trace:
                    for p in range(m):
                        tr_wo[s, t - 1, p0 + p] = last[p] if write_off[s] else 0.0
                for b in range(K):
                    gb = gseg[s * K + b]
                    wr = W[nb0 + lo_b[s, b]]
                    for p in range(m):
                        gb[p] = wr[p]
                    for a in range(lo_b[s, b] + 1, hi_b[s, b]):
                        wr = W[nb0 + a]
                        for p in range(m):
                            gb[p] += wr[p]
                # the segment's gross into the book's, and its allowance
                g0 = gseg[s * K]
                r0 = r[s, 0]
                if s == 0:
                    for b in range(K):
                        gv = vals[GROSS_ROW + b]
                        gb = gseg[b]
                        for p in range(m):
                            gv[p] = gb[p]
                    for p in range(m):
                        allow[p] = r0 * g0[p]
                else:
                    for b in range(K):
                        gv = vals[GROSS_ROW + b]
                        gb = gseg[s * K + b]
                        for p in range(m):
                            gv[p] += gb[p]
                    for p in range(m):
                        allow[p] += r0 * g0[p]
                for b in range(1, K):
                    gb = gseg[s * K + b]
                    rs = r[s, b]
                    for p in range(m):
                        allow[p] += rs * gb[p]
                if seg_rows > 0:
                    sg = vals[GROSS_ROW + K + s]
                    for p in range(m):
                        sg[p] = g0[p]
                    for b in range(1, K):
                        gb = gseg[s * K + b]
                        for p in range(m):
                            sg[p] += gb[p]
                    sc = seg_coll[s, p0 : p0 + m]
                    sl = seg_loss[s, p0 : p0 + m]
                    for p in range(m):
                        sc[p] += cs_t[p]
                    for p in range(m):
                        sl[p] += ds_t[p]
            if J > 0:
                for p in range(m):
                    pool[p] = dflt[p] + wo[p]
                _debtors_month(
                    t, m, p0, K, ys, h, d, d_seg, d_bal, d_own, d_pdef, d_thr, d_load, d_rho0,
                    d_alpha, d_crate, d_beta, d_bkt, d_rate_end, d_wo, t_u, t_surv, t_event,
                    coll_scale, vals, seg_rows, seg_coll, seg_loss, dscr, trace,
                    tr_dev, tr_dopen, hset, hz_at, hz_slot, hz_d, hz_h, p0 * M + j, d_nopen,
                )  # fmt: skip
                pl = pool_loss[p0 : p0 + m]
                for p in range(m):
                    pl[p] += pool[p]
            # book totals: gross, loss, charge, cash (2.4 steps 5-6), runway (2.6)
            gross = vals[ROW_GROSS]
            gv = vals[GROSS_ROW]
            for p in range(m):
                gross[p] = gv[p]
            for b in range(1, K):
                gv = vals[GROSS_ROW + b]
                for p in range(m):
                    gross[p] += gv[p]
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
                    smin = math.inf
                    for s in range(n_seg):
                        nb0 = win[s] + base - 1
                        for a in range(n_age[s]):
                            smin = min(smin, W[nb0 + a, p])
                    tr_smin[t - 1, p0 + p] = smin
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
        for jd in range(J):
            for p in range(m):
                d_surv[jd, p0 + p] = t_surv[jd, p]
            for p in range(m):
                d_event[jd, p0 + p] = t_event[jd, p]
        for s in range(n_seg):
            if seg_w[s] >= 0.0:
                for p in range(m):
                    seg_v[s, p0 + p] = vs[s, p]
            for a in range(n_age[s]):  # after the chunk, age a is back at row a
                wr = W[win[s] + a]
                for p in range(m):
                    S[age_off[s] + a, p0 + p] = wr[p]
            for b in range(K):
                gs = gseg[s * K + b]
                for p in range(m):
                    G[s * K + b, p0 + p] = gs[p]


@nb.njit(inline="always")
def _same(a, b):
    """``a`` and ``b`` are the same number, sign of zero included."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _hazard_sets(d_seg, d_own, d_pdef, d_thr, d_load, d_rho0, d_alpha, d_crate, d_beta):
    """Each debtor's hazard set: debtors of one segment with the same own parameters share one.

    Returns ``hset`` (J,): the set's number, numbered in order of first appearance, or −1 for
    a debtor on its segment's hazards.
    """
    J = d_seg.shape[0]
    K = d_pdef.shape[1]
    hset = np.full(J, -1, dtype=np.int64)
    rep = np.empty(J, dtype=np.int64)  # the first debtor of each set
    n_sets = 0
    for jd in range(J):
        if not d_own[jd]:
            continue
        for q in range(n_sets):
            i = rep[q]
            same = (
                d_seg[i] == d_seg[jd]
                and d_rho0[i] == d_rho0[jd]
                and _same(d_load[i], d_load[jd])
                and _same(d_beta[i], d_beta[jd])
            )
            for b in range(K):
                same = (
                    same
                    and _same(d_pdef[i, b], d_pdef[jd, b])
                    and _same(d_thr[i, b], d_thr[jd, b])
                    and _same(d_alpha[i, b], d_alpha[jd, b])
                    and _same(d_crate[i, b], d_crate[jd, b])
                )
            if same:
                hset[jd] = q
                break
        if hset[jd] < 0:
            rep[n_sets] = jd
            hset[jd] = n_sets
            n_sets += 1
    return hset


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _debtors_month(
    t, m, p0, K, ys, h, d, d_seg, d_bal, d_own, d_pdef, d_thr, d_load, d_rho0, d_alpha,
    d_crate, d_beta, d_bkt, d_rate_end, d_wo, d_u, d_surv, d_event, coll_scale, vals, seg_rows,
    seg_coll, seg_loss, dscr, trace, tr_dev, tr_dopen, hset, hz_at, hz_slot, hz_d,
    hz_h, stamp, d_nopen,
):  # fmt: skip
    """Month ``t`` of every named debtor (DESIGN 2.13), for the tile's ``m`` paths.

    A debtor open at the month's start survives with ``1 − d − h`` (its segment's hazards for
    the bucket of its age, or its own); ``U > S_t`` ends it this month: defaulted if
    ``U > S_{t−1} (1 − d)``, paid in full otherwise; still open in the month it reaches the
    write-off age, it is written off at the month's end. The book's flows, gross by bucket (and
    by segment) and allowance gain its part.

    ``d_u``, ``d_surv`` and ``d_event`` are the tile's (J, TILE) copies. ``d_event[j, p]`` gains
    the path's event code (it stays 0 while the lump is open, which is how the lump's being
    open is known): ``t`` when
    paid in full in month ``t``, ``−t`` when it defaults in month ``t``, ``−(WRITE_OFF_CODE + t)``
    when it is written off at the end of month ``t``.

    Own hazards are evaluated once per hazard set ``hset[j]`` and bucket: ``hz_at`` marks the
    ``stamp`` (tile and month) of each evaluation in ``hz_d``, ``hz_h``. ``d_nopen[j]`` counts
    the tile's paths on which the lump is open; a lump closed on all of them is skipped, since
    what it adds is zero (its survival ``d_surv`` is then no longer kept up to date).
    """
    coll = vals[ROW_COLLECTIONS]
    dflt = vals[ROW_DEFAULTS]
    wo = vals[ROW_WRITE_OFFS]
    allow = vals[ROW_ALLOWANCE]
    dfs, paid, lost = dscr[2], dscr[3], dscr[4]
    n_slots = 0
    for jd in range(d_bal.shape[0]):
        if d_nopen[jd] == 0 and not trace:
            continue
        s = d_seg[jd]
        b = d_bkt[jd, t - 1]
        bal = d_bal[jd]
        if d_own[jd]:
            key = hset[jd] * K + b
            if hz_at[key] != stamp:
                hz_at[key] = stamp
                hz_slot[key] = n_slots
                _hazards(
                    ys[s], m, d_rho0[jd], d_pdef[jd, b], d_thr[jd, b], d_load[jd],
                    d_crate[jd, b], d_alpha[jd, b], d_beta[jd], coll_scale[s, t - 1],
                    hz_d[n_slots], hz_h[n_slots], dfs,
                )  # fmt: skip
                n_slots += 1
            hd = hz_h[hz_slot[key]]
            dj = hz_d[hz_slot[key]]
        else:
            hd = h[s, b]
            dj = d[s, b]
        wflag = d_wo[jd, t - 1]
        rate = d_rate_end[jd, t - 1]
        gb = vals[GROSS_ROW + d_bkt[jd, t]]  # its bucket at the month's end
        sv = d_surv[jd, :m]
        u = d_u[jd, :m]
        ec = d_event[jd, :m]
        if seg_rows > 0:
            sg = vals[GROSS_ROW + K + s]
            sc = seg_coll[s, p0 : p0 + m]
            sl = seg_loss[s, p0 : p0 + m]
        else:  # unused, of the same types
            sg = dfs
            sc = sl = d_u[jd, 0:0]
        if wflag == 0.0 and not trace:
            # the usual month: survival, gross and allowance on every path; the few events then
            # path by path (on the others the flows would gain exactly zero)
            rb = rate * bal
            n_ev = 0
            for p in range(m):
                so = sv[p]
                sn = so * max(1.0 - hd[p] - dj[p], 0.0)
                o = 1.0 if ec[p] == 0.0 else 0.0
                ev = o if u[p] > sn else 0.0
                de = ev if u[p] > so * (1.0 - dj[p]) else 0.0
                still = o - ev
                gb[p] += bal * still
                allow[p] += rb * still
                sv[p] = sn
                paid[p] = ev + de  # 0 no event, 1 paid in full, 2 defaulted
                n_ev += 1 if ev != 0.0 else 0
            if n_ev > 0:
                d_nopen[jd] -= n_ev
                wf = 0.0
                for p in range(m):
                    if paid[p] != 0.0:
                        ev = 1.0
                        de = paid[p] - 1.0
                        coll[p] += bal * (ev - de)
                        dflt[p] += bal * de
                        ec[p] += t * (ev - de) - t * de - (WRITE_OFF_CODE + t) * wf
                        if seg_rows > 0:
                            sc[p] += bal * (ev - de)
                            sl[p] += bal * (de + wf)
            if seg_rows > 0:
                for p in range(m):
                    sg[p] += bal * (1.0 if ec[p] == 0.0 else 0.0)
            continue
        for p in range(m):
            so = sv[p]
            sn = so * max(1.0 - hd[p] - dj[p], 0.0)
            o = 1.0 if ec[p] == 0.0 else 0.0
            ev = o if u[p] > sn else 0.0
            de = ev if u[p] > so * (1.0 - dj[p]) else 0.0
            wf = (o - ev) * wflag
            still = o - ev - wf
            paid[p] = ev - de
            lost[p] = de + wf
            coll[p] += bal * (ev - de)
            dflt[p] += bal * de
            wo[p] += bal * wf
            gb[p] += bal * still
            allow[p] += rate * bal * still
            sv[p] = sn
            ec[p] += t * (ev - de) - t * de - (WRITE_OFF_CODE + t) * wf
        n_open = 0
        for p in range(m):
            if ec[p] == 0.0:
                n_open += 1
        d_nopen[jd] = n_open
        if seg_rows > 0:
            for p in range(m):
                sg[p] += bal * (1.0 if ec[p] == 0.0 else 0.0)
            for p in range(m):
                sc[p] += bal * paid[p]
            for p in range(m):
                sl[p] += bal * lost[p]
        if trace:
            for p in range(m):
                tr_dev[jd, t - 1, p0 + p] = paid[p] + 2.0 * lost[p]
                tr_dopen[jd, t - 1, p0 + p] = 1.0 if ec[p] == 0.0 else 0.0
