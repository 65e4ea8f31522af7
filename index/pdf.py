"""PDF glossaries: read the text layer with pypdf, then cut it into term / definition blocks.

Two layouts are understood, and may be mixed:
  국내총생산(GDP): 일정 기간 한 나라 안에서 …        one line per term, as in a .txt glossary
  국내총생산(GDP)                                   a short heading line, then its paragraph(s)
  일정 기간 한 나라 안에서 새로 생산된 …
Running headers and footers (a line on at least half of the pages) and bare page numbers are
dropped. Line numbers in problem reports count lines of the extracted text, with the page named.
A scanned PDF (no text layer), an encrypted or a broken one is a one-line error. So is a PDF in
which fewer than half the blocks look like term/definition pairs (an English spec, a report): it
is imported only with `force`. pypdf's own warnings are counted, not printed.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from finterm import FintermError

MAX_HEADING = 40  # characters; a term heading is a short line
_ONE_LINE = re.compile(r"^(?P<term>[^:：]{1,40}?)\s*[:：]\s*(?P<definition>\S.{10,})$")
_PAGE_NUMBER = re.compile(r"^(?:[-–—·\s]*\d{1,4}[-–—·\s]*|(?:page|p\.)\s*\d{1,4}(?:\s*/\s*\d{1,4})?)$", re.IGNORECASE)
# A line that closes a sentence: 다. / 요. / 음. / an end mark / a closing bracket after one.
_SENTENCE_END = re.compile(r"(?:[.!?。]|다|요|음|함|임)[\"'”’)\]]*$")
_HANGUL = re.compile(r"[가-힣]")
_SECTION = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.|Chapter|Section|Appendix|Table|Figure)\s", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-•·※○●▶◦*]|\d+[.)]|[①-⑳]|[가-하][.)])\s")


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else ""
    return text or type(exc).__name__


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split())[:100])


def pdf_lines(path: Path, notes: list[str] | None = None) -> list[tuple[int, int, str]]:
    """(line number, page, text) for each content line of the PDF's text layer.

    pypdf's warnings (a damaged xref …) go to `notes` as one line, not to the terminal."""
    log = logging.getLogger("pypdf")
    counter, propagate = _Count(), log.propagate
    log.addHandler(counter)
    log.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _pdf_lines(path)
    finally:
        log.removeHandler(counter)
        log.propagate = propagate
        if counter.messages and notes is not None:
            notes.append(f"{path}: pypdf reported {len(counter.messages)} problem(s) reading the file (first: "
                         f"{counter.messages[0]}); check the imported entries")


def _pdf_lines(path: Path) -> list[tuple[int, int, str]]:
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - a dependency of the package
        raise FintermError("reading PDF glossaries needs pypdf; pip install pypdf") from None
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FintermError(f"{path}: the PDF is encrypted; save an unprotected copy and import that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FintermError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise FintermError(f"{path}: not a readable PDF ({_reason(exc)}); check the file or export it as "
                           f"text") from None
    if not any(p.strip() for p in pages):
        raise FintermError(f"{path}: the PDF has no text layer (a scan?); run OCR or export the text, "
                           f"then import the .txt")
    seen = Counter(s for p in pages for s in {" ".join(x.split()) for x in p.splitlines()} if s)
    running = {s for s, c in seen.items() if len(pages) >= 3 and c >= len(pages) / 2}
    out, n = [], 0
    for page_no, text in enumerate(pages, 1):
        for raw in text.splitlines():
            n += 1
            line = " ".join(raw.split())
            if line and line not in running and not _PAGE_NUMBER.match(line):
                out.append((n, page_no, line))
    return out


def _is_heading(line: str) -> bool:
    return (len(line) <= MAX_HEADING and not _SENTENCE_END.search(line) and not _BULLET.match(line)
            and len(line.split()) <= 6 and not line.endswith((",", "·", "、")))


def _looks_like_pair(row: dict, one_line: bool) -> bool:
    """A glossary block: a short name that is not a section heading, and a real definition in Korean
    (or on one `term: definition` line)."""
    term, definition = row["term"], row["definition"]
    return (not _SECTION.match(term) and len(definition) >= 15
            and (one_line or bool(_HANGUL.search(term + definition))))


def pdf_rows(path: Path, problems: list[str], *, force: bool = False,
             notes: list[str] | None = None) -> list[tuple[int, dict]]:
    """Rows {"term", "definition"} with their line numbers; unusable text is reported in `problems`.

    Unless `force`, a PDF where fewer than half the blocks look like term/definition pairs is refused."""
    rows = list(_blocks(path, problems, notes))
    pairs = sum(_looks_like_pair(row, one) for _, row, one in rows)
    if rows and pairs < len(rows) / 2 and not force:
        raise FintermError(f"{path}: only {pairs} of {len(rows)} text blocks look like term/definition pairs, so "
                           f"this PDF does not look like a glossary and nothing was imported; pass --force to "
                           f"import it anyway")
    return [(n, row) for n, row, _ in rows]


def _blocks(path: Path, problems: list[str], notes: list[str] | None) -> Iterable[tuple[int, dict, bool]]:
    """(line, row, came from a one-line `term: definition`) for each block of the PDF."""
    lines = pdf_lines(path, notes)
    current: tuple[int, str] | None = None  # the heading being filled
    body: list[str] = []
    aliases: list[str] = []
    loose: tuple[int, int] | None = None  # first line of text that belongs to no heading

    def flush():
        if current is not None:
            yield current[0], {"term": current[1], "definition": " ".join(body), "aliases": list(aliases)}, False

    for i, (n, page, line) in enumerate(lines):
        one = _ONE_LINE.match(line)
        prev_closed = i == 0 or current is None or not body or _SENTENCE_END.search(lines[i - 1][2])
        if one and _is_heading(one["term"]):
            yield from flush()
            current, body = None, []
            yield n, one.groupdict(), True
        elif current is not None and not body and not _HANGUL.search(line) and len(line) <= 60:
            aliases.append(line)  # "국내총생산" then "Gross Domestic Product" on its own line
        elif _is_heading(line) and prev_closed and i + 1 < len(lines):
            yield from flush()
            current, body, aliases = (n, line), [], []
        elif current is not None:
            body.append(line)
        elif loose is None:
            loose = (n, page)
    yield from flush()
    if loose:
        problems.append(f"{path}:{loose[0]}: text before the first term heading was skipped (page {loose[1]})")
