"""Turn run directories (or a W&B group) into the paper's tables and plots, and compare runs.

    python -m llm2llm.report table runs/ --out docs/report [--reference sweeps/reference.yaml]
    python -m llm2llm.report compare runs/trec
    python -m llm2llm.report table --wandb entity/project --group paper-trec --out report/

Rows are task x seed size, columns methods; each cell is the mean ± the half-width of its 95 % t
interval over seeds (n = how many); the best mean per row is marked (never a control's). "Δ vs finetune" columns
(--baseline picks another method) give the paired difference over the same seeds with its 95 % t
interval and the p of a paired test over seeds and the shared test examples (see
llm2llm/stats.py); a win is marked only where the paired interval lies above zero and p < 0.05,
a loss only where it lies below zero and p < 0.05. A cost table gives teacher requests, tokens, dollars, kept and
judge-accepted examples, the wrong seeds sent to the teacher, examples added and wall time per
method (mean over seeds).
Runs that did not finish are listed as partial and never averaged. Runs whose configs differ in
anything but the seed are never averaged together: the report stops and names the keys.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llm2llm.errors import exit_code
from llm2llm.report.load import ReportError, find_runs, load_reference, wandb_runs
from llm2llm.report.plots import plot, plot_training_loss
from llm2llm.report.render import compare, to_csv, to_latex, to_markdown
from llm2llm.report.table import build_table


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
    t.add_argument("--no-plots", action="store_true",
                   help="tables only (the plots do not depend on --baseline: make them once)")
    c = sub.add_parser("compare", help="list runs with their config differences and final metrics")
    c.add_argument("runs", nargs="+")
    args = ap.parse_args(argv)

    def run() -> int:
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
        plots = [] if args.no_plots else plot(runs, out) + plot_training_loss(runs, out)
        print(to_markdown(table))
        print(f"wrote {out / 'table.md'}, table.csv, table.tex" + "".join(f", {p.name}" for p in plots))
        return 0

    return exit_code(run)


if __name__ == "__main__":
    sys.exit(main())
