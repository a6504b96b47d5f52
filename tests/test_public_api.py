"""The public API: what every package and public module exports (its ``__all__``), and the import
paths that notebooks and users rely on. A change here is a change of interface: update the lists
on purpose, and the README and notebooks with them."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "simulator": {
        "ENGINE_VERSION",
        "Scenario",
        "ScenarioError",
        "SimulationResult",
        "load_scenario",
        "plot_aging",
        "plot_allowance",
        "plot_cash_fan",
        "plot_runway",
        "simulate",
        "with_overrides",
    },
    "simulator.scenario": {
        "MAX_FILE_BYTES",
        "MONEY_LIMIT",
        "Scenario",
        "ScenarioError",
        "apply_overrides",
        "check_field_path",
        "default_labels",
        "load_scenario",
        "parse_field_path",
        "read_text_file",
        "scenario_from_dict",
        "scenario_hash",
        "scenario_toml",
        "scenario_warnings",
        "update_scenario_text",
        "with_overrides",
    },
    "simulator.analytic": {
        "AbsorbingChain",
        "COLLECTED",
        "Calibration",
        "DEFAULT_MAX_DEFAULT_RATE",
        "STATUSES",
        "ImpliedRates",
        "LOST",
        "MAX_RUNOFF_MONTHS",
        "RUNOFF_BLOCK",
        "RUNOFF_STREAM",
        "RUNOFF_TOL",
        "absorbing_chain",
        "calibrate_default_rates",
        "chain_from_scenario",
        "exact_rates_available",
        "expected_collection_hazard",
        "expected_trajectory",
        "implied_rates",
        "lifetime_loss",
        "runoff_implied_rates",
    },
    "simulator.data": {
        "BOOTSTRAP_MIN_PERIODS",
        "Calibration",
        "HazardFit",
        "PER_BUCKET_MAX_CONDITION",
        "Projection",
        "RollRates",
        "SnapshotError",
        "Snapshots",
        "calibrate",
        "fit_hazards",
        "months_between",
        "parse_edges",
        "project",
        "read_snapshots",
        "roll_rates",
        "scenario_document",
        "snapshots_from_table",
    },
    "simulator.storage": {
        "FORMAT",
        "PLOT_DPI",
        "SWEEP_FORMAT",
        "SweepFolder",
        "SweepFolderError",
        "default_out_dir",
        "load_results",
        "redraw_plots",
        "save_figure",
        "scenario_hash",
        "write_results",
        "write_text_atomic",
    },
    "simulator.sweep": {
        "DEFAULT_METRIC",
        "Design",
        "FieldInfo",
        "LocalPool",
        "MAX_POINTS",
        "Point",
        "PointFailed",
        "PointOutcome",
        "PointRunner",
        "SchedulerError",
        "SensitivityResult",
        "SolveResult",
        "available_metrics",
        "check_metric",
        "check_scheduler",
        "check_solve",
        "check_sweep_memory",
        "default_bracket",
        "definition_hash",
        "field_info",
        "flatten_summary",
        "grid_design",
        "make_point",
        "make_points",
        "metric_label",
        "open_executor",
        "param_label",
        "params_text",
        "plan_sensitivity",
        "plot_solve",
        "plot_sweep_curve",
        "plot_sweep_heatmap",
        "plot_tornado",
        "point_key",
        "se_name",
        "sensitivity",
        "sensitivity_figures",
        "sobol_design",
        "solve",
        "solve_bracket",
        "solve_figures",
        "sweep_figures",
        "sweep_memory",
        "sweep_table",
        "table_design",
    },
    "simulator.report": {
        "ReportError",
        "build_report",
        "fmt_money",
        "fmt_pct",
    },
    "simulator.cli": {
        "EXIT_INTERNAL",
        "EXIT_INTERRUPTED",
        "EXIT_OK",
        "EXIT_USER",
        "build_parser",
        "entry",
        "main",
    },
    "simulator.results": {
        "MONTHLY_VARS",
        "QUANTILES",
        "QUANTILE_VARS",
        "SimulationResult",
        "runway_summary",
    },
    "simulator.engine": {
        "BLOCK_SIZE",
        "BlockOutput",
        "ENGINE_VERSION",
        "block_memory",
        "estimate_memory",
        "run_block",
        "simulate_paths",
    },
    "simulator.params": {
        "GROSS_ROW",
        "MONTHLY_VARS",
        "ModelParams",
        "ROW_ALLOWANCE",
        "ROW_CASH",
        "ROW_CHARGE",
        "ROW_COLLECTIONS",
        "ROW_CREDIT_LOSS",
        "ROW_DEFAULTS",
        "ROW_GROSS",
        "ROW_REVENUE",
        "ROW_WRITE_OFFS",
        "compile_params",
        "n_monthly_values",
    },
    "simulator.provisioning": {
        "Analytics",
        "EclScenarioResult",
        "WeightedEcl",
        "allowance_rollforward",
        "analyse",
        "provision_matrix",
        "result_tables",
        "weighted_ecl",
    },
    "simulator.plots": {
        "make_figures",
        "plot_aging",
        "plot_allowance",
        "plot_cash_fan",
        "plot_runway",
    },
    "simulator.api": {
        "simulate",
    },
    "simulator.adequacy": {
        "implied_rates_report",
        "unresolved_note",
        "verdict",
    },
    "simulator.aging": {
        "AgingGrid",
        "age_one_month",
    },
    "simulator.hazards": {
        "calendar_months",
        "collection_hazard",
        "default_hazard",
        "factor_step",
        "logistic_normal_mean",
        "revenue_shock",
        "solve_alpha",
    },
    "simulator.resources": {
        "MEMORY_SHARE",
        "ResourceError",
        "check_memory",
        "machine_memory",
    },
}

#: Import paths kept through the redesign (README, notebooks, users' code).
KEPT = [
    "simulator.load_scenario",
    "simulator.simulate",
    "simulator.with_overrides",
    "simulator.plot_runway",
    "simulator.sweep.PointRunner",
    "simulator.sweep.grid_design",
    "simulator.sweep.make_points",
    "simulator.sweep.open_executor",
    "simulator.sweep.sweep_table",
    "simulator.analytic.implied_rates",
    "simulator.analytic.calibrate_default_rates",
    "simulator.analytic.expected_trajectory",
    "simulator.analytic.absorbing_chain",
    "simulator.analytic.chain_from_scenario",
    "simulator.provisioning.weighted_ecl",
    "simulator.provisioning.allowance_rollforward",
    "simulator.storage.load_results",
    "simulator.storage.write_results",
    "simulator.results.SimulationResult",
    "simulator.results.MONTHLY_VARS",
    "simulator.engine.run_block",
    "simulator.engine.BLOCK_SIZE",
    "simulator.data.calibrate",
    "simulator.data.read_snapshots",
    "simulator.report.build_report",
    "simulator.cli.main",
]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned(module):
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC[module]
    assert len(mod.__all__) == len(set(mod.__all__)), "a name is listed twice"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


@pytest.mark.parametrize("path", KEPT)
def test_kept_import_paths_work(path):
    module, _, name = path.rpartition(".")
    assert hasattr(importlib.import_module(module), name)


def test_top_level_names_resolve_lazily_and_dir_lists_them():
    import simulator

    assert set(simulator.__all__) <= set(dir(simulator))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        simulator.nonexistent  # noqa: B018
