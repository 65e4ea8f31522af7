"""Training pairs for the embedder: (question, glossary entry), split by entry, hard negatives attached.

Sources, all optional except the glossary:
  index/data/questions.jsonl   {"q", "term", "style"}: questions written for every entry (also the index's views)
  bench/data/extra_views.jsonl  the same shape: more written questions (plain, distinct, exam) that are not views;
                                trained on only when `--styles` names their styles
  bench/data/calibration.jsonl, describe_tuning.jsonl, natural_tuning.jsonl   the tuning sets
  the glossary's own names: aliases, English names, spacing variants (so name lookups keep working)
Never read: *_holdout.jsonl and the shared dev set; `assert_unseen` checks no text leaked.
Split by entry (sha256 of the term): test 10%, validation 10%, train 80% — a question is never
trained on when any question about its entry is in validation or test.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from finterm.index.entry import Entry
from finterm.index.normalize import name_keys, norm_key

# The tuning sets are where the ranker and abstention are fitted: the embedder does not train on
# them, so the ranker sees the tuned embedder's scores on questions it never trained on.
TUNING_SETS: tuple[str, ...] = ()
NEVER = ("describe_holdout.jsonl", "natural_holdout.jsonl", "new_holdout.jsonl", "gap_holdout.jsonl",
         "calibration.jsonl", "describe_tuning.jsonl", "natural_tuning.jsonl")
HELD_OUT_ENTRIES = "new_holdout_terms.txt"  # the glossary's new entries kept out of all training
# Entries added after finterm-econ-3 was trained (vocabulary gaps, thirteenth session): left out of the
# training glossary altogether — no pairs, and never a negative — so the defaults still select the shipped
# model's data, and their hold-out questions (bench/data/gap_holdout.jsonl) stay unseen.
LATER_ENTRIES = "gap_holdout_terms.txt"
EXTRA_QUESTIONS = "extra_views.jsonl"  # written questions kept out of the index (bench/data/README.md)


@dataclass(frozen=True)
class Pair:
    q: str
    entry: int  # row in the glossary
    source: str  # "questions:<style>", a tuning set's name, or "name"


def split_of(term: str) -> str:
    """'train', 'val' or 'test' for an entry, fixed by its name (stable as the glossary grows)."""
    b = hashlib.sha256(norm_key(term).encode()).digest()[0] % 10
    return "test" if b == 0 else "val" if b == 1 else "train"


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def name_table(entries: list[Entry]) -> dict[str, int]:
    """Normalised name -> first entry row carrying it."""
    table: dict[str, int] = {}
    for i, e in enumerate(entries):
        for n in e.names:
            for k in name_keys(n):
                table.setdefault(k, i)
    return table


def held_out_rows(entries: list[Entry], data_dir: Path) -> set[int]:
    """Rows of the entries listed in new_holdout_terms.txt: nothing about them is trained on."""
    return _listed_rows(entries, data_dir / HELD_OUT_ENTRIES)


def _listed_rows(entries: list[Entry], path: Path) -> set[int]:
    table = name_table(entries)
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {table[k] for line in lines if (k := norm_key(line.strip())) in table}


def training_entries(entries: list[Entry], data_dir: Path) -> list[Entry]:
    """The glossary the embedder trains with: every entry but those listed in gap_holdout_terms.txt."""
    later = _listed_rows(entries, data_dir / LATER_ENTRIES)
    return [e for i, e in enumerate(entries) if i not in later]


def question_pairs(entries: list[Entry], data_dir: Path) -> list[Pair]:
    """Every question whose entry is in the glossary, from index/data/questions.jsonl, bench/data's
    extra_views.jsonl and the tuning sets."""
    table = name_table(entries)
    banned = held_out_rows(entries, data_dir)
    pairs: list[Pair] = []
    from finterm.index.views import bundled_questions

    for bank in (bundled_questions(), data_dir / EXTRA_QUESTIONS):
        for r in _read(bank) if bank.is_file() else []:
            i = table.get(norm_key(r["term"]))
            if i is not None and r.get("q") and i not in banned:
                pairs.append(Pair(r["q"], i, f"questions:{r.get('style', '')}"))
    for name in TUNING_SETS:
        path = data_dir / name
        for r in _read(path) if path.is_file() else []:
            hit = next((table[norm_key(t)] for t in r.get("expect", []) if norm_key(t) in table), None)
            if hit is not None:
                pairs.append(Pair(r["q"], hit, name))
    return pairs


def name_pairs(entries: list[Entry], rng: random.Random, per_entry: int = 1) -> list[Pair]:
    """Name lookups as pairs: an alias or English name, the term without/with spaces, "<term>이 뭐야"."""
    pairs = []
    for i, e in enumerate(entries):
        variants = list(dict.fromkeys(
            [a for a in e.aliases if norm_key(a) != norm_key(e.term)]
            + ([e.term.replace(" ", "")] if " " in e.term else [])
            + [f"{e.term} 뜻", f"{e.term}이란?"]))
        for v in rng.sample(variants, min(per_entry, len(variants))):
            pairs.append(Pair(v, i, "name"))
    return pairs


def assert_unseen(pairs: list[Pair], data_dir: Path, dev: Path | None) -> None:
    """Fail loudly if a training question is also a hold-out or dev question."""
    banned = set()
    for name in NEVER:
        if (data_dir / name).is_file():
            banned |= {norm_key(r["q"]) for r in _read(data_dir / name)}
    if dev and dev.is_file():
        banned |= {norm_key(r["q"]) for r in _read(dev)}
    leaked = [p.q for p in pairs if norm_key(p.q) in banned]
    if leaked:
        raise ValueError(f"{len(leaked)} training questions are hold-out/dev questions (e.g. {leaked[0]!r}); "
                         "remove them from the training files")


def same_concept(entries: list[Entry]) -> list[set[int]]:
    """For each row, the other rows sharing one of its names (not wrong answers for its questions)."""
    by_key: dict[str, set[int]] = {}
    for i, e in enumerate(entries):
        for n in e.names:
            for k in name_keys(n):
                by_key.setdefault(k, set()).add(i)
    out = [set() for _ in entries]
    for rows in by_key.values():
        for i in rows:
            out[i] |= rows - {i}
    return out


def hard_negatives(pairs: list[Pair], qvecs, pvecs, entries: list[Entry], rng: random.Random,
                   top: int = 5) -> list[int]:
    """One wrong entry per pair, drawn from the original model's `top` nearest wrong entries."""
    import numpy as np

    keys = [{k for n in e.names for k in name_keys(n)} for e in entries]
    sims = qvecs @ pvecs.T
    out = []
    for p, row in zip(pairs, sims, strict=True):
        order = np.argsort(-row)[: top + 5]
        wrong = [int(j) for j in order if j != p.entry and not (keys[j] & keys[p.entry])][:top]
        out.append(rng.choice(wrong))
    return out


