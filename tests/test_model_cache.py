"""issue 15 item 5: whether the qlora model is here is answered from the disk, before any hub call.

A hub id is looked up in the local Hugging Face cache (a cache laid out here, as huggingface_hub
writes it), a folder on disk; when something is missing and HF_HUB_OFFLINE is set or the hub does
not answer one short probe, loading fails at once with one line.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from finterm.rag import model_errors as me
from finterm.rag.model_errors import ModelNotHere, check_available, hub_reachable, missing_model

ADAPTER, BASE = "finterm-tests/cached-adapter", "finterm-tests/cached-base"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _put(cache: Path, repo: str, files: dict[str, str]) -> None:
    """Files of `repo` in the cache layout huggingface_hub uses (models--org--name/snapshots/<commit>/…)."""
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(COMMIT)
    for name, text in files.items():
        path = root / "snapshots" / COMMIT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache of this test's own (the user's cache is never read)."""
    from huggingface_hub import constants

    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


@pytest.fixture
def no_network(monkeypatch) -> list:
    """Fails the test's expectations if anything looks up a name or opens a TCP connection."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def _cache_both(cache: Path, *, shards=("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")):
    _put(cache, ADAPTER, {"adapter_config.json": json.dumps({"base_model_name_or_path": BASE}),
                          "adapter_model.safetensors": "w"})
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    _put(cache, BASE, {"config.json": "{}", "model.safetensors.index.json": json.dumps(index),
                       **{s: "w" for s in shards}})


def test_a_cached_adapter_and_its_sharded_base_are_found_without_the_network(cache, no_network):
    _cache_both(cache)
    assert missing_model(ADAPTER) is None  # the base comes from the cached adapter_config.json
    assert missing_model(ADAPTER, BASE) is None
    check_available(ADAPTER)
    assert no_network == []


def test_a_missing_shard_or_adapter_weights_count_as_not_cached(cache, no_network):
    _cache_both(cache, shards=("model-00001-of-00002.safetensors",))
    assert missing_model(ADAPTER) == ("base model", BASE)
    _put(cache, "finterm-tests/config-only", {"adapter_config.json": json.dumps({"base_model_name_or_path": BASE})})
    assert missing_model("finterm-tests/config-only") == ("adapter", "finterm-tests/config-only")
    assert missing_model("finterm-tests/never-seen") == ("adapter", "finterm-tests/never-seen")
    assert no_network == []


def test_local_folders_are_checked_on_disk(cache, tmp_path, no_network):
    adapter, base = tmp_path / "adapter", tmp_path / "base"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    assert missing_model(str(adapter)) == ("base model", str(base))
    base.mkdir()
    (base / "config.json").write_text("{}")
    assert missing_model(str(adapter)) is None
    _cache_both(cache)
    assert missing_model(str(adapter), BASE) is None  # a local adapter on a cached hub base
    assert missing_model(str(tmp_path / "nowhere")) == ("adapter", str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotHere) as exc:
        check_available(str(adapter), str(tmp_path / "no-base"))
    assert exc.value.reason == "no folder" and exc.value.what == "base model"
    assert no_network == []


def test_offline_and_not_cached_fails_without_probing_the_hub(cache, no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotHere) as exc:
        check_available("finterm-tests/never-seen")
    assert exc.value.reason == "offline" and exc.value.what == "adapter"
    assert "HF_HUB_OFFLINE" in str(exc.value) and "\n" not in str(exc.value)
    assert no_network == []


def test_unreachable_hub_is_probed_once_and_briefly(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    probes: list = []

    def probe(address, timeout=None, *args, **kwargs):
        probes.append((address, timeout))
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", probe)
    with pytest.raises(ModelNotHere) as exc:
        check_available("finterm-tests/never-seen")
    assert exc.value.reason == "unreachable" and "cannot be reached" in str(exc.value)
    assert len(probes) == 1 and probes[0][0] == me.hub_address() and 0 < probes[0][1] <= 1.0


def test_hub_reachable_answers_for_a_closed_local_port(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert me.hub_address() == ("127.0.0.1", port)
    assert hub_reachable() is False
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable() is True


def test_load_model_fails_before_the_hub_when_not_cached(cache, monkeypatch):
    """The loader users call checks first: no peft / transformers hub call for a model that is not here."""
    from finterm.rag import generate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(generate, "resolve_base", lambda *a, **k: pytest.fail("asked the hub for the config"))
    monkeypatch.setattr(generate, "_load", lambda *a, **k: pytest.fail("tried to load the model"))
    with pytest.raises(ModelNotHere, match="not in the local Hugging Face cache"):
        generate.load_model("finterm-tests/never-seen")
