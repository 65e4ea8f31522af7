"""Importing never loses or changes text without saying so (issue 11: items 2-6, 10)."""

from __future__ import annotations

from pathlib import Path

from finterm.index.clean import CleanStats, clean_text
from finterm.index.load import load_glossary


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
