"""The news reader: Korean word boundaries, longest match, aliases, particles, text edges, ranking, a 100 kB
paste, and `finterm read`."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest

from finterm import FintermError
from finterm.cli import main
from finterm.index.entry import Entry
from finterm.rag.news import MAX_CHARS, NewsMarker, news_quiz, read_news


def entry(i, term, aliases=(), related=(), definition=None):
    return Entry(id=f"n{i}", term=term, aliases=tuple(aliases), related=tuple(related), category="테스트",
                 source="뉴스 테스트", definition=definition or f"{term}의 정의를 적은 문장이다. 둘째 문장이다.")


ENTRIES = [
    entry(1, "LIBOR", ["리보", "런던 은행간 금리"]),
    entry(2, "금리", ["interest rate"], related=["기준금리"]),
    entry(3, "기준금리", ["정책금리"], related=["금리", "인플레이션"]),
    entry(4, "인플레이션", ["inflation"], related=["기준금리"]),
    entry(5, "디플레이션", ["deflation"]),
    entry(6, "국내총생산", ["GDP", "Gross Domestic Product"]),
    entry(7, "주가수익비율", ["PER"]),
    entry(8, "주가"),
    entry(9, "원"),  # one character: never marked
    entry(10, "수요의 가격탄력성"),
    entry(11, "주인-대리인 문제"),
]


@pytest.fixture(scope="module")
def marker():
    return NewsMarker(ENTRIES)


def marks(marker, text):
    return {f.entry.term: [text[a:b] for a, b in f.spans] for f in marker.mark(text)}


def test_word_boundaries_keep_libor_out_of_other_words(marker):
    assert marks(marker, "미리 보여주는 지표") == {}
    assert marks(marker, "리보가 폐지되고 런던 은행간 금리 대신 SOFR를 쓴다") == {"LIBOR": ["리보", "런던 은행간 금리"]}
    assert marks(marker, "원인은 원화 약세다") == {}  # 원 is one character
    assert "주가" not in marks(marker, "외주가공 업체")  # 주가 inside another word is not 주가


def test_particles_longest_match_and_overlaps(marker):
    got = marks(marker, "한국은행이 기준금리를 올리자 시장 금리가 따라 올랐고 주가수익비율은 낮아졌다. 주가는 올랐다.")
    assert got == {"기준금리": ["기준금리"], "금리": ["금리"], "주가수익비율": ["주가수익비율"], "주가": ["주가"]}
    assert marks(marker, "정책금리와 inflation") == {"기준금리": ["정책금리"], "인플레이션": ["inflation"]}


def test_aliases_spacing_case_and_abbreviations(marker):
    text = ("GDP는 국내 총생산, gross domestic product라고도 한다. "
            "PER은 주가를 이익으로 나눈 값이고 per capita는 아니다.")
    got = marks(marker, text)
    assert got["국내총생산"] == ["GDP", "국내 총생산", "gross domestic product"]
    assert got["주가수익비율"] == ["PER"]  # 'per capita' is not a PER
    assert marks(marker, "수요의 가격 탄력성이 크다")["수요의 가격탄력성"] == ["수요의 가격 탄력성"]
    assert marks(marker, "주인 대리인 문제가 생긴다")["주인-대리인 문제"] == ["주인 대리인 문제"]
    assert marks(marker, "ＧＤＰ가 늘었다")["국내총생산"] == ["ＧＤＰ"]  # full-width letters


def test_terms_at_the_very_start_and_end(marker):
    text = "인플레이션과 디플레이션"
    found = marker.mark(text)
    spans = {f.entry.term: f.spans for f in found}
    assert spans == {"인플레이션": ((0, 5),), "디플레이션": ((len(text) - 5, len(text)),)}
    assert marks(marker, "금리") == {"금리": ["금리"]}


def test_centrality_counts_links_and_position(marker):
    text = ("디플레이션 이야기는 잠깐. 인플레이션이 오르자 기준금리를 올렸고, 인플레이션은 잡혔다. "
            "인플레이션 걱정은 줄었다.")
    order = [f.entry.term for f in marker.mark(text)]
    assert order[:2] == ["인플레이션", "기준금리"]  # three mentions; then one mention linked to it
    assert order[-1] == "디플레이션"  # first, but alone and once
    f = marker.mark(text)[0]
    assert f.to_json()["definition"].startswith("인플레이션의 정의를 적은 문장이다.")
    assert f.to_json()["source"] == "뉴스 테스트"


def test_a_100_kb_paste_is_marked_quickly_and_too_much_is_refused(marker):
    unit = "기준금리가 동결되면서 미리 보여주는 지표와 GDP 전망이 엇갈렸다. 주가는 올랐다.\n"
    text = unit * (100_000 // len(unit) + 1)
    marker.mark(unit)  # Kiwi loaded
    t = time.perf_counter()
    found = {f.entry.term: f for f in marker.mark(text)}
    took = time.perf_counter() - t
    assert took < 10, f"100 kB took {took:.1f} s"
    assert set(found) == {"기준금리", "국내총생산", "주가"}
    assert len(found["기준금리"].spans) == text.count("기준금리")
    assert all(text[a:b] == "GDP" for a, b in found["국내총생산"].spans)
    with pytest.raises(FintermError, match="at most"):
        marker.mark("가" * (MAX_CHARS + 1))


def test_read_news_on_an_index_and_quiz_from_the_found_terms(retriever):
    text = "인플레이션이 심해지자 한국은행은 기준금리를 올렸다. 환율도 올랐다."
    found = read_news(retriever, text)
    assert [f.entry.term for f in found][:2] == ["인플레이션", "기준금리"]
    qs = news_quiz(retriever, found, 10, seed=1)
    assert [q.term_id for q in qs] == [f.entry.id for f in found]
    with pytest.raises(FintermError, match="empty"):
        read_news(retriever, "  \n")
    with pytest.raises(FintermError, match="nothing to quiz"):
        news_quiz(retriever, [])


def test_cli_read_json_text_and_anki(small_index, tmp_path, capsys, monkeypatch):
    text = "GDP가 줄고 디플레이션 우려가 커졌다. 미리 보여주는 지표도 나쁘다.\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["read", "-", "--json", "--index", str(small_index)]) == 0
    out = json.loads(capsys.readouterr().out)
    terms = {t["term"]: t for t in out["terms"]}
    assert set(terms) == {"국내총생산", "디플레이션"}
    for t in out["terms"]:
        assert {"id", "term", "spans", "definition"} <= set(t)
        assert all(isinstance(s, list) and len(s) == 2 for s in t["spans"])
    assert [text[a:b] for a, b in terms["국내총생산"]["spans"]] == ["GDP"]
    article = tmp_path / "article.txt"
    article.write_text(text, encoding="utf-8")
    assert main(["read", str(article), "--anki", str(tmp_path / "n.apkg"), "--index", str(small_index)]) == 0
    out = capsys.readouterr()
    assert "[GDP]가 줄고 [디플레이션] 우려" in out.out and "찾은 용어 2개" in out.out
    assert (tmp_path / "n.apkg").stat().st_size > 0 and "exported 2 cards" in out.err
    assert main(["read", str(tmp_path / "missing.txt"), "--index", str(small_index)]) == 1


NEWS = ("한국은행이 기준금리를 동결했다. 미리 보여주는 지표에서 GDP는 줄고 인플레이션 우려는 여전하다. "
        "기준금리 인하는 미뤄졌다.\n")


def _read_json(argv, capsys, stdin=None, monkeypatch=None) -> dict:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_read_quiz_asks_on_the_terms_found_most_central_first_and_records(small_index, tmp_path, capsys,
                                                                               monkeypatch):
    from finterm.rag.study import StudyDB

    article = tmp_path / "기사.txt"
    article.write_text(NEWS, encoding="utf-8")
    argv = ["read", str(article), "--quiz", "--seed", "5", "--index", str(small_index)]
    shown = _read_json([*argv, "--json"], capsys)
    terms, questions = shown["terms"], shown["questions"]
    assert [q["term_id"] for q in questions] == [t["id"] for t in terms]  # one per term, most central first
    assert terms[0]["term"] == "기준금리" and len(questions) == 3
    # right (and easy) on 1; an invalid "0" (asked again), then wrong on 2; then quit before 3
    answers = f"{questions[0]['answer'] + 1}e\n0\n{(questions[1]['answer'] + 1) % 5 + 1}\nq\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "한국은행이 [기준금리]를 동결했다" in out and "찾은 용어 3개" in out
    assert out.index("찾은 용어 3개") < out.index("이 기사의 용어로 퀴즈 3문제") < out.index("[1/3]")
    assert questions[0]["prompt"] in out and "[3/3]" in out and "1부터 5까지의 번호를 입력하세요" in out
    assert "정답입니다" in out and f"오답입니다. 정답은 {'①②③④⑤'[questions[1]['answer']]}" in out
    assert "2문제 중 1문제 정답." in out
    with StudyDB() as db:
        rows = db.db.execute("SELECT term_id, correct, rating, session FROM attempts ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(questions[0]["term_id"], 1, 4), (questions[1]["term_id"], 0, 1)]
    assert all(r[3].startswith("read-") for r in rows)


def test_cli_read_quiz_json_prints_the_questions_and_asks_nothing(small_index, capsys, monkeypatch):
    from finterm.rag.study import StudyDB

    argv = ["read", "-", "--quiz", "--json", "--n", "2", "--seed", "1", "--index", str(small_index)]
    out = _read_json(argv, capsys, NEWS, monkeypatch)
    assert set(out) == {"terms", "questions"} and len(out["terms"]) == 3
    assert [q["term_id"] for q in out["questions"]] == [t["id"] for t in out["terms"][:2]]
    q = out["questions"][0]
    assert {"id", "kind", "prompt", "options", "answer", "term_id", "explanation", "source"} <= set(q)
    assert len(q["options"]) == 5 and q["source"] == "테스트 용어집"
    assert _read_json(argv, capsys, NEWS, monkeypatch) == out  # same seed, same quiz
    plain = _read_json(["read", "-", "--json", "--index", str(small_index)], capsys, NEWS, monkeypatch)
    assert set(plain) == {"terms"}  # without --quiz the JSON is as before
    with StudyDB() as db:
        assert db.attempts_count() == 0


def test_cli_read_quiz_errors_are_one_korean_line(small_index, tmp_path, capsys, monkeypatch):
    article = tmp_path / "a.txt"
    article.write_text(NEWS, encoding="utf-8")
    empty = tmp_path / "b.txt"
    empty.write_text("오늘 날씨가 맑고 바람이 분다.", encoding="utf-8")
    idx = ["--index", str(small_index)]
    cases = [
        (["read", "-", "--quiz", *idx], 2, "기사는 파일로 주세요"),  # stdin holds the article, not the answers
        (["read", str(article), "--n", "2", *idx], 2, "--n은 --quiz와 함께 씁니다"),
        (["read", str(article), "--quiz", "--n", "0", *idx], 2, "--n 0은 너무 작습니다"),
        (["read", str(empty), "--quiz", *idx], 1, "용어집 용어를 찾지 못해 퀴즈를 낼 수 없습니다"),
        (["read", str(empty), "--quiz", "--json", *idx], 1, "용어집 용어를 찾지 못해 퀴즈를 낼 수 없습니다"),
    ]
    for argv, code, message in cases:
        monkeypatch.setattr(sys, "stdin", io.StringIO(NEWS))
        capsys.readouterr()
        assert main(argv) == code, argv
        out = capsys.readouterr()
        assert out.out == "", argv
        assert out.err.startswith("finterm: error: ") and message in out.err and out.err.count("\n") == 1, out.err


def test_cli_read_quiz_in_a_real_process_reads_answers_from_a_pipe(small_index, tmp_path, capsys):
    import os
    import subprocess

    article = tmp_path / "a.txt"
    article.write_text(NEWS, encoding="utf-8")
    argv = ["read", str(article), "--quiz", "--n", "1", "--seed", "9", "--index", str(small_index)]
    key = _read_json([*argv, "--json"], capsys)["questions"][0]["answer"]
    env = {**os.environ, "FINTERM_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "finterm.cli", *argv], input=f"{key + 1}\n", capture_output=True,
                       text=True, encoding="utf-8", env=env)
    assert p.returncode == 0, p.stderr
    assert "[1/1]" in p.stdout and "정답입니다" in p.stdout and "1문제 중 1문제 정답." in p.stdout
    assert "FSRS" in p.stderr
