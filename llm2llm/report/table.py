"""The table's statistics: per task x seed size, each method's mean accuracy over seeds with its t
interval, its paired difference and paired test against the baseline, its verdict (win / loss),
and its mean cost (the tests themselves are in llm2llm/stats.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from llm2llm.methods import get_method
from llm2llm.report.cost import Cost, mean_cost
from llm2llm.report.load import ReportError, Run, method_order
from llm2llm.rundir import config_diff, result_config
from llm2llm.stats import Interval, PairedTest, StatsError, paired_difference, paired_test, t_interval

#: a win or loss needs the paired test's two-sided p below this (and the t interval clear of zero)
ALPHA = 0.05


def uses_teacher(config: dict[str, Any]) -> bool:
    """Whether the run's method calls the teacher (then the teacher config is part of its results)."""
    return get_method(config.get("method", {}).get("name", "")).needs_teacher


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's config that determines its results (llm2llm.rundir.result_config)."""
    return result_config(config, uses_teacher(config))


def _comparable(run: Run) -> dict[str, Any]:
    """A run's results-relevant config without its seed. A budget-matched baseline's ``budget_from``
    is a path to another run for every seed: what must agree is where its budget came from."""
    cfg = {k: v for k, v in comparable_config(run.config).items() if k != "seed"}
    if cfg.get("method", {}).get("budget_from"):
        cfg["method"] = {**cfg["method"], "budget_from": run.budget_source or "unrecorded"}
    return cfg


def check_same_but_seed(runs: list[Run]) -> None:
    """Refuse to average runs whose configs differ in anything but the seed."""
    base = runs[0]
    a = _comparable(base)  # once: an older budget-matched run reads its source's results file for it
    for other in runs[1:]:
        diff = config_diff(a, _comparable(other))
        if diff:
            raise ReportError(
                f"refusing to average {base.path} and {other.path}: their configs differ in "
                f"{', '.join(diff[:8])} (not only the seed). Report them separately (pass fewer run dirs)."
            )


def check_same_setup(task: str, size: str, by_method: dict[str, list[Run]]) -> None:
    """Refuse a row whose methods were run on different setups (student, trainer, evaluation, data):
    what may differ between the methods of one comparison is the method, its teacher and the seed."""
    def setup(run: Run) -> dict[str, Any]:
        return {k: v for k, v in comparable_config(run.config).items() if k not in ("method", "teacher", "seed")}

    (first, runs), *others = by_method.items()
    for method, group in others:
        diff = config_diff(setup(runs[0]), setup(group[0]))
        if diff:
            raise ReportError(
                f"{task} n={size}: the {first} and {method} runs differ in {', '.join(diff[:8])}, not only in the "
                f"method, its teacher and the seed ({runs[0].path} vs {group[0].path}); report them separately")


@dataclass
class Row:
    """One task x seed size. Accuracies and differences are in percent (points)."""

    task: str
    seed_size: str
    #: method -> mean test accuracy of the last iteration over seeds, with its 95 % t interval
    cells: dict[str, Interval] = field(default_factory=dict)
    #: method -> mean cost over seeds
    cost: dict[str, Cost] = field(default_factory=dict)
    #: method -> paired difference vs the baseline over the same seeds, or why there is none
    delta: dict[str, Interval | str] = field(default_factory=dict)
    #: method -> paired test vs the baseline over seeds and test examples, or why there is none
    paired_test: dict[str, PairedTest | str] = field(default_factory=dict)
    best: str = ""  # the method with the highest mean, controls aside (ties: the one listed first)
    paper: Any = None  # the reference's value for this row: a number, {method: number}, or None

    def verdict(self, method: str) -> str:
        """"win" / "loss" where the method's paired 95 % t interval over seeds lies above / below zero
        and the paired test over seeds and test examples agrees (p < ALPHA); "" otherwise, also where
        there is no paired test (no per-example predictions). The two can disagree: the interval
        treats the test set as fixed, the test also counts its sampling."""
        d, test = self.delta.get(method), self.paired_test.get(method)
        if not isinstance(d, Interval) or not isinstance(test, PairedTest) or d.low is None or test.p >= ALPHA:
            return ""
        if d.low > 0 and test.diff > 0:
            return "win"
        if d.high < 0 and test.diff < 0:
            return "loss"
        return ""


