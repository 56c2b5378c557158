"""The LLM2LLM loop (Lee et al., 2024, Algorithm 1), shared by every method.

    D_0 = seed set (or a baseline's augmented / selected set, see llm2llm/methods/)
    for i in 0..N-1:
        M_i   = fine-tune(base student, D_i)
        acc_i = evaluate(M_i, test split)
        W_i   = seed examples that M_i gets wrong        # only original seeds are eligible
        A_i   = teacher(W_i)                             # k new examples per wrong seed
        D_i+1 = D_i + validated, deduplicated A_i

Every stage writes its output into the run directory before the next starts (RunDir.stage), so
running the same command again after a crash repeats no finished work and no teacher call.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from llm2llm.config import Config
from llm2llm.curves import read_curve
from llm2llm.example import Example, read_examples, read_jsonl, write_examples
from llm2llm.methods import Method
from llm2llm.rundir import (AUGMENTATIONS_FILE, CHECKPOINT_DIR, METRICS_FILE, PREDICTIONS_SEED_FILE,
                            PREDICTIONS_TEST_FILE, TEACHER_RECORDS_FILE, TEACHER_STATS_FILE, TIMINGS_FILE, TRAIN_FILE,
                            RunDir, iter_file)
from llm2llm.student.evaluation import evaluation_metrics
from llm2llm.tracking import Tracker


@dataclass
class Stages:
    """What the loop needs: the method, data, the student, the teacher (if the method has one), the run dir, a tracker."""

    cfg: Config
    method: Method
    seeds: list[Example]
    test: list[Example]
    student: Any
    teacher: Any | None
    rd: RunDir
    tracker: Tracker
    judge: Any | None = None  # llm2llm.judge.LazyJudge: the reference judge of kept examples


class StageClock:
    """Wall time of each stage of one iteration, written to ``iter_<i>/timings.json`` as each stage
    finishes. A resumed iteration keeps the times its finished stages took when they ran (loading
    their saved output takes no time and would make a restarted run look cheap in the cost table);
    the time of work lost in a crash is not counted."""

    def __init__(self, rd: RunDir, i: int) -> None:
        self.rd, self.file = rd, iter_file(i, TIMINGS_FILE)
        self.timings: dict[str, float] = rd.read_json(self.file) or {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings.setdefault(f"{name}_s", round(time.perf_counter() - start, 3))
        self.rd.write_json(self.file, self.timings)


def llm2llm_loop(s: Stages, train_set: list[Example]) -> list[dict[str, Any]]:
    """Run (or resume) every iteration; return each iteration's metrics."""
    cfg, rd = s.cfg, s.rd
    history: list[dict[str, Any]] = []
    checkpoint: Path | None = None
    for i in range(s.method.n_iterations(cfg.method)):
        it = rd.iter_dir(i)
        finished = rd.read_json(iter_file(i, METRICS_FILE))
        if finished is None:
            finished = run_iteration(s, i, train_set, checkpoint)
        history.append(finished)
        checkpoint = it / CHECKPOINT_DIR
        if (rd.iter_dir(i + 1) / TRAIN_FILE).exists():
            train_set = read_examples(rd.iter_dir(i + 1) / TRAIN_FILE)
    return history


