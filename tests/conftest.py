"""Shared test set-up: real data from ../shared/data, caches inside the project, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("LLM2LLM_DATA_DIR") or ROOT.parent / "shared" / "data")
CACHE_DIR = Path(os.environ.get("LLM2LLM_CACHE_DIR") or ROOT / ".cache" / "llm2llm")

# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LLM2LLM_CACHE_DIR", str(CACHE_DIR))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"real dataset copies not found at {DATA_DIR} (set LLM2LLM_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR
