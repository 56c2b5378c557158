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
    from baselines.budget import per_seed_counts, read_budget

    m = cfg.method
    per_seed = per_seed_counts(seeds, m.num_aug, m.budget_from, seed=cfg.seed, task=cfg.task.name,
                               expect_seed=cfg.seed, test_subset=(cfg.task.test_size, cfg.task.test_subset_seed),
                               teacher=m.budget_teacher, student=cfg.student.name)
    budget = None
    if m.budget_from:
        b = read_budget(m.budget_from, cfg.task.name, cfg.seed, m.budget_teacher, cfg.student.name)
        budget = {"total": b.total, "source": str(b.source), "source_method": b.method, "source_task": b.task,
                  "source_seed": b.seed, "source_iterations": b.iterations}
    return per_seed, {"budget": budget}
