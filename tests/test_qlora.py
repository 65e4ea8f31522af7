"""The qlora generator, on CPU, with a tiny GPT-NeoX + LoRA adapter built here (see tiny_qlora.py).

Everything goes through the loader users call (`QLoRAGenerator` -> `load_model`): 4-bit NF4 base,
peft adapter, the real tokenizer for counting, greedy generation, streaming, grounding, the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from tiny_qlora import CONTEXT, SUPPORTED, UNRELATED, build_tiny_qlora

from finterm import FintermError
from finterm.cli import main
from finterm.index.entry import Entry
from finterm.rag.generate import GeneratorConfig, QLoRAGenerator, load_model, resolve_base
from finterm.rag.grounded import fit_prompt, grounded_answer
from finterm.rag.grounding import THRESHOLD, UNSUPPORTED_MARK, annotate, check_sentences
from finterm.rag.model_errors import translate
from finterm.rag.prompt import ANSWER_MARK, answer_part, format_prompt
from finterm.rag.retrieve import Hit, SearchResult

pytestmark = pytest.mark.slow
QUESTION = "기준금리가 뭐야?"
RATE = Entry(id="t03", term="기준금리", source="테스트 용어집",
             definition="한국은행 금융통화위원회가 정하는 정책금리로, 금융기관 간 거래와 시장금리의 "
                        "기준이 된다.")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(base folder, adapter folder) of the tiny model, built once per session."""
    return build_tiny_qlora(tmp_path_factory.mktemp("tiny-qlora"))


@pytest.fixture(scope="session")
def gen(tiny) -> QLoRAGenerator:
    return QLoRAGenerator(GeneratorConfig(adapter=str(tiny[1]), do_sample=False))


def _result(entries, query=QUESTION) -> SearchResult:
    return SearchResult(query=query, hits=tuple(Hit(e, 1.0, "fused") for e in entries), abstained=False)


# -- loading -------------------------------------------------------------------------------------
def test_base_is_found_from_the_adapter_config(tiny):
    base, adapter = tiny
    assert resolve_base(str(adapter)) == str(base)
    assert resolve_base(str(adapter), "some/other-base") == "some/other-base"


def test_loads_4bit_nf4_base_with_lora_on_query_key_value(gen):
    import bitsandbytes as bnb
    from peft.tuners.lora import LoraLayer

    model = gen.loaded.model
    assert not model.training
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 2 * 4  # qkv, dense, mlp in and out, in each of the 2 layers
    for w in (m.weight for m in four_bit):
        assert w.quant_state.quant_type == "nf4" and w.quant_state.nested  # double quantisation
    lora = [(n, m) for n, m in model.named_modules() if isinstance(m, LoraLayer)]
    assert [n.rsplit(".", 1)[-1] for n, _ in lora] == ["query_key_value"] * 2
    for _, m in lora:
        assert isinstance(m.get_base_layer(), bnb.nn.Linear4bit)
        assert m.r["default"] == 16 and m.scaling["default"] == 8 / 16
    assert gen.model_info() == {"base": str(gen.loaded.base), "adapter": str(gen.loaded.adapter),
                                "quantization": "nf4", "device": gen.loaded.device}
    assert gen.context_length == CONTEXT


def test_the_adapter_really_changes_the_model(gen):
    import torch

    model = gen.loaded.model
    ids = gen.encode(format_prompt(QUESTION, [RATE]))  # on the model's device
    with torch.inference_mode():
        with_lora = model(**ids).logits
        with model.disable_adapter():
            without = model(**ids).logits
    assert (with_lora - without).abs().max().item() > 1e-2


def test_model_is_loaded_once_per_process(gen, tiny, monkeypatch):
    monkeypatch.chdir(tiny[1].parent)
    other = QLoRAGenerator(GeneratorConfig(adapter="./adapter", do_sample=False))  # same folder, relative
    assert other.loaded is gen.loaded
    assert load_model(str(tiny[1])) is gen.loaded


