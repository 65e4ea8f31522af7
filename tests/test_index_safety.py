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


# --- item 9: the manifest's checksums catch changed files; item 7: wrong JSON types ---------------
@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(small_index, dst)
    return dst


def _load_error(path: Path) -> str:
    with pytest.raises(FintermError) as err:
        load_index(path)
    msg = str(err.value)
    assert "\n" not in msg and f"finterm index --out {path}" in msg
    return msg


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_records_a_checksum_of_each_file(index_copy):
    files = _manifest(index_copy)["files"]
    assert set(files) == {"entries.jsonl", "vectors.faiss", "tokens.json", "heads.json", "views.npy", "views.json"}


def test_a_bit_flip_in_the_vectors_is_detected(index_copy):
    f = index_copy / "vectors.faiss"
    data = bytearray(f.read_bytes())
    data[-100] ^= 0x01  # inside a vector: FAISS itself reads it without complaint
    f.write_bytes(bytes(data))
    assert "vectors.faiss" in _load_error(index_copy)


def test_reordered_entries_are_detected(index_copy):
    f = index_copy / "entries.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    f.write_text("".join([lines[1], lines[0], *lines[2:]]), encoding="utf-8")
    assert "entries.jsonl" in _load_error(index_copy)


def test_a_mismatched_dim_names_the_dimensions(index_copy):
    m = _manifest(index_copy)
    m["dim"] = 768
    (index_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    msg = _load_error(index_copy)
    assert "768" in msg and "384" in msg and "dimension" in msg


@pytest.mark.parametrize("damage", ["tokens-dict", "entries-list", "manifest-list", "no-dim", "no-embedder",
                                    "entries-number"])
def test_index_files_of_the_wrong_json_type_are_one_line_errors(index_copy, damage):
    m = _manifest(index_copy)
    if damage == "tokens-dict":
        (index_copy / "tokens.json").write_text('{"a": 1}', encoding="utf-8")
    elif damage == "entries-list":
        (index_copy / "entries.jsonl").write_text("[1, 2]\n" * 20, encoding="utf-8")
    elif damage == "entries-number":
        (index_copy / "entries.jsonl").write_text("5\n" * 20, encoding="utf-8")
    elif damage == "manifest-list":
        (index_copy / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    else:
        m.pop(damage.removeprefix("no-"))
        (index_copy / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    _load_error(index_copy)
