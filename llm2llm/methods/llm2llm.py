"""LLM2LLM (Lee et al., 2024): D_0 is the seed set; after every iteration the teacher writes
``method.k`` new examples from each seed the student still gets wrong (see llm2llm/loop.py)."""

from dataclasses import dataclass

from llm2llm.config import MethodConfig
from llm2llm.config.check import at_least
from llm2llm.methods.base import Method, register


@dataclass
class LLM2LLMConfig(MethodConfig):
    #: augmentations per wrong seed example (paper: 1)
    k: int = 1
    #: only wrong seeds go to the teacher; false = the "non-targeted" ablation (all seeds)
    targeted: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self.k, 1, "method.k")


@register
class LLM2LLM(Method):
    name = "llm2llm"
    schema = LLM2LLMConfig
    needs_teacher = True
    iterates = True
