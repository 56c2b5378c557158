"""Run every check in order; one failing or skipped check never stops the others."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from llm2llm.preflight.context import Context, Skip

CheckFn = Callable[[Context], tuple[str, dict[str, Any]]]


@dataclass
class CheckResult:
    name: str
    #: ok | failed | skipped
    status: str
    #: the figures (ok), the error (failed) or why (skipped), on one line
    detail: str
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        word = {"ok": "ok", "failed": "failed", "skipped": "skipped"}[self.status]
        return f"{self.name:<14} {word:<8} {self.detail} [{self.seconds:.1f} s]"


def check_projection(ctx: Context) -> tuple[str, dict[str, Any]]:
    from llm2llm.preflight.projection import project_sweep

    if not ctx.sweeps:
        raise Skip("no sweep file given (--sweep)")
    out = {}
    for sweep in ctx.sweeps:
        out[sweep.stem] = project_sweep(sweep, ctx.results, ctx.wrong_fraction)
    parts = [f"{k}: {v['gpu_hours']:.0f} GPU-h ({v['jobs']} jobs)" if v["gpu_hours"] is not None
             else f"{k}: n/a (a throughput was not measured)" for k, v in out.items()]
    toy = " (toy sizes: not a real estimate)" if ctx.sizes.toy else ""
    return "; ".join(parts) + toy, {"sweeps": out, "toy": ctx.sizes.toy}


def all_checks() -> list[tuple[str, CheckFn]]:
    from llm2llm.preflight import env, evaluation, training

    return [("environment", env.check_environment), ("train_full", training.check_train_full),
            ("train_lora", training.check_train_lora), ("eval_generate", evaluation.check_generate),
            ("eval_score", evaluation.check_score), ("eval_vllm", evaluation.check_vllm),
            ("projection", check_projection)]


def run_checks(ctx: Context, only: list[str] | None = None, echo: Callable[[str], None] = print,
               after: Callable[[list[CheckResult]], None] | None = None) -> list[CheckResult]:
    """Every check in order; ``after`` sees the results so far after each one (the report is written as it goes,
    so a run stopped by a time limit still leaves what it measured)."""
    results: list[CheckResult] = []
    for name, fn in all_checks():
        if only and name not in only:
            result = CheckResult(name, "skipped", "not selected (--only)", 0.0)
        else:
            start = time.perf_counter()
            try:
                detail, metrics = fn(ctx)
                result = CheckResult(name, "ok", detail, time.perf_counter() - start, metrics)
                ctx.results[name] = metrics
            except Skip as e:
                result = CheckResult(name, "skipped", str(e), time.perf_counter() - start)
            except Exception as e:  # noqa: BLE001 - a failed check is reported, and the next one runs
                first = (str(e).strip().splitlines() or [""])[0]
                result = CheckResult(name, "failed", f"{type(e).__name__}: {first}", time.perf_counter() - start,
                                     traceback=traceback.format_exc())
        echo(result.line())
        results.append(result)
        if after is not None:
            after(results)
    return results
