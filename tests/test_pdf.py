"""PDF glossaries: a real PDF with a Korean font is written by the test (fpdf2), then imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from finterm import FintermError
from finterm.index.load import load_glossary

FONTS = [Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),  # Debian fonts-nanum (.ci/run installs it)
         Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")]
FONT = next((f for f in FONTS if f.is_file()), None)
needs_font = pytest.mark.skipif(FONT is None, reason="no Korean TTF font (apt-get install fonts-nanum)")

HEADING_LAYOUT = [
    ("국내총생산(GDP)", None,
     "일정 기간 동안 한 나라 안에서 새로 생산된 최종 재화와 서비스의 시장가치를 모두 더한 값이다. "
     "국적과 관계없이 국내에서 이루어진 생산을 모두 포함하며, 한 나라의 경제 규모와 성장세를 가늠하는 가장 "
     "기본적인 지표로 쓰인다. 분기마다 속보치와 잠정치가 발표된다."),
    ("기준금리", "base rate",
     "중앙은행이 금융기관과 거래할 때 기준이 되는 정책금리이다. 시장금리와 예금·대출 금리에 영향을 준다."),
    ("유동성함정", None, None),  # a heading whose definition is missing
    ("환율", None, "두 나라 돈을 바꾸는 비율이다. 원/달러 환율이 오르면 원화 가치가 떨어진다는 뜻이다."),
]


def _write_pdf(path: Path, pages: list[list[tuple[str, str | None, str | None]]], *, one_line: list[str] = (),
               preamble: str = "") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)  # one glossary page per list, footer included
    pdf.add_font("ko", fname=str(FONT))
    for number, page in enumerate(pages, 1):
        pdf.add_page()
        pdf.set_font("ko", size=9)
        pdf.cell(0, 6, "경제금융용어 모음집", new_x="LMARGIN", new_y="NEXT")  # running header
        pdf.set_font("ko", size=11)
        if number == 1 and preamble:
            pdf.multi_cell(0, 7, preamble, new_x="LMARGIN", new_y="NEXT")
        for term, english, definition in page:
            pdf.cell(0, 8, term, new_x="LMARGIN", new_y="NEXT")
            if english:
                pdf.cell(0, 7, english, new_x="LMARGIN", new_y="NEXT")
            if definition:
                pdf.multi_cell(0, 7, definition, new_x="LMARGIN", new_y="NEXT")  # wraps over lines
        for line in one_line if number == len(pages) else []:
            pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-15)
        pdf.cell(0, 6, f"- {number} -", align="C")  # page number footer
    pdf.output(str(path))
    return path


@needs_font
def test_pdf_headings_and_one_line_rows_import(tmp_path):
    pdf = _write_pdf(tmp_path / "용어집.pdf", [HEADING_LAYOUT[:2], HEADING_LAYOUT[2:], []],
                     one_line=["잠재성장률: 물가 상승 압력 없이 한 나라가 지속할 수 있는 최대 성장률이다."],
                     preamble="이 자료는 경제 기사를 읽는 데 도움이 되도록 자주 쓰이는 용어를 모은 것입니다.")
    report = load_glossary(pdf)
    got = {e.term: e for e in report.entries}
    assert set(got) == {"국내총생산", "기준금리", "환율", "잠재성장률"}, report.problems
    gdp = got["국내총생산"]
    assert "GDP" in gdp.aliases and gdp.source == "용어집"
    # The wrapped paragraph is one definition, whole, without the running header or page numbers.
    assert gdp.definition.startswith("일정 기간 동안") and gdp.definition.endswith("잠정치가 발표된다.")
    for e in report.entries:
        assert "경제금융용어 모음집" not in e.definition and "- 1 -" not in e.definition
    assert "base rate" in got["기준금리"].aliases
    # The heading without a definition and the preamble are reported with file:line; the rest imported.
    assert any(p.startswith(f"{pdf}:") and "유동성함정" in p for p in report.problems), report.problems
    assert any("before the first term heading" in p and "page 1" in p for p in report.problems)


@needs_font
def test_pdf_glossary_is_searchable_through_the_cli_path(tmp_path):
    from finterm.api import build
    from finterm.rag.retrieve import Retriever

    pdf = _write_pdf(tmp_path / "내용어.pdf", [HEADING_LAYOUT])
    out = tmp_path / "idx"
    manifest = build([pdf], out, progress=False, log=lambda m: None)
    assert manifest["entries"] == 3
    hit = Retriever.open(out).search("GDP").hits[0]
    assert hit.entry.term == "국내총생산" and hit.entry.source == "내용어"


def test_broken_scanned_and_encrypted_pdfs_are_one_line_errors(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n this is not really a pdf")
    with pytest.raises(FintermError, match="not a readable PDF") as err:
        load_glossary(broken)
    assert "\n" not in str(err.value)

    from fpdf import FPDF

    scan = FPDF()
    scan.add_page()
    scan.rect(20, 20, 100, 60, style="F")  # a page with drawing but no text, like a scan
    scan.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(FintermError, match="no text layer"):
        load_glossary(tmp_path / "scan.pdf")

    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="secret")
    locked.add_page()
    locked.set_font("helvetica", size=12)
    locked.cell(0, 10, "GDP: gross domestic product of a country in a year")
    locked.output(str(tmp_path / "locked.pdf"))
    with pytest.raises(FintermError, match="encrypted"):
        load_glossary(tmp_path / "locked.pdf")


# --- issue 11 item 6: a PDF that is not a glossary is refused unless --force ---------------------
SPEC = [("1 Introduction", "This document specifies the wire format used by the storage service. It is "
         "intended for implementers of clients and servers and assumes familiarity with TCP."),
        ("2 Terminology", "The key words MUST, SHOULD and MAY are to be interpreted as described in RFC 2119 "
         "when they appear in capitals."),
        ("3 Message framing", "Every message starts with a four byte length prefix in network byte order, "
         "followed by the payload and a checksum."),
        ("4 Error handling", "A receiver that sees a bad checksum closes the connection and logs the event "
         "with the peer address and the offset."),
        ("Security Considerations", "Implementations should limit the size of a message they accept to avoid "
         "exhausting memory on hostile input.")]


def _english_spec(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for heading, body in SPEC * 3:
        pdf.cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 7, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_a_pdf_that_is_not_a_glossary_is_refused_unless_forced(tmp_path):
    p = _english_spec(tmp_path / "spec.pdf")
    with pytest.raises(FintermError) as err:
        load_glossary(p)
    msg = str(err.value)
    assert "\n" not in msg and "does not look like a glossary" in msg and "--force" in msg
    report = load_glossary(p, force=True)
    assert len(report.entries) >= 5


def test_pypdf_warnings_do_not_reach_the_terminal(tmp_path, capfd):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 7, "GDP: Gross domestic product is the value of all final goods produced in a year.")
    data = bytes(pdf.output())
    p = tmp_path / "xref.pdf"
    p.write_bytes(data[:data.rfind(b"startxref")] + b"startxref\n999999\n%%EOF\n")  # a wrong xref pointer
    report = load_glossary(p)
    assert [e.term for e in report.entries] == ["GDP"]
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert any("pypdf" in w for w in report.warnings)
