"""Shared helpers for the bench scripts: question sets, index building in a scratch home, scoring."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEV = SHARED / "eval" / "dev_questions.jsonl"
BOK = SHARED / "data" / "bok_glossary_crawl_2022.csv"
DATA = Path(__file__).resolve().parent / "data"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_half(rows: list[dict], part: int) -> list[dict]:
    """Even rows (part 0) calibrate, odd rows (part 1) are held out for reporting."""
    return rows[part::2]


def scratch_home() -> Path:
    """A fresh FINTERM_HOME (empty vector cache) so build times are honest."""
    reuse = os.environ.get("FINTERM_BENCH_HOME")  # reuse a vector cache while iterating
    path = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="finterm-bench-"))
    os.environ["FINTERM_HOME"] = str(path)
    return path


def build_index(files: list[Path], name: str, *, bundled: bool = False) -> tuple[Path, dict]:
    from finterm.api import build
    from finterm.home import home

    out = home() / "indexes" / name
    manifest = build(files, out, include_bundled=bundled, progress=False, log=lambda m: None)
    return out, manifest


def rank_of(result, expect: list[str]) -> int | None:
    """1-based rank of the first hit whose term or alias is one of `expect` (normalised), or None."""
    from finterm.index.normalize import name_keys, norm_key

    want = {norm_key(t) for t in expect}
    for n, h in enumerate(result.hits, 1):
        keys = set().union(*(name_keys(x) for x in h.entry.names))
        if keys & want:
            return n
    return None


def covered(retriever, expect: list[str]) -> bool:
    from finterm.index.normalize import norm_key

    return any(norm_key(t) in retriever.keys for t in expect)
