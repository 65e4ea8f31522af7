"""Answer checking on clear cases: paraphrases pass, neighbour-term definitions and opposites do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finterm import FintermError
from finterm.cli import main
from finterm.rag.check import check_answer
from finterm.rag.direction import contradicts, direction_claims
from finterm.rag.query import EmptyQuery


@pytest.mark.parametrize("term, answer", [
    ("한계비용", "생산량을 하나 더 늘릴 때 추가로 드는 비용"),
    ("MC", "생산량을 하나 더 늘릴 때 추가로 드는 비용"),  # looked up by alias
    ("인플레이션", "물가가 전반적으로 계속 올라 돈의 구매력이 떨어지는 현상"),
    ("국내 총생산", "일정 기간 나라 안에서 새로 생산된 최종 재화와 서비스의 시장가치를 모두 더한 것"),
    ("매몰비용", "이미 지출해서 어떤 선택을 해도 되찾을 수 없는 비용"),
])
def test_paraphrases_are_correct(retriever, term, answer):
    assert check_answer(retriever, answer, term=term).verdict == "correct"


@pytest.mark.parametrize("term, answer, neighbour", [
    ("한계비용", "총비용을 생산량으로 나눈 값으로 제품 한 단위당 평균적으로 드는 비용", "평균비용"),
    ("한계비용", "한계비용은 총비용을 생산량으로 나눈 값이다", "평균비용"),  # naming the term does not help
    ("국내총생산", "한 나라 국민이 국내외에서 벌어들인 소득의 합계", "국민총소득"),
    ("기회비용", "이미 써 버려서 되찾을 수 없는 비용", "매몰비용"),
    ("디플레이션", "물가 수준이 전반적이고 지속적으로 오르는 현상", "인플레이션"),
])
def test_a_neighbouring_terms_definition_does_not_pass(retriever, term, answer, neighbour):
    result = check_answer(retriever, answer, term=term)
    assert result.verdict == "incorrect"
    assert result.closer_to is not None and result.closer_to.term == neighbour


@pytest.mark.parametrize("term, answer", [
    ("인플레이션", "물가가 전반적으로 지속적으로 내려가는 현상"),  # the opposite direction
    ("환율", "피자는 이탈리아에서 온 음식이다"),
    ("경상수지", "잘 모르겠어요"),
])
def test_opposites_and_unrelated_answers_are_incorrect(retriever, term, answer):
    assert check_answer(retriever, answer, term=term).verdict == "incorrect"


def test_direction_claims_catch_opposites():
    ref = direction_claims("소득이 늘어나면 오히려 수요가 줄어드는 재화이다")
    assert ref == {("소득", "+"), ("수요", "-")}
    assert contradicts(direction_claims("소득이 늘면 수요량도 늘어나는 재화"), ref)
    assert not contradicts(direction_claims("소득이 증가하면 수요가 감소하는 재화"), ref)
    claims = direction_claims("과세표준이 커질수록 더 높은 세율을 매긴다")  # 높은 세율: the adjective's noun
    assert claims == {("과세", "+"), ("표준", "+"), ("세율", "+")}


def test_missing_concepts_come_from_the_reference(retriever):
    result = check_answer(retriever, "여러 사람이 함께 쓰는 물건", term="공공재")
    assert result.verdict != "correct" and result.missing
    definition = result.reference.definition
    assert all(m.removesuffix("다") in definition for m in result.missing)
    assert "배제" in result.missing


def test_question_mode_takes_the_reference_from_retrieval(retriever):
    result = check_answer(retriever, "생산량을 하나 더 늘릴 때 드는 추가 비용", question="한계비용이 뭐야?")
    assert result.reference.term == "한계비용" and result.verdict == "correct"
    named = check_answer(retriever, "GDP", question="국내총생산이란?")
    assert named.verdict == "correct" and named.score == 1.0
    wrong = check_answer(retriever, "국민총소득", question="국내총생산이란?")
    assert wrong.verdict == "incorrect" and wrong.closer_to.term == "국민총소득"


def test_bad_input_is_a_one_line_error(retriever):
    with pytest.raises(FintermError, match="did you mean 인플레이션"):
        check_answer(retriever, "물가가 오른다", term="인풀레이션")
    with pytest.raises(EmptyQuery):
        check_answer(retriever, "   ", term="환율")
    with pytest.raises(FintermError, match="no glossary entry answers"):
        check_answer(retriever, "맛있다", question="삼겹살 맛있게 굽는 법")


def test_check_json_contract_and_exit_codes(small_index, capsys):
    argv = ["check", "--term", "한계비용", "--answer", "총비용을 생산량으로 나눈 값", "--json",
            "--index", str(small_index)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"verdict", "score", "missing", "reference"} <= set(out)
    assert out["verdict"] == "incorrect" and 0 <= out["score"] <= 1 and isinstance(out["missing"], list)
    assert out["reference"] == {"id": "t08", "term": "한계비용", "source": "테스트 용어집",
                                "definition": out["reference"]["definition"]}
    assert out["reference"]["definition"].startswith("생산량을 한 단위 더")
    assert main(["check", "--term", "한계비용", "--answer", "생산량을 하나 더 늘릴 때 드는 비용",
                 "--index", str(small_index)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("정답") and "출처: 테스트 용어집" in text
    assert main(["check", "--answer", "무엇", "--index", str(small_index)]) == 2
    assert main(["check", "--term", "없는용어", "--answer", "무엇", "--index", str(small_index)]) == 1
    assert "no glossary entry is named" in capsys.readouterr().err


# -- the 답안 확인 page (AppTest) -----------------------------------------------------------------
def check_script():
    from finterm.ui import study_pages

    study_pages.check_page()


def open_check_page(small_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FINTERM_INDEX", str(small_index))
    at = AppTest.from_function(check_script, default_timeout=300).run()
    assert not at.exception, at.exception
    return at


def test_check_page_shows_verdict_missing_concepts_and_source(small_index, monkeypatch):
    at = open_check_page(small_index, monkeypatch)
    at.text_input(key="check-target").set_value("한계비용")
    at.text_area(key="check-answer").set_value("총비용을 생산량으로 나눈 값")
    at.button[0].click().run()  # form fields are sent with the form's submit button
    assert not at.exception, at.exception
    assert any(e.value.startswith("오답 (incorrect)") for e in at.error)
    assert any("평균비용" in i.value for i in at.info)
    markdown = " ".join(m.value for m in at.markdown)
    assert "빠진 핵심 개념" in markdown and ":orange-background[" in markdown
    assert "기준 정의 — 한계비용" in markdown and any("테스트 용어집" in c.value for c in at.caption)

    at.radio(key="check-mode").set_value("문제")
    at.text_input(key="check-target").set_value("한계비용이 뭐야?")
    at.text_area(key="check-answer").set_value("생산량을 하나 더 늘릴 때 추가로 드는 비용")
    at.button[0].click().run()
    assert any(s.value.startswith("정답 (correct)") for s in at.success)


def test_check_page_bad_input_is_one_line(small_index, monkeypatch):
    at = open_check_page(small_index, monkeypatch)
    at.text_input(key="check-target").set_value("인풀레이션")
    at.text_area(key="check-answer").set_value("물가가 오른다")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.error[0].value == "용어집에 '인풀레이션'(이)라는 용어가 없습니다. 혹시 아래 용어인가요?"
    suggestion = next(b for b in at.button if b.label == "인플레이션")
    suggestion.click().run()  # the suggestion grades the same answer against that term
    assert not at.exception, at.exception
    assert at.text_input(key="check-target").value == "인플레이션"
    assert "기준 정의 — 인플레이션" in " ".join(m.value for m in at.markdown)

    at.text_input(key="check-target").set_value("한계비용")
    at.text_area(key="check-answer").set_value("   ")
    at.button[0].click().run()
    assert at.error[0].value.startswith("내 답을 적어 주세요")


def test_unknown_term_error_keeps_the_cli_message_and_carries_suggestions(retriever):
    from finterm.rag.check import UnknownTerm, check_answer

    with pytest.raises(UnknownTerm, match="did you mean 인플레이션") as info:
        check_answer(retriever, "물가가 오른다", term="인풀레이션")
    assert info.value.suggestions[0] == "인플레이션"


def test_highlights_cover_whole_words_never_half_a_word():
    from finterm.rag.highlight import concept_spans
    from finterm.ui.study_pages import highlighted

    text = "생산량을 한 단위 늘릴 때 추가로 드는 비용을 말한다. 가격이 한계비용(P>MC)보다 높으면 생산을 늘린다."
    marked = [text[s:e] for s, e in concept_spans(text, ("생산량", "늘리다", "비용"))]
    assert marked == ["생산량", "늘릴", "비용", "한계비용", "늘린다"]  # 한계|비용 is one word
    md = highlighted(text, ("생산량",))
    assert md.startswith(":orange-background[**생산량**]을 ")  # the particle stays outside the mark


def test_a_colloquial_answer_is_helped_by_the_questions_written_about_the_term(tmp_path):
    """"물건 하나 더 만들면 드는 돈" shares few words with 한계비용's definition, but is close to the everyday
    questions written about it (index/views.py): the same check scores higher with them in the index."""
    from finterm.api import build
    from finterm.rag.check import Checker
    from finterm.rag.retrieve import Retriever

    mini = Path(__file__).parent / "data" / "mini_glossary.jsonl"
    scores = {}
    for views in (False, None):
        out = tmp_path / f"ix-{views}"
        build([mini], out, progress=False, log=lambda m: None, questions=views)
        r = Retriever.open(out)
        assert (r.data.views is not None) == (views is None)
        scores[views] = Checker(r).check("물건 하나 더 만들면 드는 돈", term="한계비용")
    assert scores[None].score > scores[False].score
    assert scores[None].verdict in ("partial", "correct")


def test_the_checker_compares_answers_with_describing_questions_only():
    from finterm.index.views import describing, question_styles

    styles = question_styles()
    situation = next(q for q, s in styles.items() if s == "situation")
    textbook = next(q for q, s in styles.items() if s == "textbook")
    # A concrete case or a few search words help retrieval, but an answer that matches one is not
    # thereby a definition; a user's own question (unknown to the bundled bank) still counts.
    assert describing([textbook, situation, "내 용어집에만 있는 질문"]).tolist() == [True, False, True]
