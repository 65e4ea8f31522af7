"""The 모의고사 and 뉴스 읽기 pages, and the quiz page's FSRS details, through AppTest (real index, nothing stubbed)."""

from __future__ import annotations

from finterm.rag.study import StudyDB

TIMEOUT = 300


def mock_script():
    from finterm.ui import mock_page

    mock_page.mock_page()


def news_script():
    from finterm.ui import news_page

    news_page.news_page()


def quiz_script():
    from finterm.ui import study_pages

    study_pages.quiz_page()


def news_then_quiz_script():
    import streamlit as st

    from finterm.ui import news_page, study_pages

    # The app's two pages in one session, as the sidebar switches them (AppTest cannot switch to a function page).
    study_pages.quiz_page() if st.session_state.get("page") == "quiz" else news_page.news_page()


def app(script, small_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FINTERM_INDEX", str(small_index))
    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def test_mock_page_no_feedback_until_submitted_then_score_sections_and_review(small_index, monkeypatch):
    at = app(mock_script, small_index, monkeypatch)
    assert any("not a TESAT score" in c.value for c in at.caption)
    at.number_input(key="mock-n").set_value(6)
    at.number_input(key="mock-minutes").set_value(5)
    at.button[0].click().run()
    assert not at.exception, at.exception
    test = at.session_state["mock_test"]["test"]
    assert len(test.items) == 6 and [s.value for s in at.subheader] == ["경제이론", "시사경제·경영", "상황판단"]
    assert any("남은 시간 4:" in md.value or "남은 시간 5:" in md.value for md in at.markdown)  # the timer
    items = test.items
    at.radio(key=f"mock-q-{items[0].question.id}").set_value(items[0].question.answer)
    at.radio(key=f"mock-q-{items[1].question.id}").set_value((items[1].question.answer + 1) % 5)
    assert not at.success and not at.error  # nothing says right or wrong before the end
    next(b for b in at.button if b.label == "제출하고 채점").click().run()
    assert not at.exception, at.exception
    result = at.session_state["mock_test"]["result"]
    assert result.correct == 1 and result.answered == 2 and result.points == items[0].points
    assert at.subheader[0].value.startswith(f"결과: {items[0].points} / {test.max_points}점")
    assert any("not a TESAT score" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert list(table["영역"]) == ["경제이론", "시사경제·경영", "상황판단"]
    assert len(at.expander) == 5  # the review list: one wrong, four unanswered
    assert any(items[1].question.explanation == t.value for t in at.text)
    with StudyDB() as db:
        assert db.attempts_count() == 2


def test_mock_page_past_the_time_limit_says_so_and_the_result_marks_it(small_index, monkeypatch):
    at = app(mock_script, small_index, monkeypatch)
    at.number_input(key="mock-n").set_value(3)
    at.number_input(key="mock-minutes").set_value(1)
    at.button[0].click().run()
    run = at.session_state["mock_test"]
    at.session_state["mock_test"] = {**run, "started": run["started"] - 120}  # two minutes ago, limit one
    at.run()
    assert not at.exception, at.exception
    assert any("시간이 다 되었습니다" in e.value for e in at.error)
    assert not any("남은 시간" in md.value for md in at.markdown)
    item = run["test"].items[0].question
    at.radio(key=f"mock-q-{item.id}").set_value(item.answer)
    next(b for b in at.button if b.label == "제출하고 채점").click().run()
    assert not at.exception, at.exception
    result = at.session_state["mock_test"]["result"]
    assert result.seconds >= 120 and result.correct == 1
    assert any("걸린 시간 2분" in c.value and "/ 1분 · 제한 시간 초과" in c.value for c in at.caption)


ARTICLE = ("한국은행이 기준금리를 동결했다. 미리 보여주는 지표에서 GDP는 줄고 인플레이션 우려는 여전하다. "
           "기준금리 인하는 미뤄졌다.")


def test_news_page_marks_terms_lists_them_and_makes_a_quiz_and_a_deck(small_index, monkeypatch):
    at = app(news_script, small_index, monkeypatch)
    at.text_area(key="news-text").set_value(ARTICLE)
    at.button[0].click().run()
    assert not at.exception, at.exception
    body = next(md.value for md in at.markdown if "blue-background" in md.value)
    assert ":blue-background[**기준금리**]를" in body and ":blue-background[**GDP**]는" in body
    labels = [e.label for e in at.expander]
    assert labels[0] == "기준금리 ×2" and set(labels) == {"기준금리 ×2", "국내총생산 ×1", "인플레이션 ×1"}
    assert any(t.value.startswith("한국은행 금융통화위원회가 정하는 정책금리로") for t in at.text)
    assert any("출처: 테스트 용어집" in c.value for c in at.caption)
    at.button(key="news-quiz").click().run()
    assert not at.exception, at.exception
    quiz = at.session_state["study_quiz"]
    found = at.session_state["news_found"][1]
    assert [q.term_id for q in quiz["questions"]] == [f.entry.id for f in found]  # most central first
    assert any("퀴즈를 만들었습니다" in s.value for s in at.success)
    assert at.get("download_button")


def test_a_quiz_made_on_the_news_page_is_answered_on_the_quiz_page_and_recorded(small_index, monkeypatch):
    at = app(news_then_quiz_script, small_index, monkeypatch)
    at.text_area(key="news-text").set_value(ARTICLE)
    at.button[0].click().run()
    at.button(key="news-quiz").click().run()
    found = at.session_state["news_found"][1]
    at.session_state["page"] = "quiz"
    at.run()
    assert not at.exception, at.exception
    assert at.get("progress")[0].proto.text == "점수 0 / 0 · 문제 1/3"  # waiting, no '새 퀴즈' needed
    q = at.session_state["study_quiz"]["questions"][0]
    assert q.term_id == found[0].entry.id == "t03"  # the most central term (기준금리) is asked first
    at.radio(key=f"quiz-choice-{q.id}").set_value(q.answer).run()
    at.button(key=f"quiz-submit-{q.id}").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("정답입니다") for s in at.success)
    with StudyDB() as db:
        assert db.db.execute("SELECT term_id, correct FROM attempts").fetchall() == [(q.term_id, 1)]


def test_news_page_shows_article_markup_as_text(small_index, monkeypatch):
    at = app(news_script, small_index, monkeypatch)
    at.text_area(key="news-text").set_value("<script>alert(1)</script> **굵게** 기준금리 $x$")
    at.button[0].click().run()
    body = next(md.value for md in at.markdown if "blue-background" in md.value)
    assert "<script>" not in body and "**굵게**" not in body and "\\$x\\$" in body
    at.text_area(key="news-text").set_value("   ")
    at.button[0].click().run()
    assert any("empty" in e.value for e in at.error)


def test_quiz_page_shows_fsrs_due_and_recall_and_takes_easy(small_index, monkeypatch):
    at = app(quiz_script, small_index, monkeypatch)
    at.number_input(key="quiz-n").set_value(2)
    at.button[0].click().run()
    q = at.session_state["study_quiz"]["questions"][0]
    at.radio(key=f"quiz-choice-{q.id}").set_value(q.answer).run()
    at.radio(key=f"quiz-feel-{q.id}").set_value("쉬웠음").run()
    at.button(key=f"quiz-submit-{q.id}").click().run()
    assert not at.exception, at.exception
    assert any("다음 복습" in c.value and "예상 기억률" in c.value and "FSRS" in c.value for c in at.caption)
    with StudyDB() as db:
        rating = db.db.execute("SELECT rating FROM attempts").fetchone()[0]
        assert rating == 4  # Easy, as the student said
        assert db.card(q.term_id).due > db.card(q.term_id).last_at + 86400
    labels = [m.label for m in at.metric]
    assert "오늘 복습할 용어" in labels and "예상 기억률" in labels


def test_a_wrong_answer_is_marked_in_the_list_and_kept_in_the_notebook(small_index, monkeypatch):
    at = app(quiz_script, small_index, monkeypatch)
    at.number_input(key="quiz-n").set_value(1)
    at.button[0].click().run()
    q = at.session_state["study_quiz"]["questions"][0]
    wrong = (q.answer + 1) % len(q.options)
    at.radio(key=f"quiz-choice-{q.id}").set_value(wrong).run()
    at.button(key=f"quiz-submit-{q.id}").click().run()
    assert not at.exception, at.exception
    options = at.radio(key=f"quiz-choice-{q.id}").options
    assert options[q.answer].startswith(":green[**✓ ") and options[q.answer].endswith("— 정답")
    assert options[wrong].startswith(":red[~~") and options[wrong].endswith("— 내 답")
    assert sum("—" in o for o in options) == 2  # the other three stay unmarked
    at.button(key=f"quiz-next-{q.id}").click().run()
    notebook = " ".join(m.value for m in at.markdown)
    assert "✗ 내 답:" in notebook and "✓ 정답:" in notebook
    assert any(t.value.startswith("문제: ") for t in at.text)
