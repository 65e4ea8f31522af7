"""A generated answer, grounded: prompt fitted to the model, generate (or stream), check, cite.

    answer = grounded_answer(retriever.search(q), QLoRAGenerator(config))

or, for a UI that shows the words as they come (Streamlit's `st.write_stream`):

    s = GroundedStream(result, generator)
    st.write_stream(s)          # the model's text, live
    answer = s.answer()         # then the checked answer with [n] marks

The answer says which generator wrote it; there is no fallback to the extractive answer. A
question the retriever abstained on never reaches the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.rag.answer import Answer, Citation, Sentence, not_found
from finterm.rag.grounding import annotate, check_sentences
from finterm.rag.prompt import ANSWER_MARK, answer_part, build_prompt
from finterm.rag.retrieve import SearchResult

PARTIAL_MARK = "⚠ [미완성: 생성이 중간에 끊겼습니다 (partial)]"
NO_ANSWER = "모델이 답변 문장을 만들지 못했습니다. 아래 정의를 직접 확인하세요 (the model gave no answer)."
MIN_PROMPT_TOKENS = 32


def fit_prompt(question: str, entries: list[Entry], generator) -> tuple[str, list[Entry]]:
    """The `### 질문` prompt that fits the model's context with room for `max_new_tokens`.

    Counted with the model's own tokenizer; the lowest-ranked definitions are dropped first and
    the last one kept is cut if needed (see `build_prompt`).
    """
    context, new = generator.context_length, generator.config.max_new_tokens
    budget = context - new
    if budget < MIN_PROMPT_TOKENS:
        raise FintermError(f"max_new_tokens of {new} leaves no room for the question in the model's "
                           f"{context}-token context; use --max-new-tokens {max(1, context // 4)} or less")
    return build_prompt(question, entries, count_tokens=generator.count_tokens, budget=budget)


class _Display:
    """What to show while streaming: no leading space, nothing from a new `###` turn on."""

    def __init__(self) -> None:
        self.text = ""
        self.shown = 0
        self.stopped = False

    def feed(self, piece: str, final: bool = False) -> str:
        if self.stopped:
            return ""
        self.text += piece
        visible = self.text.lstrip()
        cut = visible.find("###")
        if cut >= 0:
            visible, self.stopped = visible[:cut].rstrip(), True
        elif not final:
            visible = visible.rstrip("#")  # could be the start of "###": wait for the next piece
        out = visible[self.shown:]
        self.shown = max(self.shown, len(visible))
        return out


class GroundedStream:
    """Iterate for the model's answer as it is written; then `answer()` checks and cites it."""

    def __init__(self, result: SearchResult, generator) -> None:
        if result.abstained or not result.hits:
            raise FintermError("retrieval abstained: nothing to ground an answer on; use not_found(result)")
        self.result = result
        self.generator = generator
        self.prompt, self.entries = fit_prompt(result.query, [h.entry for h in result.hits], generator)
        self._raw: str | None = None
        self.stopped: str | None = None  # why the generation stopped midway (a server stream cut)

    def __iter__(self) -> Iterator[str]:
        from finterm.rag.server_gen import PartialGeneration

        shown = _Display()
        pieces: list[str] = []
        try:
            for piece in self.generator.stream(self.prompt):
                pieces.append(piece)
                out = shown.feed(piece)
                if out:
                    yield out
        except PartialGeneration as exc:  # keep what came, marked: never shown as a complete answer
            self.stopped = str(exc)
        self._raw = "".join(pieces)
        tail = shown.feed("", final=True)
        if tail:
            yield tail

    def answer(self) -> Answer:
        """The checked answer; call after iterating to the end."""
        if self._raw is None:
            raise FintermError("the stream was not read to the end; iterate over it before answer()")
        return finish(self.result, self.generator, self.prompt, self.entries, self._raw, streamed=True,
                      stopped=self.stopped)


def checked_text(raw: str, entries: list[Entry]) -> tuple[str, tuple[Sentence, ...]]:
    """The model's continuation `raw` cut the seed's way and checked sentence by sentence against
    `entries`: (text with [n] after supported sentences and marks on the rest, the sentences)."""
    text = answer_part(ANSWER_MARK + raw)  # = the card's split of prompt + raw, whatever the question holds
    checked = check_sentences(text, entries) if text else []
    return (annotate(text, checked) if checked else NO_ANSWER,
            tuple(Sentence(c.text, c.support, c.citations) for c in checked))


def finish(result: SearchResult, generator, prompt: str, entries: list[Entry], raw: str, *,
           streamed: bool = False, stopped: str | None = None) -> Answer:
    """Post-process the model's continuation `raw` (the seed's way), check each sentence, cite.

    `stopped` (why the generation was cut midway) marks the answer partial, in its text and JSON.
    `model["new_tokens"]` is the length of `raw` in the tokens the prompt budget counts (so a reader
    sees an answer that ran into `max_new_tokens`, or one the model ended early)."""
    text, sentences = checked_text(raw, entries)
    model = {**generator.model_info(), "new_tokens": generator.count_tokens(raw) if raw else 0}
    if stopped:
        text, model = f"{PARTIAL_MARK} {text}", {**model, "stopped": stopped}
    cited = sorted({n for s in sentences for n in s.citations})
    citations = tuple(Citation(n, e.id, e.term, e.source) for n in cited for e in [entries[n - 1]])
    return Answer(question=result.query, text=text, abstained=False, citations=citations,
                  generator=generator.name, hits=result.hits, suggestions=result.suggestions,
                  sentences=sentences, model=model, streamed=streamed, partial=bool(stopped),
                  corrected_from=result.corrected_from)


def grounded_answer(result: SearchResult, generator, *,
                    on_text: Callable[[str], None] | None = None) -> Answer:
    """Answer from the retrieved definitions with `generator`, checked sentence by sentence.

    With `on_text` (or a generator that carries one, as `finterm ask --stream` makes) the text is
    passed to it as the model writes it. If retrieval abstained, the model is not called.
    """
    if result.abstained or not result.hits:
        return not_found(result, generator.name)
    on_text = on_text or getattr(generator, "on_text", None)
    if on_text is not None:
        stream = GroundedStream(result, generator)
        for piece in stream:
            on_text(piece)
        return stream.answer()
    prompt, entries = fit_prompt(result.query, [h.entry for h in result.hits], generator)
    return finish(result, generator, prompt, entries, generator.generate(prompt))
