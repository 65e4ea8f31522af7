"""Load glossaries into `Entry` lists: native JSONL, CSV/TSV (column mapping or the BOK crawl), text, PDF.

Bad rows never stop an import: each is reported as `file:line: reason` and skipped, the rest load.
"""

from __future__ import annotations

import ast
import json
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from finterm import FintermError
from finterm.index.clean import CleanStats, clean_text, split_term, stub_target
from finterm.index.encoding import decode_file
from finterm.index.entry import Entry
from finterm.index.formats import MAP_FIELDS, rows_csv, rows_jsonl, rows_text
from finterm.index.normalize import norm_key


@dataclass
class LoadReport:
    """What an import produced: the entries, and every row it skipped with the reason."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: reason" (row skipped)
    warnings: list[str] = field(default_factory=list)  # "file:line: what was changed" (row kept)
    origins: list[str] = field(default_factory=list)  # "file:line" of each entry
    duplicates: int = 0
    renamed_ids: int = 0
    stubs_aliased: int = 0
    stubs_skipped: int = 0
    cleaned: CleanStats = field(default_factory=CleanStats)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        text = (f"imported {len(self.entries)} entries, skipped {self.skipped}, duplicates {self.duplicates}, "
                f"cross-reference stubs {self.stubs_aliased} merged as aliases / {self.stubs_skipped} unresolved")
        if self.renamed_ids:
            text += f", ids renamed {self.renamed_ids}"
        if str(self.cleaned):
            text += f"; cleaning removed {self.cleaned}"
        return text


def parse_mapping(spec: str | None) -> dict[str, str]:
    """Parse `--map term=용어,definition=설명` into {field: column}; unknown fields are an error."""
    if not spec:
        return {}
    mapping = {}
    for part in spec.split(","):
        if "=" not in part:
            raise FintermError(f"--map item {part!r} is not field=column; e.g. --map term=용어,definition=설명")
        key, col = (s.strip() for s in part.split("=", 1))
        if key not in MAP_FIELDS:
            raise FintermError(f"--map field {key!r} is unknown; use one of {', '.join(MAP_FIELDS)}")
        mapping[key] = col
    return mapping


def _source_name(path: Path) -> str:
    return path.stem


def _as_list(value, stats: CleanStats | None = None) -> list[str]:
    """A related/aliases cell: a JSON or Python-literal list, a list of dicts, or a ;/, separated string."""
    if value is None:
        return []
    if isinstance(value, list):
        items = value
    else:
        text = str(value).strip()
        if not text:
            return []
        if text[0] in "[{":
            try:
                try:
                    items = json.loads(text)
                except ValueError:
                    try:
                        items = ast.literal_eval(text)  # literals only: never evaluates code
                    except (ValueError, SyntaxError):
                        items = re.split(r"[;,]", text.strip("[]"))
            except (RecursionError, MemoryError):
                raise ValueError("a list cell is nested too deeply to read; flatten it") from None
        else:
            items = re.split(r"[;,|]", text)
    out = []
    for item in items if isinstance(items, list | tuple) else [items]:
        if isinstance(item, dict):  # BOK: {'ecWordNm': '경상수지', ...}
            item = item.get("ecWordNm") or item.get("term") or ""
        if not isinstance(item, str):
            raise ValueError(f"a list item must be text, got {_kind(item)} ({reprlib.repr(item)})")
        name = clean_text(str(item), stats).strip(" '\"")
        if name:
            out.append(name)
    return out


_TEXT_FIELDS = ("id", "term", "definition", "source", "category", "example", "url")


def _kind(value) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object",
            tuple: "a list"}.get(type(value), type(value).__name__)


def _row_problem(row: dict) -> str | None:
    """Why a raw row cannot be imported as it is (wrong types, NUL characters), or None."""
    for key in _TEXT_FIELDS:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            return f"field {key!r} must be text, got {_kind(value)} ({reprlib.repr(value)}); quote it"
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            return f"field {key!r} contains a NUL character; remove it from the file"
    return None


_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9&.'’/+\- ]{1,59}$")


def _opening_names(term: str, definition: str) -> list[str]:
    """English names and abbreviations a definition opens with: "국내총생산(GDP; Gross Domestic Product)은 …"
    gives GDP and Gross Domestic Product; Korean parts ("또는 제2차 시장") are left to the text."""
    m = re.match(rf"\s*{re.escape(term)}\s*\(([^()]{{2,120}})\)", definition)
    if not m:
        return []
    parts = (p.strip() for p in re.split(r"[;,]|\bor\b", m.group(1)))
    return [p for p in parts if _LATIN_NAME.match(p)]


class _Builder:
    """Turns raw rows into entries, collecting problems, duplicates and stubs for one file."""

    def __init__(self, path: Path, source: str, report: LoadReport):
        self.path, self.source, self.report = path, source, report
        self.stubs: list[tuple[str, str, int]] = []  # (alias term, target, line)
        self.n = 0

    def add(self, line: int, row: dict) -> None:
        problem = _row_problem(row)
        if problem is None:
            try:
                self._add(line, row)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            self.report.problems.append(f"{self.path}:{line}: {problem}")

    def _add(self, line: int, row: dict) -> None:
        stats = self.report.cleaned
        raw_term = clean_text(str(row.get("term") or ""), stats)
        definition = clean_text(str(row.get("definition") or ""), stats)
        if not raw_term:
            self.report.problems.append(f"{self.path}:{line}: no term")
            return
        if not definition:
            self.report.problems.append(f"{self.path}:{line}: no definition for {raw_term!r}")
            return
        target = stub_target(definition)
        if target:
            self.stubs.append((raw_term, target, line))
            return
        term, bracket = split_term(raw_term)
        aliases = [*bracket, *_as_list(row.get("aliases"), stats), *_opening_names(term, definition)]
        if "/" in term:  # "간접금융/직접금융": a pair explained together, found by either name
            aliases += [p.strip() for p in term.split("/") if p.strip()]
        related = [split_term(r)[0] for r in _as_list(row.get("related"), stats)]
        self.n += 1
        entry_id = str(row.get("id") or f"{norm_key(self.source) or 'src'}-{self.n:05d}")
        entry = Entry(id=entry_id, term=term, definition=definition,
                      source=str(row.get("source") or self.source), aliases=tuple(dict.fromkeys(aliases)),
                      category=clean_text(str(row.get("category") or ""), stats), related=tuple(related),
                      example=clean_text(str(row.get("example") or ""), stats), url=str(row.get("url") or ""))
        self.report.entries.append(entry)
        self.report.origins.append(f"{self.path}:{line}")

    def resolve_stubs(self, first: int) -> None:
        """Make "X => Y 참조" rows aliases of Y's entry (within this file), or count them as unresolved."""
        by_key = {}
        for i in range(first, len(self.report.entries)):
            for name in self.report.entries[i].names:
                by_key.setdefault(norm_key(name), i)
        for alias, target, _line in self.stubs:
            i = by_key.get(norm_key(split_term(target)[0]))
            if i is None:  # not `or`: entry 0 is a valid target
                i = by_key.get(norm_key(target))
            if i is None:
                self.report.stubs_skipped += 1
                continue
            e = self.report.entries[i]
            new_aliases = tuple(dict.fromkeys((*e.aliases, *([split_term(alias)[0]] + split_term(alias)[1]))))
            self.report.entries[i] = Entry(**{**e.__dict__, "aliases": new_aliases})
            self.report.stubs_aliased += 1


