"""What the one-round augmentations (EDA, AugGPT, the untargeted and random-extra controls) share:
their settings' base and how many augmentations each seed gets (budget-matched on request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from llm2llm.config import MethodConfig
from llm2llm.config.check import at_least
from llm2llm.example import Example


@dataclass
class AugmentConfig(MethodConfig):
    #: augmentations per seed example
    num_aug: int = 4
    #: set the total augmentations to what an LLM2LLM run added: its results.json, its run directory, or a
    #: directory to search for the one finished LLM2LLM run of this task, seed and student
    budget_from: Optional[str] = None
    #: with a directory to search: take the LLM2LLM run of this teacher (teacher.name), where there are several
    budget_teacher: Optional[str] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self.num_aug, 1, "method.num_aug")


def counts(cfg: Any, seeds: list[Example]) -> tuple[list[int], dict[str, Any]]:
    """Augmentations per seed, and the resolved budget to record (None without ``method.budget_from``).

    The budget is recorded in the run (``initial_stats.json`` -> results.json) as a number plus the
    identity of the LLM2LLM run it came from, so the report averages budget-matched cells over seeds
    whose ``budget_from`` paths necessarily differ.
    """
    from baselines.budget import matched_counts, per_seed_counts

    m = cfg.method
    if not m.budget_from:
        return per_seed_counts(seeds, m.num_aug), {"budget": None}
    per_seed, b = matched_counts(seeds, m.budget_from, cfg.seed, cfg.task.name,
                                 (cfg.task.test_size, cfg.task.test_subset_seed), m.budget_teacher, cfg.student.name)
    return per_seed, {"budget": {"total": b.total, "source": str(b.source), "source_method": b.method,
                                 "source_task": b.task, "source_seed": b.seed, "source_iterations": b.iterations,
                                 "source_teacher": b.teacher, "source_student": b.student}}
