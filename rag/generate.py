"""The `qlora` generator: the seed's 4-bit base model with its LoRA adapter, loaded once per process.

    from finterm.rag.generate import GeneratorConfig, QLoRAGenerator
    gen = QLoRAGenerator(GeneratorConfig(adapter="SGEcon/polyglot-ko-5.8b_fin_v4", do_sample=False))
    text = gen.generate("### 질문: 기준금리가 뭐야?\n\n### 답변:")   # the continuation only
    for piece in gen.stream(prompt): ...                              # the same text, as it comes

The base is found from the adapter's `adapter_config.json` (`base_model_name_or_path`) unless
given. It is loaded with bitsandbytes NF4, double quantisation and bfloat16 compute, the adapter is
attached with peft, and the model is put in eval mode. No `trust_remote_code`, ever. GPU 0 when
CUDA is there, else the CPU (with a warning: slow). One lock per loaded model keeps two callers
(two Streamlit sessions) from generating on it at the same time.
"""

from __future__ import annotations

import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Protocol

from finterm import FintermError
from finterm.rag.model_errors import check_available, check_dependencies, friendly_errors, looks_like_path

DEFAULT_ADAPTER = "SGEcon/polyglot-ko-5.8b_fin_v4"
QUANTIZATION = "nf4"


class Generator(Protocol):
    """What `grounded_answer` needs from a generator (`QLoRAGenerator` below is the real one)."""

    name: str
    config: GeneratorConfig
    on_text: Callable[[str], None] | None

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def model_info(self) -> dict: ...

    def generate(self, prompt: str) -> str: ...

    def stream(self, prompt: str) -> Iterator[str]: ...


@dataclass(frozen=True)
class GeneratorConfig:
    """Which model, where, and the generation settings (the seed card's by default)."""

    adapter: str = DEFAULT_ADAPTER
    base_model: str | None = None  # default: the adapter's base_model_name_or_path
    max_new_tokens: int = 256
    do_sample: bool = True  # False: greedy, reproducible
    temperature: float = 0.9
    top_p: float = 0.8
    top_k: int = 50
    device: str = "auto"  # "auto" (GPU 0 if CUDA is there), "cuda" or "cpu"

    def __post_init__(self) -> None:
        if not str(self.adapter).strip():
            raise FintermError(f"the adapter is empty; pass a hub id or folder, e.g. {DEFAULT_ADAPTER}")
        if not 1 <= self.max_new_tokens <= 8192:
            raise FintermError(f"max_new_tokens of {self.max_new_tokens} is out of range; use 1 to 8192")
        if not self.temperature > 0:
            raise FintermError(f"temperature of {self.temperature} must be above 0; or use --greedy")
        if not 0 < self.top_p <= 1:
            raise FintermError(f"top_p of {self.top_p} must be in (0, 1]")
        if self.top_k < 0:
            raise FintermError(f"top_k of {self.top_k} must be 0 (off) or more")
        if self.device not in ("auto", "cuda", "cpu"):
            raise FintermError(f"device {self.device!r} is unknown; use auto, cuda or cpu")

    def override(self, **changes) -> GeneratorConfig:
        """A copy with the named fields changed; `None` values are ignored, unknown names rejected."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FintermError(f"unknown generator setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass
class LoadedModel:
    """One base + adapter in memory, shared by every generator that names the same pair."""

    model: object
    tokenizer: object
    base: str
    adapter: str
    device: str
    context_length: int
    load_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: dict[tuple[str, str, str], LoadedModel] = {}  # (base, adapter, device)
_CACHE_LOCK = threading.Lock()


def _key(name: str) -> str:
    """Local folders by absolute path (so ./a and a are one model); hub ids as given."""
    return str(Path(name).expanduser().resolve()) if Path(name).expanduser().exists() else name


def resolve_base(adapter: str, base_model: str | None = None) -> str:
    """The base model for `adapter`: `base_model` if given, else the adapter config's base."""
    if base_model:
        return base_model
    local = Path(adapter).expanduser()
    if local.is_dir():
        cfg_path = local / "adapter_config.json"
        if not cfg_path.is_file():
            raise FintermError(f"{adapter} has no adapter_config.json; pass a LoRA adapter folder (peft)")
        try:
            base = json.loads(cfg_path.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except ValueError:
            raise FintermError(f"{cfg_path} is not valid JSON; re-save the adapter with peft") from None
    else:
        from peft import PeftConfig

        with friendly_errors(adapter, "adapter"):
            base = PeftConfig.from_pretrained(adapter).base_model_name_or_path
    if not base:
        raise FintermError(f"adapter {adapter} does not name its base model (base_model_name_or_path is "
                           "empty); pass --base-model ID|FOLDER")
    return base


def _check_adapter_path(adapter: str) -> None:
    if looks_like_path(adapter) and not Path(adapter).expanduser().exists():
        raise FintermError(f"adapter folder {adapter} does not exist; pass a folder with adapter_config.json "
                           f"or a hub id such as {DEFAULT_ADAPTER}")


@cache  # one warning per process
def _device(wanted: str) -> str:
    import torch

    if wanted in ("auto", "cuda") and torch.cuda.is_available():
        return "cuda:0"
    if wanted == "cuda":
        raise FintermError("device 'cuda' was asked for but torch sees no CUDA GPU; use a CUDA build of "
                           "torch on a machine with an NVIDIA GPU, or device 'auto'")
    if wanted == "auto":
        print("finterm: no CUDA GPU found; the qlora model runs on the CPU and will be slow", file=sys.stderr)
    return "cpu"


def load_model(adapter: str, base_model: str | None = None, device: str = "auto") -> LoadedModel:
    """The 4-bit base with the adapter attached, loaded on first use and shared after that."""
    import time

    _check_adapter_path(adapter)
    check_available(adapter, base_model)  # not cached and no way to fetch it: fail now, not after hub retries
    check_dependencies()
    base = resolve_base(adapter, base_model)
    where = _device(device)
    key = (_key(base), _key(adapter), where)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        t0 = time.perf_counter()
        model, tokenizer = _load(key[0], key[1], where)
        ctx = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
        _CACHE[key] = LoadedModel(model, tokenizer, key[0], key[1], where, ctx, time.perf_counter() - t0)
        return _CACHE[key]


def _load(base: str, adapter: str, device: str):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    device_map = {"": 0} if device.startswith("cuda") else {"": "cpu"}
    with friendly_errors(base, "base model"):
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quant, device_map=device_map,
                                                     dtype=torch.bfloat16, trust_remote_code=False)
    with friendly_errors(adapter, "adapter", base=base), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # peft calls a transformers API due to go
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tokenizer


