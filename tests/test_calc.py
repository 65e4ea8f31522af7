"""Calculation items: every template over many seeds — the keyed option equals a computation written here
from the printed inputs alone, no distractor prints or equals it, and the cited entry holds the formula."""

from __future__ import annotations

import json
import math

import pytest

from finterm import FintermError
from finterm.rag.calc import KIND, calc_item, fmt, make_calc
from finterm.rag.calc_templates import TEMPLATES

SEEDS = range(150)

# The formulas, written again from a textbook, reading only the inputs the prompt shows.
EXPECTED = {
    "실업률": lambda x: x["un"] / x["lf"] * 100,
    "고용률": lambda x: x["emp"] / x["pop"] * 100,
    "경제활동참가율": lambda x: (x["emp"] + x["un"]) / x["pop"] * 100,
    "물가상승률": lambda x: (x["b"] / x["a"] - 1) * 100,
    "GDP 디플레이터": lambda x: x["nom"] / x["real"] * 100,
    "실질GDP": lambda x: x["nom"] * 100 / x["d"],
    "실질 GDP 성장률": lambda x: (x["y1"] - x["y0"]) / x["y0"] * 100,
    "실질금리(피셔 방정식)": lambda x: x["i"] - x["pi"],
    "실질임금": lambda x: x["w"] * 100 / x["c"],
    "화폐수량설": lambda x: x["m"] - x["y"],
    "수요의 가격탄력성": lambda x: abs((x["q1"] / x["q0"] - 1) / (x["p1"] / x["p0"] - 1)),
    "공급의 가격탄력성": lambda x: abs((x["q1"] / x["q0"] - 1) / (x["p1"] / x["p0"] - 1)),
    "소득탄력성": lambda x: x["dq"] / x["dy"],
    "교차탄력성": lambda x: x["dq"] / x["dp"],
    "기회비용": lambda x: x["c"] + max(x["a"], x["b"]),
    "한계비용": lambda x: (x["tc1"] - x["tc0"]) / x["dq"],
    "평균비용": lambda x: (x["fc"] + x["vc"]) / x["q"],
    "손익분기점": lambda x: x["fc"] / (x["p"] - x["v"]),
    "정부지출승수": lambda x: x["dg"] / (1 - x["mpc"]),
    "조세승수": lambda x: x["dt"] * x["mpc"] / (1 - x["mpc"]),
    "한계소비성향": lambda x: (x["c1"] - x["c0"]) / (x["y1"] - x["y0"]),
    "통화승수": lambda x: x["money"] / x["b"],
    "환율 변화와 원화 가치": lambda x: (x["e0"] / x["e1"] - 1) * 100,
    "교역조건": lambda x: x["xp"] / x["mp"] * 100,
    "구매력평가환율": lambda x: x["krw"] / x["usd"],
    "72의 법칙": lambda x: 72 / x["rate"],
    "단리": lambda x: x["p"] + x["p"] * x["rate"] / 100 * x["years"],
    "복리": lambda x: x["p"] * math.pow(1 + x["rate"] / 100, x["years"]),
    "현재가치": lambda x: x["fv"] / math.pow(1 + x["rate"] / 100, x["years"]),
    "PER": lambda x: x["price"] / x["eps"],
    "PBR": lambda x: x["price"] / x["bps"],
    "ROE": lambda x: x["ni"] / x["eq"] * 100,
    "ROA": lambda x: x["ni"] / x["assets"] * 100,
    "부채비율": lambda x: x["debt"] / (x["assets"] - x["debt"]) * 100,
    "유동비율": lambda x: x["ca"] / x["cl"] * 100,
    "이자보상배율": lambda x: x["oi"] / x["interest"],
    "배당수익률": lambda x: x["dps"] / x["price"] * 100,
    "배당성향": lambda x: x["div"] / x["ni"] * 100,
    "엥겔계수": lambda x: x["food"] / x["spend"] * 100,
    "지니계수 읽기": lambda x: x["a"] / (x["a"] + x["b"]),
}


