"""finterm's Streamlit app — the entry script of `finterm ui` (or `streamlit run ui/app.py`).

It opens the index once (cached), draws the shared sidebar, and hands over to the page the user
picked. Pages are scripts beside this one, listed in PAGES: that list is the only place a page is
registered. The index served is `FINTERM_INDEX` (set by `finterm ui --index`), else the default.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from finterm.ui import mock_page, news_page, sidebar, state, study_pages

HERE = Path(__file__).resolve().parent
# A local icon: Streamlit fetches ":material/…" and emoji page icons from a font host, which fails offline.
ICON = HERE / "favicon.png"
# Korean wraps at word boundaries (keep-all), long Latin strings may still break anywhere.
CSS = "<style>body, p, li, td, th, div, span, label { word-break: keep-all; overflow-wrap: anywhere; }</style>"

# Every page of the app, in menu order: (script beside this file or page function, title, icon, URL path).
PAGES = [
    ("ask_page.py", "질문하기", ":material/chat:", "ask"),
    ("glossary_page.py", "용어 사전", ":material/menu_book:", "glossary"),
    (study_pages.quiz_page, "TESAT 퀴즈", ":material/quiz:", "quiz"),
    (study_pages.check_page, "답안 확인", ":material/fact_check:", "check"),
    (mock_page.mock_page, "모의고사", ":material/timer:", "mock"),
    (news_page.news_page, "뉴스 읽기", ":material/newspaper:", "news"),
]


def main() -> None:
    st.set_page_config(page_title="finterm — 경제·금융 용어", page_icon=str(ICON), layout="wide")
    st.html(CSS)
    nav = st.navigation([st.Page(script if callable(script) else HERE / script, title=title, icon=icon,
                                 url_path=url, default=n == 0)
                         for n, (script, title, icon, url) in enumerate(PAGES)])
    retriever = state.retriever()
    st.session_state["settings"] = sidebar.render(retriever)
    nav.run()


main()
