"""Training examples for `finterm train`: finterm's real prompt and an answer copied from the oracle.

Each example is a question, the numbered definitions retrieval returns for it (the oracle — the
definition that answers it — among distractors, RAFT-style), and a target answer made of the oracle's
own first sentences, each ending in its `[n]`. A share of the examples hold distractors only and
target the refusal (`REFUSAL`), so the model learns to say when the definitions do not answer.

Questions come from two places: the index's own entries, asked by name ("기준금리란?"), and the
project's question sets that are not held out (`QUESTION_SETS`). Held-out sets and the shared
evaluation set are refused by name. Everything is deterministic for a given `seed`.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from finterm import FintermError
from finterm.index.entry import BUNDLED_SOURCE, Entry
from finterm.rag.prompt import format_prompt

REFUSAL = "제공된 정의에서 답을 찾을 수 없습니다."
# Share of distractor-only examples: RAFT's 80 % oracle / 20 % distractor-only split, kept after the toy
# measurement (README, "Training your own adapter"; three seeds each): 0.1 often did not learn to refuse
# (refusal 0.33 on average), 0.2 refused 0.92 with copy 0.80, 0.3 refused answerable prompts (0.24) and
# copied less (0.65).
REFUSAL_SHARE = 0.2
DATA_DIR = Path(__file__).resolve().parent.parent / "bench" / "data"  # present in a source checkout
QUESTION_SETS = ("calibration.jsonl", "describe_tuning.jsonl", "natural_tuning.jsonl")
FORMAT = "finterm-train-examples/1"
MAX_ANSWER_CHARS = 300


@dataclass(frozen=True)
class Example:
    """One training pair; `oracles` are 1-based positions in the prompt (empty for a refusal)."""

    prompt: str
    answer: str
    kind: str  # "grounded" | "refusal"
    question: str
    origin: str  # "named" or the question set's file name
    entry_ids: tuple[str, ...]
    oracles: tuple[int, ...]

    def to_json(self) -> dict:
        return {**asdict(self), "entry_ids": list(self.entry_ids), "oracles": list(self.oracles)}


def _forbidden(path: Path) -> str | None:
    name, parts = path.name.lower(), [p.lower() for p in path.resolve().parts]
    if "holdout" in name:
        return "is a held-out set"
    if "eval" in parts and "shared" in parts or name.startswith("dev_questions"):
        return "is the shared evaluation set"
    return None


def read_questions(path: str | Path) -> list[tuple[str, tuple[str, ...]]]:
    """(question, expected terms) from a JSONL file of {"q", "expect": [...]} or {"q", "term"} lines."""
    path = Path(path)
    why = _forbidden(path)
    if why:
        raise FintermError(f"{path} {why}; training on it would spoil the evaluation, pass another file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FintermError(f"question file {path} cannot be read ({exc.strerror}); give a JSONL file") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            terms = tuple(row["expect"]) if "expect" in row else (row["term"],)
            out.append((str(row["q"]), tuple(str(t) for t in terms)))
        except (ValueError, KeyError, TypeError):
            raise FintermError(f"{path}:{n}: expected {{\"q\": …, \"expect\": [terms]}} or "
                               f"{{\"q\": …, \"term\": …}}") from None
    return [(q, t) for q, t in out if t]  # no expected term (off-topic) gives no oracle


def default_question_files() -> list[Path]:
    """The project's own non-held-out question sets, when this is a source checkout (else none)."""
    from finterm.index.views import bundled_questions

    return [DATA_DIR / f for f in QUESTION_SETS if (DATA_DIR / f).is_file()] + [bundled_questions()]


def _has_final(word: str) -> bool:
    ch = word.rstrip()[-1:] or "a"
    return "가" <= ch <= "힣" and (ord(ch) - 0xAC00) % 28 != 0 or ch.isdigit() and ch in "0136780"


def named_question(term: str, rng: random.Random) -> str:
    """A question that names `term`, in one of a few everyday forms (particles fitted to the word)."""
    i, ga = ("이", "이") if _has_final(term) else ("", "가")
    forms = [f"{term}{i}란?", f"{term}{ga} 뭐야?", f"{term}의 뜻을 알려줘", f"{term} 설명해줘",
             f"{term}에 대해 알려줘", f"{term}{i}란 무엇인가요?"]
    return rng.choice(forms)


def compose_answer(prompt_entries: list[Entry], oracles: list[int]) -> str:
    """The oracle definitions' first sentences (two for one oracle, one each for more), each with its [n]."""
    from finterm.index.morph import sentences

    per = 2 if len(oracles) == 1 else 1
    parts: list[str] = []
    for n in oracles:
        kept = []
        for s in sentences(prompt_entries[n - 1].definition)[:per]:
            if kept and sum(map(len, kept)) + len(s) > MAX_ANSWER_CHARS:
                break
            kept.append(s)
        parts.extend(f"{s} [{n}]" for s in kept)
    return " ".join(parts)


class _Resolver:
    """Expected term names -> index positions, with the index's own name normalisation."""

    def __init__(self, retriever) -> None:
        from finterm.index.normalize import norm_key

        self.keys, self.norm = retriever.keys, norm_key

    def __call__(self, terms: tuple[str, ...]) -> list[int]:
        found: list[int] = []
        for t in terms:
            for i in self.keys.get(self.norm(t), [])[:1]:
                if i not in found:
                    found.append(i)
        return found


