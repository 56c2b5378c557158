"""Task registry: ``build_task(cfg.task, cfg.data_dir)`` -> a Task."""

from __future__ import annotations

from typing import Any

from llm2llm.config import EvalConfig, TaskConfig, typed
from llm2llm.errors import ConfigError
from llm2llm.tasks.base import Task
from llm2llm.tasks.casehold import CaseHOLD
from llm2llm.tasks.classification import SNIPS, SST2, TREC, JsonlTask
from llm2llm.tasks.gsm8k import GSM8K

TASKS: dict[str, type[Task]] = {t.name: t for t in (GSM8K, CaseHOLD, SNIPS, TREC, SST2, JsonlTask)}


def build_task(task_cfg: Any, data_dir: str | None = None, eval_cfg: Any = None) -> Task:
    """The task named by ``task_cfg``; ``eval_cfg`` (the eval group; None: its defaults) says how it is evaluated.
    Either may be a schema object, a dict or a DictConfig (a run's recorded config)."""
    task_cfg, eval_cfg = typed(TaskConfig, task_cfg), typed(EvalConfig, eval_cfg)
    try:
        cls = TASKS[task_cfg.name]
    except KeyError:
        raise ConfigError(f"unknown task {task_cfg.name!r}; expected one of {sorted(TASKS)}") from None
    return cls(task_cfg, data_dir, eval_cfg)


__all__ = ["Task", "TASKS", "build_task"]
