"""The untargeted control: the teacher's examples for *random* seeds instead of the wrong ones, at the
budget of the matching LLM2LLM run (``method.budget_from``), added once before training.

With ``teacher=oracle`` this is the paper's targeted-vs-untargeted ablation under a perfect teacher:
the same number of equally good examples, only not aimed at what the student gets wrong. The budget
is spread over the seeds as for budget-matched EDA (``baselines.budget.split_budget``: a seeded
choice of seeds gets one more), and each chosen seed is sent to the teacher exactly as LLM2LLM sends
a wrong one (iteration 1's request identities, ``k`` = its share).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from llm2llm.example import Example
from llm2llm.methods.augment import AugmentConfig, counts
from llm2llm.methods.base import Method, register
from llm2llm.teacher.core import merge_stats


@dataclass
class UntargetedConfig(AugmentConfig):
    num_aug: int = 1


@register
class Untargeted(Method):
    name = "untargeted"
    schema = UntargetedConfig
    needs_teacher = True
    control = True

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        per_seed, budget = counts(cfg, seeds)
        by_count: dict[int, list[Example]] = defaultdict(list)
        for seed, n in zip(seeds, per_seed):
            if n:
                by_count[n].append(seed)
        added: list[Example] = []
        stats: dict[str, Any] = {}
        for n in sorted(by_count):
            result = teacher.augment(by_count[n], k=n, iteration=1, existing=list(seeds) + added, forbidden=test)
            added += result.examples
            merge_stats(stats, result.stats)
        requested = sum(per_seed)
        return list(seeds) + added, {"requested": requested, "kept": len(added), "shortfall": requested - len(added),
                                     "teacher": stats, **budget}
