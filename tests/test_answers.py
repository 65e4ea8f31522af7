"""Answers that answer the question (issue 14): intent, composition, ambiguity, follow-ups, cannot-know.

The index holds the bundled glossary's entries that bench/data/answers.jsonl asks about (and the
issue's examples), built once per session; the whole labelled set is answered to check that no answer
says anything that is not a sentence of a definition it cites.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from finterm.rag.intent import intent_of

SET = Path(__file__).resolve().parents[1] / "bench" / "data" / "answers.jsonl"
EXTRA = ("구축효과", "유동성 함정", "평가절상", "평가절하", "환율", "기준금리", "대출", "금리", "비트코인", "재정정책",
         "가계부채", "예금", "외환시장", "공매도", "개인투자자", "금리와 주가", "예산안", "WTI",
         "상한가", "하한가", "지급준비제도")


def rows() -> list[dict]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def answers_index(tmp_path_factory) -> Path:
    from finterm.api import build
    from finterm.home import bundled_glossary

    terms = set(EXTRA) | {t for r in rows() for t in r["expect"]}
    lines = [line for line in bundled_glossary().read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["term"] in terms]
    tmp = tmp_path_factory.mktemp("answers")
    src = tmp / "subset.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / "index"
    build([src], out, progress=False, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def r(answers_index):
    from finterm.rag.retrieve import Retriever

    return Retriever.open(answers_index)


def ask(r, question, history=None):
    from finterm.api import ask

    return ask(r, question, history=history)


def leftover(answer) -> str:
    """The answer's text without its cited sentences, [n] marks, term labels and the known framing."""
    from finterm.rag.answer import NOT_FOUND
    from finterm.rag.respond import CLOSEST, FRAMES, MAYBE

    rest = answer.text
    for s in sorted(answer.sentences, key=lambda s: -len(s.text)):
        rest = rest.replace(s.text, " ")
    for c in sorted(answer.citations, key=lambda c: -len(c.term)):  # 깡통전세 before 전세
        rest = rest.replace(CLOSEST.format(a=c.term), " ").replace(MAYBE.format(b=c.term), " ")
        rest = rest.replace(f"{c.term}:", " ")
    for frame in (*FRAMES, NOT_FOUND):
        rest = rest.replace(frame, " ")
    if answer.abstained:
        rest = re.sub(r"혹시 이 용어인가요\?.*", " ", rest)
    return re.sub(r"\[\d+\]", " ", rest)


@pytest.mark.slow
def test_no_answer_in_the_labelled_set_says_anything_not_in_a_cited_definition(r):
    from finterm.api import finish_turn, prepare
    from finterm.rag.compose import SentenceScorer
    from finterm.rag.followup import Turn
    from finterm.rag.respond import respond

    scorer = SentenceScorer(r, dense=False)  # the invariant does not depend on the dense term; it is slow here

    def answer(q, history):
        p = prepare(r, q, history=history)
        return finish_turn(respond(r, p.result, p.intent, question=p.resolved.question,
                                   carried=frozenset(p.resolved.carried), note=p.resolved.note, scorer=scorer), p)

    by_id = {e.id: e for e in r.entries}
    checked = 0
    for row in rows():
        history: list[Turn] = []
        for turn in row.get("history", []):
            history.append(Turn.from_answer(answer(turn["q"], history)))
        a = answer(row["q"], history)
        for s in a.sentences:
            assert s.citations, (row["q"], s.text)
            for n in s.citations:
                assert s.text in by_id[a.citations[n - 1].id].definition, (row["q"], n, s.text)
            checked += 1
        assert not re.search(r"[가-힣A-Za-z]", leftover(a)), (row["q"], leftover(a), a.text)
        assert a.abstained or a.sentences, row["q"]
    assert checked > 500


