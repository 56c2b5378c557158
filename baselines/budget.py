"""Budget matching: give a baseline exactly as many augmented examples as an LLM2LLM run added.

``method.budget_from`` names an LLM2LLM run (its ``results.json`` or the run directory holding it).
Its budget is ``total_augmented`` (or, in a results file that lacks it, the sum of the
iterations' ``added``). The budget is spread over the seed examples: each gets ``total // n``
and a seeded choice of ``total % n`` seeds get one more, so the baseline adds exactly ``total``.
The LLM2LLM run must have been made on the same data: task, seed set (the same seed ids) and test
subset (:func:`check_same_data`); the resolved budget is recorded in the baseline's run, so the
report can average budget-matched cells over seeds (each seed has its own LLM2LLM run and path).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from llm2llm.errors import ConfigError
from llm2llm.example import Example, read_jsonl
from llm2llm.rundir import RESULTS_FILE, SEED_SET_FILE, ResultsError, read_results


@dataclass(frozen=True)
class Budget:
    """What an LLM2LLM run added, read from its results file."""

    total: int
    source: Path
    task: str | None
    seed: int | None
    method: str | None
    iterations: int
    task_config: dict[str, Any] = field(default_factory=dict)  # the run's task config (its test subset)
    teacher: str | None = None  # the LLM2LLM run's teacher and student (names)
    student: str | None = None


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected a whole number >= 0, got {value!r}")
    return value


def find_matched_run(root: Path, task: str, seed: int, teacher: str | None = None, student: str | None = None) -> Path:
    """The one LLM2LLM run under ``root`` (searched at any depth, so override suffixes that a sweep adds
    to run directories do not matter) made for ``task``, ``seed`` and ``student`` (and ``teacher``,
    by ``teacher.name``, if given). ConfigError (one line) if there is none, or several."""
    key = "method.budget_from"
    found = []
    for f in sorted(root.rglob(RESULTS_FILE)):
        try:
            results = read_results(f)
        except (OSError, ResultsError):
            continue
        if results is None:
            continue
        data = results.data
        cfg = data.get("config") or {}
        if (data.get("method") == "llm2llm" and data.get("task") == task and data.get("seed") == seed
                and (student is None or data.get("student") == student)
                and (teacher is None or data.get("teacher") == teacher or (cfg.get("teacher") or {}).get("name") == teacher)):
            found.append(f.parent)
    want = f"task {task}, seed {seed}" + (f", student {student}" if student else "") + (f", teacher {teacher}" if teacher else "")
    if not found:
        raise ConfigError(f"{key}: no LLM2LLM run with a {RESULTS_FILE} for {want} under {root} (run it first; "
                          "in a sweep, list llm2llm before the budget-matched methods)")
    if len(found) > 1:
        raise ConfigError(f"{key}: {len(found)} LLM2LLM runs for {want} under {root} ({', '.join(str(d) for d in found[:3])}"
                          f"{', ...' if len(found) > 3 else ''}): set method.budget_teacher or give the run directory")
    return found[0]


def read_budget(path: str | Path, expect_task: str | None = None, expect_seed: int | None = None,
                teacher: str | None = None, student: str | None = None) -> Budget:
    """Read the augmentation budget from an LLM2LLM ``results.json`` (or a run dir holding one).

    Raises ConfigError (one line, naming the file) when the file is missing, not JSON, not a
    complete run (``status != "complete"``: its total could still grow), has neither
    ``total_augmented`` nor per-iteration ``added`` counts, was not an ``llm2llm`` run, or was made for
    another task (``expect_task``) or seed (``expect_seed``) than the baseline being matched.
    """
    p = Path(path).expanduser()
    if (p.is_dir() and expect_task is not None and expect_seed is not None
            and (teacher is not None or not (p / RESULTS_FILE).is_file())):
        p = find_matched_run(p, expect_task, expect_seed, teacher, student)
    if p.is_dir():
        p = p / RESULTS_FILE
    key = "method.budget_from"
    if not p.is_file():
        raise ConfigError(f"{key}: {p} not found (give an LLM2LLM run directory or its {RESULTS_FILE})")
    try:
        results = read_results(p)
    except ResultsError as e:  # "<file> is not valid JSON (...)" or "<file>: expected a JSON object, ..."
        raise ConfigError(f"{key}: {e}") from None
    assert results is not None  # p is a file
    data = results.data
    status = results.status
    if not results.complete:
        raise ConfigError(
            f"{key}: {p}: the LLM2LLM run is not complete (status={status!r}); finish or resume it first, "
            "its number of augmented examples can still grow"
        )
    method = data.get("method")
    if method is not None and method != "llm2llm":
        raise ConfigError(f"{key}: {p} is a {method!r} run; budgets come from an llm2llm run")
    iterations = data.get("iterations")
    if iterations is not None and not isinstance(iterations, list):
        raise ConfigError(f"{key}: {p}: 'iterations' must be a list, got {type(iterations).__name__}")
    added_sum = None
    if iterations:
        added = []
        for i, it in enumerate(iterations):
            if not isinstance(it, dict) or "added" not in it:
                added = None
                break
            added.append(_int(it["added"], f"{key}: {p}: iterations[{i}].added"))
        added_sum = sum(added) if added is not None else None
    if "total_augmented" in data:
        # the run's own total (it also counts any non-seed examples in D_0), preferred to the sum
        total = _int(data["total_augmented"], f"{key}: {p}: total_augmented")
    elif added_sum is not None:
        total = added_sum
    else:
        raise ConfigError(f"{key}: {p}: neither 'total_augmented' nor per-iteration 'added' counts found")
    task = data.get("task")
    if isinstance(task, dict):  # tolerate a task config object
        task = task.get("name")
    seed = data.get("seed")
    if expect_task is not None and task is not None and task != expect_task:
        raise ConfigError(f"{key}: {p} is an LLM2LLM run on task {task!r}, but this run's task is {expect_task!r}")
    if expect_seed is not None and seed is not None and seed != expect_seed:
        raise ConfigError(f"{key}: {p} is an LLM2LLM run with seed {seed}, but this run's seed is {expect_seed}")
    return Budget(total=total, source=p, task=task, seed=seed, method=method, iterations=len(iterations or []),
                  task_config=(data.get("config") or {}).get("task") or {},
                  teacher=data.get("teacher"), student=data.get("student"))


def check_same_data(budget: Budget, seed_ids: Sequence[str], test_size: int | None, test_subset_seed: int) -> None:
    """ConfigError unless the LLM2LLM run of ``budget`` used this seed set and this test subset."""
    key = "method.budget_from"
    task_cfg = budget.task_config
    for name, mine in (("test_size", test_size), ("test_subset_seed", test_subset_seed)):
        if name in task_cfg and task_cfg[name] != mine:
            raise ConfigError(f"{key}: {budget.source} was evaluated with task.{name}={task_cfg[name]}, this run "
                              f"uses {mine}: budgets are matched on the same test subset")
    seed_file = budget.source.parent / SEED_SET_FILE
    if not seed_file.is_file():
        raise ConfigError(f"{key}: {seed_file} not found: cannot check that the LLM2LLM run used this seed set")
    theirs = [row["id"] for row in read_jsonl(seed_file)]
    if sorted(theirs) != sorted(seed_ids):
        raise ConfigError(f"{key}: {budget.source} was run on another seed set ({len(theirs)} seeds, "
                          f"{len(set(theirs) ^ set(seed_ids))} ids differ from this run's {len(seed_ids)}): "
                          "check task.seed_size, seed and task.stratify")


def split_budget(n_seeds: int, total: int, seed: int = 0) -> list[int]:
    """Split ``total`` over ``n_seeds`` seeds: ``total // n`` each and one more for a seeded
    random choice of ``total % n`` of them. ``sum(result) == total``; deterministic in ``seed``."""
    if n_seeds < 0 or total < 0:
        raise ValueError(f"n_seeds and total must be >= 0, got {n_seeds}, {total}")
    if n_seeds == 0:
        if total:
            raise ConfigError(f"a budget of {total} augmented examples needs at least one seed example")
        return []
    base, extra = divmod(total, n_seeds)
    counts = [base] * n_seeds
    for i in random.Random(f"budget:{seed}").sample(range(n_seeds), extra):
        counts[i] += 1
    return counts


def matched_counts(seeds: Sequence[Example], budget_from: str | Path, seed: int, task: str,
                   test_subset: tuple[int | None, int], teacher: str | None = None,
                   student: str | None = None) -> tuple[list[int], Budget]:
    """Augmentations per seed that add up to the matched LLM2LLM run's total, and that run's budget
    (read once; its seed set and test subset checked against this run's)."""
    budget = read_budget(budget_from, expect_task=task, expect_seed=seed, teacher=teacher, student=student)
    check_same_data(budget, [e.id for e in seeds], *test_subset)
    return split_budget(len(seeds), budget.total, seed), budget


def per_seed_counts(seeds: Sequence[Example] | int, num_aug: int, budget_from: str | Path | None = None,
                    seed: int = 0, task: str | None = None, expect_seed: int | None = None,
                    test_subset: tuple[int | None, int] | None = None, teacher: str | None = None,
                    student: str | None = None) -> list[int]:
    """How many augmentations each seed gets (EDA / AugGPT), in seed order.

    Without ``budget_from``: ``num_aug`` each. With it (``method.budget_from``): the LLM2LLM run's
    total (:func:`read_budget`) spread over the seeds by :func:`split_budget`, so the counts sum
    to exactly that total; ``seed`` picks which seeds get the remainder. ``task`` and
    ``expect_seed``, when given, must match the LLM2LLM run's (a budget from another task or seed
    set is almost certainly a mistake); with ``test_subset`` (test_size, test_subset_seed) and the
    seed examples themselves, the seed set and test subset must be the LLM2LLM run's too.
    """
    n = seeds if isinstance(seeds, int) else len(seeds)
    if budget_from:
        budget = read_budget(budget_from, expect_task=task, expect_seed=expect_seed, teacher=teacher, student=student)
        if test_subset is not None and not isinstance(seeds, int):
            check_same_data(budget, [e.id for e in seeds], *test_subset)
        return split_budget(n, budget.total, seed)
    if isinstance(num_aug, bool) or int(num_aug) != num_aug or num_aug < 0:
        raise ConfigError(f"method.num_aug: must be a whole number >= 0, got {num_aug!r}")
    return [int(num_aug)] * n


def expand_counts(num_aug: int | Sequence[int], n: int) -> list[int]:
    """``num_aug`` as one count per example: an int for all, or a list that must have ``n`` entries >= 0."""
    counts = [num_aug] * n if isinstance(num_aug, int) else list(num_aug)
    if len(counts) != n:
        raise ValueError(f"num_aug: {len(counts)} counts for {n} examples")
    if any(c < 0 for c in counts):
        raise ConfigError(f"method.num_aug: must be >= 0, got {min(counts)}")
    return counts


__all__ = ["Budget", "find_matched_run", "matched_counts", "read_budget", "split_budget", "per_seed_counts", "expand_counts",
           "check_same_data", "RESULTS_FILE"]
