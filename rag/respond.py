"""The extractive answer to one question: the definition sentences that answer its intent, cited.

    answer = respond(retriever, result, intent_of(question), question=question)

- define: today's shape ("기준금리: s1 [1] s2 [1] s3 [1]"); a description whose two best entries are
  close says so and gives both ("이 설명에 가장 가까운 용어는 유동성 함정입니다: … [1]  구축효과일 수도
  있습니다: … [2]");
- effect, how, why, who, example, relation: the best-scoring sentence of the top entries first, then the
  defining sentence of its entry for context (finterm.rag.compose scores them);
- difference: both entries, each with its defining sentences;
- cannot (시세, 전망, 추천): one Korean sentence saying a glossary cannot know that, then the definition.

Every sentence is a verbatim sentence of the definition it cites; the only other words are the framing
lines in `FRAMES` (tests/test_answers.py checks this on the whole labelled set).
"""

from __future__ import annotations

import dataclasses
import re

from finterm.index.normalize import norm_key, to_jamo
from finterm.rag.answer import Answer, Citation, NextStep, Sentence, not_found
from finterm.rag.compose import (
    CUES,
    FORMULA_INTENTS,
    LEANS_BACK,
    SentenceScorer,
    entry_sentences,
    named_entries,
    with_related,
)
from finterm.rag.intent import Intent
from finterm.rag.retrieve import Hit, SearchResult

NOTICES = {
    "price": "용어집에는 실시간 시세나 현재 수치가 없어 지금 값은 알려 드릴 수 없습니다.",
    "forecast": "용어집은 앞으로의 가격이나 정책을 예측하지 않아 전망은 알려 드릴 수 없습니다.",
    "advice": "용어집은 개인 상황에 맞춘 투자 추천이나 조언을 할 수 없습니다.",
}
INSTEAD = "용어의 뜻은 이렇습니다."
CLOSEST = "이 설명에 가장 가까운 용어는 {a}입니다:"
MAYBE = "{b}일 수도 있습니다:"
# The framing an answer may carry besides cited definition sentences (a "term:" label is framing too).
FRAMES = (*NOTICES.values(), INSTEAD, CLOSEST, MAYBE)

# Confidence in words from the chance that the leading entry is right (see `confidence`). Checked with
# `bench/answers.py --calibrate --every 3` on the tuning sets (answers.jsonl tuning half, calibration.jsonl,
# natural_tuning, describe_tuning; 221 answered questions, full 2,657-entry default index, 2026-12-02):
# 높음 (>= 0.8) had the leading entry right 144/152 = 0.95, 보통 46/57 = 0.81, 낮음 (< 0.5) 5/12 = 0.42.
# 높음 >= 0.90 and 낮음 < 0.50 hold with all three words in use, so the thresholds stay; the bench's
# cumulative fit (lowest value whose whole tail is right >= 90%) would put HIGH at 0.48 and leave 보통 empty.
HIGH, LOW = 0.8, 0.5
# Two entries are "close" when their scores differ by less than this (in SentenceScorer units).
CLOSE_MARGIN = 0.25
_FORMULA = re.compile(r"=|÷")
# Intents whose candidate sentences include the top hits' related entries (chosen on the tuning half).
WIDEN = frozenset({"relation", "effect"})


def has_final(word: str) -> bool:
    """Whether the last syllable has a final consonant (기준금리 no, 환율 yes); Latin/digits: no."""
    last = word.strip()[-1:] or "가"
    if not "가" <= last <= "힣":
        return False
    return len(to_jamo(last)) == 3


def josa(word: str, with_final: str, without: str) -> str:
    return word + (with_final if has_final(word) else without)


def _block(term: str, lines: list[str], n: int, label: bool = True) -> str:
    body = " ".join(f"{s} [{n}]" for s in lines)
    return f"{term}: {body}" if label else body


