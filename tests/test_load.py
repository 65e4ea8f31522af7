"""Glossary loading: native JSONL, CSV/TSV with --map, the BOK crawl format, cleaning, keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finterm import FintermError
from finterm.index.clean import clean_text, split_term, stub_target
from finterm.index.load import load_glossary, load_many, parse_mapping
from finterm.index.normalize import edit_distance, name_keys, norm_key, to_jamo


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in rows), encoding="utf-8")
    return path


# --- native JSONL ------------------------------------------------------------------------------
def test_jsonl_good_file_loads_every_field(tmp_path):
    p = _jsonl(tmp_path / "내용어집.jsonl", [
        {"id": "a1", "term": "환율", "aliases": ["exchange rate"], "category": "국제경제",
         "definition": "두 나라 돈의 교환 비율이다.", "related": ["외환시장"], "source": "내 용어집",
         "example": "환율이 오르면 수입품이 비싸진다.", "url": "https://example.org/fx"},
        {"term": "외환시장", "definition": "외국 돈을 사고파는 시장이다."},
    ])
    report = load_glossary(p)
    assert report.problems == []
    first, second = report.entries
    assert (first.id, first.term, first.aliases) == ("a1", "환율", ("exchange rate",))
    assert first.category == "국제경제"
    assert first.definition == "두 나라 돈의 교환 비율이다."
    assert first.related == ("외환시장",)
    assert first.source == "내 용어집"  # the row's own source wins
    assert first.example.startswith("환율이 오르면") and first.url == "https://example.org/fx"
    # No id or source in the row: an id is made up and the file name is the source.
    assert second.source == "내용어집" and second.id
    assert report.summary().startswith("imported 2 entries, skipped 0, duplicates 0")


def test_jsonl_broken_rows_are_reported_and_the_rest_imported(tmp_path):
    p = _jsonl(tmp_path / "broken.jsonl", [
        {"term": "예금", "definition": "은행에 돈을 맡기는 일이다."},
        '{"term": "깨진 줄", "definition": ',
        {"definition": "용어가 없는 줄이다."},
        {"term": "정의없음"},
        "[1, 2, 3]",
        {"term": "대출", "definition": "돈을 빌려주거나 빌리는 일이다."},
        "",
        {"term": "이자", "definition": "돈을 빌린 대가로 내는 값이다."},
        {"term": "공백정의", "definition": "   "},
    ])
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["예금", "대출", "이자"]
    assert len(report.problems) == 5
    assert report.problems[0].startswith(f"{p}:2: not valid JSON (")
    assert report.problems[1:] == [
        f"{p}:3: no term",
        f"{p}:4: no definition for '정의없음'",
        f"{p}:5: expected a JSON object",
        f"{p}:9: no definition for '공백정의'",
    ]
    assert report.skipped == 5
    assert report.summary().startswith("imported 3 entries, skipped 5, duplicates 0")


def test_unreadable_or_unknown_files_are_one_line_errors(tmp_path):
    with pytest.raises(FintermError, match="does not exist"):
        load_glossary(tmp_path / "nope.jsonl")
    old = tmp_path / "g.xls"
    old.write_text("x", encoding="utf-8")
    with pytest.raises(FintermError, match="unsupported glossary format '.xls'; save it as .xlsx or CSV"):
        load_glossary(old)
    bad = tmp_path / "g.xlsx"
    bad.write_text("x", encoding="utf-8")
    with pytest.raises(FintermError, match="not a readable .xlsx workbook") as err:
        load_glossary(bad)
    assert "\n" not in str(err.value)


def test_text_format(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("# 내 메모\n금리: 돈을 빌린 값의 비율이다.\n"
                 "채권\t돈을 빌렸다는 증서이다.\n콜론도 탭도 없는 줄\n", encoding="utf-8")
    report = load_glossary(p)
    assert [(e.term, e.definition) for e in report.entries] == [
        ("금리", "돈을 빌린 값의 비율이다."), ("채권", "돈을 빌렸다는 증서이다.")]
    assert report.problems == [f"{p}:4: expected '용어: 정의' or '용어<TAB>정의'"]


# --- CSV / TSV with a column mapping ---------------------------------------------------------
MAP = "term=용어,definition=설명,related=관련"


def test_csv_with_mapping(tmp_path):
    p = tmp_path / "csv용어.csv"
    p.write_text("용어,설명,관련,메모\n"
                 "물가,\"여러 물건 값의 평균적인 수준이다.\",인플레이션;디플레이션,무시됨\n"
                 ",이름이 없는 줄,,\n"
                 "통화량,시중에 풀린 돈의 양이다.,,\n", encoding="utf-8")
    report = load_glossary(p, mapping=parse_mapping(MAP))
    assert [e.term for e in report.entries] == ["물가", "통화량"]
    assert report.entries[0].related == ("인플레이션", "디플레이션")
    assert report.entries[0].source == "csv용어"
    assert report.problems == [f"{p}:3: no term"]


def test_tsv_with_mapping(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("용어\t설명\t관련\n국채\t정부가 돈을 빌리며 내는 채권이다.\t채권, 금리\n", encoding="utf-8")
    (entry,) = load_glossary(p, mapping=parse_mapping(MAP)).entries
    assert (entry.term, entry.related) == ("국채", ("채권", "금리"))
    assert entry.definition == "정부가 돈을 빌리며 내는 채권이다."


def test_csv_native_header_needs_no_mapping(tmp_path):
    p = tmp_path / "plain.csv"
    p.write_text("term,definition,aliases\n예산,정부의 한 해 계획이다.,budget\n", encoding="utf-8")
    (entry,) = load_glossary(p).entries
    assert (entry.term, entry.aliases) == ("예산", ("budget",))


def test_parse_mapping():
    assert parse_mapping(MAP) == {"term": "용어", "definition": "설명", "related": "관련"}
    assert parse_mapping(None) == {} and parse_mapping("") == {}
    with pytest.raises(FintermError, match="'terms' is unknown") as err:
        parse_mapping("terms=용어,definition=설명")
    assert "\n" not in str(err.value) and "definition" in str(err.value)  # lists the valid fields
    with pytest.raises(FintermError, match="not field=column"):
        parse_mapping("term")


def test_csv_whose_columns_cannot_be_found_names_map(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("단어,뜻\n금리,돈의 값이다.\n", encoding="utf-8")
    with pytest.raises(FintermError, match="--map") as err:
        load_glossary(p)  # no mapping, header not recognised
    assert "단어" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(FintermError, match="--map"):
        load_glossary(p, mapping=parse_mapping(MAP))  # mapping names columns the file lacks


# --- the Bank of Korea crawl format -----------------------------------------------------------
# Written here, with short made-up definitions in the crawl's shape: entities, tabs and newlines
# inside quoted cells, formula images, "=> 『X』 참조" stubs and Python-literal relateLists.
BOK_CSV = (
    "ecWordNm,ecWordCn,relateList\n"
    "가계부실위험지수(HDRI),\"가계 빚의 위험을 재는 &lsquo;가상의&rsquo; 지표로,\n"
    "\t\t지수가 100 &gt; 기준이면   위험가구로 본다.\","
    "\"[{'ecWordSn': 1, 'relateEcWordSn': 7, 'ecWordNm': '총부채원리금상환비율(DSR)'}, "
    "{'ecWordSn': 1, 'relateEcWordSn': 9, 'ecWordNm': '가계부채'}]\"\n"
    "후방연쇄효과,\"한 산업이 자라면 재료를 대는 앞 단계 산업도 함께 자라는 효과이다.\r\n"
    "<p class=\"\"tac\"\"><img src=\"\"x.gif\"\" alt=\"\"A = B ÷ C\"\"></p>여기서 A는 효과의 크기이다.\",[]\n"
    "전방연쇄효과,=&gt; 『후방연쇄효과』 참조,[]\n"
    "빈정의,,[]\n"
    "없는곳,=&gt; 『어디에도없는용어』 참조,\n"
)


def test_bok_crawl_recognised_and_cleaned_without_mapping(tmp_path):
    p = tmp_path / "bok_sample.csv"
    p.write_text(BOK_CSV, encoding="utf-8", newline="")
    report = load_glossary(p)
    by_term = {e.term: e for e in report.entries}
    assert set(by_term) == {"가계부실위험지수", "후방연쇄효과"}

    hdri = by_term["가계부실위험지수"]
    assert hdri.aliases == ("HDRI",)
    assert hdri.definition == ("가계 빚의 위험을 재는 \u2018가상의\u2019 지표로, "
                               "지수가 100 > 기준이면 위험가구로 본다.")
    assert hdri.related == ("총부채원리금상환비율", "가계부채")
    assert hdri.source == "bok_sample"

    chain = by_term["후방연쇄효과"]
    assert "<" not in chain.definition and "gif" not in chain.definition
    assert "(A = B ÷ C)" in chain.definition  # the formula's alt text is kept
    assert "\t" not in chain.definition and "\n" not in chain.definition and "  " not in chain.definition
    assert chain.related == ()
    assert chain.aliases == ("전방연쇄효과",)  # the stub became an alias of its target

    # The empty definition is reported at its physical line, after the multi-line cells above.
    assert report.problems == [f"{p}:7: no definition for '빈정의'"]
    assert (report.stubs_aliased, report.stubs_skipped) == (1, 1)
    assert "cross-reference stubs 1 merged as aliases / 1 unresolved" in report.summary()


def test_english_names_a_definition_opens_with_become_aliases(tmp_path):
    p = tmp_path / "bok3.csv"
    p.write_text("ecWordNm,ecWordCn,relateList\n"
                 "가계처분가능소득,\"가계처분가능소득(PDI; Personal Disposable Income)은 가계가 마음대로 쓸 수 있는 "
                 "소득이다.\",[]\n"
                 "유통시장,\"유통시장(또는 제2차 시장, secondary market)은 이미 발행된 증권이 거래되는 곳이다.\",[]\n"
                 "물가,물가(1년 평균)는 여러 상품 가격의 평균 수준이다.,[]\n", encoding="utf-8")
    by_term = {e.term: e for e in load_glossary(p).entries}
    assert by_term["가계처분가능소득"].aliases == ("PDI", "Personal Disposable Income")
    assert by_term["유통시장"].aliases == ("secondary market",)  # the Korean part stays in the text
    assert by_term["물가"].aliases == ()


def test_stub_to_first_entry_with_bracket_name(tmp_path):
    # The target is the file's first entry (index 0) and is named with its bracket part.
    p = tmp_path / "bok2.csv"
    p.write_text("ecWordNm,ecWordCn,relateList\n"
                 "국내총생산(GDP),나라 안에서 한 해에 만든 것의 값이다.,[]\n"
                 "국내생산,=&gt; 『국내총생산(GDP)』 참조,[]\n", encoding="utf-8")
    report = load_glossary(p)
    (entry,) = report.entries
    assert entry.aliases == ("GDP", "국내생산")
    assert (report.stubs_aliased, report.stubs_skipped) == (1, 0)


def test_csv_line_numbers_count_blank_lines(tmp_path):
    p = tmp_path / "gaps.csv"
    p.write_text("용어,설명\n금리,돈의 값이다.\n\n빈칸,\n\n\n,이름 없음\n", encoding="utf-8")
    report = load_glossary(p, mapping=parse_mapping("term=용어,definition=설명"))
    assert report.problems == [f"{p}:4: no definition for '빈칸'", f"{p}:7: no term"]


def test_clean_text_and_helpers():
    assert clean_text("a&nbsp;&amp;\tb<br/>c <b>d</b>") == "a & b c d"
    assert clean_text('<img src="deco.png" alt="장식">남음') == "남음"  # decorative alt text dropped
    assert stub_target("=> 『국내총생산』 참조") == "국내총생산"
    assert stub_target("☞ 환율을 참조") == "환율"
    assert stub_target("국내총생산을 참조하여 계산한 값이다.") is None
    assert split_term("국내총생산(GDP)") == ("국내총생산", ["GDP"])
    assert split_term("소비자물가지수(CPI, 물가지수)") == ("소비자물가지수", ["CPI", "물가지수"])
    assert split_term("환율") == ("환율", [])


# --- several glossaries at once ---------------------------------------------------------------
def test_many_glossaries_keep_sources_count_duplicates_and_unique_ids(tmp_path):
    a = _jsonl(tmp_path / "alpha.jsonl", [
        {"id": "x1", "term": "금리", "definition": "돈을 빌린 값의 비율이다."},
        # the same key again in the same file: a duplicate
        {"id": "x2", "term": "금 리", "definition": "같은 용어가 한 번 더 나온 줄이다."},
        {"id": "x3", "term": "채권", "definition": "빌린 돈을 갚겠다는 증서이다."},
    ])
    b = _jsonl(tmp_path / "beta.jsonl", [
        {"id": "x1", "term": "금리", "definition": "다른 용어집의 금리 설명이다."},  # same term, other source
        {"id": "x9", "term": "주식", "definition": "회사 소유권의 한 조각이다."},
    ])
    c = tmp_path / "gamma.csv"
    c.write_text("용어,설명\n환율,두 나라 돈의 교환 비율이다.\n", encoding="utf-8")
    report = load_many([a, b, c], mapping=parse_mapping("term=용어,definition=설명"))
    assert report.duplicates == 1
    assert [(e.term, e.source) for e in report.entries] == [
        ("금리", "alpha"), ("채권", "alpha"), ("금리", "beta"), ("주식", "beta"), ("환율", "gamma")]
    ids = [e.id for e in report.entries]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "x1" and ids[2] != "x1" and "x1" in ids[2]
    assert "duplicates 1" in report.summary()


# --- normalised keys and jamo -----------------------------------------------------------------
def test_name_keys_meet_across_spellings():
    keys = name_keys("국내총생산(GDP)")
    for query in ("국내총생산(GDP)", "국내 총생산", "gdp", "ＧＤＰ", "GDP", "국내총생산"):
        assert norm_key(query) in keys, query
    assert norm_key("ＧＤＰ") == norm_key("g.d.p") == "gdp"
    assert norm_key("『국내 총-생산』") == "국내총생산"
    assert name_keys("환율") == {"환율"}


def test_jamo_and_edit_distance():
    assert to_jamo("인플") == "ㅇㅣㄴㅍㅡㄹ"
    assert to_jamo("값a") == "ㄱㅏㅄa"
    assert edit_distance(to_jamo("인풀레이션"), to_jamo("인플레이션")) == 1
    assert edit_distance("인풀레이션", "인플레이션") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("kitten", "sitting", limit=1) == 2  # stops early: limit + 1
    assert edit_distance("a", "abcdef", limit=2) == 3
