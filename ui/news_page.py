"""뉴스 읽기: paste a Korean economic article; every glossary term in it is marked (`finterm.rag.news`,
like `finterm read`), each with its short definition and source one click away, listed by how central
it is to the article; one click makes a quiz from those terms or an Anki deck of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from finterm.ui import state
from finterm.ui.render import esc

FOUND = "news_found"  # session key: (text, [Found])


def marked_markdown(text: str, found) -> str:
    """`text` as safe markdown with every marked span highlighted (the article's own words, escaped)."""
    out, last = [], 0
    for start, end in sorted(s for f in found for s in f.spans):
        out.append(esc(text[last:start]))
        out.append(f":blue-background[**{esc(text[start:end])}**]")
        last = end
    out.append(esc(text[last:]))
    return "".join(out)


def _quiz(retriever, found) -> None:
    from finterm.rag.news import news_quiz
    from finterm.ui.study_pages import QUIZ

    questions = news_quiz(retriever, found)
    st.session_state[QUIZ] = {"questions": questions, "i": 0, "right": 0, "answered": 0, "choice": None}
    st.session_state["news-quiz-made"] = len(questions)


def _anki(found) -> bytes:
    from finterm.rag.export import export

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "news.apkg"
        export([f.entry for f in found], out, "anki")
        return out.read_bytes()


def news_page() -> None:
    """뉴스 읽기 page."""
    from finterm import FintermError
    from finterm.rag.news import read_news

    retriever = state.retriever()
    st.title("뉴스 읽기", anchor=False)
    st.caption("경제 기사 본문을 붙여 넣으면 용어집에 있는 용어를 모두 표시합니다 (인터넷에서 가져오지 않습니다).")
    with st.form("news-form"):
        text = st.text_area("기사 본문", key="news-text", height=220,
                            placeholder="예: 한국은행이 기준금리를 동결했다. 소비자물가지수 상승률은 …")
        submitted = st.form_submit_button("용어 찾기", type="primary")
    if submitted:
        try:
            st.session_state[FOUND] = (text, read_news(retriever, text))
        except FintermError as exc:
            st.error(str(exc))
            st.session_state.pop(FOUND, None)
            return
    if FOUND not in st.session_state:
        return
    text, found = st.session_state[FOUND]
    if not found:
        st.warning("용어집에 있는 용어를 찾지 못했습니다.")
        return
    cols = st.columns([2, 1])
    with cols[0].container(border=True):
        st.markdown(marked_markdown(text, found))
    with cols[1]:
        st.markdown(f"**찾은 용어 {len(found)}개** (기사에서 중요한 순)")
        for k, f in enumerate(found):
            with st.expander(f"{f.entry.term} ×{len(f.spans)}", key=f"news-term-{k}"):
                st.text(f.short_definition)
                st.caption(f"{esc(f.entry.category or '-')} · 출처: {esc(f.entry.source)}")
        st.button("이 용어들로 퀴즈 만들기", key="news-quiz", on_click=_quiz, args=(retriever, found),
                  type="primary")
        if st.session_state.pop("news-quiz-made", None):
            st.success("퀴즈를 만들었습니다. 'TESAT 퀴즈' 페이지에서 풀어 보세요.")
        st.download_button("Anki 카드로 내보내기 (.apkg)", _anki(found), file_name="finterm-news.apkg",
                           mime="application/octet-stream", key="news-anki")
