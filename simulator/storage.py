"""Results folders: written atomically (complete or not at all), with a manifest.

A results folder holds ``summary.json``, ``paths.parquet`` (one row per path), ``monthly.csv``
(one row per month), ``provisioning.csv`` (the allowance roll-forward by year),
``provision_matrix.csv`` (disclosed and implied rates of the opening book), ``ecl_scenarios.csv``
(when the scenario declares ECL scenarios), ``scenario.toml`` (the scenario that ran, overrides
applied), ``plots/*.png`` and ``manifest.json`` (versions, hashes of the scenario and of every
file). It is written to a
hidden temporary folder beside the target and renamed into place at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import tomllib
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomlkit

from .plots import make_figures
from .provisioning import result_tables
from .results import SimulationResult
from .scenario import Scenario, scenario_from_dict

__all__ = [
    "SweepFolder",
    "SweepFolderError",
    "default_out_dir",
    "load_results",
    "redraw_plots",
    "scenario_hash",
    "update_scenario_text",
    "write_results",
    "write_text_atomic",
]

FORMAT = "arsim-results/1"
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+$")


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario in canonical JSON (key order and spacing fixed)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_temps(parent: Path) -> None:
    """Remove temporary folders left by runs that were killed (their process is gone)."""
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        m = _TMP.match(entry.name)
        if m and entry.is_dir() and not _pid_alive(int(m["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scenario_toml(scenario: Scenario) -> str:
    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if v is not None}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    return tomlkit.dumps(clean(scenario.model_dump(mode="python")))


def _versions() -> dict[str, str]:
    import matplotlib
    import pyarrow
    import pydantic
    import scipy

    from . import __version__

    return {
        "arsim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "pydantic": pydantic.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _save_plots(result: SimulationResult, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name, fig in make_figures(result).items():
        fig.savefig(folder / f"{name}.png", dpi=110, metadata={"Software": None})


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def write_results(
    result: SimulationResult,
    out_dir: str | Path,
    *,
    force: bool = False,
    scenario_file: str | None = None,
    overrides: dict[str, Any] | None = None,
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
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to replace it")
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_temps(parent)
    tmp = parent / f".{out.name[:100]}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        summary = result.summary()
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        result.paths.to_parquet(tmp / "paths.parquet", index=True)
        result.monthly.to_csv(tmp / "monthly.csv", index=False, float_format="%.10g")
        for name, table in result_tables(result).items():  # provisioning tables
            table.to_csv(tmp / name, index=False, float_format="%.10g")
        (tmp / "scenario.toml").write_text(_scenario_toml(result.scenario))
        _save_plots(result, tmp / "plots")
        manifest = {
            "format": FORMAT,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "scenario_name": result.scenario.scenario.name,
            "scenario_file": scenario_file,
            "scenario_sha256": scenario_hash(result.scenario),
            "overrides": overrides or {},
            "seed": result.seed,
            "paths": result.n_paths,
            "horizon_months": result.horizon,
            "engine_version": result.engine_version,
            "wall_seconds": result.wall_seconds,
            "versions": _versions(),
            "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "files": _file_table(tmp),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        if out.exists():
            old = parent / f".{out.name[:100]}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


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
    monthly = pd.read_csv(folder / "monthly.csv")
    return SimulationResult(
        scenario=scenario,
        per_path=per_path,
        monthly=monthly,
        trajectory=None,
        engine_version=str(manifest.get("engine_version")),
        wall_seconds=float(manifest.get("wall_seconds") or float("nan")),
    )


def redraw_plots(folder: str | Path) -> list[Path]:
    """Re-draw the plots of a results folder from its saved tables; update the manifest.

    Returns
    -------
    list of Path
        The plot files written.
    """
    folder = Path(folder)
    result = load_results(folder)
    tmp = folder / f".plots.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
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
    manifest["files"] = _file_table(folder)
    new = manifest_path.with_name(f".manifest.json.tmp-{os.getpid()}")
    new.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(new, manifest_path)
    return written


# --------------------------------------------------------------------------------------------
# Sweep folders (`arsim sweep`, `solve`, `sensitivity`)
#
# A sweep folder holds `sweep.json` (the command's definition, written before any point),
# `points/<key>.json` (one per finished point, each written atomically as soon as the point
# finishes) and, when the command ends, its tables (`<name>.parquet` and `<name>.csv`),
# documents (`<name>.json`), `plots/*.png` and `manifest.json`. Running the same command again
# on the folder resumes it: finished points are read back, not recomputed.

SWEEP_FORMAT = "arsim-sweep/1"
_SWEEP_KEEP = {"sweep.json", "manifest.json"}


class SweepFolderError(ValueError):
    """An ``--out`` folder that cannot take this sweep; the text says why."""


def _definition_id(definition: dict[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` through a temporary file beside it and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


class SweepFolder:
    """The folder of a sweep, a reverse stress test or a sensitivity analysis.

    Make one with :meth:`prepare` (which writes nothing), read finished points with
    :meth:`load_points`, :meth:`create` it just before the first point runs, save each point
    with :meth:`write_point` and the outputs with :meth:`finish`.

    Attributes
    ----------
    out : Path
        The folder asked for (``--out``).
    work : Path
        Where points are written: ``out`` itself, or, when ``--force`` replaces a folder that
        is not this sweep's, a hidden staging folder beside it (``.<name>.sweep-<id>``) that
        replaces ``out`` once the outputs are complete.
    resumed : bool
        Whether ``work`` already held this sweep (finished points are reused).
    """

    def __init__(
        self, out: Path, work: Path, definition: dict[str, Any], info: dict[str, Any], resumed: bool
    ) -> None:
        self.out, self.work, self.resumed = out, work, resumed
        self.definition = definition
        self.definition_id = _definition_id(definition)
        self.info = info

    @classmethod
    def prepare(
        cls,
        out: str | Path,
        definition: dict[str, Any],
        *,
        force: bool = False,
        info: dict[str, Any] | None = None,
    ) -> SweepFolder:
        """Decide where a sweep goes, without writing anything.

        A folder that holds the same sweep (same definition: scenario, design, paths, seed,
        engine) is resumed, with or without ``force``. Anything else that exists is refused
        unless ``force``; then the new sweep is built beside it and replaces it once complete.

        Parameters
        ----------
        out : str or Path
        definition : dict
            JSON-ready; what makes two commands "the same sweep".
        force : bool, optional
        info : dict, optional
            Extra facts recorded in ``sweep.json`` and the manifest (scenario file, overrides).

        Raises
        ------
        SweepFolderError
            If ``out`` exists, is not this sweep's folder and ``force`` is false, or is a file.
        """
        out = Path(out)
        info = dict(info or {})
        did = _definition_id(definition)

        def holds_this(folder: Path) -> bool:
            doc = _read_json(folder / "sweep.json") if folder.is_dir() else None
            return isinstance(doc, dict) and doc.get("definition_id") == did

        if not out.exists():
            return cls(out, out, definition, info, resumed=False)
        if holds_this(out):
            return cls(out, out, definition, info, resumed=True)
        if not force:
            doc = _read_json(out / "sweep.json") if out.is_dir() else None
            if isinstance(doc, dict) and doc.get("format") == SWEEP_FORMAT:
                raise SweepFolderError(
                    "holds the results of a different command (another scenario, fields, "
                    "paths or seed); add --force to replace it"
                )
            raise SweepFolderError(
                "already exists and is not a folder of this command (which would be resumed); "
                "add --force to replace it"
            )
        if not out.is_dir():
            raise SweepFolderError("is a file, not a folder")
        staging = out.parent / f".{out.name[:100]}.sweep-{did}"
        return cls(out, staging, definition, info, resumed=holds_this(staging))

    @property
    def staged(self) -> bool:
        """Whether points go to a staging folder that replaces ``out`` at the end."""
        return self.work != self.out

    def load_points(self) -> dict[str, dict[str, Any]]:
        """The finished points already in the folder, by key (unreadable files are skipped)."""
        folder = self.work / "points"
        if not folder.is_dir():
            return {}
        found = {}
        for path in sorted(folder.iterdir()):
            m = _TMP.match(path.name)
            if m:  # a point being written when its process was killed
                if not _pid_alive(int(m["pid"])):
                    with contextlib.suppress(OSError):
                        path.unlink()
                continue
            if path.suffix != ".json":
                continue
            record = _read_json(path)
            if (
                isinstance(record, dict)
                and record.get("key") == path.stem
                and isinstance(record.get("summary"), dict)
            ):
                found[path.stem] = record
        return found

    def create(self) -> None:
        """Make the folder and write ``sweep.json`` (kept as it is when resuming)."""
        (self.work / "points").mkdir(parents=True, exist_ok=True)
        target = self.work / "sweep.json"
        if _read_json(target) is None:
            doc = {
                "format": SWEEP_FORMAT,
                "definition_id": self.definition_id,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                **self.info,
                "definition": self.definition,
            }
            text = json.dumps(doc, indent=2, default=str) + "\n"
            _atomic_write(target, lambda p: p.write_text(text))

    def write_point(self, record: dict[str, Any]) -> Path:
        """Save one finished point as ``points/<key>.json``, atomically."""
        path = self.work / "points" / f"{record['key']}.json"
        text = json.dumps(record, indent=1, default=str) + "\n"
        _atomic_write(path, lambda p: p.write_text(text))
        return path

    def finish(
        self,
        *,
        tables: dict[str, pd.DataFrame] | None = None,
        documents: dict[str, Any] | None = None,
        figures: dict[str, Any] | None = None,
    ) -> Path:
        """Write the outputs (each atomically) and the manifest; return the final folder.

        Outputs of an earlier run in the folder that this run does not produce (e.g. a plot of
        another metric) are removed. A staged sweep then replaces ``out``.

        Parameters
        ----------
        tables : dict of DataFrame, optional
            Written as ``<name>.parquet`` and ``<name>.csv``.
        documents : dict, optional
            JSON-ready objects written as ``<name>.json``.
        figures : dict of matplotlib Figure, optional
            Saved as ``plots/<name>.png``.
        """
        tables, documents, figures = tables or {}, documents or {}, figures or {}
        self.create()
        work = self.work
        keep = set(_SWEEP_KEEP)
        keep |= {f"{n}.parquet" for n in tables} | {f"{n}.csv" for n in tables}
        keep |= {f"{n}.json" for n in documents}
        for path in work.iterdir():
            if (
                path.is_file()
                and path.suffix in (".json", ".csv", ".parquet")
                and path.name not in keep
            ):
                path.unlink()
        plots = work / "plots"
        if plots.is_dir():
            for path in plots.iterdir():
                if path.suffix == ".png" and path.stem not in figures:
                    path.unlink()
        for name, table in tables.items():
            _atomic_write(work / f"{name}.parquet", lambda p, t=table: t.to_parquet(p, index=False))
            _atomic_write(work / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
        for name, doc in documents.items():
            text = json.dumps(doc, indent=2, default=str) + "\n"
            _atomic_write(work / f"{name}.json", lambda p, s=text: p.write_text(s))
        if figures:
            plots.mkdir(exist_ok=True)
        for name, fig in figures.items():
            _atomic_write(
                plots / f"{name}.png",
                lambda p, f=fig: f.savefig(p, format="png", dpi=110, metadata={"Software": None}),
            )
        files = {k: v for k, v in _file_table(work).items() if not k.startswith("points/")}
        manifest = {
            "format": SWEEP_FORMAT,
            "kind": self.definition.get("kind"),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "definition_id": self.definition_id,
            **self.info,
            "points": sum(1 for p in (work / "points").glob("*.json")),
            "versions": _versions(),
            "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "files": files,
        }
        text = json.dumps(manifest, indent=2, default=str) + "\n"
        _atomic_write(work / "manifest.json", lambda p: p.write_text(text))
        if self.staged:
            out = self.out
            if out.exists():
                old = out.parent / f".{out.name[:100]}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                os.rename(out, old)
                os.rename(work, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(work, out)
            self.work = out
        return self.out


# --------------------------------------------------------------------------------------------
# Scenario files written back (`arsim implied-rates --calibrate-defaults --out FILE`)


def update_scenario_text(text: str, values: dict[str, Any], source_note: str | None = None) -> str:
    """Change fields of a scenario file's text, keeping its comments, order and layout.

    Parameters
    ----------
    text : str
        The TOML text of a scenario file.
    values : dict
        Field path → new value, e.g. ``{"defaults.monthly_rate": [...],
        "collections.monthly_rate[2]": 0.03}`` (paths as in ``--set``).
    source_note : str, optional
        Appended to ``scenario.sources`` (which is created if missing).

    Returns
    -------
    str
        The new text (tomlkit keeps every comment and the user's formatting elsewhere).
    """
    from .scenario import parse_field_path

    doc = tomlkit.parse(text)
    for path, value in values.items():
        parts = parse_field_path(path)
        section, name = str(parts[0]), str(parts[1])
        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        if len(parts) == 3:
            table[name][int(parts[2])] = value
        elif name in table and isinstance(value, list) and len(table[name]) == len(value):
            for i, v in enumerate(value):  # in place, so the line keeps its comment
                table[name][i] = v
        else:
            table[name] = value
    if source_note:
        if "scenario" not in doc:
            doc["scenario"] = tomlkit.table()
        meta = doc["scenario"]
        if "sources" not in meta:
            meta["sources"] = tomlkit.array()
        meta["sources"].append(source_note)
    return tomlkit.dumps(doc)


def write_text_atomic(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write a text file atomically (a temporary file beside it, then renamed into place).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is false.
    IsADirectoryError
        If ``path`` is a folder.
    """
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder")
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return out
