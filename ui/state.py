"""The app's shared resources, made once per process with `st.cache_resource`: the index and the model.

The index comes from `FINTERM_INDEX` (set by `finterm ui --index`), else the default index. The
qlora model is loaded only when the user picks that generator; its status (loading, loaded, not
available and why) is kept per process so every session sees the same truth and a failed load is
not retried on every rerun.
"""

from __future__ import annotations

import argparse
import os
import threading

import streamlit as st

from finterm.ui.launch import INDEX_ENV

DEFAULT_ADAPTER = "SGEcon/polyglot-ko-5.8b_fin_v4"

_lock = threading.Lock()
_qlora_status: dict[tuple, tuple[str, str]] = {}  # (adapter, base, greedy) -> (state, detail)


def index_path() -> str | None:
    """The index folder the app serves (None: the default index)."""
    return os.environ.get(INDEX_ENV) or None


@st.cache_resource(show_spinner="색인을 여는 중… (opening the index)")
def _open(index: str | None):
    from finterm.api import open_retriever

    return open_retriever(index)


def retriever():
    """The Retriever of the served index; on a bad index, shows the one-line reason and stops the page."""
    from finterm import FintermError

    try:
        return _open(index_path())
    except FintermError as exc:
        st.error(f"finterm: {exc}")
        st.stop()


def qlora_module():
    """(finterm.rag.generate, None) when the qlora generator can be used, else (None, why not)."""
    try:
        from finterm.rag import generate, grounded  # noqa: F401  (both are needed to answer)
    except ImportError as exc:
        return None, f"qlora 생성기가 이 환경에 설치되어 있지 않습니다 ({exc})"
    return generate, None


def default_adapter() -> str:
    mod, _ = qlora_module()
    return mod.DEFAULT_ADAPTER if mod else DEFAULT_ADAPTER


@st.cache_resource(show_spinner=False, max_entries=2)
def _load_qlora(adapter: str, base: str, greedy: bool):
    """The qlora generator with its model loaded (the CLI's `generator_from_args`, seed defaults)."""
    from finterm.rag.generate import generator_from_args

    args = argparse.Namespace(adapter=adapter or None, base_model=base or None, greedy=greedy,
                              max_new_tokens=None, temperature=None, top_p=None, top_k=None, stream=False)
    gen = generator_from_args(args)
    gen.loaded  # noqa: B018 - load now, not in the middle of the first answer
    return gen


def _no_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


def qlora_status(adapter: str, base: str, greedy: bool = False) -> tuple[str, str]:
    """("loaded" | "loading" | "not available" | "not loaded", detail) for this model choice."""
    mod, why = qlora_module()
    if mod is None:
        return "not available", why
    with _lock:
        return _qlora_status.get((adapter, base, greedy), ("not loaded", ""))


def load_qlora(adapter: str, base: str, greedy: bool = False):
    """The qlora generator for adapter/base, loading it now if needed; None if it cannot be had.

    Returns at once with None while another session is loading the same model.
    """
    key = (adapter, base, greedy)
    state, _ = qlora_status(*key)
    if state in ("not available", "loading"):
        return None
    if state == "loaded":
        return _load_qlora(*key)
    with _lock:
        _qlora_status[key] = ("loading", "")
    try:
        gen = _load_qlora(*key)
    except Exception as exc:  # noqa: BLE001 - any failure is shown as "not available: why"
        detail = korean_reason(exc)
        with _lock:
            _qlora_status[key] = ("not available", detail)
        return None
    except BaseException:  # the session went away mid-load: let the next one try again
        with _lock:
            _qlora_status.pop(key, None)
        raise
    with _lock:
        _qlora_status[key] = ("loaded", describe(gen))
    return gen


WHAT = {"adapter": "어댑터", "base model": "베이스 모델"}


