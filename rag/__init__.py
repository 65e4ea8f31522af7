"""Retrieval, prompting, generation, grounding, study and answer checking."""
