# The study database code of finterm-study/1 (Leitner boxes), kept verbatim from git so the migration test
# writes a format-1 file with the old code itself. Not imported by finterm.
"""Study progress in SQLite: every attempt, a Leitner box per term, and the error notebook (오답노트).

One file under FINTERM_HOME (`finterm.home.study_db_path()`), format `finterm-study/1`. Every
answer is one transaction (`BEGIN IMMEDIATE` … `COMMIT`) in WAL mode, so a process killed
mid-quiz loses at most the answer it was writing, and several processes (CLI runs, app
sessions) can write at once: a writer waits up to `BUSY_TIMEOUT_MS` for the lock.

Leitner schedule: a right answer moves the term up one box (1..5) and makes it due again after
`INTERVAL_DAYS[box]`; a wrong answer sends it back to box 1, due at once, and writes it into
the error notebook. Review mode asks for due terms first, then weak ones.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from finterm import FintermError

FORMAT = "finterm-study/1"
BOXES = (1, 2, 3, 4, 5)
INTERVAL_DAYS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
DAY = 86400.0
BUSY_TIMEOUT_MS = 15000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL, session TEXT NOT NULL DEFAULT '',
    term_id TEXT NOT NULL, term TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '', question_id TEXT NOT NULL DEFAULT '',
    chosen INTEGER, answer INTEGER, correct INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_term ON attempts (term_id);
CREATE TABLE IF NOT EXISTS boxes (
    term_id TEXT PRIMARY KEY, term TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    box INTEGER NOT NULL, due REAL NOT NULL, seen INTEGER NOT NULL, correct INTEGER NOT NULL,
    wrong INTEGER NOT NULL, last_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS notebook (
    term_id TEXT PRIMARY KEY, term TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL, chosen_text TEXT NOT NULL, answer_text TEXT NOT NULL,
    explanation TEXT NOT NULL, source TEXT NOT NULL, wrong INTEGER NOT NULL,
    last_wrong_at REAL NOT NULL, resolved INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(frozen=True)
class Attempt:
    """One answered question, as recorded."""

    term_id: str
    term: str
    correct: bool
    category: str = ""
    kind: str = ""
    question_id: str = ""
    chosen: int | None = None
    answer: int | None = None
    prompt: str = ""
    chosen_text: str = ""
    answer_text: str = ""
    explanation: str = ""
    source: str = ""

    @classmethod
    def from_question(cls, q, chosen: int) -> Attempt:
        """The attempt of answering quiz question `q` (finterm.rag.quiz.Question) with option `chosen`."""
        return cls(term_id=q.term_id, term=q.term, correct=chosen == q.answer, category=q.category,
                   kind=q.kind, question_id=q.id, chosen=chosen, answer=q.answer, prompt=q.prompt,
                   chosen_text=q.options[chosen] if 0 <= chosen < len(q.options) else "",
                   answer_text=q.options[q.answer], explanation=q.explanation, source=q.source)


@dataclass(frozen=True)
class Box:
    term_id: str
    term: str
    category: str
    box: int
    due: float
    seen: int
    correct: int
    wrong: int


def next_box(box: int, correct: bool) -> int:
    """Leitner: up one box when right (at most 5), back to box 1 when wrong."""
    return min(box + 1, BOXES[-1]) if correct else BOXES[0]


def due_after(box: int, correct: bool, now: float) -> float:
    """When a term in `box` (after the move) is asked again: at once after a miss, else by its interval."""
    return now if not correct else now + INTERVAL_DAYS[box] * DAY


class StudyDB:
    """The study database. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path | None = None) -> None:
        from finterm.home import study_db_path

        self.path = Path(path) if path else study_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._check_intact()
            self._set_wal()
            self.db.execute("PRAGMA synchronous=FULL")
            with self.transaction():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                row = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
                elif row[0] != FORMAT:
                    raise FintermError(f"study database {self.path} has format {row[0]!r}, this finterm "
                                       f"reads {FORMAT!r}; move the file away to start a new one")
        except sqlite3.DatabaseError as exc:
            raise FintermError(f"study database {self.path} cannot be opened ({exc}); move the file away "
                               "to start a new one") from None

    def _check_intact(self) -> None:
        """Refuse a damaged file before anything is written to it: the answers in it stay recoverable."""
        try:
            problems = [r[0] for r in self.db.execute("PRAGMA quick_check(3)")]
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise FintermError(f"study database {self.path} is locked by another program; close it and "
                                   f"retry") from None
            problems = [str(exc)]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            self.db.close()
            why = " ".join(problems[0].split())[:80]
            raise FintermError(
                f"study database {self.path} is damaged ({why}); nothing was changed. Recover what "
                f"is readable with `sqlite3 {self.path} .recover | sqlite3 recovered.sqlite` and put that in "
                f"its place, or move the file away to start a new one")

    def _set_wal(self) -> None:
        for _ in range(100):  # switching to WAL needs a moment alone with the file
            try:
                if self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            time.sleep(0.05)
        raise FintermError(f"study database {self.path} is locked by another program; close it and retry")

    def transaction(self):
        """`with db.transaction():` — BEGIN IMMEDIATE (takes the write lock up front) … COMMIT/ROLLBACK."""
        return _Tx(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StudyDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------
    def record(self, attempt: Attempt, *, now: float | None = None, session: str = "") -> Box:
        """Store one attempt, move its term's Leitner box and update the error notebook, atomically."""
        now = time.time() if now is None else now
        a = attempt
        with self.transaction():
            self.db.execute(
                "INSERT INTO attempts (at, session, term_id, term, category, kind, question_id, chosen, "
                "answer, correct) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (now, session, a.term_id, a.term, a.category, a.kind, a.question_id, a.chosen, a.answer,
                 int(a.correct)))
            row = self.db.execute("SELECT box, seen, correct, wrong FROM boxes WHERE term_id=?",
                                  (a.term_id,)).fetchone()
            old, seen, right, wrong = row if row else (BOXES[0], 0, 0, 0)  # a new term starts in box 1
            box = next_box(old, a.correct)
            due = due_after(box, a.correct, now)
            self.db.execute(
                "INSERT INTO boxes VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(term_id) DO UPDATE SET "
                "term=excluded.term, category=excluded.category, box=excluded.box, due=excluded.due, "
                "seen=excluded.seen, correct=excluded.correct, wrong=excluded.wrong, "
                "last_at=excluded.last_at",
                (a.term_id, a.term, a.category, box, due, seen + 1, right + int(a.correct),
                 wrong + int(not a.correct), now))
            if not a.correct:
                self.db.execute(
                    "INSERT INTO notebook VALUES (?,?,?,?,?,?,?,?,1,?,0) ON CONFLICT(term_id) DO UPDATE SET "
                    "prompt=excluded.prompt, chosen_text=excluded.chosen_text, "
                    "answer_text=excluded.answer_text, "
                    "explanation=excluded.explanation, source=excluded.source, wrong=notebook.wrong + 1, "
                    "last_wrong_at=excluded.last_wrong_at, resolved=0",
                    (a.term_id, a.term, a.category, a.prompt, a.chosen_text, a.answer_text, a.explanation,
                     a.source, now))
            else:
                self.db.execute("UPDATE notebook SET resolved=1 WHERE term_id=?", (a.term_id,))
        return Box(a.term_id, a.term, a.category, box, due, seen + 1, right + int(a.correct),
                   wrong + int(not a.correct))

    # -- reading --------------------------------------------------------------------------------
    def box(self, term_id: str) -> Box | None:
        row = self.db.execute("SELECT term_id, term, category, box, due, seen, correct, wrong FROM boxes "
                              "WHERE term_id=?", (term_id,)).fetchone()
        return Box(*row) if row else None

    def attempts_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def review_queue(self, term_ids: Iterable[str] | None = None, *, now: float | None = None,
                     limit: int | None = None) -> list[str]:
        """Term ids to ask next: due terms (lowest box, longest overdue first), then weak ones.

        Weak = not due yet but answered wrong at least once, most misses per try first. Terms never
        seen are not included (the quiz fills up with them). `term_ids` limits the queue to one
        index's entries (or one category's).
        """
        now = time.time() if now is None else now
        rows = self.db.execute("SELECT term_id, box, due, seen, wrong FROM boxes").fetchall()
        allowed = set(term_ids) if term_ids is not None else None
        rows = [r for r in rows if allowed is None or r[0] in allowed]
        due = sorted((r for r in rows if r[2] <= now), key=lambda r: (r[1], r[2], r[0]))
        weak = sorted((r for r in rows if r[2] > now and r[4] > 0), key=lambda r: (-r[4] / r[3], r[1], r[0]))
        out = [r[0] for r in due] + [r[0] for r in weak]
        return out[:limit] if limit else out

    def notebook(self, *, include_resolved: bool = False) -> list[dict]:
        """The error notebook, most recent miss first."""
        q = "SELECT term_id, term, category, prompt, chosen_text, answer_text, explanation, source, wrong, " \
            "last_wrong_at, resolved FROM notebook"
        if not include_resolved:
            q += " WHERE resolved=0"
        cols = ("term_id", "term", "category", "prompt", "chosen_text", "answer_text", "explanation",
                "source", "wrong", "last_wrong_at", "resolved")
        rows = self.db.execute(q + " ORDER BY last_wrong_at DESC, term_id").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def progress(self, *, now: float | None = None, weakest: int = 10) -> dict:
        """Totals overall and per category, Leitner box counts, and the weakest terms."""
        now = time.time() if now is None else now
        total, right = self.db.execute("SELECT COUNT(*), COALESCE(SUM(correct), 0) FROM attempts").fetchone()
        cats = []
        for cat, n, ok, terms in self.db.execute(
                "SELECT category, COUNT(*), SUM(correct), COUNT(DISTINCT term_id) FROM attempts "
                "GROUP BY category ORDER BY category"):
            cats.append({"category": cat, "attempts": n, "correct": ok, "accuracy": round(ok / n, 3),
                         "terms": terms})
        boxes = dict.fromkeys(BOXES, 0)
        for box, n in self.db.execute("SELECT box, COUNT(*) FROM boxes GROUP BY box"):
            boxes[box] = n
        due = self.db.execute("SELECT COUNT(*) FROM boxes WHERE due <= ?", (now,)).fetchone()[0]
        weak = [{"term_id": t, "term": term, "category": c, "box": b, "seen": s, "wrong": w}
                for t, term, c, b, s, w in self.db.execute(
                    "SELECT term_id, term, category, box, seen, wrong FROM boxes WHERE wrong > 0 "
                    "ORDER BY CAST(wrong AS REAL) / seen DESC, wrong DESC, box, term_id LIMIT ?", (weakest,))]
        notebook = self.db.execute("SELECT COUNT(*) FROM notebook WHERE resolved=0").fetchone()[0]
        return {"attempts": total, "correct": right, "accuracy": round(right / total, 3) if total else 0.0,
                "categories": cats, "boxes": {str(k): v for k, v in boxes.items()}, "due": due,
                "notebook": notebook, "weakest": weak}


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
