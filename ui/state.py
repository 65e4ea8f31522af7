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
_qlora_status: dict[tuple[str, str], tuple[str, str]] = {}  # (adapter, base) -> (state, detail)


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
        return None, f"the qlora generator is not installed here ({exc})"
    return generate, None


def default_adapter() -> str:
    mod, _ = qlora_module()
    return getattr(mod, "DEFAULT_ADAPTER", DEFAULT_ADAPTER) if mod else DEFAULT_ADAPTER


@st.cache_resource(show_spinner=False, max_entries=2)
def _load_qlora(adapter: str, base: str):
    from finterm.rag.generate import generator_from_args

    args = argparse.Namespace(generator="qlora", adapter=adapter or None, base_model=base or None,
                              greedy=False, max_new_tokens=None, temperature=None, top_p=None,
                              top_k=None, stream=True)
    return generator_from_args(args)


def qlora_status(adapter: str, base: str) -> tuple[str, str]:
    """("loaded" | "loading" | "not available" | "not loaded", detail) for this adapter/base pair."""
    mod, why = qlora_module()
    if mod is None:
        return "not available", why
    with _lock:
        return _qlora_status.get((adapter, base), ("not loaded", ""))


def load_qlora(adapter: str, base: str):
    """The qlora generator for adapter/base, loading it now if needed; None if it cannot be had.

    Returns at once with None while another session is loading the same pair.
    """
    state, _ = qlora_status(adapter, base)
    if state in ("not available", "loading"):
        return None
    if state == "loaded":
        return _load_qlora(adapter, base)
    with _lock:
        _qlora_status[(adapter, base)] = ("loading", "")
    try:
        gen = _load_qlora(adapter, base)
    except Exception as exc:  # noqa: BLE001 - any failure is shown as "not available: why"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with _lock:
            _qlora_status[(adapter, base)] = ("not available", detail)
        return None
    with _lock:
        _qlora_status[(adapter, base)] = ("loaded", describe(gen))
    return gen


def forget_failure(adapter: str, base: str) -> None:
    """Let the next run try loading adapter/base again."""
    with _lock:
        if _qlora_status.get((adapter, base), ("",))[0] == "not available":
            del _qlora_status[(adapter, base)]


def describe(gen) -> str:
    """One line about a loaded generator: device, quantisation, base and adapter when it says them."""
    info = getattr(gen, "info", None)
    info = info() if callable(info) else info
    if not isinstance(info, dict):
        return getattr(gen, "name", "qlora")
    keys = ("device", "quantization", "base", "adapter")
    return " · ".join(str(info[k]) for k in keys if info.get(k))
