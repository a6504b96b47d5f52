"""`arsim compare` (DESIGN 3): a base run and a `--set collections.multiplier=0.8` stress run of
the same seed and paths, compared key by key, with paired standard errors computed here from the
two `paths.parquet` files; the fallback to independent SEs; the one-line errors; the page."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import IFLYTEK
from scipy.stats import norm

from simulator._format import fmt_pct
from simulator.cli import main
from simulator.compare import compare_runs
from simulator.storage import read_run

#: The failure budget of the statistical checks (DESIGN 5): a check fails by chance once in a
#: million runs.
Z_FAIL = norm.isf(0.5e-6)

PATHS = 12000
#: Both runs use a small run-off for the implied rates (the same in both: not an input that
#: differs).
COMMON = ["--paths", str(PATHS), "--seed", "11", "--set", "simulation.runoff_paths=1000"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    base, stress, fewer = root / "base", root / "stress", root / "fewer"
    assert main(["run", str(IFLYTEK), *COMMON, "--out", str(base), "--json"]) == 0
    slower = ["--set", "collections.multiplier=0.8"]
    assert main(["run", str(IFLYTEK), *COMMON, *slower, "--out", str(stress), "--json"]) == 0
    other = [*COMMON[2:], "--paths", "3000", *slower]
    assert main(["run", str(IFLYTEK), *other, "--out", str(fewer), "--json"]) == 0
    return base, stress, fewer


@pytest.fixture(scope="module")
def doc(runs, tmp_path_factory):
    base, stress, _ = runs
    out = tmp_path_factory.mktemp("page") / "page.html"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["compare", str(base), str(stress), "--json", "--out", str(out)]) == 0
    return json.loads(buffer.getvalue())


def _flat(obj, name=""):
    """A summary flattened by hand: dotted keys, list items as [i], the scenario left out."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not name and k == "scenario":
                continue
            out.update(_flat(v, f"{name}.{k}" if name else k))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flat(v, f"{name}[{i}]"))
        return out
    return {name: obj}


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _indicator(folder: Path, k: int) -> np.ndarray:
    runway = pd.read_parquet(folder / "paths.parquet")["runway_months"]
    return (runway <= k).fillna(False).to_numpy(dtype=float)  # censored paths: runway > H


def test_every_summary_key_is_there_and_differences_are_b_minus_a(runs, doc):
    base, stress, _ = runs
    sa, sb = _flat(_summary(base)), _flat(_summary(stress))
    metrics = {row["key"]: row for row in doc["metrics"]}
    facts = {f["key"] for f in doc["facts"]}
    for key in sa:
        if key.endswith(("_se", "_bound95")) or "_se." in key:
            continue
        assert key in metrics or key in facts, key
    numeric = 0
    for key, row in metrics.items():
        if isinstance(sa.get(key), int | float) and isinstance(sb.get(key), int | float):
            numeric += 1
            assert row["a"] == sa[key] and row["b"] == sb[key], key
            assert row["diff"] == pytest.approx(sb[key] - sa[key], rel=1e-12, abs=1e-12), key
    assert numeric >= 30
    assert doc["a"]["overrides"].get("collections.multiplier") is None
    assert doc["b"]["overrides"]["collections.multiplier"] == 0.8


