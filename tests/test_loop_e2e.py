"""The LLM2LLM loop end to end through ``train.py``: real SST-2 data, the real SmolLM2 student and
an in-process SmolLM2 teacher (no fakes), W&B offline. Kept tiny: a few seeds, 2 iterations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from e2e_run import ROOT, cached_calls, run_train, train_cmd
from llm2llm.example import read_jsonl


@pytest.mark.slow
def test_end_to_end_two_iterations(finished_run):
    tmp, proc = finished_run
    run = tmp / "run"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "complete" and len(results["iterations"]) == 2
    seeds = read_jsonl(run / "seed_set.jsonl")
    seed_ids = {s["id"] for s in seeds}
    d0, d1 = read_jsonl(run / "iter_0" / "train.jsonl"), read_jsonl(run / "iter_1" / "train.jsonl")
    # D_0 is the seed set; data accumulates: D_1 = D_0 + A_0.
    assert [e["id"] for e in d0] == [s["id"] for s in seeds]
    assert d1[: len(d0)] == d0
    added = d1[len(d0):]
    assert len(added) == results["iterations"][0]["added"] == results["total_augmented"]
    # Seed-only rule: the teacher saw exactly the wrong seeds of iteration 0, nothing augmented.
    preds = read_jsonl(run / "iter_0" / "predictions_seed.jsonl")
    wrong = {p["id"] for p in preds if not p["correct"]}
    assert results["iterations"][0]["n_wrong"] == len(wrong)
    records = read_jsonl(run / "iter_0" / "teacher_records.jsonl")
    assert {r["parent_id"] for r in records} == wrong
    assert added, "the teacher kept nothing: the provenance checks below would pass vacuously"
    for e in added:  # provenance
        assert e["origin"] == "teacher" and e["parent_id"] in wrong and e["iteration"] == 1
        assert e["teacher_model"] and e["answer"] == next(s["answer"] for s in seeds if s["id"] == e["parent_id"])
    assert all(e["origin"] == "seed" and e["id"] in seed_ids for e in d0)
    # Metrics per iteration and the stats the teacher reported.
    m0 = json.loads((run / "iter_0" / "metrics.json").read_text())
    assert m0["teacher"]["kept"] == len(added) and "rejected" in m0["teacher"]
    assert 0 <= results["final_test_accuracy"] <= 1
    # Provenance of the run itself.
    env = json.loads((run / "environment.json").read_text())
    assert env["packages"]["torch"].startswith("2.13.0") and "git_sha" in env
    with open("/proc/cpuinfo") as f:
        assert env["cpu"] and env["cpu"] in f.read()  # the machine's CPU, named beside its numbers
    assert json.loads((run / "config.json").read_text())["method"]["name"] == "llm2llm"
    # The terminal table.
    assert "test acc" in proc.stdout


@pytest.mark.slow
def test_wandb_offline_run_files(finished_run):
    tmp, _ = finished_run
    runs = list((tmp / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))
    tables = list(runs[0].rglob("files/media/table/**/*.table.json"))
    assert tables, "the wrong-examples table was not logged"
    table = json.loads(tables[0].read_text())
    assert "seed_id" in table["columns"] and "teacher_kept" in table["columns"]


@pytest.mark.slow
def test_wandb_history_has_per_step_training_curves(finished_run):
    """Every iteration's per-step loss, learning rate and grad norm, as the run logged them (read back
    from W&B's offline transaction log), equal to the Trainer's own log in the checkpoint."""
    from wandb_offline import OfflineApi

    from llm2llm.curves import curves_from_history, read_curve

    tmp, _ = finished_run
    (run,) = OfflineApi(tmp / "wandb").runs("llm2llm")
    curves = curves_from_history(run.history)
    assert sorted(curves) == [0, 1]
    for i, curve in curves.items():
        assert [p["step"] for p in curve] == [1, 2, 3]  # trainer.max_steps=3, a point every step
        assert all({"loss", "learning_rate", "grad_norm"} <= set(p) for p in curve)
        assert curve == read_curve(tmp / "run" / f"iter_{i}" / "checkpoint")


@pytest.mark.slow
def test_export_reads_back_the_runs_training_sets(finished_run, tmp_path):
    """``python -m llm2llm.export`` on the real run: each iteration's D_i comes back from
    ``datasets.load_from_disk`` example for example, with the teacher's provenance, and a card."""
    from datasets import load_from_disk

    tmp, _ = finished_run
    out = tmp_path / "export"
    proc = subprocess.run([sys.executable, "-m", "llm2llm.export", str(tmp / "run"), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dd = load_from_disk(str(out / "dataset"))
    assert sorted(dd) == ["iter_0", "iter_1"]
    for split in dd:
        want = read_jsonl(tmp / "run" / split / "train.jsonl")
        got = dd[split].to_list()
        assert [{k: r[k] for k in want[0] if k != "meta"} for r in got] == [{k: w[k] for k in w if k != "meta"}
                                                                           for w in want]
        assert [json.loads(r["meta"]) for r in got] == [w["meta"] for w in want]
    added = [r for r in dd["iter_1"].to_list() if r["origin"] == "teacher"]
    assert added and all(r["teacher_kept"] >= 1 for r in added)
    card = (out / "README.md").read_text()
    assert "Task: `sst2`" in card and "## Teacher prompt template" in card and "Commit of the harness" in card


@pytest.mark.slow
def test_lm_eval_cross_checks_the_finished_runs_checkpoint(finished_run, tmp_path):
    """`python -m llm2llm.lm_eval_check RUN_DIR` as the README gives it, on the real LLM2LLM run
    (its config read back with the method's and the teacher backend's own schemas)."""
    pytest.importorskip("lm_eval", reason="the lm-eval extra is not installed")
    ref, _ = finished_run
    out = tmp_path / "crosscheck"
    proc = subprocess.run([sys.executable, "-m", "llm2llm.lm_eval_check", str(ref / "run"), "--out", str(out),
                           "--limit", "4"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "crosscheck.json").read_text())
    assert result["iteration"] == 1 and result["lora"] and result["examples"] == 4
    assert result["generate"]["both_correct"] + result["generate"]["only_llm2llm_correct"] \
        == round(4 * result["run"]["accuracy"])  # the run's own predictions of these 4 examples


@pytest.mark.slow
def test_rerun_of_finished_run_is_a_noop(finished_run):
    tmp, _ = finished_run
    before = {f: (tmp / "run" / f).read_text() for f in ("results.json", "environment.json")}
    calls = cached_calls(tmp / "teacher_cache")
    proc = run_train(tmp, "trainer.eval_batch_size=3")  # a setting that leaves results as they are
    assert "already complete" in proc.stdout
    assert {f: (tmp / "run" / f).read_text() for f in before} == before  # the environment that made it, too
    assert cached_calls(tmp / "teacher_cache") == calls


@pytest.mark.slow
def test_different_config_in_same_run_dir_is_refused(finished_run):
    tmp, _ = finished_run
    cmd, env = train_cmd(tmp, "method.k=2")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "holds the results of a different config" in proc.stderr and "method.k" in proc.stderr


def kill_when(cmd: list[str], env: dict[str, str], ready, timeout: float = 1500) -> None:
    """Start the run and SIGKILL it (no clean-up) as soon as ``ready()`` is true."""
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"the run ended (exit {proc.returncode}) before the kill point was reached; "
                            f"its output ends:\n{log.read()[-3000:]}")
            time.sleep(0.05)
        pytest.fail("kill point not reached in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_resume_after_kills_reaches_the_same_data(finished_run, tmp_path):
    ref, _ = finished_run
    cmd, env = train_cmd(tmp_path)
    run, db = tmp_path / "run", tmp_path / "teacher_cache"
    # 1. Kill during teacher calls: iteration 0 is evaluated and the first calls are cached.
    kill_when(cmd, env, lambda: db.exists() and cached_calls(db) >= 1)
    assert not (run / "iter_0" / "teacher_stats.json").exists()
    ran = json.loads((run / "iter_0" / "timings.json").read_text())  # the stages finished before the kill
    assert set(ran) == {"train_s", "eval_test_s", "eval_seed_s"} and ran["train_s"] > 0
    # 2. Kill during the training of iteration 1.
    kill_when(cmd, env, lambda: (run / "iter_1" / ".checkpoint.tmp").exists())
    assert not (run / "iter_1" / "checkpoint" / "COMPLETE").exists()
    # 3. Finish.
    run_train(tmp_path)
    for name in ("seed_set.jsonl", "iter_0/train.jsonl", "iter_1/train.jsonl", "iter_0/predictions_seed.jsonl"):
        assert (run / name).read_text() == (ref / "run" / name).read_text(), name
    # No teacher call was repeated: the interrupted run made exactly as many as the uninterrupted one.
    assert cached_calls(db) == cached_calls(ref / "teacher_cache")
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "complete"
    # The cost table's wall time: a resumed iteration reports how long its stages took when they
    # ran, not the instant it took to reload their saved output.
    reported = results["iterations"][0]["timings"]
    assert {k: reported[k] for k in ran} == ran and reported["teacher_s"] > 0
