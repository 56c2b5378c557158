"""The evaluation checks: batched generation and label scoring with the harness's own code
(llm2llm.student.predict), and generation through vLLM (llm2llm.student.vllm_eval) where it is installed."""

from __future__ import annotations

import gc
import importlib.util
import time
from typing import Any

from llm2llm.preflight.context import Context, Skip


def eval_model(ctx: Context) -> Any:
    """The student's architecture (all layers unless sizes say otherwise) with random weights, on the device."""
    from llm2llm.models import torch_dtype
    from llm2llm.preflight.synthetic import build_model, shaped

    cfg = shaped(ctx.architecture()[0], layers=ctx.sizes.eval_layers, toy=ctx.sizes.toy)
    return ctx.memo("eval-model", lambda: build_model(cfg, torch_dtype(ctx.student["dtype"]), ctx.device))


def release(ctx: Context) -> None:
    ctx.forget("eval-model")
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _task(ctx: Context, mode: str, n: int) -> tuple[Any, list[Any]]:
    from llm2llm.preflight.synthetic import n_words, synthetic_task

    task = synthetic_task(ctx.work / f"task-{mode}", n, ctx.sizes.eval_prompt_words, ctx.sizes.eval_max_new_tokens,
                          n_words(ctx.tokenizer()))
    return task, task.load("test")


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak() -> int | None:
    import torch

    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def check_generate(ctx: Context) -> tuple[str, dict[str, Any]]:
    from llm2llm.student import predict as P
    from llm2llm.student.data import prompt_ids

    model, tok, s = eval_model(ctx), ctx.tokenizer(), ctx.sizes
    task, examples = _task(ctx, "generate", s.eval_examples)
    batch, max_len = ctx.trainer["eval_batch_size"], max(ctx.student["max_length"], s.eval_prompt_words + 64 + s.eval_max_new_tokens)
    P.generate(model, tok, task, examples[:2], batch_size=2, max_new_tokens=4, max_length=max_len)  # warm-up
    _reset_peak()
    _sync()
    start = time.perf_counter()
    outputs = P.generate(model, tok, task, examples, batch_size=batch, max_new_tokens=s.eval_max_new_tokens,
                         max_length=max_len)
    _sync()
    seconds = time.perf_counter() - start
    new_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in outputs)
    prompt_tokens = sum(len(prompt_ids(tok, task, ex)) for ex in examples) / len(examples)
    m = {"examples": len(examples), "batch_size": batch, "mean_prompt_tokens": prompt_tokens,
         "max_new_tokens": s.eval_max_new_tokens, "new_tokens": new_tokens, "seconds": seconds,
         "examples_per_s": len(examples) / seconds, "new_tokens_per_s": new_tokens / seconds,
         "peak_gpu_memory_bytes": _peak(), "dtype": str(next(model.parameters()).dtype)}
    return (f"{m['new_tokens_per_s']:.0f} new tokens/s, {m['examples_per_s']:.2f} examples/s ({len(examples)} prompts of "
            f"{prompt_tokens:.0f} tokens, up to {s.eval_max_new_tokens} new, batch {batch}, {m['dtype']})"), m


def check_score(ctx: Context) -> tuple[str, dict[str, Any]]:
    from llm2llm.student import predict as P

    model, tok, s = eval_model(ctx), ctx.tokenizer(), ctx.sizes
    task, examples = _task(ctx, "score", s.score_examples)
    batch = ctx.trainer["eval_batch_size"]
    max_len = max(ctx.student["max_length"], s.eval_prompt_words + 64)
    P.score_labels(model, tok, task, examples[:2], batch_size=2, max_length=max_len)  # warm-up
    _reset_peak()
    _sync()
    start = time.perf_counter()
    P.score_labels(model, tok, task, examples, batch_size=batch, max_length=max_len)
    _sync()
    seconds = time.perf_counter() - start
    m = {"examples": len(examples), "labels": len(task.labels), "batch_size": batch, "seconds": seconds,
         "examples_per_s": len(examples) / seconds, "peak_gpu_memory_bytes": _peak()}
    release(ctx)
    return f"{m['examples_per_s']:.1f} examples/s ({len(examples)} prompts x {len(task.labels)} labels, batch {batch})", m


def check_vllm(ctx: Context) -> tuple[str, dict[str, Any]]:
    import torch

    if importlib.util.find_spec("vllm") is None:
        raise Skip("vllm is not installed (student.eval_backend=vllm needs it: pip install -e '.[vllm]' on the GPU machine)")
    if not torch.cuda.is_available():
        raise Skip("vLLM needs a CUDA device")
    from llm2llm.preflight.training import train_model_folder
    from llm2llm.student.vllm_eval import VllmEvaluator

    s = ctx.sizes
    folder = str(train_model_folder(ctx))  # saved weights: vLLM loads from disk (the training check's depth)
    task, examples = _task(ctx, "generate", s.eval_examples)
    student = dict(ctx.student, max_length=max(ctx.student["max_length"], s.eval_prompt_words + 64 + s.eval_max_new_tokens),
                   lora=dict(ctx.student["lora"], enabled=False))
    ev = VllmEvaluator(folder, ctx.tokenizer(), student, seed=0)
    try:
        ev.generate(None, task, examples[:2])  # engine start + warm-up
        start = time.perf_counter()
        outputs = ev.generate(None, task, examples)
        seconds = time.perf_counter() - start
    finally:
        ev.close()
    new_tokens = sum(len(ctx.tokenizer()(o, add_special_tokens=False)["input_ids"]) for o in outputs)
    m = {"examples": len(examples), "new_tokens": new_tokens, "seconds": seconds,
         "new_tokens_per_s": new_tokens / seconds, "examples_per_s": len(examples) / seconds,
         "layers": ctx.sizes.train_layers}
    return f"{m['new_tokens_per_s']:.0f} new tokens/s on the {s.train_layers or 'full'}-layer model", m
