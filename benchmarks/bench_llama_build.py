"""Teacher generation speed of several llama-cpp-python builds, side by side in one run.

Each build is a folder that ``pip install --target`` filled with one llama-cpp-python wheel (e.g.
made with ``make rebuild-llama LLAMA_CPU=...`` or ``pip wheel`` under other CMAKE_ARGS). The
builds take turns (round robin, ``--rounds`` times) in fresh child processes on the embedded GGUF,
so a load that comes and goes hits each of them alike; the best and median completion tokens/s of
each are printed, with the CPU model and each build's llama.cpp system info.

    python benchmarks/bench_llama_build.py --build v3=/tmp/llama-v3 --build native=/tmp/llama-native
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from llm2llm.provenance import cpu_model

CHILD = r"""
import json, sys, time
import llama_cpp
from llm2llm.models import embedded_gguf
llm = llama_cpp.Llama(model_path=str(embedded_gguf("smollm2-135m-instruct")), n_ctx=2048, n_threads=2,
                      n_threads_batch=2, seed=0, verbose=False)
messages = [{"role": "user", "content": "Write a short story about a lighthouse keeper who finds a message in a bottle."}]
llm.create_chat_completion(messages=messages, max_tokens=8, temperature=0.0)  # warm-up
start = time.perf_counter()
out = llm.create_chat_completion(messages=messages, max_tokens=int(sys.argv[1]), temperature=0.0)
took = time.perf_counter() - start
print(json.dumps({"tokens": out["usage"]["completion_tokens"], "seconds": took,
                  "info": llama_cpp.llama_print_system_info().decode()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, help="NAME=DIR (a pip --target folder)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.build)
    rates: dict[str, list[float]] = {name: [] for name in builds}
    info: dict[str, str] = {}
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _ in range(args.rounds):
        for name, target in builds.items():
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([target, repo])}
            out = subprocess.run([sys.executable, "-c", CHILD, str(args.max_tokens)], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            row = json.loads(out)
            rates[name].append(row["tokens"] / row["seconds"])
            info[name] = row["info"]
    print(f"CPU: {cpu_model()}; load average before the last round: {os.getloadavg()[0]:.2f}")
    print(f"{'build':<12} {'best tok/s':>10} {'median':>8}  llama.cpp system info")
    for name, r in rates.items():
        print(f"{name:<12} {max(r):>10.1f} {statistics.median(r):>8.1f}  {info[name]}")


if __name__ == "__main__":
    main()
