"""Shared test fixtures and helpers: the repository's paths, the failure budget of the
statistical tests (DESIGN 5), and checks that many test files use."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED_TOML = sorted(SCENARIOS.glob("*.toml"))
IFLYTEK = SCENARIOS / "iflytek_2024q3.toml"
SENSETIME = SCENARIOS / "sensetime_2023.toml"
MINIMAL = SCENARIOS / "example_minimal.toml"
BENCH = ROOT / "benchmarks" / "bench.toml"
