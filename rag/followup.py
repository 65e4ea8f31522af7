"""Follow-up questions in a conversation: "그럼 그게 오르면 대출 이자는?" after "기준금리가 뭐야?".

    turns = [Turn("기준금리가 뭐야?", ("기준금리",))]
    r = resolve("그럼 그게 오르면 대출 이자는 어떻게 돼?", turns)
    r.question  -> "기준금리가 오르면 대출 이자는 어떻게 돼?"
    r.carried   -> ("기준금리",)
    r.note      -> "이전 질문의 '기준금리'에 대해 답합니다"

A question leans on the previous turn when it points back (그게, 그거, 그건, 이건, 그럼, 반대로, 그 차이…)
or names nothing of its own. The pronoun is replaced by the last turn's term (particle fitted); a bare
"그 차이는?" compares the last two terms; "반대로 …" and "그게 떨어지면?" after a question about a
movement ask that question again with the other movement. What was assumed is said in `note`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from finterm import FintermError

# Words that point back to the previous turn. "그" alone is too common ("그 나라"), so only its forms.
_POINTER = re.compile(r"(?<![가-힣])(그게|그거|그건|그걸|그것[은이을도]?|이건|이게|이거|이걸|이것[은이을도]?|"
                      r"그럼|그러면|그렇다면|반대로|그\s*차이|그\s*반대|그\s*예|이럴\s*때|이때|그때)(?![가-힣])")
# What each pointer becomes: (particle after a final consonant, without one).
_PARTICLES = {"그게": ("이", "가"), "이게": ("이", "가"), "그건": ("은", "는"), "이건": ("은", "는"),
              "그걸": ("을", "를"), "이걸": ("을", "를"), "그거": ("", ""), "이거": ("", ""),
              "그것은": ("은", "는"), "그것이": ("이", "가"), "그것을": ("을", "를"), "그것": ("", ""),
              "이것은": ("은", "는"), "이것이": ("이", "가"), "이것을": ("을", "를"), "이것": ("", "")}
_LEAD = re.compile(r"^\s*(그럼|그러면|그렇다면)\s*")
_MOVE = re.compile(r"(오르|올라가|상승하|인상되|인상하|올리|늘|늘어나|증가하|내리|내려가|하락하|인하되|인하하|낮추|"
                   r"떨어지|줄|줄어들|감소하)면")
_FLIP = {"오르": "내리", "올라가": "내려가", "상승하": "하락하", "인상되": "인하되", "인상하": "인하하", "올리": "내리",
         "늘": "줄", "늘어나": "줄어들", "증가하": "감소하"}
_FLIP.update({v: k for k, v in list(_FLIP.items())})
_FLIP.update({"낮추": "올리", "떨어지": "오르"})


@dataclass(frozen=True)
class Turn:
    """One earlier turn: the question and the terms its answer cited (first = what it was about)."""

    question: str
    terms: tuple[str, ...] = ()

    @classmethod
    def from_answer(cls, answer) -> Turn:
        return cls(answer.asked or answer.question, tuple(c.term for c in answer.citations))

    def to_json(self) -> dict:
        return {"question": self.question, "terms": list(self.terms)}

    @classmethod
    def from_json(cls, d: dict) -> Turn:
        q = d.get("question", d.get("q"))
        if not isinstance(q, str) or not q.strip():
            raise ValueError("a turn needs a \"question\" (or \"q\") string")
        terms = d.get("terms", [])
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError("\"terms\" must be a list of strings")
        return cls(q, tuple(terms))


def read_history(path: str | Path) -> list[dict]:
    """The turns of a JSONL history file: {"question": …, "terms": […]} per line (terms optional)."""
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FintermError(f"cannot read the history file {path}: {exc.strerror}; pass a JSONL file") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            Turn.from_json(d)
        except (ValueError, AttributeError) as exc:
            raise FintermError(f"{path}:{n}: {exc}; expected {{\"question\": \"…\", \"terms\": [\"…\"]}}") from None
        out.append(d)
    return out


@dataclass(frozen=True)
class Resolved:
    """A question made to stand alone: what retrieval sees, the terms carried over, and the note."""

    question: str
    carried: tuple[str, ...] = ()
    note: str | None = None


def leans_on_history(question: str, names_something: bool) -> bool:
    """Whether `question` needs the earlier turns: it points back, or names no term of its own."""
    return bool(_POINTER.search(question)) or not names_something


def _flip_movement(previous: str, question: str) -> str | None:
    """The previous question with its movement replaced (by the one asked now, or the opposite)."""
    old = _MOVE.search(previous)
    if not old:
        return None
    new = _MOVE.search(question)
    stem = new.group(1) if new else _FLIP.get(old.group(1))
    if not stem or stem == old.group(1):
        stem = _FLIP.get(old.group(1))
    return previous[:old.start(1)] + stem + previous[old.end(1):] if stem else None


def _fill(question: str, term: str) -> str:
    """`question` with its first pronoun replaced by `term` (particle fitted) and a leading 그럼 dropped."""
    from finterm.rag.respond import has_final

    text = _LEAD.sub("", question)
    m = re.search(r"(?<![가-힣])(그것[은이을]?|이것[은이을]?|그게|그거|그건|그걸|이건|이게|이거|이걸)(?![가-힣])", text)
    if m:
        with_final, without = _PARTICLES[m.group(1)]
        return text[:m.start()] + term + (with_final if has_final(term) else without) + text[m.end():]
    return f"{term} {text}".strip()


def resolve(question: str, history: list[Turn], *, names_something: bool = True) -> Resolved:
    """`question` made to stand alone with the last turns' terms (unchanged when it needs no history)."""
    last = next((t for t in reversed(history) if t.terms), None)
    if last is None or not leans_on_history(question, names_something):
        return Resolved(question)
    term = last.terms[0]
    bare = _LEAD.sub("", question).strip()
    # "그 차이는?" / "둘의 차이": the last two different terms of the conversation.
    if re.fullmatch(r"(그|둘의?|두\s*개의?)\s*차이(는|가|점은)?\s*(뭐야|뭐예요|뭔가요)?\??", bare):
        terms = list(dict.fromkeys(t for turn in reversed(history) for t in turn.terms[:1]))[:2]
        if len(terms) == 2:
            b, a = terms
            from finterm.rag.respond import josa

            return Resolved(f"{josa(a, '과', '와')} {b}의 차이는?", (a, b), _note((a, b)))
    # "반대로 내리면?", "그럼 그게 떨어지면?": the previous question about a movement, with this movement.
    short = len(re.sub(r"(?<![가-힣])(그럼|그러면|반대로|그게|그건|이건|이게)(?![가-힣])", "", bare).split()) <= 2
    if ("반대로" in question or short) and _MOVE.search(bare + " ") or "반대로" in question:
        flipped = _flip_movement(last.question, bare + " ")
        if flipped:
            return Resolved(flipped, (term,), _note((term,)))
    return Resolved(_fill(question, term), (term,), _note((term,)))


def _note(terms: tuple[str, ...]) -> str:
    return "이전 질문의 " + ", ".join(f"'{t}'" for t in terms) + "에 대해 답합니다"
