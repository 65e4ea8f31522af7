"""The LLM prompt keeps the seed's format and fits the context; post-processing matches the card."""

from __future__ import annotations

from finterm.index.entry import Entry
from finterm.rag.prompt import answer_part, build_prompt, format_prompt


def _entry(n: int, definition: str = "물가가 지속적으로 오르는 현상이다.") -> Entry:
    return Entry(id=f"e{n}", term=f"용어{n}", definition=definition, source="test")


def test_seed_format_with_numbered_definitions_inside_the_question():
    p = format_prompt("인플레이션이 뭐야?", [_entry(1), _entry(2)])
    assert p.startswith("### 질문: ")
    assert p.endswith("\n\n### 답변:")
    body = p[len("### 질문: "):-len("\n\n### 답변:")]
    assert "[1] 용어1: 물가가" in body and "[2] 용어2:" in body
    assert body.rstrip().endswith("질문: 인플레이션이 뭐야?")
    assert p.count("### 답변:") == 1


def test_without_definitions_it_is_exactly_the_card_format():
    assert format_prompt("중앙은행의 역할은?", []) == "### 질문: 중앙은행의 역할은?\n\n### 답변:"


def test_budget_drops_lowest_ranked_first_then_cuts():
    entries = [_entry(i, "가" * 300) for i in range(1, 21)]
    count = len  # one token per character: a simple, exact tokenizer
    prompt, kept = build_prompt("질문", entries, count_tokens=count, budget=1000)
    assert len(prompt) <= 1000
    assert [e.id for e in kept] == [f"e{i}" for i in range(1, len(kept) + 1)]  # best ones kept, in order
    assert 1 <= len(kept) < 20
    prompt, kept = build_prompt("질문", entries, count_tokens=count, budget=250)
    assert len(prompt) <= 250 and len(kept) == 1 and kept[0].definition.endswith("…")


def test_answer_part_keeps_text_after_marker_and_cuts_half_sentence():
    decoded = "### 질문: 뭐야?\n\n### 답변: 기준금리는 정책금리이다. 시장금리에 영향을 준다. 그리고 또"
    assert answer_part(decoded) == "기준금리는 정책금리이다. 시장금리에 영향을 준다."
    assert answer_part("### 답변: 정말?") == "정말?"
