"""The month × age plane of a ledger (DESIGN 6.3): each invoice's open amount as steps (one per
month with events), its segments accumulated along age diagonals with difference arrays and by
their overlap with each age group, and its events as points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._ledger_table import CREDIT_NOTE, PAYMENT, RECOVERY, WRITE_OFF

#: An open amount at most this share of its invoice counts as settled (rounding of payments).
OPEN_TOL = 1e-9


@dataclass
class _Steps:
    """Events summed by (invoice, month), sorted: the open amount after each month's events."""

    inv: np.ndarray
    month: np.ndarray
    delta: np.ndarray  # payments + write-offs + credit notes of the month
    pay: np.ndarray
    wo: np.ndarray
    cn: np.ndarray
    open_after: np.ndarray
    open_before: np.ndarray
    next_month: np.ndarray  # the next step's month of the same invoice, or the last month


def _steps(amount, ev_inv, ev_month, ev_amount, ev_kind, last_m) -> _Steps:
    settle = ev_kind != RECOVERY
    inv, month, amt, kind = ev_inv[settle], ev_month[settle], ev_amount[settle], ev_kind[settle]
    m0 = int(month.min()) if len(month) else 0
    span = last_m - m0 + 2
    key = inv.astype(np.int64) * span + (month - m0)
    uniq, inverse = np.unique(key, return_inverse=True)
    n = len(uniq)
    g_inv = uniq // span
    g_month = uniq % span + m0

    def total(mask=None):
        w = amt if mask is None else np.where(mask, amt, 0.0)
        return np.bincount(inverse, weights=w, minlength=n)

    delta = total()
    cs = np.cumsum(delta)
    first = np.r_[True, g_inv[1:] != g_inv[:-1]] if n else np.zeros(0, dtype=bool)
    first_of_invoice = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    offset = (cs - delta)[first_of_invoice]
    open_after = amount[g_inv] - (cs - offset)
    last = np.r_[g_inv[1:] != g_inv[:-1], True] if n else np.zeros(0, dtype=bool)
    next_month = np.where(last, last_m, np.r_[g_month[1:], last_m] if n else g_month)
    return _Steps(
        inv=g_inv,
        month=g_month,
        delta=delta,
        pay=total(kind == PAYMENT),
        wo=total(kind == WRITE_OFF),
        cn=total(kind == CREDIT_NOTE),
        open_after=open_after,
        open_before=open_after + delta,
        next_month=next_month,
    )


class _Plane:
    """Accumulators over (pair, age) and (customer, group, block)."""

    def __init__(self, first_m, last_m, groups, n_cust, time_blocks, n_inv) -> None:
        self.f, self.t, self.g, self.n_cust = first_m, last_m, groups, n_cust
        p = last_m - first_m
        self.p = p
        a = groups.n_ages
        self.expo_ka = np.zeros((p, a))
        self.open_ka = np.zeros((p, a))
        self.coll_ka = np.zeros((p, a))
        self.wo_ka = np.zeros((p, a))
        self.cn_ka = np.zeros((p, a))
        tb = time_blocks or p
        self.block = (p - 1 - np.arange(p)) // tb
        self.block = self.block.max() - self.block  # block 0 is the oldest
        nb = int(self.block.max()) + 1
        self.nb = nb
        gg = groups.n_groups
        self.cust = np.zeros((3, n_cust, gg, nb))
        self.inv_months = np.zeros(gg)
        self.hit = np.zeros((gg, n_inv), dtype=bool)  # invoices with exposure in each group
        self.pay_count = np.zeros(gg, dtype=np.int64)
        self.wo_count = np.zeros(gg, dtype=np.int64)
        self.block_lo = np.array([np.flatnonzero(self.block == b).min() for b in range(nb)])
        self.block_hi = np.array([np.flatnonzero(self.block == b).max() + 1 for b in range(nb)])

    def dropped_exposure(self) -> float:
        drop = np.flatnonzero(self.g.bucket < 0)
        return float(self.cust[0][:, drop].sum()) if len(drop) else 0.0

    def dropped_flows(self) -> float:
        drop = np.flatnonzero(self.g.bucket < 0)
        return float(self.cust[1:, :, drop].sum()) if len(drop) else 0.0

    def fold(self, age: np.ndarray) -> np.ndarray:
        return np.clip(age, 0, self.g.n_ages - 1)

    def diagonal(self, target: np.ndarray, s, e, cohort, v) -> None:
        """Add ``v`` at pairs ``s..e-1`` (months) with age ``month - cohort`` to ``target``."""
        if not len(s):
            return
        cmin = int(cohort.min())
        nc = self.t - cmin + 1
        width = self.p + 1
        d = np.bincount((cohort - cmin) * width + (s - self.f), weights=v, minlength=nc * width)
        d -= np.bincount((cohort - cmin) * width + (e - self.f), weights=v, minlength=nc * width)
        x = np.cumsum(d.reshape(nc, width), axis=1)[:, : self.p]
        kk = np.arange(self.p)
        age = self.f + kk[None, :] - (np.arange(nc) + cmin)[:, None]
        live = age >= 0
        idx = kk[None, :] * self.g.n_ages + self.fold(age)
        target += np.bincount(idx[live], weights=x[live], minlength=self.p * self.g.n_ages).reshape(
            self.p, self.g.n_ages
        )

    def flat(self, target: np.ndarray, s, e, v) -> None:
        """Add ``v`` at pairs ``s..e-1`` at age 0 (not yet due)."""
        if not len(s):
            return
        d = np.bincount(s - self.f, weights=v, minlength=self.p + 1)
        d -= np.bincount(e - self.f, weights=v, minlength=self.p + 1)
        target[:, 0] += np.cumsum(d)[: self.p]

    def overlaps(self, s, e, cohort, flat: bool):
        """Per group and block: the number of pairs of each segment in it."""
        g = self.g
        for gi in range(g.n_groups):
            for b in range(self.nb):
                lo_m = self.f + self.block_lo[b]
                hi_m = self.f + self.block_hi[b]
                if flat:
                    if g.lo[gi] > 0:
                        continue
                    n = np.minimum(e, hi_m) - np.maximum(s, lo_m)
                else:
                    n = np.minimum(np.minimum(e, cohort + g.hi[gi]), hi_m) - np.maximum(
                        np.maximum(s, cohort + g.lo[gi]), lo_m
                    )
                yield gi, b, np.maximum(n, 0)

    def customer_segments(self, s, e, cohort, v, cust, inv, flat: bool) -> None:
        for gi, b, n in self.overlaps(s, e, cohort, flat):
            if not n.any():
                continue
            self.cust[0][:, gi, b] += np.bincount(cust, weights=v * n, minlength=self.n_cust)
            self.inv_months[gi] += float(n.sum())
            self.hit[gi, inv[n > 0]] = True

    def points(self, which: int, k, age, cust, v) -> None:
        grp = self.g.of_age(age)
        b = self.block[k]
        if len(k) < 10_000:
            np.add.at(self.cust[which], (cust, grp, b), v)
            return
        gg, nb = self.g.n_groups, self.nb
        idx = (cust * gg + grp) * nb + b
        self.cust[which] += np.bincount(idx, weights=v, minlength=self.n_cust * gg * nb).reshape(
            self.n_cust, gg, nb
        )


