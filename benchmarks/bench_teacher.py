"""The embedded teacher: in-process llama.cpp (JSON-constrained) vs the transformers teacher.

Same seeds, same prompts (with and without three other seeds of the parent's label as style
examples, teacher.style_examples), one run: completion tokens per second of each backend and their ratio,
and the kept rate (examples kept / examples wanted, and kept / generated) on SST-2, TREC and GSM8K
seeds. The seeds are a seeded random draw of ``--seeds`` train examples (seed 0).

``--wrong-from RUN_DIR ...`` asks instead for what those runs' teacher was asked: for every
iteration of each run, the seeds its student got wrong (iter_<i>/predictions_seed.jsonl), with
that run's seed, task and iteration number, one try per seed (no re-asks), so kept / generated is
the kept rate of single replies. Dedup checks against what the run's teacher checked: that
iteration's training set (iter_<i>/train.jsonl: the seeds and every example kept before). It
compares the embedded default with and without teacher.no_copy_ngram (llm2llm/teacher/copy_guard.py).

    python benchmarks/bench_teacher.py [--seeds 16] [--tasks sst2,trec,gsm8k] [--quick]
    python benchmarks/bench_teacher.py --wrong-from runs/sst2/.../seed0 [more run dirs] [--no-copy 0,4]
        [--teacher-models embedded:smollm2-135m-instruct,/path/to/other.gguf]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from llm2llm.config import TaskConfig, teacher_config
from llm2llm.example import read_examples, read_jsonl
from llm2llm.rundir import CONFIG_FILE, ITER_PREFIX, PREDICTIONS_SEED_FILE, SEED_SET_FILE, TRAIN_FILE, iter_number
from llm2llm.sampling import seed_set
from llm2llm.tasks import build_task
from llm2llm.teacher import Teacher

DATA_DIR = os.environ.get("LLM2LLM_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
CACHE_DIR = os.environ.get("LLM2LLM_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "llm2llm"))
BACKENDS = {  # today's teacher first; then each change alone, then both
    "transformers": dict(name="local-smollm2", backend="local", batch_size=8, dtype="float32", style_examples=0),
    "transformers + 3 style": dict(name="local-smollm2", backend="local", batch_size=8, dtype="float32",
                                   style_examples=3),
    "llamacpp JSON": dict(name="local-smollm2-llamacpp", backend="llamacpp", style_examples=0),
    "llamacpp JSON + 3 style": dict(name="local-smollm2-llamacpp", backend="llamacpp", style_examples=3),
    "llamacpp plain + 3 style": dict(name="local-smollm2-llamacpp", backend="llamacpp", style_examples=3,
                                     structured="none"),
    # the default since the copy guard (GSM8K's prompt has no style examples; the guard stops copies of the seed)
    "llamacpp JSON + no-copy 4": dict(name="local-smollm2-llamacpp", backend="llamacpp", style_examples=3,
                                      no_copy_ngram=4),
}


def run(task_name: str, n: int, backend: dict, max_tokens: int) -> dict:
    task = build_task(OmegaConf.structured(TaskConfig(name=task_name)), DATA_DIR)
    train, test = task.load("train"), task.load("test")
    seeds = seed_set(train, n, 0)
    cfg = teacher_config(model="embedded:smollm2-135m-instruct", temperature=1.0, max_tokens=max_tokens, max_reasks=0,
                        cache_path=tempfile.mkdtemp(prefix="bench-teacher-"), **backend)
    with Teacher(cfg, task, CACHE_DIR) as teacher:
        teacher.check_ready()
        t0 = time.perf_counter()
        r = teacher.augment(seeds, k=1, iteration=1, existing=seeds, forbidden=test)
        wall = time.perf_counter() - t0
    return {"kept": len(r.examples), "wanted": len(seeds), "generated": r.stats["generated"],
            "tokens": r.stats["completion_tokens"], "tok_s": r.stats["completion_tokens"] / wall,
            "rejected": r.stats["rejected"], "wall_s": wall}


def wrong_seed_requests(run_dir: Path):
    """(task, run seed, [(teacher iteration, wrong seeds, training set)], test split) of a finished run."""
    cfg = json.loads((run_dir / CONFIG_FILE).read_text())
    task = build_task(OmegaConf.merge(OmegaConf.structured(TaskConfig), cfg["task"]), DATA_DIR)
    seeds = read_examples(run_dir / SEED_SET_FILE)
    by_id = {e.id: e for e in seeds}
    asks = []
    for pred in sorted(run_dir.glob(f"{ITER_PREFIX}*/{PREDICTIONS_SEED_FILE}"), key=lambda p: iter_number(p.parent)):
        wrong = [by_id[r["id"]] for r in read_jsonl(pred) if not r["correct"]]
        asks.append((iter_number(pred.parent) + 1, wrong, read_examples(pred.parent / TRAIN_FILE)))
    return task, int(cfg["seed"]), asks, task.load("test")


def run_wrong(run_dirs: list[Path], no_copy: int, model: str) -> dict:
    """The default teacher (one try per wrong seed) on every wrong seed of ``run_dirs``, running ``model``."""
    out = {"kept": 0, "generated": 0, "errors": 0, "tokens": 0, "wall_s": 0.0, "rejected": {}}
    for run_dir in run_dirs:
        task, run_seed, asks, test = wrong_seed_requests(run_dir)
        cfg = teacher_config(**BACKENDS["llamacpp JSON + 3 style"], model=model, temperature=1.0,
                            max_tokens=320 if task.name == "gsm8k" else 160, max_reasks=0, no_copy_ngram=no_copy,
                            cache_path=tempfile.mkdtemp(prefix="bench-teacher-"))
        with Teacher(cfg, task, CACHE_DIR, run_seed=run_seed) as teacher:
            for iteration, wrong, train_set in asks:
                if not wrong:
                    continue
                t0 = time.perf_counter()
                r = teacher.augment(wrong, k=1, iteration=iteration, existing=train_set, forbidden=test)
                out["wall_s"] += time.perf_counter() - t0
                out["kept"] += len(r.examples)
                out["generated"] += r.stats["generated"]
                out["errors"] += r.stats["request_errors"]
                out["tokens"] += r.stats["completion_tokens"]
                for why, n in r.stats["rejected"].items():
                    out["rejected"][why] = out["rejected"].get(why, 0) + n
    return out


def main_wrong(run_dirs: list[Path], no_copy: list[int], models: list[str]) -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; the wrong seeds of {len(run_dirs)} runs, "
          "one try each, the embedded default's teacher settings (llama.cpp, JSON, 3 style examples)")
    for model, n in [(m, n) for m in models for n in no_copy]:
        r = run_wrong(run_dirs, n, model)
        print(f"{model} no_copy_ngram={n}: kept/generated {r['kept']}/{r['generated']} "
              f"({100 * r['kept'] / max(r['generated'], 1):.0f} %), {r['errors']} request errors, {r['tokens']} tokens, {r['wall_s']:.0f} s, "
              f"rejected {dict(sorted(r['rejected'].items()))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--tasks", default="sst2,trec,gsm8k")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="a comma-separated subset of: " + ", ".join(BACKENDS))
    ap.add_argument("--quick", action="store_true", help="4 seeds, SST-2 only")
    ap.add_argument("--wrong-from", nargs="+", type=Path, help="run dirs whose wrong seeds the teacher is asked for")
    ap.add_argument("--no-copy", default="0,4", help="teacher.no_copy_ngram values to compare (with --wrong-from)")
    ap.add_argument("--teacher-models", default="embedded:smollm2-135m-instruct",
                    help="teacher.model values (embedded:<name> or GGUF paths) to compare (with --wrong-from)")
    a = ap.parse_args()
    if a.wrong_from:
        return main_wrong(a.wrong_from, [int(n) for n in a.no_copy.split(",")], a.teacher_models.split(","))
    tasks = ["sst2"] if a.quick else a.tasks.split(",")
    n = 4 if a.quick else a.seeds
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {n} seeded random train examples per task")
    for task in tasks:
        names = [b for b in a.backends.split(",") if task != "gsm8k" or "style" not in b]  # GSM8K's prompt has no style slot
        rows = {name: run(task, n, BACKENDS[name], 320 if task == "gsm8k" else 160) for name in names}
        for name, r in rows.items():
            print(f"[{task}] {name:16s} kept {r['kept']}/{r['wanted']} ({100 * r['kept'] / r['wanted']:.0f} %), "
                  f"kept/generated {r['kept']}/{r['generated']}, {r['tok_s']:.1f} completion tok/s "
                  f"({r['tokens']} tokens, {r['wall_s']:.0f} s), rejected {r['rejected']}", flush=True)
        for style in ("", " + 3 style"):
            if "llamacpp JSON" + style not in rows or "transformers" + style not in rows:
                continue
            a_, b_ = rows["llamacpp JSON" + style], rows["transformers" + style]
            print(f"[{task}] tokens/s llama.cpp / transformers{style} = {a_['tok_s'] / max(b_['tok_s'], 1e-9):.1f}x, "
                  f"wall {b_['wall_s'] / max(a_['wall_s'], 1e-9):.1f}x", flush=True)


if __name__ == "__main__":
    main()
