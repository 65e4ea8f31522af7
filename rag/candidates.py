"""Retrieval step 1: candidates for a question, with the raw evidence each list found.

Three sources: names (exact, contained in the question, or a near spelling), BM25 over Kiwi
morphemes, and dense (e5) search. The union of their top entries is what the ranker scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from finterm.index.normalize import norm_key
from finterm.index.store import search_vectors
from finterm.index.views import best_per_entry, mean_per_entry
from finterm.rag.query import (
    asks_about_its_subject,
    contained_keys,
    dictionary_word,
    how_to,
    is_description,
    question_core,
    word_starts,
)

POOL = 50  # candidates taken from each ranked list
_TOPIC = re.compile(r"(은|는|이|가|이란|란|이라는|라는)(?!자|익|율|률)")
_ENGLISH = re.compile(r"[A-Za-z][A-Za-z0-9 &'./-]*")


@dataclass
class Candidates:
    text: str
    core: str
    qkey: str
    qtoks: list[str]
    exact: list[int]  # rows whose name is the whole question
    promoted: list[int] = field(default_factory=list)  # a clearly closest spelling: a lookup, goes first
    cover: dict[int, float] = field(default_factory=dict)  # contained name -> share of the question it explains
    mention: bool = False  # names found inside a description that explain little of it
    typo: dict[int, float] = field(default_factory=dict)  # near spelling -> similarity
    typo_terms: list[str] = field(default_factory=list)
    fixes: list[tuple[str, str]] = field(default_factory=list)  # (misspelt word, the name it clearly means)
    explained: float = 0.0
    first_named: set[int] = field(default_factory=set)  # the name the question starts with, of several
    topic: set[int] = field(default_factory=set)  # a name marked as the topic or subject (…은/는/이/가)
    subject: set[int] = field(default_factory=set)  # the name a question opens with as its topic: goes first
    bm25: np.ndarray | None = None
    dense: dict[int, float] = field(default_factory=dict)  # dense top POOL: row -> dense score
    qv: np.ndarray | None = None  # the query vector (cosines of candidates outside the dense top)
    passage: np.ndarray | None = None  # every row's passage cosine (flat indexes: one product)
    view_best: np.ndarray | None = None  # per entry: best question-view cosine minus the offset (-inf: none)
    view_mean: np.ndarray | None = None  # per entry: mean question-view cosine minus the offset (-inf: none)
    ids: list[int] = field(default_factory=list)  # the candidate rows, in a fixed order

    def name_signal(self, i: int, mention_penalty: float = 0.6) -> float:
        """The single name score the hand-set rules used: coverage, -penalty for a mention, typo sim - 0.1."""
        if i in self.cover:
            return -mention_penalty if self.mention else self.cover[i]
        return self.typo.get(i, 0.0)


def name_evidence(r, c: Candidates) -> None:
    """Fill the name fields of `c`: contained names, typo matches, and corrections worth retrying."""
    found = contained_keys(c.qkey, r.keys, word_starts(c.text))
    core_key = norm_key(c.core)
    # How much of the question the names explain: "LTV 규제" 0.6, "A와 B의 차이" ~0.9.
    c.explained = min(1.0, sum(map(len, found)) / max(1, len(core_key)))
    c.mention = bool(found) and c.explained < 0.8 and is_description(c.text, found)
    for key in found:
        for i in r.keys[key]:
            c.cover[i] = c.explained
    marked = [key for key in found if _TOPIC.match(c.qkey, c.qkey.find(key) + len(key))]  # …은/는/이/가
    if len(found) > 1 and not c.mention:
        # "테이퍼링이 시작되면 주식시장은 …", "공매도는 왜 개인 투자자들이 …": of several names in a
        # question (not a description), the one it starts with, and one marked as its topic, is what it asks about.
        first = min(found, key=c.qkey.find)
        c.first_named = set(r.keys[first])
        for key in marked:
            c.topic.update(r.keys[key])
    if found and not c.mention and not c.exact:
        # "부가가치세는 누가 부담하는 건가요?", "공매도는 왜 개인 투자자들이 싫어해?": a question that opens with a
        # name marked as its topic asks about it, whatever else it mentions (unless it marks another name too);
        # so does "ETF 투자 처음 시작하는 법" when it names nothing else ("연준 점도표 보는 법" is about 점도표).
        opening = max((key for key in found if c.qkey.startswith(key)), key=len, default=None)
        if opening and (marked == [opening] and asks_about_its_subject(c.text)
                        or found == [opening] and how_to(c.text, [opening])):
            c.subject = set(r.keys[opening])
    if not c.exact and len(core_key) <= 20:
        near = r.typos.near(core_key)
        if c.qkey != core_key and len(c.qkey) <= 20 and " " not in c.text.strip():
            # One misspelt word can lose its tail to the question parser ("블록채인" -> core "블록"):
            # the whole word's near spellings count too, the closer reading first.
            near = sorted({**dict(near), **dict(r.typos.near(c.qkey))}.items(), key=lambda kv: -kv[1])
        if found:
            # A question that holds a name is near another name only in what they share ("넛지 마케팅" and
            # 바이럴 마케팅: 0.8, the 마케팅); only a spelling within a letter or two counts ("베블렌효과").
            near = [(key, sim) for key, sim in near if sim >= 0.85]
        # A word of the language is near a name only by accident ("경매" is not a misspelt 공매, 0.8): still a
        # "did you mean", but no evidence for that entry unless a long word is a letter off it (>= 0.9).
        is_word = bool(near) and not found and dictionary_word(c.core)
        for rank, (key, sim) in enumerate(near):
            for i in r.keys[key]:
                if i in c.cover:
                    continue
                if not is_word or sim >= 0.9:
                    c.typo[i] = sim - 0.1
                c.typo_terms.append(r.entries[i].term)
                # A clearly closest spelling ("인풀레이션" -> 인플레이션) is a lookup, not a hint; so is one
                # word within a letter of a name when a name it contains explains only part of it
                # ("베블렌효과" -> 베블런효과, though it holds 베블렌, a spelling of the economist's name).
                clear = rank == 0 and (len(near) == 1 or near[1][1] < sim - 0.03)
                one_word = " " not in c.text.strip() and c.explained < 0.8 and sim >= 0.9
                # A word of the language is not a misspelling ("광합성은 어떻게 일어나?" is not about 경합성).
                if sim >= 0.85 and clear and (not found or one_word) and not dictionary_word(c.core):
                    c.promoted.append(i)
    if c.exact:
        return
    words = c.core.split()
    for word in words[:12]:  # a misspelt word inside a longer question is still worth a "did you mean"
        stem = question_core(word)
        if len(word) < 3 or len(words) < 2 or r.known_word(stem):
            continue
        latin = bool(_ENGLISH.fullmatch(stem))
        if latin and len(stem) < 5:  # "does" is not a misspelt DES: short English words are just words
            continue
        near = [(key, sim) for key, sim in r.typos.near(stem) if sim >= 0.9 or not latin]
        if near and near[0][1] >= 0.8:
            ids = r.keys[near[0][0]]
            c.typo_terms += [r.entries[i].term for i in ids]
            clear = len(ids) == 1 and (len(near) == 1 or near[1][1] < near[0][1] - 0.03)
            if near[0][1] >= 0.85 and clear and stem in word:
                c.fixes.append((stem, r.entries[ids[0]].term))


def passage_cosine(r, c: Candidates, i: int) -> float:
    if c.passage is not None:
        return float(c.passage[i])
    return float(r.data.vectors.reconstruct(int(i)) @ c.qv)


def dense_score(r, c: Candidates, i: int) -> float:
    """The dense score of row `i` (in the dense top list or not): passage cosine or best view."""
    if i in c.dense:
        return c.dense[i]
    s = passage_cosine(r, c, i)
    return max(s, float(c.view_best[i])) if c.view_best is not None else s


def abstain_named(c: Candidates, i: int) -> float:
    """The abstention model's name evidence for row `i`: 1 when a question that is not a description holds
    its name ("지로는 누가 운영해", "DTI 구하는 법": about the name, though it is a short part of the
    question), else the name's share of the question (0 for a mere mention inside a description:
    "리눅스 스왑 메모리 설정하는 법" holds a name but is not about it)."""
    if i in c.cover and not c.mention:
        return 1.0
    return max(0.0, c.name_signal(i))


def top_cosine(r, c: Candidates, i: int) -> float:
    """The abstention model's cosine: row `i`'s dense score, also when it is outside the dense top list
    ("지로는 누가 운영해" finds 지로 by name; counting its cosine as 0 made a clear question look off-topic)."""
    return dense_score(r, c, i) if i in c.dense or c.qv is not None else 0.0


def gather(r, text: str, modes: tuple[str, ...]) -> Candidates:
    """Candidates for the cleaned question `text` from the signals named in `modes`."""
    from finterm.index.morph import tokens

    core = question_core(text)
    qkey = norm_key(text)
    exact = list(dict.fromkeys(i for key in (norm_key(core), qkey) for i in r.keys.get(key, [])))
    c = Candidates(text=text, core=core, qkey=qkey, qtoks=tokens(text), exact=exact)
    if "name" in modes:
        name_evidence(r, c)
    c.bm25 = np.zeros(len(r.entries), dtype=np.float32)
    if "bm25" in modes and c.qtoks:
        c.bm25 = r.bm25.get_scores(c.qtoks).astype(np.float32)
    if "dense" in modes:
        c.qv = qv = r.embedder.embed_queries([text])[0]
        if r.passage_matrix is not None:
            c.passage = r.passage_matrix @ qv
        scores, ids = search_vectors(r.data.vectors, qv, POOL)
        c.dense = {int(i): float(s) for s, i in zip(scores, ids, strict=True) if i >= 0}
        if r.data.views is not None and len(r.data.views):
            # An entry's dense score is the better of its passage cosine and its best written
            # question's cosine minus the offset (index/views.py).
            sims = r.data.views @ qv
            best = best_per_entry(sims, r.data.view_rows, len(r.entries)) - r.ranker.view_offset
            c.view_best = best
            c.view_mean = mean_per_entry(sims, r.data.view_rows, len(r.entries)) - r.ranker.view_offset
            top = np.argsort(-best)[:POOL]
            for i in (int(i) for i in top if np.isfinite(best[i])):
                c.dense.setdefault(i, passage_cosine(r, c, i))
            c.dense = {i: max(s, float(best[i])) for i, s in c.dense.items()}
            c.dense = dict(sorted(c.dense.items(), key=lambda kv: -kv[1])[:POOL])
    bm25_top = [int(i) for i in np.argsort(-c.bm25)[:POOL] if c.bm25[i] > 0]
    c.ids = list(dict.fromkeys([*c.cover, *c.typo, *bm25_top, *c.dense]))
    return c
