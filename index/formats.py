"""Row readers of the text formats: native JSONL, CSV/TSV (with a header row) and plain text.

Each takes the file's decoded lines (index/encoding.py) and yields (line number, raw row); a line
that cannot be read is appended to `problems` as `file:line: reason` and skipped.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from finterm import FintermError

# The Bank of Korea online dictionary export: recognised by its header, no flags needed.
BOK_COLUMNS = {"term": "ecWordNm", "definition": "ecWordCn", "related": "relateList"}
MAP_FIELDS = ("id", "term", "definition", "aliases", "category", "related", "source", "example", "url")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def rows_jsonl(path: Path, lines: list[str], problems: list[str]) -> Iterable[tuple[int, dict]]:
    """Native JSONL: one object per line."""
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            problems.append(f"{path}:{line_no}: not valid JSON ({exc.msg})")
            continue
        except (RecursionError, MemoryError):
            problems.append(f"{path}:{line_no}: JSON nested too deeply to read; flatten the line")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{line_no}: expected a JSON object")
            continue
        yield line_no, obj


def _csv_records(lines: list[str], delimiter: str, path: Path, problems: list[str]):
    """(first physical line, cells) per record. A record with broken quoting (an unclosed quote would
    otherwise swallow the rows after it) is reported and reading resumes on the line after its start."""
    start = 0
    while start < len(lines):
        reader = csv.reader(iter(lines[start:]), delimiter=delimiter, strict=True)
        prev = 0
        try:
            for cells in reader:
                first, prev = start + prev + 1, reader.line_num
                yield first, cells
            return
        except csv.Error as exc:
            bad = start + prev + 1
            why = "a quote is never closed" if "end of data" in str(exc) else f"broken quoting ({exc})"
            problems.append(f"{path}:{bad}: {why}; this row was skipped, the rows after it were read "
                                   f"(close or remove the quote)")
            start = bad


def rows_csv(path: Path, lines: list[str], mapping: dict[str, str], problems: list[str]) -> Iterable[tuple[int, dict]]:
    """CSV/TSV with a header row; columns by `mapping`, the BOK crawl's names or the native field names."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    records = _csv_records(lines, delimiter, path, problems)
    _, header = next(records, (0, []))
    yield from mapped_rows(path, header, records, mapping)


def mapped_rows(path: Path, header: list[str], records, mapping: dict[str, str]) -> Iterable[tuple[int, dict]]:
    """Rows {field: cell} of a table with a header row, by `mapping` (or the BOK / native column names)."""
    if not mapping:
        if set(BOK_COLUMNS.values()) <= set(header):
            mapping = BOK_COLUMNS
        else:
            mapping = {k: k for k in MAP_FIELDS if k in header}
    missing = [f"{k}={v}" for k, v in mapping.items() if v not in header]
    if missing or "term" not in mapping or "definition" not in mapping:
        raise FintermError(
            f"{path}: cannot find the term and definition columns (header: {', '.join(map(str, header))}); "
            f"pass --map term=COLUMN,definition=COLUMN")
    for start, cells in records:
        if not cells or all(c is None for c in cells):  # a blank line (or an empty spreadsheet row)
            continue
        raw = dict(zip(header, cells, strict=False))
        yield start, {k: raw.get(col) for k, col in mapping.items()}


_TEXT_ROW = re.compile(r"^(?P<term>[^\t:]{1,80}?)\s*(?:\t|:)\s*(?P<definition>.*)$")


def rows_text(path: Path, lines: list[str], problems: list[str]) -> Iterable[tuple[int, dict]]:
    """Plain text: `용어: 정의` or `용어<TAB>정의` per line; `#` starts a comment."""
    for line_no, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _TEXT_ROW.match(line.strip())
        if not m:
            problems.append(f"{path}:{line_no}: expected '용어: 정의' or '용어<TAB>정의'")
            continue
        yield line_no, m.groupdict()