@pytest.mark.parametrize("question, intent", [
    ("기준금리가 뭐야?", "define"), ("환율이 오르면 수출에 어떤 영향이 있어?", "effect"),
    ("DSR은 어떻게 계산해?", "how"), ("공공재는 왜 정부가 공급해?", "why"), ("기준금리는 누가 정해?", "who"),
    ("보완재의 예는?", "example"), ("인플레이션과 디플레이션의 차이", "difference"),
    ("금리와 채권 가격의 관계", "relation"), ("비트코인 시세 알려줘", "cannot"), ("내일 코스피 오를까?", "cannot"),
    ("어떤 ETF 사면 좋을지 추천해줘", "cannot"),
    # a cue word inside a name is not a cue: 산업연관표, 연결재무제표
    ("우리나라 산업연관표는 어느 기관이 만들어?", "who"), ("연결재무제표가 뭐야", "define"),
    ("이자율하고 화폐수요는 무슨 관계야", "relation"),
    # when something happened or is due; a forecast stays cannot-know
    ("석유파동은 언제 일어났어?", "when"), ("예산안은 몇 월까지 통과돼야 해?", "when"),
    ("미국 금리 언제 내릴까?", "cannot"),
    # a number a rule fixes is in the definitions; a live price or a current statistic is not
    ("상한가 몇 퍼센트야?", "amount"), ("예금자보호 한도가 얼마야?", "amount"), ("부가가치세 몇 퍼센트야?", "amount"),
    ("법정 최고금리 몇 %야?", "amount"), ("OPEC 회원국 몇 개야?", "amount"),
    ("기준금리 몇 퍼센트야?", "cannot"), ("실업률 지금 몇 퍼센트야?", "cannot"), ("삼성전자 주가 얼마야", "cannot"),
    ("전세가율 몇 퍼센트야?", "cannot"), ("국민연금 보험료율 몇 퍼센트야?", "amount"),
    ("가격제한폭 지금 몇 퍼센트야?", "amount"), ("금리가 오르면 주가가 얼마나 떨어져?", "effect"),
])
def test_intent_rules(question, intent):
    assert intent_of(question).name == intent


def test_an_effect_question_is_answered_with_the_movement_it_asks_about(r):
    a = ask(r, "환율이 오르면 수출에 어떤 영향이 있어?")
    assert a.intent == "effect" and a.citations[0].term == "평가절하"
    assert "수출에 유리" in a.text.split("\n\n")[0]  # the answering sentence leads
    assert a.text.startswith("평가절하: 원화가 절하되면")


def test_a_description_close_to_two_terms_says_so_and_cites_both(r):
    a = ask(r, "금리를 아무리 낮춰도 투자와 소비가 늘지 않는 상황")
    assert a.text.startswith("이 설명에 가장 가까운 용어는 유동성 함정입니다:")
    assert "구축효과일 수도 있습니다:" in a.text
    assert [c.term for c in a.citations] == ["유동성 함정", "구축효과"] and "[2]" in a.text
    assert a.confidence_label in ("보통", "낮음")


def test_a_follow_up_is_about_the_last_term_and_says_so(r):
    from finterm.rag.followup import Turn

    first = ask(r, "기준금리가 뭐야?")
    a = ask(r, "그럼 그게 오르면 대출 이자는 어떻게 돼?", history=[Turn.from_answer(first)])
    assert a.note == "이전 질문의 '기준금리'에 대해 답합니다"
    assert a.citations[0].term == "기준금리" and "예금·대출 금리" in a.text
    assert a.asked == "그럼 그게 오르면 대출 이자는 어떻게 돼?" and a.question.startswith("기준금리가 오르면")
    j = a.to_json()
    assert j["note"] == a.note and j["terms"][0] == "기준금리"


def test_that_difference_asks_about_the_last_two_terms(r):
    from finterm.rag.followup import Turn

    turns = [Turn.from_answer(ask(r, "인플레이션이 뭐야?"))]
    turns.append(Turn.from_answer(ask(r, "디플레이션은?", history=turns)))
    a = ask(r, "그 차이는?", history=turns)
    assert {c.term for c in a.citations} == {"인플레이션", "디플레이션"}


def test_a_live_price_is_refused_in_korean_then_defined(r):
    a = ask(r, "비트코인 시세 알려줘")
    assert a.text.startswith("용어집에는 실시간 시세나 현재 수치가 없어")
    assert a.citations[0].term == "비트코인" and "가상자산" in a.text and a.notice


def test_confidence_is_in_words_with_the_number_in_json(r):
    a = ask(r, "기준금리가 뭐야?")
    assert a.confidence_label == "높음" and a.to_json()["confidence"] == {"label": "높음", "value": 1.0}


def test_next_steps_are_few_and_answerable(r):
    a = ask(r, "금리를 아무리 낮춰도 투자와 소비가 늘지 않는 상황")
    b = ask(r, "구축효과가 뭐야?")
    for answer in (a, b):
        assert len(answer.next_steps) <= 3
        for step in answer.next_steps:
            follow = ask(r, step.question)
            assert not follow.abstained and follow.citations, step


