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
from typing import Any

from llm2llm.example import Example
from llm2llm.methods.augment import counts
from llm2llm.methods.base import Method, register


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Teacher stats of several calls as one (counts summed, rejection reasons merged)."""
    out: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            if key == "rejected":
                merged = out.setdefault("rejected", {})
                for reason, n in value.items():
                    merged[reason] = merged.get(reason, 0) + n
            elif isinstance(value, bool):
                out[key] = out.get(key, False) or value
            elif isinstance(value, (int, float)):
                out[key] = out.get(key, 0) + value
    return out


@register
class Untargeted(Method):
    name = "untargeted"
    needs_teacher = True

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        per_seed, budget = counts(cfg, seeds)
        by_count: dict[int, list[Example]] = defaultdict(list)
        for seed, n in zip(seeds, per_seed):
            if n:
                by_count[n].append(seed)
        added: list[Example] = []
        parts = []
        for n in sorted(by_count):
            result = teacher.augment(by_count[n], k=n, iteration=1, existing=list(seeds) + added, forbidden=test)
            added += result.examples
            parts.append(result.stats)
        requested = sum(per_seed)
        return list(seeds) + added, {"requested": requested, "kept": len(added), "shortfall": requested - len(added),
                                     "teacher": merge_stats(parts), **budget}
