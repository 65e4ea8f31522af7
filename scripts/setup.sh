#!/usr/bin/env bash
# Create .venv and install finterm into it. Idempotent: a second run only checks.
# torch is installed first and pinned, so no dependency pulls a multi-GB CUDA build by surprise:
# on a machine with an NVIDIA GPU the normal PyPI torch (CUDA) is used; elsewhere torch==2.13.0
# (on the finterm build machines a CPU build of it is on local disk). Override with FINTERM_TORCH.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" 2>/dev/null; then
  if [ -n "${FINTERM_TORCH:-}" ]; then TORCH="$FINTERM_TORCH"
  elif command -v nvidia-smi >/dev/null 2>&1; then TORCH="torch"
  else TORCH="torch==2.13.0"; fi
  echo "setup: installing $TORCH first" >&2
  "$VPY" -m pip install -q --upgrade pip
  "$VPY" -m pip install -q "$TORCH"
fi
EXTRA=${1:-}
STAMP=".venv/.finterm-installed$EXTRA"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "setup: installing finterm${EXTRA} (first time: about a minute)" >&2
  "$VPY" -m pip install -q -e ".$EXTRA"
  touch "$STAMP"
fi
