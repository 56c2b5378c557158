"""From a composed Hydra config to a finished run: validate, load data, set up stages, run the loop."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from llm2llm.config import Config, InProcessTeacherConfig, format_size, to_plain, validate
from llm2llm.errors import Llm2llmError
from llm2llm.example import Example, read_examples, write_examples
from llm2llm.rundir import (FAILED_FILE, INITIAL_STATS_FILE, RESULTS_FILE, S2L_DIR, SEED_SET_FILE, TRAIN_FILE,
                            ResultsError, RunDir, iter_file)
from llm2llm.sampling import seed_set, test_subset
from llm2llm.tasks import Task, build_task


@dataclass
class TaskData:
    task: Task
    train: list[Example]
    seeds: list[Example]
    test: list[Example]


def load_task_data(cfg: Config) -> TaskData:
    """Load and check both splits and draw the seed set, before any model is loaded."""
    task = build_task(cfg.task, cfg.data_dir, cfg.eval)
    train = task.load("train")
    test = test_subset(task.load("test"), cfg.task.test_size, cfg.task.test_subset_seed)
    seeds = seed_set(train, cfg.task.seed_size, cfg.seed, cfg.task.stratify, cfg.task.label_quota == "equal")
    return TaskData(task, train, seeds, test)


def run_name(cfg: Config) -> str:
    return cfg.run_name or f"{cfg.task.name}-n{format_size(cfg.task.seed_size)}-{cfg.method.name}-{cfg.student.name}-s{cfg.seed}"


def hydra_run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def run(raw: DictConfig, run_dir: Path | None = None) -> float | None:
    """Hydra's job function. Bad input -> one ``error:`` line on stderr and exit code 2.

    In a multirun a failed job does not stop the sweep: its error is printed, written to its run
    directory (``FAILED.txt``) and to the sweep's failure log, and the next job starts; the sweep
    callback (llm2llm.sweep) lists the failures at the end and exits non-zero.
    """
    from llm2llm import sweep

    from llm2llm.student.distributed import check_reserved_gpus, is_orchestrator

    if not is_orchestrator():  # SLURM starts one task per node: the first runs the loop and the ranks
        print("not the first task of this multi-node job: the first one runs the harness and starts the "
              "training ranks here")
        return None
    multirun = run_dir is None and sweep.in_multirun()
    try:
        cfg = validate(raw)
        from llm2llm.methods import get_method

        get_method(cfg.method.name)  # an unknown method name fails here, before any data is read
        check_reserved_gpus(to_plain(cfg.trainer))
        data = load_task_data(cfg)
        config = to_plain(raw)
        if config["task"].get("labels") is None and data.task.labels is not None and cfg.task.name == "jsonl":
            config["task"]["labels"] = list(data.task.labels)  # inferred from the train file: recorded
        return run_method(cfg, config, data, run_dir or hydra_run_dir())
    except Exception as e:
        if not multirun:
            if isinstance(e, Llm2llmError):
                print(f"error: {e}", file=sys.stderr)
                sys.exit(2)
            raise
        sweep.record_failure(e)
        return None


def run_method(cfg: Config, config: dict[str, Any], data: TaskData, run_dir: Path) -> float | None:
    from llm2llm.methods import get_method

    rd = RunDir(run_dir)
    if (get_method(cfg.method.name).needs_teacher and isinstance(cfg.teacher, InProcessTeacherConfig)
            and cfg.teacher.self_check and not _complete(rd)):
        from llm2llm.teacher.self_check import self_check

        # An in-process teacher that crashes (a native signal) does so here, in a child process, as one
        # error line, before the run directory is touched: the same command resumes the run later.
        self_check(config["teacher"], str(Path(cfg.cache_dir).expanduser()))
    rd.acquire()  # one job per directory: refused (one line) if another live job holds it
    try:
        return _run_claimed(cfg, config, data, rd)
    finally:
        rd.release()


def _complete(rd: RunDir) -> bool:
    """Whether the directory already holds a finished run (read only: nothing is written)."""
    try:
        done = rd.results()
    except ResultsError:  # unreadable: the claim decides what happens to it
        return False
    return done is not None and done.complete


def as_read_today(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded config as this version reads it (llm2llm.schemas.recorded_config): settings added
    since it was written take their defaults, keys of an older layout that nothing reads drop out. A
    config this version cannot read stays as written (the comparison then names what differs)."""
    from llm2llm.schemas import recorded_config

    try:
        return to_plain(recorded_config(config))
    except Exception:  # noqa: BLE001 - any failure to read it back only means comparing it as written
        return config


