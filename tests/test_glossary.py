"""The bundled glossary is checked like code: schema, uniqueness, links, length, no markup."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from finterm.home import bundled_glossary
from finterm.index.entry import BUNDLED_SOURCE, CATEGORIES
from finterm.index.normalize import name_keys, norm_key

REQUIRED = ("id", "term", "aliases", "category", "definition", "related", "source")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with bundled_glossary().open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_enough_entries_and_categories(rows):
    assert len(rows) >= 2500
    per_cat = Counter(r["category"] for r in rows)
    assert sum(1 for n in per_cat.values() if n >= 20) >= 12, per_cat


def test_every_entry_has_the_schema(rows):
    for r in rows:
        missing = [k for k in REQUIRED if k not in r or r[k] in (None, "")]
        assert not missing or missing == ["aliases"] or missing == ["related"], (r.get("term"), missing)
        assert isinstance(r["aliases"], list) and isinstance(r["related"], list), r["term"]
        assert r["category"] in CATEGORIES, (r["term"], r["category"])
        assert r["source"] == BUNDLED_SOURCE, r["term"]


def test_ids_and_terms_are_unique(rows):
    ids = Counter(r["id"] for r in rows)
    terms = Counter(norm_key(r["term"]) for r in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    assert [t for t, n in terms.items() if n > 1] == []


def test_no_alias_names_two_entries(rows):
    owner: dict[str, str] = {}
    clashes = []
    for r in rows:
        for name in [r["term"], *r["aliases"]]:
            for key in name_keys(name):
                if owner.setdefault(key, r["id"]) != r["id"]:
                    clashes.append((name, owner[key], r["id"]))
    assert clashes == []


def test_related_terms_resolve(rows):
    known = {k for r in rows for name in [r["term"], *r["aliases"]] for k in name_keys(name)}
    dangling = [(r["term"], rel) for r in rows for rel in r["related"] if norm_key(rel) not in known]
    assert dangling == []


def test_definitions_are_plain_text_of_sane_length(rows):
    markup = re.compile(r"<[a-zA-Z/!]|&[a-z]+;|&#\d+;|\*\*|\n|\t")
    for r in rows:
        assert 60 <= len(r["definition"]) <= 600, (r["term"], len(r["definition"]))
        for field in ("term", "definition", *(("example",) if "example" in r else ())):
            assert not markup.search(r[field]), (r["term"], field)


def test_definitions_have_clean_sentence_ends(rows):
    """No stray punctuation where two sentences meet ("높다., 수출에서는", "예외).. 소각"): the answer
    composer splits definitions into sentences and shows them verbatim."""
    stray = re.compile(r"\.,|,\.|(?<!\.)\.\.(?!\.)|\s[.,](?!\d)")
    bad = [(r["term"], m.group()) for r in rows if (m := stray.search(r["definition"]))]
    assert bad == []


def test_covers_the_dev_questions_terms(rows):
    """Every in-domain dev question names at least one expected term that the glossary has."""
    from pathlib import Path

    dev = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"
    if not dev.is_file():
        pytest.skip("shared eval set not present")
    known = {k for r in rows for name in [r["term"], *r["aliases"]] for k in name_keys(name)}
    missing = []
    for line in dev.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q["expect"] and not any(norm_key(t) in known for t in q["expect"]):
            missing.append(q["q"])
    assert missing == []


@pytest.mark.parametrize("name", ["termlist_study700.txt", "termlist_bok_crawl.txt"])
def test_covers_the_public_term_lists(rows, name):
    """Nearly every term Korean learners look up (two public lists) has an entry or alias."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not path.is_file():
        pytest.skip("shared term lists not present")
    known = {k for r in rows for n in [r["term"], *r["aliases"]] for k in name_keys(n)}
    terms = [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    found = [t for t in terms if any(k in known for p in re.split(r"/(?![^(]*\))", t) for k in name_keys(p))]
    assert len(found) / len(terms) >= 0.98, sorted(set(terms) - set(found))[:20]


def test_no_concept_is_written_twice(rows):
    """Two entries whose definitions share most of their words are one concept under two names
    (세이프가드 / 긴급수입제한조치): it must be one entry with the other name as an alias, or a quiz
    offers the same answer twice and search splits its evidence."""
    from finterm.index.morph import tokens_many

    words = [set(t) for t in tokens_many([r["definition"] for r in rows])]
    twins = [(rows[i]["term"], rows[j]["term"]) for i in range(len(rows)) for j in range(i + 1, len(rows))
             if len(words[i] & words[j]) > 0.72 * len(words[i] | words[j])]
    assert twins == []


def test_every_time_sensitive_entry_is_in_the_checked_claims_record(rows):
    """An entry that says "현재", "최근", "N년 기준" … states something that changes with time: it must
    have a line in docs/checked-claims.tsv (entry, claim, how checked, date, outcome)."""
    from pathlib import Path

    record = Path(__file__).resolve().parents[1] / "docs" / "checked-claims.tsv"
    lines = record.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:5] == ["entry", "claim", "how checked", "date", "outcome"]
    checked = {line.split("\t")[0] for line in lines[1:]}
    dated = re.compile(r"년 기준|기준\)|현재|최근|올해|아직")
    unchecked = [r["term"] for r in rows if dated.search(r["definition"]) and r["term"] not in checked]
    assert unchecked == []
