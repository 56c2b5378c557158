"""The training checks: a few optimizer steps of the configured recipe through the harness's own
training code (llm2llm.student.train, and llm2llm.student.distributed's launch path when the trainer
uses DeepSpeed), full fine-tune and LoRA, timed step by step."""

from __future__ import annotations

import copy
import importlib.util
import statistics
from pathlib import Path
from typing import Any

from llm2llm.preflight.context import Context, Skip
from llm2llm.preflight import flops
from llm2llm.rundir import TRAINING_SUMMARY_FILE

#: LoRA settings for the LoRA check when the student's own config trains all weights (the paper's 7B)
DEFAULT_LORA = {"enabled": True, "r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def train_model_config(ctx: Context) -> Any:
    from llm2llm.preflight.synthetic import shaped

    return shaped(ctx.architecture()[0], layers=ctx.sizes.train_layers, toy=ctx.sizes.toy)


def train_model_folder(ctx: Context) -> Path:
    """The (possibly shortened) student with random weights, saved once in the student's dtype."""
    from llm2llm.models import torch_dtype
    from llm2llm.preflight.synthetic import save_model_folder

    def make() -> Path:
        return save_model_folder(train_model_config(ctx), ctx.tokenizer(), ctx.work / "train-model",
                                 torch_dtype(ctx.student["dtype"]), ctx.device)

    return ctx.memo("train-model", make)


def node_accumulation(trainer: dict[str, Any]) -> int:
    """Gradient accumulation one rank runs in the configured recipe on its full node(s)."""
    from llm2llm.student.train import gradient_accumulation

    return gradient_accumulation(trainer, trainer["num_processes"] * trainer.get("num_nodes", 1))


def run_recipe(ctx: Context, lora: bool) -> dict[str, Any]:
    """Train ``sizes.train_steps`` optimizer steps on one device; return the figures."""
    import json

    from llm2llm.preflight.synthetic import n_words, training_rows
    from llm2llm.student.data import write_encoded
    from llm2llm.student.train import TrainSpec, resolve_deepspeed_config, run_training

    s = ctx.sizes
    ds = resolve_deepspeed_config(ctx.trainer.get("deepspeed"))
    if ds is not None and importlib.util.find_spec("deepspeed") is None:
        raise Skip(f"trainer={ctx.trainer['name']} uses DeepSpeed ({ctx.trainer['deepspeed']}), which is not installed here")
    accum = s.accumulation or node_accumulation(ctx.trainer)
    trainer = copy.deepcopy(ctx.trainer)
    trainer["per_device_batch_size"] = s.micro_batch or trainer["per_device_batch_size"]
    # One rank's share of the node's work: the recipe's micro-batch and accumulation, on this one device.
    trainer.update(num_processes=1, num_nodes=1, max_steps=s.train_steps, logging_steps=1, epochs=1,
                   effective_batch_size=trainer["per_device_batch_size"] * accum)
    student = copy.deepcopy(ctx.student)
    if lora and not student["lora"].get("enabled"):
        student["lora"] = dict(DEFAULT_LORA)
    student["lora"]["enabled"] = lora
    student["max_length"] = max(student["max_length"], s.train_seq_len)
    name = "lora" if lora else "full"
    work = ctx.work / f"train-{name}"
    work.mkdir(parents=True, exist_ok=True)
    folder = train_model_folder(ctx)
    rows = training_rows(trainer["per_device_batch_size"] * accum * s.train_steps, s.train_seq_len, s.train_target,
                         n_words(ctx.tokenizer()))
    write_encoded(work / "train.jsonl", rows)
    spec = TrainSpec(model_path=str(folder), data_path=str(work / "train.jsonl"), out_dir=str(work / "out"),
                     student=student, trainer=trainer, seed=0, deepspeed=ds, world_size=1, work_dir=str(work),
                     log_ids=False)
    if ds is not None:  # the harness starts DeepSpeed in a worker process, as Student.train does
        from llm2llm.student.distributed import run_workers

        spec.dump(work / "spec.json")
        run_workers(trainer, work / "spec.json", work)
    else:
        run_training(spec)
    summary = json.loads((work / "out" / TRAINING_SUMMARY_FILE).read_text())
    return figures(ctx, summary, trainer, accum, lora, ds)


def figures(ctx: Context, summary: dict[str, Any], trainer: dict[str, Any], accum: int, lora: bool,
            ds: dict[str, Any] | None) -> dict[str, Any]:
    """Tokens/s, MFU and memory of the timed steps, and the same tokens/s scaled to the student's full depth."""
    from llm2llm.preflight.env import device_name

    s = ctx.sizes
    steps = summary.get("step_seconds") or []
    timed = steps[1:] or steps
    if not timed:
        raise RuntimeError("training.json has no step times (step_seconds)")
    step_s = statistics.median(timed)
    tokens_per_step = trainer["per_device_batch_size"] * accum * s.train_seq_len
    tokens_s = tokens_per_step / step_s
    measured_cfg = train_model_config(ctx)
    full_cfg = ctx.architecture()[0]
    f_measured = flops.train_flops_per_token(measured_cfg, s.train_seq_len, lora)
    f_full = flops.train_flops_per_token(full_cfg, s.train_seq_len, lora)
    peak = flops.bf16_peak_tflops(device_name())
    return {
        "recipe": trainer["name"], "zero_stage": (ds or {}).get("zero_optimization", {}).get("stage"),
        "lora": lora, "layers_trained": measured_cfg.num_hidden_layers, "layers_student": full_cfg.num_hidden_layers,
        "params_trained": flops.matmul_params(measured_cfg), "seq_len": s.train_seq_len,
        "micro_batch": trainer["per_device_batch_size"], "accumulation": accum, "tokens_per_step": tokens_per_step,
        "optimizer_steps": len(steps), "step_seconds": steps, "median_step_s": step_s,
        "tokens_per_s": tokens_s, "flops_per_token": f_measured, "bf16_peak_tflops": peak,
        "mfu": flops.mfu(tokens_s, f_measured, peak),
        "student_tokens_per_s_same_mfu": tokens_s * f_measured / f_full,
        "peak_gpu_memory_bytes": summary.get("peak_gpu_memory_bytes"),
        "peak_rss_bytes": summary.get("peak_rss_bytes"),
        "trainable_dtypes": summary.get("trainable_dtypes"),
        "optimizer_state_dtypes": summary.get("optimizer_state_dtypes"),
        "bf16_autocast": summary.get("bf16_autocast"),
        "train_loss": summary.get("train_loss"),
    }


def describe(m: dict[str, Any]) -> str:
    mem = m["peak_gpu_memory_bytes"] or m["peak_rss_bytes"]
    where = "GPU" if m["peak_gpu_memory_bytes"] else "RSS"
    mfu = f"{m['mfu']:.1%}" if m["mfu"] is not None else "n/a (no known bf16 peak)"
    stage = f"ZeRO-{m['zero_stage']} " if m["zero_stage"] else ""
    return (f"{stage}{'LoRA' if m['lora'] else 'full'}, {m['layers_trained']}/{m['layers_student']} layers: "
            f"{m['tokens_per_s']:.0f} tokens/s, MFU {mfu}, peak {where} {mem / 2**30:.2f} GiB, "
            f"optimizer state {','.join(m['optimizer_state_dtypes'] or ['?'])}, trainable {','.join(m['trainable_dtypes'] or ['?'])}")


def check_train_full(ctx: Context) -> tuple[str, dict[str, Any]]:
    m = run_recipe(ctx, lora=False)
    return describe(m), m


def check_train_lora(ctx: Context) -> tuple[str, dict[str, Any]]:
    m = run_recipe(ctx, lora=True)
    return describe(m), m
