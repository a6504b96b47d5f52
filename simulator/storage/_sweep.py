"""Sweep folders (``arsim sweep``, ``solve``, ``sensitivity``).

A sweep folder holds ``sweep.json`` (the command's definition, written before any point),
``points/<key>.json`` (one per finished point, each written atomically as soon as the point
finishes) and, when the command ends, its tables (``<name>.parquet`` and ``<name>.csv``),
documents (``<name>.json``), ``plots/*.png`` and ``manifest.json``. Running the same command again
on the folder resumes it: finished points are read back, not recomputed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .._util import sha256_json
from ._atomic import TMP_PATTERN, atomic_write, pid_alive, publish_folder, read_json
from ._figures import save_figure
from ._manifest import file_table, host, versions

__all__ = ["SWEEP_FORMAT", "SweepFolder", "SweepFolderError"]

SWEEP_FORMAT = "arsim-sweep/1"


_SWEEP_KEEP = {"sweep.json", "manifest.json"}


class SweepFolderError(ValueError):
    """An ``--out`` folder that cannot take this sweep; the text says why."""


def _definition_id(definition: dict[str, Any]) -> str:
    return sha256_json(definition)[:16]


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
            doc = read_json(folder / "sweep.json") if folder.is_dir() else None
            return isinstance(doc, dict) and doc.get("definition_id") == did

        if not out.exists():
            return cls(out, out, definition, info, resumed=False)
        if holds_this(out):
            return cls(out, out, definition, info, resumed=True)
        if not force:
            doc = read_json(out / "sweep.json") if out.is_dir() else None
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
            m = TMP_PATTERN.match(path.name)
            if m:  # a point being written when its process was killed
                if not pid_alive(int(m["pid"])):
                    with contextlib.suppress(OSError):
                        path.unlink()
                continue
            if path.suffix != ".json":
                continue
            record = read_json(path)
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
        if read_json(target) is None:
            doc = {
                "format": SWEEP_FORMAT,
                "definition_id": self.definition_id,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                **self.info,
                "definition": self.definition,
            }
            text = json.dumps(doc, indent=2, default=str) + "\n"
            atomic_write(target, lambda p: p.write_text(text))

    def write_point(self, record: dict[str, Any]) -> Path:
        """Save one finished point as ``points/<key>.json``, atomically."""
        path = self.work / "points" / f"{record['key']}.json"
        text = json.dumps(record, indent=1, default=str) + "\n"
        atomic_write(path, lambda p: p.write_text(text))
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
            atomic_write(work / f"{name}.parquet", lambda p, t=table: t.to_parquet(p, index=False))
            atomic_write(work / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
        for name, doc in documents.items():
            text = json.dumps(doc, indent=2, default=str) + "\n"
            atomic_write(work / f"{name}.json", lambda p, s=text: p.write_text(s))
        if figures:
            plots.mkdir(exist_ok=True)
        for name, fig in figures.items():
            atomic_write(
                plots / f"{name}.png",
                lambda p, f=fig: save_figure(f, p),
            )
        files = {k: v for k, v in file_table(work).items() if not k.startswith("points/")}
        manifest = {
            "format": SWEEP_FORMAT,
            "kind": self.definition.get("kind"),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "definition_id": self.definition_id,
            **self.info,
            "points": sum(1 for p in (work / "points").glob("*.json")),
            "versions": versions(),
            "host": host(),
            "files": files,
        }
        text = json.dumps(manifest, indent=2, default=str) + "\n"
        atomic_write(work / "manifest.json", lambda p: p.write_text(text))
        if self.staged:
            publish_folder(work, self.out)
            self.work = self.out
        return self.out
