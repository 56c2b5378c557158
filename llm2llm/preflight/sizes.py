"""How big the preflight's measurements are: toy (CPU, CI) or gpu (a few minutes on one GPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Sizes:
    name: str
    #: a tiny model of the student's family (2 layers, width 64) instead of the student's own widths
    toy: bool
    #: decoder layers of the model that trains (None: all). A 7B full fine-tune under ZeRO-3 needs ~16 bytes
    #: per weight spread over the node's GPUs (~108 GB): one GPU holds a few of its layers, which have the
    #: same shapes as the rest, so per-token cost and MFU carry over (flops.py scales them to the full depth)
    train_layers: int | None
    train_seq_len: int
    #: labelled (answer) tokens at the end of each training row
    train_target: int
    #: micro-batch and gradient accumulation of the timed steps (None: the recipe's, as one rank of its node runs them)
    micro_batch: int | None
    accumulation: int | None
    #: optimizer steps; the first is warm-up and not timed
    train_steps: int
    #: decoder layers of the model that evaluates (None: all; 7B in bf16 fits one GPU)
    eval_layers: int | None
    eval_examples: int
    eval_prompt_words: int
    eval_max_new_tokens: int
    score_examples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TOY = Sizes(name="toy", toy=True, train_layers=None, train_seq_len=32, train_target=8, micro_batch=2, accumulation=1,
            train_steps=3,
            eval_layers=None, eval_examples=8, eval_prompt_words=16, eval_max_new_tokens=8, score_examples=8)

GPU = Sizes(name="gpu", toy=False, train_layers=8, train_seq_len=512, train_target=128, micro_batch=None,
            accumulation=None, train_steps=5,
            eval_layers=None, eval_examples=48, eval_prompt_words=128, eval_max_new_tokens=256, score_examples=64)

PRESETS = {s.name: s for s in (TOY, GPU)}


def pick(name: str, cuda: bool, **overrides: Any) -> Sizes:
    """``auto``: gpu where CUDA is available, toy elsewhere; then any explicit overrides (None ones ignored)."""
    base = PRESETS["gpu" if cuda else "toy"] if name == "auto" else PRESETS[name]
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
