"""`finterm` study commands: quiz (and the mock test), read, progress, export, check.

Split from cli.py, which parses the arguments and calls these; the same one-line error rules apply.
"""

from __future__ import annotations

import sys
from pathlib import Path

from finterm import FintermError
from finterm.cli_common import UsageError, print_json

_FEEL = {"": None, "h": "hard", "e": "easy"}


def _ask_choice(n: int) -> tuple[int, str | None] | None:
    """Read 1..n from stdin, optionally with h (hard) or e (easy): (option, rating); None on EOF or 'q'."""
    while True:
        sys.stdout.write(f"답 (1-{n}; 맞힐 자신이 있으면 3e, 겨우 알면 3h; q=그만): ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line or line.strip().lower() in ("q", "quit", "exit"):
            return None
        text = line.strip().lower()
        digits, feel = (text[:-1], text[-1]) if text[-1:] in ("h", "e") else (text, "")
        if digits.isdigit() and 1 <= int(digits) <= n:
            return int(digits) - 1, _FEEL[feel]
        print(f"1부터 {n}까지의 번호를 입력하세요 (쉬웠으면 뒤에 e, 어려웠으면 h).")


def _when(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def cmd_quiz(args) -> int:
    from finterm.api import open_retriever
    from finterm.rag.quiz import make_quiz

    if args.mock:
        return cmd_mock(args)
    if args.minutes is not None:
        raise UsageError("--minutes is for a mock test; add --mock")
    args.n = 10 if args.n is None else args.n
    if args.n < 1:
        raise UsageError(f"--n of {args.n} is too small; ask for 1 question or more")
    if not 0 <= args.difficulty <= 1:
        raise UsageError(f"--difficulty of {args.difficulty} is out of range; use 0 (easy) to 1 (hard)")
    if args.seed is None:
        import random

        args.seed = random.randrange(1_000_000)
    retriever = open_retriever(args.index)
    first = None
    if args.review:
        from finterm.rag.study import StudyDB

        with StudyDB() as db:
            first = db.review_queue([e.id for e in retriever.entries])
    questions = make_quiz(retriever, args.n, seed=args.seed, category=args.category,
                          difficulty=args.difficulty, first=first)
    if args.json:
        print_json({"questions": [q.to_json() for q in questions]})
        return 0
    import time

    take_quiz(questions, session=f"cli-{int(time.time())}")
    return 0


def take_quiz(questions, *, session: str) -> tuple[int, int]:
    """Ask `questions` one by one on stdin, recording each answer as an FSRS review; (asked, right).

    Shared by `finterm quiz` and `finterm read --quiz`. EOF or 'q' ends the quiz early.
    """
    from finterm.rag.quiz import CIRCLED
    from finterm.rag.study import Attempt, StudyDB

    right = asked = 0
    print("복습 일정: 답마다 FSRS가 다음 복습 날짜를 정합니다 — 틀리면 곧 다시, 맞히면 점점 더 늦게 "
          "(3h = 맞혔지만 어려웠음, 3e = 쉬웠음).", file=sys.stderr)
    with StudyDB() as db:
        for n, q in enumerate(questions, 1):
            print(f"\n[{n}/{len(questions)}] {q.prompt}")
            for k, option in enumerate(q.options):
                print(f"  {CIRCLED[k]} {option}")
            got = _ask_choice(len(q.options))
            if got is None:
                break
            choice, feel = got
            card = db.record(Attempt.from_question(q, choice), session=session,
                             rating=feel if choice == q.answer else None)
            asked += 1
            if choice == q.answer:
                right += 1
                print(f"정답입니다. (다음 복습 {_when(card.due)})")
            else:
                print(f"오답입니다. 정답은 {CIRCLED[q.answer]} {q.options[q.answer]} (다음 복습 {_when(card.due)})")
            print(f"해설: {q.explanation}\n출처: {q.source}")
    print(f"\n{asked}문제 중 {right}문제 정답." + (" 진행 상황: finterm progress" if asked else ""))
    return asked, right


def _mock_choice(n: int) -> int | None | str:
    """1..n -> 0..n-1; Enter -> None (skip); 'q' or EOF -> "stop"."""
    while True:
        sys.stdout.write(f"답 (1-{n}, Enter=건너뛰기, q=제출): ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line or line.strip().lower() in ("q", "quit", "exit"):
            return "stop"
        if not line.strip():
            return None
        if line.strip().isdigit() and 1 <= int(line.strip()) <= n:
            return int(line.strip()) - 1
        print(f"1부터 {n}까지의 번호를 입력하세요.")


def cmd_mock(args) -> int:
    """`finterm quiz --mock`: every item in turn with the time left, no feedback, then the result."""
    import random
    import time

    from finterm.api import open_retriever
    from finterm.rag.mock import NOTE, build_mock, record_mock, score_mock
    from finterm.rag.quiz import CIRCLED

    n = 40 if args.n is None else args.n
    minutes = 50.0 if args.minutes is None else args.minutes
    seed = random.randrange(1_000_000) if args.seed is None else args.seed
    test = build_mock(open_retriever(args.index), n, minutes=minutes, seed=seed, difficulty=args.difficulty)
    if args.json:
        print_json(test.to_json())
        return 0
    print(f"모의고사: {len(test.items)}문항, {minutes:g}분, {test.max_points}점 만점. "
          "채점과 해설은 끝난 뒤에 나옵니다.")
    print(NOTE)
    answers: dict[str, int | None] = {}
    start = time.monotonic()
    for k, it in enumerate(test.items, 1):
        left = minutes * 60 - (time.monotonic() - start)
        if left <= 0:
            print("\n시간이 다 되었습니다. 남은 문항은 답하지 않은 것으로 채점합니다.")
            break
        q = it.question
        clock = f"{int(left) // 60}:{int(left) % 60:02d}"
        print(f"\n[{k}/{len(test.items)}] {it.section} · {it.points}점 · 남은 시간 {clock}")
        print(q.prompt)
        for j, option in enumerate(q.options):
            print(f"  {CIRCLED[j]} {option}")
        choice = _mock_choice(len(q.options))
        if choice == "stop":
            break
        if time.monotonic() - start > minutes * 60:
            print("시간이 지나 이 답은 채점하지 않습니다.")
            break
        answers[q.id] = choice
    result = score_mock(test, answers, time.monotonic() - start)
    from finterm.rag.study import StudyDB

    with StudyDB() as db:
        record_mock(db, test, answers, session=f"mock-{int(time.time())}")
    used = int(result.seconds)
    print(f"\n결과: {result.points}/{result.max_points}점 ({result.percent:g}%), "
          f"{result.correct}/{result.total}문항 정답, {result.answered}문항 답함, "
          f"걸린 시간 {used // 60}분 {used % 60}초 / {minutes:g}분")
    for sec in result.sections:
        print(f"  {sec['section']}: {sec['correct']}/{sec['items']}문항, {sec['points']}/{sec['max_points']}점")
    for r in result.review:
        mine = CIRCLED[r["chosen"]] if r["chosen"] is not None else "무응답"
        print(f"\n[다시 보기 {r['number']}] {r['prompt']}\n  내 답: {mine} · 정답: "
              f"{CIRCLED[r['answer']]} {r['options'][r['answer']]}\n  {r['explanation']}\n  출처: {r['source']}")
    print(f"\n{NOTE}")
    return 0


def cmd_read(args) -> int:
    from finterm.api import open_retriever
    from finterm.rag.news import read_news

    if args.n is not None and not args.quiz:
        raise UsageError("--n은 --quiz와 함께 씁니다 (뉴스 퀴즈의 문항 수); --quiz를 더하세요")
    if args.n is not None and args.n < 1:
        raise UsageError(f"--n {args.n}은 너무 작습니다; 1문항 이상을 주세요")
    if args.quiz and args.file == "-" and not args.json:
        raise UsageError("--quiz는 답을 표준 입력에서 읽으므로 기사는 파일로 주세요 (finterm read 기사.txt --quiz)")
    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FintermError(f"cannot read {args.file}: {exc}; give a UTF-8 text file or '-' for stdin") from None
    retriever = open_retriever(args.index)
    found = read_news(retriever, text)
    questions = _news_questions(retriever, found, args) if args.quiz else None
    if args.anki:
        from finterm.rag.export import export

        n = export([f.entry for f in found], args.anki)
        print(f"exported {n} cards to {args.anki}", file=sys.stderr)
    if args.json:
        extra = {"questions": [q.to_json() for q in questions]} if questions is not None else {}
        print_json({"terms": [f.to_json() for f in found], **extra})
        return 0
    if not found:
        print("용어집에 있는 용어를 찾지 못했습니다.")
        return 0
    marked, last = [], 0
    for start, end in sorted(s for f in found for s in f.spans):
        marked.append(text[last:start] + "[" + text[start:end] + "]")
        last = end
    print(("".join(marked) + text[last:]).rstrip())
    print(f"\n찾은 용어 {len(found)}개 (중요한 순):")
    for f in found:
        print(f"- {f.entry.term} ×{len(f.spans)}: {f.short_definition} ({f.entry.source})")
    if questions is not None:
        import time

        print(f"\n이 기사의 용어로 퀴즈 {len(questions)}문제 (중요한 용어부터):")
        take_quiz(questions, session=f"read-{int(time.time())}")
    return 0


def _news_questions(retriever, found, args):
    """The news reader's quiz on the terms found, as the app's 뉴스 읽기 page makes it (`news_quiz`)."""
    import random

    from finterm.rag.news import QUIZ_MAX, news_quiz

    seed = random.randrange(1_000_000) if args.seed is None else args.seed
    return news_quiz(retriever, found, QUIZ_MAX if args.n is None else args.n, seed=seed)


def cmd_progress(args) -> int:
    from finterm.rag.study import StudyDB

    with StudyDB() as db:
        p = db.progress(weakest=args.weakest)
        notebook = db.notebook() if args.notebook else None
    if args.json:
        if notebook is not None:
            p["notebook_entries"] = notebook
        print_json(p)
        return 0
    if not p["attempts"]:
        print("아직 푼 문제가 없습니다. `finterm quiz`로 시작하세요.")
        return 0
    from finterm.rag.schedule import STATE_KO

    print(f"전체: {p['attempts']}문제, 정답 {p['correct']} ({p['accuracy']:.0%}); 오답노트 {p['notebook']}개")
    print(f"복습: 지금 {p['due']}개, 오늘 안에 {p['due_today']}개 (공부한 용어 {p['terms']}개, "
          f"예상 기억률 {p['recall']:.0%}, FSRS)")
    print("단계별 용어 수: " + ", ".join(f"{STATE_KO[k]} {n}" for k, n in p["states"].items()))
    for c in p["categories"]:
        print(f"  {c['category'] or '-'}: {c['attempts']}문제, 정답률 {c['accuracy']:.0%}, "
              f"용어 {c['terms']}개")
    if p["weakest"]:
        print("약한 용어: " + ", ".join(f"{w['term']} ({w['wrong']}/{w['seen']} 오답, 기억 {w['recall']:.0%})"
                                       for w in p["weakest"]))
    for item in notebook or []:
        print(f"\n[오답노트] {item['term']} — 고른 답: {item['chosen_text']}\n  {item['explanation']}")
    return 0


def cmd_export(args) -> int:
    from finterm.api import open_retriever
    from finterm.rag.export import export

    fmt = args.format or args.kind
    if args.kind and args.format and args.kind != args.format:
        raise UsageError(f"export {args.kind} and --format {args.format} disagree; give one of them")
    entries = open_retriever(args.index).entries
    if args.category:
        entries = [e for e in entries if e.category == args.category]
    if args.notebook:
        from finterm.rag.study import StudyDB

        with StudyDB() as db:
            wrong = {item["term_id"] for item in db.notebook()}
        entries = [e for e in entries if e.id in wrong]
    n = export(entries, args.out, fmt)
    print(f"exported {n} cards to {args.out}", file=sys.stderr)
    return 0


def cmd_check(args) -> int:
    from finterm.api import open_retriever
    from finterm.rag.check import VERDICT_KO, check_answer

    if (args.term is None) == (args.question is None):
        raise UsageError("give exactly one of --term T or --question Q, and --answer A")
    generator = None
    if args.generator != "extractive":  # a bad --adapter fails before any index work
        from finterm.rag.generate import generator_from_args

        generator = generator_from_args(args)
    result = check_answer(open_retriever(args.index), args.answer, term=args.term, question=args.question)
    feedback = None
    if generator is not None:
        from finterm.rag.feedback import written_feedback

        feedback = written_feedback(result, args.answer, generator)
    if args.json:
        print_json({**result.to_json(), **({"feedback": feedback.to_json()} if feedback else {})})
        return 0
    print(f"{VERDICT_KO[result.verdict]} ({result.verdict}, 점수 {result.score:.2f})")
    if result.closer_to is not None:
        print(f"답이 '{result.closer_to.term}'의 뜻에 더 가깝습니다.")
    if result.missing and result.verdict != "correct":
        print("빠진 핵심 개념: " + ", ".join(result.missing))
    r = result.reference
    print(f"\n기준 정의 — {r.term}: {r.definition}\n출처: {r.source}")
    if feedback is not None:
        from finterm.rag.feedback import GENERATED_NOTE

        print(f"\n모델 피드백 ({feedback.generator}, generated):\n{feedback.text}\n({GENERATED_NOTE})")
    return 0
