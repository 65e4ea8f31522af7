"""Retrieval step 2: one feature vector per candidate, the evidence the ranker weighs.

Every signal the hand-set rules used is here as a column (so those rules are one weight vector,
`ranker.RULES`), plus signals the rules lacked: the raw cosine and its gap to the best, ranks in
the BM25 and dense lists, and how much of the question the whole entry covers. Which columns the
learned ranker keeps was decided by the ablation in bench/fit_ranker.py.
"""

from __future__ import annotations

import numpy as np

from finterm.index.normalize import norm_key
from finterm.rag.candidates import Candidates, dense_score, passage_cosine
from finterm.rag.direction import direction
from finterm.rag.query import description_head, genus_endings

FEATURES = (
    "name_rule",  # the rules' name score: coverage, -0.6 for a mention inside a description, typo sim - 0.1
    "name_cover",  # share of the question explained by this entry's contained name
    "name_mention",  # the contained name is a mention inside a description
    "typo",  # similarity of a near spelling of the question to this entry's name
    "bm25",  # BM25 / the query's best BM25
    "bm25_rr",  # 1 / (1 + rank in the BM25 list)
    "dense_mm",  # dense score min-max scaled over the dense top list
    "cosine",  # dense score: passage cosine, or a written question's cosine minus the offset (views)
    "cos_gap",  # best cosine - this cosine
    "dense_rr",  # 1 / (1 + rank in the dense list)
    "head",  # IDF share of the question's morphemes in the entry's defining sentence
    "lex",  # IDF share of the question's morphemes anywhere in the entry
    "genus",  # the entry's name ends with the description's head noun ("…발행하는 채권" -> 회사채)
    "polarity",  # the defining sentence moves things only the other way than the question
    "name_first",  # of several names in a question (not a description), the one it starts with
    "name_topic",  # a name followed by a topic or subject particle ("공매도는 왜 …")
    "passage",  # the passage cosine alone
    "view_mean",  # the mean cosine of the entry's written questions minus the offset (passage cosine if none)
)


def features(r, c: Candidates) -> np.ndarray:
    """(len(c.ids), len(FEATURES)) float32 matrix for the candidates of one question."""
    n = len(c.ids)
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if not n:
        return x
    col = {f: j for j, f in enumerate(FEATURES)}
    ids = np.array(c.ids)
    bm = c.bm25[ids] if c.bm25 is not None else np.zeros(n)
    bmax = float(c.bm25.max()) if c.bm25 is not None and len(c.bm25) else 0.0
    if bmax > 0:
        x[:, col["bm25"]] = bm / bmax
        rank = np.empty(len(c.bm25), dtype=np.int64)
        rank[np.argsort(-c.bm25, kind="stable")] = np.arange(len(c.bm25))
        x[:, col["bm25_rr"]] = np.where(bm > 0, 1.0 / (1 + rank[ids]), 0.0)
    if c.dense:
        d_sorted = sorted(c.dense.values(), reverse=True)
        top, lo = d_sorted[0], d_sorted[-1]
        drank = {i: k for k, i in enumerate(sorted(c.dense, key=lambda i: -c.dense[i]))}
        cos = np.array([dense_score(r, c, i) for i in c.ids], dtype=np.float32)
        x[:, col["cosine"]] = cos
        x[:, col["cos_gap"]] = top - cos
        if top > lo:
            x[:, col["dense_mm"]] = [(c.dense[i] - lo) / (top - lo) if i in c.dense else 0.0 for i in c.ids]
        pc = np.array([passage_cosine(r, c, i) for i in c.ids], dtype=np.float32)
        x[:, col["passage"]] = pc
        if c.view_mean is not None:
            vm = c.view_mean[ids]
            x[:, col["view_mean"]] = np.where(np.isfinite(vm), vm, pc)
        x[:, col["dense_rr"]] = [1.0 / (1 + drank[i]) if i in drank else 0.0 for i in c.ids]
    for k, i in enumerate(c.ids):
        x[k, col["name_rule"]] = c.name_signal(i)
        if i in c.cover:
            x[k, col["name_cover"]] = c.cover[i]
            x[k, col["name_mention"]] = float(c.mention)
        x[k, col["typo"]] = c.typo.get(i, 0.0)
        x[k, col["name_first"]] = float(i in c.first_named)
        x[k, col["name_topic"]] = float(i in c.topic)
    if c.qtoks:
        w = {t: r.idf(t) for t in c.qtoks}
        total = sum(w[t] for t in c.qtoks) or 1.0
        for k, i in enumerate(c.ids):
            x[k, col["head"]] = sum(w[t] for t in c.qtoks if t in r.head_sets[i]) / total
            x[k, col["lex"]] = sum(w[t] for t in c.qtoks if t in r.token_sets[i]) / total
    genus = description_head(c.text)
    if genus:
        # A kind of the head noun, not the head noun itself: "…위해 발행하는 채권" asks for 회사채.
        endings = genus_endings(genus)
        for k, i in enumerate(c.ids):
            if any(key.endswith(endings) and key not in endings for key in map(norm_key, r.entries[i].names)):
                x[k, col["genus"]] = 1.0
    if "보다" not in c.text:  # "A가 B보다 높은" is "B가 A보다 낮은": leave comparisons alone
        asked = {direction(t) for t in c.qtoks} - {None}
        for k, i in enumerate(c.ids if asked else ()):
            said = {direction(t) for t in r.head_sets[i]} - {None}
            if said and not asked <= said:
                x[k, col["polarity"]] = 1.0
    return x
