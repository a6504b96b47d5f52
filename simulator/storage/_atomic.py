"""Writing files and folders so that they appear complete or not at all: a temporary file or
folder beside the target, renamed into place; leftovers of killed processes are cleaned up."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write",
    "building_folder",
    "clean_stale_temps",
    "file_sha256",
    "pid_alive",
    "publish_folder",
    "read_json",
    "temp_name",
    "write_text_atomic",
]

#: Temporary files and folders: ``.<name>.tmp-<pid>-<random>``.
TMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+$")
#: Characters of the target's name kept in temporary names (room for the suffix in 255 bytes).
_NAME_CHARS = 100


def temp_name(target: Path, kind: str = "tmp") -> Path:
    """A hidden name beside ``target`` for a file or folder on its way: ``.<name>.<kind>-…``."""
    return (
        target.parent / f".{target.name[:_NAME_CHARS]}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(parent: Path) -> None:
    """Remove temporary folders left by runs that were killed (their process is gone)."""
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        m = TMP_PATTERN.match(entry.name)
        if m and entry.is_dir() and not pid_alive(int(m["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write ``path`` through ``write(temporary path)`` beside it, then ``os.replace``."""
    tmp = temp_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_json(path: Path) -> Any:
    """The JSON document in ``path``, or ``None`` if it cannot be read or parsed."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def publish_folder(work: Path, out: Path) -> None:
    """Put the complete folder ``work`` in place as ``out``, replacing what is there.

    An existing ``out`` is moved aside first and removed only once ``work`` is in place, so a
    complete folder is always there (a kill between the two renames leaves the old one under a
    hidden ``.<name>.old-*`` name).
    """
    if out.exists():
        old = temp_name(out, "old")
        os.rename(out, old)
        os.rename(work, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(work, out)


@contextlib.contextmanager
def building_folder(out_dir: str | Path, force: bool) -> Iterator[Path]:
    """Build a folder in a temporary sibling (yielded) and publish it whole when the block ends;
    on any failure the temporary folder is removed and the target is left as it was.

    Raises
    ------
    FileExistsError
        If ``out_dir`` exists and ``force`` is false (before anything is written).
    """
    out = Path(out_dir)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(out.parent)
    tmp = temp_name(out)
    tmp.mkdir()
    try:
        yield tmp
        publish_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write a text file atomically (a temporary file beside it, then renamed into place).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is false.
    IsADirectoryError
        If ``path`` is a folder.
    """
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)


def write_bytes_atomic(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write a binary file atomically, like :func:`write_text_atomic`."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder")
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: tmp.write_bytes(data))
    return out
