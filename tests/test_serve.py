"""`finterm serve` started as a real process and driven over HTTP: every endpoint, bad input (4xx JSON,
never a traceback), server-sent events, and concurrent clients."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serving import free_port, running

pytestmark = pytest.mark.slow
HTTP = httpx.Client(timeout=60)  # generous: CI's machine is shared
QUESTION = "기준금리가 뭐야?"


@pytest.fixture(scope="session")
def api(small_index, tmp_path_factory):
    """The URL of a `finterm serve` (extractive) on the test index."""
    port = free_port()
    home = tmp_path_factory.mktemp("serve-home")
    cmd = [sys.executable, "-m", "finterm.cli", "serve", "--index", str(small_index), "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/health", home / "serve.log", env={"FINTERM_HOME": str(home)}):
        yield f"http://127.0.0.1:{port}"


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and "Traceback" not in body["error"] and "\n" not in body["error"]
    return body["error"]


def test_health_and_docs(api):
    h = HTTP.get(f"{api}/health").json()
    assert h["status"] == "ok" and h["entries"] == 20 and h["generators"] == ["extractive"]
    assert HTTP.get(f"{api}/docs").status_code == 200
    paths = HTTP.get(f"{api}/openapi.json").json()["paths"]
    assert {"/health", "/v1/search", "/v1/ask", "/v1/check", "/v1/quiz", "/v1/entries/{entry_id}"} <= set(paths)


def test_search_is_the_clis_json(api, retriever):
    r = HTTP.get(f"{api}/v1/search", params={"q": "기준금리는", "k": 3})
    assert r.status_code == 200
    assert r.json() == json.loads(json.dumps(retriever.search("기준금리는", k=3).to_json(), ensure_ascii=False))
    assert r.json()["hits"][0]["term"] == "기준금리"


def test_ask_json_and_stream(api):
    r = HTTP.post(f"{api}/v1/ask", json={"question": QUESTION, "k": 3})
    a = r.json()
    assert r.status_code == 200 and a["generator"] == "extractive" and not a["abstained"]
    assert any(c["term"] == "기준금리" for c in a["citations"])
    with HTTP.stream("POST", f"{api}/v1/ask", json={"question": QUESTION, "k": 3, "stream": True}) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        events = _events(s)
    assert [k for k, _ in events] == ["text", "answer"] and events[1][1] == a
    off = HTTP.post(f"{api}/v1/ask", json={"question": "피아노 조율은 얼마나 자주 해야 해?"}).json()
    assert off["abstained"] is True and off["citations"] == []


def _events(response) -> list[tuple[str, dict]]:
    out, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            out.append((kind, json.loads(line[5:])))
    return out


def test_check_quiz_and_entries(api):
    c = HTTP.post(f"{api}/v1/check", json={"term": "기준금리", "answer": "중앙은행이 정하는 정책금리"}).json()
    assert c["verdict"] in ("correct", "partial", "incorrect") and c["reference"]["id"] == "t03"
    q = HTTP.get(f"{api}/v1/quiz", params={"n": 3, "seed": 7}).json()
    assert q["seed"] == 7 and len(q["questions"]) == 3
    assert HTTP.get(f"{api}/v1/quiz", params={"n": 3, "seed": 7}).json() == q  # same seed, same quiz
    e = HTTP.get(f"{api}/v1/entries/t03").json()
    assert e["term"] == "기준금리" and "정책금리" in e["aliases"]


@pytest.mark.parametrize("method,path,kw,status,words", [
    ("GET", "/v1/search", {"params": {"q": "   "}}, 400, "blank"),
    ("GET", "/v1/search", {"params": {"q": "금리" * 600}}, 400, "longer than 1000"),
    ("GET", "/v1/search", {"params": {"q": "금리", "k": 0}}, 422, "k"),
    ("GET", "/v1/search", {"params": {"q": "금리", "k": "many"}}, 422, "k"),
    ("GET", "/v1/search", {}, 422, "q"),
    ("GET", "/v1/entries/no-such-id", {}, 404, "no-such-id"),
    ("GET", "/v1/quiz", {"params": {"n": 0}}, 422, "n"),
    ("GET", "/v1/quiz", {"params": {"category": "우주"}}, 400, "우주"),
    ("POST", "/v1/ask", {"json": {"question": ""}}, 400, "blank"),
    ("POST", "/v1/ask", {"json": {"question": "금리", "k": 99}}, 422, "k"),
    ("POST", "/v1/ask", {"json": {"question": "금리", "generator": "qlora"}}, 400, "extractive"),
    ("POST", "/v1/ask", {"json": {"q": "금리"}}, 422, "question"),
    ("POST", "/v1/ask", {"json": ["금리"]}, 422, "JSON object"),
    ("POST", "/v1/ask", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "JSON"),
    ("POST", "/v1/ask", {"content": b'{"question": "\\ud800"}', "headers": {"content-type": "application/json"}},
     400, "surrogate"),
    ("POST", "/v1/check", {"json": {"answer": "금리"}}, 400, "term"),
    ("POST", "/v1/check", {"json": {"answer": "금리", "term": "없는용어"}}, 400, "없는용어"),
    ("GET", "/v1/nothing-here", {}, 404, "Not Found"),
])
def test_bad_input_is_a_4xx_json_error(api, method, path, kw, status, words):
    assert words in _error(HTTP.request(method, f"{api}{path}", **kw), status)


def test_concurrent_clients_get_consistent_answers(api):
    questions = ["기준금리가 뭐야?", "인플레이션이란?", "환율", "GDP", "예금자보호제도", "디플레이션"] * 6

    def one(q: str):
        r = HTTP.post(f"{api}/v1/ask", json={"question": q, "k": 3})
        s = HTTP.get(f"{api}/v1/search", params={"q": q, "k": 3})
        return q, r.status_code, r.json()["answer"], s.status_code, [h["id"] for h in s.json()["hits"]]

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, questions))
    assert all(r[1] == 200 and r[3] == 200 for r in results)
    for q in set(questions):  # the same question gets the same answer whichever thread served it
        assert len({(r[2], tuple(r[4])) for r in results if r[0] == q}) == 1


def test_server_generator_behind_finterm_serve(small_index, tmp_path):
    """`finterm serve --generator server` whose upstream is gone: /v1/ask is a 502 with one line."""
    port = free_port()
    upstream = f"http://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "finterm.cli", "serve", "--index", str(small_index), "--port", str(port),
           "--generator", "server", "--server-url", upstream, "--server-model", "m"]
    import subprocess

    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "FINTERM_HOME": str(tmp_path)})
    assert proc.returncode == 1 and "cannot reach the generation server" in proc.stderr  # fails before serving
    assert proc.stderr.strip().count("\n") == 0


def test_qlora_behind_finterm_serve_answers_every_ask_with_the_model(small_index, tmp_path):
    """`finterm serve --generator qlora` (the tiny 4-bit model in process, one lock), alone and with 8
    clients at once: every ask is the model's own answer, says how many tokens it wrote, and is the same
    answer whether it waited for the lock or not (greedy)."""
    from tiny_qlora import SUPPORTED, build_tiny_qlora

    _, adapter = build_tiny_qlora(tmp_path / "tiny")
    port = free_port()
    cmd = [sys.executable, "-m", "finterm.cli", "serve", "--index", str(small_index), "--port", str(port),
           "--generator", "qlora", "--adapter", str(adapter), "--greedy", "--max-new-tokens", "48"]
    questions = ["기준금리가 뭐야?", "인플레이션이란?", "환율은 어떻게 정해져?", "기회비용이란?"]
    api = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=None)  # the asks queue for one model: no deadline on a shared machine
    with running(cmd, f"{api}/health", tmp_path / "serve.log", env={"FINTERM_HOME": str(tmp_path / "home"),
                                                                     "HF_HUB_OFFLINE": "1"}, timeout=600):
        assert client.get(f"{api}/health").json()["default_generator"] == "qlora"
        alone = {q: client.post(f"{api}/v1/ask", json={"question": q}).json() for q in questions}
        with ThreadPoolExecutor(max_workers=8) as pool:
            crowd = list(pool.map(lambda q: (q, client.post(f"{api}/v1/ask", json={"question": q})), questions * 4))
    for a in alone.values():
        assert a["generator"] == "qlora" and not a["abstained"] and "partial" not in a
        assert a["sentences"][0]["text"] == SUPPORTED  # what the tiny model always says first
        assert 0 < a["model"]["new_tokens"] < 48  # it ends its answer itself, before max_new_tokens
    for q, r in crowd:
        assert r.status_code == 200 and r.json() == alone[q]


@pytest.mark.parametrize("given", [None, "ACTIVE"])
def test_serve_lets_openmp_threads_sleep_unless_told_otherwise(given, tmp_path):
    """`finterm serve` sets OMP_WAIT_POLICY=PASSIVE before anything loads torch (spinning OpenMP threads
    made one-at-a-time answers slow on shared cores); a value the user set is kept."""
    import os
    import subprocess

    code = ("import os, sys; import finterm.cli, finterm.api, finterm.serve, uvicorn; "
            "assert 'torch' not in sys.modules, 'torch is loaded before finterm serve can set OMP_WAIT_POLICY'; "
            "print(finterm.serve.passive_openmp(), os.environ['OMP_WAIT_POLICY']); import torch; "
            "print(finterm.serve.passive_openmp())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", given or "PASSIVE", "False"]
