"""The server generator against REAL servers: `transformers serve` on a tiny merged model built here
(streaming and not, a wrong model name, the server killed mid-stream), plus a server that never
answers and one that fails with HTTP 500. No mock of the HTTP layer anywhere.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from serving import free_port, running, transformers_serve_cmd
from tiny_qlora import SUPPORTED, UNRELATED, build_tiny_qlora

from finterm import FintermError
from finterm.rag.generate import GeneratorConfig
from finterm.rag.grounded import PARTIAL_MARK, grounded_answer
from finterm.rag.grounding import UNSUPPORTED_MARK
from finterm.rag.prompt import format_prompt
from finterm.rag.server_gen import ServerConfig, ServerError, ServerGenerator, _counter, estimate_tokens

pytestmark = pytest.mark.slow
QUESTION = "기준금리가 뭐야?"
GREEDY = GeneratorConfig(do_sample=False, max_new_tokens=64)


@pytest.fixture(scope="session")
def merged(tmp_path_factory):
    """The tiny base + adapter, merged by `finterm merge` into one fp16 folder (what servers load)."""
    from finterm.merge import merge

    root = tmp_path_factory.mktemp("serving")
    base, adapter = build_tiny_qlora(root / "tiny")
    out = merge(str(adapter), root / "merged", log=lambda m: None)
    return base, adapter, out


@pytest.fixture(scope="session")
def tserve(merged, tmp_path_factory):
    """A `transformers serve` process on the merged tiny model: its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("tserve") / "serve.log"
    with running(transformers_serve_cmd(merged[2], port), f"http://127.0.0.1:{port}/health", log):
        yield f"http://127.0.0.1:{port}"


def _gen(url: str, **kw) -> ServerGenerator:
    return ServerGenerator(ServerConfig(url, **kw), GREEDY)


# -- merge -----------------------------------------------------------------------------------------
def test_merge_writes_an_fp16_model_with_the_adapter_folded_in(merged):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, adapter, out = merged
    info = json.loads((out / "finterm_merge.json").read_text(encoding="utf-8"))
    assert info["format"] == "finterm-merge/1" and info["adapter"] == str(adapter) and info["dtype"] == "float16"
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.float16 and not any("lora" in n for n, _ in model.named_parameters())
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok(format_prompt(QUESTION, []), return_tensors="pt", return_token_type_ids=False)
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()
    with torch.inference_mode():
        want = peft_model(**ids).logits[0, -1]
        got = model.float()(**ids).logits[0, -1]
    assert want.argmax() == got.argmax() and (want - got).abs().max() < 0.05


