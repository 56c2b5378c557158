"""How much does an identical second augmentation run cost once the teacher cache is warm?

The first run asks a real OpenAI-compatible server (llama.cpp serving the embedded SmolLM2-135M,
started here on a free loopback port) through the same code path OpenAI would use; the second
run, a fresh Teacher on the same cache file, should be answered entirely from the cache (the
teacher's own count of requests that reached the server: cache misses). Target: second/first < 1 %.

    python benchmarks/bench_teacher_cache.py [--task sst2] [--seeds 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from llm2llm.config import TaskConfig, teacher_config
from llm2llm.tasks import build_task
from llm2llm.teacher import Teacher

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from llamacpp_server import start_llama_server  # noqa: E402  (a test helper: tests/llamacpp_server.py)

DATA_DIR = os.environ.get("LLM2LLM_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    task = build_task(OmegaConf.structured(TaskConfig(name=args.task)), DATA_DIR)
    train, test = task.load("train"), task.load("test")
    seeds, existing = train[:args.seeds], train[:max(args.seeds, 100)]

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(start_llama_server())  # stopped by PID when the block ends
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        cfg = teacher_config(name="llamacpp", backend="openai", base_url=url, model="smollm2-135m-instruct",
                            max_tokens=args.max_tokens, api_key_env="LLM2LLM_BENCH_UNSET_KEY", concurrency=4,
                            timeout_s=300, max_reasks=1, cache_path=os.path.join(tmp, "teacher_cache"))
        runs = []
        for _ in range(2):  # the second run: a fresh Teacher (as after a restart) on the same cache file
            t0 = time.perf_counter()
            with Teacher(cfg, task, tmp) as teacher:
                result = teacher.augment(seeds, k=args.k, iteration=1, existing=existing, forbidden=test)
            runs.append({"wall_s": time.perf_counter() - t0, "server_calls": result.stats["cache_misses"],
                         "kept": result.stats["kept"], "requests": result.stats["requests"],
                         "cache_hits": result.stats["cache_hits"], "augment_wall_s": result.stats["wall_s"]})

    ratio = runs[1]["wall_s"] / runs[0]["wall_s"]
    print(json.dumps({"task": args.task, "seeds": args.seeds, "server": "llama.cpp",
                      "first": runs[0], "second": runs[1], "ratio": round(ratio, 5)}, indent=2))
    print(f"second run / first run wall time = {ratio:.4%} "
          f"({runs[1]['wall_s']:.3f} s vs {runs[0]['wall_s']:.2f} s; {runs[1]['server_calls']} server calls)")
    if runs[1]["server_calls"] != 0 or ratio >= 0.01:
        sys.exit(1)


if __name__ == "__main__":
    main()
