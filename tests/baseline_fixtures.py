"""Helpers shared by the baseline tests (EDA, AugGPT, S2L, budget matching)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from cli_helpers import ROOT
from llm2llm.config import TaskConfig
from llm2llm.example import Example, atomic_write_json
from llm2llm.tasks import build_task

# numbers as written in questions: 48, 1,200, 3.5, $12, 20%
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def load(name: str, data_dir: Path, split: str = "train", n: int | None = None, start: int = 0):
    task = build_task(TaskConfig(name=name), str(data_dir))
    examples = task.load(split)
    return task, examples[start: start + n if n is not None else None]


def numbers(text: str) -> Counter:
    return Counter(NUMBER.findall(text))


def write_results(path: Path, added: Sequence[int], status: str = "complete", task: str = "sst2", seed: int = 0,
                  n_seed: int = 8, total: Any = "sum", **extra: Any) -> Path:
    """A results.json with the documented schema of an LLM2LLM run directory."""
    iterations, cum = [], 0
    for i, a in enumerate(added):
        iterations.append({"iteration": i, "train_size": n_seed + cum, "n_seed": n_seed, "n_augmented_total": cum,
                           "added": a, "test_accuracy": 0.5, "seed_accuracy": 0.6, "n_wrong": a})
        cum += a
    data: dict[str, Any] = {"status": status, "method": "llm2llm", "task": task, "seed": seed,
                            "iterations": iterations, "config": {"method": {"name": "llm2llm"}}}
    if total == "sum":
        data["total_augmented"] = sum(added)
    elif total is not None:
        data["total_augmented"] = total
    data.update(extra)
    atomic_write_json(path, data)
    return path


class FakeStudent:
    """Stands in for ``llm2llm.student.Student`` in fast S2L tests: "training" writes the
    trajectory folders, losses are a deterministic function of (checkpoint, example)."""

    def __init__(self) -> None:
        self.train_calls = 0
        self.loss_calls: list[str] = []

    def train(self, examples: Sequence[Example], out_dir: Path, init_from: Any = None, checkpoints: int = 0) -> Path:
        self.train_calls += 1
        out_dir = Path(out_dir)
        for i in range(checkpoints):
            (out_dir / "trajectory" / f"ckpt-{i}").mkdir(parents=True, exist_ok=True)
        return out_dir

    def example_losses(self, ckpt: Path | None, examples: Sequence[Example]) -> list[float]:
        self.loss_calls.append(Path(ckpt).name if ckpt else "base")
        step = int(Path(ckpt).name.split("-")[1]) if ckpt else -1
        # three kinds of example: learnt fast, learnt slowly, never learnt
        out = []
        for e in examples:
            kind = len(e.text) % 3
            out.append([3.0 / (step + 2), 3.0 - 0.5 * step, 3.0][kind] + (len(e.text) % 7) * 0.01)
        return out

    def release(self) -> None:
        pass


def tiny_trainer_cfg(max_steps: int = 4, batch: int = 8) -> Any:
    """cpu-lora with a handful of steps: enough to move the losses, cheap on 2 cores."""
    from llm2llm.config import TrainerConfig

    return TrainerConfig(name="tiny", learning_rate=1e-3, epochs=1, max_steps=max_steps,
                         per_device_batch_size=batch, bf16="false", logging_steps=1, warmup_ratio=0.0)


def smollm2_student_cfg(max_length: int = 128) -> Any:
    from llm2llm.config import LoraConfig, StudentConfig

    return StudentConfig(name="smollm2-135m", model="embedded:smollm2-135m-instruct", dtype="float32",
                         max_length=max_length, lora=LoraConfig(enabled=True, r=8, alpha=16, dropout=0.0,
                                                                target_modules=["q_proj", "v_proj"]))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
