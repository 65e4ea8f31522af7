"""The mock test: TESAT's proportions, scoring (points, sections, review list, time) and the CLI's flow."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest

from finterm import FintermError
from finterm.cli import main
from finterm.rag.mock import NOTE, POINTS, SECTIONS, build_mock, score_mock, section_counts, section_of
from finterm.rag.study import StudyDB


def test_section_counts_follow_tesat():
    assert section_counts(80) == {"경제이론": 30, "시사경제·경영": 30, "상황판단": 20}
    assert section_counts(40) == {"경제이론": 15, "시사경제·경영": 15, "상황판단": 10}
    for n in range(3, 120):
        c = section_counts(n)
        assert sum(c.values()) == n and all(v >= 1 for v in c.values())
        assert abs(c["경제이론"] - c["시사경제·경영"]) <= 1 and c["상황판단"] <= c["경제이론"]
    assert section_of("미시경제") == "경제이론" and section_of("금융상품·투자") == "시사경제·경영"


def test_mock_mixes_kinds_and_sections(retriever):
    test = build_mock(retriever, 40, minutes=50, seed=2)
    assert len(test.items) == 40
    by_section = {s: [it for it in test.items if it.section == s] for s in SECTIONS}
    assert {s: len(v) for s, v in by_section.items()} == section_counts(40)
    assert all(it.question.kind == "calculation" for it in by_section["상황판단"])
    assert all(it.question.kind != "calculation" for it in by_section["경제이론"] + by_section["시사경제·경영"])
    assert all(section_of(it.question.category) == "경제이론" for it in by_section["경제이론"])
    assert len({it.question.kind for it in test.items}) == 4
    assert len({it.question.id for it in test.items}) == 40
    assert test.max_points == sum(POINTS[it.question.kind] for it in test.items)
    assert [it.section for it in test.items] == sorted((it.section for it in test.items), key=SECTIONS.index)
    again = build_mock(retriever, 40, minutes=50, seed=2)
    assert [it.question.to_json() for it in again.items] == [it.question.to_json() for it in test.items]
    with pytest.raises(FintermError, match="too small"):
        build_mock(retriever, 2)
    with pytest.raises(FintermError, match="minutes"):
        build_mock(retriever, 10, minutes=0)


def test_scoring_points_sections_time_and_review(retriever):
    test = build_mock(retriever, 12, minutes=10, seed=5)
    right = {it.question.id: it.question.answer for it in test.items}
    full = score_mock(test, right, 120.0)
    assert (full.points, full.correct, full.answered, full.review) == (test.max_points, 12, 12, ())
    assert full.percent == 100.0 and not full.to_json()["over_time"]
    # wrong on the first item, no answer on the last, right elsewhere
    first, last = test.items[0], test.items[-1]
    answers = {**right, first.question.id: (first.question.answer + 1) % 5}
    del answers[last.question.id]
    r = score_mock(test, answers, 700.0)
    assert r.points == test.max_points - first.points - last.points and r.correct == 10 and r.answered == 11
    assert [x["number"] for x in r.review] == [1, 12]
    assert r.review[0]["chosen"] == (first.question.answer + 1) % 5 and r.review[1]["chosen"] is None
    assert r.review[0]["explanation"] == first.question.explanation and r.review[0]["source"]
    sections = {s["section"]: s for s in r.sections}
    assert sections[first.section]["correct"] == sections[first.section]["items"] - 1
    assert sum(s["max_points"] for s in r.sections) == test.max_points
    out = r.to_json()
    assert out["over_time"] and out["seconds"] == 700.0 and out["note"] == NOTE
    assert score_mock(test, {}, 1.0).points == 0


def test_cli_mock_gives_no_feedback_until_the_end_and_records(small_index, capsys, monkeypatch):
    argv = ["quiz", "--mock", "--n", "6", "--minutes", "5", "--seed", "9", "--index", str(small_index)]
    assert main([*argv, "--json"]) == 0
    test = json.loads(capsys.readouterr().out)
    assert len(test["items"]) == 6 and test["note"] == NOTE and test["minutes"] == 5
    items = test["items"]
    lines = [str(items[0]["answer"] + 1), str((items[1]["answer"] + 1) % 5 + 1), ""]  # right, wrong, skip
    lines += [str(it["answer"] + 1) for it in items[3:]]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(argv) == 0
    out = capsys.readouterr().out
    body, result = out.split("\n결과: ")
    assert "정답입니다" not in body and "오답입니다" not in body and "출처:" not in body
    assert "남은 시간 4:5" in body and NOTE in body and NOTE in result
    points = sum(it["points"] for k, it in enumerate(items) if k not in (1, 2))
    assert result.startswith(f"{points}/{test['max_points']}점") and "4/6문항 정답, 5문항 답함" in result
    assert "[다시 보기 2]" in result and "[다시 보기 3]" in result and "무응답" in result
    with StudyDB() as db:
        assert db.attempts_count() == 5  # answered items only, stored after the end
    assert main(["quiz", "--minutes", "5", "--index", str(small_index)]) == 2


def test_cli_mock_stops_when_time_is_up(small_index, capsys, monkeypatch):
    clock = iter(range(0, 10_000, 100))  # each look at the clock is 100 s later
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n" * 10))
    assert main(["quiz", "--mock", "--n", "6", "--minutes", "3", "--seed", "1", "--index", str(small_index)]) == 0
    out = capsys.readouterr().out
    assert "시간이 지나 이 답은 채점하지 않습니다" in out or "시간이 다 되었습니다" in out
    assert "1문항 답함" in out or "0문항 답함" in out