def build_examples(retriever, question_files: list[str | Path] | None = None, *, k: int = 5,
                   refusal_share: float = REFUSAL_SHARE, seed: int = 0, named: bool = True,
                   limit: int | None = None) -> tuple[list[Example], dict]:
    """Examples for every usable question, and counts of what was used and skipped.

    `question_files` default to `default_question_files()`. Named questions are made for every
    entry of the index that is not from the bundled glossary, and for bundled entries that the
    question sets name (so the glossary's held-out entries, which have no questions, get none).
    `limit` keeps a random `limit` questions (after shuffling with `seed`).
    """
    if not 0 <= refusal_share < 1:
        raise FintermError(f"refusal share of {refusal_share} is out of range; use 0 to 0.9")
    if k < 2:
        raise FintermError(f"k of {k} leaves no room for distractors; use 2 or more definitions")
    rng = random.Random(seed)
    files = default_question_files() if question_files is None else [Path(f) for f in question_files]
    resolve, entries = _Resolver(retriever), retriever.entries
    items: list[tuple[str, list[int], str]] = []
    counts = {"questions_read": 0, "not_in_index": 0}
    for path in files:
        for q, terms in read_questions(path):
            counts["questions_read"] += 1
            found = resolve(terms)
            if found:
                items.append((q, found, Path(path).name))
            else:
                counts["not_in_index"] += 1
    if named:
        asked = {i for _, found, _ in items for i in found}
        for i, e in enumerate(entries):
            if e.source != BUNDLED_SOURCE or i in asked:
                items.append((named_question(e.term, rng), [i], "named"))
    rng.shuffle(items)
    if limit is not None:
        items = items[:limit]
    refusals = set(rng.sample(range(len(items)), round(refusal_share * len(items)))) if items else set()
    made = [_example(retriever, q, found, origin, j in refusals, k, rng) for j, (q, found, origin)
            in enumerate(items)]
    examples = [e for e, _ in made]
    counts.update(examples=len(examples), grounded=sum(e.kind == "grounded" for e in examples),
                  refusal=sum(e.kind == "refusal" for e in examples),
                  oracle_inserted=sum(inserted for _, inserted in made),
                  by_origin={o: sum(e.origin == o for e in examples) for o in sorted({e.origin for e in examples})})
    return examples, counts


def _example(retriever, q: str, found: list[int], origin: str, refusal: bool, k: int,
             rng: random.Random) -> tuple[Example, bool]:
    """The example, and whether an oracle had to be put in because retrieval missed it."""
    entries = retriever.entries
    pos = {e.id: i for i, e in enumerate(entries)}
    oracle_ids = {entries[i].id for i in found}
    hits = [pos[h.entry.id] for h in retriever.search(q, k=k + len(found)).hits]
    distractors = [i for i in hits if entries[i].id not in oracle_ids]
    while len(distractors) < k - (0 if refusal else len(found)) and len(distractors) < len(entries) - len(found):
        i = rng.randrange(len(entries))  # retrieval gave too few: fill with random entries
        if i not in distractors and i not in found:
            distractors.append(i)
    inserted = False
    if refusal:
        shown = distractors[:k]
    else:
        keep = distractors[:k - len(found)]
        # retrieval's order first; random fillers (retrieval gave too few, or abstained) after it
        shown = ([i for i in hits if i in found or i in keep] + [i for i in keep if i not in hits])[:k]
        for i in found:  # an oracle that retrieval missed goes in at a random place
            if i not in shown:
                if len(shown) >= k:
                    shown.pop(max(j for j, x in enumerate(shown) if x not in found))
                shown.insert(rng.randrange(len(shown) + 1), i)
                inserted = True
    prompt_entries = [entries[i] for i in shown]
    oracles = [n for n, i in enumerate(shown, 1) if i in found]
    answer = compose_answer(prompt_entries, oracles) if oracles else REFUSAL
    return Example(prompt=format_prompt(q, prompt_entries), answer=answer,
                   kind="grounded" if oracles else "refusal", question=q, origin=origin,
                   entry_ids=tuple(e.id for e in prompt_entries), oracles=tuple(oracles)), inserted


def dump(examples: list[Example], path: str | Path) -> None:
    """Write the examples as JSONL, after a first line naming the format."""
    with Path(path).open("w", encoding="utf-8") as f:
        f.write(json.dumps({"format": FORMAT, "examples": len(examples)}) + "\n")
        for e in examples:
            f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")


def load(path: str | Path) -> tuple[list[Example], dict]:
    """The examples of a `dump` file and their counts (build on a laptop, train on a GPU machine).

    The first line must name the format; a malformed row stops with its file:line (an example set with
    a hole in it would train silently on less)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise FintermError(f"examples file {path} cannot be read ({why})") from None
    try:
        head = json.loads(lines[0]) if lines else {}
    except ValueError:
        head = {}
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise FintermError(f"{path}:1: not a finterm examples file (its first line should name {FORMAT!r}; "
                           "write one with `finterm train --dump`)")
    examples = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            e = Example(prompt=str(row["prompt"]), answer=str(row["answer"]), kind=str(row["kind"]),
                        question=str(row["question"]), origin=str(row["origin"]),
                        entry_ids=tuple(str(i) for i in row["entry_ids"]),
                        oracles=tuple(int(i) for i in row["oracles"]))
        except (ValueError, KeyError, TypeError):
            raise FintermError(f"{path}:{n}: not an example (needs prompt, answer, kind, question, origin, "
                               "entry_ids, oracles)") from None
        if e.kind not in ("grounded", "refusal") or not e.prompt.strip() or not e.answer.strip():
            raise FintermError(f"{path}:{n}: kind must be grounded or refusal, with a prompt and an answer")
        examples.append(e)
    if not examples:
        raise FintermError(f"{path} holds no examples")
    grounded = sum(e.kind == "grounded" for e in examples)
    return examples, {"examples": len(examples), "grounded": grounded, "refusal": len(examples) - grounded,
                      "not_in_index": 0, "from_file": str(path)}
