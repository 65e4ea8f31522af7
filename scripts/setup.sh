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
  "$VPY" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$VPY" -m pip install -q "$TORCH" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$VPY" -c "import torch" || { echo "setup: installing $TORCH failed" >&2; exit 1; }
fi
EXTRA=${1:-}
STAMP=".venv/.finterm-installed$EXTRA"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "setup: installing finterm${EXTRA} (first time: about a minute)" >&2
  # pip's and setuptools' chatter (index mirrors, the editable-install notice) goes to a log that is
  # shown only if the install fails.
  if ! "$VPY" -m pip install -q -e ".$EXTRA" >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "setup: installing finterm failed (log above, also in .venv/install.log)" >&2
    exit 1
  fi
  touch "$STAMP"
  echo "setup: done. Activate with 'source .venv/bin/activate' to type 'finterm …' directly." >&2
fi
