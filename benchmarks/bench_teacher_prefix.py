"""Seconds per request of the embedded llama.cpp teacher, every prompt decoded from an empty KV state
vs the shared prefix's state kept between requests (llm2llm/teacher/prefix_reuse.py), on a
many-label own task: TREC's 50 fine labels (``DESC:manner``, ``NUM:date``, ...) as a ``task=jsonl``
classification task, so every prompt lists 50 labels. The requests are built by the Teacher
exactly as in a run (the default teacher config, conf/teacher/local-smollm2-llamacpp.yaml: JSON
schema grammar, three style examples, the copy guard), one augment request per seed, and each mode
answers the same requests; the replies of the two modes are compared text by text. A third pass
asks the kept-prefix mode again in another (shuffled) order: its replies must not change either.

    python benchmarks/bench_teacher_prefix.py [--requests 40] [--threads 1] [--no-shuffled]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from llm2llm.config import TaskConfig, TeacherConfig, teacher_config_file
from llm2llm.sampling import seed_set
from llm2llm.tasks import build_task
from llm2llm.teacher import Teacher
from llm2llm.teacher.backends import Backend, GenRequest, OnDone, Result
from llm2llm.teacher.inprocess import LlamaCppBackend

DATA_DIR = Path(os.environ.get("LLM2LLM_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
CACHE_DIR = os.environ.get("LLM2LLM_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "llm2llm"))
DEFAULT_TEACHER = Path(__file__).resolve().parents[1] / "conf" / "teacher" / "local-smollm2-llamacpp.yaml"


def trec_fine_files(out: Path) -> tuple[Path, Path]:
    """TREC (train_5500.label, TREC_10.label: ``COARSE:fine question``) as JSONL with the fine label."""
    paths = []
    for split, name in (("train", "train_5500.label"), ("test", "TREC_10.label")):
        rows = []
        for line in (DATA_DIR / "trec" / name).read_text(encoding="latin-1").splitlines():
            label, _, text = line.partition(" ")
            rows.append(json.dumps({"text": text.strip(), "label": label}))
        path = out / f"{split}.jsonl"
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    return paths[0], paths[1]


class Recorder(Backend):
    """Records the requests the Teacher would send, answers none (so nothing is cached)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.requests: list[GenRequest] = []

    def supports_schema(self) -> bool:
        return self.inner.supports_schema()

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        return self.inner.key_fields(schema)

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        self.requests += requests
        return [RuntimeError("recorded only")] * len(requests)


def answer(cfg: TeacherConfig, requests: list[GenRequest], reuse: bool, n_batch: int,
           order: list[int] | None = None) -> tuple[list[str], float, int, int]:
    """Texts, wall seconds, prompt tokens and kept prefix tokens of one pass over ``requests``: the
    backend's own order, or (``order``) one request at a time in that order."""
    LlamaCppBackend.N_BATCH = n_batch
    backend = LlamaCppBackend(cfg, CACHE_DIR, reuse_prefix=reuse)
    backend.check_ready()
    t0 = time.perf_counter()
    if order is None:
        results = backend.generate(requests, lambda req, gen: None)
    else:
        by_index = {i: backend.generate([requests[i]], lambda req, gen: None)[0] for i in order}
        results = [by_index[i] for i in range(len(requests))]
    wall = time.perf_counter() - t0
    kept = int(getattr(backend.llm, "kept_tokens", 0))
    backend.close()
    texts = [r.text if not isinstance(r, BaseException) else f"<error {r!r}>" for r in results]
    return texts, wall, sum(getattr(r, "prompt_tokens", 0) for r in results), kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=154)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-batch", type=int, default=LlamaCppBackend.N_BATCH, help="block size of the kept prefix")
    ap.add_argument("--no-shuffled", action="store_true", help="skip the third pass in another order")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-prefix-"))
    train_file, test_file = trec_fine_files(tmp)
    task = build_task(OmegaConf.structured(TaskConfig(
        name="jsonl", train_file=str(train_file), test_file=str(test_file),
        instruction="Classify the question by the kind of answer it asks for (50 fine-grained types).")), None)
    train = task.load("train")
    seeds = seed_set(train, args.seeds, 0, stratify=True)
    cfg = teacher_config_file(DEFAULT_TEACHER, max_reasks=0, n_threads=args.threads, cache_path=str(tmp / "cache"))

    recorder = Recorder(LlamaCppBackend(cfg, CACHE_DIR))
    with Teacher(cfg, task, CACHE_DIR, backend=recorder) as teacher:  # one augment request per seed, as in a run
        teacher.augment(seeds[:args.requests], k=1, iteration=1, existing=seeds, forbidden=[])
    requests = recorder.requests
    n = len(requests)
    figures: dict[str, Any] = {"requests": n, "labels": len(task.labels or []), "threads": args.threads,
                               "n_batch": args.n_batch}

    def report(name: str, texts: list[str], wall: float, prompt_tokens: int, kept: int) -> None:
        figures[name] = {"s_per_request": round(wall / n, 3), "mean_prompt_tokens": round(prompt_tokens / n, 1),
                         "kept_prompt_tokens": kept, "identical_to_today": sum(a == b for a, b in zip(texts, today))}
        print(name, json.dumps(figures[name]), flush=True)
        if args.out:
            args.out.write_text(json.dumps(figures, indent=1) + "\n")

    # today's code: every request from an empty state, llama-cpp-python's default batch of 512
    today, wall, prompt_tokens, kept = answer(cfg, requests, reuse=False, n_batch=512)
    report("today", today, wall, prompt_tokens, kept)
    texts, wall, prompt_tokens, kept = answer(cfg, requests, reuse=True, n_batch=args.n_batch)
    report("kept_prefix", texts, wall, prompt_tokens, kept)
    figures["speedup"] = round(figures["today"]["s_per_request"] / figures["kept_prefix"]["s_per_request"], 2)
    print("speedup", figures["speedup"], flush=True)
    if not args.no_shuffled:
        order = list(range(n))
        random.Random(1).shuffle(order)
        texts, wall, prompt_tokens, kept = answer(cfg, requests, reuse=True, n_batch=args.n_batch, order=order)
        report("kept_prefix_shuffled", texts, wall, prompt_tokens, kept)


if __name__ == "__main__":
    main()
