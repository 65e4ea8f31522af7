"""Load on `finterm serve`: 1, 8 and 32 concurrent clients asking questions; throughput, p50/p95 latency.

    .venv/bin/python bench/serve_load.py                    # tiny model on CPU: extractive, server, qlora
    .venv/bin/python bench/serve_load.py --server-url http://127.0.0.1:8000 --server-model fin_v4
                                                            # a real vLLM (GPU): extractive and server

Each setting is a real `finterm serve` process on the test glossary's index, driven over HTTP by
threads (one httpx client each) that POST /v1/ask back to back. Settings:
- extractive: no model, retrieval + composition only;
- server: `finterm serve --generator server` in front of an OpenAI-compatible server; without
  --server-url the tiny model of the tests is built, merged and served with `transformers serve`;
- qlora (tiny model only): the same model in process, 4-bit, behind the generator's one lock.
The last table is server / qlora throughput at each concurrency: what moving generation off the
finterm process buys (on a GPU with vLLM the gap is what batching gives; see README).

Every response is checked: an ask counts as an error unless it is a 200 from the setting's own
generator, not abstained and not partial (so a row never counts answers that skipped the model).
Rows report the model's tokens per answer (`new_tokens`), and the host's load average, since the
cores may be shared. After the levels the first level runs again: if the process got faster or
slower with use (it did, before `finterm serve` stopped OpenMP threads spinning), the two differ.
`transformers serve` gets the same OMP_WAIT_POLICY=PASSIVE that `finterm serve` sets for itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
MINI = ROOT / "tests" / "data" / "mini_glossary.jsonl"
# Every one is answered from the test glossary (none abstains), so every ask reaches the generator.
QUESTIONS = ["기준금리가 뭐야?", "인플레이션이란?", "환율은 어떻게 정해져?", "GDP 설명해줘", "기회비용이란?",
             "디플레이션이 뭐야?", "국채 금리가 오르면?", "통화정책이란?"]
QUIET_OPENMP = {"OMP_WAIT_POLICY": "PASSIVE"}  # what `finterm serve` sets for itself (finterm.serve.passive_openmp)


def problem(status: int, body: dict, generator: str) -> str | None:
    """Why one response is not an answer by `generator` (None when it is)."""
    if status != 200:
        return f"HTTP {status}"
    if body.get("generator") != generator:
        return f"generator {body.get('generator')}"
    if body.get("abstained"):
        return "abstained"
    return "partial" if body.get("partial") else None


def load(api: str, clients: int, requests: int, generator: str) -> dict:
    """`requests` asks spread over `clients` threads; throughput, latency percentiles, checked answers."""
    import httpx

    def one(i: int) -> tuple[float, str | None, int | None]:
        with httpx.Client(timeout=600) as c:
            t0 = time.perf_counter()
            r = c.post(f"{api}/v1/ask", json={"generator": generator, "question": QUESTIONS[i % len(QUESTIONS)]})
            took = time.perf_counter() - t0
        try:
            body = r.json()
        except ValueError:
            body = {}
        return took, problem(r.status_code, body, generator), (body.get("model") or {}).get("new_tokens")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        done = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    lat = sorted(d for d, _, _ in done)
    why = [w for _, w, _ in done if w]
    tokens = [t for _, w, t in done if not w and t is not None]
    return {"clients": clients, "requests": requests, "errors": len(why),
            "error_kinds": {w: why.count(w) for w in sorted(set(why))},
            "rps": round(requests / wall, 2), "p50_s": round(statistics.median(lat), 3),
            "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3),
            "tokens_per_answer": round(statistics.mean(tokens), 1) if tokens else None,
            "load_avg_1min": float(Path("/proc/loadavg").read_text().split()[0])
            if Path("/proc/loadavg").exists() else None}


def finterm_serve(index: Path, home: Path, extra: list[str], log: Path):
    from serving import free_port, running

    port = free_port()
    cmd = [sys.executable, "-m", "finterm.cli", "serve", "--index", str(index), "--port", str(port), *extra]
    return running(cmd, f"http://127.0.0.1:{port}/health", log, env={"FINTERM_HOME": str(home)}, timeout=600), \
        f"http://127.0.0.1:{port}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server-url", help="an OpenAI-compatible server already running (e.g. vLLM); "
                                        "default: build the tiny model and start `transformers serve`")
    p.add_argument("--server-model", help="its model name (default: the one it serves)")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels (default 1,8,32)")
    p.add_argument("--requests", type=int, default=0, help="asks per level (default: 2 per client, at least 16)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--skip", default="", help="comma list of settings to skip: extractive,server,qlora")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    from serving import running, transformers_serve_cmd

    from finterm.api import build

    work = Path(tempfile.mkdtemp(prefix="finterm-load-"))
    home = work / "home"
    index = work / "index"
    import os

    os.environ["FINTERM_HOME"] = str(home)
    build([MINI], index, progress=False, log=lambda m: None)
    levels = [int(c) for c in args.clients.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    gen_flags = ["--greedy", "--max-new-tokens", str(args.max_new_tokens)]
    results: dict[str, list[dict]] = {}

    def run(name: str, extra: list[str], generator: str) -> None:
        ctx, api = finterm_serve(index, home, extra, work / f"{name}.log")
        with ctx:
            load(api, 1, len(QUESTIONS), generator)  # warm up: every question once
            results[name] = []
            for c in levels:
                n = args.requests or max(16, 2 * c)
                results[name].append(load(api, c, n, generator))
                print(name, json.dumps(results[name][-1]), file=sys.stderr)
            again = load(api, levels[0], args.requests or max(16, 2 * levels[0]), generator)
            rechecks[name] = again
            print(name, "again", json.dumps(again), file=sys.stderr)

    rechecks: dict[str, dict] = {}
    if "extractive" not in skip:
        run("extractive", [], "extractive")
    adapter = None
    if not args.server_url:
        from tiny_qlora import build_tiny_qlora

        from finterm.merge import merge

        _, adapter = build_tiny_qlora(work / "tiny")
        merged = merge(str(adapter), work / "merged", log=lambda m: None)
    if "server" not in skip:
        server = ["--generator", "server", *gen_flags] + (["--server-model", args.server_model]
                                                           if args.server_model else [])
        if args.server_url:
            run("server", [*server, "--server-url", args.server_url], "server")
        else:
            from serving import free_port

            port = free_port()
            with running(transformers_serve_cmd(merged, port), f"http://127.0.0.1:{port}/health",
                         work / "tserve.log", env=QUIET_OPENMP, timeout=600):
                run("server", [*server, "--server-url", f"http://127.0.0.1:{port}"], "server")
    if adapter is not None and "qlora" not in skip:
        run("qlora", ["--generator", "qlora", "--adapter", str(adapter), *gen_flags], "qlora")

    print("\n| setting | clients | asks | errors | asks/s | p50 s | p95 s | tokens/answer | load avg |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for r in [*rows, {**rechecks[name], "clients": f"{rechecks[name]['clients']} again"}]:
            print(f"| {name} | {r['clients']} | {r['requests']} | {r['errors']} | {r['rps']} | {r['p50_s']} | "
                  f"{r['p95_s']} | {r['tokens_per_answer'] or '-'} | {r['load_avg_1min']} |")
    if "server" in results and "qlora" in results:
        pairs = zip(results["server"], results["qlora"], strict=True)
        print("\nserver / qlora throughput: " + ", ".join(
            f"{s['clients']} clients {s['rps'] / q['rps']:.2f}x" for s, q in pairs))
    if args.json:
        out = {**results, "again": rechecks, "settings": {
            "max_new_tokens": args.max_new_tokens, "greedy": True, "questions": QUESTIONS,
            "cpu_cores": os.cpu_count(), "server_url": args.server_url or "transformers serve (tiny model)"}}
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
