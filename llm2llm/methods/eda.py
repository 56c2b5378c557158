"""EDA (Wei & Zou 2019): D_0 = seeds + ``num_aug`` (or budget-matched) rule-based rewrites of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm2llm.config.check import check
from llm2llm.example import Example
from llm2llm.methods.augment import AugmentConfig, counts
from llm2llm.methods.base import Method, register


@dataclass
class EDAConfig(AugmentConfig):
    num_aug: int = 9
    #: the share of words each operation changes: synonym replacement, random insertion, random swap,
    #: random deletion (each word with probability alpha_rd)
    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    alpha_rd: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("alpha_sr", "alpha_ri", "alpha_rs", "alpha_rd"):
            value = getattr(self, name)
            check(0 <= value <= 1, f"method.{name}", f"must be in [0, 1], got {value}")


@register
class EDA(Method):
    name = "eda"
    schema = EDAConfig

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        from baselines.eda import eda_augment

        m = cfg.method
        per_seed, stats = counts(cfg, seeds)
        added = eda_augment(seeds, per_seed, m.alpha_sr, m.alpha_ri, m.alpha_rs, m.alpha_rd, seed=cfg.seed)
        return list(seeds) + added, {"generated": len(added), "kept": len(added), **stats}
