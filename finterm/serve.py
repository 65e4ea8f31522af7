"""`finterm serve`: finterm's HTTP API (FastAPI + uvicorn), for chat bots, web pages and notebooks.

    finterm serve --port 8080                                       # loopback only, extractive answers
    finterm serve --host 0.0.0.0 --generator server --server-url http://vllm:8000

    GET  /health                     GET  /v1/search?q=&k=          POST /v1/ask   {"question", "k",
    GET  /v1/quiz?n=&category=&seed= GET  /v1/entries/{id}               "generator", "history", "stream"}
    POST /v1/check {"answer", "term" | "question", "generator"}     GET  /docs  (OpenAPI)

The JSON is the CLI's (`--json`). `/v1/ask` with `"stream": true` answers in server-sent events:
`event: text` pieces while the model writes, then one `event: answer` with the checked answer (or
`event: error`). Bad input is a 4xx with `{"error": "one line"}`; nothing answers with a traceback.
The app holds no per-user state (a conversation's `history` comes with each request), so any
number of replicas can run behind a load balancer, all pointing at one vLLM server.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import queue
import random
import sys
import threading
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from finterm import FintermError, __version__
from finterm.rag.query import MAX_QUERY_CHARS

log = logging.getLogger("finterm.serve")
MAX_K = 20
MAX_QUIZ = 50
MAX_ANSWER_CHARS = 2000
MAX_HISTORY = 20


class Bad(FintermError):
    """A request that is well-formed JSON but asks for something wrong: 400 (404 with `status`)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    k: int = Field(5, ge=1, le=MAX_K)
    generator: str | None = None  # "extractive" or the one this server was started with (default)
    history: list[dict] = Field(default_factory=list, max_length=MAX_HISTORY)  # earlier turns, oldest first
    stream: bool = False


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str
    term: str | None = None
    question: str | None = None
    generator: str | None = None  # a generator also writes feedback (marked generated)


