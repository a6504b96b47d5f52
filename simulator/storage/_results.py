"""Results folders of ``arsim run``: written atomically (complete or not at all), with a manifest.

A results folder holds ``summary.json``, ``paths.parquet`` (one row per path), ``monthly.csv``
(one row per month), ``provisioning.csv`` (the allowance roll-forward by year),
``provision_matrix.csv`` (disclosed and implied rates of the opening book), ``ecl_scenarios.csv``
(when the scenario declares ECL scenarios), ``scenario.toml`` (the scenario that ran, overrides
applied), ``plots/*.png`` and ``manifest.json`` (versions, hashes of the scenario and of every
file). It is written to a hidden temporary folder beside the target and renamed into place at the
end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..plots import make_figures
from ..provisioning import analyse, result_tables
from ..results import SimulationResult
from ..scenario import Uncertainty, scenario_from_dict, scenario_hash, scenario_toml
from ._atomic import atomic_write, building_folder, temp_name
from ._figures import save_figure
from ._manifest import file_table, write_manifest

__all__ = [
    "FORMAT",
    "StoredRun",
    "default_out_dir",
    "load_results",
    "read_run",
    "redraw_plots",
    "scenario_hash",
    "write_results",
]

FORMAT = "arsim-results/1"
#: The results folder's copy of a run's parameter replicates (DESIGN 2.14).
REPLICATES = "replicates.csv"


def default_out_dir(scenario_file: str | Path, root: str | Path = "results") -> Path:
    """``results/<scenario file stem>/<YYYYmmdd-HHMMSS>/``, made unique with a suffix if needed."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(scenario_file).stem).lstrip(".")[:100]
    stem = stem or "scenario"  # at most 100 characters: room for the temporary folder names
    base = Path(root) / stem / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out, i = base, 1
    while out.exists():
        out = base.with_name(f"{base.name}-{i}")
        i += 1
    return out


