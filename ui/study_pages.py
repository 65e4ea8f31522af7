"""TESAT 퀴즈 and 답안 확인: the study pages. Screens only — they call the CLI's functions.

TESAT 퀴즈: one question at a time from `finterm.rag.quiz.make_quiz`, immediate feedback with the
cited explanation, a running score, the review queue (due and weak terms first) and a category
filter; every answer is stored through `finterm.rag.study.StudyDB`, like `finterm quiz`, as an
FSRS review (보통, or 어려웠음/쉬웠음 when the student says so); the page shows what is due today,
the estimated recall, and each answered term's next review.
답안 확인: a term (or a question) and an answer go to `finterm.rag.check.check_answer`; the page
shows the verdict, the score, the missing key concepts highlighted in the reference definition,
and the reference's source.
"""

from __future__ import annotations

import random
import uuid

import streamlit as st

from finterm.ui import state
from finterm.ui.render import esc

ALL = "전체"
QUIZ = "study_quiz"  # session key: the running quiz


def _session_id() -> str:
    if "study_session" not in st.session_state:
        st.session_state["study_session"] = f"app-{uuid.uuid4().hex[:8]}"
    return st.session_state["study_session"]


def _db():
    from finterm.rag.study import StudyDB

    return StudyDB()


def _new_quiz(retriever, *, n: int, category: str, difficulty: float, review: bool) -> None:
    from finterm.rag.quiz import make_quiz

    first = None
    if review:
        with _db() as db:
            ids = [e.id for e in retriever.entries if category in (ALL, e.category)]
            first = db.review_queue(ids)
    seed = random.randrange(1_000_000)
    questions = make_quiz(retriever, n, seed=seed, category=None if category == ALL else category,
                          difficulty=difficulty, first=first)
    st.session_state[QUIZ] = {"questions": questions, "i": 0, "right": 0, "answered": 0, "choice": None}


FEEL = {"보통": "good", "어려웠음": "hard", "쉬웠음": "easy"}  # the student's own word on a right answer


def _submit(choice: int | None, feel: str | None = None) -> None:
    from finterm.rag.study import Attempt

    quiz = st.session_state[QUIZ]
    if choice is None or quiz["choice"] is not None:
        return
    q = quiz["questions"][quiz["i"]]
    with _db() as db:
        quiz["card"] = db.record(Attempt.from_question(q, choice), session=_session_id(),
                                 rating=FEEL.get(feel or "보통") if choice == q.answer else None)
    quiz["choice"] = choice
    quiz["answered"] += 1
    quiz["right"] += int(choice == q.answer)


def _next() -> None:
    quiz = st.session_state[QUIZ]
    quiz["i"] += 1
    quiz["choice"] = None


def _review_panel(retriever) -> None:
    with _db() as db:
        p = db.progress(weakest=5)
        notebook = db.notebook()
    cols = st.columns(4)
    cols[0].metric("푼 문제", p["attempts"])
    cols[1].metric("정답률", f"{p['accuracy']:.0%}" if p["attempts"] else "-")
    cols[2].metric("오늘 복습할 용어", p["due_today"], help=f"지금 복습할 때가 된 용어 {p['due']}개 (FSRS 일정)")
    cols[3].metric("예상 기억률", f"{p['recall']:.0%}" if p["recall"] is not None else "-",
                   help="공부한 용어를 지금 기억할 확률의 FSRS 추정 평균")
    if notebook:
        with st.expander(f"오답노트 ({len(notebook)})"):
            for item in notebook[:20]:
                st.markdown(f"**{esc(item['term'])}** — 틀린 횟수 {item['wrong']}")
                if item.get("prompt"):
                    st.text("문제: " + item["prompt"])
                if item.get("chosen_text"):
                    st.markdown(f":red[✗ 내 답: {esc(item['chosen_text'])}]")
                if item.get("answer_text"):
                    st.markdown(f":green[✓ 정답: {esc(item['answer_text'])}]")
                st.text(item["explanation"])


