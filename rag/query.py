"""Reading a Korean question: its core phrase, the glossary names it contains, and typo candidates."""

from __future__ import annotations

import functools
import re
import unicodedata

from finterm import FintermError
from finterm.index.morph import STOP, analyse
from finterm.index.normalize import norm_key, to_jamo

MAX_QUERY_CHARS = 1000
_CONTENT = frozenset({"NNG", "NNP", "SL", "SH", "SN", "XR", "NR"})
_DIFF = re.compile(r"차이|비교|다른\s*점|다른가|달라|다릅|구별|구분|\bvs\.?\b|versus", re.IGNORECASE)
_LATIN = re.compile(r"[a-z0-9]")


class EmptyQuery(FintermError):
    """The query was empty or blank (the CLI exits with status 2)."""


def clean_query(query: str) -> tuple[str, bool]:
    """(query with whitespace collapsed and cut to MAX_QUERY_CHARS, whether it was cut)."""
    text = " ".join(unicodedata.normalize("NFKC", query or "").split())
    if not text:
        raise EmptyQuery("the query is empty; ask about a term, e.g. finterm search \"기준금리\"")
    return text[:MAX_QUERY_CHARS], len(text) > MAX_QUERY_CHARS


def question_core(query: str) -> str:
    """The phrase a question is about, without particles and question words.

    "기준금리가 뭐야?" -> "기준금리", "GNI란 무엇인가요" -> "GNI", "LTV 규제" -> "LTV 규제".
    """
    toks = analyse(query[:200])

    def joined(a, b) -> bool:  # no space between two tokens
        return a.start + a.len == b.start

    content = [i for i, t in enumerate(toks) if t.tag in _CONTENT and t.form.casefold() not in STOP
               or t.tag == "NNB" and i and toks[i - 1].tag == "XPN" and joined(toks[i - 1], t)]
    if not content:
        return query

    # A prefix and a suffix belong to the word they are part of: "초저금리" is not 금리, "실업률" not 실업,
    # "탈달러" (탈- + the bound noun 달러) not nothing.
    first, last = content[0], content[-1]
    while first > 0 and toks[first - 1].tag in ("XPN", "NNB") and joined(toks[first - 1], toks[first]):
        first -= 1
    while last + 1 < len(toks) and toks[last + 1].tag in ("XSN", "NNB") and joined(toks[last], toks[last + 1]):
        last += 1
    return query[toks[first].start:toks[last].start + toks[last].len]


_ASKING = frozenset("뭐 무엇 무슨 왜 어떻게 어떤 설명 뜻 의미 개념 정의 알려주 궁금".split())
# A noun phrase ending in one of these asks about the things it names ("토빈세를 제안한 이유", "예금보험을
# 두는 목적"); a concept's description ends in its kind (현상, 제도, 비율 …), never in these.
_ASKING_HEADS = frozenset("이유 까닭 목적 배경 취지 원리 장점 단점 장단점 역할".split())


# "DTI 구하는 법", "명목 GDP 계산하는 방법", "통화유통속도 구하는 공식": a how-question about the one or two
# words before it (a name), not a description of a concept ("감가상각비를 매년 같게 계산하는 방법" is one:
# an adverb before the verb).
_HOW_IDIOM = re.compile(r"^\s*(\S+\s+)?\S+?(?<![게히로])\s*(을|를|의)?\s+(구하|계산하|산출하|산정하|따지|읽|보)는"
                        r"\s*(법|방법|공식|식|산식)\s*(은|이)?\s*[?？!.]*\s*$")

# "ETF 투자 처음 시작하는 법": how to do something with what the question opens with. Not "…방법", which
# also ends descriptions of a method ("감가상각비를 매년 같게 계산하는 방법" is 정액법).
_HOW_TO = re.compile(r"(는|은)\s*(법|요령)\s*(은|이)?\s*(좀|알려\s*줘|알려\s*주세요)?\s*[?？!.]*\s*$")


def how_to(query: str, names: tuple[str, ...] | list[str] = ()) -> bool:
    """True for "<name> … 하는 법": a how-to question that opens with one of `names` (glossary keys)."""
    key = norm_key(query[:200])
    # a long phrase ending in 법 describes a law ("…위반 시 과징금을 물리는 법"), not how to do something
    return len(key) <= 20 and bool(_HOW_TO.search(query)) and any(key.startswith(n) for n in names)


