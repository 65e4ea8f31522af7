"""용어 사전: browse the glossary — search as you type, filter by category, open an entry, follow links.

Search shows the entries whose names contain what is typed (so "인플" finds 인플레이션 while it is
being typed), then what `Retriever.search` finds in the definitions. Related terms are buttons
that open their own entry.
"""

from __future__ import annotations

from collections import Counter

import streamlit as st

from finterm.ui import render, state
from finterm.ui.render import esc

ALL = "전체"
MAX_LIST = 60
SELECTED = "entry_id"


def select(entry_id: str) -> None:
    st.session_state[SELECTED] = entry_id


def name_lookup(retriever, term: str):
    """The entry a related-term name points to, through the index's own name table (None if absent)."""
    from finterm.index.normalize import norm_key

    rows = retriever.keys.get(norm_key(term), [])
    return retriever.entries[rows[0]] if rows else None


def matches(retriever, query: str, category: str) -> tuple[list, list, tuple[str, ...]]:
    """(entries whose names contain `query`, further entries found by search, suggestions)."""
    from finterm import FintermError
    from finterm.index.normalize import norm_key

    entries = sorted((e for e in retriever.entries if category == ALL or (e.category or "-") == category),
                     key=lambda e: e.term)
    key = norm_key(query)
    if not key:
        return entries, [], ()
    # Listed like a dictionary: the name itself, then names starting with it, then the rest.
    place = {e.id: min(0 if norm_key(n) == key else 1 if norm_key(n).startswith(key) else 2
                       for n in e.names if key in norm_key(n))
             for e in entries if any(key in norm_key(n) for n in e.names)}
    named = sorted((e for e in entries if e.id in place), key=lambda e: (place[e.id], e.term))
    try:
        result = retriever.search(query, k=10)
    except FintermError:
        return named, [], ()
    seen = {e.id for e in named}
    found = [h.entry for h in result.hits if h.entry.id not in seen
             and (category == ALL or (h.entry.category or "-") == category)]
    return named, found, result.suggestions if result.abstained else ()


def entry_buttons(entries, key: str) -> None:
    cols = st.columns(3)
    for i, e in enumerate(entries[:MAX_LIST]):
        cols[i % 3].button(esc(e.term), key=f"{key}-{e.id}", on_click=select, args=(e.id,),
                           help=esc(", ".join(e.aliases)) if e.aliases else None, width="stretch")
    if len(entries) > MAX_LIST:
        st.caption(f"{len(entries)}개 중 {MAX_LIST}개만 보입니다 — 검색어나 분류로 좁혀 보세요.")


def counts(retriever) -> None:
    """Entries per source glossary and per category."""
    by_source = Counter(e.source for e in retriever.entries)
    by_cat = Counter(e.category or "-" for e in retriever.entries)
    left, right = st.columns(2)
    left.dataframe([{"출처 (source)": s, "항목": n} for s, n in by_source.most_common()],
                   hide_index=True, key="count-source")
    right.dataframe([{"분류 (category)": c, "항목": n} for c, n in sorted(by_cat.items())],
                    hide_index=True, key="count-category")


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
    query = left.text_input("용어 검색 (search)", key="glossary_query", type="search", live=True,
                            placeholder="예: 인플레이션, GDP, 금리")
    category = right.selectbox("분류 (category)", [ALL, *cats], key="glossary_category")
    named, found, suggestions = matches(retriever, query, category)

    current = by_id.get(st.session_state.get(SELECTED, ""))
    if current is not None:
        show_entry(retriever, current)

    if query.strip():
        st.markdown(f"**이름에 ‘{esc(query.strip())}’ 포함** · {len(named)}개")
        entry_buttons(named, "named")
        if found:
            st.markdown(f"**정의에서 찾은 용어** · {len(found)}개")
            entry_buttons(found, "found")
        if not named and not found:
            st.warning("용어집에서 찾지 못했습니다 (not in the glossary).")
            if suggestions:
                st.markdown("비슷한 용어:")
                entry_buttons([e for s in suggestions if (e := name_lookup(retriever, s))], "suggest")
    else:
        st.markdown(f"**{esc(category)}** · {len(named)}개")
        entry_buttons(named, "list")

    st.divider()
    st.subheader("용어집 통계", anchor=False)
    counts(retriever)


if __name__ == "__main__":
    page()