def option_label(q, k: int, chosen: int | None) -> str:
    """An option as safe markdown; once answered, the right one and a wrong choice are marked in the list."""
    from finterm.rag.quiz import CIRCLED

    text = f"{CIRCLED[k]} {esc(q.options[k])}"
    if chosen is None:
        return text
    if k == q.answer:
        return f":green[**✓ {text}**] — 정답" + (" (내 답)" if k == chosen else "")
    if k == chosen:
        return f":red[~~{text}~~] — 내 답"
    return text


def quiz_page() -> None:
    """TESAT 퀴즈 page."""
    from finterm import FintermError
    from finterm.rag.quiz import CIRCLED

    retriever = state.retriever()
    st.title("TESAT 퀴즈", anchor=False)
    st.caption("용어집으로 만든 5지선다 문제입니다. 답을 고르면 바로 해설(근거 정의와 출처)이 나옵니다.")
    categories = [ALL, *sorted({e.category for e in retriever.entries if e.category})]
    with st.form("quiz-settings"):
        cols = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
        category = cols[0].selectbox("분야", categories, key="quiz-category")
        difficulty = cols[1].slider("난이도 (오답 보기가 얼마나 비슷한지)", 0.0, 1.0, 0.7, 0.1,
                                    key="quiz-difficulty")
        n = cols[2].number_input("문항 수", 1, 50, 10, key="quiz-n")
        review = cols[3].checkbox("복습 먼저", value=True, key="quiz-review",
                                  help="복습할 때가 된 용어와 자주 틀린 용어부터 냅니다.")
        started = st.form_submit_button("새 퀴즈", type="primary")
    if started:
        try:
            _new_quiz(retriever, n=int(n), category=category, difficulty=float(difficulty), review=review)
        except FintermError as exc:
            st.error(str(exc))
    _review_panel(retriever)
    quiz = st.session_state.get(QUIZ)
    if not quiz:
        st.info("분야와 난이도를 고르고 '새 퀴즈'를 누르세요.")
        return
    questions, i = quiz["questions"], quiz["i"]
    where = f"문제 {min(i + 1, len(questions))}/{len(questions)}"
    st.progress(min(i, len(questions)) / len(questions),
                text=f"점수 {quiz['right']} / {quiz['answered']} · {where}")
    if i >= len(questions):
        st.success(f"끝! {len(questions)}문제 중 {quiz['right']}문제를 맞혔습니다.")
        return
    q = questions[i]
    st.subheader(f"{i + 1}. {q.prompt.splitlines()[0]}", anchor=False)
    if "\n" in q.prompt:
        st.text(q.prompt.split("\n", 1)[1])
    answered = quiz["choice"] is not None
    choice = st.radio("보기", list(range(len(q.options))), index=None, key=f"quiz-choice-{q.id}",
                      format_func=lambda k: option_label(q, k, quiz["choice"]), disabled=answered,
                      label_visibility="collapsed")
    if not answered:
        cols = st.columns([1, 3], vertical_alignment="center")
        feel = cols[1].radio("맞혔다면 느낌은?", list(FEEL), horizontal=True, key=f"quiz-feel-{q.id}",
                             help="FSRS 복습 간격에 반영됩니다: 어려웠으면 더 일찍, 쉬웠으면 더 늦게 다시 냅니다.")
        cols[0].button("제출", key=f"quiz-submit-{q.id}", on_click=_submit, args=(choice, feel),
                       disabled=choice is None)
        return
    if quiz["choice"] == q.answer:
        st.success(f"정답입니다: {CIRCLED[q.answer]}")
    else:
        st.error(f"오답입니다. 정답은 {CIRCLED[q.answer]} {q.options[q.answer]}")
    card = quiz.get("card")
    if card is not None:
        import time

        st.caption(f"다음 복습 {time.strftime('%Y-%m-%d %H:%M', time.localtime(card.due))} · "
                   f"하루 뒤 예상 기억률 {card.recall(card.last_at + 86400):.0%} (FSRS)")
    with st.container(border=True):
        st.markdown("**해설**")
        st.text(q.explanation)
        st.caption("출처: " + esc(q.source))
    st.button("다음 문제", key=f"quiz-next-{q.id}", on_click=_next, type="primary")


