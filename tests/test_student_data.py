"""Fast student tests: tokenisation and label masking, collator, config plumbing, launcher commands."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from cli_helpers import CACHE_DIR
from student_fixtures import sst2_task

from llm2llm.errors import ConfigError
from llm2llm.student.data import (IGNORE_INDEX, PadCollator, TargetTooLong, encode, end_of_turn_id, fit_prompt,
                                  prompt_budget, prompt_ids, target_ids)
from llm2llm.student.distributed import launch_commands
from llm2llm.student.train import gradient_accumulation, resolve_deepspeed_config


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    from llm2llm.models import load_tokenizer

    return load_tokenizer(smollm2_tokenizer)


def test_labels_mask_the_prompt_and_keep_the_end_of_turn_token(tok):
    task = sst2_task()
    ex = task.load("train")[0]  # "hide new secretions from the parental units" -> negative
    enc = encode(tok, task, ex, max_length=512)
    p = prompt_ids(tok, task, ex)
    ids, labels = enc["input_ids"], enc["labels"]
    assert ids[:len(p)] == p and len(ids) == len(labels)
    assert all(l == IGNORE_INDEX for l in labels[:len(p)])          # every prompt token is masked
    target = [l for l in labels if l != IGNORE_INDEX]
    assert target == ids[len(p):]                                    # every target token is learned
    assert tok.decode(target) == "negative<|im_end|>"
    assert target[-1] == end_of_turn_id(tok) == tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.pad_token_id == target[-1]  # the trap: pad == end-of-turn, yet it stays in the labels
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>system") and "<|im_start|>user\nWhat is the sentiment" in text
    assert text.endswith("<|im_start|>assistant\nnegative<|im_end|>")


def test_a_long_prompt_loses_its_start_never_its_target(tok):
    task = sst2_task()
    ex = task.load("train")[0]
    full, target = prompt_ids(tok, task, ex), target_ids(tok, task.target(ex))
    budget = 20 - task.cfg.max_new_tokens  # evaluation keeps this much prompt: the rest is room to generate
    assert len(target) <= task.cfg.max_new_tokens and len(full) > budget and prompt_budget(task, 20) == budget
    enc = encode(tok, task, ex, max_length=20)
    assert len(enc["input_ids"]) == len(enc["labels"]) == budget + len(target) and enc["prompt_cut"] == len(full) - budget
    assert enc["labels"][-len(target):] == target == enc["input_ids"][-len(target):]  # the whole target, stop included
    assert enc["input_ids"][:-len(target)] == full[-budget:] == fit_prompt(full, budget)  # the end of the prompt survives
    assert all(l == IGNORE_INDEX for l in enc["labels"][:-len(target)])


def test_a_target_longer_than_the_generation_room_takes_more_of_the_prompt(tok):
    task = sst2_task()
    ex = task.load("train")[0].derive(answer="positive " * 12)  # a 12-word target: more than max_new_tokens=8
    full, target = prompt_ids(tok, task, ex), target_ids(tok, task.target(ex))
    assert len(target) > task.cfg.max_new_tokens
    enc = encode(tok, task, ex, max_length=40)
    assert enc["input_ids"] == full[-(40 - len(target)):] + target and len(enc["input_ids"]) == 40


def test_a_target_that_cannot_fit_is_one_clear_error(tok):
    task = sst2_task()
    ex = task.load("train")[0]
    with pytest.raises(TargetTooLong, match=rf"example {ex.id}: .* raise student.max_length"):
        encode(tok, task, ex, max_length=len(target_ids(tok, task.target(ex))))


def test_plain_prompt_without_chat_template(tok):
    """Base models (Llama-2-7b-hf) have no chat template: plain prompt, BOS once, EOS learned."""
    from llm2llm.student import data

    plain = copy.deepcopy(tok)
    plain.chat_template = None
    data._end_of_turn.cache_clear()
    task = sst2_task()
    ex = task.load("train")[1]
    enc = encode(plain, task, ex, 512)
    text = plain.decode(enc["input_ids"])
    assert text.endswith(f"Answer: {ex.answer}{plain.eos_token}") and "<|im_start|>" not in text.replace(plain.eos_token, "")
    assert enc["labels"][-1] == plain.eos_token_id
    data._end_of_turn.cache_clear()


def test_collator_pads_right_with_ignored_labels():
    rows = [{"id": "a", "input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"id": "b", "input_ids": [8], "labels": [8]}]
    batch = PadCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_gradient_accumulation_from_effective_batch():
    paper = {"per_device_batch_size": 4, "effective_batch_size": 128}
    assert gradient_accumulation(paper, world_size=8) == 4
    assert gradient_accumulation(paper, world_size=1) == 32
    assert gradient_accumulation({"per_device_batch_size": 8, "effective_batch_size": None}, 2) == 1


@pytest.mark.parametrize("name", ["zero2", "zero3", "zero3-offload"])
def test_zero_configs_compose_and_load(name):
    from hydra import compose, initialize_config_dir

    from llm2llm.config import validate
    from llm2llm.schemas import register_configs

    register_configs()
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = validate(compose("config", overrides=[f"trainer={name}", "tracking=none"]))
    assert cfg.trainer.learning_rate == 2e-5 and cfg.trainer.effective_batch_size == 128  # the paper recipe
    ds = resolve_deepspeed_config(cfg.trainer.deepspeed)
    assert ds["zero_optimization"]["stage"] == (2 if name == "zero2" else 3)
    assert ds["train_micro_batch_size_per_gpu"] == "auto"
    if name != "zero2":
        assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_missing_deepspeed_config_is_a_config_error():
    with pytest.raises(ConfigError, match="nope.json"):
        resolve_deepspeed_config("deepspeed/nope.json")


def test_launch_commands(tmp_path, monkeypatch):
    spec = tmp_path / "spec.json"
    t = {"num_processes": 2, "num_nodes": 1, "launcher": "torchrun", "hostfile": None, "node_launcher": "srun"}
    (cmd,) = launch_commands(t, spec)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"] and "--nproc_per_node" in cmd
    assert cmd[-3:] == ["-m", "llm2llm.student.worker", str(spec)]
    (cmd,) = launch_commands({**t, "launcher": "deepspeed"}, spec)
    assert "deepspeed.launcher.runner" in cmd and cmd[-3:] == ["--module", "llm2llm.student.worker", str(spec)]
    # several nodes, all on this machine: one torchrun per node, same rendezvous, node ranks 0..n-1
    local = launch_commands({**t, "num_nodes": 3, "node_launcher": "local"}, spec)
    assert [c[c.index("--node_rank") + 1] for c in local] == ["0", "1", "2"]
    assert len({c[c.index("--master_port") + 1] for c in local}) == 1 and all("--nnodes" in c for c in local)
    # several nodes under SLURM: one srun step that starts a torchrun on every node of the job
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(ConfigError, match="node_launcher=local"):
        launch_commands({**t, "num_nodes": 2}, spec)
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    (cmd,) = launch_commands({**t, "num_nodes": 2}, spec)
    assert cmd[0] == "srun" and "--nodes=2" in cmd and "--ntasks-per-node=1" in cmd
    assert '--node_rank "$SLURM_NODEID"' in cmd[-1] and "llm2llm.student.worker" in cmd[-1]
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("node0 slots=8\nnode1 slots=8\n")
    (cmd,) = launch_commands({**t, "num_nodes": 2, "launcher": "deepspeed", "hostfile": str(hostfile)}, spec)
    assert cmd[cmd.index("--hostfile") + 1] == str(hostfile) and cmd[cmd.index("--num_nodes") + 1] == "2"
    with pytest.raises(ConfigError, match="hostfile"):
        launch_commands({**t, "num_nodes": 2, "launcher": "deepspeed", "hostfile": str(tmp_path / "missing")}, spec)


@pytest.mark.slow
def test_smollm2_materialises_once_and_reloads(smollm2_path):
    """The second resolve finds the finished folder (marker present) and converts nothing."""
    from llm2llm.models import resolve_model

    marker = Path(smollm2_path) / ".complete"
    before = marker.stat().st_mtime_ns
    weights = (Path(smollm2_path) / "model.safetensors").stat().st_mtime_ns
    again = resolve_model("embedded:smollm2-135m-instruct", CACHE_DIR)
    assert (Path(again) / "model.safetensors").stat().st_mtime_ns == weights  # not rewritten
    assert again == smollm2_path and marker.stat().st_mtime_ns == before
    assert (Path(again) / "model.safetensors").is_file() and (Path(again) / "config.json").is_file()
