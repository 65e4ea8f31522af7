"""How fast is `finterm train`? Examples built, steps/s, peak memory.

    .venv/bin/python bench/train.py                        # tiny toy model (tests/tiny_train.py), CPU
    .venv/bin/python bench/train.py --examples-only        # only build the real examples from the index
    .venv/bin/python bench/train.py --real --steps 20      # the 5.8B base + the seed's adapter, on a GPU
    .venv/bin/python bench/train.py --estimate             # GPU memory of the 5.8B run, from its config
    finterm train --dump ex.jsonl --limit 400 && python bench/train.py --shape polyglot-ko-5.8b --examples ex.jsonl
                                                           # measured at the 5.8B shape on a GPU, no download

`--shape polyglot-ko-5.8b` trains a new LoRA (r 16, query_key_value) on a randomly initialised base
of the seed's exact shape (bench/real_shape.py; the real prompts from `--examples`, a dump of
`finterm train`, tokenised by a BPE trained on the glossary): steps/s and peak GPU memory are the
real run's, the loss means nothing. `--shape small` checks the same path on a CPU.

Part 1 builds the real training examples (rag/train_data.py) from the bundled index and the
project's non-held-out question sets (`--limit` questions), and reports examples/s and counts.
Part 2 trains through `rag.train.train` (4-bit NF4 QLoRA, the seed's recipe): the tiny toy model
by default, or with `--real` EleutherAI/polyglot-ko-5.8b + SGEcon/polyglot-ko-5.8b_fin_v4 on the
real examples. Peak memory is `torch.cuda.max_memory_allocated` on a GPU, the process's peak RSS
on the CPU. Results print as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))


def build_real(limit: int, index: str | None, seed: int) -> tuple[list, dict, float]:
    from finterm.api import open_retriever
    from finterm.rag.train_data import build_examples

    retriever = open_retriever(index)
    t0 = time.perf_counter()
    examples, counts = build_examples(retriever, limit=limit, seed=seed)
    return examples, counts, time.perf_counter() - t0


# EleutherAI/polyglot-ko-5.8b's shape (its config.json): no download needed for the estimate.
POLYGLOT_5_8B = {"vocab_size": 30080, "hidden_size": 4096, "num_hidden_layers": 28, "intermediate_size": 16384}


def memory_estimate(shape: dict, *, batch: int, seq: int, r: int = 16, gradient_checkpointing: bool = True) -> dict:
    """GPU memory (GiB) of QLoRA training, from the model shape: an estimate, not a measurement.

    Linear weights in NF4 with double quantisation (~0.516 byte/parameter); the embeddings and the
    output layer stay unquantised and `prepare_model_for_kbit_training` casts them to fp32; LoRA on
    query_key_value (fp32 weights and grads, 8-bit Adam: 2 bytes/parameter of state); activations:
    with checkpointing one bf16 hidden state per layer plus one layer's working set (~16 h per
    token) and the fp32 logits twice (logits and their softmax); ~0.75 GiB CUDA context/allocator.
    """
    h, layers, inter, vocab = (shape[k] for k in ("hidden_size", "num_hidden_layers", "intermediate_size",
                                                  "vocab_size"))
    gib, tokens = 2**30, batch * seq
    linear = layers * (4 * h * h + 2 * h * inter)
    lora = layers * r * (h + 3 * h)
    per_layer = tokens * h * 2
    working = tokens * 16 * h * 2 + tokens * inter * 2 * 2
    acts = (layers * per_layer + working) if gradient_checkpointing else layers * (per_layer * 8 + tokens * inter * 4)
    parts = {"base_4bit": linear * 0.516, "embeddings_fp32": 2 * vocab * h * 4, "lora_weights_grads_adam": lora * 10,
             "activations": acts, "logits_fp32": 2 * tokens * vocab * 4, "cuda_context": 0.75 * gib}
    out = {k: round(v / gib, 2) for k, v in parts.items()}
    out["total_gib"] = round(sum(parts.values()) / gib, 1)
    return {"batch": batch, "seq": seq, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true", help="train the real 5.8B base + seed adapter (GPU)")
    ap.add_argument("--examples-only", action="store_true", help="only build the real examples")
    ap.add_argument("--limit", type=int, default=200, help="questions for the real examples (default 200)")
    ap.add_argument("--index", default=None, help="index folder (default: the bundled glossary's)")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps to time (default 30)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--grad-accum", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--estimate", action="store_true", help="print the 5.8B run's GPU memory estimate and stop")
    ap.add_argument("--shape", choices=["polyglot-ko-5.8b", "small"],
                    help="a random base of this shape, built here (needs --examples)")
    ap.add_argument("--examples", help="a `finterm train --dump` file (with --shape)")
    ap.add_argument("--base-model", help="with --shape: a base real_shape.py built before (skips the build)")
    args = ap.parse_args()
    if args.estimate:
        rows = [memory_estimate(POLYGLOT_5_8B, batch=b, seq=s) for b, s in ((1, 1024), (4, 512), (4, 1024), (8, 1024))]
        print(json.dumps({"estimate": "not measured", "model": "polyglot-ko-5.8b QLoRA, r16, checkpointing",
                          "rows": rows}))
        return

    import torch

    from finterm.rag.train import TrainConfig, train

    report: dict = {}
    if args.shape and not args.examples:
        ap.error("--shape needs --examples FILE (write one with `finterm train --dump FILE --limit 400`)")
    if args.shape:
        from real_shape import build_in_child
        from transformers import AutoTokenizer

        from finterm.rag.train_data import load

        examples, counts = load(args.examples)
        tmp = Path(tempfile.mkdtemp(prefix="finterm-bench-shape-"))
        if args.base_model:
            shape = {"base": args.base_model}
        else:
            shape = build_in_child(tmp, args.shape)
            report["shape"] = {"name": args.shape,
                               **{k: shape[k] for k in ("parameters", "layers", "hidden", "seconds")}}
        tok = AutoTokenizer.from_pretrained(shape["base"])
        lengths = sorted(len(tok(e.prompt + " " + e.answer)["input_ids"]) + 1 for e in examples)
        report["examples"] = {**counts, "tokens_median": lengths[len(lengths) // 2], "tokens_max": lengths[-1]}
        out = tmp / "trained"
        config = TrainConfig(out=str(out), adapter=None, base_model=shape["base"], max_steps=args.steps,
                             batch_size=args.batch_size, grad_accum=args.grad_accum, save_steps=10**9,
                             seed=args.seed)
    if args.real or args.examples_only:
        examples, counts, secs = build_real(args.limit, args.index, args.seed)
        report["examples"] = {**counts, "seconds": round(secs, 1),
                              "per_second": round(len(examples) / secs, 1) if secs else None}
        if args.examples_only:
            print(json.dumps(report, ensure_ascii=False))
            return
    if args.real:
        out = Path(tempfile.mkdtemp(prefix="finterm-bench-train-")) / "adapter"
        config = TrainConfig(out=str(out), max_steps=args.steps, batch_size=args.batch_size,
                             grad_accum=args.grad_accum, save_steps=10**9, seed=args.seed)
    elif not args.shape:
        from tiny_train import build_copy_base, toy_entries, toy_examples

        out = Path(tempfile.mkdtemp(prefix="finterm-bench-train-")) / "adapter"
        entries = toy_entries()
        t0 = time.perf_counter()
        base = build_copy_base(out.parent / "base", entries)
        report["tiny_base_seconds"] = round(time.perf_counter() - t0, 1)
        examples = toy_examples(entries, args.steps * args.batch_size * args.grad_accum, refusal_share=0.2,
                                seed=args.seed)
        report["examples"] = {"examples": len(examples), "kind": "toy"}
        config = TrainConfig(out=str(out), adapter=None, base_model=str(base), lr=3e-3, max_steps=args.steps,
                             batch_size=args.batch_size, grad_accum=args.grad_accum, save_steps=10**9,
                             seed=args.seed)
    result = train(examples, config, progress=False, log=lambda m: None)
    rec = json.loads((out / "training.json").read_text(encoding="utf-8"))
    cuda = rec["device"].startswith("cuda")
    report["train"] = {
        "model": (f"random {args.shape} base + new LoRA" if args.shape else "real 5.8B + seed adapter" if args.real
                  else "tiny toy GPT-NeoX (hidden 64, 2 layers)"),
        "device": rec["device"], "steps": result.steps, "effective_batch": args.batch_size * args.grad_accum,
        "seconds": round(result.seconds, 1), "steps_per_s": round(result.steps / result.seconds, 3),
        "loss_first": round(result.loss_first, 3), "loss_last": round(result.loss_last, 3),
        "trainable_parameters": rec["trainable_parameters"],
        "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20 if cuda
                                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_memory_kind": "CUDA max allocated" if cuda else "peak RSS (process)",
        "cpu_count": __import__("os").cpu_count(), "torch": torch.__version__}
    if cuda:
        report["train"]["gpu"] = torch.cuda.get_device_name(0)
        report["train"]["peak_reserved_mb"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
