"""What a sweep file will cost, from the preflight's measured throughputs.

Each cell of the sweep (one combination of its swept values, composed by Hydra exactly as
``train.py -m`` would) is costed per job; seeds repeat a cell. Per iteration a job trains
``epochs`` passes over its training set and evaluates the test split and the seed set
(llm2llm/loop.py). The figures are an upper bound where the data decide:

- LLM2LLM's training set grows by ``k`` examples per wrong seed per iteration; the projection
  assumes a share ``wrong_fraction`` of the seeds is wrong every time (default 1.0: every seed);
- generation is costed at ``max_new_tokens`` per example (a model that stops early costs less);
- training throughput is the measured per-GPU tokens/s scaled to the student's full depth at the
  same MFU, times the GPUs of the recipe (ZeRO-3's communication on several GPUs is not measured
  on one); evaluation runs one replica per GPU (student.eval_backend=hf), so it scales the same way;
- not counted: loading and saving models, the teacher (an API, or a server of its own), S2L's proxy.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import yaml

from llm2llm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

#: rows of each task's train and test split as the harness loads them (the public datasets)
TASK_SPLITS: dict[str, tuple[int, int]] = {
    "gsm8k": (7473, 1319), "sst2": (67349, 872), "trec": (5452, 500), "snips": (13084, 700),
    "casehold": (45000, 3600),
}
#: mean tokens per example (prompt, answer with end-of-turn) of the first 300 train rows, the
#: harness's own prompts and SmolLM2's tokenizer and chat template (../shared/data, 2026-11-26);
#: Llama-2's tokenizer without a chat template gives prompts a few tens of tokens shorter
TASK_TOKENS: dict[str, tuple[int, int]] = {
    "gsm8k": (127, 130), "sst2": (77, 3), "trec": (69, 3), "snips": (70, 3), "casehold": (400, 40),
}


def sweep_cells(sweep: Path) -> list[tuple[dict[str, str], int]]:
    """(overrides of one cell, how many seeds repeat it) for every cell of a sweep file."""
    from omegaconf import OmegaConf

    raw = OmegaConf.load(sweep)
    params = OmegaConf.select(raw, "hydra.sweeper.params") or {}
    values: dict[str, list[str]] = {}
    for key, spec in params.items():
        text = str(spec)
        if "(" in text:
            raise ConfigError(f"{sweep}: hydra.sweeper.params.{key}={text}: only plain comma lists can be projected")
        values[str(key)] = [v.strip() for v in text.split(",") if v.strip()]
    seeds = len(values.pop("seed", ["0"]))
    keys = sorted(values)
    return [(dict(zip(keys, combo)), seeds) for combo in itertools.product(*(values[k] for k in keys))]


def compose_cell(sweep: Path, overrides: dict[str, str], composed: dict[tuple[str, ...], Any] | None = None) -> Any:
    """The composed config of one cell (the sweep file over conf/, as ``train.py -m --config-dir sweeps`` does).

    Group choices (``method=eda``) are composed by Hydra, once per combination when ``composed`` is
    given as a cache; value overrides (``task.seed_size=74``) are then set on a copy, as Hydra would.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from llm2llm.schemas import register_configs

    groups = tuple(f"{k}={v}" for k, v in sorted(overrides.items()) if "." not in k)
    cache = composed if composed is not None else {}
    if groups not in cache:
        register_configs()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(sweep.resolve().parent), version_base="1.3"):
            cache[groups] = compose(config_name=sweep.stem, overrides=list(groups) + [
                f"hydra.searchpath=[file://{ROOT / 'conf'}]", "tracking=none"])
    cfg = copy.deepcopy(cache[groups])
    for key, value in overrides.items():
        if "." in key:
            OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    return cfg


