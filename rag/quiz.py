"""TESAT-style five-choice questions built from the glossary, with near-neighbour distractors.

Three kinds:
  definition_to_term  the definition with the term, its aliases and their spacing variants masked
                      out ("○○"); pick the term.
  term_to_definition  the term; pick its definition among neighbours' definitions.
  wrong_pair          five "term: definition" pairs of near neighbours; pick the one that is
                      wrong (its definition belongs to another term) — TESAT's "옳지 않은 것은?".

Distractors are the answer's nearest neighbours by the index's own passage vectors (same
category preferred), never an entry that shares a name or alias with the answer or with
another option, and no two options have the same normalised text. `difficulty` (0..1) slides
the window of candidates from farther neighbours (0) to the nearest ones (1). Everything is
deterministic for a given seed and index.
"""

from __future__ import annotations

import random
import re
import unicodedata
import weakref
from dataclasses import dataclass

import numpy as np

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.normalize import name_keys, norm_key

KINDS = ("definition_to_term", "term_to_definition", "wrong_pair")
MASK = "○○"
N_OPTIONS = 5
WINDOW = 7  # distractors are drawn from this many candidates around the difficulty's position
FAR_RANK = 48  # where the window starts at difficulty 0
SAME_CATEGORY_BONUS = 0.03  # cosine points: a same-category neighbour beats a slightly closer other one
DUPLICATE_COSINE = 0.985  # two entries this close are treated as the same concept, never as distractors
CIRCLED = "①②③④⑤"

_SEP = r"[\s\-_·・‧.,/]*"
_LATIN = re.compile(r"[0-9a-z]", re.IGNORECASE)
_EMPTY_PARENS = re.compile(r"\(\s*(?:○○[\s,·/]*)+\)|\[\s*(?:○○[\s,·/]*)+\]")
_MASK_RUN = re.compile(r"○○(?:[\s,·/]*○○)+")
_SENT_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Question:
    """One five-choice question; `answer` is the index (0..4) of the right option."""

    id: str
    kind: str
    prompt: str
    options: tuple[str, ...]
    answer: int
    term_id: str
    term: str
    category: str
    explanation: str
    source: str
    option_term_ids: tuple[str, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "prompt": self.prompt, "options": list(self.options),
                "answer": self.answer, "term_id": self.term_id, "term": self.term, "category": self.category,
                "explanation": self.explanation, "source": self.source,
                "option_term_ids": list(self.option_term_ids)}


def name_pattern(names) -> re.Pattern | None:
    """A regex matching any of `names` in running text, with or without spaces, hyphens or dots.

    Keys come from `name_keys`, so "국내총생산(GDP)" also masks "국내 총생산" and "gdp". Latin keys
    must stand alone ("MC" is not masked inside "MCI"); one-character keys are never masked.
    """
    keys = set()
    for n in names:
        keys |= name_keys(n)
    parts = []
    for key in sorted((k for k in keys if len(k) >= 2), key=len, reverse=True):
        body = _SEP.join(re.escape(ch) for ch in key)
        if _LATIN.match(key[0]):
            body = r"(?<![0-9A-Za-z])" + body
        if _LATIN.match(key[-1]):
            body += r"(?![A-Za-z])"
        parts.append(body)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def mask_names(text: str, pattern: re.Pattern | None, mask: str = MASK) -> str:
    """`text` with every match of `pattern` replaced by `mask`; emptied brackets are dropped."""
    text = unicodedata.normalize("NFKC", text)
    if pattern is None:
        return text
    text = pattern.sub(mask, text)
    text = _EMPTY_PARENS.sub("", text)
    text = _MASK_RUN.sub(mask, text)
    return re.sub(r"\s{2,}", " ", text).replace(" .", ".").strip()


def head(text: str, *, sentences: int = 1, min_chars: int = 30, max_chars: int = 200) -> str:
    """The first `sentences` sentences (more while shorter than `min_chars`), cut at `max_chars`."""
    parts = _SENT_END.split(text.strip())
    out = ""
    for n, s in enumerate(parts):
        if n >= sentences and len(out) >= min_chars:
            break
        out = f"{out} {s}".strip()
    if len(out) > max_chars:
        out = out[:max_chars - 1].rstrip() + "…"
    return out


def option_key(text: str) -> str:
    """What "the same option" means: equal after norm_key."""
    return norm_key(text)


class QuizBank:
    """Entries, their passage vectors and name keys, prepared once per loaded index."""

    def __init__(self, entries: list[Entry], vectors: np.ndarray) -> None:
        if len(entries) < N_OPTIONS:
            raise FintermError(f"the index has {len(entries)} entries; a five-choice quiz needs at least "
                               f"{N_OPTIONS}; index a larger glossary")
        self.entries = entries
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.keys = [set().union(*(name_keys(n) for n in e.names)) for e in entries]
        self.term_keys = [{k for k in name_keys(e.term) if len(k) >= 2} for e in entries]
        self.categories = sorted({e.category for e in entries if e.category})
        self._patterns: dict[int, re.Pattern | None] = {}
        self.pos = {e.id: i for i, e in enumerate(entries)}

    @classmethod
    def from_retriever(cls, retriever) -> QuizBank:
        """The bank of a Retriever (cached per retriever object)."""
        bank = _BANKS.get(retriever)
        if bank is None:
            bank = cls(retriever.entries, index_vectors(retriever.data.vectors))
            _BANKS[retriever] = bank
        return bank

    # -- text helpers -----------------------------------------------------------------------------
    def pattern(self, i: int) -> re.Pattern | None:
        if i not in self._patterns:
            self._patterns[i] = name_pattern(self.entries[i].names)
        return self._patterns[i]

    def masked(self, i: int, text: str | None = None) -> str:
        """`text` (default: entry i's definition) with entry i's names masked out."""
        return mask_names(self.entries[i].definition if text is None else text, self.pattern(i))

    def short_definition(self, i: int, max_chars: int = 150) -> str:
        return head(self.masked(i), sentences=1, min_chars=30, max_chars=max_chars)

    def plain_definition(self, i: int, max_chars: int = 110) -> str:
        """Entry i's first sentence unmasked, or "" when it names the entry itself."""
        text = head(self.entries[i].definition, sentences=1, min_chars=30, max_chars=max_chars)
        pattern = self.pattern(i)
        return "" if pattern is not None and pattern.search(text) else text

    def same_concept(self, i: int, j: int) -> bool:
        """Entries that must never face each other as answer and distractor.

        Shared names or aliases (either way), a term whose name contains the other's (하이퍼인플레이션
        is also an 인플레이션, so both options could be right), or near-identical vectors (a twin
        entry from another glossary).
        """
        if self.keys[i] & self.keys[j]:
            return True
        if any(a in b or b in a for a in self.term_keys[i] for b in self.term_keys[j]):
            return True
        return float(self.vectors[i] @ self.vectors[j]) >= DUPLICATE_COSINE

    # -- distractors ----------------------------------------------------------------------------
    def neighbours(self, i: int) -> list[int]:
        """Other entries ordered from nearest to farthest (cosine, same-category bonus)."""
        sims = self.vectors @ self.vectors[i]
        cat = self.entries[i].category
        if cat:
            same = np.fromiter((e.category == cat for e in self.entries), dtype=bool, count=len(self.entries))
            sims = sims + SAME_CATEGORY_BONUS * same
        sims[i] = -np.inf
        return [int(j) for j in np.argsort(-sims, kind="stable") if j != i]

    def distractors(self, i: int, k: int, rng: random.Random, difficulty: float,
                    text_of, avoid: tuple[int, ...] = ()) -> list[int]:
        """`k` distractor entries for answer `i`: valid, pairwise distinct, near by `difficulty`.

        `text_of(j)` is the option text entry j would show; options with equal normalised text
        are never both taken.
        """
        order = [j for j in self.neighbours(i) if not self.same_concept(i, j)]
        start = int(round((1.0 - difficulty) * min(FAR_RANK, max(0, len(order) - WINDOW))))
        window = order[start:start + WINDOW]
        picked_first = rng.sample(window, len(window))
        # Fall back to the rest of the list (nearest first) if the window runs out of valid choices.
        rest = order[:start][::-1] + order[start + WINDOW:]
        chosen: list[int] = []
        seen_text = {option_key(text_of(i))} | {option_key(text_of(a)) for a in avoid}
        for j in picked_first + rest:
            if len(chosen) == k:
                break
            if any(self.same_concept(j, c) for c in (*chosen, *avoid)):
                continue
            key = option_key(text_of(j))
            if not key or key in seen_text:
                continue
            seen_text.add(key)
            chosen.append(j)
        if len(chosen) < k:
            raise FintermError(f"cannot find {k} distinct distractors for {self.entries[i].term!r}; "
                               "the index needs more entries")
        return chosen

    # -- questions ------------------------------------------------------------------------------
    def question(self, i: int, kind: str, qid: str, rng: random.Random, difficulty: float) -> Question:
        e = self.entries[i]
        if kind == "definition_to_term":
            prompt = "다음 설명에 해당하는 용어는?\n" + head(self.masked(i), sentences=2, min_chars=60,
                                                          max_chars=260)
            others = self.distractors(i, N_OPTIONS - 1, rng, difficulty, lambda j: self.entries[j].term)
            ids = [i, *others]
            rng.shuffle(ids)
            options = [self.entries[j].term for j in ids]
            answer = ids.index(i)
            explanation = f"{e.term}: {e.definition}"
        elif kind == "term_to_definition":
            prompt = f"'{e.term}'의 뜻으로 가장 알맞은 것은?"
            others = self.distractors(i, N_OPTIONS - 1, rng, difficulty, self.short_definition)
            ids = [i, *others]
            rng.shuffle(ids)
            options = [self.short_definition(j) for j in ids]
            answer = ids.index(i)
            explanation = f"{e.term}: {e.definition}"
        elif kind == "wrong_pair":
            prompt = "다음 중 용어와 그 설명의 연결이 옳지 않은 것은?"
            # The borrowed definition must not name its own term, or the mismatch shows at a glance.
            wrong = self.distractors(i, 1, rng, difficulty, self.plain_definition)[0]
            pairs = self.distractors(i, N_OPTIONS - 1, rng, difficulty,
                                     lambda j: self.entries[j].term if self.plain_definition(j) else "",
                                     avoid=(wrong,))
            ids = [i, *pairs]
            rng.shuffle(ids)
            answer = ids.index(i)
            options = [f"{self.entries[j].term}: {self.plain_definition(wrong if j == i else j)}"
                       for j in ids]
            explanation = (f"{e.term}: {e.definition}\n(보기 {CIRCLED[answer]}의 설명은 "
                           f"'{self.entries[wrong].term}'의 뜻이다.)")
        else:
            raise FintermError(f"quiz kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
        return Question(id=qid, kind=kind, prompt=prompt, options=tuple(options), answer=answer,
                        term_id=e.id, term=e.term, category=e.category, explanation=explanation,
                        source=e.source, option_term_ids=tuple(self.entries[j].id for j in ids))

    def generate(self, n: int = 10, *, seed: int = 0, category: str | None = None, difficulty: float = 0.7,
                 kinds: tuple[str, ...] = KINDS, first: list[str] | None = None) -> list[Question]:
        """`n` questions; terms in `first` (entry ids, e.g. a review queue) come first, in order."""
        if n < 1:
            raise FintermError(f"n of {n} is too small; ask for 1 question or more")
        if not 0.0 <= difficulty <= 1.0:
            raise FintermError(f"difficulty of {difficulty} is out of range; use 0 (easy) to 1 (hard)")
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise FintermError(f"quiz kind {bad[0] if bad else ''!r} is unknown; "
                               f"use one of {', '.join(KINDS)}")
        pool = list(range(len(self.entries)))
        if category:
            pool = [i for i in pool if self.entries[i].category == category]
            if not pool:
                raise FintermError(f"no entries in category {category!r}; "
                                   f"use one of: {', '.join(self.categories)}")
        rng = random.Random(seed)
        head_ids = [self.pos[t] for t in dict.fromkeys(first or []) if t in self.pos and self.pos[t] in pool]
        rest = [i for i in pool if i not in set(head_ids)]
        rng.shuffle(rest)
        order = head_ids + rest
        out = []
        for q in range(n):
            i = order[q % len(order)]
            kind = kinds[rng.randrange(len(kinds))]
            out.append(self.question(i, kind, f"s{seed}-{q + 1}", rng, difficulty))
        return out


_BANKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def index_vectors(index) -> np.ndarray:
    """All vectors of a FAISS index as an (n, d) float32 matrix (row i = entry i)."""
    try:
        return index.reconstruct_n(0, index.ntotal)
    except RuntimeError:  # index types without bulk reconstruction
        return np.vstack([index.reconstruct(i) for i in range(index.ntotal)])


def make_quiz(retriever, n: int = 10, **kwargs) -> list[Question]:
    """`n` questions from the retriever's index; see `QuizBank.generate` for the options."""
    return QuizBank.from_retriever(retriever).generate(n, **kwargs)
