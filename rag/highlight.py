"""Where a definition mentions a concept, as whole-word character spans (for the 답안 확인 screen).

A concept is a Kiwi morpheme ("생산", or "늘리다" for a verb stem). Highlighting only the morpheme would
cut words apart ("생산|량을"), so each match grows to its whole word — the run of the eojeol up to its
particles and punctuation: "생산량을" is marked as "생산량", "늘린다" as "늘린다".
"""

from __future__ import annotations

from finterm.index.morph import kiwi

_TRAILING = ("J", "SF", "SP", "SS", "SE", "SO", "SW")  # particles and punctuation end the marked part


def concept_spans(text: str, concepts: tuple[str, ...]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans of the words of `text` holding any of `concepts`."""
    wanted = {c.casefold() for c in concepts if c}
    if not wanted or not text:
        return []
    tokens = kiwi().tokenize(text)
    spans: set[tuple[int, int]] = set()
    for i, tok in enumerate(tokens):
        form = tok.form.casefold()
        if form not in wanted and f"{form}다" not in wanted:
            continue
        start = tok.start
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = tok.start + tok.len
        for nxt in tokens[i + 1:]:  # extend over the rest of the word, stopping at particles
            if nxt.start > end or text[end:nxt.start].strip() or nxt.tag.startswith(_TRAILING):
                break
            end = nxt.start + nxt.len
        spans.add((start, end))
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
