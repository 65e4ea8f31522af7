"""Retrieval quality and speed, printed as tables.

    .venv/bin/python bench/retrieval.py [--skip-bok] [--questions FILE]

For the dev questions (../shared/eval) on the bundled glossary and on the BOK crawl: recall@1,
recall@5 and MRR over questions whose term is in that glossary, and the abstention rate on
off-topic questions (the dev set's own plus the held-out half of bench/data/offtopic.jsonl) —
for hybrid (weighted and RRF fusion), BM25-only and dense-only. The same table for
bench/data/describe_holdout.jsonl (156) and natural_holdout.jsonl (191): description questions the
project wrote and never tuned on (a larger sample of the hardest kind than the dev set's 32). Then
search latency (p50/p95 per query in batch mode after warm-up), cold start of one `finterm search`,
and index build times with an empty vector cache.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BOK, DATA, DEV, ROOT, build_index, covered, rank_of, read_jsonl, scratch_home, split_half  # noqa: E402

CONFIGS = {
    "hybrid (weighted)": {},
    "hybrid (RRF)": {"fusion": "rrf"},
    "BM25 only": {"modes": ("bm25",)},
    "dense only": {"modes": ("dense",)},
}


def evaluate(index: Path, questions: list[dict], offtopic: list[dict], config: dict) -> dict:
    """Ranking quality with abstention off, then what abstention does (hybrid configs only).

    BM25-only and dense-only rankings are compared without abstention: the abstention model needs
    both the dense cosine and the lexical share, so it only exists for the hybrid.
    """
    from finterm.rag.retrieve import RetrievalConfig, Retriever

    r = Retriever.open(index, config=RetrievalConfig(**config, abstain_below=0.0))
    live = RetrievalConfig(**config)
    ranks, misses = [], []
    for q in questions:
        if not q["expect"] or not covered(r, q["expect"]):
            continue
        res = r.search(q["q"], k=5)
        rank = rank_of(res, q["expect"])
        ranks.append(rank)
        if rank != 1:
            misses.append((q["q"], [h.entry.term for h in res.hits[:3]]))
    hybrid = set(live.modes) == {"name", "bm25", "dense"}
    abstain_ood = answered = None
    if hybrid:
        r.config = live
        answered = sum(1 for q in questions if q["expect"] and covered(r, q["expect"])
                       and not r.search(q["q"]).abstained) / max(1, len(ranks))
        abstain_ood = sum(r.search(q["q"]).abstained for q in offtopic) / max(1, len(offtopic))
    n = max(1, len(ranks))
    return {
        "covered": len(ranks),
        "r@1": sum(1 for x in ranks if x == 1) / n,
        "r@5": sum(1 for x in ranks if x and x <= 5) / n,
        "mrr": sum(1 / x for x in ranks if x) / n,
        "answered": answered,
        "ood": len(offtopic),
        "abstain": abstain_ood,
        "misses": misses,
    }


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(f"\n## {title}")
    print(f"{'config':<20} {'covered':>7} {'R@1':>6} {'R@5':>6} {'MRR':>6} {'in-domain answered':>19} "
          f"{'off-topic abstained':>20}")
    for name, m in rows.items():
        ans = f"{m['answered']:.3f}" if m["answered"] is not None else "n/a"
        ab = f"{m['abstain']:.3f} of {m['ood']}" if m["abstain"] is not None and m["ood"] else "n/a"
        print(f"{name:<20} {m['covered']:>7} {m['r@1']:>6.3f} {m['r@5']:>6.3f} {m['mrr']:>6.3f} {ans:>19} {ab:>20}")


def latency(index: Path, queries: list[str]) -> tuple[float, float]:
    from finterm.rag.retrieve import Retriever

    r = Retriever.open(index)
    for q in queries[:5]:
        r.search(q)  # warm-up: Kiwi, embedder, caches
    times = []
    for q in queries:
        t = time.perf_counter()
        r.search(q)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def cold_start(index: Path) -> float:
    exe = Path(sys.executable).with_name("finterm")
    best = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(exe), "search", "기준금리", "--index", str(index), "--json"], check=True,
                       capture_output=True)
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-bok", action="store_true")
    ap.add_argument("--questions", type=Path, default=DEV)
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--with-calibration", action="store_true",
                    help="also report on the tuning sets (calibration, describe_tuning, natural_tuning)")
    args = ap.parse_args()
    scratch_home()
    questions = read_jsonl(args.questions)
    ood = [q for q in questions if not q["expect"]]
    extra = DATA / "offtopic.jsonl"
    ood_all = ood + (split_half(read_jsonl(extra), 1) if extra.is_file() else [])

    builds = {}
    t = time.perf_counter()
    bundled, m = build_index([], "bundled")
    builds["bundled glossary"] = (m["entries"], time.perf_counter() - t)
    targets = {"bundled glossary": bundled}
    if not args.skip_bok and BOK.is_file():
        t = time.perf_counter()
        bok, m = build_index([BOK], "bok")
        builds["BOK crawl"] = (m["entries"], time.perf_counter() - t)
        targets["BOK crawl"] = bok

    for name, index in targets.items():
        rows = {c: evaluate(index, questions, ood_all, cfg) for c, cfg in CONFIGS.items()}
        print_table(f"{name}: {args.questions.name} ({len(ood)} dev + {len(ood_all) - len(ood)} held-out "
                    f"off-topic)", rows)
        if args.show_misses:
            for q, got in rows["hybrid (weighted)"]["misses"]:
                print(f"   miss: {q} -> {', '.join(got)}")
        for held in ("describe_holdout.jsonl", "natural_holdout.jsonl", "new_holdout.jsonl"):
            if not (DATA / held).is_file():
                continue
            held_rows = {c: evaluate(index, read_jsonl(DATA / held), [], cfg) for c, cfg in CONFIGS.items()}
            print_table(f"{name}: {held} (never tuned on)", held_rows)
        if args.with_calibration:
            for tuning in ("calibration.jsonl", "describe_tuning.jsonl", "natural_tuning.jsonl"):
                cal_rows = {c: evaluate(index, read_jsonl(DATA / tuning), [], cfg) for c, cfg in CONFIGS.items()}
                print_table(f"{name}: {tuning} (tuning set, in-sample)", cal_rows)

    print("\n## speed (2-core CPU)")
    qs = [q["q"] for q in questions] * 3
    for name, index in targets.items():
        p50, p95 = latency(index, qs)
        print(f"{name:<18} search p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({len(qs)} queries, warm)")
    print(f"cold start of one `finterm search` (bundled): {cold_start(bundled):.2f} s")
    for name, (n, secs) in builds.items():
        print(f"index build, empty vector cache: {name:<18} {n:5d} entries  {secs:6.1f} s")
    print(f"(run from {ROOT})")


if __name__ == "__main__":
    main()
