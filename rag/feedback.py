"""Written feedback on a checked answer, by the fine-tuned model, grounded in the reference.

The verdict, score and missing concepts come from rag/check.py: the model never decides them. It is
asked, in the seed's `### 질문 … ### 답변:` format with the reference definition numbered inside the
question, to explain what the student's answer got right and what it should fix. Each sentence it
writes is checked against the reference like a generated answer (rag/grounding.py): supported
sentences carry [1], the rest are marked as unsupported. The feedback always says it was generated.
"""

from __future__ import annotations

from dataclasses import dataclass

from finterm.rag.answer import Sentence
from finterm.rag.check import VERDICT_KO, CheckResult
from finterm.rag.grounded import checked_text, fit_prompt

MAX_ANSWER_CHARS = 400  # the student's text quoted in the prompt; the rest would crowd out the definition
GENERATED_NOTE = "모델이 작성한 피드백입니다 (generated): 채점은 정의와의 비교로 했고, 이 글은 참고용입니다."


@dataclass(frozen=True)
class Feedback:
    text: str  # the model's feedback, [1] after sentences the reference supports
    generator: str
    sentences: tuple[Sentence, ...]
    model: dict | None = None
    generated: bool = True

    def to_json(self) -> dict:
        return {"text": self.text, "generated": self.generated, "generator": self.generator,
                "note": GENERATED_NOTE, "sentences": [s.to_json() for s in self.sentences], "model": self.model}


def feedback_question(result: CheckResult, answer: str) -> str:
    """The question put to the model: the student's answer, the verdict, and what to write."""
    quoted = " ".join(answer.split())[:MAX_ANSWER_CHARS]
    missing = ", ".join(result.missing) if result.missing else "없음"
    closer = f" 답안은 '{result.closer_to.term}'의 뜻에 더 가깝다." if result.closer_to is not None else ""
    return (f"학생이 '{result.reference.term}'의 뜻을 이렇게 답했다: \"{quoted}\" 채점 결과는 "
            f"{VERDICT_KO[result.verdict]}이고, 빠진 핵심 개념은 {missing}이다.{closer} 위 정의에 근거해 "
            f"답안에서 맞은 점과 고칠 점을 두세 문장으로 설명하라.")


def written_feedback(result: CheckResult, answer: str, generator) -> Feedback:
    """Feedback on `answer` from `generator` (a QLoRAGenerator or anything with its interface)."""
    prompt, entries = fit_prompt(feedback_question(result, answer), [result.reference], generator)
    text, sentences = checked_text(generator.generate(prompt), entries)
    return Feedback(text=text, generator=generator.name, sentences=sentences, model=generator.model_info())
