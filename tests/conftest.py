"""Shared fixtures: an isolated FINTERM_HOME per test and one small index per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini_glossary.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def _shared_models(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch, _shared_models):
    """Every test gets its own FINTERM_HOME, so nothing reads or writes the user's data. Its `models`
    folder (the default tuned embedder, 72 MB, written from its delta on first use) is one per session."""
    home = tmp_path_factory.mktemp("home")  # beside tmp_path, which stays the test's own
    (home / "models").symlink_to(_shared_models, target_is_directory=True)
    monkeypatch.setenv("FINTERM_HOME", str(home))


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, _shared_models) -> Path:
    """An index of the 20-entry test glossary (built once per session; treat as read-only)."""
    from finterm.api import build

    home = tmp_path_factory.mktemp("home")
    (home / "models").symlink_to(_shared_models, target_is_directory=True)
    old = os.environ.get("FINTERM_HOME")
    os.environ["FINTERM_HOME"] = str(home)
    try:
        out = home / "mini-index"
        build([MINI], out, progress=False, log=lambda m: None)
    finally:
        if old is None:
            os.environ.pop("FINTERM_HOME", None)
        else:
            os.environ["FINTERM_HOME"] = old
    return out


@pytest.fixture(scope="session")
def retriever(small_index):
    from finterm.rag.retrieve import Retriever

    return Retriever.open(small_index)
