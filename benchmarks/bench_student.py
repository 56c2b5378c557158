"""Student micro-benchmarks, measured in one run on the embedded SmolLM2-135M-Instruct (a few minutes on 2 CPU cores).

    python benchmarks/bench_student.py [--data-dir ../shared/data] [--quick]

0. test evaluation by generation on the SST-2 dev set (872 sentences): the shared prompt prefix
   encoded once (today's path) vs plain left-padded batches, same model: throughput ratio, whether
   the predictions are identical, and achieved GFLOP/s (2 x parameters per token) next to a plain
   fp32 matrix multiply measured in the same run (how close to this machine's limit);
1. batched generation (batch 16) vs one example at a time, same examples, same outputs expected;
2. label scoring vs generation on SST-2 (+ agreement where generation gives a valid label);
3. training tokens/s: Student.train (tokenise, train, save atomically) vs a bare Trainer loop on the
   same rows (load, LoRA, Trainer.train, save), and its GFLOP/s (6 x parameters per token).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _task(name: str, data_dir: str, **kw):
    from omegaconf import OmegaConf

    from llm2llm.config import TaskConfig
    from llm2llm.tasks import build_task

    return build_task(OmegaConf.structured(TaskConfig(name=name, **kw)), data_dir)


def _student(task, cache_dir: str, **trainer_kw):
    from llm2llm.config import LoraConfig, StudentConfig, TrainerConfig
    from llm2llm.student import Student

    scfg = StudentConfig(name="smollm2-135m", model="embedded:smollm2-135m-instruct", dtype="float32", max_length=512,
                         lora=LoraConfig(r=16, alpha=32, dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    tcfg = TrainerConfig(name="bench", learning_rate=3e-4, epochs=1, per_device_batch_size=8, bf16="false",
                         logging_steps=100, **trainer_kw)
    return Student(scfg, tcfg, task, cache_dir, seed=0)


def matmul_gflops(n: int = 1536, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matrix multiply: what this machine's cores deliver."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def bench_eval(data_dir: str, cache_dir: str, n: int | None, batch_size: int = 16) -> dict:
    from llm2llm.student.data import prompt_ids
    from llm2llm.student.predict import generate

    task = _task("sst2", data_dir)
    examples = task.load("test")[:n]
    s = _student(task, cache_dir)
    model, tok = s._model(None), s.tokenizer
    params = sum(p.numel() for p in model.parameters())
    kw = dict(batch_size=batch_size, max_new_tokens=task.cfg.max_new_tokens, max_length=512)
    times, outs = {}, {}
    for share in (True, False):
        t0 = time.perf_counter()
        outs[share] = generate(model, tok, task, examples, share_prefix=share, **kw)
        times[share] = time.perf_counter() - t0
    prompt_tokens = sum(len(prompt_ids(tok, task, e)) for e in examples)
    new_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) + 1 for o in outs[False])
    flops = 2 * params * (prompt_tokens + new_tokens)
    return {"n": len(examples), "shared_s": times[True], "plain_s": times[False], "speedup": times[False] / times[True],
            "identical": f"{sum(a == b for a, b in zip(outs[True], outs[False]))}/{len(examples)}",
            "plain_gflops": flops / times[False] / 1e9, "effective_gflops": flops / times[True] / 1e9,
            "params": params}


def bench_generation(data_dir: str, cache_dir: str, n: int, new_tokens: int) -> dict:
    from llm2llm.student.predict import generate

    task = _task("gsm8k", data_dir, max_new_tokens=new_tokens)
    examples = task.load("test")[:n]
    s = _student(task, cache_dir)
    model, tok = s._model(None), s.tokenizer
    kw = dict(max_new_tokens=new_tokens, max_length=512, desc="gen")
    t0 = time.perf_counter()
    batched = generate(model, tok, task, examples, batch_size=16, **kw)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = generate(model, tok, task, examples, batch_size=1, **kw)
    t_single = time.perf_counter() - t0
    s.release()
    same = sum(a == b for a, b in zip(batched, single))
    return {"n": n, "new_tokens": new_tokens, "batched_s": t_batched, "single_s": t_single,
            "speedup": t_single / t_batched, "same_output": f"{same}/{n}"}


def bench_scoring(data_dir: str, cache_dir: str, n: int) -> dict:
    from llm2llm.student.predict import generate, score_labels

    task = _task("sst2", data_dir)
    examples = task.load("test")[:n]
    s = _student(task, cache_dir)
    model, tok = s._model(None), s.tokenizer
    t0 = time.perf_counter()
    gen = generate(model, tok, task, examples, batch_size=16, max_new_tokens=task.cfg.max_new_tokens, max_length=512)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    scored = score_labels(model, tok, task, examples, batch_size=16, max_length=512)
    t_score = time.perf_counter() - t0
    s.release()
    parsed = [task.parse(o) for o in gen]
    pairs = [(p, task.labels[b]) for p, (b, _) in zip(parsed, scored) if p is not None]
    agree = sum(a == b for a, b in pairs)
    acc_gen = sum(p == e.answer for p, e in zip(parsed, examples)) / n
    acc_score = sum(task.labels[b] == e.answer for (b, _), e in zip(scored, examples)) / n
    return {"n": n, "generate_s": t_gen, "score_s": t_score, "speedup": t_gen / t_score,
            "valid_generations": f"{len(pairs)}/{n}", "agreement": f"{agree}/{len(pairs)}",
            "acc_generate": acc_gen, "acc_score": acc_score}


def bench_training(data_dir: str, cache_dir: str, n: int, repeats: int = 2) -> dict:
    """Same rows, same hyper-parameters; tokens/s counts the non-padding tokens of one epoch.

    End to end: bare = load + LoRA + Trainer.train + save; harness = Student.train (tokenisation, id
    logging, atomic checkpoint included). Loop only: the Trainer's own train_runtime in both.
    Interleaved and repeated, best of each kept (other processes may share the cores).
    """
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments, set_seed

    from llm2llm.models import load_model
    from llm2llm.student.data import PadCollator, encode

    task = _task("sst2", data_dir)
    examples = task.load("train")[:n]
    s = _student(task, cache_dir)
    rows = [{"id": e.id, **encode(s.tokenizer, task, e, 512)} for e in examples]
    tokens = sum(len(r["input_ids"]) for r in rows)
    tmp = Path(tempfile.mkdtemp(prefix="bench-student-"))
    bare, harness, bare_loop, harness_loop = [], [], [], []
    try:
        for rep in range(repeats):
            t0 = time.perf_counter()
            set_seed(0)
            model = get_peft_model(load_model(s.model_path, "float32"),
                                   LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                                              target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
            args = TrainingArguments(output_dir=str(tmp / "bare-out"), learning_rate=3e-4, num_train_epochs=1,
                                     per_device_train_batch_size=8, lr_scheduler_type="cosine", warmup_steps=0.03,
                                     report_to="none", save_strategy="no", logging_steps=100, use_cpu=True, seed=0,
                                     remove_unused_columns=False)
            out = Trainer(model=model, args=args, train_dataset=rows,
                          data_collator=PadCollator(s.tokenizer.pad_token_id)).train()
            model.save_pretrained(tmp / f"bare-{rep}")
            bare.append(time.perf_counter() - t0)
            bare_loop.append(out.metrics["train_runtime"])
            del model
            t0 = time.perf_counter()
            ckpt = s.train(examples, tmp / f"harness-{rep}")
            harness.append(time.perf_counter() - t0)
            harness_loop.append(json.loads((ckpt / "train_log.json").read_text())[-1]["train_runtime"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    params = sum(p.numel() for p in load_model(s.model_path, "float32").parameters())
    return {"n": n, "tokens": tokens, "bare_tok_s": tokens / min(bare), "harness_tok_s": tokens / min(harness),
            "loop_gflops": 6 * params * tokens / min(harness_loop) / 1e9,
            "overhead_pct": 100 * (min(harness) - min(bare)) / min(bare),
            "bare_loop_tok_s": tokens / min(bare_loop), "harness_loop_tok_s": tokens / min(harness_loop),
            "loop_overhead_pct": 100 * (min(harness_loop) - min(bare_loop)) / min(bare_loop)}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--data-dir", default=os.environ.get("LLM2LLM_DATA_DIR", str(root.parent / "shared" / "data")))
    ap.add_argument("--cache-dir", default=os.environ.get("LLM2LLM_CACHE_DIR", str(root / ".cache" / "llm2llm")))
    ap.add_argument("--quick", action="store_true", help="fewer examples (a smoke run)")
    a = ap.parse_args()
    k = 2 if a.quick else 1
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}, load average {os.getloadavg()[0]:.1f}")
    mm = matmul_gflops()
    print(f"[matmul] fp32 1536x1536: {mm:.0f} GFLOP/s (this machine's practical limit)", flush=True)
    ev = bench_eval(a.data_dir, a.cache_dir, n=96 if a.quick else None)
    print(f"\n[evaluation] SST-2 dev, {ev['n']} sentences, batch 16: shared prefix {ev['shared_s']:.1f}s, plain "
          f"{ev['plain_s']:.1f}s -> {ev['speedup']:.2f}x (identical predictions {ev['identical']}); plain "
          f"{ev['plain_gflops']:.0f} GFLOP/s achieved, shared {ev['effective_gflops']:.0f} GFLOP/s of plain-equivalent "
          f"work ({100 * ev['plain_gflops'] / mm:.0f} % / {100 * ev['effective_gflops'] / mm:.0f} % of matmul)",
          flush=True)
    g = bench_generation(a.data_dir, a.cache_dir, n=16, new_tokens=48 // k)
    print(f"\n[generation] {g['n']} GSM8K prompts x {g['new_tokens']} new tokens: batch 16 {g['batched_s']:.1f}s, "
          f"one at a time {g['single_s']:.1f}s -> {g['speedup']:.1f}x (identical outputs {g['same_output']})", flush=True)
    sc = bench_scoring(a.data_dir, a.cache_dir, n=48 // k)
    print(f"\n[scoring] {sc['n']} SST-2 test examples: generate {sc['generate_s']:.1f}s, score {sc['score_s']:.1f}s -> "
          f"{sc['speedup']:.1f}x; valid generations {sc['valid_generations']}, agreement {sc['agreement']}; "
          f"acc generate {sc['acc_generate']:.3f}, score {sc['acc_score']:.3f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    tr = bench_training(a.data_dir, a.cache_dir, n=32 // k)
    print(f"\n[training] {tr['n']} SST-2 examples ({tr['tokens']} tokens), LoRA r16, 1 epoch: bare Trainer "
          f"{tr['bare_tok_s']:.0f} tok/s, harness {tr['harness_tok_s']:.0f} tok/s -> overhead {tr['overhead_pct']:+.1f}% "
          f"end to end; training loop only: {tr['bare_loop_tok_s']:.0f} vs {tr['harness_loop_tok_s']:.0f} tok/s -> "
          f"{tr['loop_overhead_pct']:+.1f}%; training loop {tr['loop_gflops']:.0f} GFLOP/s "
          f"({100 * tr['loop_gflops'] / mm:.0f} % of matmul)", flush=True)


if __name__ == "__main__":
    main()
