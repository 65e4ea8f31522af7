"""The app in a real browser: `finterm ui` serves it, Chromium (driven by Playwright) asks a question,
then a follow-up that leans on it ("그럼 그게 오르면 …"), and presses a next-step button; it checks an
answer and takes a quiz, sits a short 모의고사 and reads a pasted article on 뉴스 읽기. The answer, mock
test and news pages are saved as the README's screenshots (docs/screenshot-*.png).

Uses Debian's /usr/bin/chromium (`.ci/run` installs it); never `playwright install`, which downloads.
Skipped, not failed, only where that browser is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "screenshot-answer.png"
SCREENSHOT_MOCK = ROOT / "docs" / "screenshot-mock.png"
SCREENSHOT_NEWS = ROOT / "docs" / "screenshot-news.png"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


def outside(requests: list[str]) -> list[str]:
    """The requests that went anywhere but this machine's server (there must be none)."""
    return [u for u in requests if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(small_index, tmp_path):
    """`finterm ui` on a free loopback port, stopped (with its Streamlit child) when the test ends."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium (apt-get install chromium)")
    port = free_port()
    env = {**os.environ, "FINTERM_HOME": str(tmp_path / "home")}
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "finterm.cli", "ui", "--port", str(port),
                             "--index", str(small_index)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # until Streamlit answers its health check (or the server dies)
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"finterm ui exited with {proc.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # finterm and the Streamlit it started
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    assert proc.returncode is not None


def test_question_and_follow_up_in_the_browser_get_cited_answers(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            requests: list[str] = []  # every request the page makes: nothing may leave the machine
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server)
            box = page.get_by_placeholder("질문을 입력하세요 (예: 기준금리가 뭐야?)")
            box.fill("기준금리가 뭐야?")
            box.press("Enter")
            card = page.locator(".st-key-source-card-0-1")
            expect(card).to_contain_text("[1] 기준금리", timeout=120_000)
            expect(card).to_contain_text("테스트 용어집")
            answer = page.get_by_test_id("stChatMessage").nth(1)
            expect(answer).to_contain_text("기준금리: 한국은행 금융통화위원회가 정하는 정책금리로")
            expect(answer).to_contain_text("[1]")
            page.wait_for_timeout(500)  # let the last frame paint before the picture
            shot = tmp_path / "screenshot-answer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert not dialogs
            assert page.get_by_text("Deploy", exact=True).count() == 0  # toolbarMode minimal

            # A follow-up in the same chat leans on the first question, says so, and offers next steps.
            box.fill("그럼 그게 오르면 대출 이자는 어떻게 돼?")
            box.press("Enter")
            follow = page.get_by_test_id("stChatMessage").nth(3)
            expect(follow).to_contain_text("이전 질문의 '기준금리'에 대해 답합니다", timeout=120_000)
            expect(follow).to_contain_text("기준금리:")
            expect(follow).to_contain_text("대출")
            expect(follow.locator("[class*='st-key-source-card-']").first).to_contain_text("[1] 기준금리")
            step = follow.locator("[class*='st-key-next-'] button").first
            expect(step).to_be_visible()
            label = step.inner_text()
            step.click()  # the button asks its question: a third answer comes back
            expect(page.get_by_test_id("stChatMessage").nth(5)).to_contain_text("[1]", timeout=120_000)
            assert label.strip()
            page.screenshot(path=str(tmp_path / "screenshot-follow-up.png"), full_page=True)
            assert not dialogs
            assert outside(requests) == [], outside(requests)[:5]
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)


def test_check_page_speaks_korean_and_quiz_marks_options_in_the_browser(server):
    """답안 확인: a misspelt term is a Korean message with the suggestion as a button that grades again;
    퀴즈: after answering, the right option is marked in the list itself. Nothing leaves 127.0.0.1."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{server}/check")
            page.get_by_label("용어 또는 문제").fill("인풀레이션")
            page.get_by_label("내 답").fill("물가가 계속 오르는 것")
            page.get_by_role("button", name="채점").click()
            expect(page.get_by_text("용어집에 '인풀레이션'(이)라는 용어가 없습니다.")).to_be_visible(timeout=120_000)
            page.get_by_role("button", name="인플레이션").click()
            expect(page.get_by_text("기준 정의 — 인플레이션")).to_be_visible(timeout=60_000)

            page.goto(f"{server}/quiz")
            page.get_by_role("button", name="새 퀴즈").click()
            options = page.get_by_role("radiogroup", name="보기")  # not the sidebar's generator choice
            expect(options).to_be_visible(timeout=120_000)
            options.get_by_text("①").click()  # Streamlit draws its own radio: click the option text
            page.get_by_role("button", name="제출").click()
            expect(options).to_contain_text("— 정답", timeout=60_000)
            assert outside(requests) == [], outside(requests)[:5]
        finally:
            browser.close()


