"""The preflight's JSON (every figure) and its short Markdown report (what a researcher reads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from llm2llm.preflight.run import CheckResult


def build(results: Sequence[CheckResult], header: dict[str, Any]) -> dict[str, Any]:
    return {**header, "checks": [r.to_dict() for r in results],
            "summary": {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}}


def _gib(b: Any) -> str:
    return f"{b / 2**30:.2f}" if isinstance(b, (int, float)) else "-"


def _num(x: Any, fmt: str = "{:.0f}") -> str:
    return fmt.format(x) if isinstance(x, (int, float)) else "-"


def markdown(report: dict[str, Any]) -> str:
    by = {c["name"]: c for c in report["checks"]}
    state = "" if report.get("complete", True) else " - INCOMPLETE (stopped before the last check)"
    lines = [f"# Preflight ({report['sizes']['name']} sizes){state}", "",
             f"- date: {report['date']}", f"- machine: {report['machine']}", f"- command: `{report['command']}`",
             f"- student: {report['student']} ({report['architecture_source']}), trainer: {report['trainer']}", "",
             "| check | status | detail |", "| --- | --- | --- |"]
    lines += [f"| {c['name']} | {c['status']} | {c['detail'].replace('|', '/')} |" for c in report["checks"]]
    train = [by[n] for n in ("train_full", "train_lora") if by.get(n, {}).get("status") == "ok"]
    if train:
        lines += ["", "| training | layers | tokens/s (measured) | MFU | peak memory GiB | tokens/s at full depth |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in train:
            m = c["metrics"]
            lines.append(f"| {c['name']} | {m['layers_trained']}/{m['layers_student']} | {_num(m['tokens_per_s'])} | "
                         f"{_num(m['mfu'], '{:.1%}')} | {_gib(m['peak_gpu_memory_bytes'] or m['peak_rss_bytes'])} | "
                         f"{_num(m['student_tokens_per_s_same_mfu'])} |")
    proj = by.get("projection", {})
    if proj.get("status") == "ok":
        for name, sweep in proj["metrics"]["sweeps"].items():
            lines += ["", f"## {name}: {_num(sweep['gpu_hours'])} GPU-hours, {sweep['jobs']} jobs "
                      f"(wrong fraction {sweep['wrong_fraction']}; upper bound, see llm2llm/preflight/projection.py)", "",
                      "| cell | seeds | GPUs | train h | eval h | GPU-h per job |", "| --- | --- | --- | --- | --- | --- |"]
            for c in sweep["cells"]:
                cell = " ".join(f"{k}={v}" for k, v in c["overrides"].items())
                lines.append(f"| {cell} | {c['seeds']} | {c['gpus']} | {_num(c['train_hours'], '{:.2f}')} | "
                             f"{_num(c['eval_hours'], '{:.2f}')} | {_num(c['gpu_hours'], '{:.1f}')} |")
    return "\n".join(lines) + "\n"


def write(out: Path, report: dict[str, Any]) -> dict[str, Any]:
    """preflight.json and preflight.md in ``out`` (created); returns ``report``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "preflight.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "preflight.md").write_text(markdown(report))
    return report