# Verbs a dictionary uses to define ("…현상을 말한다", "…비율을 일컫는다", "…것을 뜻함").
_DEFINING_VERBS = frozenset("말 뜻 의미 일컫 가리키 이르 칭하 지칭".split())
# Endings of a plain statement ("…이다", "…말한다", "…뜻함", "…말합니다"), not of a question ("…거야", "…인가요").
_DECLARATIVE = frozenset({"다", "ᆫ다", "는다", "ᆷ", "음", "ᆸ니다", "습니다"})
# What a news sentence ends in ("…늘었다는 분석이다", "…할 예정이다"): a report, not a kind of thing.
_REPORTING = frozenset("""
분석 평가 전망 예정 계획 방침 설명 지적 관측 입장 주장 얘기 이야기 판단 해석
예상 우려 의견 결정 셈 때문 중 수준 목표 소식 발표 방안
""".split())
# A sentence that opens with a name as its topic states something about that name.
_OPENING_TOPIC = re.compile(r"(은|는|이란|란|이라는|라는)")


def _definition_body(toks: list) -> list | None:
    """The first sentence of a definitional statement without its predicate: "…돈을 푸는 정책이다. …"
    and "…오르는 현상을 말한다." become the noun phrases "…돈을 푸는 정책", "…오르는 현상"; None when the
    first sentence is not one."""
    for k, t in enumerate(toks):
        if t.tag == "SF":
            if t.form != ".":
                return None  # "…좋은 거야?": a question
            toks = toks[:k]
            break
    if not toks or toks[-1].tag != "EF" or toks[-1].form not in _DECLARATIVE:
        return None
    end = len(toks)
    while end and toks[end - 1].tag.startswith("E"):
        end -= 1
    if any(t.tag == "EP" for t in toks[end:]):
        return None  # "…큰 적자였다": a past event, not a definition
    if end >= 2 and toks[end - 1].tag == "VCP":
        body = toks[:end - 1]
    else:
        j = end - 1 - (end >= 1 and toks[end - 1].tag == "XSV")
        if not (j >= 2 and toks[j].form in _DEFINING_VERBS and toks[j - 1].tag == "JKO"):
            return None
        body = toks[:j - 1]
    # a clause and the noun it describes: "…푸는 정책", "…오르는 현상" (not "…출자액이 500억원", nor a
    # news sentence's "…늘었다는 분석")
    k = len(body)
    while k and (body[k - 1].tag.startswith("NN") or body[k - 1].tag == "JKG" and k < len(body)) and len(body) - k < 4:
        k -= 1  # "…나눠 주는 몫의 비율": nouns, maybe joined by 의
    if k == len(body) or not k or body[k - 1].tag != "ETM" or body[-1].form in _REPORTING:
        return None
    return body


def is_description(query: str, names: tuple[str, ...] | list[str] = ()) -> bool:
    """True for a noun phrase that describes a concept: "…을 갚지 못하는 상태", "수출액에서 수입액을 뺀 것".

    An adnominal ending (-는/-ㄴ/-ㄹ) somewhere, a noun at the end, and no question words. In such
    a phrase the glossary names it contains are its building blocks, not what it asks for. An ending
    read inside one of `names` (keys of glossary names the question holds) is part of that name, not of
    a description: "짠테크 방법" is 짠테크 + 방법, not 짜다 + 테크.
    """
    if _HOW_IDIOM.search(query[:200]) or how_to(query, names):
        return False
    toks = list(analyse(query[:200]))
    body = _definition_body(toks)
    if body is not None:
        # A dictionary's sentence without the term ("중앙은행이 국채를 사들여 돈을 푸는 정책이다."), unless it
        # opens with a name as its topic ("기준금리는 한국은행이 정하는 금리이다." is about 기준금리).
        key = norm_key(query[:200])
        if any(key.startswith(n) and _OPENING_TOPIC.match(key, len(n)) for n in names):
            return False
        toks = body
    toks = [t for t in toks if not t.tag.startswith(("S", "J"))]
    if not toks or not toks[-1].tag.startswith(("NN", "NR", "XSN")):
        return False
    spans = [(m.start(), m.end()) for key in names for m in re.finditer(re.escape(key), norm_key(query[:200]))]

    def in_name(t) -> bool:
        at = len(norm_key(query[:t.start]))
        return any(a <= at < b for a, b in spans)

    if any(t.form in _ASKING for t in toks) or not any(t.tag == "ETM" and not in_name(t) for t in toks):
        return False
    return toks[-1].form not in _ASKING_HEADS


