"""Migrating a study database in place from format 1 (Leitner boxes) to format 2 (FSRS cards).

Runs inside the transaction that opens the file, so it happens entirely or not at all. Every
attempt is kept; each gets its FSRS rating (Again when wrong, Good when right: format 1 recorded
no more), and each term's card is rebuilt by replaying its attempts in order through FSRS, so the
due dates and the estimated recall are what FSRS would have given from the start. The Leitner
table is kept, renamed `boxes_format1`, for anyone who wants the old numbers.
"""

from __future__ import annotations

import sqlite3


def migrate_1_to_2(db: sqlite3.Connection) -> int:
    """Migrate the open database (inside a transaction); returns the number of terms rescheduled."""
    from finterm.rag.schedule import card_after, put_card, review
    from finterm.rag.study import FORMAT

    columns = {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    if "rating" not in columns:
        db.execute("ALTER TABLE attempts ADD COLUMN rating INTEGER")
    db.execute("UPDATE attempts SET rating = CASE WHEN correct THEN 3 ELSE 1 END WHERE rating IS NULL")
    terms = {}
    for term_id, term, category, at, correct in db.execute(
            "SELECT term_id, term, category, at, correct FROM attempts ORDER BY at, id"):
        card_json, seen, right, wrong = terms.get(term_id, (None, 0, 0, 0, "", ""))[:4]
        card, card_json = review(card_json, "good" if correct else "again", at)
        terms[term_id] = (card_json, seen + 1, right + int(correct), wrong + int(not correct), term, category, card, at)
    for term_id, (card_json, seen, right, wrong, term, category, card, at) in terms.items():
        put_card(db, card_after(term_id, term, category, card, at, seen, right, wrong), card_json)
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='boxes'").fetchone():
        db.execute("ALTER TABLE boxes RENAME TO boxes_format1")
    db.execute("UPDATE meta SET value=? WHERE key='format'", (FORMAT,))
    return len(terms)
