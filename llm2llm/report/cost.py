"""What a run spent, and the columns of the report's cost table.

A new statistic is one field of :class:`Cost`, its value in :func:`run_cost` and one
:class:`CostColumn` in ``COST_COLUMNS``: the CSV gets a column per field, the Markdown and LaTeX
cost tables one per entry of ``COST_COLUMNS``.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any, Callable


@dataclass(frozen=True)
class Cost:
    """A run's spending (D_0 plus every iteration) and what it bought (kept, judged, targeted), or the
    mean of several runs'."""

    teacher_requests: float
    teacher_tokens: float  # prompt plus completion
    cost_usd: float
    teacher_generated: float  # outputs the teacher wrote
    teacher_kept: float  # of those, passed validation and dedup
    examples_added: float
    wall_s: float  # every recorded stage timing plus D_0's teacher time
    judge_checked: float = 0.0  # added examples the reference judge could check (llm2llm.judge)
    judge_accepted: float = 0.0  # of those, accepted
    # Targeting (LLM2LLM): wrong seeds sent to the teacher, out of the seeds evaluated, summed over the
    # iterations that augmented. Near 100 % the targeted run sends nearly every seed, as the
    # untargeted ablation does, so the two can differ only by what the later iterations select.
    seeds_targeted: float = 0.0
    seeds_evaluated: float = 0.0


#: the CSV columns, in field order
COST_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Cost))


def run_cost(results: dict[str, Any], config: dict[str, Any] | None = None) -> Cost:
    """The cost recorded in a finished run's results.json (``config``: the run's, where the results
    do not carry it, as a W&B summary's do not)."""
    d0 = results.get("initial_augmentation") or {}
    d0_teacher = d0.get("teacher") or {}  # AugGPT's D_0
    teacher = [h.get("teacher") or {} for h in results["iterations"]] + [d0_teacher]
    judged = [t.get("judge") or {} for t in teacher[:-1]] + [d0.get("judge") or {}]
    wall = sum(float(v) for h in results["iterations"] for v in (h.get("timings") or {}).values())
    wall += float(d0_teacher.get("wall_s") or 0)
    targeted = [h for h in results["iterations"] if h.get("teacher") and "n_wrong" in h] \
        if (((config or results.get("config") or {}).get("method")) or {}).get("targeted") else []
    added = results.get("total_augmented")
    if added is None:
        added = sum(h.get("added") or 0 for h in results["iterations"])
    return Cost(
        teacher_requests=float(sum(t.get("requests") or 0 for t in teacher)),
        teacher_tokens=float(sum((t.get("prompt_tokens") or 0) + (t.get("completion_tokens") or 0) for t in teacher)),
        cost_usd=float(sum(t.get("cost_usd") or 0 for t in teacher)),
        teacher_generated=float(sum(t.get("generated") or 0 for t in teacher)),
        teacher_kept=float(sum(t.get("kept") or 0 for t in teacher)),
        examples_added=float(added),
        wall_s=wall,
        judge_checked=float(sum(j.get("checked") or 0 for j in judged)),
        judge_accepted=float(sum(j.get("accepted") or 0 for j in judged)),
        seeds_targeted=float(sum(h["n_wrong"] for h in targeted)),
        seeds_evaluated=float(sum(h.get("n_seed") or 0 for h in targeted)),
    )


def mean_cost(costs: list[Cost]) -> Cost:
    """Field by field mean over runs (the seeds of one cell)."""
    columns = zip(*(astuple(c) for c in costs))
    return Cost(*(sum(values) / len(costs) for values in columns))


def _kept(c: Cost) -> str:
    if not c.teacher_generated:
        return "–"
    return f"{c.teacher_kept:.1f} / {c.teacher_generated:.1f} ({100 * c.teacher_kept / c.teacher_generated:.0f} %)"


def _judged(c: Cost) -> str:
    if not c.judge_checked:
        return "–"
    return f"{c.judge_accepted:.1f} / {c.judge_checked:.1f} ({100 * c.judge_accepted / c.judge_checked:.0f} %)"


def _targeted(c: Cost) -> str:
    if not c.seeds_evaluated:
        return "–"
    return f"{c.seeds_targeted:.1f} / {c.seeds_evaluated:.1f} ({100 * c.seeds_targeted / c.seeds_evaluated:.0f} %)"


@dataclass(frozen=True)
class CostColumn:
    """One column of the Markdown / LaTeX cost table: its header and how a cell is written."""

    header: str
    cell: Callable[[Cost], str]


COST_COLUMNS: tuple[CostColumn, ...] = (
    CostColumn("teacher requests", lambda c: f"{c.teacher_requests:.1f}"),
    CostColumn("teacher tokens", lambda c: f"{c.teacher_tokens:.0f}"),
    CostColumn("cost ($)", lambda c: f"{c.cost_usd:.4f}"),
    CostColumn("teacher kept / generated", _kept),
    CostColumn("judge accepted / added", _judged),
    CostColumn("wrong seeds sent / evaluated", _targeted),
    CostColumn("examples added", lambda c: f"{c.examples_added:.1f}"),
    CostColumn("wall time (s)", lambda c: f"{c.wall_s:.1f}"),
)
