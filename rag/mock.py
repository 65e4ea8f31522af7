"""A timed mock test in TESAT's proportions, built from the glossary, scored only at the end.

TESAT has 80 items in 100 minutes: 경제이론 30, 시사경제·경영 30, 상황판단 20. A mock test of `n`
items keeps those proportions (largest remainder): 경제이론 and 시사경제·경영 items are vocabulary
questions (`finterm.rag.quiz`) on entries of the matching glossary categories, 상황판단 items are
calculations (`finterm.rag.calc`). Points follow TESAT's 3/4/5 scale by how much an item asks:
naming a term or a meaning 3, spotting the wrong pair 4, a calculation 5. The result is the points,
the time used, per-section results and the list of items to review. It is practice built from the
glossary, not a TESAT score, and says so (`NOTE`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from finterm import FintermError
from finterm.rag.quiz import KINDS, Question

NOTE = ("용어집으로 만든 연습 시험입니다. 실제 TESAT 점수나 등급이 아닙니다 "
        "(practice built from the glossary, not a TESAT score).")
SECTIONS = ("경제이론", "시사경제·경영", "상황판단")
TESAT_ITEMS = {"경제이론": 30, "시사경제·경영": 30, "상황판단": 20}
TESAT_MINUTES = 100
POINTS = {"definition_to_term": 3, "term_to_definition": 3, "wrong_pair": 4, "calculation": 5}
# Glossary categories asked in the 경제이론 section; every other category is 시사경제·경영.
THEORY = frozenset({"경제일반", "미시경제", "거시경제", "경제사상·인물", "경제법칙·지표", "노동", "재정·조세",
                    "국제경제", "통화·중앙은행"})


def section_of(category: str) -> str:
    """The TESAT section a glossary category is asked in (vocabulary items)."""
    return "경제이론" if category in THEORY or not category else "시사경제·경영"


def section_counts(n: int) -> dict[str, int]:
    """How many of `n` items each section gets, in TESAT's 30:30:20 (largest remainder)."""
    total = sum(TESAT_ITEMS.values())
    exact = {s: n * TESAT_ITEMS[s] / total for s in SECTIONS}
    counts = {s: int(v) for s, v in exact.items()}
    for s in sorted(SECTIONS, key=lambda s: (-(exact[s] - counts[s]), SECTIONS.index(s)))[:n - sum(counts.values())]:
        counts[s] += 1
    return counts


@dataclass(frozen=True)
class MockItem:
    question: Question
    section: str
    points: int


@dataclass(frozen=True)
class MockTest:
    items: tuple[MockItem, ...]
    minutes: float
    seed: int

    @property
    def max_points(self) -> int:
        return sum(it.points for it in self.items)

    def to_json(self) -> dict:
        return {"minutes": self.minutes, "seed": self.seed, "max_points": self.max_points, "note": NOTE,
                "items": [{**it.question.to_json(), "section": it.section, "points": it.points}
                          for it in self.items]}


@dataclass(frozen=True)
class MockResult:
    points: int
    max_points: int
    correct: int
    answered: int
    total: int
    seconds: float
    minutes: float
    sections: tuple[dict, ...]
    review: tuple[dict, ...]

    @property
    def percent(self) -> float:
        return round(100 * self.points / self.max_points, 1) if self.max_points else 0.0

    def to_json(self) -> dict:
        return {"points": self.points, "max_points": self.max_points, "percent": self.percent,
                "correct": self.correct, "answered": self.answered, "total": self.total,
                "seconds": round(self.seconds, 1), "minutes": self.minutes,
                "over_time": self.seconds > self.minutes * 60, "sections": list(self.sections),
                "review": list(self.review), "note": NOTE}


def build_mock(retriever, n: int = 40, *, minutes: float = 50, seed: int = 0, difficulty: float = 0.7) -> MockTest:
    """A mock test of `n` items from the retriever's index, in TESAT's proportions; within a section the
    items are shuffled, and the sections come in TESAT's order."""
    from finterm.rag.calc import make_calc
    from finterm.rag.quiz import QuizBank

    if n < 3:
        raise FintermError(f"--n of {n} is too small for a mock test; use 3 or more (one per section)")
    if not 0 < minutes <= 600:
        raise FintermError(f"--minutes of {minutes} is out of range; use 1 to 600 (TESAT: {TESAT_MINUTES} for 80)")
    bank = QuizBank.from_retriever(retriever)
    rng = random.Random(seed)
    pools = {s: [i for i, e in enumerate(bank.entries) if section_of(e.category) == s] for s in SECTIONS[:2]}
    counts = section_counts(n)
    for s, other in ((SECTIONS[0], SECTIONS[1]), (SECTIONS[1], SECTIONS[0])):
        if not pools[s]:  # an index without that kind of category: the other vocabulary section asks them
            counts[other] += counts[s]
            counts[s] = 0
    items: list[MockItem] = []
    for s in SECTIONS[:2]:
        order = rng.sample(pools[s], len(pools[s]))
        for k in range(counts[s]):
            kind = KINDS[rng.randrange(len(KINDS))]
            q = bank.question(order[k % len(order)], kind, f"m{seed}-{len(items) + 1}", rng, difficulty)
            items.append(MockItem(q, s, POINTS[kind]))
    for q in make_calc(counts["상황판단"], seed=seed, entries=bank.entries) if counts["상황판단"] else []:
        q = Question(**{**q.__dict__, "id": f"m{seed}-{len(items) + 1}"})
        items.append(MockItem(q, "상황판단", POINTS[q.kind]))
    return MockTest(tuple(items), float(minutes), seed)


def score_mock(test: MockTest, answers: dict[str, int | None], seconds: float) -> MockResult:
    """Score `answers` (question id -> chosen option, None or missing = unanswered) after `seconds`."""
    per = {s: {"section": s, "items": 0, "correct": 0, "points": 0, "max_points": 0} for s in SECTIONS}
    review, points, correct, answered = [], 0, 0, 0
    for number, it in enumerate(test.items, 1):
        q, row = it.question, per[it.section]
        chosen = answers.get(q.id)
        ok = chosen == q.answer
        row["items"] += 1
        row["max_points"] += it.points
        answered += chosen is not None
        if ok:
            row["correct"] += 1
            row["points"] += it.points
            points += it.points
            correct += 1
            continue
        review.append({"number": number, "id": q.id, "section": it.section, "kind": q.kind, "points": it.points,
                       "prompt": q.prompt, "options": list(q.options), "chosen": chosen, "answer": q.answer,
                       "term": q.term, "explanation": q.explanation, "source": q.source})
    sections = tuple({**r, "accuracy": round(r["correct"] / r["items"], 3)} for r in per.values() if r["items"])
    return MockResult(points, test.max_points, correct, answered, len(test.items), seconds, test.minutes,
                      sections, tuple(review))


def record_mock(db, test: MockTest, answers: dict[str, int | None], *, session: str) -> int:
    """Store each answered item as an attempt (one transaction each); returns how many were stored."""
    from finterm.rag.study import Attempt

    stored = 0
    for it in test.items:
        chosen = answers.get(it.question.id)
        if chosen is not None:
            db.record(Attempt.from_question(it.question, chosen), session=session)
            stored += 1
    return stored
