"""The cluster path on a CPU: the paper sweeps reserve what they use, one orchestrator drives
training ranks on two "nodes" (two torchrun agents on localhost, gloo), evaluation is data-parallel
over several devices. GPU-only parts (NCCL, bf16 kernels, vLLM) cannot run here."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from cli_helpers import ROOT, train_env, train_py
from student_fixtures import sst2_task, student_cfg, trainer_cfg
from teacher_fixtures import FakeOpenAIServer, Reply

from llm2llm.errors import ConfigError
PAPER_SWEEPS = sorted((ROOT / "sweeps").glob("paper_*.yaml"))


def compose_sweep(sweep: Path, overrides: list[str]):
    """The sweep file's config as Hydra composes it, hydra/launcher=slurm when the launcher is installed."""
    from hydra import compose, initialize_config_dir

    from llm2llm.schemas import register_configs

    register_configs()
    launcher = ["hydra/launcher=slurm"] if has_submitit_launcher() else []
    with initialize_config_dir(config_dir=str(sweep.parent), version_base="1.3"):
        return compose(config_name=sweep.stem, overrides=launcher + overrides +
                       [f"hydra.searchpath=[file://{ROOT / 'conf'}]"], return_hydra_config=True)


def has_submitit_launcher() -> bool:
    import importlib.util

    return importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None


def sbatch_script(cfg, tmp_path: Path, monkeypatch) -> str:
    """The sbatch script the SLURM launcher would submit for this composed config.

    The launcher is instantiated the way Hydra does for ``-m`` and its parameters handed to
    submitit as hydra-submitit-launcher hands them; only ``srun``'s presence is faked (submitit
    refuses to build a SLURM executor where srun is not on PATH), nothing is submitted.
    """
    import submitit
    from hydra.core.plugins import Plugins
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    launcher = Plugins.instance()._instantiate(cfg.hydra.launcher)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path / "submitit")
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in launcher.params.items()
                                  if k not in ("submitit_folder", "max_num_timeout")})
    return executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")


def launcher_reservation(cfg) -> dict:
    """gpus_per_node / nodes / tasks_per_node of conf/hydra/launcher/slurm.yaml resolved against ``cfg``."""
    from omegaconf import OmegaConf

    if has_submitit_launcher():
        return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    launcher = OmegaConf.load(ROOT / "conf" / "hydra" / "launcher" / "slurm.yaml")
    launcher.pop("defaults", None)
    return OmegaConf.to_container(OmegaConf.create({"trainer": cfg.trainer, "launcher": launcher}),
                                  resolve=True)["launcher"]


@pytest.mark.parametrize("sweep", PAPER_SWEEPS, ids=lambda p: p.stem)
@pytest.mark.parametrize("overrides,per_node,nodes", [([], 8, 1), (["trainer.num_nodes=2"], 8, 2),
                                                      (["trainer.num_processes=4", "trainer.num_nodes=3"], 4, 3)])
def test_paper_sweeps_reserve_as_many_gpus_as_they_start_ranks(sweep, overrides, per_node, nodes, tmp_path):
    from omegaconf import OmegaConf

    from llm2llm.student.distributed import launch_commands

    assert len(PAPER_SWEEPS) == 5
    cfg = compose_sweep(sweep, overrides)
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert trainer["deepspeed"] == "deepspeed/zero3.json" and trainer["name"] == "zero3"
    launcher = launcher_reservation(cfg)
    assert launcher["gpus_per_node"] == trainer["num_processes"] == per_node
    assert launcher["nodes"] == trainer["num_nodes"] == nodes
    assert launcher["tasks_per_node"] == 1  # the harness once per node; only the first runs the loop
    # the ranks the orchestrator starts: one torchrun per node, num_processes ranks each
    trainer["node_launcher"] = "local"  # srun needs a SLURM job; the torchrun arguments are the same
    cmds = launch_commands(trainer, tmp_path / "spec.json")
    assert len(cmds) == nodes
    for rank, cmd in enumerate(cmds):
        assert cmd[cmd.index("--nproc_per_node") + 1] == str(per_node)
        assert cmd[cmd.index("--nnodes") + 1] == str(nodes) and cmd[cmd.index("--node_rank") + 1] == str(rank)


@pytest.mark.skipif(not has_submitit_launcher(), reason="hydra-submitit-launcher (the slurm/dev extra) not installed")
def test_the_sbatch_script_reserves_the_trainers_gpus_and_nodes(tmp_path, monkeypatch):
    cfg = compose_sweep(ROOT / "sweeps" / "paper_gsm8k.yaml", ["trainer.num_processes=4", "trainer.num_nodes=2"])
    script = sbatch_script(cfg, tmp_path, monkeypatch).splitlines()
    assert "#SBATCH --gpus-per-node=4" in script and "#SBATCH --nodes=2" in script
    assert "#SBATCH --ntasks-per-node=1" in script