def highlighted(definition: str, concepts: tuple[str, ...]) -> str:
    """`definition` as safe markdown with every word holding a missing concept highlighted whole
    (Kiwi token spans grown to the word: "생산량을" is marked as "생산량", never "생산|량을")."""
    from finterm.rag.highlight import concept_spans

    out, last = [], 0
    for start, end in concept_spans(definition, concepts):
        out.append(esc(definition[last:start]))
        out.append(f":orange-background[**{esc(definition[start:end])}**]")
        last = end
    out.append(esc(definition[last:]))
    return "".join(out)


def _use_suggestion(name: str) -> None:
    """A suggestion button: grade again with that term (runs before the next script run)."""
    st.session_state["check-mode"] = "용어"
    st.session_state["check-target"] = name
    st.session_state["check-again"] = True


def _suggestion_buttons(names: tuple[str, ...]) -> None:
    cols = st.columns(max(1, min(len(names), 4)))
    for n, name in enumerate(names[:4]):
        cols[n].button(name, key=f"check-suggest-{n}", on_click=_use_suggestion, args=(name,))


def check_page() -> None:
    """답안 확인 page."""
    from finterm import FintermError
    from finterm.rag.check import VERDICT_KO, NoReference, UnknownTerm, check_answer

    retriever = state.retriever()
    st.title("답안 확인", anchor=False)
    st.caption("용어(또는 문제)와 내 답을 적으면 용어집 정의와 비교해 채점합니다.")
    with st.form("check-form"):
        mode = st.radio("기준", ["용어", "문제"], horizontal=True, key="check-mode")
        target = st.text_input("용어 또는 문제", key="check-target", placeholder="예: 한계비용")
        answer = st.text_area("내 답", key="check-answer",
                              placeholder="예: 생산량을 한 단위 늘릴 때 더 드는 비용")
        submitted = st.form_submit_button("채점", type="primary")
    if not (submitted or st.session_state.pop("check-again", False)):
        return
    if not target.strip():
        st.error("용어나 문제를 적어 주세요.")
        return
    if not answer.strip():
        st.error("내 답을 적어 주세요. 용어의 뜻을 내 말로 쓰면 됩니다.")
        return
    try:
        kwargs = {"term": target} if mode == "용어" else {"question": target}
        with st.spinner("채점 중…"):
            result = check_answer(retriever, answer, **kwargs)
    except (UnknownTerm, NoReference) as exc:
        st.error(exc.korean())
        _suggestion_buttons(exc.suggestions)
        return
    except FintermError as exc:
        st.error("채점하지 못했습니다.")
        st.caption(str(exc))
        return
    label = f"{VERDICT_KO[result.verdict]} ({result.verdict}) · 점수 {result.score:.2f}"
    {"correct": st.success, "partial": st.warning, "incorrect": st.error}[result.verdict](label)
    st.progress(result.score)
    if result.closer_to is not None:
        st.info(f"답이 '{result.closer_to.term}'의 뜻에 더 가깝습니다.")
    if result.missing and result.verdict != "correct":
        st.markdown("빠진 핵심 개념: " + " ".join(f":orange-background[{esc(m)}]" for m in result.missing))
    ref = result.reference
    with st.container(border=True):
        st.markdown(f"**기준 정의 — {esc(ref.term)}**")
        st.markdown(highlighted(ref.definition, result.missing if result.verdict != "correct" else ()))
        st.caption("출처: " + esc(ref.source))
    settings = st.session_state.get("settings")
    if settings is not None and getattr(settings, "generator", None) is not None:
        model_feedback(result, answer, settings.generator)


def model_feedback(result, answer: str, generator) -> None:
    """The qlora model's written feedback, marked as generated (only when the sidebar loaded it)."""
    from finterm import FintermError
    from finterm.rag.feedback import GENERATED_NOTE, written_feedback

    with st.container(border=True):
        st.markdown("**모델 피드백** · :violet-badge[generated]")
        try:
            with st.spinner("피드백을 쓰는 중… (qlora)"):
                fb = written_feedback(result, answer, generator)
        except FintermError as exc:
            st.error(str(exc))
            return
        st.text(fb.text)  # the model's words, shown as plain text
        st.caption(GENERATED_NOTE)