def test_there_are_at_least_25_templates_and_each_has_a_check():
    assert len(TEMPLATES) >= 25
    assert set(EXPECTED) == set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_keyed_option_is_right_and_no_distractor_is(name):
    template = TEMPLATES[name]
    for seed in SEEDS:
        item = calc_item(name, seed)
        q = item.question
        right = EXPECTED[name](item.inputs)
        assert q.kind == KIND and len(q.options) == 5 and len(set(q.options)) == 5
        assert math.isclose(item.values[q.answer], right, rel_tol=1e-9, abs_tol=1e-9), (name, seed, item)
        unit = _unit(q.options[q.answer])
        assert q.options[q.answer] in (fmt(right, unit, 1), fmt(right, unit, 2)), (name, seed, q.options)
        for k, (v, text) in enumerate(zip(item.values, q.options, strict=True)):
            if k != q.answer:
                assert not math.isclose(v, right, rel_tol=1e-6, abs_tol=1e-9), (name, seed, q.options)
                assert text != q.options[q.answer]
        assert list(item.values) == sorted(item.values)  # TESAT lists numeric options in order
        for number in _numbers_in(q.prompt):  # inputs are clean numbers: at most two decimals
            assert "." not in number or len(number.split(".")[1]) <= 2, (name, seed, q.prompt)
        assert q.term == template.cite or template.cite in q.explanation
        assert q.explanation.startswith("풀이: ") and "근거 — " in q.explanation


def _unit(option: str) -> str:
    i = len(option)
    while i and not option[i - 1].isdigit():
        i -= 1
    return option[i:]


def _numbers_in(text: str) -> list[str]:
    import re

    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)


def test_cited_entries_exist_in_the_bundled_glossary_and_state_the_formula():
    from finterm.home import bundled_glossary

    rows = [json.loads(line) for line in bundled_glossary().read_text(encoding="utf-8").splitlines() if line]
    by_term = {r["term"]: r for r in rows}
    for name, t in TEMPLATES.items():
        assert t.cite in by_term, f"{name} cites {t.cite!r}, which is not in the bundled glossary"
        q = calc_item(name, 0).question
        assert q.term_id == by_term[t.cite]["id"] and q.source == by_term[t.cite]["source"]
        definition = by_term[t.cite]["definition"]
        signs = ("÷", "×", "−", "나누", "비율", "상승률", "72", "가장 가치가 큰")
        assert any(sign in definition for sign in signs), t.cite


def test_an_index_with_the_term_is_cited_before_the_bundled_glossary(retriever):
    from finterm.rag.calc import cited_entry

    assert cited_entry("한계비용", retriever.entries).source == "테스트 용어집"
    assert cited_entry("엥겔계수", retriever.entries).source != "테스트 용어집"  # not in the mini glossary
    item = calc_item("한계비용", 1, retriever.entries)
    assert item.question.term_id == cited_entry("한계비용", retriever.entries).id


def test_seeds_are_deterministic_and_vary():
    a = [q.to_json() for q in make_calc(30, seed=4)]
    assert a == [q.to_json() for q in make_calc(30, seed=4)]
    assert a != [q.to_json() for q in make_calc(30, seed=5)]
    assert len({q["prompt"] for q in a}) == 30
    assert {calc_item("실업률", s).question.prompt for s in range(20)}.__len__() > 10
    with pytest.raises(FintermError, match="template"):
        calc_item("점성술", 0)
    with pytest.raises(FintermError, match="too small"):
        make_calc(0)


def test_worked_solution_and_formatting():
    q = calc_item("실업률", 0).question
    assert "실업자 ÷ 경제활동인구 × 100" in q.explanation and q.options[q.answer].endswith("%")
    assert fmt(1250, "원") == "1,250원" and fmt(-20.0, "%") == "-20%" and fmt(0.25, "", 2) == "0.25"
    assert fmt(12.5, "만 원") == "12.5만 원" and fmt(-0.0) == "0"