def load_glossary(path: str | Path, *, mapping: dict[str, str] | None = None,
                  report: LoadReport | None = None, force: bool = False) -> LoadReport:
    """Load one glossary file; rows are appended to `report` (a new one if not given).

    Text files may be UTF-8, UTF-16 or CP949 (see index/encoding.py); which one was used is noted in
    `report.warnings` unless it is UTF-8. `force` imports a PDF that does not look like a glossary.
    """
    path = Path(path)
    report = report if report is not None else LoadReport()
    if not path.is_file():
        raise FintermError(f"glossary file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".csv", ".tsv", ".txt", ".text"):
        lines, encoding, bad = decode_file(path)
        if encoding not in ("UTF-8", "UTF-8 (BOM)"):
            report.warnings.append(f"{path}: read as {encoding} text")
        report.problems.extend(f"{path}:{n}: not {encoding} text (undecodable bytes); this line was skipped"
                               for n in bad)
        if suffix in (".jsonl", ".ndjson"):
            rows = rows_jsonl(path, lines, report.problems)
        elif suffix in (".csv", ".tsv"):
            rows = rows_csv(path, lines, mapping or {}, report.problems)
        else:
            rows = rows_text(path, lines, report.problems)
    elif suffix == ".xlsx":
        from finterm.index.xlsx import rows_xlsx

        rows = rows_xlsx(path, mapping or {})
    elif suffix == ".pdf":
        from finterm.index.pdf import pdf_rows

        rows = pdf_rows(path, report.problems, force=force, notes=report.warnings)
    else:
        hint = "; save it as .xlsx or CSV" if suffix == ".xls" else ""
        raise FintermError(f"{path}: unsupported glossary format {suffix!r}{hint}; use .jsonl, .csv, .tsv, .txt, "
                           f".xlsx or .pdf")
    builder = _Builder(path, _source_name(path), report)
    first = len(report.entries)
    for line, row in rows:
        builder.add(line, row)
    builder.resolve_stubs(first)
    return report


def load_many(paths: Iterable[str | Path], *, mapping: dict[str, str] | None = None,
              force: bool = False) -> LoadReport:
    """Load several glossaries; duplicates (same term and source) are dropped and ids made unique.

    An id already taken is renamed (`source:id`, then `source:id~2` …) and reported as `file:line`.
    """
    report = LoadReport()
    for p in paths:
        load_glossary(p, mapping=mapping, report=report, force=force)
    origins = report.origins or [""] * len(report.entries)
    seen_terms: set[tuple[str, str]] = set()
    first_use: dict[str, str] = {}
    all_ids = {e.id for e in report.entries}
    unique, kept_origins = [], []
    for e, origin in zip(report.entries, origins, strict=True):
        key = (norm_key(e.term), e.source)
        if key in seen_terms:
            report.duplicates += 1
            continue
        seen_terms.add(key)
        if e.id in first_use:
            new_id, n = f"{norm_key(e.source) or 'src'}:{e.id}", 1
            while new_id in first_use or new_id in all_ids:
                n += 1
                new_id = f"{norm_key(e.source) or 'src'}:{e.id}~{n}"
            report.warnings.append(f"{origin}: id {e.id!r} is already used by {first_use[e.id]}; "
                                   f"imported as {new_id!r} (give each row its own id)")
            report.renamed_ids += 1
            e = Entry(**{**e.__dict__, "id": new_id})
        first_use[e.id] = origin
        unique.append(e)
        kept_origins.append(origin)
    report.entries, report.origins = unique, kept_origins
    return report