@functools.cache
def _unknown_id() -> int:
    """The morpheme id Kiwi gives a noun it does not know."""
    return analyse("뀕뀕뀕")[0].id


def dictionary_word(word: str) -> bool:
    """True if Kiwi reads `word` as one noun of its own dictionary ("광합성", "블랙홀"): a real word, so not
    a misspelling of a glossary name one letter away (광합성 is not 경합성). Misspellings ("인풀레이션",
    "베블렌효과") are unknown to it or split."""
    toks = analyse(word.strip()[:40])
    if len(toks) != 1 or not toks[0].tag.startswith("NN"):
        return False
    return toks[0].id != _unknown_id()


def description_head(query: str) -> str | None:
    """The head noun of a description ("…나눈 비율" -> "비율"), or None if it is not a description.

    Korean compounds are head-final, so the described term usually ends with it (유동비율, 콜금리).
    """
    if not is_description(query):
        return None
    toks = [t for t in analyse(query[:200]) if t.tag.startswith(("NN", "NR"))]
    head = toks[-1].form if toks else ""
    return head if len(head) >= 2 and head not in STOP else None


# How the head noun of a description shows up at the end of a term's name: a "비율" is often a
# -율/-률 (실업률), a "상품" or "재화" a -재 (대체재), a "위험" a 리스크, a "채권" a -채 (회사채).
_GENUS_ENDINGS = {
    "비율": ("비율", "율", "률"), "위험": ("위험", "리스크"), "리스크": ("리스크", "위험"),
    "금리": ("금리", "이자율"), "이자율": ("이자율", "금리"), "상품": ("상품", "재"), "재화": ("재화", "재"),
    "물건": ("재",), "세금": ("세금", "세"), "제도": ("제도", "제"), "거래": ("거래", "매매"),
    "채권": ("채권", "채", "본드"), "주식": ("주식", "주"), "이익": ("이익", "익"), "손실": ("손실", "손"),
}


def genus_endings(head: str) -> tuple[str, ...]:
    """Name endings that mark a term as a kind of `head` ("비율" -> 비율, 율, 률)."""
    return _GENUS_ENDINGS.get(head, (head,))


def is_difference_question(query: str) -> bool:
    return bool(_DIFF.search(query))


_QUESTION = re.compile(r"\?|왜|누가|누구|어떻게|어떤|어디|언제|얼마|몇|뭐|무엇|무슨|(나요|까요|니|냐)\s*$")
# "…그걸 뭐라고 해?", "…가 내는 지수 뭐야?", "…받은 사람 누구야?": asking to name something, not about the
# name the question opens with ("기준금리가 뭐야?" is an exact name, decided before this is asked)
_ASKS_NAME = re.compile(r"뭐라|무엇이라|이름|용어|일컫|칭하|(을|를)\s*(뭐|무엇)|라고\s*(해|하|불러|부르)"
                        r"|(이것|이거|그것|그거)|(이|그)(건|게)\s"
                        r"|(뭐|무엇|누구|어디)\s*(야|였|예요|에요|일까|인가|인지|지|죠|냐|니|임|\?|$)"
                        r"|[는은던할한된인]\s+([가-힣A-Za-z]+\s+){0,2}[가-힣A-Za-z]+?\s*(이|가|은|는)?\s*(뭐|무엇|뭔)")


def asks_about_its_subject(query: str) -> bool:
    """True for a question about something it names ("부가가치세는 누가 부담해?", "공매도는 왜 개인들이
    싫어해?"); False for a statement ("유럽연합은 … 관세를 매기기로 했다."), a noun phrase
    ("중앙은행이 … 설명해 기대를 이끄는 활동"), a request for a name ("연준은 물가랑 고용을 둘 다 챙겨야
    된다던데 그걸 뭐라 해?", "한국은행이 매달 내는 심리 지수 뭐야?"), a comparison, a question with a
    second topic ("원화가 절상되면 수출 기업은 어떻게 돼?" asks about 절상 as much as about 원화), and a
    condition on it ("환율이 오르면 …": the movement's effect, answered by 평가절하)."""
    text = query[:200].strip()
    if not _QUESTION.search(text) or text.rstrip(" .!").endswith("다"):
        return False
    if _ASKS_NAME.search(text) or is_difference_question(text):
        return False
    toks = analyse(text)
    marks = [t for t in toks if t.tag in ("JX", "JKS")]
    if any(t.tag == "JX" and t.form in ("은", "는") for t in marks[1:]):
        return False  # a second topic ("원화가 절상되면 수출 기업은 어떻게 돼?"): not about the first alone
    clause = next((t for t in toks if marks and t.start > marks[0].start and t.tag == "EC"), None)
    if clause is not None and clause.form.endswith("면"):
        return False  # "환율이 오르면 수출에 어떤 영향이 있어?": the effect of its movement (평가절하), not 환율 itself
    toks = [t for t in toks if not t.tag.startswith(("S", "J"))]
    return bool(toks) and not toks[-1].tag.startswith(("NN", "NR", "XSN"))


