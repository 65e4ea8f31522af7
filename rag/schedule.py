"""FSRS scheduling for the study database: a term's card, one review, recall, and "due today".

The `fsrs` package (Anki's default scheduler since 23.10) does the arithmetic; this module turns its
cards into rows and back. A card is stored as fsrs's own JSON plus the columns queries need.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from finterm import FintermError

RATINGS = {"again": 1, "hard": 2, "good": 3, "easy": 4}  # FSRS's Rating values
RATING_KO = {"again": "다시", "hard": "어려움", "good": "보통", "easy": "쉬움"}
STATES = {1: "learning", 2: "review", 3: "relearning"}  # FSRS's State values
STATE_KO = {"learning": "익히는 중", "review": "복습 단계", "relearning": "다시 익히는 중"}


@dataclass(frozen=True)
class Card:
    """A term's schedule after its latest answer: FSRS state, due time, and the answer counts."""

    term_id: str
    term: str
    category: str
    state: str  # learning | review | relearning
    due: float  # epoch seconds
    stability: float | None  # days until recall falls to 90 %
    difficulty: float | None  # 1 (easy) .. 10 (hard)
    last_at: float
    seen: int
    correct: int
    wrong: int

    def recall(self, now: float | None = None) -> float:
        """FSRS's estimated probability (0..1) that the term is recalled at `now`."""
        return scheduler().get_card_retrievability(self.fsrs_card(), _dt(time.time() if now is None else now))

    def fsrs_card(self):
        import fsrs

        return fsrs.Card(state=fsrs.State(_STATE_NO[self.state]), step=None,
                         stability=self.stability, difficulty=self.difficulty, due=_dt(self.due),
                         last_review=_dt(self.last_at))


@lru_cache(maxsize=1)
def scheduler():
    """The FSRS scheduler: default parameters, 90 % desired retention, no fuzz (same answers, same dates)."""
    import fsrs

    return fsrs.Scheduler(desired_retention=0.9, enable_fuzzing=False)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def rating_for(correct: bool, rating: str | None = None) -> str:
    """The FSRS rating of an answer: wrong is always Again; right is Good unless the student said Hard/Easy."""
    if not correct:
        return "again"
    rating = (rating or "good").lower()
    if rating not in ("hard", "good", "easy"):
        raise FintermError(f"rating {rating!r} is not for a right answer; use hard, good or easy")
    return rating


def review(card_json: str | None, rating: str, now: float):
    """(fsrs.Card after the review, its JSON): one FSRS review of a stored card (None: a new card)."""
    import fsrs

    card = fsrs.Card.from_json(card_json) if card_json else fsrs.Card()
    card, _ = scheduler().review_card(card, fsrs.Rating(RATINGS[rating]), _dt(now))
    return card, card.to_json()


def end_of_day(now: float) -> float:
    """Local midnight after `now`: "due today" means due before it."""
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))


def put_card(db: sqlite3.Connection, c: Card, card_json: str) -> None:
    """Insert or replace term `c.term_id`'s row in the cards table (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(term_id) DO UPDATE SET "
        "term=excluded.term, category=excluded.category, card=excluded.card, state=excluded.state, "
        "due=excluded.due, stability=excluded.stability, difficulty=excluded.difficulty, "
        "last_at=excluded.last_at, seen=excluded.seen, correct=excluded.correct, wrong=excluded.wrong",
        (c.term_id, c.term, c.category, card_json, _STATE_NO[c.state], c.due, c.stability, c.difficulty,
         c.last_at, c.seen, c.correct, c.wrong))


def card_after(term_id: str, term: str, category: str, card, at: float, seen: int, correct: int,
               wrong: int) -> Card:
    """Our Card from an fsrs.Card just reviewed at `at`, with the answer counts."""
    return Card(term_id, term, category, STATES[int(card.state)], card.due.timestamp(), card.stability,
                card.difficulty, at, seen, correct, wrong)


_STATE_NO = {v: k for k, v in STATES.items()}
