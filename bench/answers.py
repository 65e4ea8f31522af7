"""Does the extractive answer answer the question? "Useful answer" rate by intent, before and after.

    .venv/bin/python bench/answers.py                      # both halves, before (today's) and after
    .venv/bin/python bench/answers.py --split tuning --show-fails
    .venv/bin/python bench/answers.py --calibrate          # leading-entry accuracy by score gap (tuning)

On bench/data/answers.jsonl (see its README) with the bundled glossary's default index. An answer is
useful when it cites an expected entry (all of them for comparisons), contains every `must` fact
(whitespace ignored; a list means any one), and, for a cannot-know question, says the glossary cannot
know it. "before" is the first-sentences answer the project had (`extractive_answer`), asked each
question alone; "after" is `finterm.api.ask` with the conversation's earlier turns.
Also printed: intent accuracy (finterm.rag.intent) per intent.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, read_jsonl  # noqa: E402

SET = DATA / "answers.jsonl"
# How a cannot-know answer says so; the labels ask for the meaning, not for finterm's exact words.
CANNOT_SAYS = re.compile(r"알\s*수\s*없|알려\s*드릴\s*수\s*없|할\s*수\s*없|제공하지\s*않|담고\s*있지\s*않|없어")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def useful(row: dict, answer) -> tuple[bool, str]:
    """(useful?, why not) for one labelled row and its answer."""
    text = squash(answer.text)
    if row["intent"] == "cannot" and not CANNOT_SAYS.search(answer.text):
        return False, "does not say it cannot know"
    expect = row["expect"]
    if expect:
        cited = {c.term for c in answer.citations}
        ok = set(expect) <= cited if row.get("expect_all") else bool(cited & set(expect))
        if not ok:
            return False, f"cites {sorted(cited) or 'nothing'}, not {expect}"
    for fact in row["must"]:
        alts = fact if isinstance(fact, list) else [fact]
        if not any(squash(a) in text for a in alts):
            return False, f"lacks {alts[0]!r}"
    return True, ""


def before(retriever, row: dict):
    from finterm.rag.answer import extractive_answer

    return extractive_answer(retriever.search(row["q"]))


def after(retriever, row: dict):
    from finterm.api import ask
    from finterm.rag.followup import Turn

    history: list[Turn] = []
    for turn in row.get("history", []):
        history.append(Turn.from_answer(ask(retriever, turn["q"], history=list(history))))
    return ask(retriever, row["q"], history=history)


def report(rows, results, name: str) -> dict[str, float]:
    by = Counter(r["intent"] for r in rows)
    ok = Counter(r["intent"] for r, (u, _) in zip(rows, results, strict=True) if u)
    rates = {i: ok[i] / by[i] for i in by}
    total = sum(ok.values()) / len(rows) if rows else 0.0
    print(f"  {name:<7} " + "  ".join(f"{i} {rates[i]:.2f}" for i in sorted(by)) + f"  | all {total:.3f}")
    return {**rates, "all": total}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=["tuning", "holdout", "all"], default="all")
    p.add_argument("--intent", action="append", help="only these labelled intents (repeatable)")
    p.add_argument("--show-fails", action="store_true")
    p.add_argument("--no-before", action="store_true", help="skip today's answer")
    p.add_argument("--calibrate", action="store_true")
    p.add_argument("--descriptions", action="store_true",
                   help="leading entry right on the natural/describe hold-out sets: retrieval's first vs the answer's")
    p.add_argument("--index", help="index folder (default: the bundled glossary's default index)")
    args = p.parse_args(argv)

    from finterm.api import open_retriever
    from finterm.rag.intent import intent_of

    retriever = open_retriever(args.index)
    rows = read_jsonl(SET)
    if args.intent:
        rows = [r for r in rows if r["intent"] in args.intent]
    if args.calibrate:
        return calibrate(retriever, [r for r in rows if r["split"] == "tuning"])
    if args.descriptions:
        return descriptions(retriever)
    splits = ["tuning", "holdout"] if args.split == "all" else [args.split]
    for split in splits:
        part = [r for r in rows if r["split"] == split]
        print(f"{split} ({len(part)} questions)")
        right = Counter(r["intent"] for r in part if intent_of(r["q"]).name == r.get("asks", r["intent"]))
        by = Counter(r["intent"] for r in part)
        print("  intent  " + "  ".join(f"{i} {right[i] / by[i]:.2f}" for i in sorted(by))
              + f"  | all {sum(right.values()) / len(part):.3f}")
        for name, fn in (("before", before), ("after", after)):
            if name == "before" and args.no_before:
                continue
            t0 = time.perf_counter()
            results = []
            for r in part:
                a = fn(retriever, r)
                results.append(useful(r, a))
                if args.show_fails and not results[-1][0] and name == "after":
                    print(f"    FAIL [{r['intent']}] {r['q']} — {results[-1][1]}\n      {a.text[:300]!r}")
            report(part, results, name)
            print(f"          ({(time.perf_counter() - t0) / len(part) * 1000:.0f} ms a question)")
    return 0


def descriptions(retriever) -> int:
    """Does reranking descriptions by their best sentence keep the right entry first? (hold-out sets)"""
    from finterm.api import ask
    from finterm.index.normalize import norm_key

    for name in ("natural_holdout.jsonl", "describe_holdout.jsonl"):
        rows = [r for r in read_jsonl(DATA / name) if any(norm_key(t) in retriever.keys for t in r["expect"])]
        first = led = both = 0
        for r in rows:
            want = {norm_key(t) for t in r["expect"]}
            a = ask(retriever, r["q"])
            hit = a.hits[0].entry.term if a.hits else None
            lead = a.citations[0].term if a.citations else None
            first += norm_key(hit or "") in want
            led += norm_key(lead or "") in want
            both += any(norm_key(c.term) in want for c in a.citations)
        n = len(rows)
        print(f"{name}: retrieval first {first / n:.3f} · answer leads with it {led / n:.3f} · "
              f"cited at all {both / n:.3f} ({n} questions)")
    return 0


def calibrate(retriever, rows) -> int:
    """Accuracy of the leading entry by its confidence label, on the tuning half (define/effect/… rows)."""
    from finterm.api import ask

    seen = Counter()
    right = Counter()
    for r in rows:
        if r["intent"] in ("cannot", "followup") or not r["expect"]:
            continue
        a = ask(retriever, r["q"])
        if a.abstained or a.confidence is None:
            continue
        label = a.confidence_label
        seen[label] += 1
        right[label] += bool(a.citations) and a.citations[0].term in r["expect"]
    for label in ("높음", "보통", "낮음"):
        if seen[label]:
            print(f"{label}: {right[label]}/{seen[label]} = {right[label] / seen[label]:.2f} leading entry right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
