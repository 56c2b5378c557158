"""Run directory bookkeeping: which config differences make a directory someone else's."""

from __future__ import annotations

import pytest

from llm2llm.errors import ConfigError
from llm2llm.rundir import RunDir, config_diff, result_config


def cfg(method: str, **teacher) -> dict:
    return {"task": {"name": "sst2"}, "method": {"name": method}, "seed": 0, "data_dir": "/a",
            "tracking": {"project": "p"}, "teacher": {"model": "m", **teacher}}


def test_config_diff_names_dotted_keys():
    assert config_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == ["a.c", "d"]


def test_teacher_matters_only_to_methods_that_use_one():
    assert config_diff(result_config(cfg("finetune")), result_config(cfg("finetune", max_tokens=9))) == []
    assert config_diff(result_config(cfg("llm2llm")), result_config(cfg("llm2llm", max_tokens=9))) == ["teacher.max_tokens"]
    # paths on this machine and logging never do
    moved = dict(cfg("llm2llm"), data_dir="/b", tracking={"project": "q"})
    assert config_diff(result_config(cfg("llm2llm")), result_config(moved)) == []


def test_claim_refuses_another_configs_directory(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim(cfg("llm2llm"), {"git_sha": "x"})
    rd.claim(cfg("llm2llm"), {"git_sha": "y"})  # same config: fine (resume)
    with pytest.raises(ConfigError, match="differs in: teacher.max_tokens"):
        rd.claim(cfg("llm2llm", max_tokens=9), {})


def _claim_in_child(path: str, queue) -> None:  # runs in another process
    from llm2llm.rundir import RunDir, RunDirHeld

    try:
        RunDir(path).acquire()
        queue.put("held")
        import time

        time.sleep(3)
    except RunDirHeld:
        queue.put("refused")


def test_two_jobs_started_together_never_share_a_directory(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_child, args=(str(tmp_path / "run"), q)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = sorted(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join()
    assert outcomes == ["held", "refused", "refused", "refused"]


def test_claim_of_a_live_job_is_refused_and_a_dead_ones_is_taken_over(tmp_path):
    import json
    import socket
    import subprocess
    import sys
    import time

    from llm2llm.rundir import CLAIM_FILE, RunDirHeld

    (tmp_path / "run").mkdir()
    lock = tmp_path / "run" / CLAIM_FILE
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid, "since": time.time()}))
        with pytest.raises(RunDirHeld, match=f"pid {live.pid}"):
            RunDir(tmp_path / "run").acquire()
        assert json.loads(lock.read_text())["pid"] == live.pid  # untouched
        # on another host: refused too, however quiet it looks
        lock.write_text(json.dumps({"host": "other-node", "pid": 1, "since": time.time()}))
        with pytest.raises(RunDirHeld, match="other-node"):
            RunDir(tmp_path / "run").acquire()
    finally:
        live.kill()
        live.wait()
    # a job killed on this host (its pid is gone) left its claim: the next run takes it over and releases it
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid, "since": time.time()}))
    rd = RunDir(tmp_path / "run")
    rd.acquire()
    assert json.loads(lock.read_text())["pid"] != live.pid
    rd.release()
    assert not lock.exists()


def test_overrides_become_a_readable_unique_directory_name():
    from llm2llm.config import MAX_OVERRIDES_DIR, experiment_dir, overrides_dir

    assert overrides_dir("") == "" and experiment_dir("config") == ""
    assert experiment_dir("ablation_gsm8k") == "/ablation_gsm8k"
    assert overrides_dir("method.k=2,teacher=gpt-4-turbo") == "/method.k=2,teacher=gpt-4-turbo"
    assert overrides_dir("method.budget_from=runs/a/seed0") == "/method.budget_from=runs_a_seed0"
    a, b = overrides_dir("x=" + "a" * 300), overrides_dir("x=" + "a" * 299 + "b")
    assert a != b and len(a) == len(b) == MAX_OVERRIDES_DIR + 1


@pytest.mark.parametrize("sweep", ["ablation_gsm8k", "paper_gsm8k", "sst2_cpu"])
def test_every_job_of_a_sweep_file_gets_its_own_directory(sweep):
    """Compose every job of the sweep's grid (hydra.sweeper.params) and resolve its run directory."""
    import itertools
    from pathlib import Path

    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from llm2llm.config import register_configs

    root = Path(__file__).resolve().parent.parent
    params = yaml.safe_load((root / "sweeps" / f"{sweep}.yaml").read_text())["hydra"]["sweeper"]["params"]
    grid = [[f"{k}={v}" for v in str(values).split(",")] for k, values in params.items()]
    register_configs()
    dirs = set()
    with initialize_config_dir(config_dir=str(root / "sweeps"), version_base="1.3"):
        for job in itertools.product(*grid):
            cfg = compose(config_name=sweep, overrides=[*job, f"hydra.searchpath=[file://{root / 'conf'}]"],
                          return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            dirs.add(str(cfg.hydra.run.dir))
    jobs = 1
    for g in grid:
        jobs *= len(g)
    assert jobs > 1 and len(dirs) == jobs  # no two jobs share a directory
    import os

    assert all(d.startswith(f"{os.environ.get('LLM2LLM_RUNS_DIR', 'runs')}/{sweep}/") for d in dirs)


def test_a_claim_still_being_written_is_respected(tmp_path):
    from llm2llm.rundir import CLAIM_FILE, RunDirHeld

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CLAIM_FILE).write_text("")  # another job has created it and not yet written into it
    with pytest.raises(RunDirHeld):
        RunDir(tmp_path / "run").acquire()
    assert (tmp_path / "run" / CLAIM_FILE).exists()