def _head(entry, count: int, max_chars: int = 420) -> list[str]:
    out: list[str] = []
    for s in entry_sentences(entry.definition):
        if out and (len(out) >= count or sum(map(len, out)) + len(s) > max_chars):
            break
        out.append(s)
    return out or [entry.definition]


def _defining(entry) -> str:
    key = entry.defining_sentence()
    return next((s for s in entry_sentences(entry.definition) if s in key or key in s), _head(entry, 1)[0])


def confidence(hits: list[Hit], margin: float, result: SearchResult) -> float:
    """Chance that the leading entry is the one asked about: 1 for a name match, else from the score gap.

    The steps were read off the tuning questions (bench/answers.py --calibrate): with a gap of 0.5 or more
    the first entry was right about 9 times in 10, under 0.25 about half the time.
    """
    if hits[0].match in ("exact", "typo") or len(hits) == 1:
        return 1.0 if hits[0].match == "exact" else 0.9
    if hits[0].match == "name":
        return 0.9
    p = 0.45 + 0.9 * max(0.0, margin)
    return max(0.05, min(0.95, p * min(1.0, result.confidence / 0.9)))


def label_of(p: float) -> str:
    return "높음" if p >= HIGH else "보통" if p >= LOW else "낮음"


class _Builder:
    """Blocks of cited sentences, numbering entries in the order they are first cited."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.sentences: list[Sentence] = []
        self.cited: list[Hit] = []

    def n(self, hit: Hit) -> int:
        if hit.entry.id not in [h.entry.id for h in self.cited]:
            self.cited.append(hit)
        return [h.entry.id for h in self.cited].index(hit.entry.id) + 1

    def add(self, hit: Hit, lines: list[str], prefix: str | None = None, label: bool = True) -> None:
        n = self.n(hit)
        lines = list(dict.fromkeys(lines))
        text = _block(hit.entry.term, lines, n, label)
        self.parts.append(f"{prefix} {text}" if prefix else text)
        self.sentences.extend(Sentence(s, 1.0, (n,)) for s in lines)

    def answer(self, result: SearchResult, intent: str, **extra) -> Answer:
        citations = tuple(Citation(n, h.entry.id, h.entry.term, h.entry.source) for n, h in enumerate(self.cited, 1))
        shown = {h.entry.id for h in result.hits}  # a cited related entry gets its source card too
        hits = (*result.hits, *(h for h in self.cited if h.entry.id not in shown))
        return Answer(question=result.query, text="\n\n".join(self.parts), abstained=False, citations=citations,
                      generator="extractive", hits=hits, suggestions=result.suggestions,
                      sentences=tuple(self.sentences), corrected_from=result.corrected_from, intent=intent, **extra)


def respond(retriever, result: SearchResult, intent: Intent, *, question: str | None = None,
            carried: frozenset[str] = frozenset(), note: str | None = None,
            scorer: SentenceScorer | None = None) -> Answer:
    """The extractive answer to `question` (default: the result's query) for `intent`."""
    question = question or result.query
    notice = NOTICES.get(intent.cannot or "")
    if result.abstained or not result.hits:
        a = not_found(result, "extractive")
        text = f"{notice} {a.text}" if notice else a.text
        return dataclasses.replace(a, text=text, intent=intent.name, note=note, notice=notice)
    scorer = scorer or SentenceScorer(retriever)
    hits = list(result.hits)
    b = _Builder()
    other: Hit | None = None  # a close neighbour worth a "difference" button
    p = 1.0
    if intent.name == "cannot":
        b.parts.append(f"{notice} {INSTEAD}")
        # The entry the question names, when retrieval put a longer neighbour first ("코스닥 지수 지금
        # 몇이야" is about 코스닥, not 코스닥150; "스테이블코인 투자 추천" not about 원화 스테이블코인).
        named = named_entries(question, hits)
        lead = next((h for h in hits if h.entry.id in named), hits[0])
        hits = [lead, *(h for h in hits if h is not lead)]
        b.add(lead, _head(lead.entry, 2))
        p = confidence(hits, 1.0, result)
    elif intent.name == "difference" and len(hits) > 1:
        for h, o in ((hits[0], hits[1]), (hits[1], hits[0])):
            b.add(h, _contrast(h.entry, o.entry))
    elif intent.name == "define":
        ranked, margin = _rerank(scorer, question, hits, carried)
        p = confidence(ranked, margin, result)
        first = ranked[0]
        second = ranked[1] if len(ranked) > 1 else None
        # Close: the sentences put another entry first than retrieval did, or the two are near in score.
        moved = first is not hits[0]
        if first.match == "fused" and second is not None and (moved or margin < CLOSE_MARGIN):
            p = min(p, 0.6)
            b.add(first, _head(first.entry, 2), prefix=CLOSEST.format(a=first.entry.term), label=False)
            b.add(second, _head(second.entry, 1), prefix=MAYBE.format(b=second.entry.term), label=False)
            other = second
        else:
            b.add(first, _head(first.entry, 3))
            other = second if second is not None and first.match != "exact" and margin < 2 * CLOSE_MARGIN else None
    else:
        if intent.name in WIDEN:  # the linking entry is often a related entry of the first hits
            hits = with_related(retriever, hits)
        scored = scorer.score(question, intent.name, hits, carried=carried, max_entries=len(hits))
        best = scored[0]
        main = hits[best.rank]
        sents = entry_sentences(main.entry.definition)
        lines = [best.text]
        if LEANS_BACK.search(best.text) and best.pos > 0:  # "이 때문에 …": the reason is the sentence before
            lines.insert(0, sents[best.pos - 1])
        same = [s for s in scored[1:] if s.rank == best.rank]
        if best.pos == 0:  # the defining sentence is context: the answer is the best sentence of the asked shape
            same = sorted(same, key=lambda s: not _has_shape(intent.name, s.text, question))
        cue = CUES.get(intent.name)
        # A second answering sentence of the same entry when it is nearly as good ("…때문이다" after the fact),
        # or whenever the best one is only the defining sentence and the next has the intent's shape
        # (피셔 방정식's definition, then its formula "명목이자율 ≈ 실질이자율 + 기대인플레이션율").
        if (same and (same[0].score >= 0.85 * best.score or best.pos == 0)
                and _has_shape(intent.name, same[0].text, question)):
            lines.append(same[0].text)
            # After a defining sentence, a second sentence of the asked shape too (a reason and its cause).
            if best.pos == 0 and len(same) > 1 and _has_shape(intent.name, same[1].text, question):
                lines.append(same[1].text)
        defining = _defining(main.entry)
        if defining not in lines:
            lines.append(defining)
        b.add(main, lines)
        rival = next((s for s in scored[1:] if s.rank != best.rank), None)
        if rival is not None and rival.score >= 0.9 * best.score and cue is not None and cue.search(rival.text):
            b.add(hits[rival.rank], [rival.text])
        if intent.name == "relation":  # "A와 B의 관계": each named side gets its own best sentence, cited
            _add_named_sides(b, question, hits, scored)
        by_entry = {}
        for s in scored:
            by_entry.setdefault(s.rank, s.score)
        gap = best.score - max((v for r, v in by_entry.items() if r != best.rank), default=0.0)
        p = confidence([main, *[h for h in hits if h is not main]], gap, result)
    steps = next_steps(retriever, b.cited[0], b.cited, other, {s.text for s in b.sentences})
    return b.answer(result, intent.name, confidence=p, confidence_label=label_of(p), note=note,
                    notice=notice, next_steps=steps)


# "기준금리는 어떻게 정해져?" asks what it follows, not for a formula: a sentence saying what it goes by
# ("…에 따라") or which way it is moved when ("물가가 높으면 올리고 경기가 부진하면 내리는") answers it.
_ASKS_RULE = re.compile(r"정해|정하|결정")
_ASKS_CONSEQUENCE = re.compile(r"\S(으)?면\s")
_RULE = re.compile(r"에\s*따라|(으)?면\s+\S*(오르|올리|올린|내리|내린|떨어|늘|줄)")


def _has_shape(intent: str, text: str, question: str = "") -> bool:
    """The sentence has the shape the intent asks for: its cue, or a formula for how/relation, or for
    "how is it decided" a rule it goes by."""
    cue = CUES.get(intent)
    if intent == "how" and _ASKS_RULE.search(question) and _RULE.search(text):
        return True
    # "금리가 오르면 왜 주가가 떨어져?" asks why a consequence follows: the mechanism is a chain of
    # consequences ("금리가 오르면 할인율이 커져 …"), which has the effect shape rather than 때문.
    if intent == "why" and _ASKS_CONSEQUENCE.search(question) and CUES["effect"].search(text):
        return True
    return bool(cue is not None and cue.search(text)) or (intent in FORMULA_INTENTS and bool(_FORMULA.search(text)))


def _add_named_sides(b, question: str, hits: list[Hit], scored, most: int = 2) -> None:
    """The best sentence of each entry the question names that the answer does not cite yet (at most `most`).

    "대체재 사이의 교차탄력성 관계" is answered by 교차탄력성's sentence about signs and by 대체재's
    sentence saying its cross elasticity is positive; a reader wants both sides of a relation, cited.
    """
    named = named_entries(question, hits)
    cited = {h.entry.id for h in b.cited}
    added = 0
    for s in scored:
        h = hits[s.rank]
        if added < most and h.entry.id in named and h.entry.id not in cited:
            b.add(h, [s.text])
            cited.add(h.entry.id)
            added += 1


def _contrast(entry, other) -> list[str]:
    """An entry's first two sentences, and the one naming the other term if there is one ("…와 대비된다")."""
    lines = _head(entry, 2)
    for s in entry_sentences(entry.definition):
        if s not in lines and any(n in s for n in other.names):
            lines.append(s)
            break
    return lines


def _rerank(scorer: SentenceScorer, question: str, hits: list[Hit], carried) -> tuple[list[Hit], float]:
    """Hits reordered by their best sentence when no name decided the first one; and the score gap."""
    if hits[0].match != "fused" or len(hits) == 1:
        gap = 1.0 if hits[0].match == "exact" else hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)
        return hits, gap
    scored = scorer.score(question, "define", hits, carried=carried)
    best: dict[int, float] = {}
    for s in scored:
        best.setdefault(s.rank, s.score)
    order = sorted(best, key=lambda r: -best[r])
    ranked = [hits[r] for r in order] + [h for i, h in enumerate(hits) if i not in best]
    gap = best[order[0]] - (best[order[1]] if len(order) > 1 else 0.0)
    return ranked, gap


