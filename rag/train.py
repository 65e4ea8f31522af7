"""`finterm train`: continue the seed's QLoRA training on grounded, cited answers.

    examples, counts = build_examples(retriever)                 # rag/train_data.py
    result = train(examples, TrainConfig(out="my-adapter"), counts=counts)

The seed's recipe is the default: the base in 4-bit NF4 with double quantisation (bf16 compute),
LoRA r=16, alpha=8, dropout 0.05 on `query_key_value`, learning rate 3e-4, `paged_adamw_8bit`;
training continues the seed's own adapter unless `adapter=None` starts a new one. The loss is on
the answer only (prompt labels -100, EOS appended), so the model learns to answer, not to repeat
prompts. A plain loop rather than a trainer framework: it is short, and Ctrl-C, checkpoints and
one-line errors stay in view. The output folder holds a peft adapter and `training.json`.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

from finterm import FintermError, __version__
from finterm.rag.generate import DEFAULT_ADAPTER, resolve_base
from finterm.rag.model_errors import check_dependencies, friendly_errors, is_oom

FORMAT = "finterm-training/1"
LARGE_MODEL = 1_000_000_000  # parameters; above this, training on a CPU needs --cpu-ok
OPTIMIZERS = ("paged_adamw_8bit", "adamw_torch")
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; the defaults are the seed's recipe."""

    out: str
    adapter: str | None = DEFAULT_ADAPTER  # continue this adapter; None: a new LoRA on base_model
    base_model: str | None = None  # default: the adapter's base
    lr: float = 3e-4
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs
    batch_size: int = 4
    grad_accum: int = 4
    r: int = 16
    alpha: int = 8
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("query_key_value",)
    optim: str = "paged_adamw_8bit"
    max_length: int | None = None  # default: the model's context; longer examples are skipped
    save_steps: int = 200
    gradient_checkpointing: bool = True
    seed: int = 0
    device: str = "auto"
    cpu_ok: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        checks = [(self.lr > 0, f"learning rate of {self.lr} must be above 0"),
                  (self.epochs > 0, f"epochs of {self.epochs} must be above 0"),
                  (self.max_steps is None or self.max_steps >= 1, f"max steps of {self.max_steps} must be 1 or more"),
                  (self.batch_size >= 1, f"batch size of {self.batch_size} must be 1 or more"),
                  (self.grad_accum >= 1, f"gradient accumulation of {self.grad_accum} must be 1 or more"),
                  (self.r >= 1 and self.alpha > 0, f"LoRA r {self.r} / alpha {self.alpha} must be positive"),
                  (0 <= self.dropout < 1, f"dropout of {self.dropout} must be in [0, 1)"),
                  (self.optim in OPTIMIZERS, f"optimizer {self.optim!r} is unknown; use {' or '.join(OPTIMIZERS)}"),
                  (self.save_steps >= 1, f"save steps of {self.save_steps} must be 1 or more"),
                  (self.device in ("auto", "cuda", "cpu"), f"device {self.device!r} is unknown; use auto, cuda or cpu"),
                  (self.max_length is None or self.max_length >= 16, f"max length of {self.max_length} is too short")]
        for ok, msg in checks:
            if not ok:
                raise FintermError(msg)
        if self.adapter is None and not self.base_model:
            raise FintermError("a new adapter needs a base model; pass --base-model ID|FOLDER (or --adapter to "
                               "continue one)")


class TrainResult(NamedTuple):
    steps: int
    examples: int
    loss_first: float
    loss_last: float
    out: str
    interrupted: bool
    seconds: float

    def to_json(self) -> dict:
        return {"steps": self.steps, "examples": self.examples, "loss_first": round(self.loss_first, 4),
                "loss_last": round(self.loss_last, 4), "out": self.out}


def estimate_parameters(cfg) -> int:
    """Parameters of a GPT-NeoX-like model from its config (attention 4h², MLP 2·h·inter, embeddings)."""
    h, layers = cfg.hidden_size, cfg.num_hidden_layers
    inter = getattr(cfg, "intermediate_size", None) or 4 * h
    return layers * (4 * h * h + 2 * h * inter) + 2 * cfg.vocab_size * h


def _base_for(config: TrainConfig) -> str:
    if config.adapter is None:
        return config.base_model
    trained_on = resolve_base(config.adapter)
    if config.base_model and Path(config.base_model).name != Path(trained_on).name:
        raise FintermError(f"adapter {config.adapter} was trained on {trained_on}, not {config.base_model}; drop "
                           "--base-model, or pass --adapter none to start a new adapter on that base")
    return config.base_model or trained_on


