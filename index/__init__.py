"""The indexer: load and clean glossaries, embed entries, and store them as a FAISS + BM25 index."""
