"""Turn run directories (or a W&B group) into the paper's tables and plots, and compare runs.

    python -m llm2llm.report table runs/ --out docs/report [--reference sweeps/reference.yaml]
    python -m llm2llm.report compare runs/trec
    python -m llm2llm.report table --wandb entity/project --group paper-trec --out report/

Rows are task x seed size, columns methods; each cell is the mean ± the half-width of its 95 % t
interval over seeds (n = how many); the best mean per row is marked. "Δ vs finetune" columns
(--baseline picks another method) give the paired difference over the same seeds with its 95 % t
interval and the p of a two-level paired bootstrap over seeds and the shared test examples (see
llm2llm/stats.py); a win is marked only where the paired interval lies above zero, a loss only
where it lies below. A cost table gives teacher requests, tokens, dollars, examples
added and wall time per method (mean over seeds).
Runs that did not finish are listed as partial and never averaged. Runs whose configs differ in
anything but the seed are never averaged together: the report stops and names the keys.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from llm2llm.curves import curves_from_history, plot_training_loss
from llm2llm.errors import Llm2llmError
from llm2llm.rundir import config_diff, result_config
from llm2llm.stats import Interval, PairedBootstrap, StatsError, paired_bootstrap, paired_difference, t_interval

METHOD_ORDER = ["finetune", "eda", "eda (budget-matched)", "auggpt", "auggpt (budget-matched)", "s2l", "llm2llm"]


class ReportError(Llm2llmError):
    pass


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
        """The method's column: budget-matched baselines get their own (``eda (budget-matched)``)."""
        name = self.config["method"]["name"]
        return f"{name} (budget-matched)" if self.config["method"].get("budget_from") else name

    @property
    def budget_source(self) -> dict[str, Any] | None:
        """What a budget-matched run's budget came from, seed aside (recorded by the run at D_0)."""
        budget = ((self.results or {}).get("initial_augmentation") or {}).get("budget")
        if not budget:
            return None
        return {k: budget.get(k) for k in ("source_method", "source_task", "source_iterations")}

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
        last = self.results["iterations"][-1]["iteration"]
        f = Path(self.path) / f"iter_{last}" / "predictions_test.jsonl"
        if not f.is_file():
            return None
        out: dict[str, bool] = {}
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    out[str(row["id"])] = bool(row["correct"])
                except (ValueError, KeyError, TypeError) as e:
                    raise ReportError(f"{f}:{n}: expected a JSON row with id and correct ({e})") from e
        return out

    def cost(self) -> dict[str, float]:
        """What the run spent: teacher requests, tokens, dollars, outputs generated and kept (D_0 plus
        every iteration), examples added, and wall time (every recorded stage timing plus D_0's teacher
        time)."""
        assert self.results is not None
        d0_teacher = (self.results.get("initial_augmentation") or {}).get("teacher") or {}  # AugGPT's D_0
        teacher = [h.get("teacher") or {} for h in self.results["iterations"]] + [d0_teacher]
        wall = sum(float(v) for h in self.results["iterations"] for v in (h.get("timings") or {}).values())
        wall += float(d0_teacher.get("wall_s") or 0)
        added = self.results.get("total_augmented")
        if added is None:
            added = sum(h.get("added") or 0 for h in self.results["iterations"])
        return {
            "teacher_requests": float(sum(t.get("requests") or 0 for t in teacher)),
            "teacher_tokens": float(sum((t.get("prompt_tokens") or 0) + (t.get("completion_tokens") or 0) for t in teacher)),
            "cost_usd": float(sum(t.get("cost_usd") or 0 for t in teacher)),
            "teacher_generated": float(sum(t.get("generated") or 0 for t in teacher)),
            "teacher_kept": float(sum(t.get("kept") or 0 for t in teacher)),  # passed validation and dedup
            "examples_added": float(added),
            "wall_s": wall,
        }