def test_the_paired_se_of_p_runway_le_12_is_that_of_the_indicator_differences(runs, doc):
    base, stress, _ = runs
    assert doc["paired"] is True
    d = _indicator(stress, 12) - _indicator(base, 12)
    row = next(r for r in doc["metrics"] if r["key"] == "p_runway_le_12")
    assert row["paired"] is True
    assert row["se_paired"] == pytest.approx(math.sqrt(np.var(d) / len(d)), rel=1e-12)
    assert row["se"] == row["se_paired"]
    loss_a = pd.read_parquet(base / "paths.parquet")["credit_loss"].to_numpy()
    loss_b = pd.read_parquet(stress / "paths.parquet")["credit_loss"].to_numpy()
    row = next(r for r in doc["metrics"] if r["key"] == "credit_loss_mean")
    expected = math.sqrt(np.var(loss_b - loss_a, ddof=1) / PATHS)
    assert row["se_paired"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("key", ["p_runway_le_12", "credit_loss_mean", "collections_mean"])
def test_on_common_random_numbers_the_paired_se_is_below_the_independent_one(runs, doc, key):
    """var(B − A) = var(A) + var(B) − 2 cov(A, B): the paired SE is the smaller one exactly when
    the paths of the two runs move together, which the test first checks at the failure
    budget."""
    base, stress, _ = runs
    if key == "p_runway_le_12":
        xa, xb = _indicator(base, 12), _indicator(stress, 12)
    else:
        column = key.removesuffix("_mean")
        xa = pd.read_parquet(base / "paths.parquet")[column].to_numpy()
        xb = pd.read_parquet(stress / "paths.parquet")[column].to_numpy()
    r = np.corrcoef(xa, xb)[0, 1]
    assert r * math.sqrt(len(xa)) > Z_FAIL, f"the runs do not move together (r = {r:.3f})"
    row = next(r for r in doc["metrics"] if r["key"] == key)
    sa, sb = _summary(base)[f"{key}_se"], _summary(stress)[f"{key}_se"]
    assert row["se_independent"] == pytest.approx(math.hypot(sa, sb), rel=1e-12)
    assert row["se_paired"] < row["se_independent"]


def test_quantiles_and_implied_rates_get_no_paired_se(doc):
    for row in doc["metrics"]:
        if row["key"].startswith(("runway_quantiles.", "credit_loss_p", "min_cash_p5")):
            assert row["se"] is None and row["se_paired"] is None, row["key"]
        if row["key"].startswith("implied_rates."):
            assert row["se_paired"] is None and row["paired"] is False, row["key"]
            assert row["se"] == row["se_independent"] is not None


def test_the_inputs_that_differ_are_exactly_the_multiplier(doc):
    assert [d["field"] for d in doc["inputs_differ"]] == ["collections.multiplier"]
    assert doc["inputs_differ"][0]["b"] == 0.8


def test_runs_with_different_path_counts_fall_back_to_independent_ses(runs):
    base, _, fewer = runs
    c = compare_runs(read_run(base), read_run(fewer))
    assert c.paired is False and "independent" in c.pairing
    sa, sb = _summary(base), _summary(fewer)
    for row in c.rows:
        assert row["se_paired"] is None and row["paired"] is False, row["key"]
        se_a, se_b = sa.get(f"{row['key']}_se"), sb.get(f"{row['key']}_se")
        if isinstance(se_a, float) and isinstance(se_b, float):
            assert row["se"] == pytest.approx(math.hypot(se_a, se_b), rel=1e-12), row["key"]
    assert {d["field"] for d in c.inputs} == {"collections.multiplier", "simulation.paths"}


def test_the_terminal_table_and_the_default_page(runs, tmp_path, monkeypatch, capsys):
    base, stress, _ = runs
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(base), str(stress)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split() == ["metric", "A", "B", "B", "−", "A", "SE", "of", "B", "−", "A", "SE"]
    sa, sb = _summary(base), _summary(stress)
    line = next(line for line in lines if line.startswith("P(runway ≤ 12 months)"))
    assert fmt_pct(sa["p_runway_le_12"]) in line and fmt_pct(sb["p_runway_le_12"]) in line
    assert line.endswith("paired")
    assert re.search(r"collections\.multiplier\s+1\.0\s+→\s+0\.8", out)
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert out.rstrip().endswith("compare.html")
    title = re.search(r"<title>(.*?)</title>", page)[1]
    assert "collections.multiplier=0.8" in title
    assert page.count('src="data:image/png;base64,') == 2
    # the page exists now: a second call needs --force, and writes nothing without it
    before = page
    assert main(["compare", str(base), str(stress)]) == 2
    err = capsys.readouterr().err
    assert err == "compare.html: --out: already exists; add --force to replace it\n"
    assert (tmp_path / "compare.html").read_text(encoding="utf-8") == before


def test_json_prints_only_the_comparison_and_writes_no_page_unless_asked(
    runs, tmp_path, monkeypatch, capsys
):
    base, stress, _ = runs
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(base), str(stress), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["paired"] is True and captured.err == ""
    assert not (tmp_path / "compare.html").exists()


@pytest.mark.parametrize("which", ["missing", "not-results", "existing-out"])
def test_mistakes_are_one_line_exit_2_and_nothing_written(
    runs, tmp_path, monkeypatch, capsys, which
):
    base, stress, _ = runs
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "page.html"
    argv = ["compare", str(base), str(stress), "--out", str(out)]
    if which == "missing":
        argv[2] = str(tmp_path / "nowhere")
        expected = f"{tmp_path / 'nowhere'}: RUN_B: no such results folder\n"
    elif which == "not-results":
        (tmp_path / "empty").mkdir()
        argv[1] = str(tmp_path / "empty")
        expected = f"{tmp_path / 'empty'}: RUN_A: not a complete arsim results folder"
    else:
        out.write_text("keep me")
        expected = f"{out}: --out: already exists; add --force to replace it\n"
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(expected)
    assert captured.err.count("\n") == 1
    if which == "existing-out":
        assert out.read_text() == "keep me"
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "empty") == (
        ["page.html"] if which == "existing-out" else []
    )
