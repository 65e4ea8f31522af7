"""What every `finterm` command module shares: the usage error (exit 2) and JSON output."""

from __future__ import annotations

import json
import sys

from finterm import FintermError


class UsageError(FintermError):
    """Bad command-line input: exit status 2."""


def print_json(obj) -> None:
    """One JSON object on stdout, UTF-8 text as is."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
