"""`finterm train`: the grounded examples, QLoRA training on CPU with tiny models, and what it teaches.

The training tests use the toy world of tiny_train.py (made-up terms, a tiny base pretrained here to
copy text): short prompts keep a few hundred 4-bit QLoRA steps within a minute on two cores.
"""

from __future__ import annotations

import json
import random

import pytest
from tiny_train import (
    REFUSAL,
    build_copy_base,
    build_recall_base,
    fresh_definitions,
    one_thread,
    split,
    toy_entries,
    toy_example,
    toy_examples,
)

from finterm import FintermError
from finterm.cli import main
from finterm.rag.prompt import ANSWER_MARK, INSTRUCTION, answer_part
from finterm.rag.train import TrainConfig, encode, estimate_parameters, train
from finterm.rag.train_data import build_examples, compose_answer, dump, load, read_questions

QUESTIONS = [{"q": "중앙은행이 정하는 정책금리", "expect": ["기준금리"]},
             {"q": "물가가 계속 오르는 현상", "expect": ["인플레이션"]},
             {"q": "돈의 가치가 떨어지는 건 왜 그래?", "term": "인플레이션"},
             {"q": "화성 날씨는?", "expect": []},
             {"q": "없는 용어를 묻는 질문", "expect": ["없는용어"]}]


@pytest.fixture()
def qfile(tmp_path):
    path = tmp_path / "my_questions.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return path


# -- data ----------------------------------------------------------------------------------------
def test_examples_are_the_real_prompt_with_the_oracle_and_its_sentences(retriever, qfile):
    examples, counts = build_examples(retriever, [qfile], refusal_share=0.0, seed=3)
    assert counts["questions_read"] == 4 and counts["not_in_index"] == 1  # the empty-expect one is dropped
    assert counts["examples"] == 3 + len(retriever.entries)  # 3 questions + every (non-bundled) entry by name
    by_id = {e.id: e for e in retriever.entries}
    for ex in examples:
        assert ex.kind == "grounded" and len(ex.oracles) == 1 and len(ex.entry_ids) == 5
        assert ex.prompt.startswith(f"### 질문: {INSTRUCTION}") and ex.prompt.endswith(f"질문: {ex.question}\n\n"
                                                                                         f"{ANSWER_MARK}")
        n = ex.oracles[0]
        oracle = by_id[ex.entry_ids[n - 1]]
        assert f"[{n}] {oracle.term}: {oracle.definition}" in ex.prompt
        first = ex.answer.split(f" [{n}]")[0]
        assert first in oracle.definition and ex.answer.endswith(f"[{n}]")
    rate = next(ex for ex in examples if ex.question == "중앙은행이 정하는 정책금리")
    assert by_id[rate.entry_ids[rate.oracles[0] - 1]].term == "기준금리"


def test_refusal_share_and_distractor_only_prompts(retriever, qfile):
    examples, counts = build_examples(retriever, [qfile], refusal_share=0.5, seed=1)
    refusals = [e for e in examples if e.kind == "refusal"]
    assert counts["refusal"] == len(refusals) == round(0.5 * len(examples))
    by_id = {e.id: e for e in retriever.entries}
    for ex in refusals:
        assert ex.answer == REFUSAL and ex.oracles == ()
        if ex.origin == "named":  # the entry asked about is not among the definitions
            assert all(by_id[i].term not in ex.question for i in ex.entry_ids)


def test_same_seed_same_examples_and_dump(retriever, qfile, tmp_path):
    a, _ = build_examples(retriever, [qfile], seed=7)
    b, _ = build_examples(retriever, [qfile], seed=7)
    c, _ = build_examples(retriever, [qfile], seed=8)
    assert a == b and a != c
    out = tmp_path / "ex.jsonl"
    assert main(["train", "--index", str(retriever.data.path), "--questions", str(qfile), "--seed", "7",
                 "--dump", str(out), "--quiet"]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"format": "finterm-train-examples/1", "examples": len(a)}
    assert lines[1:] == [e.to_json() for e in a]
    back, counts = load(out)  # what `finterm train --examples` trains on: the same examples
    assert back == a and counts["examples"] == len(a) and counts["grounded"] + counts["refusal"] == len(a)


