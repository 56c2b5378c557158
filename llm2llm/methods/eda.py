"""EDA (Wei & Zou 2019): D_0 = seeds + ``num_aug`` (or budget-matched) rule-based rewrites of each."""

from __future__ import annotations

from typing import Any

from llm2llm.example import Example
from llm2llm.methods.base import Method, register
from llm2llm.methods.augment import counts


@register
class EDA(Method):
    name = "eda"

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        from baselines.eda import eda_augment

        m = cfg.method
        per_seed, stats = counts(cfg, seeds)
        added = eda_augment(seeds, per_seed, m.alpha_sr, m.alpha_ri, m.alpha_rs, m.alpha_rd, seed=cfg.seed)
        return list(seeds) + added, {"generated": len(added), "kept": len(added), **stats}
