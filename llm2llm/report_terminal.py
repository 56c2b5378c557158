"""The table a run prints when it finishes: test accuracy and data growth per iteration."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_results(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    title = f"{results['run_name']}: {results['task']} / {results['method']} / {results['student']}"
    table = Table(title=title)
    for col in ("iter", "train size", "augmented", "test acc", "seed acc", "wrong seeds", "added", "train s"):
        table.add_column(col, justify="right")
    for h in results["iterations"]:
        table.add_row(str(h["iteration"]), str(h["train_size"]), str(h["n_augmented_total"]),
                      f"{h['test_accuracy']:.3f}", f"{h['seed_accuracy']:.3f}", str(h["n_wrong"]),
                      str(h["added"]), f"{h['timings'].get('train_s', 0):.0f}")
    console.print(table)
