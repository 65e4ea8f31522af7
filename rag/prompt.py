"""The LLM prompt: the seed model's `### 질문: …\n\n### 답변:` format with numbered definitions inside.

The fine-tuned model was trained on exactly `### 질문: {question}\n\n### 답변:`; the retrieved
definitions go inside the 질문 block so the format the model knows is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from finterm import FintermError
from finterm.index.entry import Entry

INSTRUCTION = ("다음 용어 정의만 근거로 질문에 답하세요. 근거가 된 정의의 번호를 [1]처럼 문장 끝에 붙이고, "
               "정의에 없는 내용은 지어내지 마세요.")
ANSWER_MARK = "### 답변:"


def format_prompt(question: str, entries: Sequence[Entry]) -> str:
    """The prompt text for a question and its numbered definitions (no length limit)."""
    refs = "\n".join(f"[{n}] {e.term}: {e.definition}" for n, e in enumerate(entries, 1))
    body = f"{INSTRUCTION}\n\n{refs}\n\n질문: {question}" if entries else question
    return f"### 질문: {body}\n\n{ANSWER_MARK}"


def build_prompt(question: str, entries: Sequence[Entry], *, count_tokens: Callable[[str], int] | None = None,
                 budget: int | None = None) -> tuple[str, list[Entry]]:
    """The prompt and the definitions it really holds, fitted to `budget` tokens.

    The lowest-ranked definitions are dropped first; if the best one alone is still too long,
    its definition is cut (by halves, then trimmed) until the prompt fits. `count_tokens` should be
    the generating model's tokenizer; without it and a budget no fitting is done.
    """
    entries = list(entries)
    if count_tokens is None or budget is None:
        return format_prompt(question, entries), entries
    if count_tokens(format_prompt(question, [])) > budget:
        raise FintermError(f"the question alone needs more than {budget} tokens; ask a shorter question")
    while entries and count_tokens(format_prompt(question, entries)) > budget:
        if len(entries) > 1:
            entries.pop()
            continue
        e = entries[0]
        text = e.definition
        lo, hi = 0, len(text)  # longest prefix that fits, by bisection on characters
        while lo < hi:
            mid = (lo + hi + 1) // 2
            cut = Entry(**{**e.__dict__, "definition": text[:mid] + "…"})
            if count_tokens(format_prompt(question, [cut])) <= budget:
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            entries = []
        else:
            entries = [Entry(**{**e.__dict__, "definition": text[:lo] + "…"})]
        break
    return format_prompt(question, entries), entries


def answer_part(decoded: str) -> str:
    """The seed's post-processing: keep what follows `### 답변:` and cut after the last sentence end."""
    text = decoded.split(ANSWER_MARK, 1)[1] if ANSWER_MARK in decoded else decoded
    text = text.split("### 질문:", 1)[0].strip()
    last = max(text.rfind(m) for m in ".?!")
    return text[:last + 1].strip() if last >= 0 else text
