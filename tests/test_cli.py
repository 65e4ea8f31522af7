"""The CLI contract other tools depend on: JSON shapes, batch mode, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finterm.cli import main

FINTERM = [sys.executable, "-m", "finterm.cli"]


def run(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINTERM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*FINTERM, *args], capture_output=True, text=True, env=env, input=stdin, timeout=600)


def test_search_json_contract(small_index, capsys):
    assert main(["search", "GDP가 뭐야?", "-k", "3", "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "abstained", "suggestions", "hits"}
    assert out["abstained"] is False and len(out["hits"]) == 3
    hit = out["hits"][0]
    assert set(hit) == {"id", "term", "aliases", "category", "source", "score", "definition"}
    assert hit["term"] == "국내총생산" and "GDP" in hit["aliases"] and hit["source"] == "테스트 용어집"
    scores = [h["score"] for h in out["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_batch_prints_one_object_per_line_in_order(small_index, tmp_path, capsys):
    batch = tmp_path / "q.jsonl"
    qs = ["기준금리", "삼겹살 맛있게 굽는 법", "인풀레이션", "국내 총생산"]
    batch.write_text("\n".join(json.dumps({"q": q}, ensure_ascii=False) for q in qs) + "\n", encoding="utf-8")
    assert main(["search", "--batch", str(batch), "--index", str(small_index), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query"] for x in lines] == qs
    assert lines[0]["hits"][0]["term"] == "기준금리"
    assert lines[1]["abstained"] is True and lines[1]["hits"] == []
    assert lines[2]["hits"][0]["term"] == "인플레이션" and "인플레이션" in lines[2]["suggestions"]


def test_ask_json_contract(small_index, capsys):
    assert main(["ask", "기준금리가 뭐야?", "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"question", "answer", "abstained", "citations", "generator"} <= set(out)
    assert out["generator"] == "extractive" and out["abstained"] is False
    assert out["citations"][0] == {"n": 1, "id": "t03", "term": "기준금리", "source": "테스트 용어집"}
    assert "[1]" in out["answer"]


def test_a_misspelt_name_in_a_question_is_corrected_and_said(small_index, capsys):
    q = "인풀레이션이 오면 금리가 오르나요"
    assert main(["search", q, "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["corrected_from"] == q and out["query"].startswith("인플레이션이") and not out["abstained"]
    assert main(["ask", q, "--index", str(small_index)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("(고쳐서 찾은 질문: 인플레이션이 오면 금리가 오르나요)") and "[1]" in text
    assert main(["ask", q, "--index", str(small_index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["corrected_from"] == q


def test_ask_off_topic_is_not_found_with_no_citations(small_index, capsys):
    assert main(["ask", "피아노 조율은 얼마나 자주 해야 해?", "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["abstained"] is True and out["citations"] == []
    assert "not in the glossary" in out["answer"]


def test_entries_prints_every_entry(small_index, capsys):
    assert main(["entries", "--index", str(small_index)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 20 and rows[0]["id"] == "t01"


def test_empty_query_exits_2_with_one_line(small_index, tmp_path):
    p = run("search", "   ", "--index", str(small_index), home=tmp_path)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "empty" in p.stderr and "Traceback" not in p.stderr


def test_huge_query_is_cut_not_crashed_on(small_index, capsys):
    assert main(["search", "기준금리 " * 20_000, "--index", str(small_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["query"]) <= 1000


@pytest.mark.parametrize("damage", ["missing", "corrupt", "embedder"])
def test_bad_index_is_one_line_naming_the_fix(small_index, tmp_path, damage):
    import shutil

    idx = tmp_path / "idx"
    extra: list[str] = []
    if damage == "missing":
        idx = tmp_path / "nothing-here"
    else:
        shutil.copytree(small_index, idx)
        if damage == "corrupt":
            (idx / "vectors.faiss").write_bytes(b"not a faiss file")
        else:
            extra = ["--embedder", "st:intfloat/multilingual-e5-small"]
    p = run("search", "GDP", "--index", str(idx), *extra, home=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "finterm index" in p.stderr and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_search_does_not_import_torch(small_index, tmp_path):
    code = ("import sys; from finterm.cli import main; main(['search','GDP','--index',sys.argv[1],'--json']);"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code, str(small_index)], capture_output=True, text=True,
                       env={**os.environ, "FINTERM_HOME": str(tmp_path)}, timeout=300)
    assert p.returncode == 0 and "NO-TORCH" in p.stderr


def test_index_reports_bad_rows_and_imports_the_rest(tmp_path):
    g = tmp_path / "my.jsonl"
    good = {"term": "환율", "definition": "두 나라 돈을 바꾸는 비율이다. 환율이 오르면 원화 가치가 떨어진다."}
    g.write_text(json.dumps(good, ensure_ascii=False) + "\n{broken\n" + json.dumps({"term": "빈 정의"}) + "\n",
                 encoding="utf-8")
    p = run("index", str(g), "--out", str(tmp_path / "idx"), "--quiet", home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"{g}:2: not valid JSON" in p.stderr and f"{g}:3: no definition" in p.stderr
    assert "imported 1 entries, skipped 2" in p.stderr
    p = run("search", "환율", "--index", str(tmp_path / "idx"), "--json", home=tmp_path)
    assert json.loads(p.stdout)["hits"][0]["source"] == "my"


def test_unknown_option_exits_2(tmp_path):
    p = run("search", "GDP", "--nope", home=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_ask_with_a_history_file_answers_the_follow_up_about_the_last_term(small_index, tmp_path, capsys):
    history = tmp_path / "turns.jsonl"
    history.write_text('{"question": "기준금리가 뭐야?", "terms": ["기준금리"]}\n', encoding="utf-8")
    assert main(["ask", "그건 누가 정해?", "--index", str(small_index), "--history", str(history), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["note"] == "이전 질문의 '기준금리'에 대해 답합니다" and out["asked"] == "그건 누가 정해?"
    assert "기준금리" in out["terms"] and out["confidence"]["label"] in ("높음", "보통", "낮음")
    history.write_text('{"question": "기준금리가 뭐야?"}\n', encoding="utf-8")  # terms are found again
    assert main(["ask", "그건 누가 정해?", "--index", str(small_index), "--history", str(history)]) == 0
    assert capsys.readouterr().out.startswith("(이전 질문의 '기준금리'에 대해 답합니다)")
    history.write_text("not json\n", encoding="utf-8")
    assert main(["ask", "그건?", "--index", str(small_index), "--history", str(history)]) == 1
    assert "turns.jsonl:1:" in capsys.readouterr().err


def test_chat_keeps_the_conversation_and_numbers_ask_the_next_steps(small_index, tmp_path, monkeypatch, capsys):
    import io

    save = tmp_path / "chat.jsonl"
    monkeypatch.setattr("sys.stdin", io.StringIO("기준금리가 뭐야?\n그건 누가 정해?\n1\nq\n"))
    assert main(["chat", "--index", str(small_index), "--save", str(save)]) == 0
    out = capsys.readouterr().out
    assert "(이전 질문의 '기준금리'에 대해 답합니다)" in out and "다음 질문: 1) " in out
    turns = [json.loads(x) for x in save.read_text(encoding="utf-8").splitlines()]
    assert len(turns) == 3 and turns[0] == {"question": "기준금리가 뭐야?", "terms": ["기준금리"]}
