"""Runs to report on: read from run directories or from a W&B project, finished or not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from llm2llm.curves import curves_from_history
from llm2llm.errors import Llm2llmError
from llm2llm.report.cost import Cost, run_cost
from llm2llm.rundir import CONFIG_FILE, RESULTS_FILE, ResultsError, final_predictions, read_results

#: the order of the table's method columns (others follow, by name)
METHOD_ORDER = ["finetune", "eda", "eda (budget-matched)", "auggpt", "auggpt (budget-matched)", "s2l", "llm2llm",
                "llm2llm (oracle teacher)", "untargeted (oracle teacher, budget-matched)", "random_extra (budget-matched)"]


def method_rank(method: str) -> int:
    """Where a method's column goes: METHOD_ORDER's order, any other method after them."""
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def method_order(method: str) -> tuple[int, str]:
    """The sort key of the table's method columns: METHOD_ORDER's order, then the others by name."""
    return method_rank(method), method


class ReportError(Llm2llmError):
    pass


def _source_fields(budget: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``keys`` (teacher, student) of the LLM2LLM run a budget came from, read once from its results
    file (``budget["source"]``); None each where that file is gone or unreadable."""
    try:
        results = read_results(Path(budget.get("source") or ""))
    except (OSError, ResultsError):  # a moved or broken source only loses this detail
        results = None
    return {k: None if results is None else results.data.get(k) for k in keys}


@dataclass
class Run:
    path: str
    results: dict[str, Any] | None  # None: the run did not finish (no complete results.json)
    config: dict[str, Any]
    #: {test example id: correct} of the last iteration, for runs read from W&B (a run directory
    #: has them in its predictions file instead)
    predictions: dict[str, bool] | None = None
    #: {iteration: per-step training curve} of a run read from W&B (a run directory keeps them in its
    #: checkpoints' train_log.json; llm2llm.curves)
    curves: dict[int, list[dict[str, float]]] | None = None

    @property
    def complete(self) -> bool:
        return self.results is not None and self.results.get("status") == "complete"

    @property
    def task(self) -> str:
        return self.config["task"]["name"]

    @property
    def method(self) -> str:
        """The method's column: budget-matched baselines get their own (``eda (budget-matched)``), and so
        does a method run with the oracle teacher, a positive control (``llm2llm (oracle teacher)``)."""
        name = self.config["method"]["name"]
        notes = []
        if self.oracle_teacher:
            notes.append("oracle teacher")
        if self.config["method"].get("budget_from"):
            notes.append("budget-matched")
        return f"{name} ({', '.join(notes)})" if notes else name

    @property
    def oracle_teacher(self) -> bool:
        """Whether the run's method used a teacher and that teacher was the oracle."""
        from llm2llm.methods import get_method

        return (get_method(self.config["method"]["name"]).needs_teacher
                and (self.config.get("teacher") or {}).get("backend") == "oracle")

    @property
    def control(self) -> bool:
        """A positive or negative control of a study (the oracle teacher, untargeted, random extra data),
        whose column is never marked as a row's best."""
        from llm2llm.methods import get_method

        return get_method(self.config["method"]["name"]).control or self.oracle_teacher

    @property
    def budget(self) -> dict[str, Any] | None:
        """The budget a budget-matched run recorded at D_0 (None for any other run)."""
        return ((self.results or {}).get("initial_augmentation") or {}).get("budget") or None

    @property
    def budget_source(self) -> dict[str, Any] | None:
        """What a budget-matched run's budget came from, seed aside (recorded by the run at D_0)."""
        budget = self.budget
        if not budget:
            return None
        source = {k: budget.get(k) for k in ("source_method", "source_task", "source_iterations")}
        unrecorded = tuple(k for k in ("teacher", "student") if f"source_{k}" not in budget)
        read = _source_fields(budget, unrecorded) if unrecorded else {}  # made before these were recorded
        for k in ("teacher", "student"):
            source[f"source_{k}"] = read[k] if k in read else budget[f"source_{k}"]
        return source

    @property
    def budget_shortfall(self) -> tuple[int, int] | None:
        """(examples added, budget) of a budget-matched run that added fewer than its budget (an AugGPT
        teacher that kept too few, a pool too small: never padded), else None."""
        budget = self.budget or {}
        if not self.complete or budget.get("total") is None:
            return None
        added = int(self.cost().examples_added)
        return (added, int(budget["total"])) if added < int(budget["total"]) else None

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def seed_size(self) -> str:
        if self.results and "seed_size" in self.results:
            return str(self.results["seed_size"])
        return f"{self.config['task']['seed_size']:g}"

    @property
    def accuracy(self) -> float:
        assert self.results is not None
        return self.results["final_test_accuracy"]

    def final_predictions(self) -> dict[str, bool] | None:
        """{test example id: correct} of the last iteration, or None where the run has none (a W&B
        run logged before the predictions were put in its summary)."""
        if self.path.startswith("wandb:") or not self.results:
            return self.predictions
        return final_predictions(Path(self.path), self.results)

    def cost(self) -> Cost:
        """What the run spent (llm2llm.report.cost)."""
        assert self.results is not None
        return run_cost(self.results, self.config)


def find_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Every run directory (one holding config.json) under the given paths, finished or not."""
    runs = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise ReportError(f"{root}: no such run directory")
        for cfg_file in sorted(root.rglob(CONFIG_FILE)):
            if cfg_file.parent.name == ".hydra":
                continue
            config = json.loads(cfg_file.read_text())
            if not isinstance(config, dict) or "task" not in config or "method" not in config:
                continue
            results = read_results(cfg_file.parent / RESULTS_FILE)
            runs.append(Run(str(cfg_file.parent), results.data if results else None, config))
    if not runs:
        raise ReportError(f"no run directories (with config.json) under {', '.join(map(str, paths))}")
    return runs


def wandb_runs(project: str, group: str | None) -> list[Run]:
    """Runs of a W&B project (entity/project) and group. A run logged by this harness carries its
    whole results.json and last-iteration predictions in its summary (``results_json``,
    ``final_predictions_json``): the same statistics as from its run directory, paired test included.
    Older runs are rebuilt from their history (accuracies only)."""
    import wandb

    filters = {"group": group} if group else {}
    found = list(wandb.Api().runs(project, filters=filters))
    if not found:
        raise ReportError(f"W&B {project} has no runs" + (f" in group {group!r}" if group else ""))
    runs = []
    for r in found:
        results = predictions = None
        summary = dict(r.summary)
        if r.state == "finished" and "results_json" in summary:
            results = json.loads(summary["results_json"])
            predictions = json.loads(summary.get("final_predictions_json") or "null")
        elif r.state == "finished":
            history = [row for row in r.scan_history() if row.get("test_accuracy") is not None]
            if history:
                its = [{"iteration": int(h["iteration"]), "test_accuracy": h["test_accuracy"],
                        "train_size": h.get("train_size"), "n_augmented_total": h.get("n_augmented_total")}
                       for h in history]
                results = {"status": "complete", "iterations": its, "final_test_accuracy": its[-1]["test_accuracy"]}
        runs.append(Run(f"wandb:{r.path}", results, dict(r.config), predictions,
                        curves_from_history(r.scan_history())))
    return runs


def load_reference(path: str | None) -> dict[str, Any] | None:
    """The paper's numbers (YAML: task -> seed size -> value), seed sizes as strings like the table's."""
    if not path:
        return None
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: reference file not found")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ReportError(f"{p}: expected a mapping task -> seed size -> number")
    return {task: {str(k): v for k, v in (sizes or {}).items()} for task, sizes in data.items()}