def training_sizes(cfg: Any, n_seed: int, wrong_fraction: float) -> list[int]:
    """Examples trained on in each iteration of one job."""
    m = cfg.method
    if m.name == "llm2llm":
        return [round(n_seed + i * m.k * wrong_fraction * n_seed) for i in range(m.iterations)]
    if m.name in ("eda", "auggpt"):
        return [n_seed * (1 + int(m.num_aug))]
    if m.name == "s2l":
        return [int(m.budget) if m.budget else n_seed]
    return [n_seed]


def eval_plan(cfg: Any) -> tuple[str, int]:
    """generate | score and the answer budget, as the harness's task decides them (eval.mode=auto included)."""
    from llm2llm.tasks import build_task

    task = build_task(cfg.task, None, cfg.eval)
    return task.eval_mode()[0], int(task.max_new_tokens)


def cell_cost(cfg: Any, perf: dict[str, Any], wrong_fraction: float) -> dict[str, Any]:
    """GPU-seconds of one job of this cell, split into training and evaluation; None where a figure is missing."""
    from llm2llm.sampling import resolve_size

    task = cfg.task.name
    if task not in TASK_SPLITS:
        raise ConfigError(f"task {task!r}: no split sizes known to the projection (llm2llm/preflight/projection.py)")
    train_rows, test_rows = TASK_SPLITS[task]
    prompt_tok, answer_tok = TASK_TOKENS[task]
    n_seed = resolve_size(float(cfg.task.seed_size), train_rows)
    test = min(int(cfg.task.test_size or test_rows), test_rows)
    sizes = training_sizes(cfg, n_seed, wrong_fraction)
    gpus = int(cfg.trainer.num_processes) * int(cfg.trainer.num_nodes)
    train_tokens = float(cfg.trainer.epochs) * sum(sizes) * (prompt_tok + answer_tok)
    lora = bool(cfg.student.lora.enabled)
    train_tps = (perf.get("train_lora" if lora else "train_full") or {}).get("student_tokens_per_s_same_mfu")
    evaluated = len(sizes) * (test + n_seed)
    mode, new_tokens = eval_plan(cfg)
    if mode == "score":
        rate = (perf.get("eval_score") or {}).get("examples_per_s")
        eval_s = evaluated / (rate * gpus) if rate else None
    else:
        backend = "eval_vllm" if cfg.student.eval_backend == "vllm" else "eval_generate"
        rate = (perf.get(backend) or {}).get("new_tokens_per_s")
        eval_s = evaluated * new_tokens / (rate * gpus) if rate else None
    train_s = train_tokens / (train_tps * gpus) if train_tps else None
    total = None if train_s is None or eval_s is None else train_s + eval_s
    return {"task": task, "method": str(cfg.method.name), "seed_size": n_seed, "test_size": test,
            "iterations": len(sizes), "train_examples": sizes, "epochs": float(cfg.trainer.epochs),
            "train_tokens": train_tokens, "eval_examples": evaluated, "eval_mode": mode, "max_new_tokens": new_tokens,
            "gpus": gpus, "lora": lora, "train_hours": _h(train_s), "eval_hours": _h(eval_s), "wall_hours": _h(total),
            "gpu_hours": None if total is None else total * gpus / 3600}


def _h(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def project_sweep(sweep: Path, perf: dict[str, Any], wrong_fraction: float = 1.0) -> dict[str, Any]:
    """Every cell's cost and the sweep's total GPU-hours (None when some figure was not measured)."""
    cells, composed = [], {}
    for overrides, seeds in sweep_cells(sweep):
        cost = cell_cost(compose_cell(sweep, overrides, composed), perf, wrong_fraction)
        cells.append({"overrides": overrides, "seeds": seeds, **cost})
    hours = [None if c["gpu_hours"] is None else c["gpu_hours"] * c["seeds"] for c in cells]
    total = None if any(h is None for h in hours) else sum(hours)
    return {"sweep": str(sweep), "jobs": sum(c["seeds"] for c in cells), "wrong_fraction": wrong_fraction,
            "gpu_hours": total, "cells": cells}