def test_examples_file_errors_name_the_line(retriever, qfile, tmp_path, capsys):
    good = tmp_path / "ex.jsonl"
    dump(build_examples(retriever, [qfile], seed=7)[0], good)
    lines = good.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:2] + ['{"prompt": "질문", "answer": "답"}'] + lines[2:]) + "\n",
                      encoding="utf-8")
    with pytest.raises(FintermError, match=r"broken\.jsonl:3: not an example"):
        load(broken)
    plain = tmp_path / "questions.jsonl"
    plain.write_text('{"q": "기준금리란?", "expect": ["기준금리"]}\n', encoding="utf-8")
    with pytest.raises(FintermError, match=r"questions\.jsonl:1: not a finterm examples file"):
        load(plain)
    assert main(["train", "--examples", str(plain), "--adapter", "none", "--base-model", str(tmp_path),
                 "--out", str(tmp_path / "ad")]) == 1
    err = capsys.readouterr().err
    assert "not a finterm examples file" in err and "Traceback" not in err
    assert not (tmp_path / "ad").exists()
    assert main(["train", "--examples", str(good), "--dump", str(tmp_path / "x.jsonl")]) == 2


@pytest.mark.parametrize("name", ["natural_holdout.jsonl", "new_holdout.jsonl", "dev_questions.jsonl"])
def test_held_out_sets_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"q": "x", "expect": ["기준금리"]}\n', encoding="utf-8")
    with pytest.raises(FintermError, match="spoil the evaluation"):
        read_questions(path)


def test_default_question_sets_are_the_non_held_out_ones():
    from finterm.rag.train_data import default_question_files

    names = [p.name for p in default_question_files()]
    assert names and all("holdout" not in n for n in names)
    assert set(names) <= {"calibration.jsonl", "describe_tuning.jsonl", "natural_tuning.jsonl",
                          "questions.jsonl"}


def test_two_oracles_get_one_sentence_each():
    ents = toy_entries(4)
    assert compose_answer(ents, [2, 4]) == f"{ents[1].definition} [2] {ents[3].definition} [4]"


# -- training ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """(entries, base folder): the toy world and its tiny pretrained base, built once."""
    entries = toy_entries()
    return entries, build_copy_base(tmp_path_factory.mktemp("toy-base"), entries)


def _config(tmp_path, base, **kw) -> TrainConfig:
    return TrainConfig(**{"out": str(tmp_path / "adapter"), "adapter": None, "base_model": str(base),
                          "batch_size": 4, "grad_accum": 1, **kw})


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_and_write_adapter_and_record(toy, tmp_path):
    entries, base = toy
    # 8 examples, 4 a step: every 2 steps is one pass, so loss_first and loss_last are the mean loss of the
    # first and the last pass over the same 8 examples (single batches of the toy differ by ~3 nats). The lr
    # is the toy's: at the seed's 3e-4 (made for a 5.8B model) a tiny model barely moves in 12 steps.
    examples = toy_examples(entries, 8, refusal_share=0.2, seed=0)
    result = train(examples, _config(tmp_path, base, lr=1e-2, max_steps=12, save_steps=5), progress=False)
    assert result.steps == 12 and not result.interrupted
    assert result.loss_last < result.loss_first - 0.5, result  # it learnt, by more than dropout's noise
    out = tmp_path / "adapter"
    cfg = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert (cfg["r"], cfg["lora_alpha"], cfg["lora_dropout"]) == (16, 8, 0.05)
    assert cfg["target_modules"] == ["query_key_value"] and cfg["base_model_name_or_path"] == str(base)
    rec = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert rec["format"] == "finterm-training/1" and len(rec["loss"]) == 12 and rec["data"]["encoded"] == 8
    assert rec["loss_first"] == pytest.approx(sum(rec["loss"][:2]) / 2, abs=1e-4)
    assert rec["settings"]["optim"] == "paged_adamw_8bit" and rec["versions"]["peft"]
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-5"]


def test_labels_cover_the_answer_and_eos_only(toy):
    from transformers import AutoTokenizer

    entries, base = toy
    tok = AutoTokenizer.from_pretrained(base)
    ex = toy_examples(entries, 1, refusal_share=0.0, seed=2)[0]
    ids, labels = encode([ex], tok, 256)[0][0]
    answer = [y for y in labels if y != -100]
    assert labels[:len(ids) - len(answer)] == [-100] * (len(ids) - len(answer))
    assert answer[-1] == tok.eos_token_id and tok.decode(answer[:-1]) == " " + ex.answer
    assert encode([ex], tok, 20) == ([], 1)  # too long for the limit: skipped, counted


