"""Grade a student's answer against the glossary definition it should match.

The reference comes from an exact name/alias lookup (`--term`) or from retrieval (`--question`).
Each candidate definition gets a fit score in 0..1: embedding similarity between the answer and
the definition's core (first two sentences, names masked out, both sides embedded alike) mixed
with coverage of the definition's key concepts (Kiwi morphemes weighted by IDF over the
glossary). The reference's nearest rivals are scored the same way; when the answer fits a
rival better (한계비용 answered with 평균비용's meaning, 디플레이션 with 인플레이션's) the score is
cut by the excess. Thresholds come from bench/data/check_labels.jsonl (bench/study.py).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.morph import STOP, kiwi, tokens
from finterm.index.normalize import name_keys, norm_key
from finterm.rag.query import EmptyQuery
from finterm.rag.quiz import head, mask_names, name_pattern

_CONCEPT_TAGS = {"NNG": "", "NNP": "", "SL": "", "SH": "", "XR": "", "VV": "다", "VA": "다"}
_GENERIC_DF = 0.25  # a morpheme in more than this share of entries is not a key concept
RIVALS = 5


@dataclass(frozen=True)
class CheckConfig:
    """Scoring settings, calibrated on bench/data/check_labels.jsonl by bench/study.py."""

    sim_lo: float = 0.80  # cosine at or below this counts as no similarity
    sim_hi: float = 0.94  # cosine at or above this counts as full similarity
    w_sim: float = 0.6  # weight of similarity against key-concept coverage
    rival_weight: float = 1.5  # how hard a better-fitting neighbour cuts the score
    rival_margin: float = 0.0  # a rival must beat the reference by more than this to count
    correct_at: float = 0.55
    partial_at: float = 0.3
    max_concepts: int = 8

    def __post_init__(self) -> None:
        if not 0 <= self.partial_at <= self.correct_at <= 1:
            raise ValueError(f"thresholds partial_at={self.partial_at}, correct_at={self.correct_at} must "
                             "satisfy 0 <= partial_at <= correct_at <= 1")
        if self.sim_hi <= self.sim_lo:
            raise ValueError(f"sim_hi={self.sim_hi} must be above sim_lo={self.sim_lo}")


@dataclass(frozen=True)
class Fit:
    """How well an answer fits one entry's definition."""

    entry: Entry
    cosine: float
    coverage: float
    missing: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class CheckResult:
    verdict: str  # "correct" | "partial" | "incorrect"
    score: float
    missing: tuple[str, ...]
    reference: Entry
    fit: Fit
    rival: Fit | None

    def to_json(self) -> dict:
        r = self.reference
        return {"verdict": self.verdict, "score": round(self.score, 3), "missing": list(self.missing),
                "reference": {"id": r.id, "term": r.term, "definition": r.definition, "source": r.source},
                "closer_to": self.rival.entry.term if self.rival and self.rival.score > self.fit.score else None}


