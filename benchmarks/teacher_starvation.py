"""Do seeds that stay wrong keep getting new teacher examples? (issue: they starved after 3 rounds)

Six SST-2 seeds that "stay wrong" are sent to the real in-process SmolLM2 teacher for five
iterations (k=1, max_reasks=2), D_i growing by what is kept, as the loop does. Prints per
iteration: examples kept and requests that reached the backend (cache misses).

    python benchmarks/teacher_starvation.py [--cache /tmp/starve_cache] [--backend local]
"""

from __future__ import annotations

import argparse
import inspect
import os
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from llm2llm.config import TaskConfig, teacher_config
from llm2llm.tasks import build_task
from llm2llm.teacher import Teacher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", default=None, help="teacher cache directory (default: a fresh temporary one)")
    ap.add_argument("--backend", default="local")
    ap.add_argument("--iterations", type=int, default=5)
    ns = ap.parse_args()
    data = os.environ.get("LLM2LLM_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    cache_dir = os.environ.get("LLM2LLM_CACHE_DIR", str(Path.home() / ".cache" / "llm2llm"))
    task = build_task(OmegaConf.structured(TaskConfig(name="sst2")), data)
    train, test = task.load("train"), task.load("test")
    wrong, existing = train[:6], list(train[:6])
    cache = ns.cache or str(Path(tempfile.mkdtemp()) / "teacher_cache")
    cfg = teacher_config(name="local-smollm2", backend=ns.backend, model="embedded:smollm2-135m-instruct",
                        temperature=1.0, max_tokens=160, batch_size=8, max_reasks=2, cache_path=cache)
    extra = {"run_seed": 0} if "run_seed" in inspect.signature(Teacher).parameters else {}
    kept, calls = [], []
    with Teacher(cfg, task, cache_dir, **extra) as teacher:
        for i in range(1, ns.iterations + 1):
            r = teacher.augment(wrong, k=1, iteration=i, existing=existing, forbidden=test)
            kept.append(len(r.examples))
            calls.append(r.stats["cache_misses"])
            existing += r.examples
            print(f"iteration {i}: kept {kept[-1]}, backend requests {calls[-1]}, rejected {r.stats['rejected']}",
                  flush=True)
    print(f"kept per iteration: {', '.join(map(str, kept))}; backend requests: {', '.join(map(str, calls))}")


if __name__ == "__main__":
    main()