def test_srun_node_launcher_starts_one_torchrun_per_node(tmp_path, monkeypatch):
    from llm2llm.student.distributed import launch_commands

    t = {"num_processes": 8, "num_nodes": 2, "launcher": "torchrun", "node_launcher": "srun"}
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(ConfigError, match="node_launcher=srun runs inside a SLURM job"):
        launch_commands(t, tmp_path / "spec.json")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    (cmd,) = launch_commands(t, tmp_path / "spec.json")
    assert cmd[:5] == ["srun", "--overlap", "--nodes=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    inner = cmd[-1]
    assert '--node_rank "$SLURM_NODEID"' in inner and "--nnodes 2" in inner and "--nproc_per_node 8" in inner
    assert inner.endswith(f"-m llm2llm.student.worker {tmp_path / 'spec.json'}")


def test_ranks_sharing_one_machine_get_one_thread_each(monkeypatch):
    from llm2llm.student.distributed import worker_env

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    local = {"num_processes": 1, "num_nodes": 2, "node_launcher": "local"}
    assert worker_env(local)["OMP_NUM_THREADS"] == "1"  # two "nodes" on this machine
    assert worker_env({"num_processes": 2, "num_nodes": 1})["OMP_NUM_THREADS"] == "1"
    # one rank on each real node: its cores are its own
    assert "OMP_NUM_THREADS" not in worker_env({"num_processes": 1, "num_nodes": 2, "node_launcher": "srun"})


def test_paper_seed_sizes_are_the_counts_the_paper_gives():
    import yaml

    sizes = {p.stem: str(yaml.safe_load(p.read_text())["hydra"]["sweeper"]["params"]["task.seed_size"])
             for p in PAPER_SWEEPS}
    assert sizes["paper_gsm8k"] == "74,149,373,747" and sizes["paper_casehold"] == "225,450,900,2250"


SLURM_VARS = ("SLURM_JOB_ID", "SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_JOB_NUM_NODES",
              "SLURM_NNODES", "SLURM_PROCID", "CUDA_VISIBLE_DEVICES")


def test_a_reservation_that_disagrees_with_the_ranks_stops_the_run(monkeypatch):
    from llm2llm.student.distributed import check_reserved_gpus, reserved_gpus

    for var in SLURM_VARS:
        monkeypatch.delenv(var, raising=False)
    t = {"num_processes": 8, "num_nodes": 2}
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "4")
    assert reserved_gpus() is None  # not inside a SLURM job: nothing to compare
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with pytest.raises(ConfigError, match=r"num_processes=8 .* reserved 4 GPU\(s\) on this node \(SLURM_GPUS_ON_NODE\)"):
        check_reserved_gpus(t)
    monkeypatch.delenv("SLURM_GPUS_ON_NODE")
    monkeypatch.setenv("SLURM_JOB_GPUS", "0,1,4-6")
    with pytest.raises(ConfigError, match=r"reserved 5 GPU\(s\) on this node \(SLURM_JOB_GPUS\)"):
        check_reserved_gpus(t)
    monkeypatch.delenv("SLURM_JOB_GPUS")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-a1,GPU-b2")
    with pytest.raises(ConfigError, match=r"reserved 2 GPU\(s\) on this node \(CUDA_VISIBLE_DEVICES\)"):
        check_reserved_gpus(t)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6,7")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "1")
    with pytest.raises(ConfigError, match="num_nodes=2, but the SLURM job has 1 node"):
        check_reserved_gpus(t)
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    assert reserved_gpus() == (8, "CUDA_VISIBLE_DEVICES")
    check_reserved_gpus(t)


def test_the_cli_refuses_a_node_with_other_gpus_in_one_line(tmp_path):
    """A paper sweep job landing where SLURM gave 4 GPUs (ZeRO-3 wants 8 ranks): exit 2, one line, nothing run."""
    env = {k: v for k, v in train_env().items() if k not in SLURM_VARS}
    env.update(SLURM_JOB_ID="42", SLURM_GPUS_ON_NODE="4", SLURM_JOB_NUM_NODES="1")
    run = tmp_path / "run"
    proc = train_py("--config-dir", "sweeps", "--config-name", "paper_gsm8k", "task.seed_size=74", "method=finetune",
                    f"hydra.run.dir={run}", env=env, timeout=300)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == [errors[0]] and errors[0].startswith("error: trainer.num_processes=8 training ranks per node, "
                                                          "but SLURM reserved 4 GPU(s)")
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "train.log"]  # no claim, no stage, no results


def test_shards_are_contiguous_and_cover_every_example():
    from llm2llm.student.multi_device import shards

    assert [len(r) for r in shards(7, 3)] == [3, 2, 2] and [len(r) for r in shards(1, 2)] == [1, 0]
    for n, parts in [(0, 2), (5, 5), (9, 2), (100, 8)]:
        assert [i for r in shards(n, parts) for i in r] == list(range(n))


