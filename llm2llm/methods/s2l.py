"""SmallToLarge (Yang et al. 2024): D_0 = an S2L selection of ``method.budget`` examples from a pool.

The selection (llm2llm.methods.selection) trains a proxy model with its own recipe, never the
student's. ``task.seed_selection=s2l`` uses the same selection as the seed set of any other method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from llm2llm.config import MethodConfig, S2LSelectionConfig
from llm2llm.config.check import at_least
from llm2llm.config.selection import check_selection
from llm2llm.example import Example
from llm2llm.methods.base import Method, register
from llm2llm.methods.selection import select


@dataclass
class S2LConfig(MethodConfig, S2LSelectionConfig):
    #: how many examples S2L selects (null: the task's seed size)
    budget: Optional[int] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_selection(self, "method")
        at_least(self.budget, 1, "method.budget", nullable=True)


@register
class S2L(Method):
    name = "s2l"
    schema = S2LConfig

    def seeds(self, cfg: Any, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
        return select(cfg, cfg.method, train, cfg.method.budget or len(seeds), student, work_dir)