@dataclass
class Table:
    methods: list[str]
    rows: list[Row]
    partial: list[Run]  # runs that did not finish: listed, never averaged
    baseline: str = "finetune"  # what the Δ columns compare against
    runs: list[Run] = field(default_factory=list)  # the finished runs the cells average

    @property
    def compared(self) -> list[str]:
        """The methods with a Δ column (none where the baseline has no runs)."""
        return [m for m in self.methods if m != self.baseline] if self.baseline in self.methods else []


def _paired(group: list[Run], base: list[Run]) -> tuple[Interval | str, PairedTest | str]:
    """Paired difference and paired test of one method's runs against the baseline's."""
    acc = {r.seed: 100 * r.accuracy for r in group}
    acc0 = {r.seed: 100 * r.accuracy for r in base}
    if set(acc) != set(acc0):
        why = f"seeds differ ({sorted(acc)} vs {base[0].method} {sorted(acc0)})"
        return why, why
    delta = paired_difference(acc, acc0)
    preds = {r.seed: r.final_predictions() for r in group}
    preds0 = {r.seed: r.final_predictions() for r in base}
    if any(p is None for p in [*preds.values(), *preds0.values()]):
        return delta, "no per-example predictions"
    try:
        test = paired_test(preds, preds0)
    except StatsError as e:
        raise ReportError(f"{group[0].task} n={group[0].seed_size} {group[0].method} vs {base[0].method}: {e}") from e
    return delta, test


def build_table(runs: list[Run], reference: dict[str, Any] | None = None, baseline: str | None = None) -> Table:
    """Cells per task x seed size x method; the Δ columns pair every other method with ``baseline``
    (default: finetune, where there are finetune runs; no Δ columns where there are none)."""
    cells: dict[tuple[str, str], dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    partial = [r for r in runs if not r.complete]
    for r in runs:
        if r.complete:
            cells[(r.task, r.seed_size)][r.method].append(r)
    if not cells:
        raise ReportError("no finished runs to tabulate" + (f" ({len(partial)} partial)" if partial else ""))
    methods = sorted({m for row in cells.values() for m in row}, key=method_order)
    if baseline is not None and baseline not in methods:
        raise ReportError(f"baseline {baseline!r} has no finished runs (methods: {', '.join(methods)})")
    baseline = baseline or "finetune"
    rows = []
    for (task, size), by_method in sorted(cells.items()):
        row = Row(task, size)
        for method, group in by_method.items():
            check_same_but_seed(group)
            seeds = [r.seed for r in group]
            if len(set(seeds)) != len(seeds):
                raise ReportError(f"{task} n={size} {method}: several runs with the same seed {seeds}: "
                                  + ", ".join(r.path for r in group))
            row.cells[method] = t_interval([100 * r.accuracy for r in group])
            row.cost[method] = mean_cost([r.cost() for r in group])
        check_same_setup(task, size, by_method)
        for method, group in by_method.items():
            if method != baseline and baseline in by_method:
                row.delta[method], row.paired_test[method] = _paired(group, by_method[baseline])
        # ties go to the method listed first (finetune before the others); a control is never the best
        row.best = max((m for m in methods if m in row.cells and not by_method[m][0].control),
                       key=lambda m: row.cells[m].mean, default="")
        row.paper = ((reference or {}).get(task) or {}).get(size)  # load_reference made the keys strings
        rows.append(row)
    return Table(methods, rows, partial, baseline, [r for r in runs if r.complete])
