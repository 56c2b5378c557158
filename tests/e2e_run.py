"""The tiny end-to-end LLM2LLM run that several test modules read (conftest's ``finished_run``):
``train.py`` on real SST-2 data with the real SmolLM2 student and the in-process SmolLM2 teacher,
W&B offline; and the commands to run it again (resumed, killed, with another config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TINY = [
    "task=sst2", "task.seed_size=6", "task.test_size=8", "task.max_new_tokens=4",
    "method=llm2llm", "method.iterations=2", "method.k=1",
    "trainer.max_steps=3", "trainer.per_device_batch_size=4",
    "teacher.max_tokens=40", "teacher.batch_size=1",
]


def train_cmd(tmp: Path, *extra: str) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(tmp / "wandb"), OMP_NUM_THREADS="2")
    (tmp / "wandb").mkdir(exist_ok=True)
    cmd = [sys.executable, "train.py", *TINY, f"hydra.run.dir={tmp / 'run'}",
           f"teacher.cache_path={tmp / 'teacher_cache'}", *extra]
    return cmd, env


def run_train(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd, env = train_cmd(tmp, *extra)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def cached_calls(cache: Path) -> int:
    """Teacher answers stored in the cache directory (one per request that reached the model)."""
    from llm2llm.teacher.cache import TeacherCache

    return len(TeacherCache(cache)) if cache.exists() else 0
