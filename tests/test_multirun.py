"""Sweeps as researchers run them: several swept keys, several seeds, a job that cannot run.

The default in-process teacher (real SmolLM2 via llama.cpp), W&B offline, tiny steps. The student is
the tiny random Llama (conftest.py): these tests are about the sweep, not the student, and a random
student gets every seed wrong, so every job asks the teacher."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import ROOT, train_env, train_py
from llm2llm.rundir import CLAIM_FILE

# A sweep file as researchers write them (like sweeps/*.yaml): fixed settings in the file, swept keys
# under hydra.sweeper.params. Tiny steps so that eight real jobs fit in a CI run.
SWEEP_FILE = """
defaults:
  - config
  - _self_
student: {{name: tiny-llama, model: {student}, lora: {{target_modules: [q_proj, v_proj]}}}}
task: {{seed_size: 2, test_size: 2, max_new_tokens: 4}}
method: {{iterations: 2}}
trainer: {{max_steps: 1, per_device_batch_size: 2}}
teacher: {{max_tokens: 24, max_reasks: 0}}
hydra:
  sweeper:
    params:
      teacher.temperature: 0.7,1.0
      method.k: 1,2
      seed: 0,1
"""


def sweep(runs: Path, tmp: Path, student: str) -> subprocess.CompletedProcess:
    env = train_env(WANDB_MODE="offline", WANDB_DIR=str(tmp / "wandb"), LLM2LLM_RUNS_DIR=str(runs), OMP_NUM_THREADS="2")
    (tmp / "wandb").mkdir(exist_ok=True)
    (tmp / "sweeps").mkdir(exist_ok=True)
    (tmp / "sweeps" / "tiny_grid.yaml").write_text(SWEEP_FILE.format(student=student))
    return train_py("-m", "--config-dir", str(tmp / "sweeps"), "--config-name", "tiny_grid",
                    f"teacher.cache_path={tmp / 'teacher_cache'}", env=env, timeout=1800)


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.rglob("config.json"))


@pytest.mark.slow
def test_sweep_over_three_keys_gives_eight_runs_and_survives_a_held_directory(tmp_path, data_dir, tiny_llama):
    runs = tmp_path / "runs"
    held = runs / "tiny_grid/sst2/n2/llm2llm/tiny-llama/seed1/method.k=2,teacher.temperature=1.0"
    held.mkdir(parents=True)
    # Another live job holds one directory (a process that is really running, on this host).
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        import socket
        import time

        (held / CLAIM_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid,
                                                   "since": time.time()}))
        first = sweep(runs, tmp_path, tiny_llama)
        # The held job failed alone, said why, and the sweep went on and exited non-zero.
        assert first.returncode == 1, first.stderr[-3000:]
        assert "1 job(s) of this multirun failed" in first.stderr
        assert "is held by another job" in first.stderr and "method.k=2" in first.stderr
        assert not (held / "config.json").exists() and not (held / "FAILED.txt").exists()  # nothing written there
        done = [d for d in run_dirs(runs) if json.loads((d / "results.json").read_text())["status"] == "complete"]
        assert len(done) == 7
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its claim is stale, the same command resumes and finishes the eighth run only.
    second = sweep(runs, tmp_path, tiny_llama)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("Run already complete") == 7
    dirs = run_dirs(runs)
    assert len(dirs) == 8
    seen = set()
    for d in dirs:
        res = json.loads((d / "results.json").read_text())
        cfg = res["config"]
        assert res["status"] == "complete" and not (d / CLAIM_FILE).exists()
        first_round = res["iterations"][0]
        assert first_round["n_wrong"] == 2 and first_round["teacher"]["generated"] > 0  # every job asked the teacher
        key = (cfg["teacher"]["temperature"], cfg["method"]["k"], cfg["seed"])
        assert f"seed{cfg['seed']}" == d.parent.name
        assert f"method.k={cfg['method']['k']}" in d.name and f"teacher.temperature={cfg['teacher']['temperature']}" in d.name
        seen.add(key)
    assert len(seen) == 8


@pytest.mark.slow
def test_two_multiruns_of_one_sweep_at_once_each_list_only_their_own_failures(tmp_path, data_dir):
    """A second multirun of the same sweep started while the first runs (another terminal, a second
    submission adding seeds): each lists and counts its own failed jobs, none of the other's.
    Every job fails at start-up (no such model), which is all this needs."""
    runs = tmp_path / "runs"
    env = train_env(LLM2LLM_RUNS_DIR=str(runs))
    common = ["-m", "task=trec", "task.seed_size=6", "method=finetune", "student.model=/nonexistent/model",
              "tracking=none"]
    log = runs / "multirun_failures.jsonl"  # the default config's sweep directory is the runs folder
    first = subprocess.Popen([sys.executable, "train.py", *common, "seed=" + ",".join(map(str, range(40)))],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 600
        while not (log.is_file() and log.read_text().strip()):  # the first has logged a failure
            assert first.poll() is None and time.time() < deadline, "the first multirun logged no failure"
            time.sleep(0.2)
        second = train_py(*common, "seed=99", env=env)
        assert first.poll() is None, "the first multirun ended before the second did: nothing overlapped"
        _, err = first.communicate(timeout=600)
    finally:
        first.kill()
    listed = [line for line in err.splitlines() if line.startswith("  #")]
    assert first.returncode == 1 and "40 job(s) of this multirun failed" in err, err[-3000:]
    assert len(listed) == 40 and not any("seed=99" in line for line in listed)
    assert second.returncode == 1 and "1 job(s) of this multirun failed" in second.stderr, second.stderr[-3000:]
    (only,) = [line for line in second.stderr.splitlines() if line.startswith("  #")]
    assert "seed=99" in only
