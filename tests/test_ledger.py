"""Invoice ledgers (DESIGN 6): hand-computed exposures, flows, rates and the aged balance; month
arithmetic; the bad-data rules; the three file formats; the command line."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from conftest import IFLYTEK, MINIMAL

from simulator.cli import main
from simulator.data import (
    age_months,
    fit_ledger,
    ledger_exposures,
    ledger_from_frames,
    read_ledger,
)
from simulator.data._ledger_table import date_to_day
from simulator.scenario import load_scenario

# --------------------------------------------------------------------------------------------
# A ledger small enough to work out by hand (as of 2024-05-31, buckets 0-2m and 2m+)

INVOICES = pd.DataFrame(
    {
        "invoice_id": ["A", "B", "C", "D", "E"],
        "customer": ["x", "x", "y", "z", "y"],
        "invoice_date": ["2024-01-15", "2024-01-31", "2024-02-10", "2024-03-20", "2024-04-05"],
        "amount": ["100", "50", "80", "40", "30"],
    }
)
EVENTS = pd.DataFrame(
    {
        "invoice_id": ["A", "A", "B", "C", "C", "D"],
        "date": [
            "2024-02-10",
            "2024-04-02",
            "2024-03-15",
            "2024-03-05",
            "2024-05-10",
            "2024-04-30",
        ],
        "amount": ["30", "70", "50", "10", "20", "40"],
        "kind": ["payment", "payment", "write_off", "credit_note", "payment", "payment"],
    }
)
AS_OF = dt.date(2024, 5, 31)


def _hand():
    ledger = ledger_from_frames(INVOICES, EVENTS)
    return ledger, ledger_exposures(ledger, as_of=AS_OF, edges_months=[0, 2])


def test_hand_computed_exposures_flows_rates_and_aged_balance():
    """Pairs Jan→Feb, Feb→Mar, Mar→Apr, Apr→May; ages 0, 1, 2+ at the first month end.

    A (100, 15 Jan): open 100 at Jan (age 0), pays 30 in Feb, 70 at age 2 in Apr.
    B (50, 31 Jan): age 0 at 31 Jan (a month end is age 0 of its own month), written off at age 1.
    C (80, 10 Feb): a credit note of 10 in Mar nets its exposure to 70; pays 20 in May; 50 open.
    D (40, 20 Mar): paid in full at age 0 in Apr. E (30, 5 Apr): still open at the as-of date.
    """
    ledger, ex = _hand()
    assert ex.n_pairs == 4 and ex.start == dt.date(2024, 1, 31)
    expo = [[150, 0, 0], [70, 120, 0], [40, 70, 70], [30, 0, 70]]
    opened = [[150, 0, 0], [80, 120, 0], [40, 70, 70], [30, 0, 70]]
    np.testing.assert_allclose(ex.exposure_by_age, expo)
    np.testing.assert_allclose(ex.open_by_age, opened)
    np.testing.assert_allclose(
        ex.collected_by_age, [[30, 0, 0], [0, 0, 0], [40, 0, 70], [0, 0, 20]]
    )
    np.testing.assert_allclose(ex.written_off_by_age, [[0, 0, 0], [0, 50, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(ex.credited_by_age, [[0, 0, 0], [10, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(ex.gross, [30.0, 50.0])
    assert ex.open_invoices.tolist() == [1, 1]
    np.testing.assert_allclose(ex.balance_by_age, [0, 30, 0, 50, 0])  # A is aged 4, closed
    assert ex.invoice_months.tolist() == [8, 2] and ex.invoices.tolist() == [5, 2]
    assert ex.cash_like == {"paid": 0.0, "net_amount": 300.0, "invoices": 5}
    fit = fit_ledger(ex, bootstrap=0)
    np.testing.assert_allclose(fit.exposure, [480, 140])
    np.testing.assert_allclose(fit.raw_c, [70 / 480, 90 / 140])
    np.testing.assert_allclose(fit.raw_p, [50 / 480, 0.0])
    np.testing.assert_allclose(fit.c, fit.raw_c)  # no base: beta = 0, m = 1, no cap binding
    np.testing.assert_allclose(fit.dilution, [10 / 490, 0.0])
    assert fit.cash_like_share == 0.0
    # the customers' table sums to the same exposure, customer by customer
    cust = dict(zip(ledger.customers, ex.customer_exposure.sum(axis=(1, 2)), strict=True))
    assert cust == pytest.approx({"x": 100 + 50 + 70 + 50 + 70, "y": 70 + 70 + 70 + 30, "z": 40})


def test_one_row_form_gives_the_same_as_events():
    one = INVOICES.assign(
        settled_date=["", "", "", "2024-04-30", ""],
        settled_amount=["", "", "", "", ""],
        written_off_date=["", "2024-03-15", "", "", ""],
        written_off_amount=["", "", "", "", ""],
    )
    ev = EVENTS[EVENTS["invoice_id"].isin(["B", "D"])]
    a = ledger_exposures(ledger_from_frames(one), as_of=AS_OF, edges_months=[0, 2])
    b = ledger_exposures(
        ledger_from_frames(INVOICES, ev.reset_index(drop=True)), as_of=AS_OF, edges_months=[0, 2]
    )
    np.testing.assert_allclose(a.exposure_by_age, b.exposure_by_age)
    np.testing.assert_allclose(a.written_off_by_age, b.written_off_by_age)


def test_reversals_prepayments_recoveries_and_negative_lines():
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "CN1", "B"],
            "customer": ["x", "x", "y"],
            "invoice_date": ["2024-01-10", "2024-02-10", "2024-01-20"],
            "amount": ["100", "-15", "60"],
        }
    )
    ev = pd.DataFrame(
        {
            "invoice_id": ["A", "A", "A", "B", "B", "B"],
            "date": [
                "2024-02-05",
                "2024-03-05",
                "2024-04-05",
                "2023-12-01",
                "2024-02-20",
                "2024-04-10",
            ],
            "amount": ["40", "40", "60", "10", "50", "7"],
            "kind": ["payment", "reversal", "payment", "payment", "write_off", "recovery"],
        }
    )
    ledger = ledger_from_frames(inv, ev)
    assert ledger.counts["prepayments"] == 1 and ledger.counts["reversals"] == 1
    ex = ledger_exposures(ledger, as_of=dt.date(2024, 4, 30), edges_months=[0, 2])
    # A: +40 in Feb (age 0), -40 in Mar (age 1), +60 in Apr (age 2)
    np.testing.assert_allclose(ex.collected_by_age[:, :3].sum(axis=0), [40, -40, 60])
    # B: prepaid 10 in its own month (cash-like), written off 50 at age 0
    assert ex.cash_like["paid"] == 10.0 and ex.cash_like["net_amount"] == 160.0
    np.testing.assert_allclose(ex.written_off_by_age.sum(), 50.0)
    assert ex.totals["recoveries"] == 7.0 and ex.totals["credit_lines"] == 15.0
    np.testing.assert_allclose(ex.gross, [0.0, 40.0])  # A: 100 - 40 + 40 - 60, aged 3


def test_write_off_age_sets_policy_write_offs_apart():
    inv = pd.DataFrame(
        {
            "invoice_id": ["A", "B"],
            "customer": ["x", "y"],
            "invoice_date": ["2024-01-10", "2024-01-10"],
            "amount": ["100", "100"],
        }
    )
    ev = pd.DataFrame(
        {
            "invoice_id": ["A", "B"],
            "date": ["2024-05-20", "2024-02-15"],
            "amount": ["100", "100"],
            "kind": ["write_off", "write_off"],
        }
    )
    ex = ledger_exposures(
        ledger_from_frames(inv, ev),
        as_of=dt.date(2024, 5, 31),
        edges_months=[0, 2],
        write_off_age=4,
    )
    fit = fit_ledger(ex, bootstrap=0)
    # A is written off at age 3 = W - 1 (policy: out of p̂); B at age 0 (a default)
    np.testing.assert_allclose(fit.written_off, [100.0, 0.0])
    np.testing.assert_allclose(fit.exposure, [300.0, 200.0])  # ages 0, 1 | 2, 3 of A; age 0 of B
    np.testing.assert_allclose(fit.exposure_p, [300.0, 100.0])  # age 3 left out of p̂


@pytest.mark.parametrize(
    ("start", "at", "age"),
    [
        ("2024-01-31", "2024-02-29", 1),  # leap February: 31 Jan + 1 month = 29 Feb
        ("2024-01-31", "2024-02-28", 0),
        ("2023-01-31", "2023-02-28", 1),  # ordinary February
        ("2024-01-29", "2024-02-29", 1),
        ("2024-01-30", "2024-02-29", 1),
        ("2024-02-29", "2025-02-28", 12),  # a leap day plus a year is 28 Feb
        ("2024-02-29", "2025-02-27", 11),
        ("2024-03-31", "2024-04-30", 1),
        ("2024-03-30", "2024-04-29", 0),
        ("2024-05-15", "2024-06-15", 1),  # mid-month
        ("2024-05-20", "2024-06-15", 0),
        ("2024-06-30", "2024-06-30", 0),
        ("2023-12-31", "2024-06-30", 6),
    ],
)
def test_month_arithmetic(start, at, age):
    d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(at)
    assert age_months(np.array([date_to_day(d0)]), date_to_day(d1))[0] == age


def test_ages_at_month_ends_are_month_differences():
    days = np.arange(date_to_day(dt.date(2023, 1, 1)), date_to_day(dt.date(2025, 1, 1)))
    month_end = date_to_day(dt.date(2025, 2, 28))
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    np.testing.assert_array_equal(age_months(days, month_end), 661 - months)


# --------------------------------------------------------------------------------------------
# The command line: bad data, formats, outputs


def _write(tmp_path, inv: pd.DataFrame, ev: pd.DataFrame | None = None):
    path = tmp_path / "ledger.csv"
    inv.to_csv(path, index=False)
    if ev is None:
        return path, None
    epath = tmp_path / "events.csv"
    ev.to_csv(epath, index=False)
    return path, epath


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


BAD_CASES = [
    ("invoice_date", 2, "2024-13-01", "row 4: invoice_date: not a date"),  # header: row 1
    ("amount", 1, "12,5x", "row 3: amount: not a number: '12,5x'"),
    ("invoice_id", 4, "A", "row 2: invoice_id: duplicate invoice id 'A' (also on row 6)"),
    ("customer", 0, "", "row 2: customer: empty"),
    ("invoice_date", 1, "2024-02-30", "row 3: invoice_date: not a date"),  # no 30 February
    ("amount", 3, "inf", "row 5: amount: not a number: 'inf'"),
]


@pytest.mark.parametrize(("column", "row", "value", "words"), BAD_CASES)
def test_bad_invoice_rows(tmp_path, capsys, column, row, value, words):
    inv = INVOICES.copy()
    inv.loc[row, column] = value
    path, epath = _write(tmp_path, inv, EVENTS)
    out = tmp_path / "fit.toml"
    args = [
        "ledger",
        str(path),
        "--events",
        str(epath),
        "--as-of",
        "2024-05-31",
        "--edges-months",
        "0,2",
        "--out",
        str(out),
    ]
    code, _, err = _run(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"{path}: {words}")
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"invoice_id": (0, "Z")}, "row 2: invoice_id: no invoice with this id"),
        ({"amount": (1, "71")}, "row 3: amount: payments, write-offs and credit notes reach 101"),
        ({"kind": (2, "refund")}, "row 4: kind: unknown kind 'refund'"),
        ({"date": (0, "10/02/2024")}, "row 2: date: not a date"),
    ],
)
def test_bad_event_rows(tmp_path, capsys, change, words):
    ev = EVENTS.copy()
    for col, (row, value) in change.items():
        ev.loc[row, col] = value
    path, epath = _write(tmp_path, INVOICES, ev)
    code, _, err = _run(
        [
            "ledger",
            str(path),
            "--events",
            str(epath),
            "--as-of",
            "2024-05-31",
            "--edges-months",
            "0,2",
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"{epath}: {words}"), err


def test_as_of_before_every_invoice_mid_month_and_empty_ledger(tmp_path, capsys):
    path, epath = _write(tmp_path, INVOICES, EVENTS)
    base = ["ledger", str(path), "--events", str(epath), "--edges-months", "0,2"]
    code, _, err = _run([*base, "--as-of", "2023-12-31"], capsys)
    assert code == 2 and err.startswith(f"{path}: --as-of: 2023-12-31 is before every invoice")
    code, _, err = _run([*base, "--as-of", "2024-05-15"], capsys)
    assert code == 2 and err.startswith(f"{path}: --as-of: must be a month end")
    path.write_text("invoice_id,customer,invoice_date,amount\n")
    code, _, err = _run([*base, "--as-of", "2024-05-31"], capsys)
    assert code == 2 and err.startswith(f"{path}: -: no invoices")


def test_rejects_file_and_allow_rejects(tmp_path, capsys):
    inv = INVOICES.copy()
    inv.loc[4, "amount"] = "oops"
    inv.loc[2, "amount"] = "0"
    path, epath = _write(tmp_path, inv, EVENTS)
    rejects = tmp_path / "rejects.csv"
    out = tmp_path / "fit.toml"
    args = [
        "ledger",
        str(path),
        "--events",
        str(epath),
        "--as-of",
        "2024-05-31",
        "--edges-months",
        "0,2",
        "--rejects",
        str(rejects),
        "--out",
        str(out),
        "--json",
    ]
    code, _, err = _run(args, capsys)
    assert code == 2 and "written to" in err and rejects.exists() and not out.exists()
    table = pd.read_csv(rejects)
    # E's bad amount (row 6); C has a zero amount (skipped), so its two events name no invoice
    assert table["row"].tolist() == [6, 5, 6] and table["file"].tolist()[0] == str(path)
    code, stdout, _ = _run([*args, "--allow-rejects", "--force"], capsys)
    assert code == 0 and out.exists()
    doc = json.loads(stdout)
    assert doc["rejected_rows"] == 3 and doc["counts"]["zero_amount_rows"] == 1
    assert doc["ledger"]["invoices"] == 3  # C (zero) and E (bad) out; C's events rejected


@pytest.fixture(scope="module")
def synth_files(tmp_path_factory):
    """A small synthetic ledger (from iFlytek's scenario) as CSV, Parquet and Excel."""
    folder = tmp_path_factory.mktemp("synth")
    csv = folder / "ledger.csv"
    assert (
        main(
            [
                "synth-ledger",
                str(IFLYTEK),
                "--customers",
                "40",
                "--months",
                "72",
                "--seed",
                "5",
                "--out",
                str(csv),
            ]
        )
        == 0
    )
    frame = pd.read_csv(csv, comment=None, skiprows=1, dtype=str, keep_default_na=False)
    frame.to_parquet(folder / "ledger.parquet", index=False)
    with pd.ExcelWriter(folder / "ledger.xlsx", engine="openpyxl") as xl:
        typed = frame.copy()
        for c in ("invoice_date", "settled_date", "written_off_date"):
            typed[c] = pd.to_datetime(typed[c].replace("", None))
        for c in ("amount", "settled_amount", "written_off_amount"):
            typed[c] = pd.to_numeric(typed[c].replace("", None))
        typed.to_excel(xl, index=False, sheet_name="AR")
    return folder


def test_excel_and_parquet_give_the_same_as_csv(synth_files, capsys):
    docs = {}
    for ext in ("csv", "parquet", "xlsx"):
        code, out, err = _run(
            [
                "ledger",
                str(synth_files / f"ledger.{ext}"),
                "--as-of",
                "2024-09-30",
                "--edges-months",
                "0,6,12,24,36,48",
                "--bootstrap",
                "50",
                "--json",
            ],
            capsys,
        )
        assert code == 0, err
        docs[ext] = json.loads(out)

    def numbers(doc):
        out = []
        for part in (doc["rates"], doc["aged_balance"]):
            for row in part.values():
                for v in row.values():
                    out += v if isinstance(v, list) else [v]
        return np.array([np.nan if v is None else float(v) for v in out])

    for ext in ("parquet", "xlsx"):
        np.testing.assert_allclose(numbers(docs[ext]), numbers(docs["csv"]), rtol=1e-12)


def test_scenario_with_base_runs_and_replicates_table(synth_files, tmp_path, capsys):
    out = tmp_path / "fitted.toml"
    reps = tmp_path / "reps.parquet"
    code, text, err = _run(
        [
            "ledger",
            str(synth_files / "ledger.csv"),
            "--as-of",
            "2024-09-30",
            "--edges-months",
            "0,6,12,24,36,48",
            "--base",
            str(MINIMAL),
            "--out",
            str(out),
            "--replicates-out",
            str(reps),
            "--bootstrap",
            "20",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Aged trial balance at 2024-09-30" in text and "Scenario written to" in text
    written = out.read_text()
    assert "# The smallest valid scenario" in written  # the base's comments are kept
    data = tomllib.loads(written)
    assert data["buckets"]["edges_months"] == [0, 6, 12, 24, 36, 48]
    assert data["buckets"]["provision_rates"] == [0.05, 0.05, 0.2, 1.0, 1.0, 1.0]
    assert sum(data["buckets"]["opening_by_age"]) == pytest.approx(sum(data["buckets"]["gross"]))
    sc = load_scenario(out)
    assert sc.scenario.as_of == dt.date(2024, 9, 30)
    table = pd.read_parquet(reps)
    assert len(table) == 20 and list(table.columns)[:2] == [
        "collections.monthly_rate[0]",
        "collections.monthly_rate[1]",
    ]
    code, _, err = _run(["run", str(out), "--paths", "500", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err


def test_fragment_without_base(synth_files, tmp_path, capsys):
    out = tmp_path / "frag.toml"
    code, text, _ = _run(
        [
            "ledger",
            str(synth_files / "ledger.csv"),
            "--as-of",
            "2024-09-30",
            "--edges-months",
            "0,12,24",
            "--out",
            str(out),
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 0 and "a scenario still needs buckets.provision_rates, cash.opening" in text
    data = tomllib.loads(out.read_text())
    assert set(data) == {"scenario", "buckets", "collections", "defaults", "revenue"}


def test_read_ledger_reads_columns_by_mapping(tmp_path):
    inv = INVOICES.rename(columns={"invoice_id": "DocNo", "invoice_date": "DocDate"})
    inv["DocDate"] = pd.to_datetime(inv["DocDate"]).dt.strftime("%d/%m/%Y")
    path = tmp_path / "l.csv"
    inv.to_csv(path, index=False)
    ledger = read_ledger(
        path,
        columns="invoice_id=DocNo,invoice_date=DocDate",
        date_format="%d/%m/%Y",
        unit_divisor=10,
    )
    assert ledger.amount.tolist() == [10.0, 5.0, 8.0, 4.0, 3.0]
    assert ledger.invoice_day[0] == date_to_day(dt.date(2024, 1, 15))


def test_due_date_basis_counts_from_the_due_date():
    inv = INVOICES.iloc[:1].assign(due_date=["2024-03-15"])
    ex = ledger_exposures(
        ledger_from_frames(inv), as_of=AS_OF, edges_months=[0, 2], age_basis="due"
    )
    # open 100 at the month ends of Jan..Apr: not yet due (age 0) in Jan and Feb, then the
    # months since 15 March: 0 at 31 March, 1 at 30 April
    np.testing.assert_allclose(ex.exposure_by_age[:, 0], [100, 100, 100, 0])
    np.testing.assert_allclose(ex.exposure_by_age[:, 1], [0, 0, 0, 100])
    np.testing.assert_allclose(ex.balance_by_age, [0, 0, 100])  # 31 May: 2 months past due


EXAMPLE = IFLYTEK.parent / "ledger_example.csv"
EXAMPLE_ARGS = [
    str(IFLYTEK),
    "--set",
    "defaults.monthly_rate=[0.0005,0.001,0.002,0.004,0.008,0.012]",
    "--customers",
    "150",
    "--months",
    "72",
    "--seed",
    "2024",
]


def test_the_bundled_example_is_what_its_header_says(tmp_path, capsys):
    out = tmp_path / "ledger_example.csv"
    assert main(["synth-ledger", *EXAMPLE_ARGS, "--out", str(out)]) == 0
    assert out.read_bytes() == EXAMPLE.read_bytes()
    truth = EXAMPLE.with_name("ledger_example.truth.json")
    assert (tmp_path / truth.name).read_bytes() == truth.read_bytes()
    assert EXAMPLE.read_text().startswith("# SYNTHETIC ledger, not any company's data")


def test_done_when_command(tmp_path, capsys):
    """The README's first ledger command, then a run of what it wrote."""
    out = tmp_path / "fitted.toml"
    code, text, err = _run(
        [
            "ledger",
            str(EXAMPLE),
            "--as-of",
            "2024-09-30",
            "--edges-months",
            "0,6,12,24,36,48",
            "--base",
            str(MINIMAL),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    assert "10,800 invoices of 150 customers" in text and "71 month-end pairs" in text
    code, _, err = _run(["run", str(out), "--paths", "2000", "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err


def test_events_form_time_blocks_seasonality_and_replicates_csv(tmp_path, capsys):
    """The same synthetic ledger in both forms gives the same fit; then the two-way bootstrap,
    the fitted seasonality and a CSV replicates table."""
    single, one = tmp_path / "single.csv", tmp_path / "one.csv"
    assert main(["synth-ledger", *EXAMPLE_ARGS, "--out", str(single)]) == 0
    assert main(["synth-ledger", *EXAMPLE_ARGS, "--out", str(one), "--events"]) == 0
    events = tmp_path / "one.events.csv"
    assert events.exists() and (tmp_path / "one.truth.json").exists()
    capsys.readouterr()
    common = ["--as-of", "2024-09-30", "--base", str(IFLYTEK), "--json", "--bootstrap", "50"]
    docs = []
    for args in ([str(single)], [str(one), "--events", str(events)]):
        code, out, err = _run(["ledger", *args, *common], capsys)
        assert code == 0, err
        docs.append(json.loads(out))
    assert docs[0]["rates"] == docs[1]["rates"]
    reps = tmp_path / "reps.csv"
    code, out, err = _run(
        [
            "ledger",
            str(one),
            "--events",
            str(events),
            *common,
            "--time-blocks",
            "12",
            "--fit-seasonality",
            "--replicates-out",
            str(reps),
        ],
        capsys,
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["interval"]["resampled"] == "customers and time blocks"
    assert doc["interval"]["time_blocks"] == 12
    season = doc["seasonality"]
    assert season.index(max(season)) == 11  # iFlytek's December settlements
    table = pd.read_csv(reps)
    assert len(table) == 50 and table.shape[1] == 12 and not table.isna().any().any()


def test_a_bucket_without_exposure_for_defaults_keeps_the_base_default_rate_only():
    """With W = e_{K-1} + 1 the open bucket is the single age W - 1: collections are measured
    there, defaults are not (policy write-offs), so only p_b comes from the base."""
    base = load_scenario(MINIMAL)  # edges 0, 12, 24; p = 0.001, 0.005, 0.01
    synth_args = ["--customers", "30", "--months", "40", "--seed", "1"]
    ledger = ledger_from_frames(_synth_frame(synth_args))
    ex = ledger_exposures(
        ledger, as_of=dt.date(2024, 9, 30), edges_months=[0, 12, 24], write_off_age=25
    )
    fit = fit_ledger(ex, base=base, bootstrap=20, rng=0)
    assert fit.kept_c == [] and fit.kept_p == [2]
    assert fit.p[2] == 0.01 and fit.c[2] == fit.raw_c[2] and fit.exposure[2] > 0
    assert np.isfinite(fit.c_interval[2]).all() and np.isnan(fit.p_interval[2]).all()


def _synth_frame(args):
    from simulator.data import synth_ledger
    from simulator.scenario import with_overrides

    sc = with_overrides(
        load_scenario(IFLYTEK),
        {
            "buckets.edges_months": [0, 12, 24],
            "buckets.labels": ["a", "b", "c"],
            "buckets.gross": [1.0, 1.0, 1.0],
            "buckets.provision_rates": [0.1, 0.2, 1.0],
            "collections.monthly_rate": [0.1, 0.05, 0.2],
            "defaults.monthly_rate": [0.01, 0.02, 0.03],
            "defaults.write_off_after_months": 25,
        },
    )
    customers, months, seed = int(args[1]), int(args[3]), int(args[5])
    return synth_ledger(sc, customers, months, seed=seed).invoices
