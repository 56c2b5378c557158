"""Fine-tuning with the Hugging Face Trainer (+ peft LoRA, + DeepSpeed ZeRO), one process's share of it.

``run_training(spec)`` is what every process runs: in the harness process for a plain
single-process run, or in each rank started by torchrun / the deepspeed launcher
(``llm2llm.student.worker``). It reads pre-tokenised rows, trains, and writes the model (or LoRA
adapter) into ``spec.out_dir``; the caller turns that folder into a complete checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llm2llm.errors import ConfigError, Llm2llmError
from llm2llm.models import load_model, load_tokenizer
from llm2llm.rundir import TRAIN_LOG_FILE, TRAINING_SUMMARY_FILE
from llm2llm.student.data import IGNORE_INDEX

TRAINER_CONF_DIR = Path(__file__).resolve().parents[2] / "conf" / "trainer"


class StudentOOMError(Llm2llmError):
    """Training ran out of (GPU or CPU) memory."""


OOM_HINT = ("out of memory while training the student: lower trainer.per_device_batch_size (raise "
            "trainer.effective_batch_size's accumulation instead), lower student.max_length, set "
            "trainer.gradient_checkpointing=true, or use a ZeRO config (trainer=zero3 / zero3-offload)")


@dataclass
class TrainSpec:
    """Everything one training process needs; JSON-serialisable (it is the worker's only input)."""

    model_path: str                      # resolved base model (local folder or hub id)
    data_path: str                       # pre-tokenised rows: {"id", "input_ids", "labels"} per line
    out_dir: str                         # where the final model / adapter is written
    student: dict[str, Any]
    trainer: dict[str, Any]
    seed: int = 0
    init_from: str | None = None         # a checkpoint returned by an earlier train()
    checkpoints: int = 0                 # intermediate checkpoints -> out_dir/trajectory/ckpt-{i}
    save_every: int = 0                  # >0: the last `checkpoints` of the saves every save_every steps
    deepspeed: dict[str, Any] | None = None
    world_size: int = 1
    work_dir: str = ""                   # scratch (Trainer output dir, error file)
    log_ids: bool = True                 # write out_dir/seen_ids/rank-{r}.jsonl (which rows each rank read)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainSpec":
        return cls(**json.loads(Path(path).read_text()))


def resolve_deepspeed_config(path: str | None) -> dict[str, Any] | None:
    """Load a ZeRO JSON: an absolute path, a path relative to the cwd, or one under conf/trainer/."""
    if not path:
        return None
    for candidate in (Path(path).expanduser(), TRAINER_CONF_DIR / path):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text())
            except json.JSONDecodeError as e:
                raise ConfigError(f"trainer.deepspeed: {candidate} is not valid JSON ({e})") from None
    raise ConfigError(f"trainer.deepspeed: {path} not found (looked in the working directory and {TRAINER_CONF_DIR})")


def gradient_accumulation(trainer: dict[str, Any], world_size: int) -> int:
    """effective_batch_size / (per_device_batch_size * world size), at least 1."""
    eff = trainer.get("effective_batch_size")
    per_step = trainer["per_device_batch_size"] * world_size
    if not eff:
        return 1
    return max(1, round(eff / per_step))


def use_bf16(setting: Any) -> bool:
    import torch

    s = str(setting).lower()
    if s == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return s == "true"


def check_lora_targets(model: Any, targets: list[str]) -> None:
    """ConfigError unless every LoRA target names a linear layer of the model (peft matches name suffixes)."""
    import torch

    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D"]
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        raise ConfigError(f"student.lora.target_modules: {missing} match no linear layer of the model; "
                          f"its linear layers are {leaves}")


def _setup_distributed(spec: TrainSpec) -> dict[str, Any]:
    """Extra TrainingArguments so each rank gets its own share of the data on a machine without CUDA.

    With CUDA the Trainer and accelerate set up NCCL themselves. Without it, accelerate creates no
    process group for DeepSpeed (every rank would read the whole dataset), so we build the
    PartialState here with the gloo backend and tell the Trainer to use it.
    """
    import torch

    if torch.cuda.is_available():
        return {}
    if spec.deepspeed is None:
        return {"use_cpu": True, "ddp_backend": "gloo"} if spec.world_size > 1 else {"use_cpu": True}
    from accelerate import PartialState

    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    os.environ.setdefault("LOCAL_RANK", "0")
    PartialState(backend="gloo")  # runs deepspeed.init_distributed(dist_backend="gloo")
    return {"accelerator_config": {"use_configured_state": True}}


def checkpointing_arguments(on: bool) -> dict[str, Any]:
    """Gradient checkpointing (non-reentrant) under the TrainingArguments name this transformers has:
    ``activation_checkpointing`` (newer releases) or ``gradient_checkpointing`` (5.17 and earlier)."""
    from dataclasses import fields

    from transformers import TrainingArguments

    names = {f.name for f in fields(TrainingArguments)}
    key = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {key: on, f"{key}_kwargs": {"use_reentrant": False} if on else None}