def _device(config: TrainConfig, base: str, log) -> str:
    import torch
    from transformers import AutoConfig

    if config.device != "cpu" and torch.cuda.is_available():
        return "cuda:0"
    if config.device == "cuda":
        raise FintermError("device 'cuda' was asked for but torch sees no CUDA GPU; use a CUDA build of torch "
                           "on a machine with an NVIDIA GPU")
    with friendly_errors(base, "base model"):
        n = estimate_parameters(AutoConfig.from_pretrained(base, trust_remote_code=False))
    if n > LARGE_MODEL and not config.cpu_ok:
        flops = 6 * n * config.batch_size * config.grad_accum * 512
        raise FintermError(f"no CUDA GPU, and {base} has about {n / 1e9:.1f}B parameters: one step of "
                           f"{config.batch_size}x{config.grad_accum} examples is ~{flops:.0e} operations, hours "
                           "on a CPU (an estimate); train on a GPU, or pass --cpu-ok to run here anyway")
    log(f"finterm: no CUDA GPU; training {base} (~{n / 1e6:.1f}M parameters) in 4-bit on the CPU, slowly")
    return "cpu"


def _prepare_out(config: TrainConfig, *, create: bool = True) -> Path:
    """The output folder, checked (a file, or a folder holding something else, is refused) and then,
    with `create`, emptied (--overwrite) and made."""
    out = Path(config.out).expanduser()
    if out.exists() and not out.is_dir():
        raise FintermError(f"--out {out} is a file; give a folder for the adapter")
    if out.is_dir() and any(out.iterdir()):
        if not config.overwrite:
            raise FintermError(f"--out {out} is not empty; give a new folder, or --overwrite to replace it")
        if not (out / "training.json").is_file():
            raise FintermError(f"--out {out} holds files that are not a finterm adapter; give a new folder")
        if create:
            shutil.rmtree(out)
    if not create:
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out


def encode(examples, tokenizer, max_length: int) -> tuple[list[tuple[list[int], list[int]]], int]:
    """(input ids, labels) per example: prompt labelled -100, then the answer and EOS; and how many were
    skipped as longer than `max_length`. Prompt and answer are tokenised apart, as at inference."""
    eos, rows, skipped = tokenizer.eos_token_id, [], 0
    for e in examples:
        p = tokenizer(e.prompt, return_token_type_ids=False)["input_ids"]
        a = tokenizer(" " + e.answer, add_special_tokens=False)["input_ids"] + [eos]
        if len(p) + len(a) > max_length:
            skipped += 1
            continue
        rows.append((p + a, [-100] * len(p) + a))
    return rows, skipped


def _batches(rows, batch_size: int, pad: int, rng: random.Random):
    """Endless padded batches, reshuffled every pass."""
    import torch

    while True:
        order = list(range(len(rows)))
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            chunk = [rows[j] for j in order[i:i + batch_size]]
            width = max(len(ids) for ids, _ in chunk)
            yield {"input_ids": torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in chunk]),
                   "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chunk]),
                   "labels": torch.tensor([y + [-100] * (width - len(y)) for _, y in chunk])}


def load_for_training(base: str, config: TrainConfig, device: str):
    """The 4-bit base prepared for k-bit training with the adapter (continued or new), and its tokenizer."""
    import warnings

    import torch
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    with friendly_errors(base, "base model"):
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            base, quantization_config=quant, dtype=torch.bfloat16, trust_remote_code=False,
            device_map={"": 0} if device.startswith("cuda") else {"": "cpu"})
    model.config.use_cache = False  # no KV cache while training (and gradient checkpointing needs it off)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    with friendly_errors(config.adapter or base, "adapter", base=base), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        if config.adapter is not None:
            model = PeftModel.from_pretrained(model, config.adapter, is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(
                r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, task_type="CAUSAL_LM",
                target_modules=list(config.target_modules)))
    return model, tokenizer