def run_iteration(s: Stages, i: int, train_set: list[Example], previous: Path | None) -> dict[str, Any]:
    cfg, rd, it = s.cfg, s.rd, s.rd.iter_dir(i)
    timed = StageClock(rd, i)
    with timed("train"):
        init_from = None if cfg.trainer.restart_from_base else previous
        checkpoint = s.student.train(train_set, it / CHECKPOINT_DIR, init_from=init_from)
    with timed("eval_test"):
        test_preds = predictions(s, checkpoint, s.test, it / PREDICTIONS_TEST_FILE, f"iter {i} test")
    with timed("eval_seed"):
        seed_preds = predictions(s, checkpoint, s.seeds, it / PREDICTIONS_SEED_FILE, f"iter {i} seeds")
    wrong = [seed for seed, p in zip(s.seeds, seed_preds) if not p["correct"]]

    teacher_stats: dict[str, Any] = {}
    added: list[Example] = []
    if s.method.iterates and i + 1 < s.method.n_iterations(cfg.method):
        # Only original seed examples go to the teacher (never an augmented one): wrong ones,
        # or all of them in the non-targeted ablation.
        to_teacher = wrong if cfg.method.targeted else list(s.seeds)
        with timed("teacher"):
            added, teacher_stats = augment(s, i + 1, to_teacher, train_set, seed_preds)
        write_examples(rd.iter_dir(i + 1) / TRAIN_FILE, train_set + added)

    metrics = {
        "iteration": i,
        "train_size": len(train_set),
        "n_seed": sum(e.origin == "seed" for e in train_set),
        "n_augmented_total": sum(e.origin != "seed" for e in train_set),
        "added": len(added),
        "test_accuracy": sum(p["correct"] for p in test_preds) / max(len(test_preds), 1),
        "seed_accuracy": sum(p["correct"] for p in seed_preds) / max(len(seed_preds), 1),
        "n_wrong": len(wrong),
        # how the student was evaluated; GSM8K: accuracy under both answer extractions; labelled tasks
        # evaluated by generation: how many outputs named no label
        **evaluation_metrics(s.student.evaluation(), s.student.task.labels is not None, test_preds, seed_preds),
        "training": s.student.training_summary(checkpoint),
        "teacher": teacher_stats,
        "timings": timed.timings,
    }
    rd.write_json(iter_file(i, METRICS_FILE), metrics)
    s.tracker.log_iteration(i, metrics)
    s.tracker.log_training_curve(i, read_curve(checkpoint))
    s.tracker.log_dataset(f"train-iter{i}", it / TRAIN_FILE, i)
    return metrics


def predictions(s: Stages, checkpoint: Path, examples: list[Example], path: Path, desc: str) -> list[dict[str, Any]]:
    return s.rd.stage(
        path,
        compute=lambda: [p.to_dict() for p in s.student.predict(checkpoint, examples, desc=desc)],
        save=RunDir.write_jsonl,
        load=read_jsonl,
    )


def augment(s: Stages, iteration: int, to_teacher: list[Example], train_set: list[Example],
            seed_preds: list[dict[str, Any]]) -> tuple[list[Example], dict[str, Any]]:
    """A_i: the teacher's validated new examples from the given seeds (staged: resumable)."""
    assert all(e.is_seed for e in to_teacher), "only original seed examples may be sent to the teacher"
    out = s.rd.iter_dir(iteration - 1)
    stats_file = iter_file(iteration - 1, TEACHER_STATS_FILE)
    stats = s.rd.read_json(stats_file)
    if stats is not None:
        return read_examples(out / AUGMENTATIONS_FILE), stats
    result = s.teacher.augment(to_teacher, k=s.cfg.method.k, iteration=iteration, existing=train_set, forbidden=s.test)
    verdict = s.judge.stats(result.examples) if s.judge is not None else None
    if verdict is not None:
        result.stats["judge"] = verdict
    write_examples(out / AUGMENTATIONS_FILE, result.examples)
    RunDir.write_jsonl(out / TEACHER_RECORDS_FILE, result.records)
    s.rd.write_json(stats_file, result.stats)  # written last: the stage is finished
    log_teacher_table(s, iteration - 1, to_teacher, result, seed_preds)
    return result.examples, result.stats


def log_teacher_table(s: Stages, iteration: int, to_teacher: list[Example], result: Any,
                      seed_preds: list[dict[str, Any]]) -> None:
    by_id = {p["id"]: p for p in seed_preds}
    kept: dict[str, list[str]] = {}
    for e in result.examples:
        kept.setdefault(e.parent_id or "", []).append(e.text)
    records = {r.get("parent_id"): r for r in result.records}
    rows = [{
        "seed_id": e.id, "input": e.text, "gold": e.answer,
        "student_output": by_id.get(e.id, {}).get("output"),
        "status": records.get(e.id, {}).get("status"),
        "teacher_kept": "\n---\n".join(kept.get(e.id, [])),
    } for e in to_teacher]
    s.tracker.log_table("wrong_examples", rows, iteration)
