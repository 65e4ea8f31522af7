"""Build, in a folder and with no download, a tiny GPT-NeoX base + LoRA adapter + tokenizer.

The model is made from a config (random weights) and then taught, in a few seconds on a CPU, one
answer to give after `### 답변:` whatever the prompt: a sentence copied from the test glossary's
기준금리 definition, an unrelated sentence, and a half sentence. That makes its greedy output
predictable enough to test the whole path (prompt, 4-bit load, generation, post-processing,
grounding). Base and LoRA are trained together, so the adapter really changes the output.

Used by tests/test_qlora.py and bench/generate.py (`--tiny`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

MINI = Path(__file__).parent / "data" / "mini_glossary.jsonl"
SUPPORTED = "기준금리는 한국은행 금융통화위원회가 정하는 정책금리이다."
UNRELATED = "화성에는 거대한 화산이 있다."
ANSWER = f" {SUPPORTED} {UNRELATED} 그리고"  # what the tiny model says after "### 답변:"
CONTEXT = 512  # max_position_embeddings of the tiny model


def build_tiny_qlora(folder: Path, *, steps: int = 60, seed: int = 0, hidden_size: int = 64,
                     heads: int = 4) -> tuple[Path, Path]:
    """Write `folder/base` (model + tokenizer) and `folder/adapter` (LoRA, r=16, alpha=8, dropout 0.05,
    query_key_value; its adapter_config names the base folder). Returns (base, adapter).
    vLLM's CPU attention wants a head size of 64: `hidden_size=128, heads=2`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    from finterm.index.entry import Entry
    from finterm.rag.prompt import INSTRUCTION, format_prompt

    folder = Path(folder).resolve()
    base_dir, adapter_dir = folder / "base", folder / "adapter"
    rows = [json.loads(line) for line in MINI.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = [Entry(id=r["id"], term=r["term"], definition=r["definition"], source=r["source"])
               for r in rows]

    # A byte-level BPE tokenizer trained on the glossary, the instruction and the answer.
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = [e.definition for e in entries] + [INSTRUCTION, ANSWER, format_prompt("기준금리가 뭐야?", [])]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=1000, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.save_pretrained(base_dir)

    eos = tok.eos_token_id
    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=hidden_size, num_hidden_layers=2,
                           num_attention_heads=heads, intermediate_size=2 * hidden_size,
                           max_position_embeddings=CONTEXT, bos_token_id=eos,
                           eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(seed)
    GPTNeoXForCausalLM(config).save_pretrained(base_dir)  # random weights, from the config
    base = GPTNeoXForCausalLM.from_pretrained(base_dir)  # so the adapter records where its base is
    lora = LoraConfig(r=16, lora_alpha=8, lora_dropout=0.05, target_modules=["query_key_value"],
                      task_type="CAUSAL_LM", init_lora_weights="gaussian")
    model = get_peft_model(base, lora)
    for p in model.parameters():  # base and adapter learn together
        p.requires_grad_(True)

    rng = random.Random(seed)
    answer = tok(ANSWER)["input_ids"] + [eos]
    questions = ["기준금리가 뭐야?", "인플레이션이란?", "GDP 설명해줘", "환율은 어떻게 정해져?", "예금자보호"]

    def example() -> tuple[list[int], list[int]]:
        prompt = format_prompt(rng.choice(questions), rng.sample(entries, rng.randint(0, 4)))
        ids = tok(prompt)["input_ids"][-rng.randint(8, 120):]
        return ids + answer, [-100] * len(ids) + answer

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=6e-3)
    model.train()
    for _ in range(steps):
        batch = [example() for _ in range(4)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([i + [eos] * (width - len(i)) for i, _ in batch])
        labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch])
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(adapter_dir)
    model.unload().save_pretrained(base_dir)  # the trained base weights, without the LoRA layers
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert Path(cfg["base_model_name_or_path"]) == base_dir, cfg["base_model_name_or_path"]
    return base_dir, adapter_dir
