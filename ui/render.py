"""Drawing answers, source cards and entries, with every glossary and user string shown as text.

Streamlit's markdown would turn `**x**` bold, `$x$` into LaTeX, `:red[x]` into colour and a URL into
a link, and a definition must never do that. Plain blocks (definitions, questions, answers) go
through `st.text`, which renders nothing; where a line mixes our own formatting with glossary text,
`esc` backslash-escapes all markdown punctuation (HTML included, so `<script>` is shown, never run)
and breaks emoji shortcodes and bare URLs with an invisible zero-width space.
"""

from __future__ import annotations

import re

import streamlit as st

_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&\"'@%/])")
_SHORTCODE = re.compile(r":(?=[A-Za-z_+\-][\w+\-]*:)")  # ":smile:" would become an emoji even when escaped
_AUTOLINK = re.compile(r"(?<=://)|(?<=\bwww)(?=\.)", re.IGNORECASE)  # "http://x", "www.x" would become links
WARN = "⚠"


def esc(text: str) -> str:
    """`text` as markdown that renders literally: punctuation escaped, line breaks kept."""
    text = _AUTOLINK.sub("\u200b", _SHORTCODE.sub(":\u200b", str(text)))
    text = _PUNCT.sub(r"\\\1", text)
    first, *rest = text.split("\n")
    lines = [re.sub(r"^[ \t]+", " ", first)] + [line.lstrip(" \t") for line in rest]  # no code blocks
    return "  \n".join(lines)


def text(body: str) -> None:
    """Show `body` (glossary or user text) literally, as normal prose."""
    st.text(body)


def support_threshold() -> float | None:
    """The grounding checker's support threshold, when the checker is installed."""
    try:
        from finterm.rag.grounding import THRESHOLD
    except ImportError:
        return None
    return float(THRESHOLD)


def is_unsupported(sentence, threshold: float | None = None) -> bool:
    """A sentence the grounding check could not tie to a definition."""
    if not sentence.citations:
        return True
    return threshold is not None and sentence.support < threshold


def answer_markdown(answer_text: str, flagged: list[str]) -> str:
    """The answer as safe markdown with each `flagged` sentence highlighted and marked ⚠."""
    out, pos = [], 0
    for sent in flagged:
        at = answer_text.find(sent, pos)
        if at < 0 or not sent:
            continue
        out.append(esc(answer_text[pos:at]))
        out.append(f":orange-background[{WARN} {esc(sent)}]")
        pos = at + len(sent)
    out.append(esc(answer_text[pos:]))
    return "".join(out)


def answer_body(answer, threshold: float | None = None) -> None:
    """The answer text with its unsupported sentences visibly marked, and a note saying so."""
    flagged = [s.text for s in answer.sentences if is_unsupported(s, threshold)]
    if not flagged:
        st.text(answer.text)
        return
    st.markdown(answer_markdown(answer.text, flagged))
    st.caption(f"{WARN} 표시된 문장 {len(flagged)}개는 용어집 정의에서 근거를 찾지 못했습니다 "
               "(unsupported: not backed by a cited definition).")


def confidence_caption(answer, n: int, hit) -> tuple[str, str]:
    """("신뢰도 높음", hover text with the numbers) for card `n`; the calibrated value belongs to [1]."""
    if n == 1 and answer.confidence is not None:
        return (f"신뢰도 {answer.confidence_label}",
                f"calibrated confidence {answer.confidence:.2f} · search score {hit.score:.3f}" if hit else "")
    return "함께 인용", (f"search score {hit.score:.3f}" if hit else "")


def source_cards(answer, key: str, on_open=None, on_ask=None) -> None:
    """One numbered card per citation — [n] as in the answer: term, source, definition, confidence.

    The other hits follow, folded; with `on_ask` each is a button that asks about it.
    """
    by_id = {h.entry.id: h for h in answer.hits}
    for c in answer.citations:
        hit = by_id.get(c.id)
        with st.container(border=True, key=f"source-card-{key}-{c.n}"):
            st.markdown(f"**\\[{c.n}\\] {esc(c.term)}**"
                        + (f" · {esc(', '.join(hit.entry.aliases))}" if hit and hit.entry.aliases else ""))
            meta = [esc(c.source)]
            words, numbers = confidence_caption(answer, c.n, hit)
            if hit:
                meta += [esc(hit.entry.category or "-"), words]
            st.caption(" · ".join(meta), help=numbers or None)
            if hit:
                text(hit.entry.definition)
                if on_open is not None:
                    st.button("사전에서 보기", key=f"open-{key}-{c.n}", on_click=on_open,
                              args=(hit.entry.id,), type="tertiary")
    cited = {c.id for c in answer.citations}
    rest = [h for h in answer.hits if h.entry.id not in cited]
    if rest:
        with st.expander(f"인용되지 않은 검색 결과 {len(rest)}개"):
            for j, h in enumerate(rest):
                if on_ask is not None:
                    st.button(esc(h.entry.term), key=f"other-{key}-{j}", on_click=on_ask, args=(h.entry.term,),
                              help=esc(f"{h.entry.source} · search score {h.score:.3f}"), type="tertiary")
                else:
                    st.markdown(f"{esc(h.entry.term)} · {esc(h.entry.source)}")


def entry_view(entry) -> None:
    """One entry in full: term, aliases, category, source, definition, example and URL, as text."""
    st.subheader(esc(entry.term), anchor=False)
    if entry.aliases:
        st.markdown("**다른 이름** " + esc(", ".join(entry.aliases)))
    st.caption(f"{esc(entry.category or '분류 없음')} · 출처: {esc(entry.source)}")
    text(entry.definition)
    if entry.example:
        st.markdown("**예시** " + esc(entry.example))
    if entry.url:
        st.caption("URL: " + esc(entry.url))
