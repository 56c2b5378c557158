"""The report's plots: accuracy and training-set size per iteration, and every iteration's per-step
training loss (the curves themselves are read by llm2llm.curves)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm2llm.curves import Curve, run_dir_curves
from llm2llm.report.load import Run, method_order, method_rank
from llm2llm.stats import t_interval


@dataclass(frozen=True)
class Series:
    """One method's line in one panel: per iteration, the mean over seeds and its 95 % t interval, in
    the plotted unit, the interval clipped to what the quantity can take (an accuracy band that a t
    interval over few seeds stretches below 0 % stops at 0 %). ``low``/``high`` are None where one seed."""

    method: str
    iterations: list[int]
    mean: list[float]
    low: list[float | None]
    high: list[float | None]
    n: list[int]
    budget_matched: bool = False  # trained once on as many examples as an LLM2LLM run's last iteration


@dataclass(frozen=True)
class Quantity:
    key: str            # the field of results.json's iterations
    label: str
    scale: float        # stored value x scale = plotted value
    bounds: tuple[float, float]
    filename: str


ACCURACY = Quantity("test_accuracy", "test accuracy (%)", 100.0, (0.0, 100.0), "accuracy_per_iteration.png")
DATA_GROWTH = Quantity("train_size", "training examples", 1.0, (0.0, float("inf")), "data_growth.png")


def series(runs: list[Run], q: Quantity) -> dict[tuple[str, str], list[Series]]:
    """Per task x seed size, one :class:`Series` per method (the table's column order), from finished runs."""
    values: dict[tuple[str, str], dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    matched = {r.method for r in runs if r.complete and r.budget}
    for r in runs:
        if not r.complete:
            continue
        for h in r.results["iterations"]:
            if h.get(q.key) is not None:
                values[(r.task, r.seed_size)][r.method][int(h["iteration"])].append(float(h[q.key]) * q.scale)
    lo, hi = q.bounds
    out: dict[tuple[str, str], list[Series]] = {}
    for panel, by_method in sorted(values.items()):
        out[panel] = []
        for method in sorted(by_method, key=method_order):
            its = sorted(by_method[method])
            ivs = [t_interval(by_method[method][i]) for i in its]
            out[panel].append(Series(
                method, its, [iv.mean for iv in ivs],
                [None if iv.low is None else max(lo, iv.low) for iv in ivs],
                [None if iv.high is None else min(hi, iv.high) for iv in ivs],
                [iv.n for iv in ivs], method in matched))
    return out


def plot(runs: list[Run], out: Path) -> list[Path]:
    """Test accuracy (%) and training-set size per iteration per method: mean over seeds with its
    95 % t interval, a band for a method with several iterations, an error bar for one with a single
    training, drawn at iteration 0, or, budget-matched, at the last iteration (whose training-set
    size it matches); points at one iteration are spread a little along x so none hides another."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    paths = []
    for q in (ACCURACY, DATA_GROWTH):
        panels = series(runs, q)
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
        handles: dict[str, object] = {}
        for ax, ((task, size), lines) in zip(axes[0], panels.items()):
            last = max(i for s in lines for i in s.iterations)
            at = {s.method: (last if s.budget_matched else s.iterations[0]) for s in lines if len(s.iterations) == 1}
            for s in lines:
                color = f"C{method_rank(s.method) % 10}"
                if s.method in at:
                    here = [m for m in at if at[m] == at[s.method]]
                    dx = 0.06 * (here.index(s.method) - (len(here) - 1) / 2)
                    x, m, low, high = at[s.method] + dx, s.mean[0], s.low[0], s.high[0]
                    yerr = None if low is None else [[m - low], [high - m]]
                    h = ax.errorbar([x], [m], yerr=yerr, fmt="o", capsize=4, color=color)
                else:
                    h, = ax.plot(s.iterations, s.mean, marker="o", color=color)
                    band = [(i, low, high) for i, low, high in zip(s.iterations, s.low, s.high) if low is not None]
                    if band:
                        ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                                        color=color, alpha=0.15)
                handles.setdefault(s.method, h)
            ax.set_title(f"{task}, seed size {size}")
            ax.set_xlabel("iteration")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(q.label)
            if q is ACCURACY:
                ax.set_ylim(0, 100)
            ax.grid(alpha=0.3)
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(3, len(handles)),
                   fontsize="small", frameon=False)
        fig.text(0.99, 0.99, "mean over seeds; band / bar: 95 % t interval", ha="right", va="top", fontsize="x-small")
        rows = (len(handles) + 2) // 3
        fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 0.97))
        path = out / q.filename
        fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend may be wider than the axes
        plt.close(fig)
        paths.append(path)
    return paths


def plot_training_loss(runs: list[Any], out: Path) -> list[Path]:
    """``training_loss.png``: the per-step training loss of every iteration, one panel per task x seed
    size x method, one colour per iteration, one line per seed. Runs read from W&B carry their
    curves (``Run.curves``); run directories are read here. Nothing is written when no run has a curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[tuple[str, str, str], list[tuple[int, dict[int, Curve]]]] = defaultdict(list)
    for r in runs:
        if not r.complete:
            continue
        curves = getattr(r, "curves", None)
        if curves is None and not str(r.path).startswith("wandb:"):
            curves = run_dir_curves(Path(r.path))
        if curves:
            panels[(r.task, r.seed_size, r.method)].append((r.seed, curves))
    if not panels:
        return []
    n = len(panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    order = sorted(panels, key=lambda k: (k[0], k[1], *method_order(k[2])))  # the table's column order
    for ax, (task, size, method) in zip(axes.flat, order):
        seeds = panels[(task, size, method)]
        last = max(it for _, curves in seeds for it in curves)
        labelled: set[int] = set()
        for _seed, curves in seeds:
            for it, curve in curves.items():
                color = cmap(it / max(last, 1))
                ax.plot([p["step"] for p in curve], [p.get("loss", float("nan")) for p in curve], color=color,
                        linewidth=1, label=None if it in labelled else f"iteration {it}")
                labelled.add(it)
        ax.set_title(f"{method}\n{task}, seed size {size}", fontsize="medium")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    path = out / "training_loss.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [path]
