"""The Python API the CLI and the Streamlit app share: open an index, search, ask.

    from finterm.api import open_retriever, ask
    r = open_retriever()            # the default index, built from the bundled glossary if missing
    print(ask(r, "기준금리가 뭐야?").text)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from finterm import FintermError
from finterm.home import bundled_glossary, default_index_dir, vector_cache_path
from finterm.index.embed import DEFAULT_EMBEDDER


def build(files: list[str | Path], out: str | Path, *, embedder: str = DEFAULT_EMBEDDER,
          mapping: dict[str, str] | None = None, progress: bool = True, include_bundled: bool = False,
          use_cache: bool = True, use_prebuilt: bool = True, log=print, force: bool = False,
          questions: Path | None | bool = None) -> dict:
    """Load `files` (plus the bundled glossary if asked), report problems, and build the index at `out`.

    Vectors and tokens are reused from the vector cache (`use_cache`) and from the index shipped
    prebuilt with the package (`use_prebuilt`) wherever the text and embedder match. `force` imports
    a PDF that does not look like a glossary. `questions`: the question bank for the entries' views
    (None = the bundled index/data/questions.jsonl, False = no views; see index/views.py).
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
                           prebuilt=shipped.load() if use_prebuilt else None, questions=questions)
    n, new = manifest["entries"], manifest["embedded"]
    reused = f"{n - new} reused ({manifest['shipped']} shipped prebuilt)" if n - new else "none reused"
    views = f"; {manifest['views']} questions as views ({manifest['views_embedded']} embedded)" \
        if manifest["views"] else ""
    log(f"indexed {n} entries into {out}: {new} embedded, {reused}{views}; {manifest['build_seconds']} s")
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
    from finterm.index.embed import embedder_version
    from finterm.index.views import bundled_questions

    if manifest.get("embedder_version", manifest.get("embedder")) != embedder_version(DEFAULT_EMBEDDER):
        return "the default embedder has changed"
    if manifest.get("questions_sha256") != file_sha256(bundled_questions()):
        return "the bundled question views have changed"
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


class Prepared(NamedTuple):
    """A question ready to answer: the search result, its intent, and what was resolved from history."""

    result: object  # SearchResult, with `query` = the resolved question
    intent: object  # finterm.rag.intent.Intent
    resolved: object  # finterm.rag.followup.Resolved
    asked: str | None  # the question as typed, when it was resolved into another


def prepare(retriever, question: str, *, k: int = 5, history=None) -> Prepared:
    """Resolve `question` with the earlier turns, read its intent and retrieve for it."""
    import dataclasses

    from finterm.rag.intent import intent_of, topic_of_cannot
    from finterm.rag.query import clean_query

    text, _ = clean_query(question)
    resolved = resolve_question(retriever, text, history)
    intent = intent_of(resolved.question)
    searched = resolved.question
    if intent.name == "cannot":  # "비트코인 시세 알려줘" is searched as "비트코인"
        searched = topic_of_cannot(resolved.question) or resolved.question
    result = retriever.search(searched, k=k)
    if intent.name == "cannot":
        result = _cannot_topic(retriever, result, searched, k)
    result = with_carried(retriever, result, resolved.carried, k)
    if result.corrected_from is None and result.query != resolved.question:
        result = dataclasses.replace(result, query=resolved.question)
    return Prepared(result, intent, resolved, text if resolved.question != text else None)


def ask(retriever, question: str, *, k: int = 5, generator=None, history=None):
    """Answer `question` from the glossary: extractive by default, or with an LLM `generator`.

    `history` holds the conversation's earlier turns (`finterm.rag.followup.Turn`, or dicts with a
    "question" and optional "terms"), oldest first: a follow-up ("그럼 그게 오르면?") is resolved with
    them before retrieval, and the answer's `note` says what was assumed. The app's chat, `finterm chat`
    and `finterm ask --history` all answer through here; a generator gets the same resolved question
    and sources as the extractive answer.
    """
    from finterm.rag.answer import not_found

    p = prepare(retriever, question, k=k, history=history)
    if generator is None:
        from finterm.rag.respond import respond

        answer = respond(retriever, p.result, p.intent, question=p.resolved.question,
                         carried=frozenset(p.resolved.carried), note=p.resolved.note)
    elif p.result.abstained:  # the model is never asked what the glossary cannot ground
        answer = not_found(p.result, generator.name)
    else:
        from finterm.rag.grounded import grounded_answer

        answer = grounded_answer(p.result, generator)
    return finish_turn(answer, p)


def finish_turn(answer, p: Prepared):
    """`answer` with what the conversation assumed (for any generator)."""
    import dataclasses

    return dataclasses.replace(answer, asked=p.asked, note=p.resolved.note, intent=p.intent.name)


def _cannot_topic(retriever, result, topic: str, k: int):
    """"원달러 환율" found no name as a whole: its last word may be one ("환율")."""
    from finterm.rag.query import question_core

    words = topic.split()
    if len(words) < 2 or (result.hits and result.hits[0].match in ("exact", "name", "typo")):
        return result
    last = retriever.search(question_core(words[-1]), k=k)
    return last if last.hits and last.hits[0].match == "exact" else result


def resolve_question(retriever, text: str, history=None):
    """`text` made to stand alone with the earlier turns (see finterm.rag.followup.resolve)."""
    from finterm.index.normalize import norm_key
    from finterm.rag.followup import Resolved, Turn, resolve
    from finterm.rag.query import contained_keys, word_starts

    turns = []
    for t in history or []:
        turn = t if isinstance(t, Turn) else Turn.from_json(t)
        if not turn.terms:  # a question without its terms (a history file of questions): ask it again
            turn = Turn.from_answer(ask(retriever, turn.question, history=turns))
        turns.append(turn)
    if not turns:
        return Resolved(text)
    names = bool(contained_keys(norm_key(text), retriever.keys, word_starts(text)))
    return resolve(text, turns, names_something=names)


def with_carried(retriever, result, carried, k: int = 5):
    """`result` with the entries of the carried terms among its hits (first when it had none of them)."""
    import dataclasses

    have = {h.entry.term for h in result.hits}
    extra = []
    for term in carried:
        if term in have:
            continue
        found = retriever.search(term, k=1)
        if found.hits and found.hits[0].entry.term == term:
            extra.append(found.hits[0])
    if not extra:
        return result
    if result.abstained or not result.hits:
        return dataclasses.replace(result, hits=tuple(extra), abstained=False, suggestions=())
    return dataclasses.replace(result, hits=tuple([*result.hits[:1], *extra, *result.hits[1:]][:k + len(extra)]))
