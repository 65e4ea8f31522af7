"""An index build never deletes what is not an index, and a loaded index is the one that was built."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from finterm import FintermError
from finterm.api import build
from finterm.index.store import load_index

MINI = Path(__file__).parent / "data" / "mini_glossary.jsonl"


def _quiet_build(files, out) -> dict:
    return build(files, out, progress=False, log=lambda m: None)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- item 1: --out only ever replaces a finterm index ------------------------------------------
def test_building_into_a_folder_of_other_files_touches_nothing(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "my-notes.txt").write_text("시험 공부 메모", encoding="utf-8")
    shutil.copy(MINI, out / "source.jsonl")
    (out / "sub").mkdir()
    (out / "sub" / "a.txt").write_text("a", encoding="utf-8")
    before = _tree(out)
    with pytest.raises(FintermError) as err:
        _quiet_build([out / "source.jsonl"], out)
    msg = str(err.value)
    assert "\n" not in msg and str(out) in msg and "not a finterm index" in msg and "--out" in msg
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # nothing renamed aside


def test_finterm_home_as_out_is_refused(tmp_path):
    home = Path(os.environ["FINTERM_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "study.sqlite").write_bytes(b"answers")
    with pytest.raises(FintermError, match="not a finterm index"):
        _quiet_build([MINI], home)
    assert (home / "study.sqlite").read_bytes() == b"answers"


def test_out_dot_and_out_file_are_one_line_refusals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FintermError, match="not a finterm index"):
        _quiet_build([MINI], Path("."))
    f = tmp_path / "some_file"
    f.write_text("mine", encoding="utf-8")
    with pytest.raises(FintermError, match="is a file"):
        _quiet_build([MINI], f)
    assert f.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "some_file"]


def test_an_index_or_a_damaged_index_is_replaced(tmp_path):
    out = tmp_path / "idx"
    out.mkdir()  # an empty folder is fine
    _quiet_build([MINI], out)
    (out / "manifest.json").write_text("{garbage", encoding="utf-8")  # damaged, only index files: rebuildable
    _quiet_build([MINI], out)
    assert len(load_index(out).entries) == 20
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["entries"] == 20
