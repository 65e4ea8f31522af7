"""The bundled glossary's index ships prebuilt: the first answer never waits for embedding."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from finterm.home import bundled_glossary
from finterm.index import prebuilt as shipped
from finterm.index.embed import DEFAULT_EMBEDDER, make_embedder, passage_version
from finterm.index.store import PASSAGE_CHARS, file_sha256

MINI = Path(__file__).parent / "data" / "mini_glossary.jsonl"


@pytest.fixture(scope="module")
def pre():
    data = shipped.load()
    assert data is not None, "the package ships no prebuilt index; run `python -m finterm.index.prebuilt`"
    return data


def _bundled_entries():
    from finterm.index.load import load_many

    return load_many([bundled_glossary()]).entries


def test_shipped_index_matches_the_bundled_glossary_and_default_embedder(pre):
    """A glossary or embedder change without `python -m finterm.index.prebuilt` fails here, not for users."""
    assert shipped.why_not_used(pre, DEFAULT_EMBEDDER, file_sha256(bundled_glossary())) is None
    entries = _bundled_entries()
    assert pre.manifest["rows"] == len(entries)
    assert all(pre.vector_for(passage_version(DEFAULT_EMBEDDER), e.passage(PASSAGE_CHARS)) is not None for e in entries)


def test_rebuilding_gives_the_shipped_vectors(pre):
    """Re-embed a spread of bundled entries with the default embedder: same vectors within float16 rounding."""
    entries = _bundled_entries()
    sample = entries[:: max(1, len(entries) // 12)][:12]
    fresh = make_embedder(DEFAULT_EMBEDDER).embed_passages([e.passage(PASSAGE_CHARS) for e in sample])
    stored = np.stack([pre.vector_for(passage_version(DEFAULT_EMBEDDER), e.passage(PASSAGE_CHARS)) for e in sample])
    assert np.abs(fresh - stored).max() < 2e-3
    assert (fresh * stored).sum(axis=1).min() > 0.9995


def test_shipped_vectors_are_only_used_for_their_embedder(pre):
    e = _bundled_entries()[0]
    assert pre.vector_for("st:some-other-model", e.passage(PASSAGE_CHARS)) is None


def _no_embedding(monkeypatch):
    embedder = make_embedder(DEFAULT_EMBEDDER)

    def refuse(texts):
        raise AssertionError(f"embedded {len(texts)} passages")

    monkeypatch.setattr(embedder, "embed_passages", refuse)


def test_first_ask_on_an_empty_home_embeds_nothing(monkeypatch, capsys):
    from finterm.api import ask, ensure_default_index, open_retriever

    _no_embedding(monkeypatch)
    path = ensure_default_index(progress=True)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedded"] == 0 and manifest["shipped"] == manifest["entries"]
    assert "building" not in capsys.readouterr().err  # quiet: nothing to wait for
    answer = ask(open_retriever(path), "기준금리가 뭐야?")
    assert "기준금리" in answer.text


def test_a_users_glossary_with_bundled_reuses_the_shipped_vectors(tmp_path, monkeypatch):
    from finterm.api import build

    n_user = sum(1 for line in MINI.read_text(encoding="utf-8").splitlines() if line.strip())
    out = tmp_path / "mine"
    logs: list[str] = []
    manifest = build([MINI], out, include_bundled=True, progress=False, log=logs.append)
    # The mini glossary's entries may share text with the bundled ones; at most they are embedded.
    assert 0 < manifest["embedded"] <= n_user
    assert manifest["shipped"] >= manifest["entries"] - n_user
    assert any(f"{manifest['embedded']} embedded" in m and "shipped prebuilt" in m for m in logs)


def test_an_edited_glossary_embeds_only_what_changed(tmp_path):
    from finterm.index.load import LoadReport
    from finterm.index.store import build_index

    entries = _bundled_entries()[:40]
    edited = dataclasses.replace(entries[0], definition=entries[0].definition + " 새 문장을 덧붙였다.")
    report = LoadReport(entries=[edited, *entries[1:]])
    manifest = build_index(report, tmp_path / "ix", sources=[bundled_glossary()], embedder_spec=DEFAULT_EMBEDDER,
                           progress=False, prebuilt=shipped.load())
    assert manifest["embedded"] == 1 and manifest["shipped"] == 39


def test_a_damaged_shipped_folder_is_ignored_with_a_note(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": shipped.FORMAT}), encoding="utf-8")
    assert shipped.load(tmp_path) is None
    assert "ignoring the shipped prebuilt index" in capsys.readouterr().err
