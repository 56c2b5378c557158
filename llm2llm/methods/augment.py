"""What the one-round augmentations (EDA, AugGPT, the untargeted and random-extra controls) share:
their settings' base and how many augmentations each seed gets (budget-matched on request)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from llm2llm.config import MethodConfig
from llm2llm.config.check import at_least
from llm2llm.errors import ConfigError
from llm2llm.example import Example, atomic_write_json, read_jsonl
from llm2llm.rundir import CONFIG_FILE, INITIAL_STATS_FILE, SEED_SET_FILE, iter_file


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


#: what identifies the LLM2LLM run a budget came from, in the budget a run records at D_0 (``counts``)
_SOURCE_IDENTITY = {"total": "total", "source_method": "method", "source_task": "task", "source_seed": "seed",
                    "source_iterations": "iterations", "source_teacher": "teacher", "source_student": "student"}


def follow_moved_source(cfg: Any, run_dir: Path) -> bool:
    """Let a budget-matched run resume, or say it is complete, after its runs were moved (copied to
    other storage, restored from a kept copy under another root): its ``config.json`` names the old
    ``method.budget_from`` path, which RunDir.claim would read as another config's.

    The recorded path is replaced by today's when the budget the run recorded at D_0 is the one
    today's path gives: the same LLM2LLM run (method, task, seed, teacher, student, iterations) and the
    same total, made on this run's seed set. With no budget recorded yet nothing was computed from the
    old path, so today's is taken too. Any other budget leaves the config as it was (the claim then
    refuses the directory as another config's). Returns whether the recorded path was replaced."""
    from baselines.budget import check_same_data, read_budget

    m, cfg_file = cfg.method, run_dir / CONFIG_FILE
    if not getattr(m, "budget_from", None) or not cfg_file.is_file():
        return False
    recorded = json.loads(cfg_file.read_text())
    old = (recorded.get("method") or {}).get("budget_from")
    if not old or old == m.budget_from:
        return False
    stats_file = run_dir / iter_file(0, INITIAL_STATS_FILE)
    budget = json.loads(stats_file.read_text()).get("budget") if stats_file.is_file() else None
    if budget is not None:
        try:
            now = read_budget(m.budget_from, expect_task=cfg.task.name, expect_seed=cfg.seed,
                              teacher=m.budget_teacher, student=cfg.student.name)
            seed_file = run_dir / SEED_SET_FILE
            if seed_file.is_file():
                check_same_data(now, [row["id"] for row in read_jsonl(seed_file)], cfg.task.test_size,
                                cfg.task.test_subset_seed)
        except ConfigError:
            return False
        if any(budget.get(k) != getattr(now, attr) for k, attr in _SOURCE_IDENTITY.items()):
            return False
    recorded["method"]["budget_from"] = m.budget_from
    atomic_write_json(cfg_file, recorded)
    return True
