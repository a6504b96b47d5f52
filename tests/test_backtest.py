"""The backtest's computation (DESIGN 7): origins and the data end, the realized series of a
hand-computed ledger, nothing after an origin reaching its fit, the opening book and billings
that the forecast uses, horizons past the data end, the naive forecast, and the forecast with
parameter risk (the mixture over the fit's bootstrap, wider than with the rates as known)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import binom_acceptance
from factories import make

from simulator import simulate
from simulator.backtest import (
    BacktestError,
    BacktestOptions,
    backtest,
    check_origins,
    fit_origin,
    ledger_data_end,
    origin_scenario,
    parse_origins,
    realized_series,
    rolling_origins,
)
from simulator.backtest._forecast import series_samples
from simulator.data import ledger_from_frames, replicates_table, synth_ledger
from simulator.scenario import with_overrides

D = dt.date

# --------------------------------------------------------------------------------------------
# A ledger small enough to work out by hand: month ends Jan..May 2024, buckets 0-2m and 2m+

INVOICES = pd.DataFrame(
    {
        "invoice_id": ["A", "B", "C", "D"],
        "customer": ["x", "y", "x", "y"],
        "invoice_date": ["2024-01-15", "2024-02-20", "2024-03-03", "2024-03-10"],
        "amount": ["100", "50", "80", "40"],
    }
)
EVENTS = pd.DataFrame(
    {
        "invoice_id": ["A", "A", "B", "C", "D", "D"],
        "date": [
            "2024-02-10",
            "2024-04-05",
            "2024-05-31",
            "2024-03-25",
            "2024-04-15",
            "2024-05-20",
        ],
        "amount": ["30", "70", "50", "80", "10", "30"],
        "kind": ["payment", "payment", "write_off", "payment", "credit_note", "payment"],
    }
)


def test_realized_series_by_hand():
    """A (100, 15 Jan): pays 30 in Feb and 70 in Apr. B (50, 20 Feb): written off on 31 May.
    C (80, 3 Mar): paid within its month (cash-like: never billed on credit, and its payment is
    not a collection of the book). D (40, 10 Mar): a credit note of 10 in Apr, pays 30 in May.
    Billings are what is open at the end of the invoice's month; collections and write-offs of
    month t are on invoices dated by the month end before; gross by age bucket at each month
    end."""
    ledger = ledger_from_frames(INVOICES, EVENTS)
    assert ledger_data_end(ledger) == D(2024, 5, 31)
    r = realized_series(
        ledger,
        start=D(2024, 1, 31),
        data_end=D(2024, 5, 31),
        edges_months=[0, 2],
        labels=["0-2m", "2m+"],
    )
    assert r.month_ends == [
        D(2024, 1, 31),
        D(2024, 2, 29),
        D(2024, 3, 31),
        D(2024, 4, 30),
        D(2024, 5, 31),
    ]
    np.testing.assert_allclose(r.billings, [100, 50, 40, 0, 0])
    np.testing.assert_allclose(r.collections, [np.nan, 30, 0, 70, 30])
    np.testing.assert_allclose(r.write_offs, [np.nan, 0, 0, 0, 50])
    np.testing.assert_allclose(r.credit_notes, [np.nan, 0, 0, 10, 0])
    np.testing.assert_allclose(r.gross_by_bucket, [[100, 0], [120, 0], [90, 70], [30, 50], [0, 0]])
    np.testing.assert_allclose(r.gross, [100, 120, 160, 80, 0])
    after = r.after(D(2024, 2, 29), 2)
    np.testing.assert_allclose(after["collections"], [0, 70])
    np.testing.assert_allclose(after["gross_by_bucket"], [[90, 70], [30, 50]])
    table = r.table()
    assert list(table.columns[-2:]) == ["gross_0-2m", "gross_2m+"]
    # with due dates the ages move, the billings do not
    due = INVOICES.assign(due_date=["2024-03-15", "2024-03-20", "2024-04-03", "2024-04-10"])
    rd = realized_series(
        ledger_from_frames(due, EVENTS),
        start=D(2024, 1, 31),
        data_end=D(2024, 5, 31),
        edges_months=[0, 2],
        labels=["0-2m", "2m+"],
        age_basis="due",
    )
    np.testing.assert_allclose(rd.billings, r.billings)
    np.testing.assert_allclose(rd.gross, r.gross)
    np.testing.assert_allclose(rd.gross_by_bucket, [[100, 0], [120, 0], [160, 0], [80, 0], [0, 0]])


def test_the_data_end_is_the_last_complete_month():
    inv = INVOICES.copy()
    ev = EVENTS.copy()
    ev.loc[ev.invoice_id == "B", "date"] = "2024-05-30"
    assert ledger_data_end(ledger_from_frames(inv, ev)) == D(2024, 4, 30)


def test_rolling_and_listed_origins():
    start, end = D(2020, 1, 31), D(2021, 6, 30)
    # the last 3 month ends with a month after them; the first possible is 12 months in
    assert rolling_origins(3, start=start, data_end=end, source="f") == [
        D(2021, 3, 31),
        D(2021, 4, 30),
        D(2021, 5, 31),
    ]
    assert rolling_origins(5, start=start, data_end=end, source="f")[0] == D(2021, 1, 31)
    with pytest.raises(BacktestError, match="only 5 month ends"):
        rolling_origins(6, start=start, data_end=end, source="f")
    got = parse_origins("2021-05-31, 2021-01-31,2021-05-31", "f")
    assert got == [D(2021, 1, 31), D(2021, 5, 31)]
    assert check_origins(got, start=start, data_end=end, source="f") == got
    for bad, text in (
        ([D(2021, 5, 30)], "not a month end"),
        ([D(2021, 6, 30)], "no month of data after it"),
        ([D(2020, 12, 31)], "11 month-end pairs"),
    ):
        with pytest.raises(BacktestError, match=text) as info:
            check_origins(bad, start=start, data_end=end, source="f")
        assert str(info.value).startswith("f: --origins: ")
    with pytest.raises(BacktestError, match="expected dates"):
        parse_origins("2021-05-31,soon", "f")


# --------------------------------------------------------------------------------------------
# Synthetic ledgers (DESIGN 6.6)

EDGES = [0, 3, 6, 12]
AS_OF = D(2024, 6, 30)


def _scenario(**over):
    base = {
        "scenario.as_of": AS_OF,
        "collections.monthly_rate": [0.3, 0.15, 0.08, 0.04],
        "defaults.monthly_rate": [0.01, 0.015, 0.02, 0.03],
        "revenue.credit_share": 0.8,
    }
    base.update(over)
    return make(base)


@pytest.fixture(scope="module")
def synth():
    return synth_ledger(_scenario(), 120, 40, seed=5)


def _plant(frame: pd.DataFrame, origin: D) -> pd.DataFrame:
    """A huge payment after the origin on an invoice open there, and a huge invoice after it."""
    out = frame.copy()
    dates = pd.to_datetime(out["invoice_date"]).dt.date
    settled = pd.to_datetime(out["settled_date"].replace("", None)).dt.date
    open_at = (
        (dates <= origin) & (out["written_off_date"] == "") & (settled.isna() | (settled > origin))
    )
    i = open_at[open_at].index[0]
    out.loc[i, ["settled_date", "settled_amount"]] = ["2024-01-03", out.loc[i, "amount"]]
    huge = {
        "invoice_id": "PLANTED",
        "customer": "C0001",
        "invoice_date": "2024-01-10",
        "amount": "1000000000.0",
        "settled_date": "2024-02-05",
        "settled_amount": "1000000000.0",
        "written_off_date": "",
        "written_off_amount": "",
    }
    return pd.concat([out, pd.DataFrame([huge])], ignore_index=True)


def test_the_fit_never_sees_data_after_the_origin(synth):
    """Planting a huge payment and a huge invoice after the origin changes what happened after
    it, and nothing of the fit: rates, bootstrap replicates, exposures, the opening book, the
    naive rates and the scenario (but the line of its sources that counts the file's invoices)."""
    origin = D(2023, 12, 31)
    clean = ledger_from_frames(synth.invoices)
    planted = ledger_from_frames(_plant(synth.invoices, origin))
    opts = BacktestOptions(
        edges_months=tuple(EDGES), parameter_risk=True, bootstrap=40, time_blocks=6
    )
    a, b = fit_origin(clean, origin, opts), fit_origin(planted, origin, opts)
    for name in ("c", "p", "raw_c", "raw_p", "c_replicates", "p_replicates", "c_interval"):
        np.testing.assert_array_equal(getattr(a.fit, name), getattr(b.fit, name), err_msg=name)
    for name in (
        "exposure_by_age",
        "collected_by_age",
        "written_off_by_age",
        "balance_by_age",
        "customer_exposure",
        "customer_collected",
    ):
        x, y = getattr(a.fit.exposures, name), getattr(b.fit.exposures, name)
        if name.startswith("customer_"):  # the planted file has the same customers
            assert x.shape == y.shape
        np.testing.assert_array_equal(x, y, err_msg=name)
    np.testing.assert_array_equal(a.naive_c, b.naive_c)
    np.testing.assert_array_equal(a.naive_p, b.naive_p)
    sa, sb = dict(a.scenario), dict(b.scenario)
    assert {k: v for k, v in sa["scenario"].items() if k != "sources"} == {
        k: v for k, v in sb["scenario"].items() if k != "sources"
    }
    assert {k: v for k, v in sa.items() if k != "scenario"} == {
        k: v for k, v in sb.items() if k != "scenario"
    }
    # the same billings give the same forecast, bit for bit
    billings = np.full(6, 50.0)
    sc_a = origin_scenario(a, 6, billings, opts)
    sc_b = origin_scenario(b, 6, billings, opts)
    assert sc_a.model_dump(exclude={"scenario"}) == sc_b.model_dump(exclude={"scenario"})
    # ... while what happened after the origin is not the same
    kw = {"start": origin, "data_end": AS_OF, "edges_months": EDGES, "labels": ["a", "b", "c", "d"]}
    ra, rb = realized_series(clean, **kw), realized_series(planted, **kw)
    assert rb.billings[1] - ra.billings[1] == pytest.approx(1e9)  # open at the end of January
    assert rb.collections[2] - ra.collections[2] == pytest.approx(1e9)  # paid in February
    assert rb.collections[1] > ra.collections[1]  # the planted payment in January


def test_the_forecast_starts_from_the_realized_book_with_the_realized_billings(synth):
    ledger = ledger_from_frames(synth.invoices)
    opts = BacktestOptions(edges_months=tuple(EDGES), paths=64)
    bt = backtest(ledger, horizon=4, origins=[D(2023, 12, 31), D(2024, 3, 31)], options=opts)
    r = bt.realized
    for k, o in enumerate(bt.origins):
        t = D.fromisoformat(o["origin"])
        i = r.index(t)
        gross = [o["rates"][lab]["opening_gross"] for lab in bt.info["labels"]]
        np.testing.assert_allclose(gross, r.gross_by_bucket[i], rtol=1e-12)
        sc = bt.scenarios[o["origin"]]
        assert sc.scenario.as_of == t
        assert sc.simulation.horizon_months == o["horizon_months"] == (4 if k == 0 else 3)
        np.testing.assert_array_equal(sc.revenue.credit_billings, r.billings[i + 1 : i + 5])
        np.testing.assert_allclose(sc.buckets.gross, r.gross_by_bucket[i], rtol=1e-5)
    # the data end is the ledger's last month end (its write-offs are dated at month ends)
    assert bt.info["data_end"] == "2024-06-30"
    f = bt.forecasts
    assert set(f[f.origin == "2024-03-31"].horizon) == {1, 2, 3}
    assert "collections_12m" not in set(f.series)
    # realized values in the table are the realized series
    row = f[(f.origin == "2023-12-31") & (f.series == "collections") & (f.horizon == 2)].iloc[0]
    assert row["realized"] == r.collections[r.index(D(2024, 2, 29))]
    assert row["month_end"] == "2024-02-29"


def test_a_point_forecast_on_the_naive_window_is_the_naive_forecast(synth):
    """Without a base and with the window cut to the last 12 month-end pairs, the model's rates
    are the naive ones: every path is the naive forecast, the CRPS its absolute error, the skill
    0 (to the 6 significant digits of the rates and balances the scenario file is written
    with); the same call again gives the same numbers."""
    ledger = ledger_from_frames(synth.invoices)
    origin = D(2023, 12, 31)
    opts = BacktestOptions(edges_months=tuple(EDGES), paths=16, start=D(2022, 12, 31))
    bt = backtest(ledger, horizon=6, origins=[origin], options=opts)
    f = bt.forecasts
    assert bt.info["point_forecast"]
    np.testing.assert_allclose(f["mean"], f["naive"], rtol=1e-5)
    np.testing.assert_allclose(f["p5"], f["p95"], rtol=1e-12)
    np.testing.assert_allclose(f["crps"], np.abs(f["mean"] - f["realized"]), rtol=1e-12)
    scale = f["realized"].abs().max()
    np.testing.assert_allclose(f["crps"], f["naive_abs_error"], atol=1e-5 * scale)
    assert bt.metric("collections", "skill") == pytest.approx(0.0, abs=1e-3)
    again = backtest(ledger, horizon=6, origins=[origin], options=opts)
    pd.testing.assert_frame_equal(again.forecasts, f)


def test_horizons_past_the_data_end_and_twelve_month_collections(synth):
    ledger = ledger_from_frames(synth.invoices)
    opts = BacktestOptions(edges_months=tuple(EDGES), paths=32)
    bt = backtest(ledger, horizon=14, rolling=3, data_end=D(2024, 6, 30), options=opts)
    assert [o["origin"] for o in bt.origins] == ["2024-03-31", "2024-04-30", "2024-05-31"]
    assert [o["horizon_months"] for o in bt.origins] == [3, 2, 1]
    listed = backtest(ledger, horizon=14, origins=[D(2023, 4, 30), D(2023, 6, 30)], options=opts)
    assert [o["horizon_months"] for o in listed.origins] == [14, 12]
    c12 = listed.forecasts[listed.forecasts.series == "collections_12m"]
    assert list(c12.origin) == ["2023-04-30", "2023-06-30"] and set(c12.horizon) == {12}
    r = listed.realized
    i = r.index(D(2023, 4, 30))
    assert c12.iloc[0]["realized"] == pytest.approx(r.collections[i + 1 : i + 13].sum())
    by_h = listed.metrics[(listed.metrics.series == "collections")]
    assert by_h.set_index("horizon").loc["13", "n"] == 1  # only the first origin reaches 13


def test_requests_that_cannot_run_are_one_line_errors(synth):
    ledger = ledger_from_frames(synth.invoices)
    cases = [
        ({"horizon": 0, "rolling": 2}, "--horizon"),
        ({"horizon": 3}, "--origins"),
        ({"horizon": 3, "rolling": 2, "data_end": D(2024, 6, 29)}, "--data-end"),
        ({"horizon": 3, "rolling": 2, "data_end": D(2024, 7, 31)}, "--data-end"),
        ({"horizon": 3, "rolling": 40}, "--rolling"),
    ]
    for kw, field in cases:
        with pytest.raises(BacktestError) as info:
            backtest(ledger, options=BacktestOptions(edges_months=tuple(EDGES)), **kw)
        assert f": {field}: " in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BacktestError, match="--billings: model billings need --base"):
        backtest(ledger, horizon=3, rolling=1, options=BacktestOptions(billings="model"))
    # a bucket the window never reaches, without a base to keep its rates
    with pytest.raises(BacktestError, match="--edges-months: no exposure in bucket"):
        backtest(ledger, horizon=3, rolling=1, options=BacktestOptions(edges_months=(0, 3, 60)))


