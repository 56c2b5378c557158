"""Plain fine-tuning on the seed set: iteration 0 of the loop only."""

from dataclasses import dataclass

from llm2llm.config import MethodConfig
from llm2llm.methods.base import Method, register


@dataclass
class FinetuneConfig(MethodConfig):
    """Nothing beyond the base: the seeds are the training set."""


@register
class Finetune(Method):
    name = "finetune"
    schema = FinetuneConfig
