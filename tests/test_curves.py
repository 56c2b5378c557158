"""Training curves: the Trainer's per-step log read from a real checkpoint, logged to an offline W&B
run under per-iteration keys, read back from W&B's own transaction log, and plotted by the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_helpers import CACHE_DIR
from student_fixtures import sst2_task, student_cfg, trainer_cfg
from wandb_offline import OfflineApi

from llm2llm.config import TrackingConfig
from llm2llm.curves import curve_from_log, curves_from_history, read_curve, run_dir_curves
from llm2llm.report.plots import plot_training_loss
from llm2llm.report import Run, find_runs
from llm2llm.tracking import WandbTracker


@pytest.fixture(scope="module")
def trained(tiny_llama, tmp_path_factory) -> Path:
    """A tiny random Llama fine-tuned for 4 optimizer steps on real SST-2 examples (LoRA)."""
    from llm2llm.student import Student

    task = sst2_task()
    student = Student(student_cfg(tiny_llama), trainer_cfg(max_steps=4, logging_steps=1), task, str(CACHE_DIR), seed=0)
    return student.train(task.load("train")[:16], tmp_path_factory.mktemp("curve") / "checkpoint")


def test_every_step_has_loss_lr_and_grad_norm(trained):
    curve = read_curve(trained)
    assert [p["step"] for p in curve] == [1, 2, 3, 4]
    for p in curve:
        assert set(p) == {"step", "loss", "learning_rate", "grad_norm"} and p["loss"] > 0
    # the end-of-training summary row (train_loss, no loss) is not a step
    log = json.loads((trained / "train_log.json").read_text())
    assert any("train_loss" in r for r in log) and len(curve_from_log(log)) == 4


def test_wandb_history_holds_one_curve_per_iteration(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    (tmp_path / "wandb").mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    curve = read_curve(trained)
    tracker = WandbTracker(TrackingConfig(project="curves", mode="offline"), "r", {}, run_dir, [])
    for i in range(2):  # two iterations with the same step numbers: their keys keep them apart
        tracker.log_iteration(i, {"test_accuracy": 0.5})
        tracker.log_training_curve(i, [{**p, "loss": p["loss"] + i} for p in curve])
    tracker.finish({})
    (run,) = OfflineApi(tmp_path / "wandb").runs("curves")
    got = curves_from_history(run.history)
    assert sorted(got) == [0, 1]
    assert got[0] == curve and [p["loss"] for p in got[1]] == [p["loss"] + 1 for p in curve]
    rows = [h for h in run.history if "train/iter_1/loss" in h]
    assert len(rows) == 4 and all("train/iter_0/loss" not in h for h in rows)


def test_report_plots_training_loss_from_run_dirs(trained, tmp_path):
    import shutil

    run = tmp_path / "runs" / "a"
    for i in range(2):
        (run / f"iter_{i}" / "checkpoint").mkdir(parents=True)
        shutil.copy(trained / "train_log.json", run / f"iter_{i}" / "checkpoint" / "train_log.json")
    config = {"task": {"name": "sst2", "seed_size": 16}, "method": {"name": "llm2llm"}, "seed": 0}
    (run / "config.json").write_text(json.dumps(config))
    (run / "results.json").write_text(json.dumps({"status": "complete", "seed_size": 16, "iterations": [],
                                                  "final_test_accuracy": 0.5}))
    assert sorted(run_dir_curves(run)) == [0, 1]
    out = tmp_path / "report"
    out.mkdir()
    (png,) = plot_training_loss(find_runs([tmp_path / "runs"]), out)
    assert png.name == "training_loss.png" and png.stat().st_size > 10_000
    # a run without curves (no train_log.json anywhere) draws nothing
    assert plot_training_loss([Run(str(tmp_path / "none"), {"status": "complete"}, config)], out) == []
