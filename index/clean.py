"""Cleaning of definition text from real exports: entities, markup, stray whitespace, "참조" stubs.

Only real HTML tags are removed: a known tag name, well formed (`<b>`, `</p>`, `<br/>`,
`<span class="x">`). Text such as "P<MC", "a<b and c>d" or "<<중요>>" is never touched.
What is removed is counted in a `CleanStats`, so an import can say so.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_INLINE = ("a abbr b bdi bdo big cite code del dfn em font i ins kbd mark q s samp small span strike strong "
           "sub sup tt u var wbr nobr label")
_BLOCKS = ("p br div li ul ol dl dt dd tr td th table thead tbody tfoot caption col colgroup h1 h2 h3 h4 h5 h6 "
           "hr blockquote pre center section article header footer nav figure figcaption")
_ATTR = r"""\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`]+)"""


def _tag_re(names: str) -> re.Pattern:
    return re.compile(rf"</?(?:{'|'.join(names.split())})(?:{_ATTR})*\s*/?>", re.IGNORECASE)


_IMG = re.compile(rf"<img(?:{_ATTR})*\s*/?>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_BLOCK = _tag_re(_BLOCKS)
_TAG = _tag_re(_INLINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SPACE = re.compile(r"\s+")
# Terminal escape sequences (CSI, OSC up to BEL or ST, C1 CSI), then any single control character
# but whitespace: glossary text must not clear a screen, set a clipboard or plant a link.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# "=> 『전방연쇄효과』 참조", "☞ 후방연쇄효과 참조": the entry only points at another one.
_STUB = re.compile(r"^\s*(?:=>|⇒|→|☞)\s*[『「\"']?(?P<target>[^』」\"']+?)[』」\"']?\s*(?:을|를)?\s*참조\s*\.?\s*$")


@dataclass
class CleanStats:
    """What cleaning removed: HTML tags (and comments), and characters of text that went with them."""

    tags: int = 0
    text_chars: int = 0  # decorative image alt text, comment bodies
    controls: int = 0  # terminal escape sequences and control characters

    def __str__(self) -> str:
        parts = [f"{self.tags} HTML tags"] if self.tags else []
        if self.text_chars:
            parts.append(f"{self.text_chars} characters of image/comment text")
        if self.controls:
            parts.append(f"{self.controls} control characters or escape sequences")
        return ", ".join(parts)


def _img_text(match: re.Match, stats: CleanStats) -> str:
    # Exports put formulas in images; their alt text is often the formula itself. Keep it when
    # it is one (it has an "="), drop decorative alt text (and count it).
    alt = _ALT.search(match.group(0))
    text = html.unescape(alt.group(2)).strip() if alt else ""
    stats.tags += 1
    if "=" in text:
        return f" ({text}) "
    stats.text_chars += len(text)
    return " "


def _counted(pattern: re.Pattern, repl: str, text: str, stats: CleanStats, *, body: bool = False) -> str:
    def sub(m: re.Match) -> str:
        stats.tags += 1
        if body:
            stats.text_chars += len(m.group(0)) - 7  # "<!--" + "-->"
        return repl

    return pattern.sub(sub, text)


def clean_text(text: str, stats: CleanStats | None = None) -> str:
    """Plain one-line text: HTML entities decoded, real tags and <img> markup removed, spaces normalised.

    Removals are added to `stats` when given.
    """
    if not text:
        return ""
    stats = stats if stats is not None else CleanStats()
    text = html.unescape(text)  # &gt; &lsquo; … (done first: some exports escape their tags)
    for pattern in (_ESCAPE, _CONTROL):
        text, n = pattern.subn("", text)
        stats.controls += n
    text = _counted(_COMMENT, " ", text, stats, body=True)
    text = _IMG.sub(lambda m: _img_text(m, stats), text)
    text = _counted(_BLOCK, " ", text, stats)
    text = _counted(_TAG, "", text, stats)
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    return _SPACE.sub(" ", text).strip()


def stub_target(definition: str) -> str | None:
    """The term a "=> X 참조" stub points to, or None if the definition is a real one."""
    m = _STUB.match(definition)
    return m.group("target").strip() if m else None


_PAREN = re.compile(r"^(?P<head>.+?)\s*\((?P<inner>[^()]+)\)\s*$")


def split_term(raw: str) -> tuple[str, list[str]]:
    """Split "국내총생산(GDP)" into ("국내총생산", ["GDP"]); "A, B" inside becomes two aliases.

    `raw` is already cleaned text: it is not unescaped a second time."""
    raw = _SPACE.sub(" ", raw).strip()
    m = _PAREN.match(raw)
    if not m:
        return raw, []
    inner = [p.strip() for p in re.split(r"[,;]", m.group("inner")) if p.strip()]
    return m.group("head").strip(), inner
