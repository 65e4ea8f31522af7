"""Calculation items: five-choice numeric questions from the formula templates in `calc_templates`.

Each item is a `finterm.rag.quiz.Question` of kind "calculation", so the study database, the mock
test and the app treat it like any other question. The keyed option is the template's answer; the
four distractors are the values the usual mistakes give (wrong denominator, sign, percent vs point,
the neighbouring formula), topped up with scaled copies of the answer when mistakes coincide. No
distractor prints the same as the answer. Options are listed in ascending order, as TESAT does.
The explanation is the worked solution plus the glossary entry whose definition holds the formula
(the served index's entry when it has that term, else the bundled glossary's).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.normalize import name_keys
from finterm.rag import calc_money  # noqa: F401  (registers the second half of the templates)
from finterm.rag.calc_templates import TEMPLATES, Calc, n
from finterm.rag.quiz import N_OPTIONS, Question

KIND = "calculation"
FILLERS = (1.25, 0.8, 2.0, 0.5, 1.5, 0.75, 3.0, 1.1, 0.9, 4.0)  # scaled copies of the key, when mistakes run out


def fmt(x: float, unit: str = "", decimals: int = 1) -> str:
    """A value as an option prints it: "5%", "1,250원", "0.25", "-20%"."""
    s = n(x + 0.0, decimals)
    if s in ("-0", "0"):
        s = "0"
    return s + unit


@dataclass(frozen=True)
class CalcItem:
    """A calculation question with the numbers behind its options (for tests and review)."""

    question: Question
    values: tuple[float, ...]
    template: str
    inputs: dict


def _by_key(entries) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for e in entries:
        for name in e.names:
            for key in name_keys(name):
                out.setdefault(key, e)
    return out


@lru_cache(maxsize=1)
def _bundled() -> dict[str, Entry]:
    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary

    return _by_key(load_glossary(bundled_glossary()).entries)


def cited_entry(term: str, entries=None) -> Entry:
    """The entry named `term` (name or alias) in `entries`, else in the bundled glossary."""
    keys = sorted(name_keys(term))
    for table in (_by_key(entries or ()), _bundled()):
        for key in keys:
            if key in table:
                return table[key]
    raise FintermError(f"no glossary entry for {term!r}, the term a calculation template cites; "
                       "fix the template's cite")


def options_for(calc: Calc, rng: random.Random) -> tuple[list[float], list[str], int]:
    """(values, printed options, keyed position): the key and four distinct distractors, ascending."""
    key_text = fmt(calc.key, calc.unit, calc.decimals)
    seen, values = {key_text}, [calc.key]
    fillers = [calc.key * f for f in FILLERS] + [calc.key + d for d in (1, -1, 2, -2, 5, 10)]
    for v in (*calc.mistakes, *fillers):
        if len(values) == N_OPTIONS:
            break
        text = fmt(v, calc.unit, calc.decimals) if math.isfinite(v) else ""
        if not text or text in seen or math.isclose(v, calc.key, rel_tol=1e-9, abs_tol=1e-9):
            continue
        seen.add(text)
        values.append(v)
    if len(values) < N_OPTIONS:  # cannot happen with the fillers above, but never ask an unfair question
        raise FintermError(f"could not find {N_OPTIONS - 1} distinct distractors for {calc.prompt!r}")
    order = sorted(range(N_OPTIONS), key=lambda k: (values[k], k))
    values = [values[k] for k in order]
    return values, [fmt(v, calc.unit, calc.decimals) for v in values], order.index(0)


def calc_item(name: str, seed: int = 0, entries=None, qid: str | None = None) -> CalcItem:
    """One item from template `name`, deterministic for `seed`."""
    if name not in TEMPLATES:
        raise FintermError(f"calculation template {name!r} is unknown; use one of {', '.join(TEMPLATES)}")
    t = TEMPLATES[name]
    rng = random.Random(f"{name}/{seed}")
    calc = t.make(rng)
    values, options, answer = options_for(calc, rng)
    e = cited_entry(t.cite, entries)
    explanation = f"풀이: {calc.solution}\n근거 — {e.term}: {e.definition}"
    q = Question(id=qid or f"calc-{name}-{seed}", kind=KIND, prompt=calc.prompt, options=tuple(options),
                 answer=answer, term_id=e.id, term=e.term, category=e.category, explanation=explanation,
                 source=e.source, option_term_ids=())
    return CalcItem(q, tuple(values), name, dict(calc.inputs))


def make_calc(count: int = 10, *, seed: int = 0, entries=None, names=None) -> list[Question]:
    """`count` calculation questions cycling through the templates (`names`, default all) in a seeded order."""
    if count < 1:
        raise FintermError(f"n of {count} is too small; ask for 1 question or more")
    names = list(names or TEMPLATES)
    random.Random(seed).shuffle(names)
    return [calc_item(names[k % len(names)], seed * 1000 + k, entries, qid=f"c{seed}-{k + 1}").question
            for k in range(count)]
