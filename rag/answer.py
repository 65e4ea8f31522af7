"""Answers with numbered citations: the extractive generator (default) and the shared Answer shape.

The extractive answer is made of the retrieved definitions' own sentences, so it is grounded by
construction; every sentence carries the number of the definition it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finterm.index.morph import sentences
from finterm.rag.retrieve import Hit, SearchResult

NOT_FOUND = "용어집에서 이 질문에 맞는 정의를 찾지 못했습니다 (not in the glossary)."
RELATED_RATIO = 0.85  # another hit is worth a line if its score is this close to the best one


@dataclass(frozen=True)
class Citation:
    n: int
    id: str
    term: str
    source: str

    def to_json(self) -> dict:
        return {"n": self.n, "id": self.id, "term": self.term, "source": self.source}


@dataclass(frozen=True)
class Sentence:
    text: str
    support: float
    citations: tuple[int, ...]

    def to_json(self) -> dict:
        return {"text": self.text, "support": round(self.support, 3), "citations": list(self.citations)}


@dataclass(frozen=True)
class NextStep:
    """A follow-up the glossary can answer: a button label and the question it asks."""

    label: str
    question: str

    def to_json(self) -> dict:
        return {"label": self.label, "question": self.question}


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    generator: str
    hits: tuple[Hit, ...] = ()
    suggestions: tuple[str, ...] = ()
    sentences: tuple[Sentence, ...] = ()
    model: dict | None = field(default=None, compare=False)
    streamed: bool = field(default=False, compare=False)  # the text was already shown as it was generated
    partial: bool = False  # the generation stopped midway (a server stream cut): the text is incomplete
    corrected_from: str | None = None  # the question as typed, when a misspelt name in it was corrected
    intent: str = ""  # what the question asks for (finterm.rag.intent), "" when not read
    # Calibrated chance that the leading entry is the one asked about, and the same in words (높음/보통/낮음).
    confidence: float | None = None
    confidence_label: str = ""
    note: str | None = None  # what was assumed from earlier turns ("이전 질문의 '기준금리'에 대해 답합니다")
    notice: str | None = None  # why part of the question cannot be answered from a glossary (시세, 전망, 추천)
    next_steps: tuple[NextStep, ...] = ()
    asked: str | None = None  # the question as typed, when retrieval saw a resolved follow-up instead

    def to_json(self) -> dict:
        d = {"question": self.question, "answer": self.text, "abstained": self.abstained,
             "citations": [c.to_json() for c in self.citations], "generator": self.generator,
             "suggestions": list(self.suggestions),
             "sentences": [s.to_json() for s in self.sentences]}
        if self.model is not None:
            d["model"] = self.model
        if self.partial:
            d["partial"] = True
        if self.corrected_from is not None:
            d["corrected_from"] = self.corrected_from
        if self.intent:
            d["intent"] = self.intent
        if self.confidence is not None:
            d["confidence"] = {"label": self.confidence_label, "value": round(self.confidence, 3)}
        for key in ("note", "notice", "asked"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        d["next_steps"] = [n.to_json() for n in self.next_steps]
        d["terms"] = [c.term for c in self.citations]
        return d


def not_found(result: SearchResult, generator: str) -> Answer:
    text = NOT_FOUND
    if result.suggestions:
        text += " 혹시 이 용어인가요? " + ", ".join(result.suggestions)
    return Answer(question=result.query, text=text, abstained=True, citations=(), generator=generator,
                  suggestions=result.suggestions, corrected_from=result.corrected_from)


def _head(definition: str, max_sentences: int, max_chars: int = 420) -> list[str]:
    out: list[str] = []
    for s in sentences(definition):
        if out and (len(out) >= max_sentences or sum(map(len, out)) + len(s) > max_chars):
            break
        out.append(s)
    return out


def extractive_answer(result: SearchResult) -> Answer:
    """Compose an answer from the best definitions' own sentences, each cited as [n]."""
    if result.abstained or not result.hits:
        return not_found(result, "extractive")
    hits = list(result.hits)
    main = hits[:2] if result.difference and len(hits) > 1 else hits[:1]
    best = hits[0].score
    extra = [h for h in hits[len(main):3] if h.match != "exact" and h.score >= RELATED_RATIO * best
             and hits[0].match != "exact"]
    used = main + extra
    parts, sents = [], []
    for n, h in enumerate(used, 1):
        lines = _head(h.entry.definition, 3 if h in main else 1)
        if h not in main:
            lines = [f"비슷한 용어로 {h.entry.term}도 있다. " + lines[0]] if lines else []
        block = " ".join(f"{s} [{n}]" for s in lines)
        parts.append(f"{h.entry.term}: {block}" if h in main else block)
        sents.extend(Sentence(s, 1.0, (n,)) for s in lines)
    citations = tuple(Citation(n, h.entry.id, h.entry.term, h.entry.source) for n, h in enumerate(used, 1))
    return Answer(question=result.query, text="\n\n".join(parts), abstained=False, citations=citations,
                  generator="extractive", hits=result.hits, suggestions=result.suggestions,
                  sentences=tuple(sents), corrected_from=result.corrected_from)