def find_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Every run directory (one holding config.json) under the given paths, finished or not."""
    runs = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise ReportError(f"{root}: no such run directory")
        for cfg_file in sorted(root.rglob("config.json")):
            if cfg_file.parent.name == ".hydra":
                continue
            config = json.loads(cfg_file.read_text())
            if not isinstance(config, dict) or "task" not in config or "method" not in config:
                continue
            res_file = cfg_file.parent / "results.json"
            results = json.loads(res_file.read_text()) if res_file.is_file() else None
            runs.append(Run(str(cfg_file.parent), results, config))
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


def _comparable(run: Run) -> dict[str, Any]:
    """A run's results-relevant config without its seed. A budget-matched baseline's ``budget_from``
    is a path to another run for every seed: what must agree is where its budget came from."""
    cfg = {k: v for k, v in result_config(run.config).items() if k != "seed"}
    if cfg.get("method", {}).get("budget_from"):
        cfg["method"] = {**cfg["method"], "budget_from": run.budget_source or "unrecorded"}
    return cfg


def check_same_but_seed(runs: list[Run]) -> None:
    """Refuse to average runs whose configs differ in anything but the seed."""
    base = runs[0]
    for other in runs[1:]:
        a, b = _comparable(base), _comparable(other)
        diff = config_diff(a, b)
        if diff:
            raise ReportError(
                f"refusing to average {base.path} and {other.path}: their configs differ in "
                f"{', '.join(diff[:8])} (not only the seed). Report them separately (pass fewer run dirs)."
            )


COST_KEYS = ["teacher_requests", "teacher_tokens", "cost_usd", "teacher_generated", "teacher_kept", "examples_added",
             "wall_s"]


@dataclass
class Table:
    methods: list[str]
    # task, seed_size, cells {method: Interval (%)}, delta {method: Interval (points) | str why not},
    # paired_test {method: PairedBootstrap | str why not}, cost {method: {COST_KEYS: mean over seeds}}, best, paper
    rows: list[dict[str, Any]]
    partial: list[Run]
    baseline: str = "finetune"  # what the Δ columns compare against


def _paired(group: list[Run], base: list[Run]) -> tuple[Interval | str, PairedBootstrap | str]:
    """Paired difference and paired bootstrap test of one method's runs against the baseline's."""
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
        test = paired_bootstrap(preds, preds0)
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
    methods = sorted({m for row in cells.values() for m in row},
                     key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m))
    if baseline is not None and baseline not in methods:
        raise ReportError(f"baseline {baseline!r} has no finished runs (methods: {', '.join(methods)})")
    baseline = baseline or "finetune"
    rows = []
    for (task, size), by_method in sorted(cells.items()):
        row: dict[str, Any] = {"task": task, "seed_size": size, "cells": {}}
        for method, group in by_method.items():
            check_same_but_seed(group)
            seeds = [r.seed for r in group]
            if len(set(seeds)) != len(seeds):
                raise ReportError(f"{task} n={size} {method}: several runs with the same seed {seeds}: "
                                  + ", ".join(r.path for r in group))
            row["cells"][method] = t_interval([100 * r.accuracy for r in group])
            costs = [r.cost() for r in group]
            row.setdefault("cost", {})[method] = {k: sum(c[k] for c in costs) / len(costs) for k in COST_KEYS}
        row["delta"], row["paired_test"] = {}, {}
        for method, group in by_method.items():
            if method != baseline and baseline in by_method:
                row["delta"][method], row["paired_test"][method] = _paired(group, by_method[baseline])
        # ties go to the method listed first (finetune before the others)
        row["best"] = max((m for m in methods if m in row["cells"]), key=lambda m: row["cells"][m].mean)
        row["paper"] = ((reference or {}).get(task) or {}).get(size)  # load_reference made the keys strings
        rows.append(row)
    return Table(methods, rows, partial, baseline)


WIN, LOSS = "▲", "▼"
WIN_RULE = (f"{WIN}: a win, the paired 95 % t interval of the difference lies above zero; {LOSS}: a loss, it lies "
            "below. "
            "p: two-level paired bootstrap of the accuracy difference (seeds and the shared test examples resampled; "
            "its standard error over every resample, Student t with seeds - 1 degrees of freedom).")


def _fmt(cell: Interval | None) -> str:
    if cell is None:
        return "–"
    if cell.half_width is None:
        return f"{cell.mean:.1f} (n={cell.n}, no CI)"
    return f"{cell.mean:.1f} ± {cell.half_width:.1f} (n={cell.n})"


def _delta(row: dict[str, Any], method: str) -> str:
    """``+3.0 [+1.0, +5.0] p=0.031 ▲``: paired mean difference, its 95 % t interval, paired bootstrap p."""
    d = row.get("delta", {}).get(method)
    if d is None:
        return ""
    if isinstance(d, str):
        return d
    text = f"{d.mean:+.1f}" + (f" [{d.low:+.1f}, {d.high:+.1f}]" if d.low is not None else " (n=1, no CI)")
    test = row["paired_test"][method]
    text += f" p={test.p:.3g}" if isinstance(test, PairedBootstrap) else f" (p: {test})"
    if d.low is not None and d.low > 0:
        text += f" {WIN}"
    elif d.high is not None and d.high < 0:
        text += f" {LOSS}"
    return text


def _compared(t: Table) -> list[str]:
    return [m for m in t.methods if m != t.baseline] if t.baseline in t.methods else []


def _header(t: Table) -> list[str]:
    h = ["task", "seed size"] + t.methods + [f"Δ {m} vs {t.baseline}" for m in _compared(t)]
    if any(r["paper"] for r in t.rows):
        h.append("paper")
    return h


def _cells(t: Table, row: dict[str, Any], mark: tuple[str, str]) -> list[str]:
    out = [row["task"], row["seed_size"]]
    for m in t.methods:
        text = _fmt(row["cells"].get(m))
        out.append(f"{mark[0]}{text}{mark[1]}" if m == row["best"] else text)
    out += [_delta(row, m) for m in _compared(t)]
    if any(r["paper"] for r in t.rows):
        p = row["paper"]
        out.append(", ".join(f"{k}: {v}" for k, v in p.items()) if isinstance(p, dict) else str(p or ""))
    return out


def to_markdown(t: Table) -> str:
    lines = ["| " + " | ".join(_header(t)) + " |", "|" + "---|" * len(_header(t))]
    lines += ["| " + " | ".join(_cells(t, r, ("**", "**"))) + " |" for r in t.rows]
    text = "\n".join(lines) + ("\n\nTest accuracy (%) of the last iteration: mean ± half-width of the 95 % "
                               f"Student t interval over seeds, n seeds; best mean per row in bold. Δ vs {t.baseline}: "
                               "paired mean difference over the same seeds [95 % t interval]. " + WIN_RULE + "\n")
    text += "\nCost per run (mean over seeds):\n\n| " + " | ".join(_COST_HEADER) + " |\n|" + "---|" * len(_COST_HEADER) + "\n"
    text += "".join("| " + " | ".join(c) + " |\n" for c in _cost_rows(t))
    if t.partial:
        text += "\nPartial runs (not finished, not averaged):\n" + "".join(f"- {r.path}\n" for r in t.partial)
    return text


_COST_HEADER = ["task", "seed size", "method", "teacher requests", "teacher tokens", "cost ($)",
                "teacher kept / generated", "examples added", "wall time (s)"]


def _kept(c: dict[str, float]) -> str:
    if not c["teacher_generated"]:
        return "–"
    return f"{c['teacher_kept']:.1f} / {c['teacher_generated']:.1f} ({100 * c['teacher_kept'] / c['teacher_generated']:.0f} %)"


def _cost_rows(t: Table) -> list[list[str]]:
    out = []
    for r in t.rows:
        for m in t.methods:
            c = r["cost"].get(m)
            if c is not None:
                out.append([r["task"], r["seed_size"], m, f"{c['teacher_requests']:.1f}", f"{c['teacher_tokens']:.0f}",
                            f"{c['cost_usd']:.4f}", _kept(c), f"{c['examples_added']:.1f}", f"{c['wall_s']:.1f}"])
    return out


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def to_csv(t: Table) -> str:
    """One line per cell; ci_* are the 95 % t interval (empty for n=1), delta_* the paired difference
    vs the baseline (finetune unless --baseline), p_bootstrap the paired bootstrap p (empty where not computed)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "seed_size", "method", "mean", "ci_low", "ci_high", "n", "best",
                f"delta_vs_{t.baseline}", "delta_ci_low", "delta_ci_high", "p_bootstrap", "win", *COST_KEYS])
    for r in t.rows:
        for m in t.methods:
            cell = r["cells"].get(m)
            if cell is None:
                continue
            d, test = r["delta"].get(m), r["paired_test"].get(m)
            d = d if isinstance(d, Interval) else None
            w.writerow([r["task"], r["seed_size"], m, _num(cell.mean), _num(cell.low), _num(cell.high), cell.n,
                        m == r["best"], _num(d and d.mean), _num(d and d.low), _num(d and d.high),
                        f"{test.p:.6g}" if isinstance(test, PairedBootstrap) else "",
                        bool(d and d.low is not None and d.low > 0),
                        *(f"{r['cost'][m][k]:.4f}" for k in COST_KEYS)])
    return buf.getvalue()