def _add_segments(plane: _Plane, st: _Steps, amount, cust, inv_month, due_month) -> None:
    n = len(amount)
    has = np.zeros(n, dtype=bool)
    has[st.inv] = True
    first_step = np.full(n, plane.t, dtype=np.int64)
    if len(st.inv):
        firsts = np.r_[True, st.inv[1:] != st.inv[:-1]]
        first_step[st.inv[firsts]] = st.month[firsts]
    s = np.concatenate([inv_month, st.month])
    e = np.concatenate([first_step, st.next_month])
    v = np.concatenate([amount, st.open_after])
    inv = np.concatenate([np.arange(n), st.inv])
    tol = OPEN_TOL * amount[inv]
    s = np.maximum(s, plane.f)
    e = np.minimum(e, plane.t)
    keep = (s < e) & (v > tol)
    s, e, v, inv = s[keep], e[keep], v[keep], inv[keep]
    c = cust[inv]
    due = due_month[inv]
    pre = s < due  # not yet due: age 0
    ps, pe = s[pre], np.minimum(e[pre], due[pre])
    plane.flat(plane.open_ka, ps, pe, v[pre])
    plane.flat(plane.expo_ka, ps, pe, v[pre])
    plane.customer_segments(ps, pe, due[pre], v[pre], c[pre], inv[pre], flat=True)
    qs = np.maximum(s, due)
    post = qs < e
    qs, qe, qv, qc, qi, qd = qs[post], e[post], v[post], c[post], inv[post], due[post]
    plane.diagonal(plane.open_ka, qs, qe, qd, qv)
    plane.diagonal(plane.expo_ka, qs, qe, qd, qv)
    plane.customer_segments(qs, qe, qd, qv, qc, qi, flat=False)


def _add_points(plane: _Plane, st: _Steps, amount, cust, inv_month, due_month) -> None:
    m = st.month
    start = m - 1
    ok = (start >= plane.f) & (start < plane.t) & (start >= inv_month[st.inv])
    inv = st.inv[ok]
    k = start[ok] - plane.f
    age = np.maximum(start[ok] - due_month[inv], 0)
    a = plane.fold(age)
    c = cust[inv]
    grp = plane.g.of_age(age)
    for target, which, values, counter in (
        (plane.coll_ka, 1, st.pay[ok], plane.pay_count),
        (plane.wo_ka, 2, st.wo[ok], plane.wo_count),
    ):
        np.add.at(target, (k, a), values)
        plane.points(which, k, age, c, values)
        np.add.at(counter, grp, (values > 0).astype(np.int64))
    cn = st.cn[ok]
    np.add.at(plane.cn_ka, (k, a), cn)
    before = st.open_before[ok]
    before = np.where(before > OPEN_TOL * amount[inv], before, 0.0)
    adj = np.where(before > 0, np.maximum(before - cn, 0.0) - before, 0.0)
    live = adj != 0
    np.add.at(plane.expo_ka, (k[live], a[live]), adj[live])
    plane.points(0, k[live], age[live], c[live], adj[live])


def _cash_like(st: _Steps, amount, inv_month, first_m, last_m) -> dict[str, float]:
    """Payments dated by each invoice's first month end over its amount net of credit notes
    then, for invoices whose first month end is in the window (DESIGN 6.3)."""
    in_win = (inv_month >= first_m) & (inv_month <= last_m)
    same = st.month == inv_month[st.inv]
    paid = np.bincount(st.inv[same], weights=st.pay[same], minlength=len(amount))
    cn = np.bincount(st.inv[same], weights=st.cn[same], minlength=len(amount))
    return {
        "paid": float(paid[in_win].sum()),
        "net_amount": float((amount - cn)[in_win].sum()),
        "invoices": int(in_win.sum()),
    }