def test_a_relation_answer_gives_the_formula_after_the_defining_sentence(r):
    a = ask(r, "명목이자율과 실질이자율, 기대인플레이션의 관계")
    assert a.intent == "relation" and a.citations[0].term == "피셔 방정식"
    first = a.text.split("\n\n")[0]
    assert "관계식이다" in first and "명목이자율 ≈ 실질이자율 + 기대인플레이션율" in first


def test_a_why_answer_after_the_defining_sentence_gives_the_reasons(r):
    a = ask(r, "회사가 너무 커지면 왜 평균비용이 오히려 올라가?")
    assert a.intent == "why" and a.citations[0].term == "규모의 불경제"
    assert "의사소통과 관리가 어려워지고" in a.text


def test_why_a_consequence_follows_is_answered_with_the_mechanism(r):
    # "오르면 … 왜": the reason is a chain of consequences ("금리가 오르면 할인율이 커져 …"), not a 때문 sentence
    a = ask(r, "금리 오르면 왜 주가가 떨어져?")
    assert a.intent == "why" and a.citations[0].term == "금리와 주가"
    assert "할인율이 커져" in a.text
    # a plain why-question keeps asking for reasons only
    from finterm.rag.respond import _has_shape

    assert not _has_shape("why", "금리가 오르면 할인율이 커진다.", "주가는 왜 떨어져?")
    assert _has_shape("why", "금리가 오르면 할인율이 커진다.", "금리가 오르면 왜 주가가 떨어져?")


def test_a_when_question_is_answered_with_the_dated_sentence(r):
    a = ask(r, "예산안은 언제까지 국회를 통과해야 돼?")
    assert a.intent == "when" and a.citations[0].term == "예산안"
    assert "12월 2일" in a.text
    # the date sits in the last sentence: a definition's first sentences would not give it
    b = ask(r, "WTI 가격이 마이너스가 된 게 언제야?")
    assert b.intent == "when" and b.citations[0].term == "WTI" and "2020년 4월 20일" in b.text


def test_an_amount_question_is_answered_with_the_number_not_a_live_price_notice(r):
    a = ask(r, "상한가 몇 퍼센트야?")
    assert a.intent == "amount" and a.citations[0].term == "상한가" and a.notice is None
    first = a.text.split("\n\n")[0]
    assert "30%" in first and "실시간" not in a.text
    b = ask(r, "지급준비율 몇 퍼센트야?")  # the rate sits in the definition's last sentence
    assert b.intent == "amount" and b.citations[0].term == "지급준비제도" and "요구불예금 7%" in b.text
    c = ask(r, "기준금리 몇 퍼센트야?")  # a live number: the notice, then what the term means
    assert c.intent == "cannot" and c.notice and "실시간" in c.text


def test_a_how_to_idiom_names_its_term_rather_than_describing_one(r):
    from finterm.rag.query import is_description

    assert not is_description("DTI 구하는 법") and not is_description("명목 GDP 계산하는 방법")
    assert is_description("감가상각비를 매년 같게 계산하는 방법")  # an adverb before the verb: a description
    a = ask(r, "DTI 구하는 법")
    assert not a.abstained and a.citations[0].term == "총부채상환비율" and "÷ 연소득" in a.text


def test_a_phrase_ending_in_a_reason_or_purpose_asks_about_the_names_it_holds(r):
    from finterm.rag.query import is_description

    # "…한 이유/목적" asks about 토빈세; a concept's description ends in its kind (…하는 현상, …하는 효과).
    assert not is_description("토빈세를 제안한 이유") and not is_description("예금보험제도를 두는 목적")
    assert is_description("정부 지출이 늘면 민간 투자가 줄어드는 효과")
    a = ask(r, "토빈세를 제안한 이유")
    assert not a.abstained and a.citations[0].term == "토빈세"


def test_of_several_names_in_a_question_the_first_and_the_topic_are_marked(r):
    from finterm.rag.candidates import gather
    from finterm.rag.query import clean_query

    def terms(rows):
        return {r.entries[i].term for i in rows}

    c = gather(r, clean_query("공매도는 왜 개인투자자들이 싫어해?")[0], ("name", "bm25", "dense"))
    assert {"공매도", "개인투자자"} <= {r.entries[i].term for i in c.cover}
    assert terms(c.first_named) == {"공매도"} and terms(c.topic) == {"공매도"}
    # In a description the names are its building blocks: none of them is what it asks for.
    c = gather(r, clean_query("공매도를 하는 개인투자자가 빌린 주식을 갚는 거래")[0], ("name", "bm25", "dense"))
    assert c.mention and not c.first_named and not c.topic