def korean_reason(exc: BaseException) -> str:
    """Why the model could not be loaded, and what to do, in one short Korean line."""
    from finterm.rag.model_errors import ModelNotHere, is_oom

    if isinstance(exc, ModelNotHere):
        what, name = WHAT.get(exc.what, exc.what), exc.name
        if exc.reason == "no folder":
            return f"{what} 폴더 {name}이(가) 없거나 모델이 없습니다 — save_pretrained로 저장한 폴더를 넣으세요."
        where = ("오프라인(HF_HUB_OFFLINE)이라" if exc.reason == "offline"
                 else "Hugging Face 허브에 연결할 수 없어")
        return (f"{what} {name}이(가) 이 컴퓨터의 캐시에 없고, {where} 받을 수 없습니다 — 인터넷이 되는 곳에서 "
                "한 번 불러와 캐시에 두거나(`finterm ask --generator qlora …`), 위 칸에 모델 폴더를 넣으세요.")
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if is_oom(exc):
        return "GPU 메모리가 부족합니다 — 다른 GPU 프로그램을 닫거나 더 작은 베이스 모델을 넣으세요."
    if first.startswith("adapter folder ") and " does not exist" in first:
        name = first.removeprefix("adapter folder ").split(" does not exist")[0]
        return f"어댑터 폴더 {name}이(가) 없습니다 — adapter_config.json이 있는 폴더나 hub id를 넣으세요."
    if first.startswith("the qlora generator needs "):
        names = first.removeprefix("the qlora generator needs ").split(";")[0]
        return f"qlora에 필요한 패키지({names})가 없습니다 — `pip install {names.replace(',', '')}` 후 다시 시도하세요."
    if "does not fit base model" in first:
        return ("어댑터가 베이스 모델과 맞지 않습니다 — 어댑터를 학습한 베이스(adapter_config.json의 "
                f"base_model_name_or_path)를 넣으세요. ({first})")
    detail = f"모델을 불러오지 못했습니다 ({first})"
    if _no_cuda():
        detail += " — 이 컴퓨터에는 CUDA GPU가 없습니다 (CPU에서는 매우 느립니다)"
    return detail


def forget_failure(adapter: str, base: str, greedy: bool = False) -> None:
    """Let the next run try loading this model again."""
    with _lock:
        if _qlora_status.get((adapter, base, greedy), ("",))[0] == "not available":
            del _qlora_status[(adapter, base, greedy)]


def describe(gen) -> str:
    """One line about a loaded generator: device, quantisation, base and adapter."""
    info = gen.model_info()
    return " · ".join(str(info[k]) for k in ("device", "quantization", "base", "adapter") if info.get(k))


@st.cache_data(ttl=30, show_spinner="생성 서버 확인 중… (checking the server)")
def _server_status(url: str, model: str, greedy: bool) -> tuple[bool, str]:
    """(ready, what it serves or why not) from the server's /v1/models; re-checked every 30 s."""
    from finterm import FintermError

    try:
        gen = _server_generator(url, model, greedy)
        served = [m["id"] for m in gen.models()]
        return True, f"{gen.model} · {url} (serves {', '.join(served)}; prompt counted by {gen.model_info()['tokens']})"
    except FintermError as exc:
        return False, str(exc)


@st.cache_resource(show_spinner=False, max_entries=4)
def _server_generator(url: str, model: str, greedy: bool):
    """The server generator for these fields (the CLI's `--generator server`); one HTTP client per choice."""
    from finterm.rag.generate import generator_from_args

    args = argparse.Namespace(generator="server", server_url=url, server_model=model or None, api_key_env=None,
                              server_timeout=None, base_model=None, greedy=greedy, max_new_tokens=None,
                              temperature=None, top_p=None, top_k=None, stream=False)
    return generator_from_args(args)


def server_generator(url: str, model: str, greedy: bool = False):
    """(generator, status line) when the server answers /v1/models with the model, else (None, why)."""
    ok, detail = _server_status(url, model, greedy)
    return (_server_generator(url, model, greedy) if ok else None), detail


server_generator.clear = _server_status.clear  # the sidebar's "check again" button