def _run_claimed(cfg: Config, config: dict[str, Any], data: TaskData, rd: RunDir) -> float | None:
    from llm2llm import report_terminal
    from llm2llm.methods import get_method
    from llm2llm.methods.augment import follow_moved_source
    from llm2llm.loop import Stages, llm2llm_loop
    from llm2llm.provenance import environment

    run_dir = rd.path
    method = get_method(cfg.method.name)
    if follow_moved_source(cfg, run_dir):
        print(f"method.budget_from: {run_dir} holds a run matched to the same LLM2LLM run, recorded under another "
              f"path (the runs moved); its config now names {cfg.method.budget_from}")
    rd.claim(config, environment(), uses_teacher=method.needs_teacher, read_back=as_read_today)
    done = rd.results()
    if done is not None and done.complete:
        print(f"Run already complete, nothing to do: {run_dir} (delete it, or pick another hydra.run.dir, to re-run)")
        report_terminal.print_results(done.data)
        return done.data["iterations"][-1]["test_accuracy"]
    (run_dir / FAILED_FILE).unlink(missing_ok=True)  # an earlier attempt's failure; this one starts over

    teacher = student = tracker = None
    try:
        if method.needs_teacher:
            from llm2llm.teacher import Teacher

            teacher = Teacher(cfg.teacher, data.task, cfg.cache_dir, run_seed=cfg.seed)
            teacher.check_ready()  # fail now, not after an hour of training
        from llm2llm.student import Student

        student = Student(cfg.student, cfg.trainer, data.task, cfg.cache_dir, cfg.seed)
        from llm2llm.tracking import build_tracker, tracked_summary

        name = run_name(cfg)
        tags = [f"task:{cfg.task.name}", f"method:{cfg.method.name}", f"student:{cfg.student.name}"]
        if teacher is not None:
            tags.append(f"teacher:{cfg.teacher.name}")
            if cfg.teacher.backend == "oracle":
                tags.append("oracle-teacher")  # a positive control, not a model (llm2llm/teacher/oracle.py)
        tracker = build_tracker(cfg.tracking, name, config, run_dir, tags)

        seeds = rd.stage(run_dir / SEED_SET_FILE,
                         compute=lambda: method.seeds(cfg, data.train, data.seeds, student, run_dir / S2L_DIR),
                         save=write_examples, load=read_examples)
        d0_file, d0_stats_file = rd.iter_dir(0) / TRAIN_FILE, iter_file(0, INITIAL_STATS_FILE)
        from llm2llm.judge import LazyJudge

        judge = LazyJudge(data.task, data.train, data.test)
        if not d0_file.exists():
            d0, d0_stats = method.initial_training_set(cfg, seeds, data.train, data.test, teacher)
            verdict = judge.stats(d0) if len(d0) > len(seeds) else None
            if verdict is not None:
                d0_stats["judge"] = verdict
            rd.write_json(d0_stats_file, d0_stats)
            write_examples(d0_file, d0)  # written last: D_0 is finished
        d0_stats = rd.read_json(d0_stats_file)
        d0 = read_examples(d0_file)

        stages = Stages(cfg=cfg, method=method, seeds=seeds, test=data.test, student=student, teacher=teacher, rd=rd, tracker=tracker,
                        judge=judge)
        history = llm2llm_loop(stages, d0)
        results = {
            "status": "complete",
            "run_name": name,
            "task": cfg.task.name,
            "method": cfg.method.name,
            "student": cfg.student.name,
            "teacher": cfg.teacher.name if teacher is not None else None,
            "seed": cfg.seed,
            "seed_size": len(seeds),
            "test_size": len(data.test),
            "initial_augmentation": d0_stats or {},
            "iterations": history,
            "total_augmented": sum(h["added"] for h in history) + sum(e.origin != "seed" for e in d0),
            "final_test_accuracy": history[-1]["test_accuracy"],
            "best_test_accuracy": max(h["test_accuracy"] for h in history),
            "config": config,
        }
        rd.write_json(RESULTS_FILE, results)
        tracker.finish(tracked_summary(run_dir, results))
        tracker = None
    finally:  # models, server connections and the W&B run are closed however the run ends
        if tracker is not None:
            tracker.abort()
        if student is not None:
            student.release()
        if teacher is not None:
            teacher.close()
    report_terminal.print_results(results)
    return results["final_test_accuracy"]
