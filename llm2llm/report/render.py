"""The table as Markdown, CSV and LaTeX, and the one-line-per-run comparison."""

from __future__ import annotations

import csv
import io
from typing import Any

from llm2llm.report.cost import COST_COLUMNS, COST_KEYS
from llm2llm.report.load import Run
from llm2llm.report.table import Row, Table, comparable_config
from llm2llm.rundir import config_diff
from llm2llm.stats import Interval, PairedTest

WIN, LOSS = "▲", "▼"
WIN_RULE = (f"p: paired test of the accuracy difference over seeds and the shared test examples (crossed seed x "
            "example variance components, Student t with Satterthwaite's degrees of freedom; with one seed it covers "
            f"the test examples only). {WIN}: a win, the paired 95 % t interval lies above zero and p < 0.05; {LOSS}: a "
            "loss, below zero and p < 0.05. Each comparison is tested on its own (no correction for the number of "
            "comparisons).")

COST_HEADER = ["task", "seed size", "method", *(c.header for c in COST_COLUMNS)]


def format_cell(cell: Interval | None) -> str:
    """``73.3 ± 37.9 (n=3)``: mean and half-width of the 95 % t interval over n seeds."""
    if cell is None:
        return "–"
    if cell.half_width is None:
        return f"{cell.mean:.1f} (n={cell.n}, no CI)"
    return f"{cell.mean:.1f} ± {cell.half_width:.1f} (n={cell.n})"


def format_delta(row: Row, method: str) -> str:
    """``+3.0 [+1.0, +5.0] p=0.031 ▲``: paired mean difference, its 95 % t interval, paired bootstrap p."""
    d = row.delta.get(method)
    if d is None:
        return ""
    if isinstance(d, str):
        return d
    text = f"{d.mean:+.1f}" + (f" [{d.low:+.1f}, {d.high:+.1f}]" if d.low is not None else " (n=1, no CI)")
    test = row.paired_test[method]
    text += f" {format_p(test.p)}" if isinstance(test, PairedTest) else f" (p: {test})"
    return text + {"win": f" {WIN}", "loss": f" {LOSS}", "": ""}[row.verdict(method)]


def format_p(p: float) -> str:
    """``p=0.031``; below 1e-4 ``p<0.0001`` (a normal or t tail that far out is not a measured number)."""
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}" if p < 0.01 else f"p={p:.3g}"


def _header(t: Table) -> list[str]:
    h = ["task", "seed size"] + t.methods + [f"Δ {m} vs {t.baseline}" for m in t.compared]
    if any(r.paper for r in t.rows):
        h.append("paper")
    return h


def _cells(t: Table, row: Row, mark: tuple[str, str]) -> list[str]:
    out = [row.task, row.seed_size]
    for m in t.methods:
        text = format_cell(row.cells.get(m))
        out.append(f"{mark[0]}{text}{mark[1]}" if m == row.best else text)
    out += [format_delta(row, m) for m in t.compared]
    if any(r.paper for r in t.rows):
        p = row.paper
        out.append(", ".join(f"{k}: {v}" for k, v in p.items()) if isinstance(p, dict) else str(p or ""))
    return out


def _cost_rows(t: Table) -> list[list[str]]:
    out = []
    for r in t.rows:
        for m in t.methods:
            c = r.cost.get(m)
            if c is not None:
                out.append([r.task, r.seed_size, m, *(col.cell(c) for col in COST_COLUMNS)])
    return out


def to_markdown(t: Table) -> str:
    lines = ["| " + " | ".join(_header(t)) + " |", "|" + "---|" * len(_header(t))]
    lines += ["| " + " | ".join(_cells(t, r, ("**", "**"))) + " |" for r in t.rows]
    text = "\n".join(lines) + ("\n\nTest accuracy (%) of the last iteration: mean ± half-width of the 95 % "
                               "Student t interval over seeds, n seeds; best mean per row in bold (controls aside: oracle "
                               f"teacher, untargeted, random extra). Δ vs {t.baseline}: paired mean difference over the same seeds "
                               "[95 % t interval]. " + WIN_RULE + "\n")
    text += "\nCost per run (mean over seeds):\n\n| " + " | ".join(COST_HEADER) + " |\n|" + "---|" * len(COST_HEADER) + "\n"
    text += "".join("| " + " | ".join(c) + " |\n" for c in _cost_rows(t))
    short = [(r, s) for r in t.runs if (s := r.budget_shortfall)]
    if short:
        text += ("\nBudget-matched runs that added fewer examples than their budget (averaged as they are, "
                 "never padded):\n" + "".join(f"- {r.path}: {a} of {b}\n" for r, (a, b) in short))
    if t.partial:
        text += "\nPartial runs (not finished, not averaged):\n" + "".join(f"- {r.path}\n" for r in t.partial)
    return text


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def to_csv(t: Table) -> str:
    """One line per cell; ci_* are the 95 % t interval (empty for n=1), delta_* the paired difference
    vs the baseline (finetune unless --baseline), p_paired the paired test's p (empty where not computed),
    verdict win / loss / empty (Row.verdict)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["task", "seed_size", "method", "mean", "ci_low", "ci_high", "n", "best",
                f"delta_vs_{t.baseline}", "delta_ci_low", "delta_ci_high", "p_paired", "verdict", *COST_KEYS])
    for r in t.rows:
        for m in t.methods:
            cell = r.cells.get(m)
            if cell is None:
                continue
            d, test = r.delta.get(m), r.paired_test.get(m)
            d = d if isinstance(d, Interval) else None
            w.writerow([r.task, r.seed_size, m, _num(cell.mean), _num(cell.low), _num(cell.high), cell.n,
                        m == r.best, _num(d and d.mean), _num(d and d.low), _num(d and d.high),
                        f"{test.p:.6g}" if isinstance(test, PairedTest) else "", r.verdict(m),
                        *(f"{getattr(r.cost[m], k):.4f}" for k in COST_KEYS)])
    return buf.getvalue()


def to_latex(t: Table) -> str:
    def esc(s: str) -> str:
        return (s.replace("%", r"\%").replace("&", r"\&").replace("_", r"\_").replace("$", r"\$")
                .replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("–", "--").replace(WIN, r"$\blacktriangle$").replace(LOSS, r"$\blacktriangledown$"))

    def tabular(header: list[str], rows: list[list[str]], n_left: int) -> list[str]:
        return ([r"\begin{tabular}{" + "l" * n_left + "r" * (len(header) - n_left) + "}", r"\toprule",
                 " & ".join(esc(h) for h in header) + r" \\", r"\midrule"]
                + [" & ".join(c if c.startswith(r"\textbf{") else esc(c) for c in row) + r" \\" for row in rows]
                + [r"\bottomrule", r"\end{tabular}"])

    rows = [[r"\textbf{" + esc(c[2:-2]) + "}" if c.startswith("**") else c for c in _cells(t, r, ("**", "**"))]
            for r in t.rows]
    lines = tabular(_header(t), rows, 2)
    lines += ["", "% " + esc(WIN_RULE), ""] + tabular(COST_HEADER, _cost_rows(t), 3)
    return "\n".join(lines) + "\n"


def compare(runs: list[Run]) -> str:
    """One line per run: the config keys where runs differ, and the final metrics."""
    configs = [comparable_config(r.config) for r in runs]
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
