"""How fast is the qlora generator? Load time, time to first token, tokens/s, peak memory.

    .venv/bin/python bench/generate.py --tiny                         # the tests' tiny model, built in tmp
    .venv/bin/python bench/generate.py                                # the seed's adapter (GPU advised)
    .venv/bin/python bench/generate.py --adapter DIR [--base-model DIR] --runs 3 --new-tokens 128
    python bench/generate.py --shape polyglot-ko-5.8b --definitions 5 --new-tokens 256   # GPU, no download

`--shape polyglot-ko-5.8b` builds (bench/real_shape.py, in a child process so the measured process
starts clean) a randomly initialised model of the seed's exact shape with a random LoRA of the
adapter's shape and measures that: the numbers are the real model's, the words are noise.
`--shape small` is a 2-layer model of the same kind, to check the path on a CPU.
`--definitions N` puts N bundled glossary definitions (those whose name holds 금리) in the prompt,
as retrieval does, instead of the one short definition.

The model is loaded through `QLoRAGenerator` (the code `finterm ask --generator qlora` runs), then
the same prompt is generated `--runs` times, greedy, with a token-timing streamer. With `--fixed`
(the default) EOS is ignored so every run writes exactly `--new-tokens` tokens. Peak memory is
`torch.cuda.max_memory_allocated` on a GPU and the process's peak RSS on the CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
PROMPT_QUESTION = "기준금리가 뭐야?"
PROMPT_DEFINITION = ("한국은행 금융통화위원회가 정하는 정책금리로, 금융기관 간 거래와 시장금리의 "
                     "기준이 된다. 올리면 시중 금리가 따라 오르고 대출과 소비가 줄어드는 경향이 있다.")


class TokenClock:
    """A streamer that only notes when each generated token arrives (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def peak_memory_mb(device: str) -> tuple[float, str]:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20, "CUDA max allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak RSS (process)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", default=None, help="adapter id or folder (default: the seed's)")
    ap.add_argument("--base-model", default=None, help="base id or folder (default: from the adapter)")
    ap.add_argument("--tiny", action="store_true", help="build and use the tests' tiny model")
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--eos", action="store_true", help="stop at EOS (default: always write --new-tokens)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shape", choices=["polyglot-ko-5.8b", "small"],
                    help="a random model of this shape, built here (no download)")
    ap.add_argument("--definitions", type=int, default=1, help="definitions in the prompt (default 1)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import torch

    from finterm.index.entry import Entry
    from finterm.rag.generate import GeneratorConfig, QLoRAGenerator
    from finterm.rag.prompt import format_prompt

    import_s = time.perf_counter() - t0
    adapter = args.adapter
    if args.tiny:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from tiny_qlora import build_tiny_qlora

        t = time.perf_counter()
        tmp = tempfile.TemporaryDirectory(prefix="finterm-tiny-")  # removed when the process ends
        _, adapter_dir = build_tiny_qlora(Path(tmp.name))
        adapter = str(adapter_dir)
        print(f"built the tiny model in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    shape = None
    if args.shape:
        from real_shape import build_in_child

        tmp = tempfile.TemporaryDirectory(prefix="finterm-shape-")  # removed when the process ends
        shape = build_in_child(Path(tmp.name), args.shape)
        adapter = shape["adapter"]
        print(f"built a random {args.shape} model in {shape['seconds']} s", file=sys.stderr)
    config = GeneratorConfig(do_sample=False, max_new_tokens=args.new_tokens, device=args.device)
    config = config.override(adapter=adapter, base_model=args.base_model)
    gen = QLoRAGenerator(config)

    t = time.perf_counter()
    loaded = gen.loaded
    load_s = time.perf_counter() - t
    entries = [Entry(id="b1", term="기준금리", definition=PROMPT_DEFINITION, source="bench")]
    if args.definitions > 1:
        rows = [json.loads(line) for line in (HERE.parent / "index" / "data" / "glossary.jsonl")
                .read_text(encoding="utf-8").splitlines() if line.strip()]
        entries = [Entry(id=r["id"], term=r["term"], definition=r["definition"], source="bench")
                   for r in rows if "금리" in r["term"]][:args.definitions]
    prompt = format_prompt(PROMPT_QUESTION, entries)
    enc = gen.encode(prompt)
    kwargs = gen.generation_kwargs()
    if not args.eos:
        kwargs["min_new_tokens"] = args.new_tokens

    runs = []
    for _ in range(args.runs + 1):  # the first run warms up kernels and caches; not counted
        clock = TokenClock()
        if loaded.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            loaded.model.generate(**enc, **kwargs, streamer=clock)
        end = time.perf_counter()
        n = len(clock.times)
        ttft = clock.times[0] - start if n else float("nan")
        decode = (n - 1) / (clock.times[-1] - clock.times[0]) if n > 1 else float("nan")
        runs.append({"tokens": n, "ttft_s": ttft, "tokens_per_s": n / (end - start),
                     "decode_tokens_per_s": decode})
    runs = runs[1:]
    mem, mem_kind = peak_memory_mb(loaded.device)
    footprint = loaded.model.get_memory_footprint() / 2**20
    report = {
        "device": loaded.device, "base": loaded.base, "adapter": loaded.adapter, "quantization": "nf4",
        "prompt_tokens": int(enc["input_ids"].shape[1]), "context": loaded.context_length,
        "import_s": round(import_s, 2), "load_s": round(load_s, 2),
        "ttft_ms": round(1000 * statistics.median(r["ttft_s"] for r in runs), 1),
        "tokens": runs[0]["tokens"],
        "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in runs), 1),
        "decode_tokens_per_s": round(statistics.median(r["decode_tokens_per_s"] for r in runs), 1),
        "peak_memory_mb": round(mem, 1), "peak_memory_kind": mem_kind,
        "model_footprint_mb": round(footprint, 2),
        "runs": args.runs, "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    if shape:
        report["shape"] = {"name": args.shape, **{k: shape[k] for k in ("parameters", "layers", "hidden",
                                                                        "base_disk_gb", "seconds")}}
    if loaded.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(0)
        report["peak_reserved_mb"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for k, v in report.items():
        print(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
