"""LLM2LLM (Lee et al., 2024): D_0 is the seed set; after every iteration the teacher writes
``method.k`` new examples from each seed the student still gets wrong (see llm2llm/loop.py)."""

from llm2llm.methods.base import Method, register


@register
class LLM2LLM(Method):
    name = "llm2llm"
    needs_teacher = True
    iterates = True
