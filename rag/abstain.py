"""Retrieval step 4: answer or abstain, from a logistic model over the ranked list.

Per question: the ranker's best score and its margin over the second, the best hit's cosine, the
IDF share of the question found in the best three entries, and name coverage. Off-topic questions
have e5 cosines nearly as high as real ones (~0.8), so the model needs the lexical and ranker
evidence too. Fitted with classes balanced by bench/fit_ranker.py (offtopic.jsonl's even half
against the tuning questions); the rules' model is the one fitted for them before the learned ranker.
"""

from __future__ import annotations

import math

QUESTION_FEATURES = ("top", "margin", "cosine", "share", "named")
# bias, cosine, lexical share, name coverage: fitted for the hand-set rules (by the former bench/calibrate.py).
RULES_ABSTAIN = {"features": ["cosine", "share", "named"], "bias": -99.37, "weights": [113.42, 5.50, 8.29],
                 "threshold": 0.5}


def question_features(scores: list[float], cosine: float, share: float, named: float) -> dict[str, float]:
    """The per-question evidence; `scores` are the ranker's scores best first."""
    top = scores[0] if scores else 0.0
    margin = top - scores[1] if len(scores) > 1 else 0.0
    return {"top": top, "margin": margin, "cosine": cosine, "share": share, "named": named}


def confidence(model: dict, f: dict[str, float]) -> float:
    """P(the question is about this glossary) under `model` ({features, bias, weights, threshold})."""
    z = model["bias"] + sum(w * f[name] for name, w in zip(model["features"], model["weights"], strict=True))
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))