def anchor_rows(entries: list[Entry], data_dir: Path) -> list[int]:
    """The train-split entries (not held out) whose names and passages anchor the distillation."""
    held = held_out_rows(entries, data_dir)
    return [i for i, e in enumerate(entries) if split_of(e.term) == "train" and i not in held]


def anchor_texts(entries: list[Entry], rows: list[int]) -> list[str]:
    """Names as people type them, for the distillation anchors of the entries in `rows`: the bare term,
    "<term> 뜻", "<term>이 뭐야" and up to two aliases. The tuned model is pulled back toward the
    original model's vectors for these, meant to keep name lookups working; pulling positions on the query
    side did not (the passages moved away; README, sixteenth session)."""
    return [text for text, _ in anchor_pairs(entries, rows)]


def anchor_pairs(entries: list[Entry], rows: list[int]) -> list[tuple[str, int]]:
    """`anchor_texts` with the row each text names (what `--anchor-mode relations` needs)."""
    out: list[tuple[str, int]] = []
    for i in rows:
        e = entries[i]
        aliases = [a for a in e.aliases if norm_key(a) != norm_key(e.term)][:2]
        out += [(t, i) for t in dict.fromkeys([e.term, f"{e.term} 뜻", f"{e.term}이 뭐야", *aliases])]
    return out