@pytest.mark.slow
def test_saved_adapter_loads_through_the_user_path_in_4bit(toy, tmp_path, small_index, capsys):
    import bitsandbytes as bnb
    from peft.tuners.lora import LoraLayer

    from finterm.rag.generate import GeneratorConfig, QLoRAGenerator

    entries, base = toy
    train(toy_examples(entries, 16, refusal_share=0.2, seed=0), _config(tmp_path, base, max_steps=3),
          progress=False)
    gen = QLoRAGenerator(GeneratorConfig(adapter=str(tmp_path / "adapter"), do_sample=False, max_new_tokens=8))
    model = gen.loaded.model
    assert gen.loaded.base == str(base)
    assert [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    lora = [m for m in model.modules() if isinstance(m, LoraLayer)]
    assert len(lora) == 2 and all(isinstance(m.get_base_layer(), bnb.nn.Linear4bit) for m in lora)
    assert isinstance(gen.generate(toy_examples(entries, 1, refusal_share=0, seed=5)[0].prompt), str)
    code = main(["ask", "기준금리가 뭐야?", "--generator", "qlora", "--adapter", str(tmp_path / "adapter"),
                 "--greedy", "--max-new-tokens", "8", "--json", "--index", str(small_index)])
    assert code == 0 and json.loads(capsys.readouterr().out)["generator"] == "qlora"


@pytest.fixture(scope="session")
def recall_toy(tmp_path_factory):
    """(entries, base folder): the toy world with a base pretrained on associative recall, built once."""
    entries = toy_entries()
    with one_thread():
        return entries, build_recall_base(tmp_path_factory.mktemp("recall-base"), entries)


# What makes this learnable (measured on the shared 2-core build machine, one thread, niced):
# - The fine-tune is not the bottleneck: the 4-bit QLoRA loop runs the toy at ~25 steps/s (batch 8).
# - The base is. build_copy_base (the other tests' base) memorises the 48 fixed definitions; plain-text
#   bases pretrained on fresh definitions copied 0-6/40. build_recall_base (tiny_train.py: one token per
#   term, per word and per "는 <word>") pretrains on associative recall with fresh values every document
#   and the loss on the copied values only (what made the circuit form: that loss, keys that are also
#   values, no separator between key and value, no plain sentences until the circuit has formed).
# - Copying alone does not teach when to refuse: on the two-layer recall base QLoRA reached copy 0.00 ->
#   0.71 but refusal 0.00 -> 0.00; absent-key queries answered after the key was written gave refusal
#   0.08 at most. finterm's answer decides on its first token, a few tokens after the question's term, so
#   the base now also answers queries "key fillers = answer" whose first answer token is the key (present)
#   or an absent marker "-" (key nowhere in the document; not the refusal), and has a third layer.
#   Ablations, same QLoRA run: three layers without the queries: copy 0.92, refusal 0.00; two layers with
#   the queries (the base's own queries stayed at chance): refusal 0.00-0.25 across shares/steps, copy
#   0.58-0.96.
# - This test: copy 0.00 -> 0.83 on 24 prompts about the 12 test terms with fresh definitions, refusal
#   0.00 -> 0.92 on 12 distractor-only prompts about them (loss 0.80 -> 0.12 over 1,500 steps of 8; refusal
#   on 12 train terms 1.00, grounded prompts refused 1/24); a separate script built the same base weights
#   and got the same numbers, and so did a run without OMP_NUM_THREADS=1 (the test pins torch to one
#   thread, so core counts do not move them). Two other data/training seeds: copy 0.79 and 0.79, refusal
#   1.00 and 0.83 (the refusal-share sweep in the README). 284-313 s in all on the loaded machine:
#   ~215 s to build the base, 62-74 s training, the rest generation.
@pytest.mark.slow
def test_learning_copies_the_right_sentence_and_refuses(recall_toy, tmp_path):
    """Unseen test terms (never an oracle in training) with definitions drawn anew for the test: copy their
    definition from the prompt, refuse when it is absent; more often than the same base before training."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from finterm.rag.generate import GeneratorConfig, QLoRAGenerator

    entries, base = recall_toy
    fresh = tmp_path / "fresh"  # a new LoRA (B = 0): exactly the base model, "before training"
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(
        r=16, lora_alpha=8, target_modules=["query_key_value"], task_type="CAUSAL_LM")).save_pretrained(fresh)
    train_terms, test_terms = split(entries)
    rng = random.Random(99)
    test_terms = fresh_definitions(test_terms, rng)  # never seen anywhere: only a copy can be right
    pool = train_terms + test_terms
    grounded = [toy_example(e, pool, rng) for e in test_terms for _ in range(2)]
    refusal = [toy_example(None, pool, rng, question_term=e.term) for e in test_terms]

    def rates(adapter) -> tuple[float, float]:
        g = QLoRAGenerator(GeneratorConfig(adapter=str(adapter), do_sample=False, max_new_tokens=24))
        right = sum(answer_part(ANSWER_MARK + g.generate(x.prompt)).startswith(x.answer.split(" [")[0])
                    for x in grounded)
        refused = sum(REFUSAL in g.generate(x.prompt) for x in refusal)
        return right / len(grounded), refused / len(refusal)

    with one_thread():
        before = rates(fresh)
        result = train(toy_examples(entries, 2400, refusal_share=0.2, seed=1),
                       _config(tmp_path, base, lr=3e-3, max_steps=1500, batch_size=8, gradient_checkpointing=False),
                       progress=False)
        after = rates(tmp_path / "adapter")
    print(f"learning: copy {before[0]:.2f} -> {after[0]:.2f}, refusal {before[1]:.2f} -> {after[1]:.2f}, "
          f"loss {result.loss_first:.2f} -> {result.loss_last:.2f}, {result.seconds:.0f} s")
    assert after[0] >= before[0] + 0.5, f"copy {before[0]:.2f} -> {after[0]:.2f}"
    assert after[1] >= before[1] + 0.5, f"refusal {before[1]:.2f} -> {after[1]:.2f}"


# -- errors --------------------------------------------------------------------------------------
def test_empty_dataset_is_one_line(tmp_path):
    with pytest.raises(FintermError, match="no training examples"):
        train([], TrainConfig(out=str(tmp_path / "a"), adapter=None, base_model="x"))


def test_large_model_without_gpu_needs_cpu_ok(tmp_path, monkeypatch):
    import torch
    from transformers import GPTNeoXConfig

    big = tmp_path / "big-base"
    GPTNeoXConfig(vocab_size=30080, hidden_size=4096, num_hidden_layers=28, num_attention_heads=16,
                  intermediate_size=16384).save_pretrained(big)  # polyglot-ko-5.8b's shape; no weights needed
    assert 5.5e9 < estimate_parameters(GPTNeoXConfig.from_pretrained(big)) < 6.2e9
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ex = toy_examples(toy_entries(8), 2, refusal_share=0, seed=0)
    with pytest.raises(FintermError) as err:
        train(ex, TrainConfig(out=str(tmp_path / "a"), adapter=None, base_model=str(big)))
    assert "--cpu-ok" in str(err.value) and "5.9B" in str(err.value) and "\n" not in str(err.value)


def test_adapter_whose_base_differs_is_refused(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "EleutherAI/polyglot-ko-5.8b",
                                                             "peft_type": "LORA"}), encoding="utf-8")
    ex = toy_examples(toy_entries(8), 2, refusal_share=0, seed=0)
    with pytest.raises(FintermError, match="was trained on EleutherAI/polyglot-ko-5.8b, not other/base"):
        train(ex, TrainConfig(out=str(tmp_path / "a"), adapter=str(adapter), base_model="other/base"))


@pytest.mark.slow
def test_out_of_memory_suggests_batch_and_grad_accum(toy, tmp_path, monkeypatch):
    import torch

    import finterm.rag.train as t

    entries, base = toy
    real = t.load_for_training

    def oom_model(*a, **kw):
        model, tok = real(*a, **kw)
        model.forward = lambda **_: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("CUDA out of memory."))
        return model, tok

    monkeypatch.setattr(t, "load_for_training", oom_model)
    with pytest.raises(FintermError) as err:
        train(toy_examples(entries, 8, refusal_share=0, seed=0), _config(tmp_path, base, max_steps=2), progress=False)
    assert "--batch-size 2 --grad-accum 2" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_ctrl_c_saves_what_it_has(toy, tmp_path, monkeypatch):
    import finterm.rag.train as t

    entries, base = toy
    real, calls = t._optimizer, []

    def interrupting(params, config):
        opt = real(params, config)
        step = opt.step

        def step_then_ctrl_c(*a, **kw):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return step(*a, **kw)
        opt.step = step_then_ctrl_c
        return opt

    monkeypatch.setattr(t, "_optimizer", interrupting)
    result = train(toy_examples(entries, 16, refusal_share=0, seed=0), _config(tmp_path, base, max_steps=10),
                   progress=False, log=lambda m: None)
    assert result.interrupted and result.steps == 2
    rec = json.loads((tmp_path / "adapter" / "training.json").read_text(encoding="utf-8"))
    assert rec["interrupted"] and rec["steps_done"] == 2 and (tmp_path / "adapter" / "adapter_config.json").is_file()


def test_non_empty_out_and_bad_settings_are_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine", encoding="utf-8")
    ex = toy_examples(toy_entries(8), 2, refusal_share=0, seed=0)
    with pytest.raises(FintermError, match="not empty"):
        train(ex, TrainConfig(out=str(tmp_path / "taken"), adapter=None, base_model=str(tmp_path)))
    with pytest.raises(FintermError, match="learning rate"):
        TrainConfig(out="x", lr=0)
    with pytest.raises(FintermError, match="--base-model"):
        TrainConfig(out="x", adapter=None)


def test_cli_needs_out_or_dump(capsys):
    assert main(["train"]) == 2 and "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_json(toy, tmp_path, small_index, capsys):
    _, base = toy
    q = tmp_path / "q.jsonl"
    q.write_text('{"q": "중앙은행이 정하는 정책금리", "expect": ["기준금리"]}\n', encoding="utf-8")
    args = ["train", "--index", str(small_index), "--questions", str(q), "--adapter", "none", "--base-model",
            str(base), "--out", str(tmp_path / "ad"), "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1",
            "-k", "2", "--max-length", "640", "--json", "--quiet"]  # the toy's byte-level BPE never saw the
    # glossary's Korean: its 2-definition prompts are 400-600 tokens
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"steps", "examples", "loss_first", "loss_last", "out"} and out["steps"] == 2
    assert out["out"] == str(tmp_path / "ad")
    # the same examples dumped here and trained from the file elsewhere (no index is opened)
    dumped = tmp_path / "ex.jsonl"
    assert main(args[:args.index("--adapter")] + ["-k", "2", "--dump", str(dumped), "--quiet"]) == 0
    again = ["train", "--examples", str(dumped)] + args[args.index("--adapter"):]
    again[again.index(str(tmp_path / "ad"))] = str(tmp_path / "ad2")
    assert main(again) == 0
    out2 = json.loads(capsys.readouterr().out)
    assert out2["examples"] == out["examples"] and out2["steps"] == 2
    rec = json.loads((tmp_path / "ad2" / "training.json").read_text(encoding="utf-8"))
    assert rec["steps_done"] == 2


# -- GPU -----------------------------------------------------------------------------------------
def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.cuda
@pytest.mark.skipif(not _has_cuda(), reason="needs an NVIDIA GPU")
def test_on_gpu_training_runs_on_cuda_and_reports_memory(toy, tmp_path):
    entries, base = toy
    # 30 steps over 32 examples in batches of 4: the loss ends compare whole passes (8 steps each). With
    # 10 steps they compared one batch with another and this failed on the H200 and on the CPU alike
    # (4.32 -> 7.45); 30 steps go 5.89 -> 3.86 there.
    result = train(toy_examples(entries, 32, refusal_share=0.2, seed=0),
                   _config(tmp_path, base, lr=3e-3, max_steps=30, device="cuda"), progress=False)
    rec = json.loads((tmp_path / "adapter" / "training.json").read_text(encoding="utf-8"))
    assert rec["device"] == "cuda:0" and rec["peak_gpu_memory_bytes"] > 0
    assert result.loss_last < result.loss_first
