"""Reading the tables of an HTML page back (standard library only): headers and cell texts."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._heading = ""
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "h3"):
            self._in_heading, self._heading = True, ""
        elif tag == "table":
            self.tables.append({"title": self._heading.strip(), "headers": [], "rows": []})
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("br", "small", "span") and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("h2", "h3"):
            self._in_heading = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell)).strip()
            self._row.append(text)
            self._cell = None
            if tag == "th":
                self._row_is_header = True
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if not table["headers"] and not table["rows"] and getattr(self, "_row_is_header", 0):
                table["headers"] = self._row
            else:
                table["rows"].append(self._row)
            self._row, self._row_is_header = None, False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_heading:
            self._heading += data


def read_tables(page: str) -> list[dict]:
    """Every table of ``page``: ``{"title": the h2/h3 before it, "headers": [...], "rows":
    [[cell text, ...], ...]}``."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def table_titled(page: str, start: str) -> dict:
    """The first table whose heading starts with ``start``."""
    for table in read_tables(page):
        if table["title"].startswith(start):
            return table
    raise AssertionError(f"no table under a heading starting with {start!r}")
