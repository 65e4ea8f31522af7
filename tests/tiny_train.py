"""A toy world for the training tests: made-up terms, one-sentence definitions, a tiny base model.

The base is a small GPT-NeoX pretrained here (full precision, a few seconds) as a plain language
model on "documents" that list definitions and then repeat one of them — so, like a real
pretrained model, it can copy text it has seen, but it has never seen finterm's `### 질문` prompt,
its [n] markers or the refusal. `finterm train` must teach those through the 4-bit QLoRA path.

Terms are split in two: `train` terms are oracles in training examples, `test` terms only appear
as distractors there; the learning test asks about `test` terms, so a right answer is a copy from
the prompt, not a memorised definition.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from pathlib import Path

from finterm.index.entry import Entry
from finterm.rag.prompt import INSTRUCTION, format_prompt
from finterm.rag.train_data import REFUSAL, Example, named_question

SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초"
WORDS = ["물가", "금리", "환율", "소득", "수요", "공급", "예금", "대출", "채권", "주식", "세금", "정부",
         "기업", "가계", "수출", "수입", "은행", "시장", "자산", "부채", "통화", "지표", "비용", "가격"]
CONTEXT = 1024  # room for the glossary's real prompts (byte-level tokens) in the CLI test


def toy_entries(n: int = 48, seed: int = 0) -> list[Entry]:
    """`n` made-up terms, each defined by one short sentence that starts with the term (`가나다는 물가금리이다.`)."""
    rng = random.Random(seed)
    terms: list[str] = []
    while len(terms) < n:
        t = "".join(rng.choice(SYLLABLES) for _ in range(3))
        if t not in terms:
            terms.append(t)
    return [Entry(id=f"toy{i:02d}", term=t, source="toy",
                  definition=f"{t}는 {rng.choice(WORDS)}{rng.choice(WORDS)}이다.")
            for i, t in enumerate(terms)]


def split(entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(train terms, test terms): every fourth entry is a test term."""
    return [e for i, e in enumerate(entries) if i % 4], [e for i, e in enumerate(entries) if not i % 4]


def toy_example(oracle: Entry | None, pool: list[Entry], rng: random.Random, *, question_term: str | None = None,
                k: int = 3) -> Example:
    """finterm's prompt with `k` definitions; with an oracle it is among them and the answer copies its
    sentence with its [n]; without, the question names `question_term`, absent from the prompt."""
    term = oracle.term if oracle else question_term
    others = rng.sample([e for e in pool if e.term != term], k - (1 if oracle else 0))
    shown = others[:]
    if oracle:
        shown.insert(rng.randrange(k), oracle)
    n = shown.index(oracle) + 1 if oracle else 0
    q = named_question(term, rng)
    answer = f"{oracle.definition} [{n}]" if oracle else REFUSAL
    return Example(prompt=format_prompt(q, shown), answer=answer, kind="grounded" if oracle else "refusal",
                   question=q, origin="toy", entry_ids=tuple(e.id for e in shown), oracles=(n,) if n else ())


def toy_examples(entries: list[Entry], count: int, *, refusal_share: float, seed: int,
                 oracles: list[Entry] | None = None) -> list[Example]:
    """`count` examples whose oracles come from `oracles` (default: the train terms); a share are refusals."""
    rng = random.Random(seed)
    train_terms, _ = split(entries)
    oracles = oracles or train_terms
    out = []
    for _ in range(count):
        if rng.random() < refusal_share:
            out.append(toy_example(None, entries, rng, question_term=rng.choice(oracles).term))
        else:
            out.append(toy_example(rng.choice(oracles), entries, rng))
    return out


@contextmanager
def one_thread():
    """Torch on one thread inside: float sums in the same order on any machine's core count, so the
    learning test's numbers do not move with it."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _byte_bpe(corpus: list[str]):
    """A byte-level BPE tokenizer (600 tokens) trained on `corpus`, with <|endoftext|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return bpe