def _text(value: str, what: str, limit: int = MAX_QUERY_CHARS) -> str:
    """`value` if it is usable text: not blank, not longer than `limit`, no lone surrogates."""
    if not value.strip():
        raise Bad(f"{what} is blank; send some text")
    if len(value) > limit:
        raise Bad(f"{what} of {len(value)} characters is longer than {limit}; shorten it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Bad(f"{what} holds a lone surrogate (an escape like \\ud800 that is no character); fix the text") \
            from None
    return value


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(retriever, generator=None) -> FastAPI:
    """The API over `retriever`; `generator` (qlora or server) answers when a request asks for it
    (it is the default then); "extractive" is always there."""
    from finterm import api

    generators = {"extractive": None}
    if generator is not None:
        generators[generator.name] = generator
    default = generator.name if generator is not None else "extractive"
    by_id = {e.id: e for e in retriever.entries}
    takes_history = "history" in __import__("inspect").signature(api.ask).parameters
    app = FastAPI(title="finterm", version=__version__,
                  description="Korean economics & finance glossary: search, grounded answers with citations, "
                              "TESAT quizzes and answer checking. Errors are `{\"error\": \"…\"}`.")

    def pick(name: str | None):
        name = name or default
        if name not in generators:
            raise Bad(f"generator {name!r} is not available here; this server has: {', '.join(generators)}")
        return generators[name]

    # -- errors: one JSON line each, never a traceback ------------------------------------------
    @app.exception_handler(FintermError)
    async def _finterm_error(request: Request, exc: FintermError):
        from finterm.rag.server_gen import ServerError

        status = getattr(exc, "status", 502 if isinstance(exc, ServerError) else 400)
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") in ("json_invalid", "model_attributes_type", "dict_type") or loc in ([], ["0"]):
            return JSONResponse({"error": f"the body must be a JSON object ({first.get('msg', 'invalid')}); send "
                                          "Content-Type: application/json and e.g. {\"question\": \"…\"}"},
                                status_code=422)
        return JSONResponse({"error": f"{'.'.join(loc)}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("finterm serve: %s %s failed", request.method, request.url.path)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server's log"},
                            status_code=500)

    # -- endpoints -------------------------------------------------------------------------------
    @app.get("/health", summary="Liveness, what the index holds, which generators answer")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "entries": len(by_id), "generators": list(generators),
                "default_generator": default}

    @app.get("/v1/search", summary="Glossary entries for a query (the CLI's `search --json`)")
    def search(q: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 5) -> dict:
        return retriever.search(_text(q, "q"), k=k).to_json()

    @app.post("/v1/ask", summary="A cited answer (`ask --json`); server-sent events with \"stream\": true")
    def ask(body: AskBody):
        question = _text(body.question, "question")
        gen = pick(body.generator)
        kwargs = {"history": body.history} if takes_history and body.history else {}
        if not body.stream:
            answer = api.ask(retriever, question, k=body.k, generator=gen, **kwargs)
            return _answer_json(answer)
        return StreamingResponse(_stream(api, retriever, question, body.k, gen, kwargs),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/check", summary="Grade an explanation of a term against its definition (`check --json`)")
    def check(body: CheckBody) -> dict:
        from finterm.rag.check import check_answer

        if (body.term is None) == (body.question is None):
            raise Bad("give exactly one of \"term\" or \"question\", and \"answer\"")
        answer = _text(body.answer, "answer", MAX_ANSWER_CHARS)
        term = _text(body.term, "term") if body.term is not None else None
        question = _text(body.question, "question") if body.question is not None else None
        gen = pick(body.generator or "extractive")
        result = check_answer(retriever, answer, term=term, question=question)
        out = result.to_json()
        if gen is not None:
            from finterm.rag.feedback import written_feedback

            out["feedback"] = written_feedback(result, answer, gen).to_json()
        return out

    @app.get("/v1/quiz", summary="Five-choice TESAT-style questions (`quiz --json`)")
    def quiz(n: Annotated[int, Query(ge=1, le=MAX_QUIZ)] = 10, category: str | None = None,
             seed: int | None = None, difficulty: Annotated[float, Query(ge=0, le=1)] = 0.7) -> dict:
        from finterm.rag.quiz import make_quiz

        seed = random.randrange(1_000_000) if seed is None else seed
        questions = make_quiz(retriever, n, seed=seed, category=category, difficulty=difficulty)
        return {"seed": seed, "questions": [q.to_json() for q in questions]}

    @app.get("/v1/entries/{entry_id}", summary="One glossary entry by id")
    def entry(entry_id: str) -> dict:
        if entry_id not in by_id:
            raise Bad(f"no entry with id {entry_id!r}; ids come from /v1/search hits", status=404)
        return by_id[entry_id].to_dict()

    return app


def _answer_json(answer) -> JSONResponse:
    """The answer's JSON; a partial one (a generation cut midway) is a 502 that still carries it."""
    body = answer.to_json()
    if getattr(answer, "partial", False):
        body["error"] = (answer.model or {}).get("stopped", "the generation stopped midway")
        return JSONResponse(body, status_code=502)
    return JSONResponse(body)


def _stream(api, retriever, question: str, k: int, gen, kwargs: dict):
    """Server-sent events for one ask: the model's text as it comes, then the checked answer."""
    if gen is None:  # extractive: the whole answer at once
        try:
            answer = api.ask(retriever, question, k=k, **kwargs)
        except FintermError as exc:
            yield _event("error", {"error": str(exc)})
            return
        yield _event("text", {"text": answer.text})
        yield _event("answer", answer.to_json())
        return
    pieces: queue.Queue = queue.Queue()
    mine = copy.copy(gen)  # the same model or server, with this request's own on_text
    mine.on_text = lambda text: pieces.put(("text", text))

    def work() -> None:
        try:
            pieces.put(("answer", api.ask(retriever, question, k=k, generator=mine, **kwargs)))
        except Exception as exc:  # noqa: BLE001 - reported to the client as one line
            if not isinstance(exc, FintermError):
                log.exception("finterm serve: streaming ask failed")
            pieces.put(("error", exc))

    threading.Thread(target=work, name="finterm-ask", daemon=True).start()
    while True:
        kind, value = pieces.get()
        if kind == "text":
            yield _event("text", {"text": value})
        elif kind == "answer":
            body = value.to_json()
            if getattr(value, "partial", False):
                body["error"] = (value.model or {}).get("stopped", "the generation stopped midway")
            yield _event("answer", body)
            return
        else:
            msg = str(value) if isinstance(value, FintermError) else f"internal error ({type(value).__name__})"
            yield _event("error", {"error": msg})
            return


def passive_openmp() -> bool:
    """Let torch's OpenMP threads sleep while they wait, unless OMP_WAIT_POLICY is set already.

    libgomp's workers spin between parallel regions by default. A server mostly waits, and on shared
    cores the spinning fights the thread that generates: on 2 shared cores the tests' tiny 4-bit model
    took 0.3-1.0 s per answer with spinning and 0.03 s without. libgomp throttles the spinning only once
    more threads than cores have used it (two requests at once), so one user at a time got the slow
    case, and a load test's 1-client row was slower per answer than its 8-client row. libgomp reads the
    variable when it loads, so this must run before torch is imported; False when it is too late."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True


def cmd_serve(args) -> int:
    import uvicorn

    from finterm.api import open_retriever

    passive_openmp()  # first: before the generator or the embedder loads torch
    generator = None
    if args.generator != "extractive":
        from finterm.rag.generate import generator_from_args

        args.stream, args.json = False, False  # the API streams per request, not to this terminal
        generator = generator_from_args(args)
    retriever = open_retriever(args.index)
    retriever.search("기준금리")  # load Kiwi and the embedder now: /health means ready, the first user does not wait
    if generator is not None and generator.name == "server":
        generator.model  # noqa: B018 - reach the server now: a wrong URL or model fails before serving
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"finterm serve: listening on {args.host}, reachable from other machines; there is no "
              "authentication: put it behind a proxy that has some", file=sys.stderr)
    print(f"finterm serve: http://{args.host}:{args.port} ({len(retriever.entries)} entries, generator "
          f"{generator.name if generator else 'extractive'}); API docs at /docs", file=sys.stderr)
    uvicorn.run(create_app(retriever, generator), host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0

