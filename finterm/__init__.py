"""finterm: a retrieval-augmented assistant for Korean economics and finance terms.

The pipeline lives in two subpackages: `finterm.index` (load, clean, embed, store) and
`finterm.rag` (retrieve, prompt, generate, study, check). `finterm.cli` is the command line;
`finterm.ui` is the Streamlit app. Importing this package is cheap: no torch, no models.
"""

__version__ = "0.1.0"


class FintermError(Exception):
    """A user-facing problem: the message is one line that says what is wrong and how to fix it."""
