"""Question views (index/views.py): written questions searched beside the passages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from finterm import FintermError
from finterm.index.entry import Entry
from finterm.index.views import best_per_entry, bundled_questions, mean_per_entry, question_bank, views_for

MINI = Path(__file__).parent / "data" / "mini_glossary.jsonl"


def _entry(i: int, term: str, aliases=()) -> Entry:
    return Entry(id=f"v{i}", term=term, definition=f"{term}의 정의이다.", source="test", aliases=tuple(aliases))


def _bank(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    p = tmp_path / "questions.jsonl"
    p.write_text("".join(json.dumps({"q": q, "term": t}, ensure_ascii=False) + "\n" for t, q in rows),
                 encoding="utf-8")
    return p


def test_views_attach_by_any_name_once_each(tmp_path):
    bank = question_bank(str(_bank(tmp_path, [
        ("한계비용", "하나 더 만들 때 드는 돈"), ("MC", "생산을 한 단위 늘릴 때 추가되는 비용"),
        ("한계 비용", "하나 더 만들 때 드는 돈"),  # same question under a spacing variant: kept once
        ("없는 용어", "아무도 묻지 않는 질문")])))
    entries = [_entry(0, "평균비용"), _entry(1, "한계비용", ["MC"]), _entry(2, "한계비용(MC)")]
    got = views_for(entries, bank)
    assert got == [(1, "하나 더 만들 때 드는 돈"), (1, "생산을 한 단위 늘릴 때 추가되는 비용")]


def test_best_per_entry_is_the_max_and_minus_infinity_without_views():
    best = best_per_entry(np.array([0.5, 0.9, 0.7]), np.array([2, 0, 2]), 4)
    assert best[0] == pytest.approx(0.9) and best[2] == pytest.approx(0.7)
    assert np.isneginf(best[1]) and np.isneginf(best[3])


def test_mean_per_entry_averages_an_entrys_views_and_is_minus_infinity_without_views():
    mean = mean_per_entry(np.array([0.5, 0.9, 0.7]), np.array([2, 0, 2]), 4)
    assert mean[0] == pytest.approx(0.9) and mean[2] == pytest.approx(0.6)
    assert np.isneginf(mean[1]) and np.isneginf(mean[3])


def test_the_bundled_bank_has_questions_for_most_bundled_entries():
    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary

    entries = load_glossary(bundled_glossary()).entries
    views = views_for(entries, question_bank(str(bundled_questions())))
    covered = {r for r, _ in views}
    assert len(views) >= 7000 and len(covered) >= 0.85 * len(entries)


def test_the_bundled_bank_holds_no_evaluation_question():
    """Views are index content: a tuning, hold-out or dev question among them would be found by itself."""
    from finterm.index.normalize import norm_key

    bank = {norm_key(q) for qs in question_bank(str(bundled_questions())).values() for q in qs}
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "bench" / "data").glob("*.jsonl"))
    dev = root.parent / "shared" / "eval" / "dev_questions.jsonl"
    files += [dev] if dev.is_file() else []
    rows = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    asked = [row["q"] for row in rows if "q" in row and "expect" in row]  # an evaluation question has its answer
    assert len(asked) > 1000
    assert [q for q in asked if norm_key(q) in bank] == []


def test_a_description_far_from_the_definition_is_found_through_a_view(tmp_path):
    """The same index with and without one written question: the view decides the colloquial lookup."""
    from finterm.api import build
    from finterm.rag.retrieve import RetrievalConfig, Retriever

    bank = _bank(tmp_path, [("매몰비용", "이미 써 버려서 어떻게 해도 돌려받을 수 없는 돈")])
    q = "이미 써 버려서 되찾을 수 없는 돈을 뭐라고 해?"
    ranks = {}
    for views in (False, True):
        out = tmp_path / f"ix-{views}"
        m = build([MINI], out, progress=False, log=lambda m: None, questions=bank if views else False)
        assert m["views"] == (1 if views else 0)
        r = Retriever.open(out, config=RetrievalConfig(modes=("dense",), abstain_below=0.0))
        terms = [h.entry.term for h in r.search(q, k=20).hits]
        ranks[views] = terms.index("매몰비용") + 1
    assert ranks[True] == 1
    assert ranks[True] <= ranks[False]
    # the view's cosine is what made the dense score: it beats the passage cosine minus the offset
    r = Retriever.open(tmp_path / "ix-True", config=RetrievalConfig(modes=("dense",), abstain_below=0.0))
    from finterm.rag.candidates import gather

    c = gather(r, q, ("dense",))
    row = next(i for i, e in enumerate(r.entries) if e.term == "매몰비용")
    assert np.isfinite(c.view_best[row]) and c.dense[row] >= c.view_best[row]
    # the ranker's view_mean column: the mean over the entry's views (here its only one); the passage
    # cosine where an entry has none
    from finterm.rag.candidates import passage_cosine
    from finterm.rag.features import FEATURES, features

    c.ids = [row, next(i for i in range(len(r.entries)) if i != row)]
    x = features(r, c)
    assert x[0, FEATURES.index("view_mean")] == pytest.approx(c.view_best[row], abs=1e-5)
    assert x[1, FEATURES.index("view_mean")] == pytest.approx(passage_cosine(r, c, c.ids[1]), abs=1e-5)
    assert x[0, FEATURES.index("passage")] == pytest.approx(passage_cosine(r, c, row), abs=1e-5)


def test_damaged_or_mismatched_views_are_a_one_line_error(tmp_path):
    from finterm.api import build
    from finterm.index.store import load_index

    bank = _bank(tmp_path, [("매몰비용", "이미 써 버린 돈"), ("기회비용", "포기한 것 중 가장 큰 가치")])
    out = tmp_path / "ix"
    build([MINI], out, progress=False, log=lambda m: None, questions=bank)
    assert load_index(out).views.shape == (2, 384)
    np.save(out / "views.npy", np.zeros((2, 384), dtype=np.float16), allow_pickle=False)
    with pytest.raises(FintermError, match="views.npy has changed"):
        load_index(out)
    build([MINI], out, progress=False, log=lambda m: None, questions=bank)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["views"] = 3
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(FintermError, match="corrupt.*views") as err:
        load_index(out)
    assert "\n" not in str(err.value)
