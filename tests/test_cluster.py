"""The cluster path on a CPU: the paper sweeps reserve what they use, one orchestrator drives
training ranks on two "nodes" (two torchrun agents on localhost, gloo), evaluation is data-parallel
over several devices. GPU-only parts (NCCL, bf16 kernels, vLLM) cannot run here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from student_fixtures import sst2_task, smollm2_path, student_cfg, tiny_llama, trainer_cfg  # noqa: F401
from teacher_fixtures import FakeOpenAIServer, Reply

from llm2llm.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PAPER_SWEEPS = sorted((ROOT / "sweeps").glob("paper_*.yaml"))


@pytest.mark.parametrize("sweep", PAPER_SWEEPS, ids=lambda p: p.stem)
def test_paper_sweeps_reserve_as_many_gpus_as_they_start_ranks(sweep):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from llm2llm.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(sweep.parent), version_base="1.3"):
        cfg = compose(config_name=sweep.stem, overrides=["hydra/launcher=slurm", "trainer.num_nodes=2",
                                                                 f"hydra.searchpath=[file://{ROOT / 'conf'}]"],
                      return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    trainer = cfg.trainer
    assert trainer.deepspeed == "deepspeed/zero3.json" and trainer.num_processes == 8
    assert launcher["gpus_per_node"] == trainer.num_processes and launcher["nodes"] == trainer.num_nodes == 2
    assert launcher["tasks_per_node"] == 1


def test_paper_seed_sizes_are_the_counts_the_paper_gives():
    import yaml

    sizes = {p.stem: str(yaml.safe_load(p.read_text())["hydra"]["sweeper"]["params"]["task.seed_size"])
             for p in PAPER_SWEEPS}
    assert sizes["paper_gsm8k"] == "74,149,373,747" and sizes["paper_casehold"] == "225,450,900,2250"


def test_a_reservation_that_disagrees_with_the_ranks_stops_the_run(monkeypatch):
    from llm2llm.student.distributed import check_reserved_gpus

    t = {"num_processes": 8, "num_nodes": 2}
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "4")
    with pytest.raises(ConfigError, match="num_processes=8 .* reserved 4 GPU"):
        check_reserved_gpus(t)
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "8")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "1")
    with pytest.raises(ConfigError, match="num_nodes=2"):
        check_reserved_gpus(t)
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    check_reserved_gpus(t)


def test_data_parallel_evaluation_over_two_devices_equals_one(tiny_llama, tmp_path):
    from llm2llm.student import Student
    from llm2llm.student.multi_device import shards

    assert [len(r) for r in shards(7, 3)] == [3, 2, 2] and [len(r) for r in shards(1, 2)] == [1, 0]
    task = sst2_task()
    examples = task.load("test")[:9]
    one = Student(student_cfg(tiny_llama), trainer_cfg(eval_batch_size=4), task, str(tmp_path), seed=0)
    cfg = student_cfg(tiny_llama)
    cfg.eval_devices = ["cpu", "cpu"]
    two = Student(cfg, trainer_cfg(eval_batch_size=4), task, str(tmp_path), seed=0)
    assert [p.to_dict() for p in two.predict(None, examples)] == [p.to_dict() for p in one.predict(None, examples)]


@pytest.mark.slow
def test_two_nodes_on_localhost_train_one_model_with_different_batches(tiny_llama, tmp_path):
    from llm2llm.student import Student, is_complete

    task = sst2_task()
    trainer = trainer_cfg(num_nodes=2, num_processes=1, node_launcher="local", max_steps=2, per_device_batch_size=2)
    student = Student(student_cfg(tiny_llama), trainer, task, str(tmp_path), seed=0)
    ckpt = student.train(task.load("train")[:8], tmp_path / "ckpt")
    assert is_complete(ckpt)
    seen = {r: [i for line in (ckpt / "seen_ids" / f"rank-{r}.jsonl").read_text().splitlines()
                for i in json.loads(line)] for r in (0, 1)}
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])  # each rank its own share of the data
    assert student.training_summary(ckpt)["optimizer_updates"] == 2


def valid_sentence(req: dict, digest: str, seen: int) -> Reply:
    return Reply(content=f"Sentence: a film review written for request {req['seed']}")


@pytest.mark.slow
def test_one_orchestrator_runs_the_loop_while_two_nodes_train(tiny_llama, tmp_path, data_dir):
    """FakeOpenAIServer (a fake OpenAI-compatible server, tests/teacher_fixtures.py) counts teacher
    requests exactly; the model behind the teacher does not matter to this test."""
    from llm2llm.teacher.cache import TeacherCache

    run, wandb_dir = tmp_path / "run", tmp_path / "wandb"
    wandb_dir.mkdir()
    with FakeOpenAIServer(valid_sentence) as server:
        cmd = [sys.executable, "train.py", "task=sst2", "task.seed_size=4", "task.test_size=4", "task.max_new_tokens=4",
               f"student.model={tiny_llama}", "method=llm2llm", "method.iterations=2", "trainer.max_steps=2",
               "trainer.per_device_batch_size=2", "trainer.num_nodes=2", "trainer.node_launcher=local",
               "teacher=openai-compatible", f"teacher.base_url={server.base_url}", "teacher.model=fake-model",
               "teacher.api_key_env=LLM2LLM_TEST_UNSET_KEY", f"teacher.cache_path={tmp_path / 'cache'}",
               f"hydra.run.dir={run}"]
        env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(wandb_dir), OMP_NUM_THREADS="1")
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        calls = server.calls
    assert len(list(tmp_path.rglob("results.json"))) == 1  # one run directory
    assert len(list((wandb_dir / "wandb").glob("offline-run-*"))) == 1  # one W&B run
    results = json.loads((run / "results.json").read_text())
    assert calls == results["iterations"][0]["teacher"]["cache_misses"] == len(TeacherCache(tmp_path / "cache")) > 0
    for i in (0, 1):  # both iterations trained across the two nodes
        assert sorted(p.name for p in (run / f"iter_{i}" / "checkpoint" / "seen_ids").iterdir()) == \
            ["rank-0.jsonl", "rank-1.jsonl"]