class Checker:
    """Answer checking over one retriever's index (create once; caches definition vectors)."""

    def __init__(self, retriever, config: CheckConfig | None = None) -> None:
        self.r = retriever
        self.config = config or CheckConfig()
        self._vec: dict[str, np.ndarray] = {}
        self._concepts: dict[str, list[tuple[str, str, float]]] = {}
        self._pos = {e.id: i for i, e in enumerate(retriever.entries)}

    # -- reference --------------------------------------------------------------------------------
    def lookup(self, term: str) -> Entry:
        """The entry named `term` (by its term or an alias, spacing and case ignored)."""
        for key in sorted(name_keys(term), key=len, reverse=True):
            if key in self.r.keys:
                return self.r.entries[self.r.keys[key][0]]
        near = [self.r.entries[self.r.keys[k][0]].term for k, _ in self.r.typos.near(term)]
        hint = f"; did you mean {', '.join(dict.fromkeys(near))}?" if near else "; check the spelling"
        raise FintermError(f"no glossary entry is named {term!r}{hint}")

    def reference_for(self, question: str) -> Entry:
        """The best entry for `question` by retrieval, or an error when the glossary has none."""
        result = self.r.search(question, k=1)
        if result.abstained:
            hint = f" (closest: {', '.join(result.suggestions)})" if result.suggestions else ""
            raise FintermError(f"no glossary entry answers {question!r}{hint}; name the term with --term")
        return result.hits[0].entry

    # -- pieces ---------------------------------------------------------------------------------
    def core(self, e: Entry) -> str:
        return head(mask_names(e.definition, name_pattern(e.names), mask=""), sentences=2, min_chars=60,
                    max_chars=300)

    def _embed(self, texts: list[str]) -> np.ndarray:
        # Both sides as queries: a symmetric comparison of two short texts (E5's advice).
        return self.r.embedder.embed_queries(texts)

    def definition_vectors(self, entries: list[Entry]) -> np.ndarray:
        todo = [e for e in entries if e.id not in self._vec]
        if todo:
            for e, v in zip(todo, self._embed([self.core(e) for e in todo]), strict=True):
                self._vec[e.id] = v
        return np.vstack([self._vec[e.id] for e in entries])

    def concepts(self, e: Entry) -> list[tuple[str, str, float]]:
        """Key concepts of `e`'s core: (morpheme, display form, IDF weight), in text order."""
        if e.id not in self._concepts:
            own = set()
            for name in e.names:
                own.update(tokens(name, drop_stop=False))
            n = len(self.r.entries)
            found: dict[str, tuple[str, float]] = {}
            for tok in kiwi().tokenize(head(e.definition, sentences=2, min_chars=60, max_chars=300)):
                if tok.tag not in _CONCEPT_TAGS:
                    continue
                form = tok.form.casefold()
                df = self.r.df.get(form, 0)
                if form in own or form in STOP or len(form) < 2 and tok.tag != "SL" or df > _GENERIC_DF * n:
                    continue
                found.setdefault(form, (tok.form + _CONCEPT_TAGS[tok.tag], self.r._idf(form)))
            top = sorted(found, key=lambda f: -found[f][1])[: self.config.max_concepts]
            self._concepts[e.id] = [(f, *found[f]) for f in found if f in top]
        return self._concepts[e.id]

    def coverage(self, e: Entry, answer_tokens: set[str], answer_key: str) -> tuple[float, tuple[str, ...]]:
        """IDF-weighted share of `e`'s key concepts found in the answer, and the missing ones."""
        concepts = self.concepts(e)
        if not concepts:
            return 1.0, ()
        total = sum(w for _, _, w in concepts)
        hit = [c for c in concepts if c[0] in answer_tokens or c[0] in answer_key]
        got = sum(w for _, _, w in hit)
        missing = tuple(d for f, d, _ in sorted(concepts, key=lambda c: -c[2]) if (f, d) not in
                        {(h[0], h[1]) for h in hit})
        return got / total, missing

    def fit(self, e: Entry, cosine: float, answer_tokens: set[str], answer_key: str) -> Fit:
        c = self.config
        cov, missing = self.coverage(e, answer_tokens, answer_key)
        sim = min(1.0, max(0.0, (cosine - c.sim_lo) / (c.sim_hi - c.sim_lo)))
        return Fit(e, cosine, cov, missing, c.w_sim * sim + (1 - c.w_sim) * cov)

    def rivals(self, ref: Entry, answer_vec: np.ndarray) -> list[Entry]:
        """Entries the answer might really describe: nearest to it, without the reference's own names."""
        from finterm.index.store import search_vectors

        ref_keys = set().union(*(name_keys(n) for n in ref.names))
        _, ids = search_vectors(self.r.data.vectors, answer_vec, RIVALS + 3)
        # Plus the reference's own nearest neighbours: its classic confusions.
        i = self._pos[ref.id]
        ref_vec = self.r.data.vectors.reconstruct(i)
        _, near = search_vectors(self.r.data.vectors, ref_vec, RIVALS + 1)
        out = []
        for j in list(ids) + list(near):
            e = self.r.entries[int(j)]
            if j < 0 or e.id == ref.id or e in out:
                continue
            if ref_keys & set().union(*(name_keys(n) for n in e.names)):
                continue
            out.append(e)
        return out[: 2 * RIVALS]

    # -- the check --------------------------------------------------------------------------------
    def check(self, answer: str, *, term: str | None = None, question: str | None = None) -> CheckResult:
        """Grade `answer` against the entry named `term`, or the one retrieved for `question`."""
        if not (answer or "").strip():
            raise EmptyQuery("the answer is empty; write what the term means in your own words")
        if (term is None) == (question is None):
            raise FintermError("give exactly one of term or question to check an answer against")
        ref = self.lookup(term) if term is not None else self.reference_for(question)
        if question is not None:  # "…을 뭐라고 해?" may be answered with a bare name
            named = self.r.keys.get(norm_key(answer))
            if named:
                return self.named(ref, self.r.entries[named[0]])
        return self.grade(ref, answer)

    def named(self, ref: Entry, said: Entry) -> CheckResult:
        """The answer is a glossary name: right if it names `ref` (or an alias of it), else wrong."""
        right = bool(set().union(*(name_keys(n) for n in ref.names)) & set().union(*(name_keys(n) for n in said.names)))
        fit = Fit(ref, 1.0 if right else 0.0, 1.0 if right else 0.0, (), 1.0 if right else 0.0)
        rival = None if right else Fit(said, 1.0, 1.0, (), 1.0)
        return CheckResult("correct" if right else "incorrect", fit.score, (), ref, fit, rival)

    def grade(self, ref: Entry, answer: str) -> CheckResult:
        """Grade `answer` (a description) against entry `ref`."""
        c = self.config
        text = mask_names(answer, name_pattern(ref.names), mask="").strip() or answer
        qv = self.r.embedder.embed_queries([text])[0]
        rivals = self.rivals(ref, qv)
        cands = [ref, *rivals]
        cos = self.definition_vectors(cands) @ qv
        toks = set(tokens(text, drop_stop=False))
        key = norm_key(text)
        fits = [self.fit(e, float(s), toks, key) for e, s in zip(cands, cos, strict=True)]
        own, rival = fits[0], max(fits[1:], key=lambda f: f.score, default=None)
        score = own.score
        if rival is not None:
            score -= c.rival_weight * max(0.0, rival.score - own.score - c.rival_margin)
        score = min(1.0, max(0.0, score))
        verdict = "correct" if score >= c.correct_at else "partial" if score >= c.partial_at else "incorrect"
        return CheckResult(verdict, score, own.missing, ref, own, rival)


_CHECKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def checker_for(retriever, config: CheckConfig | None = None) -> Checker:
    """The Checker of a retriever (cached per retriever when using the default config)."""
    if config is not None:
        return Checker(retriever, config)
    if retriever not in _CHECKERS:
        _CHECKERS[retriever] = Checker(retriever)
    return _CHECKERS[retriever]


def check_answer(retriever, answer: str, *, term: str | None = None, question: str | None = None) -> CheckResult:
    """Grade `answer` (see `Checker.check`)."""
    return checker_for(retriever).check(answer, term=term, question=question)
