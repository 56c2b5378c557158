"""Keep what the report reads of finished runs, without checkpoints, data or teacher text.

    python scripts/keep_runs.py SRC DST

For every finished run under ``SRC`` (a run directory whose ``results.json`` says complete), writes
into ``DST/<its path under SRC>``: config.json, environment.json, results.json; per iteration
metrics.json, timings.json, teacher_stats.json, initial_stats.json and the checkpoint's training.json
and train_log.json (the training-loss curve); the last iteration's test predictions and the seed set
as ids only (``{"id", "correct"}``, ``{"id"}``); each iteration's training set as the provenance of
its examples (``{"id", "origin", "parent_id", "iteration", "text_sha1"}``, with ``answer`` where the
task has a fixed label set: a class name or option index, never a GSM8K rationale). No example text,
so no copy of a dataset; ``text_sha1`` (the first 16 hex digits of the text's SHA-1) tells which
examples are the same text (an EDA rewrite equal to its seed, the same oracle example in two cells),
and with the dataset at hand which train example one is. That is all ``python -m llm2llm.report
table DST/...`` needs for the tables and plots, and all a budget-matched run needs of the LLM2LLM
run it reads its budget from, so a sweep restored from ``DST`` (copied back under its runs
directory) skips these runs and resumes the rest.
A run already kept is written again only where its files changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm2llm.example import atomic_write_text, dumps_jsonl, iter_jsonl, text_sha1  # noqa: E402
from llm2llm.report import ReportError, find_runs  # noqa: E402
from llm2llm.rundir import (CHECKPOINT_DIR, CONFIG_FILE, ENVIRONMENT_FILE, INITIAL_STATS_FILE,  # noqa: E402
                            METRICS_FILE, PREDICTIONS_TEST_FILE, RESULTS_FILE, SEED_SET_FILE, TEACHER_STATS_FILE,
                            TIMINGS_FILE, TRAIN_FILE, TRAIN_LOG_FILE, TRAINING_SUMMARY_FILE, iter_name)
from llm2llm.tasks import TASKS  # noqa: E402

PER_ITERATION = (METRICS_FILE, TIMINGS_FILE, TEACHER_STATS_FILE, INITIAL_STATS_FILE,
                 f"{CHECKPOINT_DIR}/{TRAINING_SUMMARY_FILE}", f"{CHECKPOINT_DIR}/{TRAIN_LOG_FILE}")


def kept_files(run: Path, results: dict) -> dict[str, str]:
    """{relative path: text} of what is kept of one finished run (``results``: its results.json)."""
    out = {name: (run / name).read_text() for name in (CONFIG_FILE, ENVIRONMENT_FILE, RESULTS_FILE)
           if (run / name).is_file()}
    task = TASKS.get(json.loads(out[CONFIG_FILE])["task"]["name"])
    fields = ("id", "origin", "parent_id", "iteration") + (("answer",) if task and task.labels else ())
    for it in results["iterations"]:
        folder = iter_name(it["iteration"])
        for name in PER_ITERATION:
            if (run / folder / name).is_file():
                out[f"{folder}/{name}"] = (run / folder / name).read_text()
        if (run / folder / TRAIN_FILE).is_file():
            out[f"{folder}/{TRAIN_FILE}"] = dumps_jsonl(
                {**{k: row.get(k) for k in fields}, "text_sha1": text_sha1(row["text"])}
                for _, row in iter_jsonl(run / folder / TRAIN_FILE))
    last = iter_name(results["iterations"][-1]["iteration"])
    preds = run / last / PREDICTIONS_TEST_FILE
    out[f"{last}/{PREDICTIONS_TEST_FILE}"] = dumps_jsonl(
        {"id": row["id"], "correct": row["correct"]} for _, row in iter_jsonl(preds))
    out[SEED_SET_FILE] = dumps_jsonl({"id": row["id"]} for _, row in iter_jsonl(run / SEED_SET_FILE))
    return out


def finished_runs(src: Path) -> list[tuple[Path, dict]]:
    """(run directory, results) of every finished run under ``src``, found as the report finds them."""
    try:
        return [(Path(r.path), r.results) for r in find_runs([src]) if r.complete]
    except ReportError:  # no run directory at all
        return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="runs directory (searched recursively)")
    ap.add_argument("dst", type=Path, help="where the kept files go, under the same relative paths")
    args = ap.parse_args(argv)
    if not args.src.is_dir():
        print(f"error: {args.src}: no such directory", file=sys.stderr)
        return 2
    runs = finished_runs(args.src)
    written = 0
    for run, results in runs:
        for rel, text in kept_files(run, results).items():
            target = args.dst / run.relative_to(args.src) / rel
            if target.is_file() and target.read_text() == text:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, text)
            written += 1
    print(f"{len(runs)} finished runs under {args.src}; {written} files written under {args.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