def test_mock_test_in_the_browser_times_then_scores_only_after_submitting(server, tmp_path):
    """모의고사: three items on one form under a countdown, no right/wrong before "제출하고 채점"; then the
    points, the per-section table and the review list, and the answer is stored. Nothing leaves 127.0.0.1."""
    import re

    from playwright.sync_api import expect, sync_playwright

    from finterm.rag.study import StudyDB

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{server}/mock")
            expect(page.get_by_text("실제 TESAT 점수나 등급이 아닙니다").first).to_be_visible(timeout=120_000)
            page.get_by_label("문항 수").fill("3")
            page.get_by_label("제한 시간 (분)").fill("10")
            page.get_by_role("button", name="새 모의고사 시작").click()
            expect(page.get_by_text(re.compile(r"남은 시간 (10:00|9:\d\d)"))).to_be_visible(timeout=120_000)
            first = page.get_by_role("radiogroup", name="1번 답")
            expect(first).to_be_visible()
            # Streamlit renders the items one after another: wait for all three (count() does not wait).
            expect(page.get_by_role("radiogroup").filter(has_text="①")).to_have_count(3)
            first.get_by_text("②").click()
            expect(page.get_by_text("정답", exact=False)).to_have_count(0)  # no feedback before the end
            page.get_by_role("button", name="제출하고 채점").click()
            expect(page.get_by_text(re.compile(r"^결과: \d+ / \d+점"))).to_be_visible(timeout=60_000)
            caption = page.get_by_text(re.compile(r"정답 \d/3문항 · 답한 문항 1 · 걸린 시간")).inner_text()
            right = int(re.search(r"정답 (\d)/3문항", caption).group(1))
            assert right in (0, 1)
            expect(page.get_by_text(f"다시 볼 문항 {3 - right}개")).to_be_visible()
            table = page.get_by_test_id("stDataFrame")
            expect(table).to_be_visible()
            page.wait_for_timeout(500)  # let the last frame paint before the picture
            shot = tmp_path / "screenshot-mock.png"
            page.screenshot(path=str(shot), full_page=True)
            assert outside(requests) == [], outside(requests)[:5]
        finally:
            browser.close()
    with StudyDB(tmp_path / "home" / "study.sqlite") as db:
        assert db.attempts_count() == 1  # the one answer, stored when the test was submitted
    assert shot.stat().st_size > 10_000
    shutil.copyfile(shot, SCREENSHOT_MOCK)


ARTICLE = ("한국은행이 기준금리를 동결했다. 미리 보여주는 지표에서 GDP는 줄고 인플레이션 우려는 여전하다. "
           "기준금리 인하는 미뤄졌다.")


def test_news_reader_in_the_browser_marks_terms_opens_one_and_makes_a_quiz(server, tmp_path):
    """뉴스 읽기: a pasted article comes back with its glossary terms marked and listed most central first;
    a term opens to its definition and source; the quiz made from them is waiting on TESAT 퀴즈."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100}, locale="ko-KR")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{server}/news")
            page.get_by_label("기사 본문").fill(ARTICLE)
            page.get_by_role("button", name="용어 찾기").click()
            expect(page.get_by_text("찾은 용어 3개")).to_be_visible(timeout=120_000)
            marked = page.locator("strong").filter(has_text="기준금리")
            expect(marked).to_have_count(2)  # both mentions, each in bold on a highlight
            expect(page.locator("strong").filter(has_text="GDP")).to_have_count(1)
            terms = page.get_by_test_id("stExpander")
            expect(terms).to_have_count(3)
            expect(terms.first).to_contain_text("기준금리 ×2")  # the most central first
            definition = page.get_by_text("한국은행 금융통화위원회가 정하는 정책금리로")
            expect(definition).to_be_hidden()
            terms.first.get_by_text("기준금리 ×2").click()
            expect(definition).to_be_visible()
            expect(terms.first).to_contain_text("출처: 테스트 용어집")
            page.wait_for_timeout(500)  # let the last frame paint before the picture
            shot = tmp_path / "screenshot-news.png"
            page.screenshot(path=str(shot), full_page=True)

            page.get_by_role("button", name="이 용어들로 퀴즈 만들기").click()
            expect(page.get_by_text("퀴즈를 만들었습니다")).to_be_visible(timeout=60_000)
            page.get_by_test_id("stSidebarNav").get_by_text("TESAT 퀴즈").click()  # same session
            expect(page.get_by_text("점수 0 / 0 · 문제 1/3")).to_be_visible(timeout=60_000)
            expect(page.get_by_role("radiogroup", name="보기")).to_be_visible()
            assert outside(requests) == [], outside(requests)[:5]
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    shutil.copyfile(shot, SCREENSHOT_NEWS)
