"""Cleaning of definition text from real exports: entities, markup, stray whitespace, "참조" stubs."""

from __future__ import annotations

import html
import re

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE | re.DOTALL)
_ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</?(p|br|div|li|tr|table|h\d)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SPACE = re.compile(r"\s+")
# "=> 『전방연쇄효과』 참조", "☞ 후방연쇄효과 참조": the entry only points at another one.
_STUB = re.compile(r"^\s*(?:=>|⇒|→|☞)\s*[『「\"']?(?P<target>[^』」\"']+?)[』」\"']?\s*(?:을|를)?\s*참조\s*\.?\s*$")


def _img_text(match: re.Match) -> str:
    # Exports put formulas in images; their alt text is often the formula itself. Keep it when
    # it is one (it has an "="), drop decorative alt text.
    alt = _ALT.search(match.group(0))
    text = html.unescape(alt.group(2)).strip() if alt else ""
    return f" ({text}) " if "=" in text else " "


def clean_text(text: str) -> str:
    """Plain one-line text: HTML entities decoded, tags and <img> markup removed, spaces normalised."""
    if not text:
        return ""
    text = html.unescape(text)  # &gt; &lsquo; … (done first: some exports escape their tags)
    text = _IMG.sub(_img_text, text)
    text = _BLOCK.sub(" ", text)
    text = _TAG.sub("", text)
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    return _SPACE.sub(" ", text).strip()


def stub_target(definition: str) -> str | None:
    """The term a "=> X 참조" stub points to, or None if the definition is a real one."""
    m = _STUB.match(definition)
    return m.group("target").strip() if m else None


_PAREN = re.compile(r"^(?P<head>.+?)\s*\((?P<inner>[^()]+)\)\s*$")


def split_term(raw: str) -> tuple[str, list[str]]:
    """Split "국내총생산(GDP)" into ("국내총생산", ["GDP"]); "A, B" inside becomes two aliases."""
    raw = clean_text(raw)
    m = _PAREN.match(raw)
    if not m:
        return raw, []
    inner = [p.strip() for p in re.split(r"[,;]", m.group("inner")) if p.strip()]
    return m.group("head").strip(), inner
