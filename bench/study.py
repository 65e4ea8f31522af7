"""Study bench: answer-check verdict accuracy on the labelled set, and quiz generation speed.

    .venv/bin/python bench/study.py               # accuracy with the shipped CheckConfig + quiz timing
    .venv/bin/python bench/study.py --calibrate   # also grid-search the settings (prints the best)

Uses the bundled glossary's index (finterm.api.open_retriever(); built into FINTERM_HOME if
missing). Labels: bench/data/check_labels.jsonl, one {"term" | "question", "answer", "label",
"note"} per line; label is correct / partial / incorrect (see README_study: how they were written).
Calibration reports leave-one-term-out accuracy too, so the number is not only in-sample.
Targets (issue 6): verdict accuracy >= 85 %, 100 questions in <= 5 s after the index is loaded.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, read_jsonl  # noqa: E402

LABELS = DATA / "check_labels.jsonl"


def measure_all(checker, rows):
    """Per row: ('named', CheckResult) for bare-name answers, else ('fits', [Fit, …])."""
    out = []
    for row in rows:
        ref = checker.lookup(row["term"]) if "term" in row else checker.reference_for(row["question"])
        if "question" in row:
            from finterm.index.normalize import norm_key

            named = checker.r.keys.get(norm_key(row["answer"]))
            if named:
                out.append(("named", checker.named(ref, checker.r.entries[named[0]])))
                continue
        out.append(("fits", checker.measure(ref, row["answer"])))
    return out


def verdicts(measured, config):
    from finterm.rag.check import judge

    return [m.verdict if kind == "named" else judge(m, config)[0] for kind, m in measured]


def accuracy(pred, rows) -> float:
    return sum(p == r["label"] for p, r in zip(pred, rows, strict=True)) / len(rows)


def grid(base):
    """Weight settings to try; thresholds are swept separately for each (see `calibrate`)."""
    for sim_lo, p_hi, w_sim, w_p, rw, margin, floor, prior in itertools.product(
            (0.84, 0.87), (0.91, 0.93), (0.2, 0.35, 0.5), (0.2, 0.35), (2.0, 4.0, 8.0), (-0.03, 0.0, 0.03),
            (0.4, 0.5, 0.6), (0.0, 2.0, 4.0)):
        if w_sim + w_p <= 0.9:
            yield replace(base, sim_lo=sim_lo, p_hi=p_hi, w_sim=w_sim, w_p=w_p, rival_weight=rw,
                          rival_margin=margin, rival_floor=floor, concept_prior=prior)


def calibrate(measured, rows, base):
    """Best config in-sample, and leave-one-term-out accuracy of the whole grid search."""
    import numpy as np

    from finterm.rag.check import judge

    labels = [r["label"] for r in rows]
    thresholds = [(p, c) for p in np.arange(0.15, 0.5, 0.025) for c in np.arange(0.4, 0.75, 0.025) if p < c]
    right, configs = [], []
    for cfg in grid(base):
        open_cfg = replace(cfg, partial_at=0.0, correct_at=1.0)
        scores = [None if kind == "named" else judge(m, open_cfg)[1] for kind, m in measured]
        for p, c in thresholds:
            pred = [m.verdict if kind == "named" else
                    "correct" if s >= c else "partial" if s >= p else "incorrect"
                    for (kind, m), s in zip(measured, scores, strict=True)]
            right.append([a == b for a, b in zip(pred, labels, strict=True)])
            configs.append(replace(cfg, partial_at=round(float(p), 3), correct_at=round(float(c), 3)))
    right = np.array(right)
    k_best = int(right.sum(axis=1).argmax())
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.get("term") or r.get("question"), []).append(i)
    held = 0
    for idx in groups.values():
        train = np.ones(len(rows), dtype=bool)
        train[idx] = False
        k = int(right[:, train].sum(axis=1).argmax())
        held += int(right[k, idx].sum())
    return configs[k_best], float(right[k_best].mean()), held / len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true", help="grid-search CheckConfig on the labels")
    ap.add_argument("--index", help="index folder (default: the bundled glossary's index)")
    ap.add_argument("--show", action="store_true", help="print every misjudged case")
    args = ap.parse_args()

    from finterm.api import open_retriever
    from finterm.rag.check import CheckConfig, Checker
    from finterm.rag.quiz import QuizBank

    t0 = time.perf_counter()
    retriever = open_retriever(args.index)
    retriever.embedder  # noqa: B018 - load the embedder outside the timings
    print(f"index: {len(retriever.entries)} entries, loaded in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    questions = QuizBank.from_retriever(retriever).generate(100, seed=0)
    quiz_s = time.perf_counter() - t0
    kinds = Counter(q.kind for q in questions)
    print(f"quiz: 100 questions in {quiz_s:.2f} s ({dict(kinds)}; target <= 5 s)")

    rows = read_jsonl(LABELS)
    print(f"labels: {len(rows)} cases {dict(Counter(r['label'] for r in rows))}")
    checker = Checker(retriever)
    t0 = time.perf_counter()
    measured = measure_all(checker, rows)
    per = (time.perf_counter() - t0) / len(rows)
    config = CheckConfig()
    pred = verdicts(measured, config)
    acc = accuracy(pred, rows)
    print(f"check: verdict accuracy {acc:.1%} with the shipped CheckConfig (target >= 85 %); "
          f"{per * 1000:.0f} ms a check (first run, embedding definitions)")
    confusion = Counter((r["label"], p) for r, p in zip(rows, pred, strict=True))
    print("  confusion (label -> verdict): "
          + ", ".join(f"{a}->{b}: {n}" for (a, b), n in sorted(confusion.items())))
    neigh = [(r, p) for r, p in zip(rows, pred, strict=True) if "neighbour" in r.get("note", "")]
    passed = sum(p == "correct" for _, p in neigh)
    print(f"  neighbour-term definitions judged correct: {passed} of {len(neigh)}")
    if args.show:
        for r, p in zip(rows, pred, strict=True):
            if p != r["label"]:
                print(f"  {r['label']:>9} -> {p:<9} {r.get('term') or r.get('question')}: {r['answer']}")
    if args.calibrate:
        best, in_sample, held = calibrate(measured, rows, config)
        print(f"calibrated: in-sample {in_sample:.1%}, leave-one-term-out {held:.1%}")
        print(f"  {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
