"""Baselines: EDA and AugGPT (example -> examples augmenters), S2L (a data selector), and budget
matching against an LLM2LLM run. Each is a plain function; ``llm2llm.methods`` wires them in."""
