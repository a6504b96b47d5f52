"""Reading ledger files (DESIGN 6.1): CSV, Parquet or Excel into a table, with the row number a
user sees for every record, and the ``--columns`` mapping of the file's column names."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._ledger_table import LedgerError

#: The ledger's fields: the invoice table (required first) and the events table.
INVOICE_REQUIRED = ("invoice_id", "customer", "invoice_date", "amount")
INVOICE_OPTIONAL = (
    "due_date",
    "segment",
    "currency",
    "settled_date",
    "settled_amount",
    "written_off_date",
    "written_off_amount",
)
SETTLEMENT = INVOICE_OPTIONAL[3:]
EVENT_FIELDS = ("invoice_id", "date", "amount", "kind")


@dataclass(frozen=True)
class RawTable:
    """A file's records: the cells (strings for CSV; typed for Parquet and Excel), the row
    number of each record as the user sees it, the file's name and its SHA-256."""

    frame: pd.DataFrame
    rows: np.ndarray
    source: str
    sha256: str


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _comment_lines(path: Path) -> int:
    """Leading lines starting with ``#`` (a header comment, as synth-ledger writes)."""
    n = 0
    with path.open("rb") as f:
        for line in f:
            if line.lstrip(b"\xef\xbb\xbf").startswith(b"#"):
                n += 1
            else:
                break
    return n


def _read_csv(path: Path, skip: int) -> pd.DataFrame:
    """Every column as text (Arrow strings: read on all cores), empty cells as ``""``."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open(encoding="utf-8-sig", newline="") as f:
        for _ in range(skip):
            f.readline()
        header = next(csv.reader([f.readline()]), [])
    if not header:
        raise pd.errors.EmptyDataError("no header")
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=skip),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def read_table(path: str | Path, sheet: str | None = None) -> RawTable:
    """Read a ledger table in full.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (UTF-8, one header row; leading lines starting with ``#`` are a comment),
        ``.parquet``, or ``.xlsx``/``.xlsm``/``.xls`` (read with the calamine engine).
    sheet : str, optional
        The Excel sheet (default the first).

    Returns
    -------
    RawTable

    Raises
    ------
    LedgerError
        If the file is missing, unreadable or of another kind.
    """
    name = str(path)
    p = Path(path)
    if p.is_dir():
        raise LedgerError(name, None, "-", "is a folder, not a ledger file")
    if not p.exists():
        raise LedgerError(name, None, "-", "no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            skip = _comment_lines(p)
            frame = _read_csv(p, skip)
            rows = np.arange(len(frame), dtype=np.int64) + skip + 2
        elif suffix == ".parquet":
            frame = pd.read_parquet(p, dtype_backend="pyarrow")
            rows = np.arange(len(frame), dtype=np.int64) + 1
        elif suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
            frame = pd.read_excel(
                p, sheet_name=sheet if sheet is not None else 0, engine="calamine"
            )
            rows = np.arange(len(frame), dtype=np.int64) + 2
        else:
            raise LedgerError(name, None, "-", "expected a .csv, .parquet or .xlsx file")
    except LedgerError:
        raise
    except PermissionError:
        raise LedgerError(name, None, "-", "permission denied") from None
    except UnicodeDecodeError:
        raise LedgerError(name, None, "-", "not UTF-8 text; expected CSV") from None
    except pd.errors.EmptyDataError:
        raise LedgerError(name, None, "-", "empty; expected a header row and invoices") from None
    except ValueError as exc:  # a missing sheet, a malformed CSV or Parquet file
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LedgerError(name, None, "-", f"cannot read: {text}") from None
    except Exception as exc:  # the readers' own errors (pyarrow, calamine)
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LedgerError(name, None, "-", f"cannot read: {text}") from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return RawTable(frame=frame, rows=rows, source=name, sha256=_sha256(p))


def parse_columns_option(text: str | None, source: str) -> dict[str, str]:
    """``--columns invoice_id=InvoiceNo,events.date=PostingDate`` as field → column name.

    Fields of the events table take the prefix ``events.``.

    Raises
    ------
    LedgerError
        For an item that is not ``FIELD=COLUMN`` or names no field.
    """
    known = [*INVOICE_REQUIRED, *INVOICE_OPTIONAL, *(f"events.{f}" for f in EVENT_FIELDS)]
    out: dict[str, str] = {}
    if not text:
        return out
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise LedgerError(source, None, "--columns", f"expected FIELD=COLUMN, got {item!r}")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise LedgerError(source, None, "--columns", f"unknown field {key!r}{hint}")
        out[key] = value
    return out


def resolve_columns(
    table: RawTable,
    mapping: dict[str, str],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    prefix: str = "",
) -> dict[str, str]:
    """The file's column for each field: as mapped, else the field's name ignoring case.

    Raises
    ------
    LedgerError
        If a required field (or a mapped one) has no column.
    """
    by_lower: dict[str, str] = {}
    for c in table.frame.columns:
        by_lower.setdefault(c.lower(), c)
    found: dict[str, str] = {}
    for f in (*required, *optional):
        wanted = mapping.get(prefix + f)
        if wanted is not None:
            if wanted not in table.frame.columns and wanted.lower() not in by_lower:
                raise LedgerError(
                    table.source,
                    None,
                    wanted,
                    f"no such column (--columns {prefix}{f}={wanted}); the file has "
                    + ", ".join(table.frame.columns),
                )
            found[f] = wanted if wanted in table.frame.columns else by_lower[wanted.lower()]
        elif f in by_lower:
            found[f] = by_lower[f]
        elif f in required:
            raise LedgerError(
                table.source,
                None,
                f,
                "required column is missing (map it with --columns "
                f"{prefix}{f}=NAME); the file has " + ", ".join(table.frame.columns),
            )
    return found
