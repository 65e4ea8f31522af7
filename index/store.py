"""The index folder: build it atomically, load it back, and refuse a corrupt or mismatched one.

Layout (format `finterm-index/1`):
  manifest.json   format, embedder spec and dimension, entry count, sources with sha256, build time
  entries.jsonl   the entries, row i = FAISS id i
  vectors.faiss   IndexFlatIP over L2-normalised passage vectors (inner product = cosine)
  tokens.json     Kiwi morphemes per entry, for BM25 (rebuilt in memory at load: ~20 ms per 1k)
  heads.json      Kiwi morphemes of each entry's defining sentence (recomputed at load if absent)
Both token files are re-made at load when the manifest's "tokens" differs from TOKENS.
No pickle anywhere: everything is JSON or FAISS's own format.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finterm import FintermError, __version__
from finterm.index.entry import Entry
from finterm.index.load import LoadReport

FORMAT = "finterm-index/1"
# How tokens.json and heads.json were made (Kiwi + finterm's own rules in index/morph.py). An index
# made by an older finterm still loads: its text is re-tokenised in memory.
TOKENS = "kiwi-finterm/3"
PASSAGE_CHARS = 240
HNSW_ABOVE = 50_000  # past this many entries a flat scan gets slow; switch to HNSW


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bm25_text(e: Entry) -> str:
    """What BM25 sees: the names twice (a term match should outweigh a passing mention), then the text."""
    names = " ".join(e.names)
    return f"{names} {names} {e.definition} {e.example}"


def rebuild_hint(path: Path | None) -> str:
    return "finterm index" + (f" --out {path}" if path else "") + " [FILES…]"


CHECKED_FILES = ("entries.jsonl", "vectors.faiss", "tokens.json", "heads.json", "views.npy", "views.json")
INDEX_FILES = frozenset({"manifest.json", *CHECKED_FILES})


def check_out(out: Path) -> Path:
    """The absolute index folder for `out`, or a one-line error if building there could lose anything.

    Only a finterm index is ever replaced: a folder whose manifest says so, or one holding nothing but
    index files (a damaged index). An empty or missing folder is fine; anything else is refused.
    """
    out = Path(out).expanduser().absolute()
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise FintermError(f"--out {out} is a file, not an index folder; choose a new folder, e.g. --out {out}.index")
    if not out.is_dir():
        return out
    names = {p.name for p in out.iterdir()}
    if not names or names <= INDEX_FILES:
        return out
    try:
        fmt = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("format", "")
    except (OSError, ValueError, AttributeError):
        fmt = ""
    if isinstance(fmt, str) and fmt.startswith("finterm-index/"):
        return out
    shown = ", ".join(sorted(names)[:3]) + (" …" if len(names) > 3 else "")
    raise FintermError(f"--out {out} is not a finterm index (it holds {shown}) and would be replaced; "
                       f"choose a new or empty folder, e.g. --out {out / 'index'}")


def build_index(report: LoadReport, out: Path, *, sources: list[Path], embedder_spec: str,
                cache_path: Path | None = None, progress: bool = True, prebuilt=None,
                questions: Path | None | bool = None) -> dict:
    """Embed and tokenise `report.entries` and write the index folder at `out` atomically.

    Vectors come from the vector cache at `cache_path` and from `prebuilt` (the shipped
    `index.prebuilt.Prebuilt`) where they exist; only the rest is embedded. The new index is written
    beside `out` and swapped in with renames, so a crash at any point leaves the previous index
    loadable. `questions`: the question bank whose questions become the entries' views
    (index/views.py; None = the bundled one, False = none). Returns the manifest.
    """
    import faiss
    from tqdm import tqdm

    from finterm.index.embed import VectorCache, make_embedder
    from finterm.index.prebuilt import tokens_reusing

    entries = report.entries
    out = check_out(out)
    if not entries:
        raise FintermError("no entries to index; check the glossary files (see the problems printed above)")
    _check_unique_ids(entries)
    started = time.time()
    embedder = make_embedder(embedder_spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.building-{os.getpid()}")
    _remove_dead_builds(out)
    tmp.mkdir()
    cache = VectorCache(cache_path)
    try:
        passages = [e.passage(PASSAGE_CHARS) for e in entries]
        shipped = cache.seed(embedder, passages, prebuilt.vector_for) if prebuilt else 0
        with tqdm(total=len(passages), desc="embedding", unit="entry", disable=not progress,
                  file=sys.stderr) as bar:
            vectors, embedded = cache.embed(embedder, passages, progress=bar.update)
        toks = tokens_reusing([bm25_text(e) for e in entries], prebuilt)
        if len(entries) > HNSW_ABOVE:
            index = faiss.IndexHNSWFlat(embedder.dim, 32, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexFlatIP(embedder.dim)
        index.add(vectors)
        faiss.write_index(index, str(tmp / "vectors.faiss"))
        with (tmp / "entries.jsonl").open("w", encoding="utf-8") as f:
            for e in entries:
                f.write(e.to_json() + "\n")
        (tmp / "tokens.json").write_text(json.dumps(toks, ensure_ascii=False), encoding="utf-8")
        heads = tokens_reusing([e.defining_sentence() for e in entries], prebuilt)
        (tmp / "heads.json").write_text(json.dumps(heads, ensure_ascii=False), encoding="utf-8")
        views, views_embedded = [], 0
        if questions is not False:
            from finterm.index.views import bundled_questions, question_bank, views_for

            bank_path = Path(questions) if questions else bundled_questions()
            views = views_for(entries, question_bank(str(bank_path)))
        if views:
            texts = [q for _, q in views]
            if prebuilt:
                cache.seed(embedder, texts, prebuilt.view_vector_for, side="query")
            with tqdm(total=len(texts), desc="embedding questions", unit="q", disable=not progress,
                      file=sys.stderr) as bar:
                vv, views_embedded = cache.embed(embedder, texts, progress=bar.update, side="query")
            np.save(tmp / "views.npy", vv.astype(np.float16), allow_pickle=False)
            (tmp / "views.json").write_text(json.dumps([[r, q] for r, q in views], ensure_ascii=False),
                                            encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "finterm": __version__,
            "embedder": embedder.spec,
            "embedder_version": getattr(embedder, "version", embedder.spec),
            "passage_embedder": getattr(embedder, "passage_version", embedder.spec),
            "dim": embedder.dim,
            "entries": len(entries),
            "views": len(views),
            "questions_sha256": file_sha256(bank_path) if views else None,
            "passage_chars": PASSAGE_CHARS,
            "tokens": TOKENS,
            "faiss": type(index).__name__,
            "sources": [{"path": str(p), "sha256": file_sha256(Path(p))} for p in sources],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - started, 2),
            "embedded": embedded,
            "views_embedded": views_embedded,
            "shipped": shipped,
            # Checked at every load: a changed, reordered or bit-flipped file is caught, not served.
            "files": {name: file_sha256(tmp / name) for name in CHECKED_FILES if (tmp / name).is_file()},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        cache.close()
    return manifest


def _check_unique_ids(entries: list[Entry], where: str = "") -> None:
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise FintermError(f"{where}id {e.id!r} is used by more than one entry ({e.term!r} among them); "
                               f"ids must be unique: load the files with load_many, which renames duplicates")
        seen.add(e.id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_builds(out: Path) -> None:
    """Delete `.building-PID` folders left by builds that were killed (their PID is gone)."""
    for stale in out.parent.glob(f"{out.name}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)


def _swap_in(tmp: Path, out: Path) -> None:
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _recover(path: Path) -> None:
    """If a crash hit between the two renames of `_swap_in`, put the previous index back."""
    if path.exists():
        return
    olds = sorted(path.parent.glob(f"{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.replace(olds[-1], path)


@dataclass
class IndexData:
    """A loaded index folder."""

    path: Path
    manifest: dict
    entries: list[Entry]
    vectors: object  # faiss.Index
    tokens: list[list[str]]
    heads: list[list[str]] | None = None
    views: np.ndarray | None = None  # float32 [n x dim] question vectors (index/views.py)
    view_rows: np.ndarray | None = None  # entry row of each view
    view_texts: list[str] | None = None  # the question of each view


_REQUIRED = {"format": str, "embedder": str, "dim": int, "entries": int}


def _corrupt(path: Path, why: str) -> FintermError:
    return FintermError(f"index at {path} is corrupt ({why}); rebuild it with `{rebuild_hint(path)}`")


def _read_manifest(path: Path) -> dict:
    fix = rebuild_hint(path)
    if not (path / "manifest.json").is_file():
        raise FintermError(f"no index at {path}; build it with `{fix}`")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (ValueError, OSError, RecursionError) as exc:
        raise _corrupt(path, f"manifest.json: {exc}") from None
    if not isinstance(manifest, dict):
        raise _corrupt(path, "manifest.json is not a JSON object")
    if manifest.get("format") != FORMAT:
        raise FintermError(f"index at {path} has format {manifest.get('format')!r}, this finterm reads {FORMAT!r}; "
                           f"rebuild it with `{fix}`")
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise _corrupt(path, f"manifest.json has no valid {key!r}")
    return manifest


def _is_token_lists(value) -> bool:
    return isinstance(value, list) and all(isinstance(t, list) and all(isinstance(x, str) for x in t)
                                           for t in value)


def _verify_checksums(path: Path, manifest: dict) -> None:
    """Compare each file with the checksum the build recorded (indexes built before checksums: skipped)."""
    files = manifest.get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        raise _corrupt(path, "manifest.json has no valid 'files'")
    for name in CHECKED_FILES:
        if name in files and (path / name).is_file() and file_sha256(path / name) != files[name]:
            raise _corrupt(path, f"{name} has changed since the build: its checksum differs from manifest.json")


def load_index(path: Path) -> IndexData:
    """Load and check an index folder; any problem is a one-line FintermError naming the fix."""
    import faiss

    path = Path(path)
    _recover(path)
    manifest = _read_manifest(path)
    try:
        with (path / "entries.jsonl").open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if not all(isinstance(r, dict) for r in rows):
            raise ValueError("entries.jsonl has a line that is not a JSON object")
        entries = [Entry.from_dict(r) for r in rows]
        tokens = json.loads((path / "tokens.json").read_text(encoding="utf-8"))
        if not _is_token_lists(tokens):
            raise ValueError("tokens.json is not a list of token lists")
        heads_file = path / "heads.json"
        heads = json.loads(heads_file.read_text(encoding="utf-8")) if heads_file.is_file() else None
        vectors = faiss.read_index(str(path / "vectors.faiss"))
        views = view_rows = view_texts = None
        if manifest.get("views"):
            views = np.load(path / "views.npy", allow_pickle=False).astype(np.float32)
            pairs = json.loads((path / "views.json").read_text(encoding="utf-8"))
            view_rows = np.array([int(r) for r, _ in pairs], dtype=np.int64)
            view_texts = [str(q) for _, q in pairs]
            if views.ndim != 2 or len(views) != manifest["views"] or len(view_rows) != len(views) \
                    or (len(view_rows) and not 0 <= view_rows.min() <= view_rows.max() < manifest["entries"]):
                raise ValueError(f"views.npy/views.json do not match the manifest's {manifest['views']} views")
    except (ValueError, OSError, RuntimeError, TypeError, RecursionError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise _corrupt(path, reason) from None
    n = manifest["entries"]
    if not (len(entries) == len(tokens) == vectors.ntotal == n):
        raise _corrupt(path, f"entries {len(entries)}, vectors {vectors.ntotal}, manifest {n}")
    if vectors.d != manifest["dim"]:
        raise _corrupt(path, f"vectors.faiss holds vectors of dimension {vectors.d}, manifest.json says "
                             f"dimension {manifest['dim']}")
    if views is not None and views.shape[1] != vectors.d:
        raise _corrupt(path, f"views.npy holds vectors of dimension {views.shape[1]}, vectors.faiss {vectors.d}")
    if len({e.id for e in entries}) != len(entries):
        raise FintermError(f"index at {path} has entries sharing an id (made by an older finterm); rebuild it "
                           f"with `{rebuild_hint(path)}`")
    _verify_checksums(path, manifest)
    if not _is_token_lists(heads) or len(heads) != len(entries):
        heads = None
    if manifest.get("tokens") != TOKENS:  # made by an older finterm: read the text again
        from finterm.index.morph import tokens_many

        print(f"finterm: index at {path} predates this finterm's tokeniser; re-reading it "
              f"(`{rebuild_hint(path)}` makes this permanent)", file=sys.stderr)
        tokens, heads = tokens_many([bm25_text(e) for e in entries]), None
    return IndexData(path=path, manifest=manifest, entries=entries, vectors=vectors, tokens=tokens, heads=heads,
                     views=views, view_rows=view_rows, view_texts=view_texts)


def flat_matrix(index) -> np.ndarray | None:
    """The [rows, dim] float32 vectors of a flat (exact) index as a view of its own memory, so one
    product gives every passage cosine; None for an approximate index (HNSW), where rows are reconstructed."""
    import faiss

    if not isinstance(index, faiss.IndexFlat) or not index.ntotal:
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)


def search_vectors(index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for one normalised query vector."""
    k = min(k, index.ntotal)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    return scores[0], ids[0]