# -- generation ----------------------------------------------------------------------------------
def test_generate_and_the_seed_post_processing(gen):
    prompt = format_prompt(QUESTION, [RATE])
    raw = gen.generate(prompt)
    assert not raw.startswith("###") and SUPPORTED in raw
    text = answer_part(ANSWER_MARK + raw)
    assert text.startswith(SUPPORTED)
    assert text.endswith(".") and not text.endswith("그리고")  # the half sentence is cut
    assert raw.rstrip().endswith("그리고")


def test_greedy_streaming_equals_greedy_generation(gen):
    prompt = format_prompt(QUESTION, [RATE])
    pieces = list(gen.stream(prompt))
    assert len(pieces) > 3  # it really comes in pieces
    assert "".join(pieces) == gen.generate(prompt)


def test_stream_holds_the_lock_and_releases_it_when_closed(gen):
    it = gen.stream(format_prompt(QUESTION, [RATE]))
    next(it)
    got = []
    t = threading.Thread(target=lambda: got.append(gen.loaded.lock.acquire(blocking=False)))
    t.start()
    t.join()
    assert got == [False]  # a second session waits instead of interleaving
    it.close()  # a Streamlit rerun drops the iterator
    assert gen.loaded.lock.acquire(blocking=False)
    gen.loaded.lock.release()
    assert SUPPORTED in gen.generate(format_prompt(QUESTION, [RATE]))


