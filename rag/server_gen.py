"""The `server` generator: the same grounded prompt, sent to an OpenAI-compatible `/v1/completions`.

    gen = ServerGenerator(ServerConfig("http://127.0.0.1:8000", model="fin_v4"), GeneratorConfig(do_sample=False))
    grounded_answer(retriever.search(q), gen)   # exactly as with the in-process qlora generator

In production the server is vLLM (batching many users on one GPU); `transformers serve` speaks the
same protocol and is what the tests start. Their differences are handled here: vLLM ends a stream
with `data: [DONE]`, `transformers serve` just closes it; `transformers serve` keeps a stop string in
the text (the post-processing cuts at `###` either way) and is pinned to one model. The raw prompt is
sent (polyglot-ko has no chat template). A stream is complete only when a chunk carried a
`finish_reason`; one that stops before that raises `PartialGeneration` with the text so far.

The server's tokenizer is not here, so the prompt budget is counted with a local copy of the base
model's tokenizer when one can be loaded (`--base-model`, else the served model's own id or folder),
else with a conservative estimate; `model_info()["tokens"]` says which.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from finterm import FintermError
from finterm.rag.generate import GeneratorConfig

URL_ENV = "FINTERM_SERVER_URL"
DEFAULT_CONTEXT = 2048  # polyglot-ko's, when neither the server nor a local config says
STOP = ["### 질문"]  # the model starting a new turn


class ServerError(FintermError):
    """The generation server could not be used (unreachable, refused, failed): one line."""


class PartialGeneration(ServerError):
    """The stream stopped before the server said it was finished; `text` is what came."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how to talk to it."""

    url: str
    model: str | None = None  # None: the one model the server lists (or its one LoRA adapter)
    api_key_env: str | None = None  # name of the environment variable holding the key, never the key
    timeout: float = 120.0  # seconds to connect, and to wait for each piece of the answer
    tokenizer: str | None = None  # hub id or folder to count prompt tokens with

    def __post_init__(self) -> None:
        parts = urlsplit(self.url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FintermError(f"server URL {self.url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000 "
                               f"(--server-url or {URL_ENV})")
        if not self.timeout > 0:
            raise FintermError(f"server timeout of {self.timeout} s must be above 0")
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise FintermError(f"--api-key-env {self.api_key_env}: that environment variable is empty or unset; "
                               f"export {self.api_key_env}=KEY first")

    @property
    def base_url(self) -> str:
        """The URL up to /v1 (both `http://h:8000` and `http://h:8000/v1` are accepted)."""
        url = self.url.strip().rstrip("/")
        return url if url.endswith("/v1") else url + "/v1"


def _detail(response) -> str:
    """The server's own error message, on one line (vLLM: error.message; FastAPI: detail)."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        err = body.get("error")
        body = err.get("message", err) if isinstance(err, dict) else err or body.get("detail") or body.get("message")
    return " ".join(str(body).split())[:200] or response.reason_phrase


class ServerGenerator:
    """Generate through an OpenAI-compatible completions server; thread-safe, no per-call state."""

    name = "server"

    def __init__(self, server: ServerConfig, config: GeneratorConfig | None = None, *,
                 on_text: Callable[[str], None] | None = None) -> None:
        import httpx

        self.server = server
        self.config = config or GeneratorConfig()
        self.on_text = on_text
        self.generations = 0
        headers = {"Authorization": f"Bearer {os.environ[server.api_key_env]}"} if server.api_key_env else {}
        t = server.timeout
        self._http = httpx.Client(base_url=server.base_url, headers=headers,
                                  timeout=httpx.Timeout(t, connect=min(t, 10.0)),
                                  limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        self._lock = threading.Lock()
        self._model: str | None = None
        self._vllm = False  # vLLM takes top_k; transformers serve refuses fields OpenAI does not have
        self._context: int | None = None
        self._count: Callable[[str], int] | None = None
        self._counted_with = ""

    # -- talking to the server -------------------------------------------------------------------
    def _request(self, method: str, path: str, **kw):
        import httpx

        where = self.server.url
        try:
            return self._http.request(method, path, **kw)
        except httpx.TimeoutException:
            raise ServerError(f"the generation server at {where} did not answer within {self.server.timeout:g} s; "
                              "raise --server-timeout or check the server's load") from None
        except httpx.TransportError as exc:
            raise ServerError(f"cannot reach the generation server at {where} ({type(exc).__name__}: "
                              f"{str(exc)[:120] or 'no detail'}); start it or fix --server-url / {URL_ENV}") from None

    def models(self) -> list[dict]:
        """The server's `/v1/models` entries (id, and for vLLM: root, parent, max_model_len)."""
        r = self._request("GET", "/models")
        self._raise_for(r, None)
        try:
            data = r.json().get("data", [])
        except (ValueError, AttributeError):
            raise ServerError(f"{self.server.url} did not answer /v1/models with JSON; is it an "
                              "OpenAI-compatible server (vLLM, transformers serve)?") from None
        return [m for m in data if isinstance(m, dict) and m.get("id")]

    def _raise_for(self, r, model: str | None) -> None:
        if r.status_code < 400:
            return
        where, detail = self.server.url, _detail(r)
        if r.status_code in (401, 403):
            raise ServerError(f"the generation server at {where} refused the key (HTTP {r.status_code}: {detail}); "
                              "put the key in an environment variable and pass --api-key-env VAR")
        if r.status_code >= 500:
            raise ServerError(f"the generation server at {where} failed (HTTP {r.status_code}: {detail}); "
                              "see its log")
        if model is not None:  # a 400/404 on a completion: first rule out a wrong model name
            served = [m["id"] for m in self.models()]
            if model not in served:
                raise ServerError(f"model {model!r} is not served by {where}; it serves: {', '.join(served) or 'none'}"
                                  f"; pass --server-model {self._suggest()}")
        raise ServerError(f"the generation server at {where} refused the request (HTTP {r.status_code}: {detail})")

    def _suggest(self, listed: list[dict] | None = None) -> str:
        """The model to name in an error: a LoRA adapter if the server has one (finterm's fine-tuned model)."""
        listed = self.models() if listed is None else listed
        adapters = [m["id"] for m in listed if m.get("parent")]
        return (adapters or [m["id"] for m in listed] or ["NAME"])[0]

    def _resolve(self) -> None:
        """Pick the model, the context length and the token counter, once."""
        with self._lock:
            if self._model is not None:
                return
            listed = self.models()
            want = self.server.model
            if want is None:
                adapters = [m for m in listed if m.get("parent")]  # vLLM lists LoRA modules with their base
                pick = listed if len(listed) == 1 else adapters if len(adapters) == 1 else []
                if not pick:
                    names = ", ".join(m["id"] for m in listed) or "none"
                    raise ServerError(f"the server at {self.server.url} serves {names}; "
                                      "name the one to use with --server-model")
                entry = pick[0]
            else:
                entry = next((m for m in listed if m["id"] == want), None)
                if entry is None:
                    names = ", ".join(m["id"] for m in listed) or "none"
                    raise ServerError(f"model {want!r} is not served by {self.server.url}; it serves: {names}; "
                                      f"pass --server-model {self._suggest(listed)}")
            by_id = {m["id"]: m for m in listed}
            parent = by_id.get(entry.get("parent") or "", {})
            candidates = [self.server.tokenizer, parent.get("root"), entry.get("parent"), entry.get("root"),
                          entry["id"]]
            self._count, self._counted_with, config_ctx = _counter([c for c in candidates if c])
            self._context = int(entry.get("max_model_len") or parent.get("max_model_len") or config_ctx
                                or DEFAULT_CONTEXT)
            self._vllm = entry.get("owned_by") == "vllm"
            self._model = entry["id"]

    @property
    def model(self) -> str:
        """The served model's name (resolved from /v1/models on first use)."""
        self._resolve()
        return self._model  # type: ignore[return-value]

    @property
    def context_length(self) -> int:
        self._resolve()
        return self._context  # type: ignore[return-value]

    def count_tokens(self, text: str) -> int:
        self._resolve()
        return self._count(text)  # type: ignore[misc]

    def model_info(self) -> dict:
        return {"server": self.server.url, "name": self.model, "tokens": self._counted_with}

    def _body(self, prompt: str, stream: bool) -> dict:
        c = self.config
        body = {"model": self.model, "prompt": prompt, "max_tokens": c.max_new_tokens, "stream": stream,
                "stop": STOP}
        if c.do_sample:  # transformers serve samples only if the model's generation_config does
            body.update(temperature=c.temperature, top_p=c.top_p)
            if self._vllm:
                body["top_k"] = c.top_k
        else:
            body.update(temperature=0.0)
        return body

    # -- generation ------------------------------------------------------------------------------
    def generate(self, prompt: str) -> str:
        """The server's continuation of `prompt`."""
        body = self._body(prompt, stream=False)
        self.generations += 1
        r = self._request("POST", "/completions", json=body)
        self._raise_for(r, body["model"])
        try:
            return r.json()["choices"][0].get("text") or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ServerError(f"the generation server at {self.server.url} answered without choices[0].text; "
                              "is it an OpenAI-compatible completions server?") from None

    def stream(self, prompt: str) -> Iterator[str]:
        """The continuation in pieces (server-sent events). Raises `PartialGeneration` if it stops early."""
        import httpx

        body = self._body(prompt, stream=True)
        self.generations += 1
        got: list[str] = []
        finished = False
        try:
            with self._http.stream("POST", "/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise_for(r, body["model"])
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, `event:` lines
                    data = line[5:].strip()
                    if data == "[DONE]":  # vLLM; transformers serve just closes the stream
                        break
                    chunk = json.loads(data)
                    if chunk.get("error"):
                        raise _cut(self.server.url, f"the server reported: {_detail_of(chunk['error'])}", got)
                    for choice in chunk.get("choices") or []:
                        piece = choice.get("text") or ""
                        if piece:  # empty while a Korean character is still incomplete
                            got.append(piece)
                            yield piece
                        finished = finished or bool(choice.get("finish_reason"))
        except httpx.TimeoutException:
            raise _cut(self.server.url, f"no data for {self.server.timeout:g} s", got) from None
        except httpx.TransportError as exc:
            if not got:
                raise ServerError(f"cannot reach the generation server at {self.server.url} ({type(exc).__name__});"
                                  f" start it or fix --server-url / {URL_ENV}") from None
            raise _cut(self.server.url, f"{type(exc).__name__}: {str(exc)[:100]}", got) from None
        except json.JSONDecodeError:
            raise _cut(self.server.url, "a piece of the stream was not JSON", got) from None
        if not finished:
            raise _cut(self.server.url, "the stream ended without a finish_reason", got)

    def close(self) -> None:
        self._http.close()


def _detail_of(err) -> str:
    return str(err.get("message", err) if isinstance(err, dict) else err)[:160]


def _cut(url: str, why: str, got: list[str]) -> ServerError:
    if not got:
        return ServerError(f"the generation server at {url} stopped before sending any text ({why})")
    return PartialGeneration(f"the generation server at {url} stopped midway ({why}); the answer is partial",
                             "".join(got))


def estimate_tokens(text: str) -> int:
    """A conservative token count without the tokenizer: half a token per UTF-8 byte (1.5 per Hangul
    syllable, about twice what polyglot-ko's tokenizer uses), so the prompt never overflows."""
    return len(text.encode("utf-8")) // 2 + 1


def _counter(names: list[str]) -> tuple[Callable[[str], int], str, int | None]:
    """(count_tokens, which tokenizer it is, the context from that model's config) for the first of
    `names` whose tokenizer loads here; the estimate if none does."""
    from finterm.rag.model_errors import looks_like_path

    try:
        from transformers import AutoConfig, AutoTokenizer
    except ImportError:
        return estimate_tokens, "estimate", None
    for name in dict.fromkeys(names):
        if looks_like_path(name) and not os.path.isdir(os.path.expanduser(name)):
            continue  # a folder on the server's machine, not this one
        try:
            tok = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
        except Exception:  # noqa: BLE001 - not here, not on the hub, not a tokenizer: try the next
            continue
        try:
            ctx = getattr(AutoConfig.from_pretrained(name), "max_position_embeddings", None)
        except Exception:  # noqa: BLE001 - a tokenizer-only folder
            ctx = None

        lock = threading.Lock()  # a fast tokenizer used from many threads can raise "Already borrowed"

        def count(text: str, tok=tok, lock=lock) -> int:
            with lock:
                return len(tok(text, return_token_type_ids=False)["input_ids"])

        return count, f"tokenizer {name}", ctx
    return estimate_tokens, "estimate", None


def server_generator_from_args(args) -> ServerGenerator:
    """The generator for `finterm ask --generator server …` (URL from --server-url or FINTERM_SERVER_URL)."""
    import sys

    url = getattr(args, "server_url", None) or os.environ.get(URL_ENV)
    if not url:
        raise FintermError(f"--generator server needs --server-url URL (or {URL_ENV}), e.g. http://127.0.0.1:8000")
    if args.greedy and any(getattr(args, a, None) is not None for a in ("temperature", "top_p", "top_k")):
        raise FintermError("--greedy does not sample, so --temperature/--top-p/--top-k do nothing; drop one")
    config = GeneratorConfig().override(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        do_sample=False if args.greedy else None)
    server = ServerConfig(url=url, model=getattr(args, "server_model", None), api_key_env=getattr(args, "api_key_env",
                          None), timeout=getattr(args, "server_timeout", None) or 120.0, tokenizer=args.base_model)
    on_text = None
    if getattr(args, "stream", False):
        out = sys.stderr if getattr(args, "json", False) else sys.stdout

        def on_text(text: str) -> None:
            out.write(text)
            out.flush()
    return ServerGenerator(server, config, on_text=on_text)
