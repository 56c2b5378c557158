"""Placeholder until the LLM2LLM loop lands (issue 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm2llm.example import write_examples


def run_method(cfg: Any, raw: Any, data: Any, run_dir: Path) -> float | None:
    write_examples(run_dir / "seed_set.jsonl", data.seeds)
    print(f"task={data.task.name} train={len(data.train)} test={len(data.test)} seeds={len(data.seeds)} -> {run_dir}")
    return None
