"""The index folder: round trip, FAISS against brute force, atomic builds, the vector cache, bad indexes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from functools import partialmethod
from pathlib import Path

import numpy as np
import pytest

from finterm import FintermError
from finterm.api import build
from finterm.home import vector_cache_path
from finterm.index.embed import DEFAULT_EMBEDDER, VectorCache, make_embedder
from finterm.index.load import load_many
from finterm.index.store import FORMAT, flat_matrix, load_index, search_vectors

MINI = Path(__file__).parent / "data" / "mini_glossary.jsonl"


def _quiet_build(files, out, **kw) -> dict:
    return build(files, out, progress=False, log=lambda m: None, **kw)


def _glossary(path: Path, n: int, start: int = 0, word: str = "용어") -> Path:
    """A generated glossary of `n` short made-up entries."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"id": f"g{i}", "term": f"{word}{i}",
                                "definition": f"{word}{i}은 시험용으로 만든 {i}번째 설명이다."},
                               ensure_ascii=False) + "\n")
    return path


def _cached_vectors() -> int:
    with closing(sqlite3.connect(vector_cache_path())) as db:
        return db.execute("SELECT count(*) FROM vec").fetchone()[0]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name + "."))


# --- round trip and manifest ------------------------------------------------------------------
def test_build_then_load_round_trip(small_index):
    data = load_index(small_index)
    expected = load_many([MINI]).entries
    assert data.entries == expected
    assert [e.to_dict() for e in data.entries] == [e.to_dict() for e in expected]
    m = data.manifest
    assert m["format"] == FORMAT == "finterm-index/1"
    assert m["embedder"] == DEFAULT_EMBEDDER and m["dim"] == 384 == data.vectors.d
    assert m["entries"] == len(expected) == data.vectors.ntotal == len(data.tokens) == 20
    assert m["sources"] == [{"path": str(MINI), "sha256": hashlib.sha256(MINI.read_bytes()).hexdigest()}]
    built = time.mktime(time.strptime(m["built_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(built - time.time()) < 24 * 3600  # a real timestamp, not a placeholder
    assert all(toks for toks in data.tokens)  # every entry has BM25 tokens


def test_faiss_search_equals_brute_force(small_index):
    data = load_index(small_index)
    stored = data.vectors.reconstruct_n(0, data.vectors.ntotal)
    assert stored.shape == (20, 384) and stored.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)

    embedder = make_embedder(DEFAULT_EMBEDDER)
    # Row i of the FAISS index is entry i's passage.
    again = embedder.embed_passages([e.passage(data.manifest["passage_chars"]) for e in data.entries[:3]])
    np.testing.assert_allclose(again, stored[:3], atol=1e-5)

    for question in ("물가가 계속 오르는 현상", "중앙은행이 정하는 금리", "주식을 사고파는 곳"):
        q = embedder.embed_queries([question])[0]
        scores, ids = search_vectors(data.vectors, q, 5)
        brute = stored @ q
        order = np.argsort(-brute, kind="stable")[:5]
        assert list(ids) == list(order), question
        np.testing.assert_allclose(scores, brute[order], atol=1e-5)
    scores, ids = search_vectors(data.vectors, q, 100)  # k past the index size is cut, not padded
    assert len(ids) == 20 and (ids >= 0).all()


def test_flat_matrix_is_the_stored_vectors_and_none_for_an_approximate_index(small_index):
    import faiss

    data = load_index(small_index)
    m = flat_matrix(data.vectors)
    np.testing.assert_array_equal(m, data.vectors.reconstruct_n(0, data.vectors.ntotal))
    hnsw = faiss.IndexHNSWFlat(m.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(m)
    assert flat_matrix(hnsw) is None and flat_matrix(faiss.IndexFlatIP(4)) is None


# --- atomic builds ----------------------------------------------------------------------------
def test_failed_build_leaves_previous_index(tmp_path, monkeypatch):
    out = tmp_path / "idx"
    _quiet_build([_glossary(tmp_path / "old.jsonl", 3)], out)
    before = load_index(out)

    embedder = make_embedder(DEFAULT_EMBEDDER)
    real = embedder.embed_passages
    calls = []

    def fail_on_second_batch(texts):
        calls.append(len(texts))
        if len(calls) > 1:
            raise RuntimeError("embedder died")
        return real(texts)

    monkeypatch.setattr(embedder, "embed_passages", fail_on_second_batch)
    monkeypatch.setattr(VectorCache, "embed", partialmethod(VectorCache.embed, batch=2))
    with pytest.raises(RuntimeError, match="embedder died"):
        _quiet_build([_glossary(tmp_path / "new.jsonl", 6, start=10)], out)
    assert calls == [2, 2]  # it really failed mid-build, after one batch

    after = load_index(out)
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert after.manifest["built_at"] == before.manifest["built_at"]
    assert _leftovers(out) == []  # no .building-* (or .old-*) folder left behind


def test_killed_build_leaves_previous_index(tmp_path):
    out = tmp_path / "idx"
    _quiet_build([_glossary(tmp_path / "old.jsonl", 4)], out)
    big = _glossary(tmp_path / "big.jsonl", 200, start=100, word="생성항목")
    code = ("import sys; from finterm.api import build; "
            "build([sys.argv[1]], sys.argv[2], progress=False, log=lambda m: None)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(big), str(out)], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        building = []
        while not building and proc.poll() is None:
            building = list(tmp_path.glob("idx.building-*"))
            time.sleep(0.02)
        assert building, f"the build ended (rc {proc.returncode}) before its .building folder was seen: " \
                         f"{proc.stderr.read().decode()[-500:]}"
        while _cached_vectors() < 4 + 32 and proc.poll() is None:  # one batch of the new entries embedded
            time.sleep(0.05)
        assert proc.poll() is None, "the build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    data = load_index(out)  # the old index, untouched
    assert len(data.entries) == data.manifest["entries"] == 4
    assert [e.term for e in data.entries] == [f"용어{i}" for i in range(4)]

    # The next build still works, and replaces the index.
    _quiet_build([_glossary(tmp_path / "small.jsonl", 2, start=50)], out)
    assert [e.term for e in load_index(out).entries] == ["용어50", "용어51"]


def test_crash_between_renames_is_recovered(tmp_path):
    out = tmp_path / "idx"
    _quiet_build([_glossary(tmp_path / "g.jsonl", 2)], out)
    os.replace(out, tmp_path / "idx.old-99999")  # as if killed after the first rename of the swap
    assert len(load_index(out).entries) == 2
    assert _leftovers(out) == []


# --- incremental rebuild ----------------------------------------------------------------------
def test_rebuild_embeds_only_new_entries(tmp_path):
    out = tmp_path / "idx"
    g = _glossary(tmp_path / "g.jsonl", 6)
    logs: list[str] = []
    first = build([g], out, progress=False, log=logs.append)
    assert first["embedded"] == 6
    assert "imported 6 entries, skipped 0, duplicates 0" in " ".join(logs)
    assert vector_cache_path().is_file()

    with g.open("a", encoding="utf-8") as f:  # three new entries, one broken row
        for i in (90, 91, 92):
            f.write(json.dumps({"term": f"새용어{i}", "definition": f"새로 더한 {i}번 설명이다."},
                               ensure_ascii=False) + "\n")
        f.write('{"term": "반쪽"}\n')
    logs.clear()
    second = build([g], out, progress=False, log=logs.append)
    assert second["embedded"] == 3
    assert second["entries"] == 9 == len(load_index(out).entries)
    assert f"{g}:10: no definition for '반쪽'" in logs
    assert second["sources"][0]["sha256"] != first["sources"][0]["sha256"]

    assert _quiet_build([g], out)["embedded"] == 0  # nothing changed: nothing embedded


# --- corrupt or mismatched indexes ------------------------------------------------------------
@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(small_index, dst)
    return dst


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _expect_rebuild_error(path: Path, what: str) -> None:
    with pytest.raises(FintermError) as err:
        load_index(path)
    msg = str(err.value)
    assert "finterm index" in msg and str(path) in msg and "\n" not in msg
    assert what in msg


def test_truncated_vectors(index_copy):
    f = index_copy / "vectors.faiss"
    f.write_bytes(f.read_bytes()[:1000])
    _expect_rebuild_error(index_copy, "corrupt")


def test_garbage_manifest(index_copy):
    (index_copy / "manifest.json").write_text("{this is not json", encoding="utf-8")
    _expect_rebuild_error(index_copy, "manifest.json")


def test_wrong_format(index_copy):
    m = _manifest(index_copy)
    m["format"] = "finterm-index/0"
    (index_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    _expect_rebuild_error(index_copy, "'finterm-index/0'")


def test_entry_count_mismatch(index_copy):
    m = _manifest(index_copy)
    m["entries"] = 21
    (index_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    _expect_rebuild_error(index_copy, "manifest 21")


def test_missing_entry_rows(index_copy):
    f = index_copy / "entries.jsonl"
    f.write_text("".join(f.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    _expect_rebuild_error(index_copy, "entries 19")


def test_garbage_entries(index_copy):
    (index_copy / "entries.jsonl").write_text('{"term": "no id"}\n', encoding="utf-8")
    _expect_rebuild_error(index_copy, "corrupt")


def test_missing_index(tmp_path):
    _expect_rebuild_error(tmp_path / "never-built", "no index")


def test_retriever_with_other_embedder_asks_for_rebuild(small_index):
    from finterm.rag.retrieve import Retriever

    with pytest.raises(FintermError, match="rebuild") as err:
        Retriever.open(small_index, embedder_spec="st:other")
    msg = str(err.value)
    assert f"'{DEFAULT_EMBEDDER}'" in msg and "st:other" in msg and "finterm index" in msg


# --- indexes made by an older finterm -----------------------------------------------------------
def test_index_from_an_older_tokeniser_is_re_read(index_copy, capsys):
    from finterm.index.morph import tokens_many
    from finterm.index.store import bm25_text

    m = _manifest(index_copy)
    del m["tokens"], m["files"]  # an older finterm recorded neither
    (index_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    (index_copy / "tokens.json").write_text(json.dumps([["낡은"]] * m["entries"]), encoding="utf-8")
    data = load_index(index_copy)
    assert data.tokens == tokens_many([bm25_text(e) for e in data.entries])
    err = capsys.readouterr().err
    assert "re-reading" in err and "finterm index" in err and err.count("\n") == 1


def test_default_index_is_rebuilt_when_stale(tmp_path, monkeypatch, capsys):
    import finterm.api as api

    glossary = tmp_path / "bundled.jsonl"
    shutil.copy(MINI, glossary)
    monkeypatch.setattr(api, "bundled_glossary", lambda: glossary)
    path = api.ensure_default_index(progress=False)
    assert _manifest(path)["entries"] == 20
    capsys.readouterr()
    api.ensure_default_index(progress=False)  # current: nothing to do
    assert "rebuilding" not in capsys.readouterr().err

    m = _manifest(path)
    m["tokens"] = "kiwi-finterm/1"
    (path / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    api.ensure_default_index(progress=False)
    assert "older finterm" in capsys.readouterr().err and _manifest(path)["tokens"] != "kiwi-finterm/1"

    extra = {"id": "t21", "term": "환매조건부채권", "aliases": ["RP"], "category": "금융시장·금융기관",
             "definition": "일정 기간 뒤 정해진 값에 다시 사들이기로 약속하고 파는 채권이다. "
                           "단기 자금을 빌리는 수단으로 쓰인다."}
    with glossary.open("a", encoding="utf-8") as f:
        f.write(json.dumps(extra, ensure_ascii=False) + "\n")
    api.ensure_default_index(progress=False)
    assert "bundled glossary has changed" in capsys.readouterr().err
    assert _manifest(path)["entries"] == 21
