"""What a question asks for: its intent, read with a few ordered rules over the question's words.

    intent_of("환율이 오르면 수출에 어떤 영향이 있어?")   -> Intent("effect")
    intent_of("비트코인 시세 알려줘")                      -> Intent("cannot", cannot="price")

Intents: define, effect, how, why, who (who/where), when, amount (a number fixed by a rule: a limit, a rate, a
threshold), example, difference, relation, and cannot (a live price, a forecast or personal advice: things a
glossary does not know). The first rule that matches
wins, so the order below is part of the design: "누가 정해?" is who before how, "오르면 … 왜" is why
before effect. Measured on bench/data/answers.jsonl by bench/answers.py (intent accuracy per intent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finterm.rag.query import is_difference_question

INTENTS = ("define", "effect", "how", "why", "who", "when", "amount", "example", "difference", "relation", "cannot")

# Things a glossary cannot know, by kind. A forecast is a question about the future in the -ㄹ까 form
# ("오를까", "인하될까") or with 전망/예측; a price asks for a current number; advice asks what *I* should do.
_CANNOT = (
    ("advice", re.compile(r"추천|사도\s*(돼|되|괜찮)|사야\s*(돼|되|해|하)|팔아야|살까|팔까|투자해도|투자할까|"
                          r"뭐가\s*나아|어디에\s*투자|들어가도\s*(돼|될)")),
    ("forecast", re.compile(r"전망(?!\s*(이란|이\s*뭐|의\s*뜻))|예측해|예상해\s*줘|"
                            r"(오를|내릴|떨어질|오르|상승할|하락할|인하될|인상될|될|올릴|내려갈|올라갈)까|"
                            r"언제\s*(내릴|올릴|내려|올라|오를|인하|인상)")),
    ("price", re.compile(r"시세|얼마(야|예요|에요|인가|냐|죠|지|\s*해)|몇\s*(퍼센트|%|프로|원|이야|인가|야)|"
                         r"지금\s*몇|(주가|가격|금리|환율)\s*(좀\s*)?알려|현재\s*(가격|환율|금리|주가)")),
)

# "몇 퍼센트야" asks for a live number unless it is about a number a rule fixes: a limit, a tax rate, a
# threshold, a target ("상한가 몇 퍼센트야?", "예금자보호 한도 얼마야?", "법정 최고금리 몇 %야?"). Those are in
# the definitions, so they are answered ("amount"); a market price or a statistic with no such word stays a
# cannot-know question ("기준금리 몇 퍼센트야?", "실업률 몇 퍼센트야?", "오늘 환율 얼마야?"). A rate named with
# 율 is a rule only when it is one by name (세율, 지급준비율, 보험료율): 전세가율 and 연체율 are statistics.
_FIXED_NUMBER = re.compile(r"한도|상한|하한|제한\s*폭|가격\s*제한|세율|공제|요건|최고\s*금리|법정|최대|최소|최저|"
                           r"목표|기준(?!\s*금리)|비율|(지급준비|보험료|수수료|분담)율|보호\s*(한도|금액)|"
                           r"\S세(금)?\s*(는|가|은|이)?\s*(몇|얼마)")  # a tax: "부가가치세 몇 퍼센트야?"
# A price is live even next to such a word ("삼성전자 주가 상한가 얼마야?" needs today's price); "지금" is not
# ("예금자보호 한도 지금 얼마야?" asks the rule now), nor a market's name ("코스피 상한가 몇 퍼센트야?").
_LIVE = re.compile(r"시세|주가|환율|유가|금값|가격(?!\s*제한)|시가\s*총액|집값|전셋값")

_RULES = (
    # Not inside a name: 관계기업, 산업연관표, 연결재무제표 are terms, not "relation" cues.
    ("relation", re.compile(r"관계(?!기업|회사|형|사\b)|상관|연관(?!표|산업)|연결(?!재무|납세|회계|기준|실체|대상)")),
    ("example", re.compile(r"예시|예를|예는|예가|예로|예\s*좀|예\s*들|의\s*예\W*$|사례|example", re.IGNORECASE)),
    ("who", re.compile(r"누가|누구|어디서|어디에서|어디가|어디에|어느\s*(기관|나라|곳|시장)|기관은|기관이|발표\s*기관|"
                       r"운영\s*기관|주도")),
    # When something happened or is due ("석유파동은 언제 일어났어?", "예산안은 언제까지 통과해야 돼?"); a forecast
    # ("언제 내릴까") is a cannot-know question and was caught above.
    ("when", re.compile(r"언제|몇\s*년(도)?(에|부터|까지)|몇\s*월|며칠|(법정\s*)?시한|기한(은|이|까지)")),
    # How much or how many, once a live price was ruled out ("상한가 몇 퍼센트야?"); "얼마나" asks a degree.
    ("amount", re.compile(r"얼마(?!나)|몇\s*(퍼센트|%|프로|원|배|개|명|곳|살|세|개월|"
                          r"년\s*(이|마다|간|동안|짜리|이상|이하))")),
    ("why", re.compile(r"왜|이유|까닭|원인|목적|필요(해|한|하|성)|생겨|생기(나|는지|죠)")),
    ("how", re.compile(r"계산|구하|구해|공식|산출|산정|측정|재는|어떻게\s*(정해|정하|결정|매기|만들)|정해지|결정되|"
                       r"방법|식은|대안|대응|해결")),
    ("effect", re.compile(r"영향|어떻게\s*(돼|되|변|바뀌|달라)|\S*(오르|올라|올리|내리|내려|늘|줄|상승|하락|인상|인하|"
                          r"높아지|낮아지|높이|낮추|떨어지|떨어|약세|강세|절상|절하|커지|작아지|증가|감소|급등|급락|"
                          r"좋아지|나빠지|되)\S*(으)?면(\s|$|\?)")),
)


@dataclass(frozen=True)
class Intent:
    """The intent of one question; `cannot` says which kind of thing a glossary cannot know."""

    name: str
    cannot: str | None = None  # "price" | "forecast" | "advice" when name == "cannot"

    def __post_init__(self) -> None:
        if self.name not in INTENTS:
            raise ValueError(f"intent {self.name!r} is unknown; use one of {', '.join(INTENTS)}")


def intent_of(question: str) -> Intent:
    """The intent of `question` (Korean, as typed); "define" when nothing else matches."""
    q = " ".join(question.split())
    for kind, pattern in _CANNOT:
        if pattern.search(q) and not (kind == "price" and _FIXED_NUMBER.search(q) and not _LIVE.search(q)):
            return Intent("cannot", cannot=kind)
    if is_difference_question(q) and not _RULES[0][1].search(q):  # "금리 차이와 환율의 관계" is a relation
        return Intent("difference")
    for name, pattern in _RULES:
        if pattern.search(q):
            return Intent(name)
    return Intent("define")


# Words that only say *what kind* of answer is wanted; removed before searching a cannot-know question
# ("비트코인 시세 알려줘" is searched as "비트코인").
_CANNOT_WORDS = re.compile(
    r"(오늘|내일|지금|요즘|현재|올해|내년|다음\s*(달|주|해)에?|앞으로|당장|나한테|나에게|내\s*상황에)\s*|"
    r"(의\s*)?(시세|전망|가격|주가|추천|예측)(은|는|을|를|이|가)?\s*|"
    r"(얼마|몇\s*(퍼센트|%|프로|원)?)\S*|(좀\s*)?(알려\s*줘|알려\s*주세요|알려|어때요?|해\s*줘|해\s*주세요)\s*|"
    r"(사도|사야|팔아야|투자해도)\s*(돼|되|해|하)\S*|\S*(할|될|릴|를|을)까\S*|언제\s*|어떤\s*|맞는\s*|사면\s*좋을지\s*")


def topic_of_cannot(question: str) -> str:
    """The subject of a cannot-know question, without the price/forecast/advice words (may be empty)."""
    return " ".join(_CANNOT_WORDS.sub(" ", question).replace("?", " ").split())
