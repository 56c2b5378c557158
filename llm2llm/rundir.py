"""The run directory: every stage's output, written atomically, so a killed run resumes.

Layout (``<run>`` is Hydra's output dir)::

    config.json            resolved config (no secrets: the config only names the key's env var)
    environment.json       git SHA, package versions, machine
    seed_set.jsonl         D_0's seed examples
    iter_<i>/train.jsonl   D_i with provenance
    iter_<i>/checkpoint/   the student trained on D_i (COMPLETE marker when whole)
    iter_<i>/predictions_test.jsonl, predictions_seed.jsonl
    iter_<i>/augmentations.jsonl, teacher_records.jsonl, teacher_stats.json   (A_i)
    iter_<i>/metrics.json  written last: the iteration is finished
    results.json           every iteration's metrics; read by the report without W&B
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, TypeVar

from llm2llm.errors import ConfigError
from llm2llm.example import atomic_write_json, atomic_write_text, dumps_jsonl

T = TypeVar("T")

#: config keys that do not change what a run computes (paths on this machine, logging)
NON_RESULT_KEYS = ("tracking", "data_dir", "cache_dir", "run_name")


#: methods whose results depend on the teacher config
TEACHER_METHODS = ("llm2llm", "auggpt")


def result_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config that determines a run's results (the teacher only where one is used)."""
    drop = NON_RESULT_KEYS + (() if config.get("method", {}).get("name") in TEACHER_METHODS else ("teacher",))
    return {k: v for k, v in config.items() if k not in drop}


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += config_diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def iter_dir(self, i: int) -> Path:
        return self.path / f"iter_{i}"

    def claim(self, config: dict[str, Any], environment: dict[str, Any]) -> None:
        """Record this run's config, or refuse if the directory holds a different config's results."""
        cfg_file = self.path / "config.json"
        if cfg_file.is_file():
            old = json.loads(cfg_file.read_text())
            diff = config_diff(result_config(old), result_config(config))
            if diff:
                raise ConfigError(
                    f"{self.path} holds the results of a different config (differs in: {', '.join(diff[:8])}); "
                    "refusing to mix them. Start fresh with another directory (hydra.run.dir=... or "
                    "LLM2LLM_RUNS_DIR=...), or delete that one."
                )
        else:
            atomic_write_json(cfg_file, config)
        atomic_write_json(self.path / "environment.json", environment)

    def stage(self, path: Path, compute: Callable[[], T], save: Callable[[Path, T], None],
              load: Callable[[Path], T]) -> T:
        """Return the stage's saved output if it exists, else compute it and save it atomically."""
        if path.exists():
            return load(path)
        value = compute()
        save(path, value)
        return value

    def read_json(self, name: str) -> Any:
        p = self.path / name
        return json.loads(p.read_text()) if p.is_file() else None

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.path / name, obj)

    @staticmethod
    def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
        atomic_write_text(path, dumps_jsonl(rows))

    @staticmethod
    def read_jsonl_rows(path: Path) -> list[dict[str, Any]]:
        return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
