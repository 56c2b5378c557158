"""The report: run directories (or a W&B group) to the paper's tables and plots.

- ``load``: the runs (:class:`Run`) from run directories or W&B, and the paper's reference numbers;
- ``cost``: what a run spent, and the cost table's columns;
- ``table``: the statistics per task x seed size (:class:`Row`, :class:`Table`, :func:`build_table`);
- ``render``: Markdown, CSV and LaTeX, and ``compare``'s one line per run;
- ``plots``: accuracy and data growth per iteration;
- ``cli``: ``python -m llm2llm.report table|compare`` (its docstring is the command's help).
"""

from __future__ import annotations

from llm2llm.report.cli import main
from llm2llm.report.cost import COST_COLUMNS, COST_KEYS, Cost, CostColumn, mean_cost, run_cost
from llm2llm.report.load import METHOD_ORDER, ReportError, Run, find_runs, load_reference, wandb_runs
from llm2llm.report.plots import plot
from llm2llm.report.render import (LOSS, WIN, WIN_RULE, compare, format_cell, format_delta, format_p, to_csv, to_latex,
                                   to_markdown)
from llm2llm.report.table import Row, Table, build_table, check_same_but_seed

__all__ = ["COST_COLUMNS", "COST_KEYS", "Cost", "CostColumn", "LOSS", "METHOD_ORDER", "ReportError", "Row", "Run",
           "Table", "WIN", "WIN_RULE", "build_table", "check_same_but_seed", "compare", "find_runs", "format_cell",
           "format_delta", "format_p", "load_reference", "main", "mean_cost", "plot", "run_cost", "to_csv", "to_latex",
           "to_markdown", "wandb_runs"]
