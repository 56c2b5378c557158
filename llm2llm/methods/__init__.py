"""Methods: what differs between LLM2LLM and its baselines, one module each, registered by name.

A method says four things, and nothing else in the harness knows them:
- ``seeds``: the seed set it starts from (a random draw, or a selection such as S2L's);
- ``initial_training_set``: D_0 (the seeds, or seeds plus a baseline's augmentations);
- ``iterates``: whether the loop asks the teacher for the wrong seeds after each iteration;
- ``needs_teacher``: whether it calls the teacher at all (then the teacher config is part of its
  results: run directories and the report compare it).

A new method is one module here (a ``Method`` subclass under ``@register``) plus one
``conf/method/<name>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm2llm.errors import ConfigError
from llm2llm.example import Example

_REGISTRY: dict[str, "Method"] = {}


class Method:
    name: str = ""
    needs_teacher: bool = False
    iterates: bool = False

    def n_iterations(self, method_cfg: Any) -> int:
        """Training runs of the loop: ``method.iterations`` for an iterating method, else one."""
        return method_cfg.iterations if self.iterates else 1

    def seeds(self, cfg: Any, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
        """The seed set: the random draw, or an S2L selection of the same size (task.seed_selection=s2l)."""
        if cfg.task.seed_selection != "s2l":
            return seeds
        from llm2llm.methods.s2l import select

        return select(cfg, train, len(seeds), student, work_dir)

    def initial_training_set(self, cfg: Any, seeds: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        """D_0 and the stats of whatever produced it."""
        return list(seeds), {}


def register(cls: type[Method]) -> type[Method]:
    _REGISTRY[cls.name] = cls()
    return cls


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_method(name: str) -> Method:
    _load_all()
    if name not in _REGISTRY:
        raise ConfigError(f"method.name: {' | '.join(sorted(_REGISTRY))}, got {name!r}")
    return _REGISTRY[name]


def _load_all() -> None:
    from llm2llm.methods import auggpt, eda, finetune, llm2llm, s2l  # noqa: F401  (they register themselves)
