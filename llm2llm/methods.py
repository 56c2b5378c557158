"""What differs between methods before the loop starts: the seed set and D_0.

finetune / llm2llm: D_0 = the seed set. EDA / AugGPT: D_0 = seeds + their augmentations (budget
matched to an LLM2LLM run on request). S2L: D_0 = a SmallToLarge selection from a larger pool.
With ``task.seed_selection=s2l`` the seed set itself is an S2L selection (for any method).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm2llm.config import Config
from llm2llm.example import Example
from llm2llm.rundir import TEACHER_METHODS as NEEDS_TEACHER
from llm2llm.sampling import resolve_size, sample


def s2l_pool(cfg: Config, train: list[Example]) -> list[Example]:
    n = min(cfg.method.pool_size, len(train))
    return [e.derive(origin="seed") for e in sample(train, n, cfg.seed)]


def choose_seeds(cfg: Config, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
    """The seed set: the random draw, or an S2L selection of the same size (task.seed_selection=s2l)."""
    if cfg.task.seed_selection != "s2l" and cfg.method.name != "s2l":
        return seeds
    from baselines.s2l import s2l_select

    budget = cfg.method.budget if cfg.method.name == "s2l" and cfg.method.budget else len(seeds)
    pool = s2l_pool(cfg, train)
    resolve_size(budget, len(pool), "method.budget")
    return s2l_select(pool, budget, student, work_dir, n_clusters=cfg.method.n_clusters,
                      checkpoints=cfg.method.proxy_checkpoints, seed=cfg.seed)


def initial_training_set(cfg: Config, seeds: list[Example], test: list[Example], teacher: Any) -> tuple[list[Example], dict[str, Any]]:
    """D_0 and the stats of whatever produced it."""
    m = cfg.method
    if m.name in ("finetune", "llm2llm", "s2l"):
        return list(seeds), {}
    from baselines.budget import per_seed_counts

    counts = per_seed_counts(seeds, m.num_aug, m.budget_from, seed=cfg.seed, task=cfg.task.name, expect_seed=cfg.seed)
    if m.name == "eda":
        from baselines.eda import eda_augment

        added = eda_augment(seeds, counts, m.alpha_sr, m.alpha_ri, m.alpha_rs, m.alpha_rd, seed=cfg.seed)
        return list(seeds) + added, {"generated": len(added), "kept": len(added)}
    if m.name == "auggpt":
        from baselines.auggpt import auggpt_augment

        added, stats = auggpt_augment(teacher, seeds, counts, forbidden=test)
        return list(seeds) + added, stats
    raise AssertionError(m.name)
