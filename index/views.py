"""Question views: questions written for the bundled glossary's entries, searched beside the passages.

A description like "물건 하나 더 만들면 드는 돈" is far from any definition's wording but close to a
question someone wrote about 한계비용. `index/data/questions.jsonl` holds such questions — several per
entry, in textbook, news and colloquial wording, written by this project — and an index keeps, for
each of its entries, the questions written about that entry's name (any glossary: a user's entry named
like a bundled one gets its questions too). At search time the question is compared with them as well
(query to query), and an entry's dense score is the better of its passage cosine and its best
question's cosine minus an offset (the ranker file's `view_offset`, fitted on the tuning sets so the
two kinds of cosine are comparable and entries without questions are not pushed down).

Files in an index folder: views.npy (float16 [n x dim], plain .npy) and views.json ([[row, text], …]).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from finterm.index.entry import Entry
from finterm.index.normalize import name_keys, norm_key


def bundled_questions() -> Path:
    from importlib.resources import files

    return Path(str(files("finterm.index") / "data" / "questions.jsonl"))


def _bank_rows(path: str | None) -> list[dict]:
    """The question bank's rows (the bundled one when `path` is None; [] when the file is missing)."""
    p = Path(path) if path else bundled_questions()
    if not p.is_file():
        return []
    with p.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@lru_cache(maxsize=2)
def question_bank(path: str | None = None) -> dict[str, tuple[str, ...]]:
    """Normalised term -> the questions written about it (in file order, duplicates dropped)."""
    bank: dict[str, dict[str, None]] = {}
    for row in _bank_rows(path):
        q, term = (row.get("q") or "").strip(), row.get("term") or ""
        if q and term:
            bank.setdefault(norm_key(term), {})[q] = None
    return {k: tuple(v) for k, v in bank.items()}


# The styles that say what a term *is* (index/data/questions.jsonl): the answer checker compares answers
# with these only. The others ("situation": a concrete case, "short": a few search words) help retrieval
# but would let a wrong answer that mentions a case or a keyword look like the term.
DESCRIBING_STYLES = frozenset({"textbook", "news", "colloquial"})


@lru_cache(maxsize=2)
def question_styles(path: str | None = None) -> dict[str, str]:
    """Question text -> its `style` in the bank ("" when it has none)."""
    out: dict[str, str] = {}
    for row in _bank_rows(path):
        out.setdefault((row.get("q") or "").strip(), row.get("style") or "")
    return out


def describing(texts: list[str]) -> np.ndarray:
    """Boolean mask over view `texts`: True for a describing question or one of unknown style (a
    user's own bank), False for the bundled bank's situation and short-query views."""
    styles = question_styles()
    return np.array([styles.get(t, "") in DESCRIBING_STYLES or t not in styles for t in texts], dtype=bool)


def views_for(entries: list[Entry], bank: dict[str, tuple[str, ...]]) -> list[tuple[int, str]]:
    """(row, question) for every entry whose term or alias has written questions; each question once,
    on the first entry that carries the name."""
    out, taken = [], set()
    for row, e in enumerate(entries):
        for key in dict.fromkeys(k for n in e.names for k in name_keys(n)):
            for q in bank.get(key, ()):
                if q not in taken:
                    taken.add(q)
                    out.append((row, q))
    return out


def best_per_entry(sims: np.ndarray, rows: np.ndarray, n_entries: int) -> np.ndarray:
    """For each entry, the highest of `sims` among its views; -inf for entries without views."""
    best = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(best, rows, sims.astype(np.float32))
    return best


def mean_per_entry(sims: np.ndarray, rows: np.ndarray, n_entries: int) -> np.ndarray:
    """For each entry, the mean of `sims` over its views (all of them agreeing is surer evidence than
    one close question); -inf for entries without views."""
    n = np.bincount(rows, minlength=n_entries)
    total = np.bincount(rows, weights=sims.astype(np.float64), minlength=n_entries)
    return np.where(n > 0, total / np.maximum(n, 1), -np.inf).astype(np.float32)
