"""A randomly initialised model of the seed's shape, for measuring speed and memory without a download.

    python bench/real_shape.py OUT                    # polyglot-ko-5.8b's shape (build on a GPU: ~12 GB on disk)
    python bench/real_shape.py OUT --layers 2 --hidden 256 --heads 4   # a small check of the same path

Writes OUT/base (GPTNeoX config of EleutherAI/polyglot-ko-5.8b: 28 layers, d_model 4096, d_ff 16384,
16 heads of 256, rotary on 64 dims, context 2048, vocab 30080, fp16 weights; 5,885,059,072
parameters, checked) with a byte-level BPE tokenizer of 30,000 tokens trained here on the bundled
glossary, and OUT/adapter: a LoRA of the seed adapter's shape (r 16, alpha 8, query_key_value) with
random non-zero weights, whose adapter_config names OUT/base. The weights mean nothing, so what it
writes is noise, but the 4-bit loader, the LoRA layers, the KV cache and the training step do the
same work as with the real model. The tokenizer is not polyglot's: prompt lengths in tokens are
close, not equal (bench/generate.py and bench/train.py print them). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "index" / "data" / "glossary.jsonl"
# EleutherAI/polyglot-ko-5.8b's model card: n_parameters 5,885,059,072, 28 layers, d_model 4096,
# d_ff 16,384, 16 heads (d_head 256), n_ctx 2,048, vocab 30,003 / 30,080, RoPE on 64 dimensions.
POLYGLOT_5_8B = {"vocab_size": 30080, "hidden_size": 4096, "num_hidden_layers": 28, "num_attention_heads": 16,
                 "intermediate_size": 16384, "rotary_pct": 0.25, "max_position_embeddings": 2048,
                 "use_parallel_residual": True, "tie_word_embeddings": False, "layer_norm_eps": 1e-5}
POLYGLOT_5_8B_PARAMETERS = 5_885_059_072


def glossary_texts() -> list[str]:
    rows = [json.loads(line) for line in GLOSSARY.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [f"{r['term']}: {r['definition']}" for r in rows]


def build_tokenizer(folder: Path, vocab: int = 30000):
    """A byte-level BPE trained on the bundled glossary and the prompt's instruction."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from finterm.rag.prompt import INSTRUCTION, format_prompt

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = glossary_texts() + [INSTRUCTION, format_prompt("기준금리가 뭐야?", [])]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.model_max_length = POLYGLOT_5_8B["max_position_embeddings"]
    tok.save_pretrained(folder)
    return tok


def build(out: Path, *, layers: int | None = None, hidden: int | None = None, heads: int | None = None,
          device: str = "cuda", seed: int = 0) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    out = Path(out).resolve()
    base_dir, adapter_dir = out / "base", out / "adapter"
    t0 = time.perf_counter()
    tok = build_tokenizer(base_dir)
    shape = dict(POLYGLOT_5_8B)
    if layers:
        shape["num_hidden_layers"] = layers
    if hidden:
        shape["hidden_size"], shape["intermediate_size"] = hidden, 4 * hidden
    if heads:
        shape["num_attention_heads"] = heads
    eos = tok.eos_token_id
    config = GPTNeoXConfig(**shape, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(seed)
    with torch.device(device):
        model = GPTNeoXForCausalLM(config).to(torch.float16)
    params = sum(p.numel() for p in model.parameters())
    if not (layers or hidden or heads) and params != POLYGLOT_5_8B_PARAMETERS:
        raise SystemExit(f"shape mismatch: {params:,} parameters, the model card says {POLYGLOT_5_8B_PARAMETERS:,}")
    model.save_pretrained(base_dir)
    built_s = time.perf_counter() - t0
    lora = get_peft_model(model, LoraConfig(r=16, lora_alpha=8, lora_dropout=0.05, target_modules=["query_key_value"],
                                            task_type="CAUSAL_LM", init_lora_weights=False))  # random A and B
    lora.save_pretrained(adapter_dir)
    cfg_path = adapter_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = str(base_dir)
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    del model, lora
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    disk = sum(f.stat().st_size for f in base_dir.iterdir())
    return {"base": str(base_dir), "adapter": str(adapter_dir), "parameters": params,
            "layers": shape["num_hidden_layers"], "hidden": shape["hidden_size"],
            "base_disk_gb": round(disk / 1e9, 2), "build_s": round(built_s, 1),
            "seconds": round(time.perf_counter() - t0, 1)}


SMALL = ("--layers", "2", "--hidden", "256", "--heads", "4")  # `--shape small`: the same path on a CPU


def build_in_child(out: Path, shape: str) -> dict:
    """Build `shape` ("polyglot-ko-5.8b" or "small") into `out` in a child process, so the process that
    measures starts clean; returns build()'s report."""
    import subprocess
    import sys

    extra = list(SMALL) if shape == "small" else []
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(out), *extra],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, help="fewer layers (a small check; default: the real 28)")
    ap.add_argument("--hidden", type=int, help="another d_model (d_ff = 4 d_model)")
    ap.add_argument("--heads", type=int)
    ap.add_argument("--device", default=None, help="where to initialise (default: cuda if there is one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(json.dumps(build(args.out, layers=args.layers, hidden=args.hidden, heads=args.heads, device=device,
                           seed=args.seed)))


if __name__ == "__main__":
    main()
