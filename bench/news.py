"""News reader bench: how long marking an article takes once the index's entries are loaded.

    .venv/bin/python bench/news.py            # the bundled glossary (2,660 entries)

The article (bench/data/news_article.txt, written for this bench in the project's own words) is
repeated to 5,000 characters and to 100 kB. Reported: the name table's build time (once per
index), Kiwi's load (once per process), the first marking (every word new to the morpheme cache),
then the median of 7 more (the cache warm, as for a second article on the same topic). Target (issue 17): a
5,000-character article well under a second.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA  # noqa: E402


def sized(text: str, chars: int) -> str:
    out = text
    while len(out) < chars:
        out += "\n" + text
    return out[:chars]


def main() -> None:
    from finterm.home import bundled_glossary
    from finterm.index.load import load_glossary
    from finterm.index.morph import kiwi
    from finterm.rag.news import NewsMarker

    entries = load_glossary(bundled_glossary()).entries
    t = time.perf_counter()
    marker = NewsMarker(entries)
    build = time.perf_counter() - t
    t = time.perf_counter()
    kiwi().tokenize("워밍업")
    load = time.perf_counter() - t
    article = (DATA / "news_article.txt").read_text(encoding="utf-8")
    print(f"entries {len(entries)}, name keys {len(marker.keys)}; name table {build:.2f} s, Kiwi load {load:.2f} s")
    for chars in (5_000, 100_000):
        text = sized(article, chars)
        marker._cache.clear()  # the first marking meets every word for the first time
        t = time.perf_counter()
        marker.mark(text)
        first = time.perf_counter() - t
        times, found = [], []
        for _ in range(7 if chars <= 5_000 else 3):
            t = time.perf_counter()
            found = marker.mark(text)
            times.append(time.perf_counter() - t)
        print(f"{len(text):>7,} chars: first {first * 1000:.0f} ms, "
              f"then median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); {len(found)} terms, "
              f"{sum(len(f.spans) for f in found)} marks; top: {', '.join(f.entry.term for f in found[:8])}")


if __name__ == "__main__":
    main()
