"""The Streamlit app (`finterm ui`): screens only.

`ui/app.py` is the entry script; each page is its own script (`ask_page.py`, `glossary_page.py`)
registered in app.py's PAGES list. Screens call `finterm.api` / `finterm.rag` — the same functions
the CLI calls — and never retrieve, prompt or score by themselves.
"""
