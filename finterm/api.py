"""The Python API the CLI and the Streamlit app share: open an index, search, ask.

    from finterm.api import open_retriever, ask
    r = open_retriever()            # the default index, built from the bundled glossary if missing
    print(ask(r, "기준금리가 뭐야?").text)
"""

from __future__ import annotations

import sys
from pathlib import Path

from finterm import FintermError
from finterm.home import bundled_glossary, default_index_dir, vector_cache_path
from finterm.index.embed import DEFAULT_EMBEDDER


def build(files: list[str | Path], out: str | Path, *, embedder: str = DEFAULT_EMBEDDER,
          mapping: dict[str, str] | None = None, progress: bool = True, include_bundled: bool = False,
          use_cache: bool = True, use_prebuilt: bool = True, log=print, force: bool = False) -> dict:
    """Load `files` (plus the bundled glossary if asked), report problems, and build the index at `out`.

    Vectors and tokens are reused from the vector cache (`use_cache`) and from the index shipped
    prebuilt with the package (`use_prebuilt`) wherever the text and embedder match. `force` imports
    a PDF that does not look like a glossary.
    """
    from finterm.index import prebuilt as shipped
    from finterm.index.load import load_many
    from finterm.index.store import build_index, check_out

    check_out(Path(out))  # before any work: refuse a folder that is not an index
    paths = [Path(f) for f in files]
    if include_bundled or not paths:
        paths = [bundled_glossary(), *paths]
    report = load_many(paths, mapping=mapping, force=force)
    for kind, lines in (("problems", report.problems), ("warnings", report.warnings)):
        for line in lines[:50]:
            log(line)
        if len(lines) > 50:
            log(f"… and {len(lines) - 50} more {kind}")
    log(report.summary())
    manifest = build_index(report, Path(out), sources=paths, embedder_spec=embedder,
                           cache_path=vector_cache_path() if use_cache else None, progress=progress,
                           prebuilt=shipped.load() if use_prebuilt else None)
    n, new = manifest["entries"], manifest["embedded"]
    reused = f"{n - new} reused ({manifest['shipped']} shipped prebuilt)" if n - new else "none reused"
    log(f"indexed {n} entries into {out}: {new} embedded, {reused}; {manifest['build_seconds']} s")
    return manifest


def _stale(path: Path) -> str | None:
    """Why the default index at `path` must be rebuilt, or None if it is current."""
    import json

    from finterm.index.store import FORMAT, TOKENS, file_sha256

    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "it is missing or unreadable"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("tokens") != TOKENS \
            or "files" not in manifest:
        return "it was made by an older finterm"
    bundled = file_sha256(bundled_glossary())
    if [s.get("sha256") for s in manifest.get("sources", [])] != [bundled]:
        return "the bundled glossary has changed"
    return None


def ensure_default_index(progress: bool = True) -> Path:
    """The default index folder, built from the bundled glossary first if it is missing or stale
    (made by an older finterm, or from an older bundled glossary); vectors come from the cache."""
    path = default_index_dir()
    if not (path / "manifest.json").is_file():
        reason = "first run"
    elif not (reason := _stale(path)):
        return path
    from finterm.index import prebuilt as shipped
    from finterm.index.store import file_sha256

    why = shipped.why_not_used(shipped.load(), DEFAULT_EMBEDDER, file_sha256(bundled_glossary()))
    if why is None:  # everything comes from the shipped files: quiet, a few seconds
        build([], path, progress=False, log=lambda m: None)
        return path
    print(f"finterm: building the default index at {path} ({reason}; {why}, so new text is embedded)…",
          file=sys.stderr)
    build([], path, progress=progress, log=lambda m: print(m, file=sys.stderr))
    return path


_RETRIEVERS: dict[tuple[str, str | None], object] = {}


def open_retriever(index: str | Path | None = None, *, embedder: str | None = None):
    """A Retriever for `index` (default: the bundled glossary's index), cached per process."""
    from finterm.rag.retrieve import Retriever

    path = Path(index) if index else ensure_default_index()
    if index and not Path(index).exists():
        raise FintermError(f"no index at {index}; build it with `finterm index --out {index} [FILES…]`")
    key = (str(path.resolve()), embedder)
    if key not in _RETRIEVERS:
        _RETRIEVERS[key] = Retriever.open(path, embedder_spec=embedder)
    return _RETRIEVERS[key]


def ask(retriever, question: str, *, k: int = 5, generator=None):
    """Retrieve for `question` and answer it: extractive by default, or with an LLM `generator`."""
    from finterm.rag.answer import extractive_answer, not_found

    result = retriever.search(question, k=k)
    if generator is None:
        return extractive_answer(result)
    if result.abstained:  # the model is never asked what the glossary cannot ground
        return not_found(result, generator.name)
    from finterm.rag.grounded import grounded_answer

    return grounded_answer(result, generator)
