"""용어 사전: browse the glossary — search as you type, filter by category, open an entry, follow links.

Search shows the entries whose names contain what is typed (so "인플" finds 인플레이션 while it is
being typed), then what `Retriever.search` finds in the definitions; a name found through an alias
says which alias. A misspelt search offers the correction first, as a button that searches for it
and opens it. A new search closes the entry opened for the last one. Related terms are buttons
that open their own entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import streamlit as st

from finterm.ui import render, state
from finterm.ui.render import esc

ALL = "전체"
MAX_LIST = 60
MAX_SUGGEST = 5
SELECTED = "entry_id"


def select(entry_id: str) -> None:
    st.session_state[SELECTED] = entry_id


def name_lookup(retriever, term: str):
    """The entry a related-term name points to, through the index's own name table (None if absent)."""
    from finterm.index.normalize import norm_key

    rows = retriever.keys.get(norm_key(term), [])
    return retriever.entries[rows[0]] if rows else None


@dataclass
class Matches:
    """What a search on this page finds."""

    named: list = field(default_factory=list)  # entries whose names contain the query, dictionary order
    via: dict = field(default_factory=dict)  # entry id -> the alias that matched, when the term did not
    found: list = field(default_factory=list)  # further entries the search found in the definitions
    correction: tuple = ()  # names the query was probably meant to be (misspelt or unknown), best first


def matches(retriever, query: str, category: str) -> Matches:
    """The entries for `query` within `category` (all entries, alphabetically, for an empty query)."""
    from finterm import FintermError
    from finterm.index.normalize import norm_key

    entries = sorted((e for e in retriever.entries if category == ALL or (e.category or "-") == category),
                     key=lambda e: e.term)
    key = norm_key(query)
    if not key:
        return Matches(named=entries)
    # Listed like a dictionary: the name itself, then names starting with it, then the rest.
    place, via = {}, {}
    for e in entries:
        hit = sorted((0 if norm_key(n) == key else 1 if norm_key(n).startswith(key) else 2, i, n)
                     for i, n in enumerate(e.names) if key in norm_key(n))
        if hit:
            place[e.id] = hit[0][0]
            if key not in norm_key(e.term):  # only an alias has it: say which one
                via[e.id] = hit[0][2]
    named = sorted((e for e in entries if e.id in place), key=lambda e: (place[e.id], e.term))
    try:
        result = retriever.search(query, k=10)
    except FintermError:
        return Matches(named=named, via=via)
    seen = {e.id for e in named}
    found = [h.entry for h in result.hits if h.entry.id not in seen
             and (category == ALL or (h.entry.category or "-") == category)]
    correction: tuple = ()
    if 0 not in place.values():  # the query is not itself a name: was it a misspelt one?
        typo = bool(result.hits) and (result.hits[0].match == "typo" or result.corrected_from is not None)
        if result.abstained or typo:
            first = (result.hits[0].entry.term,) if typo else ()
            correction = tuple(dict.fromkeys((*first, *result.suggestions)))
    return Matches(named=named, via=via, found=found, correction=correction)


def new_search() -> None:
    """A changed search closes the entry opened for the previous one."""
    st.session_state.pop(SELECTED, None)


def use_correction(term: str, entry_id: str) -> None:
    """Search for the corrected name instead, and open its entry."""
    st.session_state["glossary_query"] = term
    st.session_state[SELECTED] = entry_id


def correction_buttons(retriever, names: tuple) -> None:
    targets = [(n, e) for n in names if (e := name_lookup(retriever, n))][:MAX_SUGGEST]
    if not targets:
        return
    st.markdown("**혹시 이 용어를 찾으시나요?**")
    cols = st.columns(len(targets))
    for i, (name, e) in enumerate(targets):
        cols[i].button(esc(name), key=f"correct-{i}", on_click=use_correction, args=(name, e.id),
                       type="primary" if i == 0 else "secondary", width="stretch")


def entry_buttons(entries, key: str, via: dict | None = None) -> None:
    """A button per entry (its term; `via` adds the alias that matched) that opens it."""
    via = via or {}
    cols = st.columns(3)
    for i, e in enumerate(entries[:MAX_LIST]):
        label = f"{e.term} (별칭: {via[e.id]})" if e.id in via else e.term
        cols[i % 3].button(esc(label), key=f"{key}-{e.id}", on_click=select, args=(e.id,),
                           help=esc(", ".join(e.aliases)) if e.aliases else None, width="stretch")
    if len(entries) > MAX_LIST:
        st.caption(f"{len(entries)}개 중 {MAX_LIST}개만 보입니다 — 검색어나 분류로 좁혀 보세요.")


def counts(retriever) -> None:
    """Entries per source glossary and per category."""
    by_source = Counter(e.source for e in retriever.entries)
    by_cat = Counter(e.category or "-" for e in retriever.entries)
    left, right = st.columns(2)
    left.dataframe([{"출처": s, "항목": n} for s, n in by_source.most_common()],
                   hide_index=True, key="count-source", height="content")
    right.dataframe([{"분류": c, "항목": n} for c, n in sorted(by_cat.items())],
                    hide_index=True, key="count-category", height="content")  # every category, no scroll


def show_entry(retriever, entry) -> None:
    with st.container(border=True):
        render.entry_view(entry)
        if entry.related:
            st.markdown("**관련 용어**")
            cols = st.columns(min(len(entry.related), 4))
            for i, term in enumerate(entry.related):
                target = name_lookup(retriever, term)
                cols[i % len(cols)].button(
                    esc(term), key=f"related-{entry.id}-{i}", on_click=select,
                    args=(target.id,) if target else ("",), disabled=target is None,
                    help=None if target else "이 용어는 용어집에 없습니다")


def page() -> None:
    retriever = state.retriever()
    st.title("용어 사전", anchor=False)
    by_id = {e.id: e for e in retriever.entries}
    cats = sorted({e.category or "-" for e in retriever.entries})
    left, right = st.columns([3, 1])
    query = left.text_input("용어 검색", key="glossary_query", type="search", live=True,
                            placeholder="예: 인플레이션, GDP, 금리", on_change=new_search)
    category = right.selectbox("분류", [ALL, *cats], key="glossary_category")
    m = matches(retriever, query, category)

    if m.correction:  # a misspelt search: the correction comes first
        correction_buttons(retriever, m.correction)
    current = by_id.get(st.session_state.get(SELECTED, ""))
    if current is not None:
        show_entry(retriever, current)

    if query.strip():
        if not m.named and not m.found:
            st.warning(f"용어집에서 ‘{esc(query.strip())}’을(를) 찾지 못했습니다.")
        else:
            st.markdown(f"**이름에 ‘{esc(query.strip())}’ 포함** · {len(m.named)}개")
            entry_buttons(m.named, "named", m.via)
        if m.found:
            st.markdown(f"**정의에서 찾은 용어** · {len(m.found)}개")
            entry_buttons(m.found, "found")
    else:
        st.markdown(f"**{esc(category)}** · {len(m.named)}개")
        entry_buttons(m.named, "list")

    st.divider()
    st.subheader("용어집 통계", anchor=False)
    counts(retriever)


if __name__ == "__main__":
    page()