def next_steps(retriever, main: Hit, cited: list[Hit], other: Hit | None, shown: set[str]) -> tuple[NextStep, ...]:
    """Up to three follow-ups the glossary can answer: a close neighbour's difference, a related term,
    an example or the formula of the main entry when its definition has one that was not shown."""
    term = main.entry.term
    out: list[NextStep] = []
    if other is not None:
        o = other.entry.term
        out.append(NextStep(f"{josa(o, '과', '와')}의 차이", f"{josa(term, '과', '와')} {o}의 차이는?"))
    names = {c.entry.term for c in cited} | ({other.entry.term} if other else set())
    keys = getattr(retriever, "keys", {})
    for rel in main.entry.related:
        if rel not in names and norm_key(rel) in keys:
            out.append(NextStep(f"{josa(rel, '이란', '란')}?", f"{josa(rel, '이', '가')} 뭐야?"))
            break
    sents = entry_sentences(main.entry.definition)
    if any(CUES["example"].search(s) and s not in shown for s in sents):
        out.append(NextStep(f"{term}의 예", f"{term}의 예를 들어줘"))
    elif any(_FORMULA.search(s) and s not in shown for s in sents):
        out.append(NextStep(f"{term} 계산 방법", f"{josa(term, '은', '는')} 어떻게 계산해?"))
    return tuple(out[:3])