def test_merge_refuses_a_folder_that_is_not_empty(merged, capsys):
    from finterm.cli import main

    assert main(["merge", "--adapter", str(merged[1]), "--out", str(merged[2])]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an empty folder" in err


# -- answers -------------------------------------------------------------------------------------------
def test_grounded_answer_through_transformers_serve(tserve, merged, retriever):
    gen = _gen(tserve)
    answer = grounded_answer(retriever.search(QUESTION), gen)
    assert answer.generator == "server" and not answer.partial
    info = dict(answer.model)
    assert 0 < info.pop("new_tokens") < GREEDY.max_new_tokens  # the tiny model ends its answer itself
    assert info == {"server": tserve, "name": str(merged[2]), "tokens": f"tokenizer {merged[2]}"}
    n = next(c.n for c in answer.citations if c.term == "기준금리")
    assert answer.sentences[0].text == SUPPORTED and answer.sentences[0].citations == (n,)
    assert answer.sentences[1].citations == () and UNSUPPORTED_MARK in answer.text  # the made-up one
    assert gen.context_length == 512  # from the served model's own config


def test_streamed_pieces_join_to_the_plain_answer(tserve, retriever):
    gen = _gen(tserve)
    prompt = format_prompt(QUESTION, [retriever.search(QUESTION).hits[0].entry])
    pieces = list(gen.stream(prompt))
    assert len(pieces) > 3 and "".join(pieces) == gen.generate(prompt)
    shown: list[str] = []
    streamed = grounded_answer(retriever.search(QUESTION), gen, on_text=shown.append)
    assert streamed.streamed and streamed.text == grounded_answer(retriever.search(QUESTION), gen).text
    assert "".join(shown).startswith(SUPPORTED)


def test_concurrent_streams_do_not_mix(tserve):
    gen = _gen(tserve)
    prompt = format_prompt(QUESTION, [])
    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append("".join(gen.stream(prompt)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4 and len(set(out)) == 1 and SUPPORTED in out[0]


def test_wrong_model_name_lists_the_served_ones(tserve, merged, retriever):
    gen = _gen(tserve, model="fin_v4")
    with pytest.raises(ServerError) as exc:
        grounded_answer(retriever.search(QUESTION), gen)
    msg = str(exc.value)
    assert "'fin_v4' is not served" in msg and str(merged[2]) in msg and "--server-model" in msg
    assert "\n" not in msg


def test_cli_ask_server_json_and_stream(tserve, small_index, tmp_path):
    env = {**os.environ, "FINTERM_HOME": str(tmp_path / "home"), "FINTERM_SERVER_URL": tserve}
    base = [sys.executable, "-m", "finterm.cli", "ask", QUESTION, "--generator", "server", "--greedy",
            "--index", str(small_index)]
    proc = subprocess.run([*base, "--json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["generator"] == "server" and out["model"]["server"] == tserve and "partial" not in out
    assert out["sentences"][0]["text"] == SUPPORTED
    proc = subprocess.run([*base, "--stream"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    live, checked = proc.stdout.split("[정의와 대조한 답변]")
    assert live.strip().startswith(SUPPORTED) and "그리고" in live and "그리고" not in checked


def test_server_killed_mid_stream_gives_a_partial_answer(merged, retriever, tmp_path):
    port = free_port()
    with running(transformers_serve_cmd(merged[2], port), f"http://127.0.0.1:{port}/health",
                 tmp_path / "log") as proc:
        gen = _gen(f"http://127.0.0.1:{port}")
        gen.model  # noqa: B018 - resolve before the kill
        shown: list[str] = []

        def on_text(piece: str) -> None:
            if not shown:
                os.killpg(proc.pid, signal.SIGKILL)  # the server dies after the first words
            shown.append(piece)

        answer = grounded_answer(retriever.search(QUESTION), gen, on_text=on_text)
    assert shown and answer.partial and answer.text.startswith(PARTIAL_MARK)
    assert "stopped midway" in answer.model["stopped"]
    assert answer.to_json()["partial"] is True
    assert len("".join(shown)) < len(SUPPORTED + UNRELATED)


# -- errors that need no model -----------------------------------------------------------------------
def test_unreachable_server_is_one_line(small_index, capsys):
    from finterm.cli import main

    url = f"http://127.0.0.1:{free_port()}"
    code = main(["ask", QUESTION, "--generator", "server", "--server-url", url, "--index", str(small_index)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "cannot reach the generation server" in err and url in err


def test_missing_url_and_bad_url_are_one_line(small_index, capsys, monkeypatch):
    from finterm.cli import main

    monkeypatch.delenv("FINTERM_SERVER_URL", raising=False)
    assert main(["ask", QUESTION, "--generator", "server", "--index", str(small_index)]) == 1
    assert "FINTERM_SERVER_URL" in capsys.readouterr().err
    assert main(["ask", QUESTION, "--generator", "server", "--server-url", "localhost:8000",
                 "--index", str(small_index)]) == 1
    assert "not an http(s) URL" in capsys.readouterr().err
    assert main(["ask", QUESTION, "--generator", "server", "--server-url", "http://127.0.0.1:1",
                 "--api-key-env", "FINTERM_NO_SUCH_KEY", "--index", str(small_index)]) == 1
    assert "FINTERM_NO_SUCH_KEY" in capsys.readouterr().err


def test_a_server_that_never_answers_times_out():
    with socket.socket() as s:  # accepts connections, never replies
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        gen = _gen(f"http://127.0.0.1:{s.getsockname()[1]}", model="m", timeout=1)
        with pytest.raises(ServerError, match=r"did not answer within 1 s; raise --server-timeout"):
            gen.model  # noqa: B018


class _Failing(http.server.BaseHTTPRequestHandler):
    """A real HTTP server whose engine is broken: /v1/models works, completions are HTTP 500."""

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._send(200, {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm"}]})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(500, {"error": {"message": "EngineCore died", "type": "InternalServerError", "code": 500}})

    def log_message(self, *args):
        pass


def test_http_500_is_one_line_with_the_servers_message():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gen = _gen(f"http://127.0.0.1:{server.server_port}")
        for call in (gen.generate, lambda p: list(gen.stream(p))):
            with pytest.raises(ServerError) as exc:
                call("### 질문: x\n\n### 답변:")
            assert "failed (HTTP 500: EngineCore died); see its log" in str(exc.value)
    finally:
        server.shutdown()


def test_tokens_are_estimated_when_no_tokenizer_is_here(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    count, which, ctx = _counter(["fin_v4", "/srv/models/not-on-this-machine"])
    assert which == "estimate" and count is estimate_tokens and ctx is None
    assert estimate_tokens("기준금리") >= 6  # 1.5 a syllable: more than polyglot-ko would use


@pytest.mark.parametrize("bad", [{"url": "ftp://x"}, {"url": "http://x", "timeout": 0}])
def test_server_config_is_validated(bad):
    with pytest.raises(FintermError):
        ServerConfig(**bad)


def test_finterm_serve_relays_the_servers_stream(tserve, small_index, tmp_path):
    """A client -> `finterm serve --generator server` -> `transformers serve`: events, then the answer."""
    import httpx
    from serving import running as run

    port = free_port()
    cmd = [sys.executable, "-m", "finterm.cli", "serve", "--index", str(small_index), "--port", str(port),
           "--generator", "server", "--server-url", tserve, "--greedy"]
    api = f"http://127.0.0.1:{port}"
    with run(cmd, f"{api}/health", tmp_path / "serve.log", env={"FINTERM_HOME": str(tmp_path)}):
        assert httpx.get(f"{api}/health").json()["generators"] == ["extractive", "server"]
        plain = httpx.post(f"{api}/v1/ask", json={"question": QUESTION}, timeout=120).json()
        assert plain["generator"] == "server" and plain["sentences"][0]["text"] == SUPPORTED
        events, kind = [], None
        with httpx.stream("POST", f"{api}/v1/ask", json={"question": QUESTION, "stream": True}, timeout=120) as s:
            for line in s.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    events.append((kind, json.loads(line[5:])))
        texts = [d["text"] for k, d in events if k == "text"]
        assert len(texts) > 3 and "".join(texts).startswith(SUPPORTED)
        assert events[-1] == ("answer", plain)
        quick = httpx.post(f"{api}/v1/ask", json={"question": QUESTION, "generator": "extractive"}).json()
        assert quick["generator"] == "extractive"


def test_app_sidebar_server_status_and_a_streamed_answer(tserve, merged, small_index, monkeypatch):
    from test_ui import ask, open_app

    monkeypatch.setenv("FINTERM_SERVER_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    at = open_app(small_index, monkeypatch)
    at.sidebar.radio(key="generator").set_value("server").run()
    assert not at.exception and at.sidebar.error[0].value.startswith("server: not available: cannot reach")
    at.sidebar.text_input(key="server_url").set_value(tserve).run()
    assert not at.exception and not at.sidebar.error
    ready = at.sidebar.success[0].value
    assert ready.startswith("server: ready") and str(merged[2]) in ready.replace("\\", "")  # markdown-escaped
    at = ask(at, QUESTION)
    assert "생성기: server" in " ".join(c.value for c in at.caption).replace("\\", "")  # markdown-escaped
    assert SUPPORTED in " ".join(m.value for m in at.markdown).replace("\\", "")  # markdown-escaped
