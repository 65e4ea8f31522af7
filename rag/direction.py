"""Direction words in Korean definitions: which nouns a text says go up or down.

"오르다" and "상승" say the same, "오르다" and "하락" the opposite. Embeddings barely tell such
texts apart (인플레이션 vs 디플레이션), so answer checking compares these claims by class.
"""

from __future__ import annotations

from finterm.index.morph import STOP, kiwi

_RATE = frozenset("률 율 폭 세 분".split())  # 상승+률 is a noun (상승률), not a direction
UP = frozenset("늘 늘어나 늘리 증가 상승 오르 올라가 올리 높 높아지 커지 크 많 확대 불어나 인상 급등 "
               "초과".split())
DOWN = frozenset("줄 줄어들 줄이 감소 하락 내리 내려가 떨어지 낮 낮아지 작아지 작 적 축소 인하 급락 "
                 "낮추 미달".split())


def direction(form: str) -> str | None:
    """'+' for a word of increase, '-' for one of decrease, else None."""
    return "+" if form in UP else "-" if form in DOWN else None


def direction_claims(text: str) -> set[tuple[str, str]]:
    """(noun, '+'/'-') claims in `text`: "물가가 지속적으로 오르는" -> {(물가, +), (지속, +)}.

    A verb or noun of direction applies to the nouns of its clause before it; an adjective
    before a noun ("높은 세율") to that noun. Clauses end at commas, connective endings and "와/과".
    """
    toks = kiwi().tokenize(text)
    claims: set[tuple[str, str]] = set()
    clause: list[str] = []
    for k, t in enumerate(toks):
        form = t.form.casefold()
        d = direction(form) if t.tag in ("VV", "VA", "NNG", "XR") else None
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if d and t.tag == "NNG" and nxt is not None and nxt.tag == "XSN" and nxt.form in _RATE:
            clause.append(form + nxt.form)  # 상승률, 증가율: a quantity, not a movement
            continue
        if d:
            if t.tag == "VA" and k + 1 < len(toks) and toks[k + 1].tag == "ETM":
                nxt = next((u.form for u in toks[k + 2:k + 5] if u.tag in ("NNG", "NNP", "SL")), None)
                targets = [nxt] if nxt else []
            else:
                targets = clause
            claims.update((n, d) for n in targets)
            clause = []
        elif t.tag in ("NNG", "NNP", "SL") and len(form) >= 2 and form not in STOP:
            clause.append(form)
        elif t.tag in ("SP", "SF", "EC", "JC"):
            clause = []
    return claims


def contradicts(answer: set[tuple[str, str]], reference: set[tuple[str, str]]) -> bool:
    """True when the answer moves a noun the other way than the reference does (물가 하락 vs 상승)."""
    def same(a: str, b: str) -> bool:
        return a == b or (min(len(a), len(b)) >= 2 and (a in b or b in a))

    def one_way(claims):  # a noun said to move both ways is ambiguous: ignore it
        return {(n, d) for n, d in claims if (n, "-" if d == "+" else "+") not in claims}

    reference = one_way(reference)
    return any(same(noun, rn) and rd != d for noun, d in one_way(answer) for rn, rd in reference)
