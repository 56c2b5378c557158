"""One schema per teacher backend (``conf/teacher/<name>.yaml`` names it in its defaults list).

The base holds what the teacher stage reads for every backend (prompts, validation, re-asks,
deduplication, the cache and its key's sampling settings, the cost); each backend adds only the
fields it reads. ``teacher_config`` builds the right one from a plain dict (the self-check's child
process, tests, benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from omegaconf import MISSING

from llm2llm.config.check import Choice, at_least, check
from llm2llm.config.schema import Dtype
from llm2llm.errors import ConfigError


class TeacherBackend(Choice):
    #: the official client: OpenAI or any compatible server (vLLM, llama.cpp's server)
    openai = "openai"
    #: an in-process GGUF model (llama-cpp-python)
    llamacpp = "llamacpp"
    #: an in-process transformers model
    local = "local"
    #: a positive control: the nearest train example of the seed's label (llm2llm/teacher/oracle.py)
    oracle = "oracle"


class ServerStructured(Choice):
    """How a server is asked for the task's JSON shape: auto (no: the paper's plain text) | none |
    json_schema (OpenAI, vLLM) | structured_outputs (vLLM >= 0.10.2; extra_body.structured_outputs.json) |
    guided_json (vLLM < 0.12 only: later versions ignore it and reply unconstrained) | json_object (llama.cpp server)."""

    auto = "auto"
    none = "none"
    json_schema = "json_schema"
    structured_outputs = "structured_outputs"
    guided_json = "guided_json"
    json_object = "json_object"


class GrammarStructured(Choice):
    """In-process llama.cpp: auto (decode the task's JSON shape with a grammar) | none (plain text)."""

    auto = "auto"
    none = "none"


@dataclass
class TeacherConfig:
    name: str = MISSING
    backend: TeacherBackend = MISSING
    model: str = MISSING
    #: sampling; part of every cache key (the oracle does not sample, but its keys carry them too)
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 512
    #: hard cap on re-asking for one example whose outputs all fail validation
    max_reasks: int = 2
    #: cache directory shared by every run and sweep job, NFS-safe (None: <cache_dir>/teacher_cache)
    cache_path: Optional[str] = None
    #: USD per 1M tokens: {prompt: x, completion: y}
    price_per_mtok: Optional[Dict[str, float]] = None
    #: folder with <template>.yaml prompt files overriding the built-in ones
    template_dir: Optional[str] = None
    dedup_threshold: float = 0.95
    #: GSM8K: recompute <<a*b=c>> calculator annotations and reject wrong ones
    check_calculations: bool = False
    #: requests the stage hands the backend at once
    batch_size: int = 8
    #: other seed examples of the parent's label shown in the prompt as style examples (0: none, the
    #: paper's prompt); used by templates with a {style_examples} placeholder (the built-in
    #: classification ones). The embedded small teachers use 3: they copy the one example they see less
    #: often when they see several (benchmarks/bench_teacher.py)
    style_examples: int = 0

    def __post_init__(self) -> None:
        check(self.temperature >= 0, "teacher.temperature", f"must be >= 0, got {self.temperature}")
        check(0 < self.top_p <= 1, "teacher.top_p", f"must be in (0, 1], got {self.top_p}")
        at_least(self.max_tokens, 1, "teacher.max_tokens")
        at_least(self.max_reasks, 0, "teacher.max_reasks")
        check(0 < self.dedup_threshold <= 1, "teacher.dedup_threshold", f"must be in (0, 1], got {self.dedup_threshold}")
        at_least(self.batch_size, 1, "teacher.batch_size")
        at_least(self.style_examples, 0, "teacher.style_examples")


@dataclass
class OpenAITeacherConfig(TeacherConfig):
    backend: TeacherBackend = TeacherBackend.openai
    base_url: Optional[str] = None
    #: name of the environment variable holding the API key (the key itself never enters a config)
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    #: send a per-request `seed` derived from the cache key (OpenAI, vLLM, llama.cpp use it)
    send_seed: bool = True
    structured: ServerStructured = ServerStructured.auto

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.timeout_s > 0, "teacher.timeout_s", f"must be > 0, got {self.timeout_s}")
        at_least(self.max_retries, 0, "teacher.max_retries")
        at_least(self.concurrency, 1, "teacher.concurrency")


@dataclass
class InProcessTeacherConfig(TeacherConfig):
    """A teacher loaded into this process (its native code can crash it: hence the self-check)."""

    #: load the teacher and generate 4 tokens once in a child process before any training, so a native
    #: crash is one error line, not a dead run (llm2llm/teacher/self_check.py); false skips it (a large
    #: local teacher loads twice otherwise)
    self_check: bool = True


@dataclass
class LlamaCppTeacherConfig(InProcessTeacherConfig):
    backend: TeacherBackend = TeacherBackend.llamacpp
    structured: GrammarStructured = GrammarStructured.auto
    #: while decoding, forbid the reply to copy ``n`` consecutive tokens of the parent or a style example,
    #: or (JSON replies) to be a label name alone (0: off; llm2llm/teacher/copy_guard.py); every validator
    #: still runs after it
    no_copy_ngram: int = 0
    #: CPU threads (0: every core this process may use). llama.cpp's threads spin while waiting for each
    #: other: on cores shared with other jobs, 1 is much faster than 2
    n_threads: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.no_copy_ngram == 0 or self.no_copy_ngram >= 2, "teacher.no_copy_ngram",
              f"must be 0 (off) or >= 2, got {self.no_copy_ngram}")
        at_least(self.n_threads, 0, "teacher.n_threads")


@dataclass
class LocalTeacherConfig(InProcessTeacherConfig):
    backend: TeacherBackend = TeacherBackend.local
    dtype: Dtype = Dtype.auto


@dataclass
class OracleTeacherConfig(TeacherConfig):
    backend: TeacherBackend = TeacherBackend.oracle
    model: str = "tfidf-nearest-train"


#: the schema of each backend, stored in Hydra's ConfigStore as teacher/schema_<backend>
TEACHER_SCHEMAS: dict[str, type[TeacherConfig]] = {
    "openai": OpenAITeacherConfig, "llamacpp": LlamaCppTeacherConfig, "local": LocalTeacherConfig,
    "oracle": OracleTeacherConfig,
}


def teacher_config(**values: Any) -> TeacherConfig:
    """The backend's schema filled from ``values`` (which name the backend); a key it lacks is a ConfigError."""
    backend = str(values.get("backend"))
    if backend not in TEACHER_SCHEMAS:
        raise ConfigError(f"teacher.backend: {' | '.join(TEACHER_SCHEMAS)}, got {backend!r}")
    schema = TEACHER_SCHEMAS[backend]
    known = set(schema.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"teacher.{unknown[0]}: the {backend} teacher has no such setting")
    return schema(**values)


def teacher_config_file(path: str | Path, **overrides: Any) -> TeacherConfig:
    """A teacher group file (``conf/teacher/<name>.yaml``) as its backend's schema, ``overrides`` applied."""
    import yaml

    values = {k: v for k, v in (yaml.safe_load(Path(path).read_text()) or {}).items() if k != "defaults"}
    return teacher_config(**{**values, **overrides})
