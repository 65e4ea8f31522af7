"""The sidebar every page shares: what the index holds, which generator answers, and how many sources."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from finterm.ui import state
from finterm.ui.render import esc

GENERATORS = ("extractive", "qlora", "server")
WHY_NOT = {"loading": "qlora 모델을 불러오는 중", "not available": "qlora를 쓸 수 없음, 사이드바 참고"}
GENERATOR_HELP = {"extractive": "정의 문장으로 답 (즉시, 모델 없음)",
                  "qlora": "4-bit LoRA 모델이 작성 (GPU 권장)",
                  "server": "생성 서버(vLLM 등)가 작성 — 여러 사용자용"}


@dataclass(frozen=True)
class Settings:
    """What the user chose in the sidebar."""

    k: int
    requested: str  # the generator picked: "extractive" | "qlora" | "server"
    generator: object | None  # the loaded qlora / reachable server generator, or None: answer extractively
    why_not: str = ""  # why the picked generator cannot answer


def index_info(retriever) -> None:
    """Entries, sources, embedder and build time of the served index."""
    m = retriever.data.manifest
    st.subheader("색인", anchor=False)
    st.markdown(f"**항목** {int(m['entries']):,}개")
    sources = Counter(e.source for e in retriever.entries)
    st.markdown("**출처** " + ", ".join(f"{esc(s)} ({n})" for s, n in sources.most_common()))
    files = [Path(s["path"]).name for s in m.get("sources", []) if isinstance(s, dict) and s.get("path")]
    if files:
        st.caption("파일: " + esc(", ".join(files)))
    st.markdown(f"**임베더** {esc(m.get('embedder', '?'))} · {m.get('dim', '?')}차원")
    st.markdown(f"**생성 시각** {esc(str(m.get('built_at', '?')).replace('T', ' '))}")


def qlora_controls() -> tuple[object | None, str]:
    """Adapter/base fields and the model's status; loads the model once when it is first picked."""
    st.session_state.setdefault("qlora_adapter", state.default_adapter())
    adapter = st.text_input("어댑터 (adapter: hub id 또는 폴더)", key="qlora_adapter").strip()
    base = st.text_input("베이스 모델 (base: 비우면 어댑터 설정에서)", key="qlora_base").strip()
    greedy = st.checkbox("greedy (같은 질문에 같은 답)", key="qlora_greedy")
    choice = (adapter, base, greedy)
    status, detail = state.qlora_status(*choice)
    gen = None
    if status == "not loaded":
        with st.spinner("qlora 모델을 불러오는 중… (처음에는 몇 분 걸립니다)"):
            gen = state.load_qlora(*choice)
        status, detail = state.qlora_status(*choice)
    elif status == "loaded":
        gen = state.load_qlora(*choice)
    if status == "loaded":
        st.success(f"qlora 준비됨 — {esc(detail)}")
        if detail.startswith("cpu"):
            st.caption("CUDA GPU가 없어 CPU에서 실행합니다 — 큰 모델은 매우 느립니다.")
    elif status == "loading":
        st.info("qlora 모델을 불러오는 중… (다른 세션에서 불러오는 중)")
    else:
        st.error(f"qlora를 쓸 수 없습니다: {esc(detail)}")
        if state.qlora_module()[0] is not None:
            st.button("다시 시도", key="qlora_retry", on_click=state.forget_failure, args=choice)
    # The reason is shown once, here; each answer only notes the fallback (no detail under every answer).
    return gen, "" if gen is not None else WHY_NOT.get(status, WHY_NOT["not available"])


def server_controls() -> tuple[object | None, str]:
    """URL and model fields, and the server's status from its /v1/models (checked on each change)."""
    import os

    from finterm.rag.server_gen import URL_ENV

    st.session_state.setdefault("server_url", os.environ.get(URL_ENV, "http://127.0.0.1:8000"))
    url = st.text_input("서버 URL (OpenAI 호환: vLLM, transformers serve)", key="server_url").strip()
    model = st.text_input("모델 이름 (비우면 서버가 제공하는 모델)", key="server_model").strip()
    greedy = st.checkbox("greedy (같은 질문에 같은 답)", key="server_greedy")
    gen, status = state.server_generator(url, model, greedy)
    if gen is None:
        st.error(f"server: not available: {esc(status)}")
        st.button("다시 확인", key="server_retry", on_click=state.server_generator.clear)
        return None, f"server: {status}"
    st.success(f"server: ready — {esc(status)}")
    return gen, ""


def render(retriever) -> Settings:
    """Draw the sidebar and return the user's choices."""
    with st.sidebar:
        index_info(retriever)
        st.divider()
        requested = st.radio("답변 생성기 (generator)", GENERATORS, key="generator",
                             captions=[GENERATOR_HELP[g] for g in GENERATORS])
        gen, why_not = (None, "")
        if requested == "qlora":
            gen, why_not = qlora_controls()
        elif requested == "server":
            gen, why_not = server_controls()
        k = st.slider("근거 수 k (number of sources)", min_value=1, max_value=10, value=5, key="k")
    return Settings(k=int(k), requested=requested, generator=gen, why_not=why_not)