def test_abstention_sees_a_named_hit_outside_the_dense_list_with_its_real_cosine(r):
    from finterm.rag.candidates import abstain_named, dense_score, gather, top_cosine
    from finterm.rag.query import clean_query

    # "지로는 누가 운영해": 지로 comes from its name; its cosine used to count as 0 when the dense top list
    # lacked it, which made a clear question look off-topic.
    c = gather(r, clean_query("지로는 누가 운영해")[0], ("name", "bm25", "dense"))
    i = next(i for i in c.cover if r.entries[i].term == "지로")
    assert top_cosine(r, c, i) == pytest.approx(dense_score(r, c, i)) and top_cosine(r, c, i) > 0.3
    outside = next(j for j in c.ids if j not in c.dense)
    assert top_cosine(r, c, outside) == pytest.approx(dense_score(r, c, outside)) != 0.0
    # A question about a name counts as named; a name inside a description is a mere mention.
    assert abstain_named(c, i) == 1.0
    d = gather(r, clean_query("리눅스에서 스왑 메모리를 늘리는 방법")[0], ("name", "bm25", "dense"))
    assert all(abstain_named(d, j) < 0.5 for j in d.ids)


def test_a_formula_question_about_a_name_is_not_a_description(r):
    from finterm.rag.query import is_description

    assert not is_description("통화유통속도 구하는 공식") and not is_description("PER 계산하는 식")
    a = ask(r, "통화유통속도 구하는 공식")
    assert not a.abstained and a.citations[0].term == "통화유통속도"


def test_english_abbreviations_in_a_list_are_each_found(r):
    from finterm.index.normalize import norm_key
    from finterm.rag.query import contained_keys, word_starts

    keys = ["pbr", "per", "roe", "ai"]
    text = "PBR이랑 PER, ROE는 서로 무슨 관계임?"
    assert contained_keys(norm_key(text), keys, word_starts(text)) == ["pbr", "per", "roe"]
    assert contained_keys(norm_key("superb 성과"), keys, word_starts("superb 성과")) == []
    assert contained_keys(norm_key("aids 치료제"), keys, word_starts("aids 치료제")) == []
    a = ask(r, text)
    assert not a.abstained and {"주가순자산비율", "자기자본이익률"} <= {c.term for c in a.citations}


def test_how_something_is_decided_is_answered_with_what_it_goes_by(r):
    # Not only who decides (the defining sentence) but the rule it follows: "물가가 높으면 올리고 …"
    a = ask(r, "기준금리는 어떻게 정해져?")
    assert a.intent == "how" and a.citations[0].term == "기준금리"
    assert "금융통화위원회" in a.text and "물가가 높으면 올리고" in a.text
    # a formula question keeps its formula and is not padded with rule sentences
    b = ask(r, "통화유통속도 구하는 공식")
    assert "÷" in b.text and "물가가 높으면" not in b.text


def test_a_sentence_ending_inside_brackets_does_not_split_the_sentence_around_it():
    """Kiwi ends a sentence at "…센다)" inside a bracket; an answer must never quote half a bracket."""
    from finterm.index.morph import kiwi, sentences

    text = ("관리자에게 주문이 늘었는지 물어(납품 지연은 수요가 강하다는 뜻이므로 긍정 응답으로 센다) 경기를 나타낸 "
            "지수이다. 50을 넘으면 확장으로 본다. 해외 투자가 늘면 플러스가 된다(2025년 새 기준이 나와 전환을 준비 "
            "중이다). 흑자는 자산 취득으로 이어진다.")
    got = sentences(text)
    assert got == [
        "관리자에게 주문이 늘었는지 물어(납품 지연은 수요가 강하다는 뜻이므로 긍정 응답으로 센다) "
        "경기를 나타낸 지수이다.",
        "50을 넘으면 확장으로 본다.",
        "해외 투자가 늘면 플러스가 된다(2025년 새 기준이 나와 전환을 준비 중이다).",
        "흑자는 자산 취득으로 이어진다.",
    ]
    assert all(s in text for s in got)
    # a bracket that never closes joins nothing
    typed = "물가가 오른다(수요가 늘었다. 그래서 금리를 올렸다. 환율은 내렸다."
    assert sentences(typed) == [s.text.strip() for s in kiwi().split_into_sents(typed)]