class QLoRAGenerator:
    """Generate with a loaded base + adapter; the model is loaded on the first call, not before.

    `on_text`, when set, receives the answer as it is generated (see `grounded_answer`).
    """

    name = "qlora"

    def __init__(self, config: GeneratorConfig | None = None, *,
                 on_text: Callable[[str], None] | None = None) -> None:
        self.config = config or GeneratorConfig()
        self.on_text = on_text
        self.generations = 0  # how many times this generator ran the model
        self._loaded: LoadedModel | None = None
        _check_adapter_path(self.config.adapter)  # a typo fails at once, before any retrieval work

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            c = self.config
            self._loaded = load_model(c.adapter, c.base_model, c.device)
        return self._loaded

    @property
    def context_length(self) -> int:
        """The model's context in tokens (max_position_embeddings: 2048 for polyglot-ko)."""
        return self.loaded.context_length

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as the model will see it (the prompt-fitting budget counts these)."""
        return len(self.loaded.tokenizer(text, return_token_type_ids=False)["input_ids"])

    def model_info(self) -> dict:
        m = self.loaded
        return {"base": m.base, "adapter": m.adapter, "quantization": QUANTIZATION, "device": m.device}

    def encode(self, prompt: str) -> dict:
        """Token ids and attention mask of `prompt`, on the model's device (no token type ids)."""
        m = self.loaded
        enc = m.tokenizer(prompt, return_tensors="pt", return_token_type_ids=False)  # as the card does
        return {k: v.to(m.model.device) for k, v in enc.items()}

    def generation_kwargs(self) -> dict:
        """The `model.generate` settings from the config: EOS stop, one sequence, sampling if asked."""
        c, tok = self.config, self.loaded.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        kw = {"max_new_tokens": c.max_new_tokens, "do_sample": c.do_sample, "num_return_sequences": 1,
              "eos_token_id": tok.eos_token_id, "pad_token_id": pad}
        if c.do_sample:
            kw.update(temperature=c.temperature, top_p=c.top_p, top_k=c.top_k)
        return kw

    # Decoding: no special tokens (the card), and no clean-up of spaces, so the streamed pieces
    # join to exactly the text decoded at once.
    _DECODE = {"skip_special_tokens": True, "clean_up_tokenization_spaces": False}

    def generate(self, prompt: str) -> str:
        """The model's continuation of `prompt` (decoded, without the prompt)."""
        import torch

        m = self.loaded
        with m.lock, friendly_errors(m.base, "generation"), torch.inference_mode():
            enc = self.encode(prompt)
            out = m.model.generate(**enc, **self.generation_kwargs())
            self.generations += 1
            return m.tokenizer.decode(out[0][enc["input_ids"].shape[1]:], **self._DECODE)

    def stream(self, prompt: str) -> Iterator[str]:
        """The continuation of `prompt` in pieces, as the model writes it (word by word).

        The model's lock is held until the iterator is exhausted or closed; closing it early
        (a Streamlit rerun) stops the generation at the next token.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        m = self.loaded
        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                stop = cancel.is_set()
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(m.tokenizer, skip_prompt=True, **self._DECODE)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    m.model.generate(**enc, **self.generation_kwargs(), streamer=streamer,
                                     stopping_criteria=StoppingCriteriaList([_Cancelled()]))
            except BaseException as exc:  # re-raised in the caller's thread below
                failure.append(exc)
                streamer.end()

        with m.lock:
            enc = self.encode(prompt)
            thread = threading.Thread(target=work, name="finterm-generate", daemon=True)
            thread.start()
            self.generations += 1
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                cancel.set()
                thread.join()
            if failure:
                with friendly_errors(m.base, "generation"):
                    raise failure[0]


def generator_from_args(args) -> QLoRAGenerator:
    """The generator for `finterm ask --generator qlora …` (fields left out keep the seed's defaults);
    `--generator server` is made by `finterm.rag.server_gen`."""
    if getattr(args, "generator", "qlora") == "server":
        from finterm.rag.server_gen import server_generator_from_args

        return server_generator_from_args(args)
    if args.greedy and any(getattr(args, a, None) is not None for a in ("temperature", "top_p", "top_k")):
        raise FintermError("--greedy does not sample, so --temperature/--top-p/--top-k do nothing; drop one")
    config = GeneratorConfig().override(
        adapter=args.adapter, base_model=args.base_model, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        do_sample=False if args.greedy else None, device=getattr(args, "device", None))
    on_text = None
    if getattr(args, "stream", False):
        out = sys.stderr if getattr(args, "json", False) else sys.stdout  # keep stdout valid JSON

        def on_text(text: str) -> None:
            out.write(text)
            out.flush()
    return QLoRAGenerator(config, on_text=on_text)