def _training_arguments(spec: TrainSpec, extra: dict[str, Any]) -> Any:
    from transformers import TrainingArguments

    t = spec.trainer
    return TrainingArguments(
        output_dir=str(Path(spec.work_dir) / "trainer"),
        learning_rate=t["learning_rate"],
        lr_scheduler_type=t["lr_scheduler"],
        warmup_steps=t["warmup_ratio"],  # a float < 1 is a ratio of the total steps
        num_train_epochs=t["epochs"],
        max_steps=t.get("max_steps", -1),
        per_device_train_batch_size=t["per_device_batch_size"],
        gradient_accumulation_steps=gradient_accumulation(t, spec.world_size),
        weight_decay=t["weight_decay"],
        bf16=use_bf16(t["bf16"]),
        **checkpointing_arguments(bool(t["gradient_checkpointing"])),
        deepspeed=spec.deepspeed,
        logging_steps=t.get("logging_steps", 1),
        logging_first_step=True,
        save_strategy="no",      # the trajectory callback asks for the saves S2L needs
        save_only_model=True,
        report_to="none",        # tracking is done by llm2llm.tracking
        seed=spec.seed,
        data_seed=spec.seed,
        remove_unused_columns=False,  # rows carry an "id" for the collator's log
        dataloader_num_workers=0,
        **extra,
    )


def trajectory_steps(max_steps: int, n: int, save_every: int = 0) -> list[int]:
    """Optimizer steps saved for S2L: n evenly spaced ones (the last = the final model), or with
    ``save_every`` the last n of steps save_every, 2*save_every, ... (S2L's save_steps with
    save_total_limit; none when training is shorter than save_every)."""
    if save_every > 0:
        return list(range(save_every, max_steps + 1, save_every))[-n:]
    return sorted({max(1, math.ceil(max_steps * (i + 1) / n)) for i in range(n)})


def _trajectory_callback(n: int, save_every: int = 0) -> Any:
    from transformers import TrainerCallback

    class Trajectory(TrainerCallback):
        """Ask the Trainer to save at the steps of :func:`trajectory_steps`."""

        def __init__(self) -> None:
            self.steps: list[int] = []

        def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.steps = trajectory_steps(state.max_steps, n, save_every)

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            if state.global_step in self.steps:
                control.should_save = True

    return Trajectory()


def _update_counter() -> Any:
    from transformers import TrainerCallback

    class UpdateCounter(TrainerCallback):
        """The learning rate of every optimizer update (with warmup the first one runs at lr 0)."""

        def __init__(self) -> None:
            self.lrs: list[float] = []

        def on_optimizer_step(self, args, state, control, optimizer=None, **kw):  # type: ignore[no-untyped-def]
            if optimizer is not None:  # called after optimizer.step(), before the scheduler moves on
                self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    return UpdateCounter()


