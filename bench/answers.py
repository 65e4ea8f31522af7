"""Does the extractive answer answer the question? "Useful answer" rate by intent, before and after.

    .venv/bin/python bench/answers.py                      # both halves, before (today's) and after
    .venv/bin/python bench/answers.py --split tuning --show-fails
    .venv/bin/python bench/answers.py --calibrate          # fit 높음/보통/낮음 on the tuning sets

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
TUNING_SETS = ("calibration.jsonl", "natural_tuning.jsonl", "describe_tuning.jsonl")
HOLDOUT_SETS = ("natural_holdout.jsonl", "describe_holdout.jsonl")
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
    p.add_argument("--split", choices=["tuning", "holdout", "fresh", "all"], default="all")
    p.add_argument("--intent", action="append", help="only these labelled intents (repeatable)")
    p.add_argument("--show-fails", action="store_true")
    p.add_argument("--no-before", action="store_true", help="skip today's answer")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the 높음/보통/낮음 thresholds on the tuning sets, check them on the hold-out sets")
    p.add_argument("--every", type=int, default=1,
                   help="with --calibrate or --descriptions: every n-th question only (speed)")
    p.add_argument("--descriptions", action="store_true",
                   help="leading entry right on the natural/describe hold-out sets (--split tuning: the tuning "
                        "sets): retrieval's first vs the answer's")
    p.add_argument("--index", help="index folder (default: the bundled glossary's default index)")
    args = p.parse_args(argv)

    from finterm.api import open_retriever
    from finterm.rag.intent import intent_of

    retriever = open_retriever(args.index)
    rows = read_jsonl(SET)
    if args.intent:
        rows = [r for r in rows if r["intent"] in args.intent]
    if args.calibrate:
        return calibrate(retriever, [r for r in rows if r["split"] == "tuning"], args.every)
    if args.descriptions:
        return descriptions(retriever, TUNING_SETS[1:] if args.split == "tuning" else HOLDOUT_SETS, args.every)
    splits = ["tuning", "holdout", "fresh"] if args.split == "all" else [args.split]
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


def descriptions(retriever, names=HOLDOUT_SETS, every: int = 1) -> int:
    """Does reranking descriptions by their best sentence keep the right entry first? (hold-out sets)"""
    from finterm.api import ask
    from finterm.index.normalize import norm_key

    for name in names:
        rows = [r for r in read_jsonl(DATA / name) if any(norm_key(t) in retriever.keys for t in r["expect"])]
        rows = rows[::every]
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


def leading_right(retriever, rows, every: int = 1) -> list[tuple[float, bool, str]]:
    """(confidence value, leading entry right?, label) for each answerable question (every `every`th)."""
    from finterm.api import ask
    from finterm.index.normalize import name_keys, norm_key

    by_id = {e.id: e for e in retriever.entries}
    out = []
    for r in rows[::every]:
        if r.get("intent") in ("cannot", "followup", "difference") or not r["expect"]:
            continue
        if not any(norm_key(t) in retriever.keys for t in r["expect"]):
            continue  # the index has no entry for it: the leading entry cannot be right
        a = ask(retriever, r["q"])
        if a.abstained or a.confidence is None or not a.citations:
            continue
        lead = by_id[a.citations[0].id]
        keys = set().union(*(name_keys(n) for n in lead.names))
        out.append((a.confidence, bool(keys & {norm_key(t) for t in r["expect"]}), a.confidence_label))
    return out


def fit_thresholds(pairs, high_acc: float = 0.9, low_acc: float = 0.5, min_n: int = 20) -> tuple[float, float]:
    """HIGH: the lowest value from which on the leading entry is right >= `high_acc` of the time (every
    such tail of at least `min_n` questions); LOW: the highest value (<= HIGH) just below which the
    `min_n` nearest questions are right < `low_acc` of the time (낮음 = more likely wrong than right)."""
    values = sorted({p for p, _, _ in pairs})
    tails = [t for t in values if sum(1 for p, _, _ in pairs if p >= t) >= min_n]
    high = next((t for t in tails if all(_acc(pairs, u, 9.0) >= high_acc for u in tails if u >= t)), 1.0)
    ordered = sorted(pairs)
    low = 0.0
    for t in values:
        below = [ok for p, ok, _ in ordered if p < t][-min_n:]
        if t <= high and len(below) >= min_n // 2 and sum(below) / len(below) < low_acc:
            low = t
    return high, low


def _acc(pairs, lo: float, hi: float) -> float:
    """Share right among values in [lo, hi) (hi 9.0: no upper bound)."""
    inside = [ok for p, ok, _ in pairs if lo <= p < hi or (hi == 9.0 and p >= lo)]
    return sum(inside) / len(inside) if inside else 0.0


def _by_label(pairs) -> str:
    parts = []
    for label in ("높음", "보통", "낮음"):
        got = [ok for _, ok, lab in pairs if lab == label]
        if got:
            parts.append(f"{label} {sum(got)}/{len(got)} = {sum(got) / len(got):.2f}")
    return " · ".join(parts)


def calibrate(retriever, rows, every: int = 1) -> int:
    """Fit the 높음/보통/낮음 thresholds of finterm.rag.respond on the tuning sets; check them on the hold-out."""
    from finterm.rag.respond import HIGH, LOW

    tuning = list(rows)
    for name in TUNING_SETS:
        tuning += read_jsonl(DATA / name)
    pairs = leading_right(retriever, tuning, every)
    high, low = fit_thresholds(pairs)
    print(f"tuning: {len(pairs)} answered questions (every {every}th); fitted HIGH={high:.3f} LOW={low:.3f} "
          f"(in code: HIGH={HIGH} LOW={LOW})")
    for lo, hi in ((high, 9.0), (low, high), (-9.0, low)):
        n = sum(1 for p, _, _ in pairs if (lo <= p < hi) or (hi == 9.0 and p >= lo))
        print(f"  [{lo:.2f}, {hi if hi < 9 else 1:.2f}{']' if hi == 9 else ')'}: {n} questions, "
              f"leading entry right {_acc(pairs, lo, hi):.2f}")
    print("  labels in code, tuning: " + _by_label(pairs))
    held = list(read_jsonl(SET))
    held = [r for r in held if r["split"] == "holdout"]
    for name in HOLDOUT_SETS:
        held += read_jsonl(DATA / name)
    hp = leading_right(retriever, held, every)
    print(f"  labels in code, hold-out ({len(hp)}): " + _by_label(hp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
