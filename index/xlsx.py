"""Excel .xlsx glossaries through openpyxl: the first sheet, a header row, the same `--map` columns as CSV.

Line numbers in reports are the sheet's row numbers. Numbers and dates in cells are read as the text
a spreadsheet shows (an id column of 1, 2, 3 is "1", "2", "3").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from finterm import FintermError
from finterm.index.formats import mapped_rows


def _cell_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def rows_xlsx(path: Path, mapping: dict[str, str]) -> Iterable[tuple[int, dict]]:
    """Rows of the first worksheet under its header row (the first non-empty row)."""
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - a dependency of the package
        raise FintermError("reading .xlsx glossaries needs openpyxl; pip install openpyxl") from None
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors come in many types
        raise FintermError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}); open it in Excel and "
                           f"save it again as .xlsx, or export CSV") from None
    try:
        sheet = book.worksheets[0]
        records = ((n, [_cell_text(v) for v in row])
                   for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
        header: list[str] = []
        for _, cells in records:
            if any(c not in (None, "") for c in cells):
                header = [c.strip() if isinstance(c, str) else "" if c is None else c for c in cells]
                break
        yield from mapped_rows(path, header, records, mapping)
    finally:
        book.close()
