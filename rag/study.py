"""Study progress in SQLite: every attempt, an FSRS card per term, and the error notebook (오답노트).

One file under FINTERM_HOME (`finterm.home.study_db_path()`), format `finterm-study/2`. Every
answer is one transaction (`BEGIN IMMEDIATE` … `COMMIT`) in WAL mode, so a process killed
mid-quiz loses at most the answer it was writing, and several processes (CLI runs, app
sessions) can write at once: a writer waits up to `BUSY_TIMEOUT_MS` for the lock.

Schedule: each answer is an FSRS review (the `fsrs` package, Anki's default scheduler since 23.10)
rated Again when wrong, Good when right, or Hard/Easy when the student says so. FSRS gives the
next due date and the estimated recall (retrievability) at any moment. A wrong answer also goes
into the error notebook. Review mode asks for due terms first (least likely recalled first), then
weak ones. A format-1 file (Leitner boxes) is migrated in place when opened (`study_migrate`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from finterm import FintermError
from finterm.rag.schedule import RATINGS, STATES, Card, card_after, end_of_day, put_card, rating_for, review

FORMAT = "finterm-study/2"
FORMAT_1 = "finterm-study/1"
DAY = 86400.0
BUSY_TIMEOUT_MS = 15000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL, session TEXT NOT NULL DEFAULT '',
    term_id TEXT NOT NULL, term TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '', question_id TEXT NOT NULL DEFAULT '',
    chosen INTEGER, answer INTEGER, correct INTEGER NOT NULL, rating INTEGER);
CREATE INDEX IF NOT EXISTS attempts_term ON attempts (term_id);
CREATE TABLE IF NOT EXISTS cards (
    term_id TEXT PRIMARY KEY, term TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    card TEXT NOT NULL, state INTEGER NOT NULL, due REAL NOT NULL, stability REAL, difficulty REAL,
    last_at REAL NOT NULL, seen INTEGER NOT NULL, correct INTEGER NOT NULL, wrong INTEGER NOT NULL);
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
                elif row[0] == FORMAT_1:
                    from finterm.rag.study_migrate import migrate_1_to_2

                    migrate_1_to_2(self.db)
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
    def record(self, attempt: Attempt, *, now: float | None = None, session: str = "",
               rating: str | None = None) -> Card:
        """Store one attempt, review its term's FSRS card and update the error notebook, atomically.

        `rating` (hard | good | easy) is the student's own word on a right answer; a wrong one is Again.
        """
        now = time.time() if now is None else now
        a = attempt
        rating = rating_for(a.correct, rating)
        with self.transaction():
            self.db.execute(
                "INSERT INTO attempts (at, session, term_id, term, category, kind, question_id, chosen, "
                "answer, correct, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (now, session, a.term_id, a.term, a.category, a.kind, a.question_id, a.chosen, a.answer,
                 int(a.correct), RATINGS[rating]))
            row = self.db.execute("SELECT card, seen, correct, wrong FROM cards WHERE term_id=?",
                                  (a.term_id,)).fetchone()
            old, seen, right, wrong = row if row else (None, 0, 0, 0)
            card, card_json = review(old, rating, now)
            result = card_after(a.term_id, a.term, a.category, card, now, seen + 1, right + int(a.correct),
                                wrong + int(not a.correct))
            put_card(self.db, result, card_json)
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
        return result

    # -- reading --------------------------------------------------------------------------------
    _CARD_COLS = "term_id, term, category, state, due, stability, difficulty, last_at, seen, correct, wrong"

    def _cards(self, where: str = "", args: tuple = ()) -> list[Card]:
        rows = self.db.execute(f"SELECT {self._CARD_COLS} FROM cards {where}", args).fetchall()
        return [Card(r[0], r[1], r[2], STATES[r[3]], *r[4:]) for r in rows]

    def card(self, term_id: str) -> Card | None:
        cards = self._cards("WHERE term_id=?", (term_id,))
        return cards[0] if cards else None

    def attempts_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def review_queue(self, term_ids: Iterable[str] | None = None, *, now: float | None = None,
                     limit: int | None = None) -> list[str]:
        """Term ids to ask next: due terms (lowest estimated recall first), then weak ones.

        Weak = not due yet but answered wrong at least once, most misses per try first. Terms never
        seen are not included (the quiz fills up with them). `term_ids` limits the queue to one
        index's entries (or one category's).
        """
        now = time.time() if now is None else now
        allowed = set(term_ids) if term_ids is not None else None
        cards = [c for c in self._cards() if allowed is None or c.term_id in allowed]
        due = sorted((c for c in cards if c.due <= now), key=lambda c: (c.recall(now), c.due, c.term_id))
        weak = sorted((c for c in cards if c.due > now and c.wrong > 0),
                      key=lambda c: (-c.wrong / c.seen, c.recall(now), c.term_id))
        out = [c.term_id for c in due] + [c.term_id for c in weak]
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
        """Totals overall and per category, what is due now and today, the estimated recall, the weakest terms."""
        now = time.time() if now is None else now
        total, right = self.db.execute("SELECT COUNT(*), COALESCE(SUM(correct), 0) FROM attempts").fetchone()
        cats = []
        for cat, n, ok, terms in self.db.execute(
                "SELECT category, COUNT(*), SUM(correct), COUNT(DISTINCT term_id) FROM attempts "
                "GROUP BY category ORDER BY category"):
            cats.append({"category": cat, "attempts": n, "correct": ok, "accuracy": round(ok / n, 3),
                         "terms": terms})
        cards = self._cards()
        recall = {c.term_id: c.recall(now) for c in cards}
        states = {name: sum(c.state == name for c in cards) for name in STATES.values()}
        weak = [{"term_id": c.term_id, "term": c.term, "category": c.category, "seen": c.seen, "wrong": c.wrong,
                 "recall": round(recall[c.term_id], 3), "due": c.due}
                for c in sorted((c for c in cards if c.wrong > 0),
                                key=lambda c: (-c.wrong / c.seen, -c.wrong, recall[c.term_id], c.term_id))][:weakest]
        notebook = self.db.execute("SELECT COUNT(*) FROM notebook WHERE resolved=0").fetchone()[0]
        return {"attempts": total, "correct": right, "accuracy": round(right / total, 3) if total else 0.0,
                "categories": cats, "terms": len(cards), "states": states,
                "due": sum(c.due <= now for c in cards), "due_today": sum(c.due < end_of_day(now) for c in cards),
                "recall": round(sum(recall.values()) / len(cards), 3) if cards else None,
                "notebook": notebook, "weakest": weak}


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
