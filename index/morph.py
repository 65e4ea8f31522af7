"""Korean morpheme tokens for BM25 and key-concept matching (Kiwi), created once per process."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Content-bearing tags: nouns, roots, verb/adjective stems, foreign words and numbers.
_KEEP = frozenset({"NNG", "NNP", "NR", "XR", "SL", "SH", "SN", "VV", "VA"})
# Words that appear in questions about any term; they carry no topic.
STOP = frozenset("""
뭐 무엇 뜻 의미 개념 설명 정의 알다 주다 하다 되다 있다 없다 같다 말 것 수 때 등 및 어떤 어떻게 왜 이 그 저
경우 대하 관하 차이 비교 예 예시 질문 답 좀 궁금 가르치 알려주 어디 얼마나 언제 누구 요 용어 단어
""".split())

# Verb stems of one family read as one: a description says "늘어나는" where a definition says "늘릴".
_ROOTS = {
    "늘어나": "늘", "늘리": "늘", "줄이": "줄", "줄어들": "줄", "낮추": "낮", "낮아지": "낮", "높이": "높",
    "높아지": "높", "떨어뜨리": "떨어지", "커지": "크", "키우": "크", "작아지": "작", "올리": "오르",
    "올라가": "오르", "내려가": "내리", "파": "팔",
}


def _form(tok) -> str:
    form = tok.form.casefold()
    return _ROOTS.get(form, form) if tok.tag in ("VV", "VA") else form


@lru_cache(maxsize=1)
def kiwi():
    """The shared Kiwi analyser (about a second to load, so loaded once)."""
    from kiwipiepy import Kiwi

    # Without the multi-word dictionary (names such as "바젤 은행 감독 위원회" as one token) and the typo
    # dictionary (finterm has its own typo matching) Kiwi is ready in ~1.2 s instead of ~2.6 s.
    k = Kiwi(load_multi_dict=False, load_typo_dict=False)
    # "…약정한 거래" is read as 거(thing)+이+래 (colloquial "it is said") without this.
    k.add_user_word("거래", "NNG", 0)
    return k


@lru_cache(maxsize=512)
def analyse(text: str) -> tuple:
    """Kiwi's tokens for `text`, cached: one question is read by several rules in a row."""
    return tuple(kiwi().tokenize(text))


def tokens(text: str, *, drop_stop: bool = True) -> list[str]:
    """Content morphemes of `text`, lower-cased: "기준금리가 뭐야?" -> ["기준", "금리"]."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for tok in analyse(text):
        if tok.tag in _KEEP:
            form = _form(tok)
            if drop_stop and form in STOP:
                continue
            out.append(form)
    return out


def tokens_many(texts: list[str], *, drop_stop: bool = True) -> list[list[str]]:
    """`tokens` for many texts, using Kiwi's batch mode."""
    texts = [unicodedata.normalize("NFKC", t) for t in texts]
    out = []
    for toks in kiwi().tokenize(texts):
        row = []
        for tok in toks:
            if tok.tag in _KEEP:
                form = _form(tok)
                if not (drop_stop and form in STOP):
                    row.append(form)
        out.append(row)
    return out


_PAIRS = (("(", ")"), ("[", "]"), ("『", "』"), ("「", "」"))
_CLOSERS = "".join(b for _, b in _PAIRS)


def _open_bracket(piece: str) -> bool:
    return any(piece.count(a) > piece.count(b) for a, b in _PAIRS)


def sentences(text: str) -> list[str]:
    """Split text into sentences with Kiwi (handles Korean endings without a final period).

    A sentence ending inside brackets does not end the sentence around it: "…물어(… 센다) 지수이다." is one
    sentence, so an answer never quotes half a bracket. A bracket that never closes (a typed "1)" list, a
    stray "(") joins nothing: Kiwi's own pieces are kept."""
    groups: list[list[tuple[int, int]]] = []
    for s in kiwi().split_into_sents(text):
        last = text[groups[-1][0][0]:groups[-1][-1][1]].rstrip() if groups else ""
        # still inside a bracket, or right after one with no full stop: the sentence goes on
        if groups and (_open_bracket(last) or last[-1:] in _CLOSERS):
            groups[-1].append((s.start, s.end))
        else:
            groups.append([(s.start, s.end)])
    spans = []
    for g in groups:
        whole = (g[0][0], g[-1][1])
        spans += g if len(g) > 1 and _open_bracket(text[whole[0]:whole[1]]) else [whole]
    return [piece for a, b in spans if (piece := text[a:b].strip())]
