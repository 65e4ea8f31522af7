"""Terminal output that glossary text cannot take over: control characters are shown, not obeyed.

Imported text is cleaned of escapes (index/clean.py), but an index may come from elsewhere. Every
control character except newline and tab (and, on stderr, the carriage return progress bars need)
is written as a visible `\\u001b`-style escape. In JSON output that is the same character, escaped.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

_STDOUT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_STDERR_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def neutralise(text: str, pattern: re.Pattern = _STDOUT_CONTROLS) -> str:
    """`text` with each control character (but newline and tab) written as `\\uXXXX`."""
    return pattern.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


class _Safe:
    """A text stream wrapper that neutralises what is written through it."""

    def __init__(self, stream, pattern: re.Pattern) -> None:
        self._stream, self._pattern = stream, pattern

    def write(self, text: str) -> int:
        return self._stream.write(neutralise(text, self._pattern))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextmanager
def safe_streams():
    """Within the block, sys.stdout and sys.stderr neutralise control characters."""
    import sys

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Safe(out, _STDOUT_CONTROLS), _Safe(err, _STDERR_CONTROLS)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
