#!/usr/bin/env bash
# Set up (if needed) and run finterm on the bundled glossary with the offline defaults.
# No arguments: open the app. With arguments: run that finterm command, e.g. scripts/run.sh ask "GDP가 뭐야?"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then set -- ui; fi
exec .venv/bin/finterm "$@"