# --------------------------------------------------------------------------------------------
# Parameter risk (DESIGN 7, 2.14): the fit's bootstrap as parameter replicates


def test_parameter_risk_is_the_mixture_over_the_fits_bootstrap(synth):
    """Without a factor every path of a replicate is the same number, so the parameter-risk
    forecast is known exactly: with 60 paths and 20 replicates each replicate runs 3 paths
    (path n runs replicate π[n mod 20]), and the sample is each replicate's point forecast
    three times. The replicates are the fit's bootstrap at the origin; the plain forecast, a
    point forecast, has no width."""
    ledger = ledger_from_frames(synth.invoices)
    opts = BacktestOptions(edges_months=tuple(EDGES), parameter_risk=True, bootstrap=20, paths=60)
    origins = [D(2023, 12, 31), D(2024, 3, 31)]
    bt = backtest(ledger, horizon=4, origins=origins, options=opts)
    assert bt.variants == ["plain", "parameter_risk"] and bt.info["point_forecast"]
    f = bt.forecasts
    plain, risk = f[f.variant == "plain"], f[f.variant == "parameter_risk"]
    np.testing.assert_array_equal(plain["p5"], plain["p95"])
    for origin in origins:
        key = origin.isoformat()
        fit = fit_origin(ledger, origin, opts).fit
        table = bt.replicates[key]
        pd.testing.assert_frame_equal(table, replicates_table(fit))
        assert len(table) == 20 and fit.c_replicates is not None
        sc = bt.scenarios[key]
        one = {"simulation.paths": 1, "simulation.trajectory_paths": 1}
        points = np.array(
            [
                series_samples(simulate(with_overrides(sc, {**row, **one})), opts.labels)[
                    "collections"
                ][0]
                for row in table.to_dict("records")
            ]
        )  # (replicate, month)
        rows = risk[(risk.origin == key) & (risk.series == "collections")].sort_values("horizon")
        sample = np.repeat(points, 3, axis=0)
        np.testing.assert_allclose(rows["mean"], points.mean(axis=0), rtol=1e-10)
        for q in (5, 50, 95):
            np.testing.assert_allclose(
                rows[f"p{q}"], np.quantile(sample, q / 100, axis=0), rtol=1e-10
            )
        assert (rows["p95"] > rows["p5"]).all()


