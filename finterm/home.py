"""Where finterm keeps its data: one home folder for built indexes, the vector cache and the study DB.

`FINTERM_HOME` overrides the default, which follows XDG (`~/.local/share/finterm`).
"""

from __future__ import annotations

import os
from pathlib import Path

from finterm import FintermError


def home() -> Path:
    """The finterm home folder (created on first use)."""
    env = os.environ.get("FINTERM_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "finterm"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FintermError(f"FINTERM_HOME {path} is a file, not a folder; point FINTERM_HOME at a folder "
                           f"(it is created if missing)") from None
    except OSError as exc:
        raise FintermError(f"cannot create the finterm home folder {path} ({exc.strerror}); set FINTERM_HOME "
                           f"to a folder you can write") from None
    return path


def default_index_dir() -> Path:
    """The index built from the bundled glossary with the default embedder."""
    return home() / "indexes" / "default"


def vector_cache_path() -> Path:
    """SQLite file caching passage vectors by content hash, shared by all index builds."""
    return home() / "vector-cache.sqlite"


def study_db_path() -> Path:
    """SQLite file holding quiz attempts, FSRS review cards and the error notebook."""
    return home() / "study.sqlite"


def bundled_glossary() -> Path:
    """The glossary shipped with the package, in the native JSONL schema."""
    from importlib.resources import files

    return Path(str(files("finterm.index") / "data" / "glossary.jsonl"))
