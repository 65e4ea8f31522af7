"""Retrieval step 3: score each candidate's features with a linear model.

Two weight sets use the same code: `RULES`, the hand-set fusion finterm used before (kept to
compare against, `RetrievalConfig(ranker="rules")`), and the learned one in rag/data/ranker.json,
fitted by bench/fit_ranker.py (pairwise logistic regression on the tuning sets; features standardised,
weights stored as plain JSON numbers, no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from finterm.rag.features import FEATURES

FORMAT = "finterm-ranker/1"
# Default offset between a question view's cosine (query to query) and a passage cosine: the median gap
# on the tuning sets for the original model (bench/fit_ranker.py fits it for the shipped ranker).
VIEW_OFFSET = 0.04
# The fusion weights chosen by hand on bench/data/calibration.jsonl before the learned ranker.
RULES = {"name_rule": 0.7, "bm25": 0.6, "dense_mm": 1.0, "head": 0.6, "genus": 0.3, "polarity": -0.3}


@dataclass(frozen=True)
class LinearRanker:
    """score = sum_j weights[j] * (x[j] - mean[j]) / scale[j] over the named features."""

    name: str
    features: tuple[str, ...]
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    abstain: dict  # the abstention model fitted on this ranker's output (see abstain.py)
    embedder: str | None = None  # the embedder it was fitted with
    view_offset: float = VIEW_OFFSET  # question-view cosine minus this competes with the passage cosine
    # Hit scores shown and used by the answer composer are exp((score - best) / temperature): the
    # temperature puts them on the scale the composer's priors were chosen on (bench/answers.py).
    temperature: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"ranker {self.name!r} uses unknown features {sorted(unknown)}; known: {FEATURES}")
        if not len(self.weights) == len(self.mean) == len(self.scale) == len(self.features):
            raise ValueError(f"ranker {self.name!r}: {len(self.features)} features but "
                             f"{len(self.weights)} weights, {len(self.mean)} means, {len(self.scale)} scales")

    @property
    def columns(self) -> list[int]:
        return [FEATURES.index(f) for f in self.features]

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row of the full feature matrix `x` (features.FEATURES columns)."""
        return ((x[:, self.columns] - self.mean) / self.scale) @ self.weights

    def to_json(self, **extra) -> str:
        d = {"format": FORMAT, "name": self.name, "embedder": self.embedder, "features": list(self.features),
             "weights": [round(float(v), 6) for v in self.weights], "mean": [round(float(v), 6) for v in self.mean],
             "scale": [round(float(v), 6) for v in self.scale], "abstain": self.abstain,
             "view_offset": round(float(self.view_offset), 5), "temperature": self.temperature, **extra}
        return json.dumps(d, ensure_ascii=False, indent=1)


def rules_ranker() -> LinearRanker:
    from finterm.rag.abstain import RULES_ABSTAIN

    n = len(RULES)
    return LinearRanker("rules", tuple(RULES), np.array(list(RULES.values())), np.zeros(n), np.ones(n),
                        RULES_ABSTAIN)


def read_ranker(path: str | Path) -> LinearRanker:
    """A ranker saved by `LinearRanker.to_json`; a wrong format is a ValueError naming the fix."""
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    if d.get("format") != FORMAT:
        raise ValueError(f"{path} has format {d.get('format')!r}, expected {FORMAT!r}; refit with bench/fit_ranker.py")
    return LinearRanker(d["name"], tuple(d["features"]), np.array(d["weights"]), np.array(d["mean"]),
                        np.array(d["scale"]), d["abstain"], d.get("embedder"), float(d.get("view_offset", VIEW_OFFSET)),
                        float(d.get("temperature", 1.0)))


def bundled_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "ranker.json"


@lru_cache(maxsize=4)
def get_ranker(name: str) -> LinearRanker:
    """'rules' (hand-set), 'learned' (the shipped fit) or a path to a ranker JSON file."""
    if name == "rules":
        return rules_ranker()
    if name == "learned":
        return read_ranker(bundled_path())
    if Path(name).is_file():
        return read_ranker(name)
    raise ValueError(f"ranker {name!r} is unknown; use 'learned', 'rules' or a path to a ranker JSON file")
