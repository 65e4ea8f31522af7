"""Normalised lookup keys and jamo-level edit distance for Korean terms.

"국내총생산(GDP)", "국내 총생산", "gdp" and "ＧＤＰ" must all meet at one key: NFKC, lower case,
no spaces or punctuation, with the parenthesised part split off as its own key.
"""

from __future__ import annotations

import re
import unicodedata

_DROP = re.compile(r"[\s\-_·・‧.,/'\"“”‘’`~!?:;()\[\]{}<>『』「」]+")
_PAREN = re.compile(r"[(\[]([^()\[\]]*)[)\]]")


def norm_key(text: str) -> str:
    """One canonical key: NFKC, case-folded, without spaces, hyphens, dots or brackets."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


def name_keys(name: str) -> set[str]:
    """Every key a name should be found by: whole, without the bracket part, and the bracket part."""
    name = unicodedata.normalize("NFKC", name)
    keys = {norm_key(name)}
    inner = _PAREN.findall(name)
    if inner:
        keys.add(norm_key(_PAREN.sub(" ", name)))
        keys.update(norm_key(i) for i in inner)
    return {k for k in keys if k}


# --- jamo ------------------------------------------------------------------------------------
_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]


def to_jamo(text: str) -> str:
    """Decompose Hangul syllables into jamo ("인플" -> "ㅇㅣㄴㅍㅡㄹ"); other characters pass through."""
    out = []
    for ch in text:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(_CHO[code // 588])
            out.append(_JUNG[(code % 588) // 28])
            if code % 28:
                out.append(_JONG[code % 28])
        else:
            out.append(ch)
    return "".join(out)


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance; stops early (returns limit + 1) once it must exceed `limit`."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]
