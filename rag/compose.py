"""Which definition sentences answer a question: every sentence of the top entries, scored.

A sentence's score adds up what a reader would look for (weights chosen on the tuning half of
bench/data/answers.jsonl with bench/answers.py):
- lexical: the IDF-weighted share of the question's morphemes (Kiwi) found in the sentence or the
  name of its entry ("성장주 주가" finds 성장주's sentence about 주가);
- cue: the sentence has the shape the intent asks for (a formula for how, 때문/위해 for why, an
  institution for who, a date or deadline for when, 예를 들어 for example, a "…면" consequence for effect,
  관계 for relation);
- direction: for effect questions, the sentence moves the question's noun the same way ("환율이
  오르면" is answered by "환율이 올라 …", never by 평가절상's "환율이 떨어져 …");
- dense: e5 cosine of question and sentence (vectors cached in the home's vector cache);
- prior: the entry's retrieval score, and a bonus for an entry the conversation is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from finterm.index.morph import sentences, tokens
from finterm.rag.direction import direction_claims
from finterm.rag.retrieve import Hit

CUES = {
    "effect": re.compile(r"\S(으)?면[ ,]|\S수록|영향을|이어지|이어져|결과"),
    "how": re.compile(r"=|÷|×|계산|구하|구한|나누어|나눈|뺀|빼서|더한|더해|곱해|곱한|합으로|결정하|결정한|"
                      r"정한다|정하는|정해|측정|대안|수단"),
    "why": re.compile(r"때문|위해|위한|목적|므로|이유|려는|려고|막기|막으려|생기며|생긴다|나타나며|"
                      r"도록\s*(해|하|한|만든)|유인|원인|배경|계기|확산되|(으)?로\s*인해"),
    "who": re.compile(r"한국은행|국가데이터처|통계청|위원회|공사|거래소|금융결제원|국세청|기획재정부|재정경제부|연준|"
                      r"정부가|회사가|기관이|이코노미스트|발표|작성|운영|발행|관리|보증|조사|설립|주도|사무국|본부|세워|"
                     r"학자|처음\s*(쓴|썼|제시|사용)|제안|고안|주장|창시|이름을\s*땄"),
    "when": re.compile(r"\d{2,4}년|\d+월|\d+일|\d+세기|년대|시한|기한|마감|당시|무렵|이후|이전|부터|까지|"
                       r"매(월|년|분기|주)|분기마다|해마다|처음"),
    # A number with its unit, or a multiple in words ("30%", "5,000만 원", "두 배").
    "amount": re.compile(r"\d[\d,.]*\s*(%|퍼센트|배|원|달러|억|조|만|천|년|개월|일|세|명|개|곳|bp)|절반|"
                         r"(두|세|네|다섯)\s*배"),
    "example": re.compile(r"예를 들어|예컨대|예이다|예다|예로|사례|대표적|들 수 있|예이며|"
                         r"\S+, \S+.{0,40}등(이|을|에|도)\s*(있|해당|꼽|포함|속)"),
    "relation": re.compile(r"관계|\S수록|반대로 움직|비례|역의|음\(|양\(|함께 움직|같아진|대응|면적|구분된다|다르다"),
}
# Question words that only name the kind of answer wanted; they are not looked for in definitions.
_ASKING = frozenset("영향 계산 공식 구하 방법 이유 예시 사례 관계 기관 어디 누구 누가 측정 정하 결정 생기 좋 대안 "
                    "정책 경우 바로".split())


# Related entries added as candidates (with_related): of the first RELATED_FROM hits, at most RELATED_MAX,
# each with RELATED_PRIOR times its parent's retrieval score as its prior.
RELATED_FROM, RELATED_MAX, RELATED_PRIOR = 2, 6, 0.5


def with_related(retriever, hits: list[Hit]) -> list[Hit]:
    """`hits`, then the related entries of the first hits that are not among them (match "related").

    For relation questions the law or curve that links two named things is often not what retrieval
    puts first ("보완재의 교차탄력성"); its related entries bring it into the candidate sentences.
    """
    from finterm.index.normalize import norm_key

    keys = getattr(retriever, "keys", {})
    seen = {h.entry.id for h in hits}
    out = list(hits)
    for h in hits[:RELATED_FROM]:
        for rel in h.entry.related:
            for i in keys.get(norm_key(rel), [])[:1]:
                e = retriever.entries[i]
                if e.id not in seen and len(out) < len(hits) + RELATED_MAX:
                    seen.add(e.id)
                    out.append(Hit(e, RELATED_PRIOR * max(0.0, h.score), "related"))
    return out


@dataclass(frozen=True)
class Weights:
    lexical: float = 1.0
    cue: float = 0.6
    direction: float = 0.6
    dense: float = 0.4
    prior: float = 0.5
    carried: float = 0.4
    named: float = 0.6  # the entry the question names ("기준금리를 올리면…" is about 기준금리, not 금리)
    formula: float = 0.6  # a formula answers "how" better than a sentence that only says "계산한다"
    first: float = 0.15  # a small preference for earlier sentences, which carry the core facts


@dataclass(frozen=True)
class Scored:
    """One definition sentence with its score; `rank` is its entry's place in the hits, `pos` its own."""

    rank: int
    pos: int
    text: str
    score: float


@lru_cache(maxsize=4096)
def entry_sentences(definition: str) -> tuple[str, ...]:
    """The sentences of a definition, as Kiwi splits them (each is a verbatim piece of it)."""
    return tuple(s for s in sentences(definition) if s in definition)


