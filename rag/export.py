"""Flashcard export: an Anki deck (.apkg, via genanki) or a CSV file of glossary entries.

Anki cards: the term on the front; the definition and its source on the back; the category as a
tag. Note ids (guids) come from the entry ids, so re-importing an updated deck updates the cards
instead of duplicating them. Files are written beside the target and renamed into place.
"""

from __future__ import annotations

import csv
import html
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

from finterm import FintermError
from finterm.index.entry import Entry

FORMATS = ("anki", "csv")
CSV_COLUMNS = ("id", "term", "aliases", "category", "definition", "source")
# Fixed ids: Anki recognises the same model and deck across exports.
MODEL_ID = 1_607_392_319
DECK_NAME = "finterm 경제용어"

_CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left; }
.term { font-size: 28px; font-weight: bold; text-align: center; }
.aliases { color: #666; font-size: 16px; text-align: center; }
.source { color: #888; font-size: 14px; margin-top: 1em; }"""


def _tag(category: str) -> str:
    """Anki tags cannot hold spaces."""
    return "_".join(category.split()) if category else "미분류"


def _model():
    import genanki

    return genanki.Model(
        MODEL_ID, "finterm term",
        fields=[{"name": "Term"}, {"name": "Aliases"}, {"name": "Definition"}, {"name": "Source"},
                {"name": "Category"}],
        templates=[{
            "name": "Term → Definition",
            "qfmt": '<div class="term">{{Term}}</div><div class="aliases">{{Aliases}}</div>',
            "afmt": '{{FrontSide}}<hr id="answer">{{Definition}}'
                    '<div class="source">출처: {{Source}} · {{Category}}</div>',
        }],
        css=_CSS)


def _atomic_target(out: Path) -> Path:
    out = Path(out)
    if out.is_dir():
        raise FintermError(f"--out {out} is a folder; give a file name, e.g. {out / 'finterm.apkg'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.name}.tmp-{os.getpid()}")


def export_anki(entries: Iterable[Entry], out: str | Path, *, deck_name: str = DECK_NAME) -> int:
    """Write an Anki package with one note per entry; returns the number of notes."""
    import genanki

    out = Path(out)
    deck = genanki.Deck(zlib.crc32(deck_name.encode("utf-8")) | 1 << 30, deck_name)
    model = _model()
    n = 0
    for e in entries:
        fields = [html.escape(e.term), html.escape(", ".join(e.aliases)), html.escape(e.definition),
                  html.escape(e.source), html.escape(e.category)]
        deck.add_note(genanki.Note(model=model, fields=fields, tags=[_tag(e.category)],
                                   guid=genanki.guid_for("finterm", e.source, e.id)))
        n += 1
    if not n:
        raise FintermError("nothing to export: no entries matched; drop --category or check its spelling")
    tmp = _atomic_target(out)
    try:
        genanki.Package(deck).write_to_file(str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export_csv(entries: Iterable[Entry], out: str | Path) -> int:
    """Write a CSV (UTF-8 with BOM, so spreadsheet programs read the Korean); returns the row count."""
    out = Path(out)
    tmp = _atomic_target(out)
    n = 0
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS)
            for e in entries:
                w.writerow([e.id, e.term, "; ".join(e.aliases), e.category, e.definition, e.source])
                n += 1
        if not n:
            raise FintermError("nothing to export: no entries matched; drop --category or check its spelling")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export(entries: Iterable[Entry], out: str | Path, fmt: str | None = None) -> int:
    """Export in `fmt` ('anki' or 'csv'; default: from the file extension)."""
    if fmt is None:
        suffix = Path(out).suffix.lower()
        fmt = {".apkg": "anki", ".csv": "csv"}.get(suffix)
        if fmt is None:
            raise FintermError(f"cannot tell the format of {out!r} from its extension; use .apkg or .csv, "
                               "or pass --format anki|csv")
    if fmt == "anki":
        return export_anki(entries, out)
    if fmt == "csv":
        return export_csv(entries, out)
    raise FintermError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
