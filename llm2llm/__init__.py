"""llm2llm: a research harness for LLM2LLM (Lee et al., 2024) and its baselines."""

__version__ = "0.1.0"