@lru_cache(maxsize=4096)
def _claims(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(direction_claims(text))


def _same(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 2 and (a in b or b in a))


def direction_fit(question_claims, sentence: str) -> float:
    """+1 when the sentence moves a noun of the question the same way, -1 when only the other way."""
    said = _claims(sentence)
    agree = any(_same(n, m) and d == e for n, d in question_claims for m, e in said)
    oppose = any(_same(n, m) and d != e for n, d in question_claims for m, e in said)
    return 1.0 if agree else -1.0 if oppose else 0.0


class SentenceScorer:
    """Scores the sentences of a result's top entries for one question and intent."""

    def __init__(self, retriever, *, weights: Weights | None = None, dense: bool = True) -> None:
        self.retriever = retriever
        self.weights = weights or Weights()
        self.dense = dense

    def _idf(self, tok: str) -> float:
        import math

        r = self.retriever
        n, df = len(r.entries), r.df.get(tok, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def question_tokens(self, question: str) -> list[str]:
        return [t for t in dict.fromkeys(tokens(question)) if t not in _ASKING]

    def lexical(self, qtoks: list[str], text: str, name: str) -> float:
        if not qtoks:
            return 0.0
        seen = set(tokens(text)) | set(tokens(name))
        total = sum(self._idf(t) for t in qtoks)
        return sum(self._idf(t) for t in qtoks if t in seen) / total if total else 0.0

    def _cosines(self, question: str, texts: list[str]) -> list[float]:
        """e5 cosine of the question and each text; sentence vectors are kept in the vector cache."""
        if not self.dense or not texts:
            return [0.0] * len(texts)
        try:
            from finterm.index.embed import untuned_embedder

            # A tuned variant's sentence cosines lowered the tuning half; the weights assume the original's.
            emb = untuned_embedder(self.retriever)
        except Exception:  # noqa: BLE001 - no embedder here (a lexical-only index): dense is skipped
            return [0.0] * len(texts)
        qv = _query_vector(emb, question)
        vecs = _sentence_vectors(emb, tuple(texts))
        return [float(v @ qv) for v in vecs]

    def score(self, question: str, intent: str, hits: list[Hit], *, carried: frozenset[str] = frozenset(),
              max_entries: int = 5) -> list[Scored]:
        """Every sentence of the first `max_entries` hits, best first."""
        w = self.weights
        qtoks = self.question_tokens(question)
        qclaims = _claims(question) if intent in ("effect", "define", "cannot") else frozenset()
        cue = CUES.get(intent)
        named = named_entries(question, hits[:max_entries])
        rows = []
        for rank, h in enumerate(hits[:max_entries]):
            for pos, s in enumerate(entry_sentences(h.entry.definition)):
                base = (w.lexical * self.lexical(qtoks, s, h.entry.term)
                        + (w.cue if cue is not None and cue.search(s) else 0.0)
                        + (w.formula if intent in FORMULA_INTENTS and _FORMULA.search(s) else 0.0)
                        + (w.named if h.entry.id in named and (rank == 0 or h.match != "fused") else 0.0)
                        + w.direction * direction_fit(qclaims, s)
                        + w.prior * max(0.0, h.score)
                        + (w.carried if h.entry.term in carried else 0.0)
                        + w.first / (1 + pos))
                rows.append([rank, pos, s, base])
        if w.dense and rows:
            # Only the leading candidates pay for a sentence vector.
            rows.sort(key=lambda r: -r[3])
            lead = rows[:8]
            cos = self._cosines(question, [r[2] for r in lead])
            lo, hi = min(cos), max(cos)
            for r, c in zip(lead, cos, strict=True):
                r[3] += w.dense * ((c - lo) / (hi - lo) if hi > lo else 0.0)
        rows.sort(key=lambda r: -r[3])
        return [Scored(r[0], r[1], r[2], r[3]) for r in rows]


_FORMULA = re.compile(r"=|÷|×")
# A formula answers "how" and states a relation between quantities exactly ("명목이자율 ≈ 실질이자율 + …").
FORMULA_INTENTS = frozenset({"how", "relation"})
# A sentence that leans on the one before it ("이 때문에 수요곡선은 우하향한다") is shown after it.
LEANS_BACK = re.compile(r"^(이\s*때문에|이처럼|이에\s*따라|따라서|그래서|그러므로|즉|이런\s*이유로)")


def named_entries(question: str, hits: list[Hit]) -> set[str]:
    """Ids of the hits whose name the question contains (the longest names only: 기준금리, not 금리)."""
    from finterm.index.normalize import name_keys, norm_key
    from finterm.rag.query import contained_keys, word_starts

    keys: dict[str, list[str]] = {}
    for h in hits:
        for name in h.entry.names:
            for key in name_keys(name):
                keys.setdefault(key, []).append(h.entry.id)
    found = contained_keys(norm_key(question), keys, word_starts(question))
    return {i for key in found for i in keys[key]}


@lru_cache(maxsize=256)
def _query_vector(emb, question: str):
    return emb.embed_queries([question])[0]


_VECTORS: dict[tuple[str, str], object] = {}


def _sentence_vectors(emb, texts: tuple[str, ...]):
    """Passage vectors of `texts`: from memory, else the home's vector cache, else embedded now."""
    missing = [t for t in texts if (emb.spec, t) not in _VECTORS]
    if missing:
        from finterm.home import vector_cache_path
        from finterm.index.embed import VectorCache

        try:
            cache = VectorCache(vector_cache_path())
        except Exception:  # noqa: BLE001 - an unwritable home: embed without keeping the vectors
            cache = VectorCache(None)
        try:
            vecs, _ = cache.embed(emb, missing)
        finally:
            cache.close()
        for t, v in zip(missing, vecs, strict=True):
            _VECTORS[(emb.spec, t)] = v
    return [_VECTORS[(emb.spec, t)] for t in texts]
