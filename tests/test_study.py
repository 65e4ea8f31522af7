"""Study progress: the FSRS schedule, migration from format 1, review order, the error notebook, crashes and
concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from finterm import FintermError
from finterm.cli import main
from finterm.rag.study import DAY, FORMAT, Attempt, StudyDB

T0 = 1_700_000_000.0


def attempt(term_id: str, correct: bool, category: str = "거시경제") -> Attempt:
    return Attempt(term_id=term_id, term=f"용어{term_id}", correct=correct, category=category,
                   kind="definition_to_term", prompt="다음 설명에 해당하는 용어는?", chosen_text="틀린 보기",
                   answer_text="맞는 보기", explanation=f"용어{term_id}: 정의", source="테스트")


def counts(path: Path) -> tuple[int, int, str]:
    with sqlite3.connect(path) as db:
        n = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        seen = db.execute("SELECT COALESCE(SUM(seen), 0) FROM cards").fetchone()[0]
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    return n, seen, ok


def test_fsrs_schedules_right_answers_further_out_and_wrong_ones_soon(tmp_path):
    import fsrs

    with StudyDB(tmp_path / "s.sqlite") as db:
        card = db.record(attempt("a", True), now=T0)
        assert card.state == "learning" and card.due > T0 and (card.seen, card.correct) == (1, 1)
        # the same as fsrs itself gives for one Good review
        ref, _ = fsrs.Scheduler(enable_fuzzing=False).review_card(
            fsrs.Card(), fsrs.Rating.Good, datetime.fromtimestamp(T0, timezone.utc))
        assert card.due == ref.due.timestamp() and card.stability == ref.stability
        gaps = []
        now = T0
        for _ in range(4):  # right again each time it is due: the intervals grow
            now = card.due
            card = db.record(attempt("a", True), now=now)
            gaps.append(card.due - now)
        assert card.state == "review" and gaps[-1] > gaps[-2] > DAY
        assert 0.85 < card.recall(card.due) < 0.95  # FSRS schedules the next review at ~90 % recall
        assert card.recall(card.due + 30 * DAY) < card.recall(card.due)
        missed = db.record(attempt("a", False), now=card.due)
        assert missed.state == "relearning" and missed.due - card.due < DAY and missed.wrong == 1
        assert db.card("a") == missed


def test_hard_and_easy_only_where_the_student_says_so(tmp_path):
    with StudyDB(tmp_path / "s.sqlite") as db:
        due = {r: db.record(attempt(r, True), now=T0, rating=r).due for r in ("hard", "good", "easy")}
        assert due["hard"] <= due["good"] < due["easy"]
        assert db.record(attempt("w", False), now=T0, rating="easy").wrong == 1  # a wrong answer is Again
        with pytest.raises(FintermError, match="rating"):
            db.record(attempt("x", True), rating="again")
        ratings = dict(db.db.execute("SELECT term_id, rating FROM attempts"))
        assert ratings == {"hard": 2, "good": 3, "easy": 4, "w": 1}


def test_review_queue_due_first_then_weak_never_unseen(tmp_path):
    with StudyDB(tmp_path / "s.sqlite") as db:
        db.record(attempt("right", True), now=T0, rating="easy")  # due in days
        db.record(attempt("missed", False), now=T0)  # due in a minute
        db.record(attempt("weak", False), now=T0)
        weak = db.record(attempt("weak", True), now=T0 + 60)  # 1 miss in 2, not due for a while
        assert weak.due > T0 + 120
        assert db.review_queue(now=T0 + 120) == ["missed", "weak"]
        later = T0 + 60 * DAY  # everything due; the least recalled first
        queue = db.review_queue(now=later)
        assert set(queue) == {"missed", "right", "weak"} and queue[-1] == "right"
        assert db.review_queue(["weak", "right"], now=T0 + 120) == ["weak"]


def test_notebook_and_progress(tmp_path):
    with StudyDB(tmp_path / "s.sqlite") as db:
        db.record(attempt("a", False, "미시경제"), now=T0)
        db.record(attempt("a", False, "미시경제"), now=T0 + 1)
        db.record(attempt("b", True, "거시경제"), now=T0 + 2)
        db.record(attempt("c", False, "거시경제"), now=T0 + 3)
        db.record(attempt("c", True, "거시경제"), now=T0 + 4)
        book = db.notebook()
        assert [x["term_id"] for x in book] == ["a"] and book[0]["wrong"] == 2
        assert book[0]["chosen_text"] == "틀린 보기" and book[0]["explanation"].startswith("용어a")
        assert {x["term_id"] for x in db.notebook(include_resolved=True)} == {"a", "c"}
        p = db.progress(now=T0 + 5)
        assert (p["attempts"], p["correct"], p["notebook"]) == (5, 2, 1)
        cats = {c["category"]: c for c in p["categories"]}
        assert cats["미시경제"]["accuracy"] == 0 and cats["거시경제"]["attempts"] == 3
        assert p["weakest"][0]["term_id"] == "a" and 0 <= p["weakest"][0]["recall"] <= 1
        assert sum(p["states"].values()) == p["terms"] == 3 and p["due"] <= p["due_today"] <= 3
        assert 0 < p["recall"] <= 1


def test_progress_survives_reopening_and_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "s.sqlite"
    with StudyDB(path) as db:
        db.record(attempt("a", True), now=T0)
    with StudyDB(path) as db:
        assert db.attempts_count() == 1 and db.card("a").seen == 1
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(FintermError, match="move the file away"):
        StudyDB(bad)


CHILD = textwrap.dedent("""
    import sys, time
    from finterm.rag.study import Attempt, StudyDB
    path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = StudyDB(path)
    def a(k):
        return Attempt(term_id=f"t{k % 7}", term=f"용어{k % 7}", correct=k % 3 != 0, category="c")
    if mode == "hang":  # commit n answers, then hang inside the write of answer n+1
        for k in range(n):
            db.record(a(k))
        def trace(stmt):
            if stmt.startswith("INSERT INTO cards"):
                print("in-flight", flush=True)
                time.sleep(60)
        db.db.set_trace_callback(trace)
        db.record(a(n))
    else:  # many answers as fast as possible, reporting each commit
        for k in range(n):
            db.record(a(k), session=mode)
            print(k + 1, flush=True)
