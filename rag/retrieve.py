"""Hybrid retrieval over one index: exact names, contained names, typos, BM25 and dense, fused.

An exact name ("GDP", "국내 총생산", "기준금리가 뭐야?") wins outright. Otherwise the ranked lists
are fused (weighted score fusion by default; RRF is kept for comparison, see bench/retrieval.py).
When nothing is close enough the result abstains and offers suggestions instead of hits.
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
from finterm.index.store import IndexData, load_index, rebuild_hint, search_vectors
from finterm.rag.direction import direction
from finterm.rag.query import (
    TypoIndex,
    clean_query,
    contained_keys,
    description_head,
    genus_endings,
    is_description,
    is_difference_question,
    question_core,
    word_starts,
)

POOL = 50  # candidates taken from each ranked list before fusion


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion settings; the defaults were chosen on bench/data/calibration.jsonl (bench/retrieval.py)."""

    fusion: str = "weighted"  # "weighted" | "rrf"
    w_dense: float = 1.0
    w_bm25: float = 0.6
    w_name: float = 0.7
    # Share of the question's morphemes found in an entry's defining sentence: descriptive
    # questions paraphrase that sentence ("유동자산을 유동부채로 나눈 비율" -> 유동비율).
    w_head: float = 0.6
    rrf_k: int = 20
    # A name that explains only part of a question is usually a mention, not the subject
    # ("유동자산을 유동부채로 나눈 비율" asks for 유동비율): its signal is coverage ** name_power.
    name_power: float = 1.0
    # In a description ("채권 발행자가 원리금을 갚지 못하는 상태") the names it contains are parts
    # of the description, so they get -mention_penalty unless they explain most of it.
    mention_penalty: float = 0.6
    # Bonus for entries whose name ends with the head noun of a description ("…약정한 거래" -> 선물거래).
    w_genus: float = 0.3
    # An entry whose defining sentence moves things only the other way than the question does loses
    # this: "소득이 늘면 수요가 줄어드는 재화" is 열등재, not 정상재 ("…늘어나면 수요도 늘어나는 재화").
    w_polarity: float = 0.3
    # Abstain when the logistic confidence is below this (see `_confidence`; 0.5 with balanced classes).
    abstain_below: float = 0.5
    modes: tuple[str, ...] = ("name", "bm25", "dense")

    def __post_init__(self) -> None:
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion {self.fusion!r} is unknown; use 'weighted' or 'rrf'")
        if not set(self.modes) <= {"name", "bm25", "dense"} or not self.modes:
            raise ValueError(f"modes {self.modes!r} must be a non-empty subset of name, bm25, dense")


