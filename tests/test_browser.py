"""The app in a real browser: `finterm ui` serves it, Chromium (driven by Playwright) asks a question,
then a follow-up that leans on it ("그럼 그게 오르면 …"), and presses a next-step button.

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
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


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
            outside = [u for u in requests if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:",
                                                                "blob:"))]
            assert outside == [], outside[:5]
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
            outside = [u for u in requests if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:",
                                                                "blob:"))]
            assert outside == [], outside[:5]
        finally:
            browser.close()
