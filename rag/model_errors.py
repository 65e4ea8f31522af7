"""Loading and running a hub model fails in many ways; each becomes one `FintermError` line.

Missing packages, a model that is not cached while offline, an adapter that does not fit its
base, and running out of GPU memory are the ones a user meets; each message says what to do.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from finterm import FintermError

MEMORY_HINT = "the 4-bit 5.8B model needs roughly 4-5 GB of free GPU memory (an estimate)"


@lru_cache(maxsize=1)
def check_dependencies() -> None:
    """Fail with one line when peft / bitsandbytes / accelerate are not installed or do not load."""
    missing = [name for name in ("peft", "bitsandbytes", "accelerate") if find_spec(name) is None]
    if missing:
        raise FintermError(f"the qlora generator needs {', '.join(missing)}; "
                           f"`pip install {' '.join(missing)}` or use --generator extractive")
    # Without the optional `kernels` package the CPU backend logs a warning on import; it is harmless.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        import bitsandbytes  # noqa: F401
    except Exception as exc:  # a broken native library shows up here, in many exception types
        raise FintermError(f"bitsandbytes is installed but does not load ({_short(exc)}); "
                           "reinstall it with `pip install -U bitsandbytes`") from None


def hf_offline() -> bool:
    """Whether the Hugging Face libraries were told not to touch the network."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def looks_like_path(name: str) -> bool:
    """A folder rather than a hub id: starts with / . ~, has a backslash or two slashes, or exists."""
    s = str(name)
    return s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") > 1 or Path(s).expanduser().exists()


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    return f"{type(exc).__name__}: {first[:160]}" if first else type(exc).__name__


def is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def translate(exc: BaseException, name: str, what: str, base: str | None = None) -> FintermError:
    """The one-line error for `exc`, raised while working on `what` ("base model", "adapter", …) `name`."""
    if is_oom(exc):
        return FintermError(f"out of GPU memory during {what} ({name}); {MEMORY_HINT}: close other GPU "
                            "programs, lower --max-new-tokens, or pass a smaller --base-model")
    text = str(exc)
    if what == "adapter" and base and (isinstance(exc, RuntimeError | KeyError) or "size mismatch" in text
                                       or "not found in the base model" in text or "Target module" in text):
        return FintermError(f"adapter {name} does not fit base model {base} ({_short(exc)}); pass the base "
                            "it was trained on with --base-model (its adapter_config.json names it)")
    local = looks_like_path(name)
    if what == "generation":
        return FintermError(f"generation with {name} failed ({_short(exc)})")
    if local:
        return FintermError(f"cannot load the {what} from {name} ({_short(exc)}); check that the folder "
                            "holds a model saved with save_pretrained")
    if hf_offline():
        return FintermError(f"{what} {name} is not in the local Hugging Face cache and HF_HUB_OFFLINE is "
                            "set; run once online (without HF_HUB_OFFLINE) to cache it, or pass a local "
                            "folder with --adapter / --base-model")
    return FintermError(f"cannot get {what} {name} from the Hugging Face hub ({_short(exc)}); check the id "
                        "and the network, or pass a local folder with --adapter / --base-model")


@contextmanager
def friendly_errors(name: str, what: str, *, base: str | None = None):
    """Turn any failure inside the block into `translate(...)`; FintermErrors pass through."""
    try:
        yield
    except FintermError:
        raise
    except Exception as exc:
        raise translate(exc, name, what, base) from None
