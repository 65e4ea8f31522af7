"""The glossary entry: one term, its aliases, a definition and where it came from.

Entries are frozen and validated when made, so everything downstream can trust them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

# Fixed category list of the bundled glossary. Imported glossaries may use other labels
# (or none); only the bundled one is held to this list by the validation test.
CATEGORIES: tuple[str, ...] = (
    "경제일반",
    "미시경제",
    "거시경제",
    "통화·중앙은행",
    "재정·조세",
    "금융시장·제도",
    "금융상품·투자",
    "국제경제",
    "회계·기업재무",
    "노동",
    "부동산",
    "디지털금융",
    "경제법칙·지표",
    "경제사상·인물",
    "경영·전략",
    "시사·산업",
    "개인금융",
)

BUNDLED_SOURCE = "finterm 기본 용어집"

_SENT = re.compile(r"(?<=[.!?])\s+")
# Sentence endings that say what something *is*: "…를 말한다", "…라 한다", "…을 의미한다".
_COPULA_END = re.compile(r"(이다|하다|말한다|뜻한다|의미한다|가리킨다|일컫는다|라 한다|이다\))[.]?$")
_DEFINING = re.compile(
    r"(말한다|(이)?라(고)? (한다|부른다)|의미한다|뜻한다|가리킨다|일컫는다|이다|계산한다|구한다|나타낸다)[.)]*$")


@dataclass(frozen=True)
class Entry:
    """One glossary entry in the native schema (see DESIGN.md)."""

    id: str
    term: str
    definition: str
    source: str
    aliases: tuple[str, ...] = ()
    category: str = ""
    related: tuple[str, ...] = ()
    example: str = ""
    url: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("id", "term", "definition", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"entry field {name!r} must be a non-empty string, got {value!r}")
        object.__setattr__(self, "aliases", tuple(a for a in self.aliases if a and a != self.term))
        object.__setattr__(self, "related", tuple(r for r in self.related if r and r != self.term))

    @classmethod
    def from_dict(cls, d: dict) -> Entry:
        """Build from a JSON object; lists become tuples and unknown keys are kept in `extra`."""
        known = {"id", "term", "definition", "source", "aliases", "category", "related", "example", "url"}
        kwargs = {k: d[k] for k in known if k in d and d[k] is not None}
        for key in ("aliases", "related"):
            value = kwargs.get(key, ())
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",")]
            kwargs[key] = tuple(str(v).strip() for v in value if str(v).strip())
        return cls(**kwargs, extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        """The JSON object of this entry (native schema, optional fields only when set)."""
        d = asdict(self)
        d.pop("extra")
        d["aliases"], d["related"] = list(self.aliases), list(self.related)
        for key in ("example", "url", "category"):
            if not d[key]:
                d.pop(key)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @property
    def names(self) -> tuple[str, ...]:
        """The term followed by its aliases."""
        return (self.term, *self.aliases)

    def defining_sentence(self) -> str:
        """The sentence that says what the term is: the first, unless a later one names and defines it.

        Real glossaries often open with context ("고용상황을 파악하고자 할 경우에는 …") and say what
        the term is only later ("… 비율을 실업률이라 한다").
        """
        sents = [x for x in _SENT.split(self.definition) if x.strip()]
        if not sents or self.term in sents[0] or _COPULA_END.search(sents[0]):
            return sents[0] if sents else self.definition
        rest = sents[1:]
        t = re.escape(self.term)
        named = re.compile(rf"{t}\s*(이)?라(고)?\s*(한다|부른다)|{t}(은|는|이란|란)\s")
        return next((x for x in rest if named.search(x) and _DEFINING.search(x)), sents[0])

    def passage(self, max_chars: int = 240) -> str:
        """The text embedded for dense retrieval: names, the defining sentence, then the rest.

        Cut at `max_chars`: on the BOK crawl (bench/passage_length.py) 120 chars builds in 41 s but
        loses recall (tuning-set R@1 0.813), 240 takes 65 s (0.885), 400 takes 114 s (0.878).
        """
        names = self.term + (f" ({', '.join(self.aliases[:4])})" if self.aliases else "")
        key = self.defining_sentence()
        body = self.definition if self.definition.startswith(key) else f"{key} {self.definition.replace(key, '')}"
        return f"{names}: {' '.join(body.split())[:max_chars]}"

    def content_hash(self, max_chars: int = 240) -> str:
        return hashlib.sha256(self.passage(max_chars).encode("utf-8")).hexdigest()