def to_latex(t: Table) -> str:
    def esc(s: str) -> str:
        return (s.replace("_", r"\_").replace("$", r"\$").replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
                .replace("–", "--").replace(WIN, r"$\blacktriangle$").replace(LOSS, r"$\blacktriangledown$"))

    def tabular(header: list[str], rows: list[list[str]], n_left: int) -> list[str]:
        return ([r"\begin{tabular}{" + "l" * n_left + "r" * (len(header) - n_left) + "}", r"\toprule",
                 " & ".join(esc(h) for h in header) + r" \\", r"\midrule"]
                + [" & ".join(c if c.startswith(r"\textbf{") else esc(c) for c in row) + r" \\" for row in rows]
                + [r"\bottomrule", r"\end{tabular}"])

    rows = [[r"\textbf{" + esc(c[2:-2]) + "}" if c.startswith("**") else c for c in _cells(t, r, ("**", "**"))]
            for r in t.rows]
    lines = tabular(_header(t), rows, 2)
    lines += ["", "% " + esc(WIN_RULE), ""] + tabular(_COST_HEADER, _cost_rows(t), 3)
    return "\n".join(lines) + "\n"


def plot(runs: list[Run], out: Path) -> list[Path]:
    """Test accuracy per iteration per method, and training-set size per iteration: mean over seeds
    with its 95 % t interval as a band (no band where one seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    done = [r for r in runs if r.complete]
    paths = []
    for key, ylabel, fname in (("test_accuracy", "test accuracy", "accuracy_per_iteration.png"),
                               ("train_size", "training examples", "data_growth.png")):
        groups: dict[tuple[str, str], dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        for r in done:
            for h in r.results["iterations"]:
                if h.get(key) is not None:
                    groups[(r.task, r.seed_size)][r.method][int(h["iteration"])].append(float(h[key]))
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
        for ax, ((task, size), by_method) in zip(axes[0], sorted(groups.items())):
            for method in sorted(by_method, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
                its = sorted(by_method[method])
                ivs = [t_interval(by_method[method][i]) for i in its]
                line, = ax.plot(its, [iv.mean for iv in ivs], marker="o", label=method)
                band = [(i, iv) for i, iv in zip(its, ivs) if iv.low is not None]
                if band:
                    ax.fill_between([i for i, _ in band], [iv.low for _, iv in band], [iv.high for _, iv in band],
                                    color=line.get_color(), alpha=0.2)
            ax.set_title(f"{task}, seed size {size}")
            ax.set_xlabel("iteration")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{ylabel} (band: 95 % t CI)")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        path = out / fname
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def compare(runs: list[Run]) -> str:
    """One line per run: the config keys where runs differ, and the final metrics."""
    configs = [result_config(r.config) for r in runs]
    keys = sorted({k for c in configs[1:] for k in config_diff(configs[0], c)})
    lines = []
    for r, c in zip(runs, configs):
        values = []
        for k in keys:
            v: Any = c
            for part in k.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            values.append(f"{k}={v}")
        status = f"final={100 * r.accuracy:.1f} best={100 * max(h['test_accuracy'] for h in r.results['iterations']):.1f}" \
            if r.complete else "PARTIAL (not finished)"
        lines.append(f"{r.path}: {status}" + (f"  [{', '.join(values)}]" if values else ""))
    head = f"{len(runs)} runs; keys that differ: {', '.join(keys) or 'none'}"
    return head + "\n" + "\n".join(lines) + "\n"


def load_reference(path: str | None) -> dict[str, Any] | None:
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="llm2llm-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("table", help="paper-style table (Markdown, CSV, LaTeX) and plots")
    t.add_argument("runs", nargs="*", help="run directories (searched recursively)")
    t.add_argument("--out", required=True, help="folder for table.md/.csv/.tex and the PNG plots")
    t.add_argument("--reference", help="YAML of paper numbers: task -> seed size -> value")
    t.add_argument("--wandb", help="read runs from this W&B entity/project instead")
    t.add_argument("--group", help="W&B group")
    t.add_argument("--baseline",
                   help="method the Δ columns compare against (default finetune), e.g. 'eda (budget-matched)'")
    c = sub.add_parser("compare", help="list runs with their config differences and final metrics")
    c.add_argument("runs", nargs="+")
    args = ap.parse_args(argv)
    try:
        if args.command == "compare":
            print(compare(find_runs(args.runs)), end="")
            return 0
        if not args.runs and not args.wandb:
            raise ReportError("give run directories or --wandb entity/project")
        runs = wandb_runs(args.wandb, args.group) if args.wandb else find_runs(args.runs)
        table = build_table(runs, load_reference(args.reference), args.baseline)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(to_markdown(table))
        (out / "table.csv").write_text(to_csv(table))
        (out / "table.tex").write_text(to_latex(table))
        plots = plot(runs, out) + plot_training_loss(runs, out)
        print(to_markdown(table))
        print(f"wrote {out / 'table.md'}, table.csv, table.tex, " + ", ".join(p.name for p in plots))
        return 0
    except Llm2llmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