""")


def run_child(tmp_path: Path, *args: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})


def test_kill_inside_a_write_loses_only_that_answer(tmp_path):
    path = tmp_path / "s.sqlite"
    child = run_child(tmp_path, str(path), "hang", "25")
    assert child.stdout.readline().strip() == "in-flight"  # the attempt row is written, not committed
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert counts(path) == (25, 25, "ok")
    with StudyDB(path) as db:  # opens clean: no stale lock, and the next answer is stored
        db.record(attempt("t1", True))
        assert db.attempts_count() == 26


def test_kill_at_a_random_moment_keeps_every_committed_answer(tmp_path):
    path = tmp_path / "s.sqlite"
    child = run_child(tmp_path, str(path), "fast", "100000")
    done = 0
    while done < 150:
        done = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    reported = [int(x) for x in child.stdout.read().split()]  # commits reported before the kill
    last = reported[-1] if reported else done
    n, seen, ok = counts(path)
    assert ok == "ok" and n == seen  # every stored attempt moved its box: no half-written answer
    assert last <= n <= last + 1  # at most the answer in flight (committed, not yet reported) differs


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    StudyDB(path).close()
    a = run_child(tmp_path, str(path), "one", "150")
    b = run_child(tmp_path, str(path), "two", "150")
    for child in (a, b):
        child.stdout.read()
        assert child.wait(timeout=300) == 0
    assert counts(path) == (300, 300, "ok")
    with sqlite3.connect(path) as db:
        per_session = dict(db.execute("SELECT session, COUNT(*) FROM attempts GROUP BY session"))
    assert per_session == {"one": 150, "two": 150}


def test_cli_quiz_records_progress_and_exports(small_index, tmp_path, capsys, monkeypatch):
    import io

    quiz = ["quiz", "--n", "3", "--seed", "4", "--index", str(small_index)]
    questions = json.loads(_run_json([*quiz, "--json"], capsys))["questions"]
    # right on question 1; on question 2 first an invalid "9" (asked again), then a wrong option; then quit
    answers = f"{questions[0]['answer'] + 1}\n9\n{(questions[1]['answer'] + 1) % 5 + 1}\nq\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    assert main(quiz) == 0
    out = capsys.readouterr().out
    assert "정답입니다" in out and "오답입니다" in out and "출처: 테스트 용어집" in out
    progress = json.loads(_run_json(["progress", "--json", "--notebook"], capsys))
    assert (progress["attempts"], progress["correct"], progress["notebook"]) == (2, 1, 1)
    assert progress["notebook_entries"][0]["term_id"] == questions[1]["term_id"]
    review = json.loads(_run_json(["quiz", "--n", "1", "--review", "--json", "--index", str(small_index)],
                                  capsys))
    assert review["questions"][0]["term_id"] == questions[1]["term_id"]  # the missed term comes back first

    apkg, csv_path = tmp_path / "deck.apkg", tmp_path / "cards.csv"
    assert main(["export", "anki", "--out", str(apkg), "--index", str(small_index)]) == 0
    assert main(["export", "--format", "csv", "--out", str(csv_path), "--notebook",
                 "--index", str(small_index)]) == 0
    assert anki_notes(apkg, tmp_path)[0] == 20
    assert csv_path.read_text(encoding="utf-8-sig").count("\n") == 2  # header + the one missed term
    assert main(["export", "--out", str(tmp_path / "x.txt"), "--index", str(small_index)]) == 1
    assert main(["export", "anki", "--format", "csv", "--out", str(apkg), "--index", str(small_index)]) == 2


def _run_json(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out


def anki_notes(apkg: Path, tmp_path: Path) -> tuple[int, list[tuple[str, str]]]:
    """(number of notes, [(fields, tags, guid)]) read with nothing but zipfile and sqlite3."""
    with zipfile.ZipFile(apkg) as z:
        assert "collection.anki2" in z.namelist()
        z.extract("collection.anki2", tmp_path / "unz")
    with sqlite3.connect(tmp_path / "unz" / "collection.anki2") as db:
        rows = db.execute("SELECT flds, tags, guid FROM notes").fetchall()
        cards = db.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
    assert cards == len(rows)
    return len(rows), rows


def test_anki_and_csv_export_contents(retriever, tmp_path):
    import csv

    from finterm.rag.export import export

    assert export(retriever.entries, tmp_path / "d.apkg") == 20
    n, rows = anki_notes(tmp_path / "d.apkg", tmp_path)
    assert n == 20
    fields = {r[0].split("\x1f")[0]: (r[0].split("\x1f"), r[1].split()) for r in rows}
    flds, tags = fields["한계비용"]
    assert flds[2].startswith("생산량을 한 단위 더") and flds[3] == "테스트 용어집" and tags == ["미시경제"]
    assert fields["기준금리"][1] == ["통화·중앙은행"]
    # exporting again gives the same note ids, so Anki updates cards instead of duplicating them
    export(retriever.entries, tmp_path / "e.apkg")
    again = anki_notes(tmp_path / "e.apkg", tmp_path / "2")[1]
    assert sorted(r[2] for r in again) == sorted(r[2] for r in rows)

    assert export(retriever.entries[:5], tmp_path / "c.csv") == 5
    with (tmp_path / "c.csv").open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 5 and table[0]["term"] == "인플레이션" and table[0]["source"] == "테스트 용어집"
    assert "\n" not in table[0]["aliases"]


# -- the TESAT 퀴즈 page (AppTest) ----------------------------------------------------------------
def quiz_script():
    from finterm.ui import study_pages

    study_pages.quiz_page()


def test_quiz_page_feedback_score_and_review_queue(small_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FINTERM_INDEX", str(small_index))
    at = AppTest.from_function(quiz_script, default_timeout=300).run()
    assert not at.exception, at.exception
    at.selectbox(key="quiz-category").set_value("거시경제")
    at.number_input(key="quiz-n").set_value(3)
    at.button[0].click().run()  # the form's "새 퀴즈" sends the settings
    assert not at.exception, at.exception
    quiz = at.session_state["study_quiz"]
    questions = quiz["questions"]
    assert len(questions) == 3 and {q.category for q in questions} == {"거시경제"}
    q = questions[0]
    radio = at.radio(key=f"quiz-choice-{q.id}")
    assert len(radio.options) == 5
    radio.set_value((q.answer + 1) % 5).run()
    at.button(key=f"quiz-submit-{q.id}").click().run()
    assert not at.exception, at.exception
    assert any("오답입니다" in e.value for e in at.error)
    assert any(q.explanation in t.value for t in at.text) and any(q.source in c.value for c in at.caption)
    assert "점수 0 / 1" in at.get("progress")[0].proto.text
    at.button(key=f"quiz-next-{q.id}").click().run()
    q2 = questions[1]
    at.radio(key=f"quiz-choice-{q2.id}").set_value(q2.answer).run()
    at.button(key=f"quiz-submit-{q2.id}").click().run()
    assert any("정답입니다" in s.value for s in at.success)
    assert "점수 1 / 2" in at.get("progress")[0].proto.text
    with StudyDB() as db:  # the page stored both answers, so the missed term is due for review
        assert db.attempts_count() == 2 and db.review_queue()[0] == q.term_id
    assert [m.value for m in at.metric][:1] == ["2"]


def test_a_format_1_file_written_by_the_old_code_migrates_in_place_keeping_every_attempt(tmp_path):
    import fsrs
    import study_format1 as old  # the format-1 code, verbatim

    path = tmp_path / "old.sqlite"
    answers = [("a", True, 0), ("b", False, 10), ("a", True, DAY), ("c", True, 2 * DAY), ("b", True, 2 * DAY),
               ("a", False, 5 * DAY), ("b", False, 6 * DAY)]
    with old.StudyDB(path) as db:
        for term_id, ok, dt in answers:
            db.record(old.Attempt(term_id=term_id, term=f"용어{term_id}", correct=ok, category="거시경제",
                                  kind="definition_to_term", chosen=0, answer=0 if ok else 1,
                                  explanation=f"용어{term_id}: 정의", source="테스트"), now=T0 + dt, session="v1")
    cols = "id, at, session, term_id, term, category, kind, question_id, chosen, answer, correct"
    with sqlite3.connect(path) as raw:
        before = raw.execute(f"SELECT {cols} FROM attempts ORDER BY id").fetchall()
        assert raw.execute("SELECT value FROM meta WHERE key='format'").fetchone()[0] == "finterm-study/1"
        old_book = raw.execute("SELECT * FROM notebook ORDER BY term_id").fetchall()

    with StudyDB(path) as db:  # opening migrates
        assert db.attempts_count() == len(answers)
        for term_id in "abc":  # each card is FSRS replaying that term's answers in order
            ref = fsrs.Card()
            for t, ok, dt in answers:
                if t == term_id:
                    ref, _ = fsrs.Scheduler(enable_fuzzing=False).review_card(
                        ref, fsrs.Rating.Good if ok else fsrs.Rating.Again,
                        datetime.fromtimestamp(T0 + dt, timezone.utc))
            card = db.card(term_id)
            assert card.due == ref.due.timestamp() and card.stability == ref.stability
            assert card.seen == sum(t == term_id for t, _, _ in answers)
        assert db.card("b").wrong == 2 and db.card("c").correct == 1
        assert [x["term_id"] for x in db.notebook()] == ["b", "a"]
        db.record(attempt("c", True), now=T0 + 7 * DAY)  # and it goes on working
    with sqlite3.connect(path) as raw:
        after = raw.execute(f"SELECT {cols} FROM attempts ORDER BY id").fetchall()
        assert after[:len(before)] == before  # every attempt kept, unchanged
        ratings = [r[0] for r in raw.execute("SELECT rating FROM attempts ORDER BY id")][:len(before)]
        assert ratings == [3 if ok else 1 for _, ok, _ in answers]
        assert raw.execute("SELECT value FROM meta WHERE key='format'").fetchone()[0] == FORMAT
        assert raw.execute("SELECT COUNT(*) FROM boxes_format1").fetchone()[0] == 3  # the old table, renamed
        assert raw.execute("SELECT * FROM notebook ORDER BY term_id").fetchall() == old_book
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with StudyDB(path) as db:  # a second open does nothing more
        assert db.attempts_count() == len(answers) + 1
