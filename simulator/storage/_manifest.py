"""What every folder's manifest records: library versions, the host, and each file's size and
SHA-256."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from ._atomic import file_sha256

__all__ = ["file_table", "host", "versions", "write_manifest"]

_LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "pydantic", "matplotlib")


def versions() -> dict[str, str]:
    """Versions of arsim, Python and the libraries whose numbers or files a result depends on."""
    from .._version import __version__

    out = {"arsim": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def host() -> dict[str, Any]:
    """The platform and the number of CPUs (facts comparisons between runs ignore)."""
    return {"platform": platform.platform(), "cpus": os.cpu_count()}


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file below ``folder`` but the manifest, by relative path."""
    return {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def write_manifest(folder: Path, fields: dict[str, Any]) -> None:
    """Write ``folder/manifest.json``: ``fields``, then the library versions, the host and every
    file of the folder with its size and SHA-256 (write it last)."""
    manifest = {**fields, "versions": versions(), "host": host(), "files": file_table(folder)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
