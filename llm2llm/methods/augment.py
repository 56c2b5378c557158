"""What EDA and AugGPT share: how many augmentations each seed gets (budget-matched on request)."""

from __future__ import annotations

from typing import Any

from llm2llm.example import Example


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
                                 "source_task": b.task, "source_seed": b.seed, "source_iterations": b.iterations}}
