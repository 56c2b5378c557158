"""Methods: what differs between LLM2LLM and its baselines, one module each, registered by name.

A method says four things, and nothing else in the harness knows them:
- ``seeds``: the seed set it starts from (a random draw, or a selection such as S2L's);
- ``initial_training_set``: D_0 (the seeds, or seeds plus a baseline's augmentations);
- ``iterates``: whether the loop asks the teacher for the wrong seeds after each iteration;
- ``needs_teacher``: whether it calls the teacher at all (then the teacher config is part of its
  results: run directories and the report compare it).

A method is one module here: its settings (a dataclass on ``llm2llm.config.MethodConfig``, the
class's ``schema``) and a ``llm2llm.methods.base.Method`` subclass under ``@register``, imported by
``_load_all``; its default values are one ``conf/method/<name>.yaml`` whose defaults list names
``schema_<name>``. An algorithm a method calls (EDA, S2L) is a plain function in ``baselines/``.
"""

from __future__ import annotations

from llm2llm.config import MethodConfig
from llm2llm.errors import ConfigError
from llm2llm.methods.base import REGISTRY, Method

__all__ = ["Method", "get_method", "method_schemas"]


def get_method(name: str) -> Method:
    """The registered method ``name``; ConfigError naming the registered ones for any other name."""
    _load_all()
    if name not in REGISTRY:
        raise ConfigError(f"method.name: {' | '.join(sorted(REGISTRY))}, got {name!r}")
    return REGISTRY[name]


def method_schemas() -> dict[str, type[MethodConfig]]:
    """Each registered method's settings schema, by method name."""
    _load_all()
    return {name: method.schema for name, method in REGISTRY.items()}


def _load_all() -> None:
    from llm2llm.methods import (auggpt, eda, finetune, llm2llm, random_extra, s2l,  # noqa: F401  (they register themselves)
                                 untargeted)
