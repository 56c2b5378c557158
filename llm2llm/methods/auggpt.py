"""AugGPT (Dai et al. 2023): D_0 = seeds + the teacher's label-preserving rephrasings of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm2llm.example import Example
from llm2llm.methods.augment import AugmentConfig, counts
from llm2llm.methods.base import Method, register


@dataclass
class AugGPTConfig(AugmentConfig):
    """``num_aug`` rephrasings per seed (default 4), or the budget of an LLM2LLM run."""


@register
class AugGPT(Method):
    name = "auggpt"
    schema = AugGPTConfig
    needs_teacher = True

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        from baselines.auggpt import auggpt_augment

        per_seed, budget = counts(cfg, seeds)
        added, stats = auggpt_augment(teacher, seeds, per_seed, forbidden=test)
        return list(seeds) + added, {**stats, **budget}
