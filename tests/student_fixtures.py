"""Configs and the SST-2 task for the student tests (the model fixtures are in conftest.py)."""

from __future__ import annotations

from cli_helpers import DATA_DIR
from llm2llm.config import EvalConfig, LoraConfig, StudentConfig, TaskConfig, TrainerConfig


def sst2_task(eval_mode: str = "generate"):
    from omegaconf import OmegaConf

    from llm2llm.tasks import build_task

    return build_task(OmegaConf.structured(TaskConfig(name="sst2", max_new_tokens=6)), str(DATA_DIR), EvalConfig(mode=eval_mode))


def student_cfg(model: str, **lora) -> StudentConfig:
    lora_cfg = LoraConfig(r=8, alpha=16, dropout=0.0, target_modules=["q_proj", "v_proj"])
    for k, v in lora.items():
        setattr(lora_cfg, k, v)
    return StudentConfig(name="test", model=model, dtype="float32", max_length=256, lora=lora_cfg)


def trainer_cfg(**kw) -> TrainerConfig:
    base = dict(name="test", learning_rate=1e-3, epochs=1, per_device_batch_size=4, bf16="false", logging_steps=1,
                eval_batch_size=16, warmup_ratio=0.0)
    base.update(kw)
    return TrainerConfig(**base)
