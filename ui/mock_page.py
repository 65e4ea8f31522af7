"""모의고사: a timed mock test in TESAT's proportions (`finterm.rag.mock`, like `finterm quiz --mock`).

All items on one form, a timer that counts down on its own, no feedback until the form is
submitted; then the points, the time used, per-section results and the review list. Answers are
stored in the study database only then. The page says it is practice, not a TESAT score.
"""

from __future__ import annotations

import random
import time

import streamlit as st

from finterm.ui import state
from finterm.ui.render import esc

MOCK = "mock_test"  # session key: {"test", "started", "result"}


def _remaining(run: dict) -> float:
    return run["test"].minutes * 60 - (time.time() - run["started"])


@st.fragment(run_every=1.0)
def _timer() -> None:
    run = st.session_state.get(MOCK)
    if not run or run.get("result") is not None:
        return
    left = _remaining(run)
    if left > 0:
        st.markdown(f"⏱ **남은 시간 {int(left) // 60}:{int(left) % 60:02d}**")
        st.progress(max(0.0, min(1.0, left / (run["test"].minutes * 60))))
    else:
        st.error("⏱ 시간이 다 되었습니다. 지금 제출하세요 (늦게 낸 답안은 시간 초과로 표시됩니다).")


def _finish(answers: dict) -> None:
    from finterm.rag.mock import record_mock, score_mock
    from finterm.rag.study import StudyDB

    run = st.session_state[MOCK]
    seconds = time.time() - run["started"]
    run["result"] = score_mock(run["test"], answers, seconds)
    with StudyDB() as db:
        record_mock(db, run["test"], answers, session=f"mock-app-{int(run['started'])}")


def _result(run: dict) -> None:
    from finterm.rag.mock import NOTE
    from finterm.rag.quiz import CIRCLED

    r = run["result"]
    used = int(r.seconds)
    st.subheader(f"결과: {r.points} / {r.max_points}점 ({r.percent:g}%)", anchor=False)
    over = " · 제한 시간 초과" if r.seconds > r.minutes * 60 else ""
    st.caption(f"정답 {r.correct}/{r.total}문항 · 답한 문항 {r.answered} · 걸린 시간 {used // 60}분 {used % 60}초 "
               f"/ {r.minutes:g}분{over}")
    st.info(NOTE)
    st.dataframe([{"영역": s["section"], "문항": s["items"], "정답": s["correct"],
                   "점수": f"{s['points']}/{s['max_points']}"} for s in r.sections], hide_index=True)
    st.markdown(f"**다시 볼 문항 {len(r.review)}개**")
    for item in r.review:
        mine = CIRCLED[item["chosen"]] if item["chosen"] is not None else "무응답"
        with st.expander(f"{item['number']}. {item['section']} · {item['term']} · 내 답 {mine}"):
            st.text(item["prompt"])
            st.text("\n".join(f"{CIRCLED[k]} {o}" for k, o in enumerate(item["options"])))
            st.markdown(f"정답: **{CIRCLED[item['answer']]}**")
            st.text(item["explanation"])
            st.caption("출처: " + esc(item["source"]))


def mock_page() -> None:
    """모의고사 page."""
    from finterm import FintermError
    from finterm.rag.mock import NOTE, build_mock
    from finterm.rag.quiz import CIRCLED

    retriever = state.retriever()
    st.title("모의고사", anchor=False)
    st.caption("TESAT처럼 경제이론 · 시사경제·경영 · 상황판단(계산)을 30:30:20 비율로 섞어 냅니다. "
               "채점과 해설은 제출한 뒤에 나옵니다. " + NOTE)
    with st.form("mock-settings"):
        cols = st.columns(2)
        n = cols[0].number_input("문항 수", 3, 80, 40, key="mock-n")
        minutes = cols[1].number_input("제한 시간 (분)", 1, 200, 50, key="mock-minutes")
        started = st.form_submit_button("새 모의고사 시작", type="primary")
    if started:
        try:
            test = build_mock(retriever, int(n), minutes=float(minutes), seed=random.randrange(1_000_000))
        except FintermError as exc:
            st.error(str(exc))
            return
        st.session_state[MOCK] = {"test": test, "started": time.time(), "result": None}
    run = st.session_state.get(MOCK)
    if not run:
        st.info("문항 수와 제한 시간을 정하고 '새 모의고사 시작'을 누르세요.")
        return
    if run["result"] is not None:
        _result(run)
        return
    _timer()
    test = run["test"]
    with st.form("mock-answers"):
        section = None
        for k, it in enumerate(test.items, 1):
            q = it.question
            if it.section != section:
                section = it.section
                st.subheader(section, anchor=False)
            st.markdown(f"**{k}.** ({it.points}점)")
            st.text(q.prompt)
            st.radio(f"{k}번 답", list(range(len(q.options))), index=None, key=f"mock-q-{q.id}",
                     format_func=lambda j, q=q: f"{CIRCLED[j]} {q.options[j]}", label_visibility="collapsed")
        submitted = st.form_submit_button("제출하고 채점", type="primary")
    if submitted:
        _finish({it.question.id: st.session_state.get(f"mock-q-{it.question.id}") for it in test.items})
        st.rerun()
