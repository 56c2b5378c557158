"""SmallToLarge (Yang et al. 2024): D_0 = an S2L selection of ``method.budget`` examples from a pool.

The selection (llm2llm.methods.selection) trains a proxy model with its own recipe, never the
student's. ``task.seed_selection=s2l`` uses the same selection as the seed set of any other method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm2llm.example import Example
from llm2llm.methods.base import Method, register
from llm2llm.methods.selection import select


@register
class S2L(Method):
    name = "s2l"

    def seeds(self, cfg: Any, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
        return select(cfg, cfg.method, train, cfg.method.budget or len(seeds), student, work_dir)