# Logistic model of "the question is about this glossary", fitted by bench/calibrate.py on the
# tuning questions (bench/data/calibration.jsonl, describe_tuning.jsonl) against half of
# bench/data/offtopic.jsonl, on the bundled glossary and the BOK crawl together, classes weighted
# equally. Features: dense cosine of the best hit, the IDF-weighted share of the question's
# morphemes found in the best hits, and name coverage. Off-topic questions have e5 cosines nearly
# as high as on-topic ones (~0.8), so the cosine weight is large and the lexical share decides.
CONF_WEIGHTS = (-99.37, 113.42, 5.50, 8.29)  # bias, cosine, lexical share, name coverage


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

    # -- signals --------------------------------------------------------------------------------
    def _idf(self, tok: str) -> float:
        n = len(self.entries)
        return math.log(1 + (n - self.df.get(tok, 0) + 0.5) / (self.df.get(tok, 0) + 0.5))

    def lexical_share(self, qtoks: list[str], ids: list[int]) -> float:
        """IDF-weighted share of the query's morphemes that occur in any of the entries `ids`."""
        if not qtoks:
            return 0.0
        total = sum(self._idf(t) for t in qtoks)
        seen = set().union(*(self.token_sets[i] for i in ids)) if ids else set()
        return sum(self._idf(t) for t in qtoks if t in seen) / total if total else 0.0

    def _known_word(self, word: str) -> bool:
        """A name, or a word made of morphemes the glossary itself uses ("소득이" -> 소득, "외환거래"
        -> 외환 + 거래): spelt right, so never "corrected" (no 소득세 for 소득, no 외국환거래법 for 외환거래)."""
        from finterm.index.morph import tokens

        if norm_key(word) in self.keys:
            return True
        toks = tokens(word, drop_stop=False)
        return bool(toks) and all(t in self.df for t in toks)

    @staticmethod
    def _confidence(cosine: float, share: float, named: float) -> float:
        b, wc, ws, wn = CONF_WEIGHTS
        z = b + wc * cosine + ws * share + wn * named
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))

    def _name_signals(self, text: str, core: str, qkey: str, exact: list[int]):
        """Name evidence per entry: contained names (scaled by how much of the question they explain,
        negative inside a description), typo matches, and the typo match clear enough to go first."""
        cfg = self.config
        core_key = norm_key(core)
        name_scores: dict[int, float] = {}
        typo_terms: list[str] = []
        promoted: list[int] = []  # near-exact names: go first, like exact ones
        found = contained_keys(qkey, self.keys, word_starts(text))
        # How much of the question the names explain: "LTV 규제" 0.6, "A와 B의 차이" ~0.9.
        explained = min(1.0, sum(map(len, found)) / max(1, len(core_key)))
        signal = explained ** cfg.name_power
        if cfg.mention_penalty and explained < 0.8 and found and is_description(text):
            signal = -cfg.mention_penalty
        for key in found:
            for i in self.keys[key]:
                name_scores[i] = signal
        if not exact and len(core_key) <= 20:
            near = self.typos.near(core_key)
            for rank, (key, sim) in enumerate(near):
                for i in self.keys[key]:
                    if i in name_scores:
                        continue
                    name_scores[i] = sim - 0.1
                    typo_terms.append(self.entries[i].term)
                    # A clearly closest spelling ("인풀레이션" -> 인플레이션) is a lookup, not a hint.
                    clear = rank == 0 and (len(near) == 1 or near[1][1] < sim - 0.03)
                    if sim >= 0.85 and clear and not found:
                        promoted.append(i)

        fixes: list[tuple[str, str]] = []  # (misspelt word in the question, the name it clearly means)
        if not exact:  # a misspelt word inside a longer question is still worth a "did you mean"
            for word in core.split()[:12]:
                stem = question_core(word)
                if len(word) < 3 or len(core.split()) < 2 or self._known_word(stem):
                    continue
                latin = bool(_ENGLISH.fullmatch(stem))
                if latin and len(stem) < 5:  # "does" is not a misspelt DES: short English words are just words
                    continue
                near = [(key, sim) for key, sim in self.typos.near(stem) if sim >= 0.9 or not latin]
                if near and near[0][1] >= 0.8:
                    ids = self.keys[near[0][0]]
                    typo_terms += [self.entries[i].term for i in ids]
                    clear = len(ids) == 1 and (len(near) == 1 or near[1][1] < near[0][1] - 0.03)
                    if near[0][1] >= 0.85 and clear and stem in word:
                        fixes.append((stem, self.entries[ids[0]].term))
        return name_scores, typo_terms, promoted, explained, fixes

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, *, _corrected: bool = False) -> SearchResult:
        """The k best entries for `query`, or an abstention with suggestions.

        When the question holds a clearly misspelt name ("인풀레이션이 오면…"), or is an English name this
        glossary lacks ("stagflation"), the search is run once more with the name spelt right or in Korean;
        `corrected_from` then keeps the question as typed.
        """
        from finterm.index.morph import tokens

        if k < 1:
            raise FintermError(f"k of {k} is too small; use k >= 1")
        text, truncated = clean_query(query)
        cfg = self.config
        core = question_core(text)
        core_key = norm_key(core)
        qkey = norm_key(text)
        exact = [i for key in (core_key, qkey) for i in self.keys.get(key, [])]
        exact = list(dict.fromkeys(exact))

        name_scores, typo_terms, promoted, explained, fixes = ({}, [], [], 0.0, []) if "name" not in cfg.modes \
            else self._name_signals(text, core, qkey, exact)
        if fixes and not _corrected:
            # "인풀레이션이 오면 금리가 오르나요": ask again with the name spelt right, and say so; the question
            # as typed is searched only if the corrected one finds nothing.
            fixed = text
            for wrong, right in fixes:
                fixed = swap_word(fixed, wrong, right)
            again = self.search(fixed, k, _corrected=True)
            if not again.abstained:
                return dataclasses.replace(again, corrected_from=text)

        qtoks = tokens(text)
        bm25_scores = np.zeros(len(self.entries), dtype=np.float32)
        if "bm25" in cfg.modes and qtoks:
            bm25_scores = self.bm25.get_scores(qtoks).astype(np.float32)
        dense: dict[int, float] = {}
        if "dense" in cfg.modes:
            qv = self.embedder.embed_queries([text])[0]
            scores, ids = search_vectors(self.data.vectors, qv, POOL)
            dense = {int(i): float(s) for s, i in zip(scores, ids, strict=True) if i >= 0}

        fused = self._fuse(name_scores, bm25_scores, dense)
        genus = description_head(text) if cfg.w_genus else None
        if genus:
            # A kind of the head noun, not the head noun itself: "…위해 발행하는 채권" asks for 회사채.
            endings = genus_endings(genus)
            for i in fused:
                if any(k.endswith(endings) and k not in endings for k in map(norm_key, self.entries[i].names)):
                    fused[i] += cfg.w_genus
        if cfg.w_head and qtoks and cfg.fusion == "weighted":
            total = sum(self._idf(t) for t in qtoks)
            for i in fused:
                fused[i] += cfg.w_head * sum(self._idf(t) for t in qtoks if t in self.head_sets[i]) / total
        if cfg.w_polarity and "보다" not in text:  # "A가 B보다 높은" is "B가 A보다 낮은": leave comparisons alone
            asked = {direction(t) for t in qtoks} - {None}
            for i in fused if asked else ():
                said = {direction(t) for t in self.head_sets[i]} - {None}
                if said and not asked <= said:
                    fused[i] -= cfg.w_polarity
        order = sorted(fused, key=lambda i: -fused[i])
        if cfg.fusion == "weighted" and order:
            top = fused[order[0]]
            fused = {i: s / top for i, s in fused.items()} if top > 0 else fused
        hits = [Hit(self.entries[i], fused[i], "name" if name_scores.get(i, 0) >= 0.5 else "fused") for i in order]
        if exact or promoted:
            first = exact or promoted
            rest = [h for h in hits if self._pos[h.entry.id] not in first]
            ex = sorted(first, key=lambda i: -dense.get(i, 0.0))
            hits = [Hit(self.entries[i], 1.0, "exact" if exact else "typo") for i in ex] + rest
        difference = False
        # A comparison names its two terms and little else ("고정금리 변동금리 차이점"); "신용도가 다른
        # 두 채권의 금리 차이" mentions 채권 and 금리 but describes a third term.
        if is_difference_question(text) and explained >= 0.5:
            named = [h for h in hits if name_scores.get(self._pos[h.entry.id], 0) > 0]
            if len(named) >= 2:
                difference = True
                def position(h: Hit) -> int:  # keep the order the question names them in
                    found = [qkey.find(k) for n in h.entry.names for k in name_keys(n) if k in qkey]
                    return min(found, default=len(qkey))

                top_score = max(h.score for h in named[:2])
                pair = [Hit(h.entry, top_score, h.match) for h in sorted(named[:2], key=position)]
                hits = pair + [h for h in hits if h.entry.id not in {p.entry.id for p in pair}]

        top_ids = [self._pos[h.entry.id] for h in hits[:3]]
        cosine = max((dense.get(i, 0.0) for i in top_ids[:1]), default=0.0)
        share = self.lexical_share(qtoks, top_ids)
        named = max(0.0, name_scores.get(top_ids[0], 0.0)) if top_ids else 0.0
        confidence = 1.0 if exact or promoted else self._confidence(cosine, share, named)
        abstained = confidence < cfg.abstain_below or not hits
        suggestions = list(dict.fromkeys(typo_terms))
        if abstained and not _corrected:
            # "stagflation" on a Korean glossary without English names: the bundled glossary's English
            # names and abbreviations serve as a small dictionary (스태그플레이션), and the question is asked again.
            asked = norm_key(_EN_ASKING.sub("", text))  # "What is moral hazard?" -> moralhazard
            korean = next((english_names()[key] for key in (core_key, qkey, asked) if key in english_names()), None)
            if korean and norm_key(korean) not in (core_key, qkey):
                again = self.search(korean, k, _corrected=True)
                if not again.abstained:
                    return dataclasses.replace(again, corrected_from=text)
        if abstained and (share >= 0.5 or named > 0):  # near misses are worth offering; noise is not
            suggestions = list(dict.fromkeys(suggestions + [h.entry.term for h in hits[:3]]))[:5]
        return SearchResult(query=text, hits=() if abstained else tuple(hits[:k]), abstained=abstained,
                            suggestions=tuple(suggestions[:5]), truncated=truncated, confidence=confidence,
                            difference=difference and not abstained,
                            debug={"core": core, "cosine": cosine, "share": share, "named": named,
                                   "candidates": [h.entry.term for h in hits[:k]]})

    def _fuse(self, name: dict[int, float], bm25: np.ndarray, dense: dict[int, float]) -> dict[int, float]:
        cfg = self.config
        bm25_top = [int(i) for i in np.argsort(-bm25)[:POOL] if bm25[i] > 0]
        lists = {
            "name": sorted((i for i in name if name[i] > 0), key=lambda i: -name[i]),
            "bm25": bm25_top,
            "dense": sorted(dense, key=lambda i: -dense[i]),
        }
        weights = {"name": cfg.w_name, "bm25": cfg.w_bm25, "dense": cfg.w_dense}
        fused: dict[int, float] = {}
        if cfg.fusion == "rrf":
            for src, ids in lists.items():
                for rank, i in enumerate(ids):
                    fused[i] = fused.get(i, 0.0) + weights[src] / (cfg.rrf_k + rank + 1)
            return fused
        # Weighted: each signal scaled to [0, 1] within this query, then summed.
        bmax = float(bm25.max()) if len(bm25) else 0.0
        dvals = list(dense.values())
        dlo = min(dvals) if dvals else 0.0
        dhi = max(dvals) if dvals else 1.0
        for i in set().union(*lists.values(), name):
            s = cfg.w_name * name.get(i, 0.0)
            if bmax > 0:
                s += cfg.w_bm25 * float(bm25[i]) / bmax
            if i in dense and dhi > dlo:
                s += cfg.w_dense * (dense[i] - dlo) / (dhi - dlo)
            fused[i] = s
        return fused
