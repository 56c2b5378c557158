"""A SLURM job that was requeued (preempted or timed out, restarted on another node) takes over its
own claim on the run directory at once; a live claim of another job is still refused, in one line.

SLURM itself cannot run here: the jobs are the environment variables SLURM sets (SLURM_JOB_ID,
SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID) and "another node" is a claim naming another host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import error_line, train_env, train_py

from llm2llm.rundir import CLAIM_FILE, RunDir, RunDirHeld, same_slurm_job, slurm_job


def claim_from_other_node(run: Path, **slurm: str) -> Path:
    lock = run / CLAIM_FILE
    lock.write_text(json.dumps({"host": "other-node", "pid": 4242, "since": time.time(), "slurm": slurm}))
    return lock


def no_slurm(monkeypatch) -> None:
    for k in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT"):
        monkeypatch.delenv(k, raising=False)


def test_same_job_is_a_job_id_or_an_array_task():
    assert same_slurm_job({"SLURM_JOB_ID": "7"}, {"SLURM_JOB_ID": "7", "SLURM_RESTART_COUNT": "1"})
    assert not same_slurm_job({"SLURM_JOB_ID": "7"}, {"SLURM_JOB_ID": "8"})
    array = {"SLURM_JOB_ID": "101", "SLURM_ARRAY_JOB_ID": "100", "SLURM_ARRAY_TASK_ID": "0"}
    assert same_slurm_job(array, {**array, "SLURM_JOB_ID": "105"})
    assert not same_slurm_job(array, {**array, "SLURM_ARRAY_TASK_ID": "1"})
    assert not same_slurm_job(array, {"SLURM_JOB_ID": "101"})
    assert not same_slurm_job({}, {}) and not same_slurm_job({"SLURM_JOB_ID": "7"}, {})


def test_a_requeued_array_task_takes_over_its_claim_from_another_node(tmp_path, monkeypatch):
    no_slurm(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "500")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "503")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    lock = claim_from_other_node(run, SLURM_JOB_ID="503", SLURM_ARRAY_JOB_ID="500", SLURM_ARRAY_TASK_ID="3")
    rd = RunDir(run)
    rd.acquire()
    mine = json.loads(lock.read_text())
    assert mine["pid"] == os.getpid() and mine["slurm"] == slurm_job()
    rd.release()
    assert not lock.exists()
    # another task of the same array: refused, however fresh
    lock = claim_from_other_node(run, SLURM_JOB_ID="504", SLURM_ARRAY_JOB_ID="500", SLURM_ARRAY_TASK_ID="4")
    with pytest.raises(RunDirHeld, match="SLURM job 500_4, pid 4242 on other-node"):
        RunDir(run).acquire()
    assert json.loads(lock.read_text())["pid"] == 4242


def test_a_live_claim_of_the_same_job_on_this_host_is_still_refused(tmp_path, monkeypatch):
    """Two processes of one SLURM job on one node are two jobs as far as the directory goes."""
    import socket

    no_slurm(monkeypatch)
    monkeypatch.setenv("SLURM_JOB_ID", "900")
    run = tmp_path / "run"
    run.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / CLAIM_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid, "since": time.time(),
                                                  "slurm": {"SLURM_JOB_ID": "900"}}))
        with pytest.raises(RunDirHeld, match=f"pid {live.pid}"):
            RunDir(run).acquire()
    finally:
        live.kill()
        live.wait()


def test_a_job_that_lost_its_claim_to_its_requeued_self_leaves_the_new_claim(tmp_path, monkeypatch):
    no_slurm(monkeypatch)
    rd = RunDir(tmp_path / "run")
    rd.acquire()
    lock = claim_from_other_node(rd.path, SLURM_JOB_ID="77")  # the requeued job took over meanwhile
    rd.release()
    assert json.loads(lock.read_text())["host"] == "other-node"


def train(run: Path, tmp_path: Path, job: str) -> subprocess.CompletedProcess:
    """A finetune run whose student does not exist: it gets as far as loading the student, i.e. past
    the claim and into the run's first stage, and stops there with one error line."""
    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train_file.write_text('{"text": "a", "label": "yes"}\n{"text": "b", "label": "no"}\n')
    test_file.write_text('{"text": "is it?", "label": "yes"}\n')
    env = {k: v for k, v in train_env().items() if not k.startswith("SLURM_")}
    env.update(SLURM_JOB_ID=job, SLURM_RESTART_COUNT="1")
    return train_py("method=finetune", "student.model=/nonexistent/model", "tracking=none", "task=jsonl",
                    f"task.train_file={train_file}", f"task.test_file={test_file}", "task.labels=[yes,no]",
                    "task.seed_size=1", f"hydra.run.dir={run}", env=env, timeout=180)


@pytest.mark.slow  # three whole train.py runs
def test_requeued_run_resumes_on_another_node_and_another_jobs_claim_is_refused(tmp_path):
    run = tmp_path / "run"
    first = error_line(train(run, tmp_path, job="777"))  # the job's first start: stops at the student
    assert "/nonexistent/model" in first and (run / "config.json").is_file()
    config = (run / "config.json").read_bytes()

    # requeued onto another node: the dead first start's claim names other-node, the same job id
    lock = claim_from_other_node(run, SLURM_JOB_ID="777")
    again = error_line(train(run, tmp_path, job="777"))
    assert again == first  # got past the claim to the same stage: the run resumed
    assert not lock.exists() and (run / "config.json").read_bytes() == config

    # a live claim of another job is refused, in one line, and left alone
    lock = claim_from_other_node(run, SLURM_JOB_ID="777")
    held = error_line(train(run, tmp_path, job="778"))
    assert "is held by another job (SLURM job 777, pid 4242 on other-node" in held
    assert json.loads(lock.read_text())["slurm"] == {"SLURM_JOB_ID": "777"}
