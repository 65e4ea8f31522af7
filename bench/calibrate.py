"""Fit the abstention model of rag/retrieve.py (CONF_WEIGHTS) on the calibration questions.

    .venv/bin/python bench/calibrate.py

In-domain questions (bench/data/calibration.jsonl and describe_tuning.jsonl, each on the indexes
that hold its term) are positives, the even half of bench/data/offtopic.jsonl negatives (the odd
half stays held out for bench/retrieval.py). Both the bundled glossary and the BOK crawl are used,
so the model is not fitted to one glossary's style (short plain definitions vs long formal ones).
Features per question: dense cosine of the best hit, IDF-weighted lexical share of the question
in the best hits, and name coverage. A logistic regression is fitted with numpy; the printed
weights go into CONF_WEIGHTS. The dev questions are never used here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BOK, DATA, build_index, covered, read_jsonl, scratch_home, split_half  # noqa: E402


def features(retriever, q: str) -> list[float] | None:
    res = retriever.search(q, k=5)
    d = res.debug
    if res.confidence == 1.0 and d.get("named", 0) == 0 and res.hits and res.hits[0].match in ("exact", "typo"):
        return None  # decided by a hard rule (exact name / clear typo), not by the model
    return [d["cosine"], d["share"], d["named"]]


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 20000, lr: float = 0.5) -> np.ndarray:
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w = np.zeros(z.shape[1] + 1)
    zb = np.hstack([np.ones((len(z), 1)), z])
    # Both classes weigh the same in total: there are ~5 in-domain questions per off-topic one.
    sw = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum()))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-zb @ w))
        grad = zb.T @ ((p - y) * sw) + l2 * np.r_[0, w[1:]]
        w -= lr * grad
    # back to raw feature scale
    raw = w[1:] / sd
    return np.r_[w[0] - (raw * mu).sum(), raw]


def main() -> None:
    from finterm.rag.retrieve import Retriever

    scratch_home()
    indexes = [build_index([], "bundled")[0]] + ([build_index([BOK], "bok")[0]] if BOK.is_file() else [])
    tuning = read_jsonl(DATA / "calibration.jsonl") + read_jsonl(DATA / "describe_tuning.jsonl")
    neg = [q["q"] for q in split_half(read_jsonl(DATA / "offtopic.jsonl"), 0)]
    rows, labels = [], []
    for index in indexes:
        r = Retriever.open(index)
        pos = [q["q"] for q in tuning if covered(r, q["expect"])]
        for label, qs in ((1, pos), (0, neg)):
            for q in qs:
                f = features(r, q)
                if f is not None:
                    rows.append(f)
                    labels.append(label)
    x, y = np.array(rows), np.array(labels, dtype=float)
    w = fit(x, y)
    p = 1 / (1 + np.exp(-(w[0] + x @ w[1:])))
    print(f"{int(y.sum())} in-domain / {int(len(y) - y.sum())} off-topic decided by the model")
    print("CONF_WEIGHTS = (" + ", ".join(f"{v:.2f}" for v in w) + ")  # bias, cosine, lexical share, name coverage")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        keep = ((p >= t) & (y == 1)).sum() / max(1, y.sum())
        abst = ((p < t) & (y == 0)).sum() / max(1, (y == 0).sum())
        print(f"threshold {t:.1f}: in-domain answered {keep:.3f}, off-topic abstained {abst:.3f}")


if __name__ == "__main__":
    main()
