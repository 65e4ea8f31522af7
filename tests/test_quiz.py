"""Quiz questions: fair options (one right answer, no alias, no duplicate), masking, seeds, filters."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from finterm import FintermError
from finterm.cli import main
from finterm.index.normalize import name_keys, norm_key
from finterm.rag.quiz import KINDS, QuizBank, head, make_quiz, mask_names, name_pattern


@pytest.fixture(scope="session")
def index40(tmp_path_factory):
    """A 40-entry index cut from the bundled glossary: two categories full of near neighbours and aliases."""
    from finterm.api import build
    from finterm.home import bundled_glossary

    lines = bundled_glossary().read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    picked = [r for cat in ("미시경제", "재정·조세") for r in rows
              if r.get("category") == cat and r.get("aliases")]
    picked = picked[:20] + [r for r in picked if r["category"] == "재정·조세"][:20]
    assert len(picked) == 40
    home = tmp_path_factory.mktemp("home40")
    src = home / "g40.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in picked) + "\n", encoding="utf-8")
    old = os.environ.get("FINTERM_HOME")
    os.environ["FINTERM_HOME"] = str(home)
    try:
        build([src], home / "idx", progress=False, log=lambda m: None)
    finally:
        os.environ.pop("FINTERM_HOME") if old is None else os.environ.__setitem__("FINTERM_HOME", old)
    return home / "idx"


@pytest.fixture(scope="session")
def bank40(index40):
    from finterm.rag.retrieve import Retriever

    return QuizBank.from_retriever(Retriever.open(index40))


def keys_of(entry) -> set[str]:
    return set().union(*(name_keys(n) for n in entry.names))


def assert_fair(bank: QuizBank, q) -> None:
    """What a student relies on: five different options, exactly one right, the answer not given away."""
    by_id = {e.id: e for e in bank.entries}
    answer = by_id[q.term_id]
    assert len(q.options) == 5 and 0 <= q.answer < 5
    assert len({norm_key(o) for o in q.options}) == 5, f"duplicate options in {q}"
    assert q.option_term_ids[q.answer] == q.term_id
    others = [by_id[t] for k, t in enumerate(q.option_term_ids) if k != q.answer]
    for o in others:  # no distractor is the answer under another name
        assert not keys_of(o) & keys_of(answer), f"{o.term} is an alias of {answer.term}"
    assert len({t for t in q.option_term_ids}) == 5
    if q.kind == "definition_to_term":
        body = q.prompt.split("\n", 1)[1]
        assert name_pattern(answer.names).search(body) is None, f"{answer.term} shows in {body}"
        assert q.options[q.answer] == answer.term
        assert all(norm_key(o) not in keys_of(answer) for k, o in enumerate(q.options) if k != q.answer)
    elif q.kind == "term_to_definition":
        assert answer.term in q.prompt
        right = q.options[q.answer]
        assert right == bank.short_definition(bank.pos[answer.id])
    else:  # wrong_pair: four options pair a term with its own first sentence, the answer does not
        for k, (option, tid) in enumerate(zip(q.options, q.option_term_ids, strict=True)):
            term, text = option.split(": ", 1)
            assert term == by_id[tid].term
            own = head(by_id[tid].definition, sentences=1, min_chars=30, max_chars=110)
            assert (text == own) is (k != q.answer)
        borrowed = q.options[q.answer].split(": ", 1)[1]
        owner = next(e for e in bank.entries
                     if head(e.definition, sentences=1, min_chars=30, max_chars=110) == borrowed)
        assert not keys_of(owner) & keys_of(answer)
    assert q.explanation.startswith(f"{answer.term}: {answer.definition}") and q.source == answer.source


def test_500_questions_are_fair_on_a_40_entry_index(bank40):
    questions = bank40.generate(500, seed=11)
    assert {q.kind for q in questions} == set(KINDS)
    for q in questions:
        assert_fair(bank40, q)


def test_500_questions_are_fair_on_the_small_index_at_every_difficulty(retriever):
    bank = QuizBank.from_retriever(retriever)
    for difficulty in (0.0, 0.5, 1.0):
        for q in bank.generate(170, seed=3, difficulty=difficulty):
            assert_fair(bank, q)


def test_same_seed_same_quiz_other_seed_other_quiz(retriever):
    a = [q.to_json() for q in make_quiz(retriever, 15, seed=7)]
    b = [q.to_json() for q in make_quiz(retriever, 15, seed=7)]
    c = [q.to_json() for q in make_quiz(retriever, 15, seed=8)]
    assert a == b and a != c


def test_category_filter_and_unknown_category(bank40):
    qs = bank40.generate(30, seed=1, category="재정·조세")
    assert {q.category for q in qs} == {"재정·조세"}
    with pytest.raises(FintermError, match="미시경제"):
        bank40.generate(3, category="요리")


def test_difficulty_one_draws_nearer_distractors_than_zero(bank40):
    def mean_cosine(difficulty):
        sims = []
        for q in bank40.generate(120, seed=5, difficulty=difficulty, kinds=("definition_to_term",)):
            a = bank40.pos[q.term_id]
            sims += [float(bank40.vectors[a] @ bank40.vectors[bank40.pos[t]]) for t in q.option_term_ids
                     if t != q.term_id]
        return np.mean(sims)

    assert mean_cosine(1.0) > mean_cosine(0.0) + 0.02


def test_review_terms_come_first(retriever):
    first = ["t09", "t02"]
    qs = make_quiz(retriever, 4, seed=0, first=first)
    assert [q.term_id for q in qs[:2]] == first


def test_masking_covers_aliases_spacing_and_brackets():
    p = name_pattern(["국내총생산", "GDP", "Gross Domestic Product"])
    text = "국내 총생산(GDP)은 국내총생산이라고도 하며 gdp, Gross domestic product로 쓴다."
    masked = mask_names(text, p)
    assert not any(w in masked.casefold() for w in ("총생산", "gdp", "gross"))
    assert "(" not in masked  # the emptied "(○○)" is dropped
    mc = name_pattern(["한계비용", "MC"])
    assert mask_names("MCI 지수와 MC는 다르다", mc) == "MCI 지수와 ○○는 다르다"
    assert mask_names("주인-대리인 문제와 주인 대리인문제", name_pattern(["주인-대리인 문제"])) == "○○와 ○○"


def test_bad_arguments_are_one_line_errors(retriever):
    with pytest.raises(FintermError, match="difficulty"):
        make_quiz(retriever, 3, difficulty=1.5)
    with pytest.raises(FintermError, match="kind"):
        make_quiz(retriever, 3, kinds=("essay",))


def test_quiz_json_contract(small_index, capsys):
    assert main(["quiz", "--n", "6", "--seed", "2", "--json", "--index", str(small_index)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["questions"]) == 6
    for q in out["questions"]:
        assert {"id", "kind", "prompt", "options", "answer", "term_id", "explanation", "source"} <= set(q)
        assert len(q["options"]) == 5 and isinstance(q["answer"], int) and q["source"] == "테스트 용어집"
    assert main(["quiz", "--n", "0", "--index", str(small_index)]) == 2
