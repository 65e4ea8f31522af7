"""The `finterm train` command: build the grounded examples, optionally dump them, train an adapter.

    finterm train --dump examples.jsonl                    # only build and write the examples
    finterm train --examples examples.jsonl --out my-adapter   # train on examples written earlier
    finterm train --out my-adapter                         # continue the seed's adapter (needs a GPU)
    finterm ask "기준금리가 뭐야?" --generator qlora --adapter my-adapter

Kept apart from finterm/cli.py so the CLI file only registers it; torch is imported by `train` only.
"""

from __future__ import annotations

import json
import sys

from finterm import FintermError


def add_train_parser(sub) -> None:
    """Register `finterm train` on the CLI's subparsers."""
    from finterm.rag.generate import DEFAULT_ADAPTER
    from finterm.rag.train_data import REFUSAL_SHARE

    s = sub.add_parser("train", help="train a LoRA adapter to answer from the definitions, with citations (QLoRA)")
    d = s.add_argument_group("data")
    d.add_argument("--index", help="index whose entries are asked by name and used as context (default: bundled)")
    d.add_argument("--questions", action="append", metavar="FILE.jsonl",
                   help="question set(s) of {\"q\", \"expect\": [terms]} or {\"q\", \"term\"} lines "
                        "(default: the project's non-held-out sets in bench/data, when present)")
    d.add_argument("--no-named", action="store_true", help="do not ask the index's entries by name")
    d.add_argument("-k", type=int, default=5, help="definitions in each prompt (default 5)")
    d.add_argument("--refusal-share", type=float, default=REFUSAL_SHARE,
                   help=f"share of distractor-only examples that teach the refusal (default {REFUSAL_SHARE})")
    d.add_argument("--limit", type=int, help="use at most N questions (a random N)")
    d.add_argument("--seed", type=int, default=0, help="same seed, same examples and order (default 0)")
    d.add_argument("--dump", metavar="FILE.jsonl", help="write the examples here (without --out: only this)")
    d.add_argument("--examples", metavar="FILE.jsonl",
                   help="train on examples written earlier with --dump (no index or question sets are read)")
    m = s.add_argument_group("model (defaults: the seed's recipe)")
    m.add_argument("--out", help="folder for the new adapter and training.json")
    m.add_argument("--adapter", default=DEFAULT_ADAPTER,
                   help=f"adapter to continue (default {DEFAULT_ADAPTER}); 'none' starts a new one")
    m.add_argument("--base-model", help="base model id or folder (default: the adapter's base)")
    m.add_argument("--max-steps", type=int, help="optimizer steps (overrides --epochs)")
    m.add_argument("--epochs", type=float, default=1.0)
    m.add_argument("--lr", type=float, default=3e-4)
    m.add_argument("--batch-size", type=int, default=4)
    m.add_argument("--grad-accum", type=int, default=4, help="micro-batches per optimizer step (default 4)")
    m.add_argument("--max-length", type=int, help="longest example in tokens (default: the model's context)")
    m.add_argument("--optim", default="paged_adamw_8bit", help="paged_adamw_8bit (default) or adamw_torch")
    m.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps (last 2 kept)")
    m.add_argument("--no-gradient-checkpointing", action="store_true", help="faster, more memory")
    m.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    m.add_argument("--cpu-ok", action="store_true", help="train a large model on the CPU anyway (very slow)")
    m.add_argument("--overwrite", action="store_true", help="replace an earlier adapter in --out")
    s.add_argument("--json", action="store_true",
                   help='print {"steps", "examples", "loss_first", "loss_last", "out"} at the end')
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from finterm.api import open_retriever
    from finterm.rag.train_data import build_examples, dump, load

    if args.examples is not None and args.dump is not None:
        from finterm.cli import UsageError

        raise UsageError("--examples reads examples and --dump writes them; give one of the two")
    if args.out is None and args.dump is None:
        from finterm.cli import UsageError

        raise UsageError("give --out DIR to train (and/or --dump FILE.jsonl to write the examples)")
    if args.limit is not None and args.limit < 1:
        from finterm.cli import UsageError

        raise UsageError(f"--limit of {args.limit} is too small; use 1 or more")
    config = None
    if args.out is not None:  # settings are checked before the slow part
        from finterm.rag.train import TrainConfig

        adapter = None if args.adapter.lower() == "none" else args.adapter
        config = TrainConfig(out=args.out, adapter=adapter, base_model=args.base_model, lr=args.lr,
                             epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                             grad_accum=args.grad_accum, max_length=args.max_length, optim=args.optim,
                             save_steps=args.save_steps, gradient_checkpointing=not args.no_gradient_checkpointing,
                             seed=args.seed, device=args.device, cpu_ok=args.cpu_ok, overwrite=args.overwrite)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    if args.examples is not None:
        examples, counts = load(args.examples)
        log(f"finterm: {counts['examples']} examples from {args.examples} ({counts['grounded']} grounded, "
            f"{counts['refusal']} refusal)")
    else:
        retriever = open_retriever(args.index)
        examples, counts = build_examples(retriever, args.questions, k=args.k, refusal_share=args.refusal_share,
                                          seed=args.seed, named=not args.no_named, limit=args.limit)
        log(f"finterm: {counts['examples']} examples ({counts['grounded']} grounded, {counts['refusal']} "
            f"refusal; {counts['not_in_index']} questions name no entry of the index)")
    if args.dump:
        try:
            dump(examples, args.dump)
        except OSError as exc:
            raise FintermError(f"--dump {args.dump} cannot be written ({exc.strerror})") from None
        log(f"finterm: wrote the examples to {args.dump}")
    if config is None:
        if args.json:
            sys.stdout.write(json.dumps({"examples": len(examples), "dump": args.dump, **counts},
                                        ensure_ascii=False) + "\n")
        return 0
    from finterm.rag.train import train

    result = train(examples, config, counts=counts, progress=not args.quiet, log=log)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        print(f"trained {result.steps} steps on {result.examples} examples: loss {result.loss_first:.3f} -> "
              f"{result.loss_last:.3f}; adapter in {result.out}\n"
              f"try it: finterm ask \"기준금리가 뭐야?\" --generator qlora --adapter {result.out}")
    return 130 if result.interrupted else 0
