"""Decode a glossary file as people have it: UTF-8 (with or without BOM), UTF-16/32 (Excel's "Unicode
text"), or CP949/EUC-KR (what Korean Excel and Windows Notepad write by default).

Order: a BOM decides; then UTF-16 without BOM (NUL bytes in every other place); then strict UTF-8;
then strict CP949. A file that is neither throughout is read line by line in whichever of the two
fits more lines, and the lines that fit neither are returned as undecodable (to be reported and
skipped, never guessed at).
"""

from __future__ import annotations

import re
from pathlib import Path

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig", "UTF-8 (BOM)"), (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
         (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"), (b"\xff\xfe", "utf-16", "UTF-16"),
         (b"\xfe\xff", "utf-16", "UTF-16"))
_LINE = re.compile(r"(?<=\n)")


def split_lines(text: str) -> list[str]:
    """Lines with their "\\n", split on "\\n" only (str.splitlines would also split on U+2028, \\x0c …)."""
    return [line for line in _LINE.split(text) if line]


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4000]
    if len(sample) < 4:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def decode_file(path: Path) -> tuple[list[str], str, list[int]]:
    """(lines with their newlines, the encoding used in words, 1-based numbers of undecodable lines).

    An undecodable line is returned as "\\n", so line numbers stay those of the file.
    """
    data = path.read_bytes()
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _whole_or_marked(data, codec, name)
    wide = _utf16_without_bom(data)
    if wide:
        return _whole_or_marked(data, wide, "UTF-16")
    for codec, name in (("utf-8", "UTF-8"), ("cp949", "CP949")):
        try:
            return split_lines(data.decode(codec)), name, []
        except UnicodeDecodeError:
            pass
    raw = data.split(b"\n")

    def fits(line: bytes, codec: str) -> bool:
        try:
            line.decode(codec)
            return True
        except UnicodeDecodeError:
            return False

    codec, name = max((("utf-8", "UTF-8"), ("cp949", "CP949")), key=lambda c: sum(fits(x, c[0]) for x in raw))
    lines, bad = [], []
    for n, line in enumerate(raw, 1):
        end = "\n" if n < len(raw) else ""
        try:
            lines.append(line.decode(codec) + end)
        except UnicodeDecodeError:
            lines.append(end)
            bad.append(n)
    return [x for x in lines if x], name, bad


def _whole_or_marked(data: bytes, codec: str, name: str) -> tuple[list[str], str, list[int]]:
    """Decode with a known codec; lines holding undecodable bytes are blanked and listed."""
    try:
        return split_lines(data.decode(codec)), name, []
    except UnicodeDecodeError:
        pass
    lines = split_lines(data.decode(codec, errors="replace"))
    bad = [n for n, line in enumerate(lines, 1) if "\ufffd" in line]
    return [("\n" if "\ufffd" in line else line) for line in lines], name, bad