def test_parameter_risk_widens_the_forecast_on_a_small_ledger():
    """On a ledger of 30 customers the fitted rates are uncertain: with the fit's bootstrap
    the central 90 % intervals are wider, row by row, than with the rates taken as known (the
    mixture adds the variance of the conditional means, DESIGN 2.14). The base's factor is
    weak here, so the rates' uncertainty is not lost in the factor's (with a loading of 0.6,
    monthly collections' widths differ by ±1 %, either way, from one ledger to the next)."""
    sc = _scenario(**{"collections.factor_loading": 0.15, "defaults.correlation": 0.05})
    ledger = ledger_from_frames(synth_ledger(sc, 30, 40, seed=3).invoices)
    opts = BacktestOptions(
        edges_months=tuple(EDGES), base=sc, parameter_risk=True, bootstrap=40, paths=1024
    )
    bt = backtest(ledger, horizon=6, rolling=2, options=opts)
    f = bt.forecasts.assign(width=lambda d: d.p95 - d.p5)
    # paired over (origin, series, horizon): a sign test. Were the bootstrap to add nothing,
    # each row would widen or narrow with probability 1/2; more rows widen than that allows
    # at the failure budget (binom_acceptance's upper bound)
    keys = ["origin", "series", "horizon"]
    paired = f.pivot_table(index=keys, columns="variant", values="width")
    d = (paired["parameter_risk"] - paired["plain"]).to_numpy()
    _, hi = binom_acceptance(len(d), 0.5)
    assert (d > 0).sum() > hi, (int((d > 0).sum()), hi, len(d))
