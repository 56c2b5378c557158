"""Shared test set-up: real data from ../shared/data, caches inside the project, no network.

The paths and the ``train.py`` runner are in cli_helpers.py; the fixtures here hand them to tests,
with the student models every test module may ask for (the real SmolLM2, its tokenizer alone, and a
tiny random Llama built on that tokenizer), and the tiny end-to-end run several modules read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_helpers import CACHE_DIR, DATA_DIR, require_data_dir

SMOLLM2 = "smollm2-135m-instruct"

# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A train.py started by a test reads the same data and caches as the test itself.
os.environ.setdefault("LLM2LLM_DATA_DIR", str(DATA_DIR))
os.environ.setdefault("LLM2LLM_CACHE_DIR", str(CACHE_DIR))


@pytest.fixture(autouse=True)
def _no_inherited_wandb_service():
    """A test that uses W&B in this process makes W&B export ``WANDB_SERVICE``; a train.py started by a
    later test would inherit it and share this process's W&B service, in which a run that test kills
    stays open ("run ID ... is in use" for its resumed run). Each train.py starts its own service, as
    it does outside the tests."""
    yield
    os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_data_dir()


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, data_dir):
    """(folder, process) of the tiny end-to-end LLM2LLM run (tests/e2e_run.py), made once per session
    for the modules that read it; none of them changes its results."""
    from e2e_run import run_train

    tmp = tmp_path_factory.mktemp("e2e")
    return tmp, run_train(tmp)


@pytest.fixture(scope="session")
def smollm2_path(cache_dir) -> str:
    """The real SmolLM2 folder, materialised from the embedded GGUF once into the cache (slow tests)."""
    from llm2llm.models import resolve_model

    return resolve_model(f"embedded:{SMOLLM2}", cache_dir)


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory) -> str:
    """A folder with SmolLM2's tokenizer and chat template: the materialised model's folder when the
    cache has it, else the tokenizer alone read from the embedded GGUF, so that a fast test never
    materialises (loads and converts) the model's weights."""
    materialised = CACHE_DIR / "models" / SMOLLM2
    if (materialised / ".complete").is_file():
        return str(materialised)
    from transformers import AutoTokenizer

    from llm2llm.models import embedded_gguf

    gguf = embedded_gguf(SMOLLM2)
    path = tmp_path_factory.mktemp("smollm2-tokenizer")
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, smollm2_tokenizer) -> str:
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer and chat template (fast to train)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llm2llm.models import load_tokenizer

    torch.manual_seed(0)
    tok = load_tokenizer(smollm2_tokenizer)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)
