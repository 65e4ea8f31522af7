"""질문하기: ask in a chat, get an answer with numbered source cards; history lives in the session.

Extractive answers come from `finterm.api.ask` (the function `finterm ask` and `finterm chat` use) with
the chat's earlier turns, so a follow-up ("그럼 그게 오르면?") is answered about the last term and says
so. A qlora answer is `finterm.api.prepare` (the same resolved question and sources) + `grounded_answer`,
as `finterm ask --stream` does: its words are shown while the model writes them, then the checked answer
with its [n] marks replaces them. Under an answer: up to three next-step buttons and the other hits,
each a button that asks about it. An abstained question shows "not in the glossary" and its suggestions
as buttons that ask again.
"""

from __future__ import annotations

import streamlit as st

from finterm.ui import render, state
from finterm.ui.render import esc

HISTORY = "chat"
PENDING = "pending_question"
GLOSSARY_PAGE = "glossary_page.py"


def ask_again(question: str) -> None:
    st.session_state[PENDING] = question


def open_entry(entry_id: str) -> None:
    st.session_state["entry_id"] = entry_id
    st.session_state["goto_glossary"] = True


def show_answer(answer, idx: int, *, requested: str, why_not: str = "") -> None:
    """One assistant turn: the answer (or "not in the glossary" + suggestions) and its source cards."""
    if answer.corrected_from:
        st.caption(esc(f"고쳐서 찾은 질문: {answer.question}"))
    if answer.note:
        st.caption(esc(answer.note), help=esc(f"찾은 질문: {answer.question}"))
    if answer.abstained:
        st.warning("용어집에서 찾지 못했습니다 (not in the glossary).")
        if answer.suggestions:
            st.markdown("혹시 이 용어인가요? 눌러서 다시 물어보세요:")
            cols = st.columns(min(len(answer.suggestions), 5))
            for j, term in enumerate(answer.suggestions):
                cols[j % len(cols)].button(esc(term), key=f"suggest-{idx}-{j}", on_click=ask_again,
                                           args=(term,))
    else:
        render.answer_body(answer, render.support_threshold())
        render.source_cards(answer, key=str(idx), on_open=open_entry, on_ask=ask_again)
        if answer.next_steps:
            cols = st.columns(len(answer.next_steps))
            for j, step in enumerate(answer.next_steps):
                cols[j].button(esc(step.label), key=f"next-{idx}-{j}", on_click=ask_again, args=(step.question,),
                               help=esc(step.question))
        if answer.suggestions and answer.hits and answer.hits[0].match != "exact":
            cols = st.columns([1, *[1] * len(answer.suggestions[:4])], vertical_alignment="center")
            cols[0].caption("혹시 이 용어? (did you mean)")
            for j, term in enumerate(answer.suggestions[:4]):
                cols[j + 1].button(esc(term), key=f"maybe-{idx}-{j}", on_click=ask_again, args=(term,))
    label = f"생성기: {answer.generator}"
    if requested != answer.generator and why_not:
        label += f" (선택: {requested} — {why_not})"
    st.caption(esc(label) + f" · 근거 {len(answer.citations)}개")


def ask_streaming(retriever, question: str, *, k: int, generator, history):
    """The grounded qlora answer, its text drawn piece by piece while the model writes it."""
    from finterm.api import finish_turn, prepare
    from finterm.rag.answer import not_found
    from finterm.rag.grounded import grounded_answer

    p = prepare(retriever, question, k=k, history=history)
    result = p.result
    if result.abstained:
        return finish_turn(not_found(result, generator.name), p)
    live = st.empty()
    shown: list[str] = []

    def on_text(piece: str) -> None:
        shown.append(piece)
        live.text("".join(shown) + " ▌")

    with st.spinner("답변을 쓰는 중… (qlora)"):
        answer = grounded_answer(result, generator, on_text=on_text)
    live.empty()
    return finish_turn(answer, p)


def page() -> None:
    from finterm import FintermError
    from finterm.api import ask
    from finterm.rag.followup import Turn

    if st.session_state.pop("goto_glossary", False):
        st.switch_page(GLOSSARY_PAGE)
    settings = st.session_state["settings"]
    retriever = state.retriever()
    st.title("질문하기", anchor=False)
    st.caption("경제·금융 용어를 물어보세요. 답은 용어집 정의에서 나오고, [n]은 아래 카드의 번호입니다.")
    history = st.session_state.setdefault(HISTORY, [])
    typed = st.chat_input("질문을 입력하세요 (예: 기준금리가 뭐야?)", key="question")
    question = typed or st.session_state.pop(PENDING, None)

    for idx, turn in enumerate(history):
        with st.chat_message("user"):
            render.text(turn["question"])
        with st.chat_message("assistant"):
            show_answer(turn["answer"], idx, requested=turn["requested"], why_not=turn["why_not"])
    if not question:
        if not history:
            st.info("예: 기준금리가 뭐야? · GDP · 인플레이션과 디플레이션의 차이")
        return
    with st.chat_message("user"):
        render.text(question)
    with st.chat_message("assistant"):
        turns = [Turn.from_answer(t["answer"]) for t in history if not t["answer"].abstained]
        try:
            if settings.generator is not None:
                answer = ask_streaming(retriever, question, k=settings.k, generator=settings.generator,
                                       history=turns)
            else:
                answer = ask(retriever, question, k=settings.k, history=turns)
        except FintermError as exc:
            st.error(esc(f"finterm: {exc}"))
            return
        show_answer(answer, len(history), requested=settings.requested, why_not=settings.why_not)
    history.append({"question": question, "answer": answer, "requested": settings.requested,
                    "why_not": settings.why_not})


if __name__ == "__main__":
    page()
