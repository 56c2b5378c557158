"""From a composed Hydra config to a finished run: validate, load data, hand over to the loop."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from llm2llm.config import Config, validate
from llm2llm.errors import Llm2llmError
from llm2llm.example import Example
from llm2llm.sampling import seed_set, test_subset
from llm2llm.tasks import Task, build_task


@dataclass
class TaskData:
    task: Task
    train: list[Example]
    seeds: list[Example]
    test: list[Example]


def load_task_data(cfg: Config) -> TaskData:
    """Load and check both splits and draw the seed set, before any model is loaded."""
    task = build_task(cfg.task, cfg.data_dir)
    train = task.load("train")
    test = test_subset(task.load("test"), cfg.task.test_size, cfg.task.test_subset_seed)
    seeds = seed_set(train, cfg.task.seed_size, cfg.seed, cfg.task.stratify)
    return TaskData(task, train, seeds, test)


def run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def run(raw: DictConfig) -> float | None:
    """Hydra's job function. Bad input -> one ``error:`` line on stderr and exit code 2."""
    try:
        cfg = validate(raw)
        data = load_task_data(cfg)
        from llm2llm.loop import run_method

        return run_method(cfg, raw, data, run_dir())
    except Llm2llmError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