def _save_plots(result: SimulationResult, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name, fig in make_figures(result).items():
        save_figure(fig, folder / f"{name}.png")


def write_results(
    result: SimulationResult,
    out_dir: str | Path,
    *,
    force: bool = False,
    scenario_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    replicates_file: str | Path | None = None,
) -> Path:
    """Write a results folder atomically.

    Parameters
    ----------
    result : SimulationResult
    out_dir : str or Path
        The folder to create.
    force : bool, optional
        Replace an existing folder (only once the new one is complete).
    scenario_file : str, optional
        The file the scenario came from, recorded in the manifest.
    overrides : dict, optional
        ``--set`` overrides, recorded in the manifest.
    replicates_file : str or Path, optional
        The file the parameter replicates came from, recorded in the manifest; the rows
        themselves are written as ``replicates.csv`` whenever the result has them.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists and ``force`` is false.
    """
    out = Path(out_dir)
    with building_folder(out, force) as tmp:
        summary = result.summary()
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        result.paths.to_parquet(tmp / "paths.parquet", index=True)
        result.monthly.to_csv(tmp / "monthly.csv", index=False, float_format="%.10g")
        for name, table in result_tables(result).items():  # provisioning tables
            table.to_csv(tmp / name, index=False, float_format="%.10g")
        # the folder's scenario names the folder's copy of its replicates, or none
        kept = result.scenario.model_copy(
            update={
                "uncertainty": Uncertainty(replicates=REPLICATES) if result.replicates else None
            }
        )
        (tmp / "scenario.toml").write_text(scenario_toml(kept))
        if result.replicates:
            pd.DataFrame(result.replicates).to_csv(
                tmp / REPLICATES, index=False, float_format="%.17g"
            )
        _save_plots(result, tmp / "plots")
        fields = {
            "format": FORMAT,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "scenario_name": result.scenario.scenario.name,
            "scenario_file": scenario_file,
            "scenario_sha256": scenario_hash(result.scenario, result.replicates),
            "overrides": overrides or {},
            "replicates_file": None if replicates_file is None else str(replicates_file),
            "replicates": len(result.replicates) if result.replicates else 0,
            "seed": result.seed,
            "paths": result.n_paths,
            "horizon_months": result.horizon,
            "engine_version": result.engine_version,
            "wall_seconds": result.wall_seconds,
        }
        write_manifest(tmp, fields)
    return out


#: The columns of ``paths.parquet`` every run has.
_PATHS_COLUMNS = {
    "runway_months",
    "runway_censored",
    "min_cash",
    "cash_end",
    "collections",
    "credit_loss",
    "provision_charge",
}


def load_results(folder: str | Path) -> SimulationResult:
    """Read a results folder back (without the trajectory sample).

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    SimulationResult

    Raises
    ------
    FileNotFoundError
        If the folder or one of its files is missing.
    ValueError
        If it is not a complete arsim results folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError("no such results folder")
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError("not a complete arsim results folder (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"unknown results format {manifest.get('format')!r}")
    for name in ("scenario.toml", "paths.parquet", "monthly.csv"):
        if not (folder / name).is_file():
            raise ValueError(f"incomplete results folder: {name} is missing")
    scenario_path = folder / "scenario.toml"
    scenario = scenario_from_dict(
        tomllib.loads(scenario_path.read_text()), source=str(scenario_path)
    )
    paths = pd.read_parquet(folder / "paths.parquet")
    horizon = scenario.simulation.horizon_months
    runway = paths["runway_months"].fillna(horizon + 1).to_numpy(dtype=np.int16)
    per_path = {
        "runway": runway,
        "min_cash": paths["min_cash"].to_numpy(),
        "cash_end": paths["cash_end"].to_numpy(),
        "collections": paths["collections"].to_numpy(),
        "credit_loss": paths["credit_loss"].to_numpy(),
        "charge": paths["provision_charge"].to_numpy(),
    }
    per_path |= {  # a run's segment, pool and replicate columns (results.paths)
        c: paths[c].to_numpy() for c in paths.columns if c not in _PATHS_COLUMNS
    }
    monthly = pd.read_csv(folder / "monthly.csv")
    replicates = None
    if (folder / REPLICATES).is_file():  # a run with parameter risk (DESIGN 2.14)
        replicates = pd.read_csv(folder / REPLICATES).to_dict("records")
    summary_path = folder / "summary.json"
    stored = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return SimulationResult(
        scenario=scenario,
        per_path=per_path,
        monthly=monthly,
        trajectory=None,
        engine_version=str(manifest.get("engine_version")),
        wall_seconds=float(manifest.get("wall_seconds") or float("nan")),
        analytics_source=functools.partial(analyse, replicates=replicates)
        if replicates
        else analyse,
        parameter_risk=stored.get("parameter_risk"),
        replicates=replicates,
    )


@dataclass(frozen=True)
class StoredRun:
    """A results folder read back whole: what comparing two runs needs.

    Attributes
    ----------
    folder : Path
    result : SimulationResult
        The per-path columns, the monthly table and the scenario (no trajectory sample).
    summary : dict
        ``summary.json`` as written (implied rates and ECL included, not recomputed).
    manifest : dict
        ``manifest.json``: overrides, scenario file, versions, creation time.
    """

    folder: Path
    result: SimulationResult
    summary: dict[str, Any]
    manifest: dict[str, Any]


def read_run(folder: str | Path) -> StoredRun:
    """Read a results folder written by ``arsim run``: its result, summary and manifest.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    StoredRun

    Raises
    ------
    FileNotFoundError
        If the folder is missing.
    ValueError
        If it is not a complete arsim results folder.
    """
    folder = Path(folder)
    result = load_results(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("incomplete results folder: summary.json is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"unreadable results folder: {exc}") from None
    if not isinstance(summary, dict) or not isinstance(manifest, dict):
        raise ValueError("summary.json and manifest.json must hold JSON objects")
    return StoredRun(folder, result, summary, manifest)


def redraw_plots(folder: str | Path) -> list[Path]:
    """Re-draw the plots of a results folder from its saved tables; update the manifest.

    Returns
    -------
    list of Path
        The plot files written.
    """
    folder = Path(folder)
    result = load_results(folder)
    tmp = temp_name(folder / "plots")
    try:
        _save_plots(result, tmp)
        plots = folder / "plots"
        plots.mkdir(exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, plots / f.name)
            written.append(plots / f.name)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] = file_table(folder)
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    atomic_write(manifest_path, lambda p: p.write_text(text))
    return written
