"""Loading and running a hub model fails in many ways; each becomes one `FintermError` line.

Missing packages, a model that is not cached while offline, an adapter that does not fit its
base, and running out of GPU memory are the ones a user meets; each message says what to do.
"""

from __future__ import annotations

import json
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


# -- before loading: is the model here, or can it be fetched? ------------------------------------------
# Without this, a hub id that is not cached on a machine without network costs ~30 s of hub retries
# before the same error; the local cache (and a folder on disk) answers in milliseconds.

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
MODEL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
PROBE_TIMEOUT_S = 1.0


class ModelNotHere(FintermError):
    """A model that is neither a folder on disk nor in the local Hugging Face cache, and cannot be fetched.

    `what` is "adapter" or "base model", `name` its id or folder, `reason` one of "no folder",
    "offline" (HF_HUB_OFFLINE is set) or "unreachable" (the hub did not answer a quick probe).
    """

    def __init__(self, message: str, *, what: str, name: str, reason: str) -> None:
        super().__init__(message)
        self.what, self.name, self.reason = what, name, reason


def _cached(repo_id: str, filename: str) -> str | None:
    """The local path of `filename` of hub repo `repo_id` if the Hugging Face cache holds it, else None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(repo_id, filename)
    except Exception:  # noqa: BLE001 - an id the hub would reject is simply "not cached"
        return None
    return path if isinstance(path, str) else None


def _cached_weights(repo_id: str, names: tuple[str, ...]) -> bool:
    """Whether one of the weight files `names` (and every shard an index names) is cached."""
    for name in names:
        path = _cached(repo_id, name)
        if path is None:
            continue
        if not name.endswith(".index.json"):
            return True
        try:
            shards = set(json.loads(Path(path).read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError):
            continue
        if all(_cached(repo_id, s) for s in shards):
            return True
    return False


def missing_model(adapter: str, base: str | None = None) -> tuple[str, str] | None:
    """(what, name) of the first part of adapter + base that is neither on disk nor cached, else None.

    Reads only the disk: a folder is checked for its config, a hub id through the local cache. The
    base, when not given, is the one the (local or cached) adapter_config.json names.
    """
    if looks_like_path(adapter):
        folder = Path(adapter).expanduser()
        config = folder / "adapter_config.json"
        if not config.is_file():  # a folder without a config: loading says what is wrong with it
            return None if folder.is_dir() else ("adapter", adapter)
    else:
        config = _cached(adapter, "adapter_config.json")
        if config is None or not _cached_weights(adapter, ADAPTER_WEIGHTS):
            return "adapter", adapter
    if not base:
        try:
            base = json.loads(Path(config).read_text(encoding="utf-8")).get("base_model_name_or_path")
        except (OSError, ValueError, AttributeError):
            return None  # loading will say what is wrong with the config
        if not base:
            return None
    if looks_like_path(base):
        return None if (Path(base).expanduser() / "config.json").is_file() else ("base model", base)
    if _cached(base, "config.json") is None or not _cached_weights(base, MODEL_WEIGHTS):
        return "base model", base
    return None


def hub_address() -> tuple[str, int]:
    """(host, port) of the Hugging Face hub this process would use (HF_ENDPOINT, else huggingface.co)."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    url = urlsplit(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the hub's host accepts a TCP connection within `timeout` seconds (one attempt, no retry)."""
    import socket

    try:
        with socket.create_connection(hub_address(), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def check_available(adapter: str, base: str | None = None) -> None:
    """Fail at once, with one line, when the model is not here and cannot be fetched.

    A folder that is not there, or a hub id not in the local cache while HF_HUB_OFFLINE is set or the
    hub does not answer a one-second probe: no hub call is made then. Otherwise returns (the loaders
    fetch what is missing).
    """
    missing = missing_model(adapter, base)
    if missing is None:
        return
    what, name = missing
    if looks_like_path(name):
        raise ModelNotHere(f"the {what} folder {name} does not exist or holds no model; pass a folder "
                           "saved with save_pretrained", what=what, name=name, reason="no folder")
    if hf_offline():
        raise ModelNotHere(f"{what} {name} is not in the local Hugging Face cache and HF_HUB_OFFLINE is "
                           "set; run once online (without HF_HUB_OFFLINE) to cache it, or pass a local "
                           "folder with --adapter / --base-model", what=what, name=name, reason="offline")
    if not hub_reachable():
        raise ModelNotHere(f"{what} {name} is not in the local Hugging Face cache and the hub "
                           f"({hub_address()[0]}) cannot be reached; run once with network to cache it, or "
                           "pass a local folder with --adapter / --base-model", what=what, name=name,
                           reason="unreachable")

