#!/usr/bin/env bash
# The GPU checks in one run: the CUDA tests, then generation and QLoRA training at polyglot-ko-5.8b's
# exact shape (random weights: bench/real_shape.py), with no download. Results go to $OUT (default
# out/gpu): versions.txt, cuda_tests.txt, shape.json, generate.json, train_b4.json, train_b8.json; the
# last lines of each step's stderr are printed after it.
#
#   bash bench/gpu_check.sh                 # on a machine with an NVIDIA GPU and finterm installed
#   FINTERM_GPU_CHECK_SMALL=1 bash bench/gpu_check.sh   # the same steps with a 2-layer model (CPU dry run)
#
# It needs training examples written beforehand (`finterm train --dump FILE --limit 400`, on any
# machine with the bundled index): EXAMPLES=FILE (default .whl/examples.jsonl). Each step has its own
# time limit, so one that hangs does not take the others with it.
set -u
OUT=${OUT:-out/gpu}
EXAMPLES=${EXAMPLES:-.whl/examples.jsonl}
PY=${PY:-python3}
mkdir -p "$OUT"
ERR=$(mktemp -d /tmp/finterm-gpu-err-XXXX)  # each step's stderr; its last lines are printed after it
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
SHAPE=polyglot-ko-5.8b
SMALL=()
if [ -n "${FINTERM_GPU_CHECK_SMALL:-}" ]; then SHAPE=small; SMALL=(--layers 2 --hidden 256 --heads 4); fi
step() { echo "== $1 ($(date +%T))"; }
if ! "$PY" -P -c "import finterm.rag.generate" 2>/dev/null; then
  # Not installed: the source tree as the package (pyproject maps index/, rag/, ui/ into finterm).
  SHIM=$(mktemp -d /tmp/finterm-src-XXXX); mkdir "$SHIM/finterm"; ROOT=$(pwd)
  for f in "$ROOT"/finterm/*; do ln -s "$f" "$SHIM/finterm/"; done
  for d in index rag ui; do ln -s "$ROOT/$d" "$SHIM/finterm/$d"; done
  export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
fi

step versions
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
  "$PY" -c "import sys, torch, transformers, peft, bitsandbytes, accelerate
print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda,
      '| transformers', transformers.__version__, '| peft', peft.__version__,
      '| bitsandbytes', bitsandbytes.__version__, '| accelerate', accelerate.__version__)
print('gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')"; } 2>&1 | tee "$OUT/versions.txt"

step "CUDA tests"
timeout 150 "$PY" -P -m pytest -q -p no:cacheprovider -m cuda -rs tests/test_qlora.py tests/test_train.py 2>&1 \
  | tail -15 | tee "$OUT/cuda_tests.txt"

step "build a random $SHAPE model"
SHAPE_DIR=$(mktemp -d /tmp/finterm-shape-XXXX)
timeout 180 "$PY" bench/real_shape.py "$SHAPE_DIR" "${SMALL[@]}" 2>"$ERR/shape" | tee "$OUT/shape.json"; tail -n 4 "$ERR/shape"

step "generate: 5 definitions, 256 new tokens"
timeout 200 "$PY" bench/generate.py --adapter "$SHAPE_DIR/adapter" --definitions 5 --new-tokens 256 --runs 2 \
  --json 2>"$ERR/generate" | tee "$OUT/generate.json"; tail -n 4 "$ERR/generate"

for b in 4 8; do
  step "train: batch $b"
  timeout $((b == 4 ? 150 : 120)) "$PY" bench/train.py --shape "$SHAPE" --base-model "$SHAPE_DIR/base" --examples "$EXAMPLES" \
    --batch-size "$b" --grad-accum 1 --steps $((32 / b)) 2>"$ERR/train$b" | tee "$OUT/train_b$b.json"
  tail -n 4 "$ERR/train$b"
done
step done