def test_data_parallel_runs_every_replica_at_once_and_keeps_input_order():
    import threading

    import torch

    from llm2llm.student.multi_device import data_parallel, replicate

    model = torch.nn.Linear(3, 1)
    replicas = replicate(model, ["cpu", "cpu", "cpu"])
    assert replicas[0] is model and len({id(r) for r in replicas}) == 3
    barrier = threading.Barrier(3, timeout=60)  # passes only if the three shards run at the same time

    def run(replica, part, i):
        barrier.wait()
        return [(x, i, id(replica)) for x in part]

    out = data_parallel(replicas, list(range(8)), run)
    assert [x for x, _, _ in out] == list(range(8))
    assert [i for _, i, _ in out] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert [r for _, _, r in out] == [id(replicas[i]) for _, i, _ in out]


@pytest.fixture(scope="module")
def lively_tiny_llama(tiny_llama, tmp_path_factory) -> str:
    """tiny_llama with larger random weights (init std 0.3, not 0.02): each input gets its own output,
    so predictions joined in the wrong order cannot go unnoticed (the small real models answer every
    SST-2 or GSM8K test example with the same first tokens)."""
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    from llm2llm.models import load_tokenizer

    cfg = AutoConfig.from_pretrained(tiny_llama)
    cfg.initializer_range = 0.3
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lively-tiny-llama")
    LlamaForCausalLM(cfg).save_pretrained(path)
    load_tokenizer(tiny_llama).save_pretrained(path)
    return str(path)


def test_data_parallel_evaluation_over_several_devices_equals_one(lively_tiny_llama, tmp_path):
    """The multi-device path for real: two and three model replicas on the CPU, one thread each."""
    from llm2llm.student import Student

    task = sst2_task()
    examples = task.load("test")[:9]
    one = Student(student_cfg(lively_tiny_llama), trainer_cfg(eval_batch_size=4), task, str(tmp_path), seed=0)
    expected = [p.to_dict() for p in one.predict(None, examples)]
    assert len({p["output"] for p in expected}) == len(examples)  # all differ: a shuffled join would show
    for devices in (["cpu", "cpu"], ["cpu", "cpu", "cpu"]):
        cfg = student_cfg(lively_tiny_llama)
        cfg.eval_devices = devices
        many = Student(cfg, trainer_cfg(eval_batch_size=4), task, str(tmp_path), seed=0)
        assert [p.to_dict() for p in many.predict(None, examples)] == expected
        replicas = many._eval_replicas(None, devices)
        assert len(replicas) == len(devices) and len({id(r) for r in replicas}) == len(devices)
        assert [p.to_dict() for p in many.predict(None, examples[:2])] == expected[:2]  # fewer examples than devices
        assert many._eval_replicas(None, devices) is replicas  # built once per loaded checkpoint
        many.release()
        assert many._replicas is None and many._loaded is None


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_backend_without_vllm_is_one_line_at_start_up(tiny_llama, tmp_path):
    from llm2llm.student import Student

    cfg = student_cfg(tiny_llama)
    cfg.eval_backend = "vllm"
    with pytest.raises(ConfigError, match=r"^student.eval_backend=vllm needs the vllm package .* student.eval_backend=hf$"):
        Student(cfg, trainer_cfg(), sst2_task(), str(tmp_path), seed=0)


def test_vllm_engine_sizes():
    from llm2llm.student.vllm_eval import lora_rank_bound, tensor_parallel_size

    assert tensor_parallel_size(8, 32) == 8  # Llama-2-7B: 32 heads over the node's 8 GPUs
    assert tensor_parallel_size(8, 9) == 3 and tensor_parallel_size(0, 9) == 1  # SmolLM2-135M: 9 heads
    assert [lora_rank_bound(r) for r in (4, 8, 12, 16, 64)] == [8, 8, 16, 16, 64]


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
    summary = student.training_summary(ckpt)
    assert summary["optimizer_updates"] == 2 and summary["processes"] == 2  # world size 2: one rank per node


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
        proc = train_py("task=sst2", "task.seed_size=4", "task.test_size=4", "task.max_new_tokens=4",
                        f"student.model={tiny_llama}", "method=llm2llm", "method.iterations=2", "trainer.max_steps=2",
                        "trainer.per_device_batch_size=2", "trainer.num_nodes=2", "trainer.node_launcher=local",
                        "teacher=openai-compatible", f"teacher.base_url={server.base_url}", "teacher.model=fake-model",
                        "teacher.api_key_env=LLM2LLM_TEST_UNSET_KEY", f"teacher.cache_path={tmp_path / 'cache'}",
                        f"hydra.run.dir={run}",
                        env=train_env(WANDB_MODE="offline", WANDB_DIR=str(wandb_dir), OMP_NUM_THREADS="1"), timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        calls = server.calls
    assert len(list(tmp_path.rglob("results.json"))) == 1  # one run directory
    assert len(list((wandb_dir / "wandb").glob("offline-run-*"))) == 1  # one W&B run
    results = json.loads((run / "results.json").read_text())
    assert calls == results["iterations"][0]["teacher"]["cache_misses"] == len(TeacherCache(tmp_path / "cache")) > 0
    for i in (0, 1):  # both iterations trained across the two nodes
        assert sorted(p.name for p in (run / f"iter_{i}" / "checkpoint" / "seen_ids").iterdir()) == \
            ["rank-0.jsonl", "rank-1.jsonl"]
