"""Student micro-benchmarks, side by side in one run on the embedded SmolLM2-135M-Instruct (fp32).

    python benchmarks/bench_student.py [--data-dir ../shared/data] [--checkpoint DIR] [--eval-batch 16,64] [--quick]

Timings mean something only on a quiet machine (nothing else on the cores); the load average is
printed before and after each part.

0. a plain fp32 matrix multiply: this machine's practical GFLOP/s limit;
1. training: Student.train vs a bare Trainer loop on the same rows (64 SST-2 examples, LoRA r16,
   1 epoch), tokens/s and the loop's GFLOP/s (6 x parameters per token). The harness checkpoint
   is kept for 2 and 3 (or pass --checkpoint, e.g. a make-run iteration's);
2. test evaluation by generation on the SST-2 dev set (872 sentences) with that checkpoint:
   today's plain left-padded batches of 16 (``share_prefix=False``) vs the shared prompt prefix
   encoded once, at each --eval-batch size: throughput ratio, identical predictions, GFLOP/s of
   the work done (2 x non-embedding parameters per token fed, plus the LM head per token chosen);
3. label scoring on the same sentences vs 2's generation timings: ratio, agreement where
   generation gives a valid label, accuracies;
4. batched generation (batch 16) vs one example at a time: 16 GSM8K prompts, base model.
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
    tcfg = TrainerConfig(name="bench", learning_rate=1e-3, epochs=1, per_device_batch_size=8, bf16="false",
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


def _flops_per_token(model) -> tuple[int, int]:
    """(2 x non-embedding parameters, 2 x LM-head parameters): forward FLOPs of one token through the
    body, and of one row of logits (the LM head runs only where a next token is chosen)."""
    head = model.get_output_embeddings().weight.numel()
    body = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n and "lm_head" not in n)
    return 2 * body, 2 * head


def bench_eval(model, tok, task, examples, batch_sizes: list[int]) -> dict:
    """Test evaluation by generation: today's plain left-padded batches (batch 16) vs the shared prefix
    encoded once, at each batch size; identical predictions; work done and GFLOP/s."""
    from llm2llm.student.data import prompt_ids
    from llm2llm.student.predict import _common_prefix, generate

    kw = dict(max_new_tokens=task.cfg.max_new_tokens, max_length=512)
    runs = [("plain", False, 16)] + [("shared", True, b) for b in batch_sizes]
    times, outs = {}, {}
    for name, share, bs in runs:
        t0 = time.perf_counter()
        outs[(name, bs)] = generate(model, tok, task, examples, share_prefix=share, batch_size=bs, desc=f"{name} {bs}", **kw)
        times[(name, bs)] = time.perf_counter() - t0
    prompts = [prompt_ids(tok, task, e) for e in examples]
    shared = _common_prefix(prompts)
    body, head = _flops_per_token(model)
    plain_out = outs[("plain", 16)]
    new_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) + 1 for o in plain_out)  # + end-of-turn
    prompt_tokens = sum(len(p) for p in prompts)
    plain_flops = body * (prompt_tokens + new_tokens) + head * new_tokens
    shared_flops = plain_flops - body * shared * (len(examples) - 1)  # the prefix once, not once per example
    rows = []
    for (name, bs), t in times.items():
        same = sum(a == b for a, b in zip(outs[(name, bs)], plain_out))
        work = plain_flops if name == "plain" else shared_flops
        rows.append({"name": name, "batch": bs, "s": t, "ex_s": len(examples) / t, "speedup": times[("plain", 16)] / t,
                     "identical": f"{same}/{len(examples)}", "gflops": work / t / 1e9})
    return {"n": len(examples), "prompt_tokens": prompt_tokens / len(examples), "shared": shared,
            "new_tokens": new_tokens / len(examples), "rows": rows, "outputs": outs, "times": times}


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


def bench_scoring(model, tok, task, examples, ev: dict, batch_sizes: list[int]) -> list[dict]:
    """Label scoring on the examples bench_eval generated for (its timings and outputs reused)."""
    from llm2llm.student.predict import score_labels

    parsed = [task.parse(o) for o in ev["outputs"][("plain", 16)]]
    rows = []
    for bs in batch_sizes:
        t0 = time.perf_counter()
        scored = score_labels(model, tok, task, examples, batch_size=bs, max_length=512, desc=f"score {bs}")
        t = time.perf_counter() - t0
        pairs = [(p, task.labels[b]) for p, (b, _) in zip(parsed, scored) if p is not None]
        assert pairs, "generation gave no valid label: nothing to compare (train longer or pass --checkpoint)"
        rows.append({"batch": bs, "s": t, "vs_plain": ev["times"][("plain", 16)] / t,
                     "vs_shared": min(v for (name, _), v in ev["times"].items() if name == "shared") / t,
                     "valid": f"{len(pairs)}/{len(examples)}", "agree": f"{sum(a == b for a, b in pairs)}/{len(pairs)}",
                     "acc_score": sum(task.labels[b] == e.answer for (b, _), e in zip(scored, examples)) / len(examples),
                     "acc_generate": sum(p == e.answer for p, e in zip(parsed, examples)) / len(examples)})
    return rows


def bench_training(data_dir: str, cache_dir: str, n: int, tmp: Path, repeats: int = 2) -> dict:
    """Same rows, same hyper-parameters; tokens/s counts the non-padding tokens of one epoch.

    End to end: bare = load + LoRA + Trainer.train + save; harness = Student.train (tokenisation, id
    logging, atomic checkpoint included). Loop only: the Trainer's own train_runtime in both.
    Interleaved and repeated, best of each kept (other processes may share the cores). The last
    harness checkpoint stays in ``tmp`` for the evaluation benchmarks.
    """
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments, set_seed

    from llm2llm.models import load_model
    from llm2llm.rundir import TRAIN_LOG_FILE
    from llm2llm.student.data import PadCollator, encode

    task = _task("sst2", data_dir)
    examples = task.load("train")[:n]
    s = _student(task, cache_dir)
    rows = [{"id": e.id, **encode(s.tokenizer, task, e, 512)} for e in examples]
    tokens = sum(len(r["input_ids"]) for r in rows)
    bare, harness, bare_loop, harness_loop = [], [], [], []
    for rep in range(repeats):
        t0 = time.perf_counter()
        set_seed(0)
        model = get_peft_model(load_model(s.model_path, "float32"),
                               LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
        args = TrainingArguments(output_dir=str(tmp / "bare-out"), learning_rate=1e-3, num_train_epochs=1,
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
        harness_loop.append(json.loads((ckpt / TRAIN_LOG_FILE).read_text())[-1]["train_runtime"])
    body, head = _flops_per_token(load_model(s.model_path, "float32"))
    return {"ckpt": ckpt, "n": n, "tokens": tokens, "bare_tok_s": tokens / min(bare), "harness_tok_s": tokens / min(harness),
            "loop_gflops": 3 * (body + head) * tokens / min(harness_loop) / 1e9,
            "overhead_pct": 100 * (min(harness) - min(bare)) / min(bare),
            "bare_loop_tok_s": tokens / min(bare_loop), "harness_loop_tok_s": tokens / min(harness_loop),
            "loop_overhead_pct": 100 * (min(harness_loop) - min(bare_loop)) / min(bare_loop)}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--data-dir", default=os.environ.get("LLM2LLM_DATA_DIR", str(root.parent / "shared" / "data")))
    ap.add_argument("--cache-dir", default=os.environ.get("LLM2LLM_CACHE_DIR", str(root / ".cache" / "llm2llm")))
    ap.add_argument("--checkpoint", help="evaluate this LoRA checkpoint (e.g. a make-run iteration's) instead of the "
                                         "one trained here")
    ap.add_argument("--eval-batch", default="16,64", help="batch sizes of the shared-prefix evaluation and of scoring")
    ap.add_argument("--quick", action="store_true", help="fewer examples (a smoke run)")
    a = ap.parse_args()
    q = a.quick
    batches = [int(b) for b in a.eval_batch.split(",")]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}, load average {os.getloadavg()[0]:.1f}")
    mm = matmul_gflops()
    print(f"[matmul] fp32 1536x1536: {mm:.0f} GFLOP/s (this machine's practical limit)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-student-"))
    try:
        tr = bench_training(a.data_dir, a.cache_dir, n=16 if q else 64, tmp=tmp, repeats=1 if q else 2)
        print(f"\n[training] {tr['n']} SST-2 examples ({tr['tokens']} tokens), LoRA r16, 1 epoch: bare Trainer "
              f"{tr['bare_tok_s']:.0f} tok/s, harness {tr['harness_tok_s']:.0f} tok/s -> overhead "
              f"{tr['overhead_pct']:+.1f}% end to end; training loop only: {tr['bare_loop_tok_s']:.0f} vs "
              f"{tr['harness_loop_tok_s']:.0f} tok/s -> {tr['loop_overhead_pct']:+.1f}%; training loop "
              f"{tr['loop_gflops']:.0f} GFLOP/s at 6 x parameters per token ({100 * tr['loop_gflops'] / mm:.0f} % of "
              f"matmul; LoRA skips the frozen weights' gradients, so its real work is nearer 4 x)", flush=True)
        ckpt = Path(a.checkpoint) if a.checkpoint else tr["ckpt"]
        task = _task("sst2", a.data_dir)
        examples = task.load("test")[:48 if q else None]
        s = _student(task, a.cache_dir)
        model, tok = s._model(ckpt), s.tokenizer
        print(f"\n[evaluation] checkpoint {ckpt if a.checkpoint else 'trained above'}; LoRA merged for inference: "
              f"{not any('lora' in n for n, _ in model.named_parameters())}; load average {os.getloadavg()[0]:.1f}",
              flush=True)
        ev = bench_eval(model, tok, task, examples, batches)
        print(f"SST-2 dev, {ev['n']} sentences, prompt {ev['prompt_tokens']:.1f} tokens on average of which "
              f"{ev['shared']} shared by all, {ev['new_tokens']:.1f} tokens generated on average:")
        for r in ev["rows"]:
            print(f"  {r['name']:>6} batch {r['batch']:>3}: {r['s']:7.1f}s {r['ex_s']:6.2f} ex/s -> {r['speedup']:.2f}x "
                  f"today's; identical predictions {r['identical']}; {r['gflops']:.0f} GFLOP/s achieved "
                  f"({100 * r['gflops'] / mm:.0f} % of matmul)", flush=True)
        for r in bench_scoring(model, tok, task, examples, ev, batches):
            print(f"[scoring] batch {r['batch']}: {r['s']:.1f}s -> {r['vs_plain']:.2f}x today's generation, "
                  f"{r['vs_shared']:.2f}x the fastest shared-prefix generation; generation valid {r['valid']}, "
                  f"agreement {r['agree']}; acc generate {r['acc_generate']:.3f}, score {r['acc_score']:.3f}",
                  flush=True)
        s.release()
        del model
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    g = bench_generation(a.data_dir, a.cache_dir, n=16, new_tokens=24 if q else 48)
    print(f"\n[generation] {g['n']} GSM8K prompts x {g['new_tokens']} new tokens, base model: batch 16 "
          f"{g['batched_s']:.1f}s, one at a time {g['single_s']:.1f}s -> {g['speedup']:.1f}x (identical outputs "
          f"{g['same_output']})", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
