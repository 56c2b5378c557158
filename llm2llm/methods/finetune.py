"""Plain fine-tuning on the seed set: iteration 0 of the loop only."""

from llm2llm.methods.base import Method, register


@register
class Finetune(Method):
    name = "finetune"
