"""The backend a teacher config names (``teacher.backend``)."""

from __future__ import annotations

from typing import Any

from llm2llm.teacher.backends import Backend, OpenAIBackend, TeacherError
from llm2llm.teacher.inprocess import LlamaCppBackend, LocalBackend


def make_backend(cfg: Any, cache_dir: str, task: Any = None) -> Backend:
    """``task`` is needed by the oracle only (it answers from the task's train split)."""
    if cfg.backend == "oracle":
        from llm2llm.teacher.oracle import OracleBackend

        return OracleBackend(cfg, task)
    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    if cfg.backend == "local":
        return LocalBackend(cfg, cache_dir)
    if cfg.backend == "llamacpp":
        return LlamaCppBackend(cfg, cache_dir)
    raise TeacherError(f"teacher.backend must be 'openai', 'local', 'llamacpp' or 'oracle', got {cfg.backend!r}")
