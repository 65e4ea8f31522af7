"""The news reader: mark every glossary term in a Korean article, and order the terms by how central they are.

Matching is leftmost-longest over every name and alias of every entry (keys from `name_keys`, so
spacing, hyphens and case do not matter), on Korean word boundaries: a match must start where a
Kiwi morpheme or a word starts and end where one ends. So "미리 보여주는" never holds 리보 (리 is
inside 미리), "금리를" holds 금리 (를 is a particle, its own morpheme), and "기준금리" is one term,
not 금리 inside it. One-character names are never marked, and an all-capital abbreviation (PER, GDP)
only in capitals, so "per capita" is not a PER.

Centrality: occurrences, plus links to the other terms found (`related` either way), plus a bonus
for appearing early (the headline and lead carry the story).
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from dataclasses import dataclass

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.normalize import name_keys

QUIZ_MAX = 10  # questions in a quiz on an article's terms (one per term, most central first)
MAX_CHARS = 200_000  # a pasted article, with room to spare; more is almost surely not one article
_SKIP = re.compile(r"[\s\-_·・‧/]")  # dropped from the compact view, as name keys drop them
_WORD = re.compile(r"\w+")  # a word: letters and digits between spaces and punctuation


@dataclass(frozen=True)
class Found:
    """A glossary entry found in the text: where (character offsets), and how central it is."""

    entry: Entry
    spans: tuple[tuple[int, int], ...]
    score: float

    @property
    def short_definition(self) -> str:
        from finterm.rag.quiz import head

        return head(self.entry.definition, sentences=1, min_chars=30, max_chars=200)

    def to_json(self) -> dict:
        return {"id": self.entry.id, "term": self.entry.term, "spans": [list(s) for s in self.spans],
                "definition": self.short_definition, "source": self.entry.source, "score": round(self.score, 3)}


class NewsMarker:
    """The name table of one index, built once (`from_retriever` caches it per retriever)."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.keys: dict[str, tuple[int, bool]] = {}  # key -> (entry position, capitals only)
        for aliases in (False, True):  # every entry's own term first, then aliases: a term wins a clash
            for i, e in enumerate(entries):
                for name in (e.aliases if aliases else (e.term,)):
                    upper = bool(re.fullmatch(r"[A-Z0-9&]{2,}", name.strip()))
                    for key in name_keys(name):
                        if len(key) >= 2 and not key.isdigit():
                            self.keys.setdefault(key, (i, upper))
        self.prefixes = {k[:n] for k in self.keys for n in range(1, len(k) + 1)}
        self.related = [set().union(*(name_keys(r) for r in e.related)) if e.related else set() for e in entries]
        self.own = [set().union(*(name_keys(n) for n in e.names)) for e in entries]
        self._cache: dict[str, tuple[set[int], set[int]]] = {}

    @classmethod
    def from_retriever(cls, retriever) -> NewsMarker:
        marker = _MARKERS.get(retriever)
        if marker is None:
            marker = _MARKERS[retriever] = cls(retriever.entries)
        return marker

    def mark(self, text: str) -> list[Found]:
        """Every entry named in `text`, most central first; spans are offsets into `text` itself."""
        if len(text) > MAX_CHARS:
            raise FintermError(f"the text has {len(text):,} characters; the news reader takes at most "
                               f"{MAX_CHARS:,} (one article); split it")
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        wid = [-1] * len(text)  # which word each character belongs to
        for k, (a, b) in enumerate(words):
            wid[a:b] = [k] * (b - a)

        def starts_word_or_morpheme(p: int) -> bool:
            a, b = words[wid[p]]
            return p == a or p - a in self._morphemes(text[a:b])[0]

        def ends_word_or_morpheme(q: int) -> bool:
            a, b = words[wid[q - 1]]
            return q == b or q - a in self._morphemes(text[a:b])[1]

        chars, where = [], []  # the compact, normalised view and each char's offset in `text`
        for pos, ch in enumerate(text):
            if _SKIP.match(ch):
                continue
            for c in unicodedata.normalize("NFKC", ch).casefold():
                chars.append(c)
                where.append(pos)
        spans: dict[int, list[tuple[int, int]]] = {}
        i, size = 0, len(chars)
        while i < size:
            best, key = None, ""
            if wid[where[i]] >= 0 and not (i and where[i - 1] == where[i]):
                for j in range(i, size):  # walk while the text spells the start of some name
                    key += chars[j]
                    if key not in self.prefixes:
                        break
                    hit = self.keys.get(key)
                    end = where[j] + 1
                    if (hit and (j + 1 == size or where[j + 1] != where[j]) and wid[end - 1] >= 0
                            and (not hit[1] or not any(c.islower() for c in text[where[i]:end]))
                            and ends_word_or_morpheme(end) and starts_word_or_morpheme(where[i])):
                        best = (j, hit[0], end)
            if best is None:
                i += 1
                continue
            j, e, end = best
            spans.setdefault(e, []).append((where[i], end))
            i = j + 1
        return self._rank(spans, len(text))

    def _morphemes(self, word: str) -> tuple[set[int], set[int]]:
        """Offsets inside `word` where Kiwi starts and ends morphemes (cached: news repeats its words)."""
        got = self._cache.get(word)
        if got is None:
            from finterm.index.morph import kiwi

            toks = kiwi().tokenize(word)
            got = ({t.start for t in toks}, {t.start + t.len for t in toks})
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[word] = got
        return got

    def _rank(self, spans: dict[int, list[tuple[int, int]]], length: int) -> list[Found]:
        found = set(spans)
        out = []
        for e, where in spans.items():
            links = sum(1 for o in found if o != e and (self.related[e] & self.own[o] or self.related[o] & self.own[e]))
            early = 1.0 - where[0][0] / max(length, 1)
            out.append(Found(self.entries[e], tuple(where), len(where) + links + early))
        return sorted(out, key=lambda f: (-f.score, f.spans[0][0]))


_MARKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def read_news(retriever, text: str) -> list[Found]:
    """The glossary terms in `text`, most central first (the CLI's and the app's entry point)."""
    if not text.strip():
        raise FintermError("the article is empty; paste or give the text of a news article")
    return NewsMarker.from_retriever(retriever).mark(text)


def news_quiz(retriever, found: list[Found], n: int = QUIZ_MAX, *, seed: int = 0):
    """A quiz on the terms found (most central first), `n` questions at most, one per term.

    The app's 뉴스 읽기 page and `finterm read --quiz` both make their quiz here.
    """
    from finterm.rag.quiz import make_quiz

    if not found:
        raise FintermError("기사에서 용어집 용어를 찾지 못해 퀴즈를 낼 수 없습니다 "
                           "(no glossary terms were found in the article, so there is nothing to quiz)")
    ids = [f.entry.id for f in found][:n]
    return make_quiz(retriever, len(ids), seed=seed, first=ids)
