#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, offline. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "[test]"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q -rs "$@"  # -rs: say why a test was skipped