def _optimizer(params, config: TrainConfig):
    import torch

    if config.optim == "adamw_torch":
        return torch.optim.AdamW(params, lr=config.lr)
    import logging
    import warnings

    import bitsandbytes as bnb

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    with warnings.catch_warnings():  # on a CPU, paging falls back to plain 8-bit AdamW: expected, not news
        warnings.simplefilter("ignore")
        return bnb.optim.PagedAdamW8bit(params, lr=config.lr)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"finterm": __version__}
    for name in ("torch", "transformers", "peft", "bitsandbytes"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _save(model, folder: Path, record: dict) -> None:
    model.save_pretrained(folder)
    (folder / "training.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def _ends(losses: list[float], per_pass: int) -> tuple[float, float]:
    """Mean loss over the first and the last pass through the data when the run holds two passes or more:
    the same examples at both ends, so the two numbers differ by what was learnt, not by which batches
    happened to come first and last (single batches differ by several nats on a tiny model). Shorter
    runs: the first and the last tenth of the steps (1 to 20 steps each), a noisier comparison."""
    w = per_pass if 1 <= per_pass and 2 * per_pass <= len(losses) else min(20, max(1, len(losses) // 10))
    return sum(losses[:w]) / w, sum(losses[-w:]) / w


def train(examples, config: TrainConfig, *, counts: dict | None = None, progress: bool = True,
          log=lambda m: print(m, file=sys.stderr)) -> TrainResult:
    """Train on `examples` (rag.train_data.Example) and write the adapter and training.json to `config.out`.

    Ctrl-C stops after the current step and saves what was learnt (`interrupted` is then True).
    """
    import torch
    from tqdm import tqdm

    if not examples:
        raise FintermError("no training examples: the index and question files gave none; check --index and "
                           "--questions (their terms must be in the index)")
    check_dependencies()
    _prepare_out(config, create=False)  # a taken folder fails before any model work
    base = _base_for(config)
    device = _device(config, base, log)
    out = _prepare_out(config)
    torch.manual_seed(config.seed)
    model, tokenizer = load_for_training(base, config, device)
    context = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
    rows, too_long = encode(examples, tokenizer, min(config.max_length or context, context))
    if not rows:
        raise FintermError(f"all {len(examples)} examples are longer than {config.max_length or context} tokens; "
                           "raise --max-length or use fewer definitions (-k)")
    effective = config.batch_size * config.grad_accum
    steps = config.max_steps or max(1, math.ceil(config.epochs * len(rows) / effective))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = _batches(rows, config.batch_size, pad, random.Random(config.seed))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(params, config)
    record = {"format": FORMAT, "base_model": base, "adapter_from": config.adapter, "device": device,
              "data": {**(counts or {}), "encoded": len(rows), "skipped_too_long": too_long},
              "settings": {**asdict(replace(config, out=str(out))), "effective_batch": effective, "steps": steps},
              "trainable_parameters": sum(p.numel() for p in params), "versions": _versions()}
    losses: list[float] = []
    interrupted, t0 = False, time.perf_counter()
    model.train()
    bar = tqdm(total=steps, desc="training", unit="step", disable=not progress, file=sys.stderr)
    try:
        for step in range(1, steps + 1):
            total = 0.0
            for _ in range(config.grad_accum):
                batch = {k: v.to(model.device) for k, v in next(batches).items()}
                loss = model(**batch).loss / config.grad_accum
                loss.backward()
                total += loss.item()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(total)
            bar.update(1)
            bar.set_postfix(loss=f"{total:.3f}")
            if step % config.save_steps == 0 and step < steps:
                _checkpoint(model, out, step, {**record, "loss": losses})
    except KeyboardInterrupt:
        interrupted = True
        log(f"\nfinterm: interrupted after {len(losses)} steps; saving the adapter to {out}")
    except Exception as exc:
        if is_oom(exc):
            raise FintermError(
                f"out of memory at batch size {config.batch_size}; try --batch-size {max(1, config.batch_size // 2)}"
                f" --grad-accum {config.grad_accum * 2} (the same effective batch) or a smaller --max-length"
            ) from None
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    per_pass = math.ceil(len(rows) / effective)  # steps that see every example once
    first, last = _ends(losses, per_pass) if losses else (math.nan, math.nan)
    if device.startswith("cuda"):
        record["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated()
    record.update(loss=[round(x, 5) for x in losses], steps_done=len(losses), loss_first=first, loss_last=last,
                  interrupted=interrupted, seconds=round(seconds, 2))
    model.eval()
    _save(model, out, record)
    return TrainResult(len(losses), len(rows), first, last, str(out), interrupted, seconds)


def _checkpoint(model, out: Path, step: int, record: dict) -> None:
    _save(model, out / f"checkpoint-{step}", {**record, "steps_done": step})
    old = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    for p in old[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(p, ignore_errors=True)