def test_two_threads_get_the_same_greedy_answer(gen):
    prompt = format_prompt(QUESTION, [RATE])
    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append("".join(gen.stream(prompt)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [gen.generate(prompt)] * 2


def test_prompt_fits_the_context_with_20_long_definitions(gen):
    filler = "금리와 물가와 환율이 서로 영향을 주고받는다. " * 30
    entries = [Entry(id=f"x{i}", term=f"용어{i}", source="t", definition=f"{i}번째 긴 정의이다. {filler}")
               for i in range(20)]
    prompt, kept = fit_prompt(QUESTION, entries, gen)
    assert gen.count_tokens(prompt) + gen.config.max_new_tokens <= CONTEXT
    assert 1 <= len(kept) < 20 and [e.id for e in kept] == [f"x{i}" for i in range(len(kept))]
    answer = grounded_answer(_result(entries), gen)  # generation stays inside the context too
    assert answer.generator == "qlora" and answer.sentences


def test_too_many_new_tokens_for_the_context_is_one_clear_error(tiny):
    big = QLoRAGenerator(GeneratorConfig(adapter=str(tiny[1]), do_sample=False, max_new_tokens=CONTEXT))
    with pytest.raises(FintermError, match="max-new-tokens"):
        fit_prompt(QUESTION, [RATE], big)


# -- grounding -----------------------------------------------------------------------------------
def test_grounding_marks_a_copied_sentence_supported_and_an_unrelated_one_not():
    other = Entry(id="t19", term="환율", source="t", definition="두 나라 화폐의 교환 비율이다.")
    checked = check_sentences(f"{SUPPORTED} {UNRELATED}", [other, RATE])
    assert [c.text for c in checked] == [SUPPORTED, UNRELATED]
    assert checked[0].citations == (2,) and checked[0].support >= THRESHOLD
    assert checked[1].citations == () and checked[1].support < THRESHOLD
    assert annotate(f"{SUPPORTED} {UNRELATED}", checked) == f"{SUPPORTED} [2] {UNRELATED} {UNSUPPORTED_MARK}"


def test_model_written_citations_are_replaced_by_checked_ones():
    checked = check_sentences(f"{SUPPORTED} [3]", [RATE])
    assert checked[0].text == SUPPORTED and checked[0].citations == (1,)


def test_grounded_answer_cites_the_definition_it_copied(gen, retriever):
    answer = grounded_answer(retriever.search(QUESTION), gen)
    assert answer.generator == "qlora" and not answer.abstained
    n = next(c.n for c in answer.citations if c.term == "기준금리")
    assert answer.sentences[0].text == SUPPORTED and answer.sentences[0].citations == (n,)
    assert answer.sentences[1].citations == () and UNSUPPORTED_MARK in answer.text
    assert answer.text.startswith(f"{SUPPORTED} [{n}]")
    assert answer.model["quantization"] == "nf4"
    raw = gen.generate(fit_prompt(QUESTION, [h.entry for h in retriever.search(QUESTION).hits], gen)[0])
    assert answer.model["new_tokens"] == gen.count_tokens(raw) < gen.config.max_new_tokens  # it ended itself


def test_streamed_answer_is_the_same_answer(gen, retriever):
    result = retriever.search(QUESTION)
    shown: list[str] = []
    streamed = grounded_answer(result, gen, on_text=shown.append)
    plain = grounded_answer(result, gen)
    assert streamed.streamed and not plain.streamed
    assert streamed.text == plain.text and streamed.sentences == plain.sentences
    live = "".join(shown)
    assert live.startswith(SUPPORTED) and "###" not in live  # no leading space, no new turn


def test_abstained_question_never_calls_the_model(tiny, retriever):
    from finterm.api import ask

    fresh = QLoRAGenerator(GeneratorConfig(adapter=str(tiny[1]), do_sample=False))
    answer = ask(retriever, "피아노 조율은 얼마나 자주 해야 해?", generator=fresh)
    assert answer.abstained and answer.generator == "qlora" and answer.citations == ()
    assert fresh.generations == 0


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_ask_qlora_json_end_to_end(tiny, small_index, tmp_path):
    env = {**os.environ, "FINTERM_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "finterm.cli", "ask", QUESTION, "--generator", "qlora",
           "--adapter", str(tiny[1]), "--greedy", "--json", "--index", str(small_index)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["generator"] == "qlora" and out["abstained"] is False
    assert out["model"]["quantization"] == "nf4" and out["model"]["device"] in ("cpu", "cuda:0")
    assert out["model"]["adapter"] == str(tiny[1]) and out["model"]["base"] == str(tiny[0])
    first = out["sentences"][0]
    assert first["text"] == SUPPORTED and first["support"] >= THRESHOLD and len(first["citations"]) == 1
    cited = {"n": first["citations"][0], "id": "t03", "term": "기준금리", "source": "테스트 용어집"}
    assert cited in out["citations"]
    if out["model"]["device"] == "cpu":
        assert "will be slow" in proc.stderr


def test_cli_stream_prints_the_text_then_the_checked_answer(tiny, small_index, capsys):
    args = ["ask", QUESTION, "--generator", "qlora", "--adapter", str(tiny[1]), "--greedy", "--stream",
            "--index", str(small_index)]
    assert main(args) == 0
    out = capsys.readouterr().out
    live, checked = out.split("[정의와 대조한 답변]")
    assert live.strip().startswith(SUPPORTED) and "그리고" in live  # raw, as generated
    assert UNSUPPORTED_MARK in checked and "그리고" not in checked and "기준금리 — 테스트 용어집" in checked


def test_cli_missing_adapter_folder_is_one_line_exit_1(small_index, tmp_path, capsys):
    missing = tmp_path / "no-such-adapter"
    code = main(["ask", QUESTION, "--generator", "qlora", "--adapter", str(missing),
                 "--index", str(small_index)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and str(missing) in err and "does not exist" in err


def test_cli_greedy_with_temperature_is_refused(tiny, small_index, capsys):
    code = main(["ask", QUESTION, "--generator", "qlora", "--adapter", str(tiny[1]), "--greedy",
                 "--temperature", "0.5", "--index", str(small_index)])
    assert code == 1 and "--greedy" in capsys.readouterr().err


# -- errors --------------------------------------------------------------------------------------
def test_adapter_that_does_not_fit_the_base_is_one_line(tiny, tmp_path):
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXForCausalLM

    other = tmp_path / "other-base"
    tok = AutoTokenizer.from_pretrained(tiny[0])
    tok.save_pretrained(other)
    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=128)
    GPTNeoXForCausalLM(config).save_pretrained(other)  # another shape: the adapter cannot fit
    with pytest.raises(FintermError) as exc:
        load_model(str(tiny[1]), base_model=str(other))
    msg = str(exc.value)
    assert "does not fit base model" in msg and "--base-model" in msg and "\n" not in msg


def test_hub_model_not_cached_while_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FintermError) as exc:
        load_model("finterm-tests/no-such-adapter")
    msg = str(exc.value)
    assert "HF_HUB_OFFLINE" in msg and "local folder" in msg and "\n" not in msg


def test_missing_packages_are_named(monkeypatch):
    import finterm.rag.model_errors as me

    me.check_dependencies.cache_clear()
    monkeypatch.setattr(me, "find_spec", lambda name: None if name == "bitsandbytes" else object())
    try:
        with pytest.raises(FintermError, match=r"needs bitsandbytes; `pip install bitsandbytes`"):
            me.check_dependencies()
    finally:
        me.check_dependencies.cache_clear()


def test_out_of_gpu_memory_message():
    import torch

    err = translate(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                    "EleutherAI/polyglot-ko-5.8b", "generation")
    assert "out of GPU memory" in str(err) and "GB" in str(err) and "--max-new-tokens" in str(err)


@pytest.mark.parametrize("bad", [{"temperature": 0}, {"top_p": 1.5}, {"max_new_tokens": 0}, {"device": "tpu"},
                                 {"adapter": " "}])
def test_config_is_validated(bad):
    with pytest.raises(FintermError):
        GeneratorConfig(**bad)


def test_config_override_rejects_unknown_names():
    assert GeneratorConfig().override(top_k=None, max_new_tokens=32).max_new_tokens == 32
    with pytest.raises(FintermError, match="unknown generator setting 'beams'"):
        GeneratorConfig().override(beams=4)


# -- GPU -----------------------------------------------------------------------------------------
def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.cuda
@pytest.mark.skipif(not _has_cuda(), reason="needs an NVIDIA GPU")
def test_on_gpu_the_model_sits_on_cuda_0(tiny):
    import torch

    g = QLoRAGenerator(GeneratorConfig(adapter=str(tiny[1]), do_sample=False, device="cuda"))
    assert g.model_info()["device"] == "cuda:0"
    assert {p.device.type for p in g.loaded.model.parameters()} == {"cuda"}
    prompt = format_prompt(QUESTION, [RATE])
    assert SUPPORTED in g.generate(prompt)
    assert "".join(g.stream(prompt)) == g.generate(prompt)
    assert torch.cuda.max_memory_allocated() > 0


# -- written feedback on a checked answer ----------------------------------------------------------
def test_feedback_is_grounded_in_the_reference_and_marked_generated(gen, retriever):
    from finterm.rag.check import check_answer
    from finterm.rag.feedback import feedback_question, written_feedback

    answer = "중앙은행이 정하는 금리"
    result = check_answer(retriever, answer, term="기준금리")
    question = feedback_question(result, answer)
    assert answer in question and "기준금리" in question
    prompt, entries = fit_prompt(question, [result.reference], gen)
    assert prompt.startswith("### 질문:") and prompt.endswith(ANSWER_MARK)
    assert result.reference.definition in prompt and [e.id for e in entries] == [result.reference.id]

    fb = written_feedback(result, answer, gen)
    assert fb.generated and fb.generator == "qlora" and fb.model["quantization"] == "nf4"
    assert fb.sentences[0].text == SUPPORTED and fb.sentences[0].citations == (1,)
    assert fb.sentences[1].citations == () and UNSUPPORTED_MARK in fb.text
    # The verdict is the checker's, with or without the model.
    assert check_answer(retriever, answer, term="기준금리") == result


def test_cli_check_with_qlora_feedback_json(tiny, small_index, capsys):
    args = ["check", "--term", "기준금리", "--answer", "중앙은행이 정하는 금리", "--generator", "qlora",
            "--adapter", str(tiny[1]), "--greedy", "--json", "--index", str(small_index)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] in ("correct", "partial", "incorrect") and out["reference"]["term"] == "기준금리"
    fb = out["feedback"]
    assert fb["generated"] is True and fb["generator"] == "qlora" and "generated" in fb["note"]
    assert fb["sentences"][0]["text"] == SUPPORTED and fb["sentences"][0]["citations"] == [1]

    assert main(["check", "--term", "기준금리", "--answer", "중앙은행이 정하는 금리", "--json",
                 "--index", str(small_index)]) == 0
    assert "feedback" not in json.loads(capsys.readouterr().out)  # no model asked: the contract is unchanged
