"""`finterm merge`: base model + LoRA adapter -> one fp16 model folder, for servers that take no adapters.

    finterm merge --adapter SGEcon/polyglot-ko-5.8b_fin_v4 --out ./fin_v4-merged
    vllm serve ./fin_v4-merged --dtype float16 --max-model-len 2048      # no --enable-lora needed
    transformers serve ./fin_v4-merged --device cpu                         # cannot load adapters at all

The base is loaded in full precision (never 4-bit: a merge into quantised weights would round the
LoRA delta away), the adapter attached with peft, `merge_and_unload()` folds it in, and the result is
saved as float16 safetensors with the base's tokenizer and a `finterm_merge.json` saying what went in.
The 5.8B model needs about 12 GB of disk and, while merging, about 24 GB of RAM (fp32 on the CPU).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from finterm import FintermError, __version__

FORMAT = "finterm-merge/1"


def merge(adapter: str, out: str | Path, *, base_model: str | None = None, dtype: str = "float16",
          log=print) -> Path:
    """Merge `adapter` into its base (or `base_model`) and save model + tokenizer to `out`."""
    from finterm.rag.generate import _check_adapter_path, resolve_base
    from finterm.rag.model_errors import check_dependencies, friendly_errors

    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FintermError(f"--out {out} exists and is not an empty folder; pick a new folder")
    if dtype not in ("float16", "bfloat16", "float32"):
        raise FintermError(f"dtype {dtype!r} is unknown; use float16, bfloat16 or float32")
    check_dependencies()  # peft imports bitsandbytes: quiet its CPU warning
    _check_adapter_path(adapter)
    base = resolve_base(adapter, base_model)

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    log(f"merge: loading {base} (full precision, CPU)…")
    with friendly_errors(base, "base model"):
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, trust_remote_code=False)
    log(f"merge: attaching {adapter} and merging…")
    with friendly_errors(adapter, "adapter", base=base), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model = model.to(getattr(torch, dtype))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info = {"format": FORMAT, "base": base, "adapter": adapter, "dtype": dtype, "finterm": __version__,
            "merged_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(time.perf_counter() - t0, 1)}
    (out / "finterm_merge.json").write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    log(f"merge: wrote {out} ({size / 2**30:.2f} GiB, {dtype}) in {info['seconds']} s")
    return out


def cmd_merge(args) -> int:
    import sys

    merge(args.adapter, args.out, base_model=args.base_model, dtype=args.dtype,
          log=lambda m: print(m, file=sys.stderr))
    return 0