def build_copy_base(folder: Path, entries: list[Entry], *, steps: int = 200, seed: int = 0) -> Path:
    """Write a tokenizer and a tiny GPT-NeoX, pretrained to continue a repeated definition, to `folder`."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    rng = random.Random(seed)
    corpus = [e.definition for e in entries] * 3 + [INSTRUCTION, REFUSAL, format_prompt("가나다란?", entries[:3])]
    corpus += [named_question(e.term, rng) for e in entries]
    bpe = _byte_bpe(corpus)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.save_pretrained(folder)
    eos = tok.eos_token_id
    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=CONTEXT, bos_token_id=eos,
                           eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def doc() -> list[int]:  # "A는 …. B는 …. C는 …. B는 …." : the last one is copied from above
        shown = rng.sample(entries, 3)
        text = " ".join(e.definition for e in shown) + " " + rng.choice(shown).definition
        return tok(text)["input_ids"] + [eos]

    model.train()
    for _ in range(steps):
        batch = [doc() for _ in range(16)]
        width = max(map(len, batch))
        ids = torch.tensor([b + [eos] * (width - len(b)) for b in batch])
        labels = torch.tensor([b + [-100] * (width - len(b)) for b in batch])
        model(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(folder)
    return folder


def fresh_definitions(entries: list[Entry], rng: random.Random) -> list[Entry]:
    """The same terms with definitions drawn anew: a right answer about them can only be a copy from the prompt."""
    return [Entry(id=e.id, term=e.term, source=e.source,
                  definition=f"{e.term}는 {rng.choice(WORDS)}{rng.choice(WORDS)}이다.") for e in entries]


def build_recall_base(folder: Path, entries: list[Entry], *, steps: int = 1600, seed: int = 0,
                      extra_terms: int = 16) -> Path:
    """A tiny GPT-NeoX (3 layers) pretrained on associative recall (not finterm's format), for the learning test.

    The tokenizer has one token per term (`entries`' terms and `extra_terms` more), per word and per
    `는 <word>`, so a definition's key is one token. Pretraining documents are lists of items
    `key v1 v2 .` (a term key, two values drawn fresh from terms, words and a few other tokens), a `?`,
    then some of the items again; the loss is on the repeated values only, so the only way to lower it
    is to copy in context (an induction circuit). Plain sentences (the refusal, the instruction) come in
    only in the last quarter: mixed in from the start, the circuit did not form in 1,200 steps.

    From 3/8 of the steps on, half the documents end with 2-4 queries `key f… = answer`: the key, 0-6
    filler tokens (byte-level ones, not the markers), `=`, then `key v1 v2 .` when the key is an item,
    or the absent marker `-` when the key is nowhere in the document. So the base decides "there / not
    there" on the first token after `=`, a few tokens after the key: where finterm's answer must choose
    between the term's sentence and the refusal, a few tokens after the question's term. The marker is
    not the refusal; `finterm train` must teach that. Measured on fresh documents after 1,600 steps of
    32: copy 0.985, absent 0.98, present 1.00. A third layer made the queries learnable: with two (the
    key must then be fetched and looked up in one step) the answer stayed a coin flip after 1,600 steps.
    """
    import torch
    from tokenizers import AddedToken
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    rng = random.Random(seed)
    terms = [e.term for e in entries]
    while len(terms) < len(entries) + extra_terms:
        t = "".join(rng.choice(SYLLABLES) for _ in range(3))
        if t not in terms:
            terms.append(t)
    corpus = [e.definition for e in entries] * 3 + [INSTRUCTION, REFUSAL] * 20
    corpus += [format_prompt("가나다란?", entries[:3])] + [named_question(e.term, rng) for e in entries]
    bpe = _byte_bpe(corpus)
    n_bpe = bpe.get_vocab_size()
    bpe.add_tokens([AddedToken(t, normalized=False) for t in terms + WORDS + [f"는 {w}" for w in WORDS]])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.save_pretrained(folder)
    eos = tok.eos_token_id

    def ids(text: str) -> list[int]:
        return tok(text, add_special_tokens=False)["input_ids"]

    dot, mark = ids(".")[0], ids("?")[0]
    keys = [tok.convert_tokens_to_ids(t) for t in terms]
    values = keys + [tok.convert_tokens_to_ids(w) for w in WORDS + [f"는 {w}" for w in WORDS]]
    values += sorted(set(ids(" " + REFUSAL) + ids(" [1] [2] [3]\n") + ids("이다.: ")))
    texts = [ids(t) for t in (INSTRUCTION, REFUSAL)]
    # the queries draw from their own generator, so the documents above are the same as without them
    qrng = random.Random(seed + 1000)
    absent, equals = ids("-")[0], ids("=")[0]
    fillers = [i for i in range(n_bpe) if i not in (equals, absent, dot, mark, ids(" ")[0], eos)]

    def queries(items: list[list[int]], seen: set[int]) -> tuple[list[int], list[int]]:
        """`key f… = answer` lines: labels on the answer only (`key v1 v2`, or the absent marker)."""
        seq: list[int] = []
        labels: list[int] = []
        for _ in range(qrng.randint(2, 4)):
            fill = [qrng.choice(fillers) for _ in range(qrng.randint(0, 6))]
            if qrng.random() < 0.5:
                k = qrng.choice([k for k in keys if k not in seen])
                seq += [k, *fill, equals, absent, dot]
                labels += [-100] * (len(fill) + 2) + [absent, -100]
            else:
                k, v1, v2, _ = qrng.choice(items)
                seq += [k, *fill, equals, k, v1, v2, dot]
                labels += [-100] * (len(fill) + 2) + [k, v1, v2, -100]
        return seq, labels

    def doc(late: bool, asked: bool) -> tuple[list[int], list[int]]:
        """(ids, labels): labels are -100 except on the repeated items' values (all tokens of a sentence)
        and the queries' answers."""
        if late and rng.random() < 0.1:
            t = rng.choice(texts) + [eos]
            return t, t
        items = [[k, rng.choice(values), rng.choice(values), dot] for k in rng.sample(keys, rng.randint(3, 6))]
        seq = [x for it in items for x in it] + [mark]
        labels = [-100] * len(seq)
        for it in rng.sample(items, rng.randint(2, len(items))):
            seq += it
            labels += [-100, it[1], it[2], -100]
        if asked and qrng.random() < 0.5:
            q, y = queries(items, set(seq))
            seq += q
            labels += y
        return seq + [eos], labels + [-100]

    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=128, num_hidden_layers=3, num_attention_heads=8,
                           intermediate_size=256, rotary_pct=1.0, max_position_embeddings=CONTEXT,
                           bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warm) * max(0.1, 1 - s / steps))
    model.train()
    for step in range(steps):
        batch = [doc(step >= 0.75 * steps, step >= 0.375 * steps) for _ in range(32)]
        width = max(len(s) for s, _ in batch)
        ids_ = torch.tensor([s + [eos] * (width - len(s)) for s, _ in batch])
        labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
        model(input_ids=ids_, labels=labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    model.save_pretrained(folder)
    return folder