def word_starts(text: str) -> frozenset[int]:
    """Offsets in `norm_key(text)` where a word of `text` begins ("미리 보여주는" -> {0, 2})."""
    starts, pos = set(), 0
    for word in text.split():
        starts.add(pos)
        pos += len(norm_key(word))
    return frozenset(starts)


def _spans_words(qkey: str, key: str, starts: frozenset[int]) -> bool:
    """True if every occurrence of `key` begins inside one word and runs on into the next:
    "리보" in "미리 보여주는" is two word pieces, not a name; "국내 총생산" starts at a word."""
    for m in re.finditer(re.escape(key), qkey):
        if m.start() in starts or not any(m.start() < b < m.end() for b in starts):
            return False
    return True


def contained_keys(qkey: str, keys, starts: frozenset[int] = frozenset()) -> list[str]:
    """Glossary keys found inside the normalised query, keeping only the longest overlapping ones.

    Latin keys must stand alone ("ai" is not found in "aids", "per" is in "PER, ROE"); Hangul keys need two
    syllables and, given the query's word `starts`, must not join the end of one word to the start of the next.
    """
    found = []
    for key in keys:
        if len(key) < 2 or key not in qkey:
            continue
        if starts and _spans_words(qkey, key, starts):
            continue
        if _LATIN.match(key[0]):
            ok = False
            for m in re.finditer(re.escape(key), qkey):
                before = qkey[m.start() - 1] if m.start() else ""
                after = qkey[m.end()] if m.end() < len(qkey) else ""
                # a word boundary of the question counts too: "PBR이랑 PER, ROE는" holds per and roe
                if ((not (before and _LATIN.match(before)) or m.start() in starts)
                        and (not (after and re.match(r"[a-z]", after)) or m.end() in starts)):
                    ok = True
                    break
            if not ok:
                continue
        found.append(key)
    return [k for k in found if not any(k != o and k in o for o in found)]


class TypoIndex:
    """Names by their jamo spelling, for "did you mean" on misspelt terms ("인풀레이션" -> 인플레이션)."""

    def __init__(self, keys) -> None:
        self.keys = [k for k in keys if len(k) >= 2]
        self.jamo = [to_jamo(k) for k in self.keys]

    def near(self, text: str, limit: int = 5, min_ratio: float = 75.0) -> list[tuple[str, float]]:
        """Names whose jamo spelling is close to `text`, as (key, similarity 0..1), nearest first.

        Similarity is rapidfuzz's normalised indel ratio over jamo, so one wrong vowel in a
        five-syllable word ("인풀레이션") scores about 0.92, and "스테그네이션" still reaches
        "스태그플레이션" (0.76).
        """
        from rapidfuzz import fuzz, process

        j = to_jamo(norm_key(text))
        if len(j) < 4:
            return []
        found = process.extract(j, self.jamo, scorer=fuzz.ratio, score_cutoff=min_ratio, limit=limit)
        return [(self.keys[i], score / 100) for _, score, i in sorted(found, key=lambda x: -x[1])]


def suffix_stems(keys) -> dict[str, str]:
    """Name keys without a final -화/-제 suffix, to the key they shorten: people drop it in speech
    ("고향사랑 기부하면" for 고향사랑기부제, "금융실명" for 금융실명제). Only where Kiwi reads the last
    syllable as a suffix (기축통화 is 기축 + 통화, no stem), the stem has three syllables or more, and it
    is not itself a name."""
    out = {}
    for key in keys:
        if len(key) < 4 or key[-1] not in "화제" or not re.fullmatch(r"[가-힣]+", key) or key[:-1] in keys:
            continue
        last = analyse(key)[-1]
        if last.form == key[-1] and last.tag == "XSN" and last.start == len(key) - 1:
            out.setdefault(key[:-1], key)
    return out
