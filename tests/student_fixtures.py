"""Shared fixtures for the student tests (imported by tests/test_student*.py; conftest.py is not ours)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llm2llm.config import EvalConfig, LoraConfig, StudentConfig, TaskConfig, TrainerConfig

DATA_DIR = os.environ.get("LLM2LLM_TEST_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
if not Path(DATA_DIR).is_dir():
    DATA_DIR = "/work/shared/data"


def cache_dir() -> str:
    """The real cache (SmolLM2 is materialised there once and shared by every test run)."""
    return os.environ.get("LLM2LLM_CACHE_DIR", str(Path("~/.cache/llm2llm").expanduser()))


def sst2_task(eval_mode: str = "generate"):
    from omegaconf import OmegaConf

    from llm2llm.tasks import build_task

    return build_task(OmegaConf.structured(TaskConfig(name="sst2", max_new_tokens=6)), DATA_DIR, EvalConfig(mode=eval_mode))


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


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    from llm2llm.models import resolve_model

    return resolve_model("embedded:smollm2-135m-instruct", cache_dir())


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, smollm2_path) -> str:
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer and chat template (fast to train)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llm2llm.models import load_tokenizer

    torch.manual_seed(0)
    tok = load_tokenizer(smollm2_path)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)