def _step_clock() -> Any:
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Wall time of each optimizer step (all its accumulated micro-batches), the device synchronised at
        both ends; with the peak memory it goes into training.json (the preflight's throughput figures)."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._start = 0.0

        @staticmethod
        def _now() -> float:
            import time

            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            return time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self._start = self._now()

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.seconds.append(self._now() - self._start)

    return StepClock()


def _resources(clock: Any) -> dict[str, Any]:
    import resource

    import torch

    cuda = torch.cuda.is_available()
    return {"step_seconds": [round(x, 6) for x in clock.seconds],
            "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def training_dtype(spec: TrainSpec) -> str:
    """Weights that an optimizer updates are kept in fp32 (bf16/fp16 happen in autocast or in DeepSpeed,
    which keeps fp32 master weights): AdamW on bf16 weights loses small lr updates. Frozen base
    weights under LoRA stay in ``student.dtype`` (peft keeps its adapters in fp32)."""
    return spec.student["dtype"] if spec.student["lora"]["enabled"] else "float32"


def _to_inference_dtype(spec: TrainSpec, model: Any) -> None:
    """A full fine-tune trained on fp32 master weights is saved in ``student.dtype`` (what evaluation
    loads; a 7B checkpoint per iteration is 13 GiB in bf16, not 27). DeepSpeed saves its own 16-bit
    copy, and a LoRA adapter is small: both are left as they are."""
    from llm2llm.models import torch_dtype

    if not spec.student["lora"]["enabled"] and spec.deepspeed is None:
        model.to(torch_dtype(spec.student["dtype"]))


def _build_model(spec: TrainSpec) -> Any:
    lora = spec.student["lora"]
    full_init = spec.init_from if spec.init_from and not lora["enabled"] else None
    model = load_model(full_init or spec.model_path, training_dtype(spec), spec.student.get("trust_remote_code", False))
    if spec.trainer["gradient_checkpointing"]:
        model.config.use_cache = False
    if not lora["enabled"]:
        return model
    from peft import LoraConfig, PeftModel, get_peft_model

    if spec.init_from:
        return PeftModel.from_pretrained(model, spec.init_from, is_trainable=True)
    check_lora_targets(model, list(lora["target_modules"]))
    cfg = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                     target_modules=list(lora["target_modules"]), task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    if spec.trainer["gradient_checkpointing"]:
        model.enable_input_require_grads()
    return model


def is_oom(e: BaseException) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or (isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def _summary(trainer: Any, lrs: list[float], rows: list[dict[str, Any]], loss: float) -> dict[str, Any]:
    """What one training run did (``<checkpoint>/training.json``, read back by Student.training_summary and
    logged in each iteration's metrics): optimizer updates and how many ran at lr 0 (the first warmup
    step does), data seen, losses and gradient norms as the Trainer logged them, and the dtypes of
    what the optimizer updates (fp32 master weights and state, whatever the compute dtype)."""
    opt = trainer.optimizer
    opt = getattr(opt, "optimizer", opt)  # accelerate / DeepSpeed wrappers
    state_dtypes = sorted({str(v.dtype) for st in getattr(opt, "state", {}).values() for v in st.values()
                           if hasattr(v, "dtype") and getattr(v, "dim", lambda: 0)() > 0})
    trainable = sorted({str(p.dtype) for p in trainer.model.parameters() if p.requires_grad})
    logged = [r for r in trainer.state.log_history if "loss" in r]
    norms = [float(r["grad_norm"]) for r in logged if r.get("grad_norm") is not None]
    at_zero = sum(lr == 0.0 for lr in lrs)
    return {"optimizer_updates": len(lrs), "updates_at_lr0": at_zero, "real_updates": len(lrs) - at_zero,
            "max_lr": max(lrs, default=0.0), "epochs": float(trainer.state.epoch or 0.0), "examples": len(rows),
            "tokens": sum(len(r["input_ids"]) for r in rows),
            "target_tokens": sum(sum(l != IGNORE_INDEX for l in r["labels"]) for r in rows),
            "train_loss": loss, "last_logged_loss": float(logged[-1]["loss"]) if logged else None,
            "mean_grad_norm": sum(norms) / len(norms) if norms else None,
            "last_grad_norm": norms[-1] if norms else None,
            "processes": trainer.args.world_size, "trainable_dtypes": trainable,
            "optimizer_state_dtypes": state_dtypes, "bf16_autocast": bool(trainer.args.bf16)}


def run_training(spec: TrainSpec) -> None:
    """Train on ``spec.data_path`` and save into ``spec.out_dir`` (every rank calls this)."""
    import torch
    from transformers import Trainer, set_seed

    from llm2llm.student.data import PadCollator, read_encoded

    set_seed(spec.seed)
    # TrainingArguments first: under ZeRO-3 it must exist before from_pretrained partitions the weights.
    args = _training_arguments(spec, _setup_distributed(spec))
    rank = args.process_index
    tok = load_tokenizer(spec.model_path, spec.student.get("trust_remote_code", False))
    model = _build_model(spec)
    rows = read_encoded(Path(spec.data_path))
    out = Path(spec.out_dir)
    id_log = None
    if spec.log_ids:
        (out / "seen_ids").mkdir(parents=True, exist_ok=True)
        id_log = str(out / "seen_ids" / f"rank-{rank}.jsonl")
    counter, clock = _update_counter(), _step_clock()
    callbacks = [_trajectory_callback(spec.checkpoints, spec.save_every)] if spec.checkpoints > 0 else []
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=PadCollator(tok.pad_token_id, id_log),
                      processing_class=tok, callbacks=callbacks + [counter, clock])
    try:
        output = trainer.train()
    except (torch.OutOfMemoryError, RuntimeError) as e:
        if is_oom(e):
            raise StudentOOMError(OOM_HINT) from None
        raise
    summary = {**_summary(trainer, counter.lrs, rows, output.training_loss), **_resources(clock)}
    _to_inference_dtype(spec, trainer.model)
    trainer.save_model(str(out))  # ZeRO-3: gathers the 16-bit weights (stage3_gather_16bit_weights_on_model_save)
    if trainer.is_world_process_zero():
        (out / TRAIN_LOG_FILE).write_text(json.dumps(trainer.state.log_history, indent=1))
        (out / TRAINING_SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
        if callbacks:
            traj = out / "trajectory"
            traj.mkdir(exist_ok=True)
            for i, step in enumerate(callbacks[0].steps):
                shutil.copytree(Path(args.output_dir) / f"checkpoint-{step}", traj / f"ckpt-{i}")
    trainer.accelerator.wait_for_everyone()
    del trainer, model
