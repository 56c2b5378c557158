"""The report's plots: accuracy and training-set size per iteration (the per-step training loss is
llm2llm.curves.plot_training_loss)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from llm2llm.report.load import METHOD_ORDER, Run
from llm2llm.stats import t_interval


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
