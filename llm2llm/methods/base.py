"""The ``Method`` interface and its registry (``@register``); ``llm2llm.methods.get_method`` looks a name up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm2llm.config import MethodConfig
from llm2llm.example import Example

REGISTRY: dict[str, "Method"] = {}


class Method:
    name: str = ""
    #: its settings (``conf/method/<name>.yaml`` names it as ``schema_<name>``)
    schema: type[MethodConfig] = MethodConfig
    needs_teacher: bool = False
    iterates: bool = False
    #: a study's control (untargeted, random extra data), not a method to adopt: the report never
    #: marks it as a row's best
    control: bool = False

    def n_iterations(self, method_cfg: Any) -> int:
        """Training runs of the loop: ``method.iterations`` for an iterating method, else one."""
        return method_cfg.iterations if self.iterates else 1

    def seeds(self, cfg: Any, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
        """The seed set: the random draw, or an S2L selection of the same size (task.seed_selection=s2l)."""
        if cfg.task.seed_selection != "s2l":
            return seeds
        from llm2llm.methods.selection import select

        return select(cfg, cfg.task.s2l, train, len(seeds), student, work_dir)

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        """D_0 and the stats of whatever produced it (``train``: the task's whole train split)."""
        return list(seeds), {}


def register(cls: type[Method]) -> type[Method]:
    REGISTRY[cls.name] = cls()
    return cls
