"""``arsim ledger --segments COLUMN`` and ``--debtors N`` (DESIGN 6.3): a ledger of two
synthetic segments with known, different rates back to its ``[[segments]]``, the largest
customers as ``[[debtors]]`` carved out of the opening balance, and every bad input a one-line
error that writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from conftest import MINIMAL, assert_one_line_error, z_fail
from factories import make

from simulator.cli import main
from simulator.data import ledger_book, ledger_exposures, ledger_from_frames, synth_ledger
from simulator.data._ledger_book import billing_shares, entry_name
from simulator.engine import simulate_paths
from simulator.scenario import book_debtors, book_segments, load_scenario, replicate_rows

AS_OF = dt.date(2024, 6, 30)
EDGES = [0, 3, 6, 12]
#: Two segments: enterprises pay fast and default more; governments pay slowly and rarely
#: default. Values that are not names, so that the names are made from them.
TRUE = {
    "Enterprise A": {
        "c": [0.3, 0.15, 0.08, 0.04],
        "p": [0.01, 0.015, 0.02, 0.03],
        "credit_share": 0.8,
        "customers": 150,
    },
    "Gov't": {
        "c": [0.1, 0.06, 0.03, 0.02],
        "p": [0.002, 0.004, 0.006, 0.01],
        "credit_share": 0.9,
        "customers": 100,
    },
}
NAMES = {"Enterprise A": "Enterprise_A", "Gov't": "Gov_t"}


def _scenario(c, p, credit_share):
    return make(
        {
            "scenario.as_of": AS_OF,
            "collections.monthly_rate": c,
            "collections.factor_loading": 0.0,
            "defaults.monthly_rate": p,
            "defaults.correlation": 0.0,
            "factor.persistence": 0.0,
            "revenue.volatility": 0.0,
            "revenue.credit_share": credit_share,
        }
    )


def _two_segments(months: int = 36, seed: int = 3) -> tuple[pd.DataFrame, dict]:
    """Two synthetic ledgers side by side, told apart by a ``segment`` column (customers and
    invoice ids prefixed by the segment's letter), and their truths."""
    frames, truths = [], {}
    for i, (value, t) in enumerate(TRUE.items()):
        sc = _scenario(t["c"], t["p"], t["credit_share"])
        synth = synth_ledger(sc, t["customers"], months, seed=seed + i)
        frame = synth.invoices.copy()
        letter = "AB"[i]
        frame["invoice_id"] = letter + frame["invoice_id"]
        frame["customer"] = letter + frame["customer"]
        frame["segment"] = value
        frames.append(frame)
        truths[value] = synth.truth
    return pd.concat(frames, ignore_index=True), truths


#: ``opening_by_age`` is written to 6 significant digits: its sums are exact to this.
PROFILE_ROUNDING = 5e-6


def _open_at_as_of(frame: pd.DataFrame) -> pd.Series:
    """Each invoice's open amount at ``AS_OF``, from the file's columns (one event at most)."""
    a = AS_OF.isoformat()
    closed = ((frame["settled_date"] != "") & (frame["settled_date"] <= a)) | (
        (frame["written_off_date"] != "") & (frame["written_off_date"] <= a)
    )
    dated = frame["invoice_date"] <= a
    return frame["amount"].astype(float).where(dated & ~closed, 0.0)


def _run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The two-segment ledger through ``arsim ledger --segments segment --debtors 3``."""
    folder = tmp_path_factory.mktemp("segments")
    frame, truths = _two_segments()
    path = folder / "ledger.csv"
    frame.to_csv(path, index=False)
    out, reps = folder / "fitted.toml", folder / "reps.csv"
    code = main(
        [
            "ledger",
            str(path),
            "--as-of",
            AS_OF.isoformat(),
            "--edges-months",
            ",".join(map(str, EDGES)),
            "--segments",
            "segment",
            "--debtors",
            "3",
            "--base",
            str(MINIMAL),
            "--out",
            str(out),
            "--replicates-out",
            str(reps),
            "--bootstrap",
            "200",
            "--json",
        ]
    )
    assert code == 0
    return {"folder": folder, "frame": frame, "truths": truths, "path": path, "out": out}


@pytest.fixture(scope="module")
def written(fitted):
    return tomllib.loads(fitted["out"].read_text())


def test_segment_rates_are_within_their_bootstrap_se_of_the_truth(fitted, written):
    """Each segment's c_b and p_b (β = ρ = 0: c_b = ĉ_b) is within z_fail bootstrap SEs of the
    target h̃_b, d̃_b of its own invoices; the two segments' rates differ."""
    reps = pd.read_csv(fitted["folder"] / "reps.csv")
    segs = {s["name"]: s for s in written["segments"]}
    assert set(segs) == set(NAMES.values())
    checks = 2 * len(TRUE) * len(EDGES)
    for value, truth in fitted["truths"].items():
        name = NAMES[value]
        seg = segs[name]
        assert seg["label"] == value
        for field, target in (("collections", "h_tilde"), ("defaults", "d_tilde")):
            got = np.array(seg[field]["monthly_rate"])
            se = np.array(
                [reps[f"segments.{name}.{field}.monthly_rate[{b}]"].std() for b in range(4)]
            )
            want = np.array(truth[target])
            assert (se > 0).all()
            assert (np.abs(got - want) <= z_fail(checks) * se).all(), (name, field, got, want, se)
    ent, gov = segs["Enterprise_A"], segs["Gov_t"]
    assert all(
        a > b
        for a, b in zip(
            ent["collections"]["monthly_rate"], gov["collections"]["monthly_rate"], strict=True
        )
    )
    # the top-level rates are the whole book's, between the two
    top = written["collections"]["monthly_rate"]
    assert gov["collections"]["monthly_rate"][0] < top[0] < ent["collections"]["monthly_rate"][0]


def test_billing_shares_are_the_credit_billings_and_sum_to_one(fitted, written):
    """Shares sum to 1; with equal revenue per segment they estimate σ_s / Σσ, within
    z_fail binomial SEs of the cash-like draws."""
    shares = {s["name"]: s["billing_share"] for s in written["segments"]}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    sig = {NAMES[v]: t["credit_share"] for v, t in TRUE.items()}
    frame = fitted["frame"]
    # invoices per segment whose first month end is in the window (the cash-like share's)
    n = {
        NAMES[v]: int(((frame["segment"] == v) & (frame["invoice_date"] > "2021-07-31")).sum())
        for v in TRUE
    }
    a, b = sig["Enterprise_A"], sig["Gov_t"]
    se_a, se_b = (np.sqrt(s * (1 - s) / n[k]) for k, s in sig.items())
    se = np.sqrt((b * se_a) ** 2 + (a * se_b) ** 2) / (a + b) ** 2
    assert abs(shares["Enterprise_A"] - a / (a + b)) <= z_fail(1) * se, (shares, se)


def test_opening_per_segment_plus_debtors_is_the_open_balance(fitted, written):
    frame = fitted["frame"]
    open_ = _open_at_as_of(frame)
    debtors = written["debtors"]
    assert "gross" not in written["buckets"] and "opening_by_age" not in written["buckets"]
    total = sum(sum(s["gross"]) for s in written["segments"]) + sum(d["balance"] for d in debtors)
    assert total == pytest.approx(open_.sum(), rel=PROFILE_ROUNDING)
    for seg in written["segments"]:
        value = seg["label"]
        mine = sum(d["balance"] for d in debtors if d["segment"] == seg["name"])
        want = open_[frame["segment"] == value].sum()
        assert sum(seg["gross"]) + mine == pytest.approx(want, rel=PROFILE_ROUNDING)
        assert sum(seg["opening_by_age"]) == pytest.approx(sum(seg["gross"]), rel=1e-9)


def test_debtors_are_the_three_largest_customers(fitted, written):
    frame = fitted["frame"].copy()
    frame["open"] = _open_at_as_of(frame)
    by_customer = frame.groupby("customer")["open"].sum().sort_values(ascending=False)
    top = by_customer.index[:3].tolist()
    debtors = written["debtors"]
    assert [d["label"] for d in debtors] == top
    for d in debtors:
        rows = frame[(frame["customer"] == d["label"]) & (frame["open"] > 0)]
        months = pd.to_datetime(rows["invoice_date"]).dt.to_period("M")
        age = (pd.Period(AS_OF, "M") - months).apply(lambda x: x.n)
        mean_age = float((age * rows["open"]).sum() / rows["open"].sum())
        assert d["balance"] == pytest.approx(by_customer[d["label"]], rel=1e-9)
        assert d["age_months"] == int(np.floor(mean_age + 0.5))
        assert d["segment"] == NAMES[rows["segment"].iloc[0]]
        assert "monthly_pay_probability" not in d and "monthly_default_probability" not in d


def test_the_written_scenario_validates_loads_and_simulates(fitted, capsys):
    out = fitted["out"]
    code, text, err = _run(["validate", out], capsys)
    assert code == 0 and "2 segments, 3 debtors" in text, (text, err)
    sc = load_scenario(out)
    assert [s.name for s in book_segments(sc)] == ["Enterprise_A", "Gov_t"]
    assert len(book_debtors(sc)) == 3
    res = simulate_paths(sc, paths=1000)
    assert {"credit_loss_Enterprise_A", "credit_loss_Gov_t"} <= set(res.per_path)
    rows = replicate_rows(sc, pd.read_csv(fitted["folder"] / "reps.csv"), "reps.csv")
    assert len(rows) == 200 and all(k.startswith("segments.") for k in rows[0])


def test_report_lists_segments_and_debtors(fitted, capsys):
    code, text, err = _run(
        [
            "ledger",
            fitted["path"],
            "--as-of",
            AS_OF.isoformat(),
            "--edges-months",
            "0,3,6,12",
            "--segments",
            "segment",
            "--debtors",
            "2",
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Segments by the column 'segment'" in text and "Gov_t" in text and "(Gov't)" in text
    assert "Named debtors: the 2 customers with the largest open balance" in text


def test_debtors_without_segments_leave_the_pooled_book_and_run(fitted, tmp_path, capsys):
    out = tmp_path / "pooled.toml"
    code, _, err = _run(
        [
            "ledger",
            fitted["path"],
            "--as-of",
            AS_OF.isoformat(),
            "--edges-months",
            "0,3,6,12",
            "--debtors",
            "5",
            "--base",
            MINIMAL,
            "--out",
            out,
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 0, err
    data = tomllib.loads(out.read_text())
    assert "segments" not in data and len(data["debtors"]) == 5
    assert all("segment" not in d for d in data["debtors"])
    total = sum(data["buckets"]["gross"]) + sum(d["balance"] for d in data["debtors"])
    assert total == pytest.approx(_open_at_as_of(fitted["frame"]).sum(), rel=PROFILE_ROUNDING)
    code, _, err = _run(["run", out, "--paths", "1000", "--out", tmp_path / "run"], capsys)
    assert code == 0, err


def test_a_segment_without_exposure_in_a_bucket_follows_the_plain_fit(tmp_path, capsys):
    """A segment billed only in the last 5 months has no exposure at 6 months and older:
    exit 2 without a base (as the plain fit), the base's rates there with one."""
    old, _ = _two_segments()
    young = synth_ledger(_scenario([0.2] * 4, [0.01] * 4, 0.8), 20, 5, seed=9).invoices.copy()
    young["invoice_id"] = "Y" + young["invoice_id"]
    young["customer"] = "Y" + young["customer"]
    young["segment"] = "new"
    path = tmp_path / "ledger.csv"
    pd.concat([old, young]).to_csv(path, index=False)
    args = ["ledger", path, "--as-of", "2024-06-30", "--edges-months", "0,3,6,12"]
    args += ["--segments", "segment", "--bootstrap", "0"]
    code, _, err = _run(args, capsys)
    assert code == 2
    assert_one_line_error(
        err, "segment 'new': no exposure in bucket(s) 6m-1y, 1y+", prefix=f"{path}: --segments: "
    )
    out = tmp_path / "out.toml"
    code, text, err = _run([*args, "--base", MINIMAL, "--out", out, "--json"], capsys)
    assert code == 0, err
    seg = next(s for s in tomllib.loads(out.read_text())["segments"] if s["name"] == "new")
    base = load_scenario(MINIMAL)  # edges 0, 12, 24: 6m-1y takes 0-1y, 1y+ takes 1y-2y
    assert seg["collections"]["monthly_rate"][2:] == base.collections.monthly_rate[:2]
    assert seg["defaults"]["monthly_rate"][2:] == base.defaults.monthly_rate[:2]
    assert seg["collections"]["monthly_rate"][0] not in base.collections.monthly_rate
    notes = json.loads(text)["notes"]
    assert (
        "segment new: 1y+: no exposure over the window; c_b = 0.05 and p_b = 0.005 kept "
        "from the base" in notes
    )


# --------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written


def _small(tmp_path, change=None) -> tuple:
    frame, _ = _two_segments(months=16)
    if change is not None:
        frame = change(frame.copy())
    path = tmp_path / "ledger.csv"
    frame.to_csv(path, index=False)
    return path


def _conflicting(frame):
    frame.loc[frame["segment"] == "Gov't", "segment"] = "Gov-t"
    frame.loc[frame["customer"] == "BC0001", "segment"] = "Gov t"
    return frame


def _two_of_one(frame):
    i = frame.index[frame["customer"] == "AC0001"][0]
    frame.loc[i, "segment"] = "Gov't"
    return frame


def _empty(frame):
    frame.loc[frame.index[2], "segment"] = ""
    return frame


def _many(frame):
    frame["segment"] = [f"s{i % 21}" for i in range(len(frame))]
    frame["customer"] = frame["segment"] + "_" + frame["customer"]
    return frame


BAD = [
    (None, ["--segments", "region"], "region: no such column"),
    (None, ["--debtors", "0"], "--debtors: must be in 1..1000, got 0"),
    (None, ["--debtors", "-3"], "--debtors: must be in 1..1000, got -3"),
    (None, ["--debtors", "2.5"], "--debtors: expected a whole number, got '2.5'"),
    (None, ["--debtors", "many"], "--debtors: expected a whole number, got 'many'"),
    (None, ["--debtors", "1001"], "--debtors: must be in 1..1000, got 1001"),
    (
        None,
        ["--debtors", "300"],
        (
            "--debtors: asks for 300 named debtors but only ",
            " customers have an open balance at 2024-06-30",
        ),
    ),
    (
        _conflicting,
        ["--segments", "segment"],
        "--segments: the segment values 'Gov t' and 'Gov-t' both make the name 'Gov_t'",
    ),
    (
        _two_of_one,
        ["--segments", "segment"],
        "customer 'AC0001' has invoices in two segments ('Enterprise A' and \"Gov't\")",
    ),
    (_empty, ["--segments", "segment"], "row 4: segment: empty"),
    (_many, ["--segments", "segment"], "21 segment values; a scenario has at most 20 segments"),
    (
        None,
        ["--segments", "segment", "--columns", "segment=customer"],
        "--segments: names the column 'segment' but --columns maps segment to 'customer'",
    ),
]


@pytest.mark.parametrize(("change", "extra", "words"), BAD)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, change, extra, words):
    path = _small(tmp_path, change)
    out, reps = tmp_path / "out.toml", tmp_path / "reps.csv"
    args = ["ledger", path, "--as-of", "2024-06-30", "--edges-months", "0,3,6,12"]
    args += ["--base", MINIMAL, "--out", out, "--replicates-out", reps, "--bootstrap", "5"]
    code, stdout, err = _run([*args, *extra], capsys)
    assert code == 2 and stdout == ""
    words = (words,) if isinstance(words, str) else words
    assert_one_line_error(err, *words, prefix=f"{path}: ")
    assert not out.exists() and not reps.exists()


# --------------------------------------------------------------------------------------------
# The pieces


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("government", "government"),
        ("Gov't", "Gov_t"),
        ("  Local gov. & SOEs ", "Local_gov_SOEs"),
        ("2nd tier", "segment_2nd_tier"),
        ("政府", "segment"),
        ("x" * 80, "x" * 64),
        ("_own", "own"),
    ],
)
def test_entry_names_follow_the_name_rule(value, name):
    assert entry_name(value, "segment") == name


def test_billing_shares_round_and_sum_to_one():
    shares, even = billing_shares(np.array([1.0, 1.0, 1.0]))
    assert not even and sum(shares) == pytest.approx(1.0, abs=1e-15)
    assert list(shares[1:]) == [0.333333, 0.333333]  # the largest (the first) takes the rest
    shares, even = billing_shares(np.array([0.0, 0.0]))
    assert even and list(shares) == [0.5, 0.5]
    shares, _ = billing_shares(np.array([0.0, 2.0, 1e-9]))
    assert (shares >= 0).all() and shares[0] == 0.0 and sum(shares) == pytest.approx(1.0)


def test_debtor_names_that_collide_get_a_number():
    inv = pd.DataFrame(
        {
            "invoice_id": ["1", "2", "3"],
            "customer": ["a b", "a-b", "c"],
            "invoice_date": ["2024-01-15", "2024-02-15", "2024-03-15"],
            "amount": ["30", "20", "10"],
        }
    )
    ledger = ledger_from_frames(inv)
    ex = ledger_exposures(ledger, as_of=AS_OF, edges_months=EDGES)
    book = ledger_book(ledger, ex, debtors=2)
    assert [(d.name, d.label, d.balance) for d in book.debtors] == [
        ("a_b", "a b", 30.0),
        ("a_b_2", "a-b", 20.0),
    ]
    assert [d.age_months for d in book.debtors] == [5, 4]
    assert book.gross.sum() == pytest.approx(10.0)
